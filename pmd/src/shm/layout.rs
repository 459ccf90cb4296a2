//! The channel: one shared mapping per connection holding the four rings between the two sides, laid out
//! the same way by both (the handshake checks they run the same protocol version and ring size).
//!
//! Each side produces two rings, its packets to the peer and the peer's buffers it gives back, and consumes
//! the peer's two. A ring is its producer index and its consumer index, each on a cache line of its own,
//! then its slots.

use super::ring::RingMemory;
use std::sync::atomic::AtomicU32;

const LINE: usize = 64;

/// Words of a packet slot (see [`super::entry`]).
pub(super) const DATA_WORDS: usize = super::entry::WORDS;
/// Words of a give-back entry: the buffer index.
pub(super) const RETURN_WORDS: usize = 1;

/// The side of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// Creates the endpoint and waits for a client.
    Server,
    /// Connects to a server's endpoint.
    Client,
}

impl Role {
    /// `server` or `client`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Server => "server",
            Role::Client => "client",
        }
    }
}

/// The rings of a channel, in memory order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Which {
    ServerData,
    ServerReturns,
    ClientData,
    ClientReturns,
}

/// Bytes of one ring of `size` slots of `words` words.
fn ring_bytes(size: u32, words: usize) -> usize {
    2 * LINE + (size as usize * words * 4).next_multiple_of(LINE)
}

/// Bytes of a channel whose rings have `size` slots.
pub(super) fn channel_bytes(size: u32) -> usize {
    2 * ring_bytes(size, DATA_WORDS) + 2 * ring_bytes(size, RETURN_WORDS)
}

fn offset(size: u32, which: Which) -> usize {
    let pair = ring_bytes(size, DATA_WORDS) + ring_bytes(size, RETURN_WORDS);
    match which {
        Which::ServerData => 0,
        Which::ServerReturns => ring_bytes(size, DATA_WORDS),
        Which::ClientData => pair,
        Which::ClientReturns => pair + ring_bytes(size, DATA_WORDS),
    }
}

/// The four rings as one side sees them.
#[derive(Debug, Clone, Copy)]
pub(super) struct ChannelRings {
    /// Packets this side sends.
    pub tx: RingMemory,
    /// Packets the peer sends.
    pub rx: RingMemory,
    /// The peer's buffers this side gives back.
    pub give_back: RingMemory,
    /// This side's buffers the peer gives back.
    pub returns: RingMemory,
}

/// Locates the rings in a channel mapped at `base`, for `role`.
///
/// # Safety
/// `base` is a 64-byte aligned mapping of at least [`channel_bytes`]`(size)` bytes; the ring memories are
/// valid for as long as it stays mapped.
pub(super) unsafe fn rings(base: *mut u8, size: u32, role: Role) -> ChannelRings {
    let ring = |which: Which| {
        // SAFETY: the offsets stay inside the channel (contract); the mapping is 64-byte aligned, so every
        // index and slot word is 4-byte aligned as AtomicU32 needs.
        let at = unsafe { base.add(offset(size, which)) };
        // SAFETY: as above: the slots follow the two index lines.
        let slots = unsafe { at.add(2 * LINE) }.cast::<AtomicU32>().cast_const();
        // SAFETY: the consumer index's line is inside the ring.
        let consumer = unsafe { at.add(LINE) }.cast::<AtomicU32>().cast_const();
        RingMemory { producer: at.cast::<AtomicU32>().cast_const(), consumer, slots, size }
    };
    let server = (ring(Which::ServerData), ring(Which::ServerReturns));
    let client = (ring(Which::ClientData), ring(Which::ClientReturns));
    let (mine, theirs) = match role {
        Role::Server => (server, client),
        Role::Client => (client, server),
    };
    ChannelRings { tx: mine.0, give_back: mine.1, rx: theirs.0, returns: theirs.1 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rings_do_not_overlap_and_fit_the_channel() {
        let size = 1024;
        let spans = [
            (offset(size, Which::ServerData), ring_bytes(size, DATA_WORDS)),
            (offset(size, Which::ServerReturns), ring_bytes(size, RETURN_WORDS)),
            (offset(size, Which::ClientData), ring_bytes(size, DATA_WORDS)),
            (offset(size, Which::ClientReturns), ring_bytes(size, RETURN_WORDS)),
        ];
        for pair in spans.windows(2) {
            assert_eq!(pair[0].0 + pair[0].1, pair[1].0, "rings back to back");
        }
        let (last, len) = spans[3];
        assert_eq!(last + len, channel_bytes(size));
        assert!(spans.iter().all(|(o, _)| o % LINE == 0));
    }
}
