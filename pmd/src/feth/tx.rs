//! What the two halves of the tx path share: the port (bursts, local tx rings, counters) and the shaper
//! (per-packet work). A [`Pass`] tallies one tx pass so that counters are updated once per burst; a
//! [`Completion`] is the fate of one packet as tx completion reports it. Both halves import this module and
//! not each other.

use super::stats::Tally;
use arrayvec::ArrayVec;
use pktloop_engine::packet::{free_burst, Packer};
use pktloop_engine::port::{DropReason, TxStatus};
use pktloop_engine::Packet;

/// Ethernet header length, set as the link-header length of crossed copies.
pub const ETHER_HDR_LEN: u8 = 14;
/// Sync tx completions a port keeps before it starts losing them (counted).
pub const COMPLETION_QUEUE: usize = 4096;

/// Packets a pass frees in one bulk call.
const TRASH: usize = 64;
/// New packets of the receiver's pool a pass allocates at once (private copies, split view descriptors),
/// and the shares a split aggregation buffer reserves for its views.
pub(crate) const FRESH: usize = 32;

/// The fate of one transmitted packet, as reported by tx completion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Completion {
    /// The packet's id (`PacketMeta::packet_id`).
    pub packet_id: u64,
    /// Delivered (copied into the peer) or dropped.
    pub status: TxStatus,
}

/// Per-pass accumulators, added to the counters once at the end of the pass.
pub(crate) struct Pass {
    pub(crate) sent: u64,
    pub(crate) bytes: u64,
    pub(crate) drops: [u64; DropReason::COUNT],
    pub(crate) now: u64,
    pub(crate) tally: Tally,
    /// Split mode, frames with a descriptor: the rest of the aggregation buffer the previous packet was
    /// packed into.
    pub(crate) spare: Option<Packet>,
    /// Split mode, frames without one: the aggregation buffer the previous packet was packed into.
    pub(crate) packer: Option<Packer>,
    /// Dropped packets and copy sources, freed in bulk.
    pub(crate) trash: ArrayVec<Packet, TRASH>,
    /// New packets of the receiver's pool, allocated a burst at a time: private copies go into them, and
    /// split views take their descriptors from them. The unused ones are freed with the pass.
    pub(crate) fresh: ArrayVec<Packet, FRESH>,
}

impl Pass {
    pub(crate) fn new() -> Pass {
        Pass {
            sent: 0,
            bytes: 0,
            drops: [0; DropReason::COUNT],
            now: 0,
            tally: Tally::default(),
            spare: None,
            packer: None,
            trash: ArrayVec::new(),
            fresh: ArrayVec::new(),
        }
    }

    /// Takes `p` to be freed with the pass's others (a dropped packet, a copy's source), freeing them
    /// first when the pass holds as many as it can.
    pub(crate) fn discard(&mut self, p: Packet) {
        if self.trash.is_full() {
            free_burst(&mut self.trash);
        }
        self.trash.push(p);
    }

    /// The engine clock, read at most once per pass.
    pub(crate) fn now(&mut self) -> u64 {
        if self.now == 0 {
            self.now = pktloop_engine::time::now_ns();
        }
        self.now
    }
}
