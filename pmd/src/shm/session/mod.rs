//! One connection's data path: the four rings, the peer's pool mapped here, and the two ledgers. Sending
//! lends this side's buffers (a packet of another pool is copied into one first), or sends a packet of the
//! peer's buffers home in them; receiving makes packets of the peer's buffers, or of this side's coming
//! home; freed peer buffers go back through the give-back ring, and this side's come back through the
//! peer's. Everything read from shared memory is checked before it is used.

mod receive;
mod send;

use super::counters::ShmCounters;
use super::layout::{self, Role, DATA_WORDS, RETURN_WORDS};
use super::ledger::Ledger;
use super::ring::{Consumer, Corrupt, Producer};
use super::tally::Tally;
use pktloop_engine::mem::Region;
use pktloop_engine::port::{DropReason, PortCounters};
use pktloop_engine::Pool;

/// Buffers moved per bulk call between a ledger and a pool.
const BULK: usize = 512;

/// What a session needs of its port on every call.
pub(super) struct PortSide<'a> {
    /// This side's pool (its buffers are what it lends).
    pub pool: &'a Pool,
    /// Longest frame sent or taken.
    pub max_frame: usize,
    pub counters: &'a PortCounters,
    pub shm: &'a ShmCounters,
}

/// A live connection's data path.
#[derive(Debug)]
pub(super) struct Session {
    tx: Producer<DATA_WORDS>,
    rx: Consumer<DATA_WORDS>,
    give_back: Producer<RETURN_WORDS>,
    returns: Consumer<RETURN_WORDS>,
    /// The peer's buffers, mapped here; freed packets of it collect in its free list.
    peer: Pool,
    /// The peer's buffers in this side's hands (as packets, or freed and not yet given back).
    held: Ledger,
    /// This side's buffers the peer has (on the ring, or taken off it and not yet given back).
    lent: Ledger,
    /// Peer buffers freed here that did not fit the give-back ring yet (capacity: all of them).
    to_give: Vec<u32>,
    /// Room to collect buffer indices in, freed peer buffers or this side's given back (kept, so no call
    /// clears a fresh array).
    scratch: Box<[u32; BULK]>,
    /// What was sent on `tx`, slot by slot, and how much of it the peer took.
    tally: Tally,
    /// Receive polls in a row that found nothing.
    idle_polls: u32,
    /// Slots `rx` must have published before the next look finds anything new: 1, or more when the
    /// last look stopped at a packet whose slots were not all there yet.
    rx_need: u32,
    /// Buffers in `lent`, and the pool's size: returns are read while sending only once half the pool
    /// is lent, so that a burst's path does not wait for the give-back ring's lines (a poll that finds
    /// nothing to receive reads them).
    lent_count: usize,
    own_capacity: usize,
    /// A peer index was impossible: nothing more is read or written; the port drops the connection.
    broken: bool,
    /// Keeps the rings mapped; last, so it is unmapped after everything that points into it.
    _channel: Region,
}

impl Session {
    /// The data path over `channel` (at least [`layout::channel_bytes`]`(ring_size)` bytes, checked by
    /// the caller) for `role`, with the peer's buffers in `peer`, lending buffers of a pool of `own`
    /// buffers.
    pub fn new(mut channel: Region, ring_size: u32, role: Role, peer: Pool, own: u32) -> Session {
        assert!(channel.len() >= layout::channel_bytes(ring_size), "the channel holds its rings");
        // SAFETY: the mapping is page aligned and at least channel_bytes(ring_size) long (asserted), and the
        // session keeps it mapped as long as the ring halves (they are dropped first).
        let rings = unsafe { layout::rings(channel.as_mut_ptr(), ring_size, role) };
        let peer_count = peer.capacity() as u32;
        // SAFETY: the channel stays mapped while the halves live (above), and this process makes one half of
        // each ring: it produces `tx` and `give_back` and consumes the other two (the role decides which is
        // which). The peer should do the opposite; if it does not, the halves' checks of every index it
        // wrote catch it (the contract does not rest on the peer).
        let (tx, rx, give_back, returns) = unsafe {
            (
                Producer::new(rings.tx),
                Consumer::new(rings.rx),
                Producer::new(rings.give_back),
                Consumer::new(rings.returns),
            )
        };
        let tally = Tally::new(ring_size, tx.head());
        Session {
            tx,
            rx,
            give_back,
            returns,
            held: Ledger::new(peer_count),
            lent: Ledger::new(own),
            to_give: Vec::with_capacity(peer_count as usize),
            scratch: Box::new([0; BULK]),
            tally,
            idle_polls: 0,
            rx_need: 1,
            lent_count: 0,
            own_capacity: own as usize,
            peer,
            broken: false,
            _channel: channel,
        }
    }

    /// The channel mapping, for tests that play a hostile peer.
    #[cfg(test)]
    pub fn channel_base(&mut self) -> *mut u8 {
        self._channel.as_mut_ptr()
    }

    /// Makes the calling thread's caches of both pools (see [`Pool::prepare_thread_cache`]).
    pub fn prepare_thread(&self, own: &Pool) {
        own.prepare_thread_cache();
        self.peer.prepare_thread_cache();
    }

    /// Whether a peer index was impossible.
    pub fn is_broken(&self) -> bool {
        self.broken
    }

    fn corrupt(&mut self, side: &PortSide<'_>) {
        if !self.broken {
            self.broken = true;
            side.shm.ring_corrupt();
            log::warn!("shm: the peer wrote an impossible ring index; dropping the connection");
        }
    }

    /// Gives back freed peer buffers and counts what the peer took; true when the peer has taken every
    /// packet sent and nothing waits to be given back (a closing port waits for that).
    pub fn flush(&mut self, side: &PortSide<'_>) -> bool {
        self.give_back_freed(true);
        self.take_returns(side);
        match self.tx.consumed() {
            Ok(consumed) => {
                self.count_sent(consumed, side);
                consumed == self.tx.head() && self.to_give.is_empty()
            }
            Err(Corrupt) => true,
        }
    }

    /// Ends the session, the peer gone or going: takes back what it gave back, counts what it took as
    /// sent and the packets it never took off the ring as lost with it (`peer_lost`), then takes
    /// back every buffer still lent. The peer's pool gets every buffer this side does not hold, so that it
    /// is released as soon as the last packet of it here is freed.
    pub fn finish(mut self, side: &PortSide<'_>) {
        self.take_returns(side);
        let consumed = if self.broken { Err(Corrupt) } else { self.tx.consumed() };
        if let Ok(consumed) = consumed {
            self.count_sent(consumed, side);
        }
        side.counters.drop(DropReason::PeerLost, self.tally.untaken());
        self.tally.forget_untaken();
        self.publish_awaiting(side);
        let mut back = arrayvec::ArrayVec::<u32, BULK>::new();
        self.lent_count = 0;
        self.lent.drain(|idx| {
            back.push(idx);
            if back.is_full() {
                // SAFETY: every index was lent by this side and the peer gives up all of them now.
                unsafe { side.pool.put_bulk(&back) };
                back.clear();
            }
        });
        // SAFETY: as above.
        unsafe { side.pool.put_bulk(&back) };
        self.complete_peer_pool();
    }

    /// Hands the peer's pool every buffer not in this side's hands (those freed here are in it already).
    fn complete_peer_pool(&mut self) {
        let mut chunk = arrayvec::ArrayVec::<u32, BULK>::new();
        for idx in (0..self.held.count()).filter(|&i| !self.held.contains(i)) {
            chunk.push(idx);
            if chunk.is_full() {
                // SAFETY: a buffer not held here is in no packet of the peer's pool and not in its free list
                // (which only ever holds buffers the ledger records as held), so it is handed over once.
                unsafe { self.peer.put_bulk(&chunk) };
                chunk.clear();
            }
        }
        // SAFETY: as above.
        unsafe { self.peer.put_bulk(&chunk) };
    }
}
