//! The shm driver's own counters, beyond the port's. The data path writes them from its one thread, so
//! each change is a plain load and store ([`bump_owned`]), not a locked add.

use pktloop_engine::port::bump_owned;
use std::sync::atomic::{AtomicU64, Ordering};

/// The driver's own counters, beyond the port's.
#[derive(Debug, Default)]
pub struct ShmCounters {
    sessions: AtomicU64,
    tx_copied: AtomicU64,
    bad_returns: AtomicU64,
    corrupt_rings: AtomicU64,
    awaiting_peer: AtomicU64,
}

impl ShmCounters {
    /// Connections made.
    pub fn sessions(&self) -> u64 {
        self.sessions.load(Ordering::Relaxed)
    }

    /// Packets sent that were not of this port's pool, so were copied into it first.
    pub fn tx_copied(&self) -> u64 {
        self.tx_copied.load(Ordering::Relaxed)
    }

    /// Give-back entries refused: a buffer not lent to the peer, out of range or given back twice.
    pub fn bad_returns(&self) -> u64 {
        self.bad_returns.load(Ordering::Relaxed)
    }

    /// Rings whose peer index was impossible (the connection was then dropped).
    pub fn corrupt_rings(&self) -> u64 {
        self.corrupt_rings.load(Ordering::Relaxed)
    }

    /// Packets on the ring that the peer had not taken at the port's last look: a run that ends counts
    /// its packets once this is 0 (the peer may be slow to take the last ones, not gone).
    pub fn awaiting_peer(&self) -> u64 {
        self.awaiting_peer.load(Ordering::Relaxed)
    }

    pub(super) fn session_started(&self) {
        self.sessions.fetch_add(1, Ordering::Relaxed);
    }

    /// `n` packets of another pool were copied to be sent.
    #[inline]
    pub(super) fn copied(&self, n: u64) {
        bump_owned(&self.tx_copied, n);
    }

    /// `n` give-back entries were refused.
    #[inline]
    pub(super) fn refused(&self, n: u64) {
        bump_owned(&self.bad_returns, n);
    }

    /// A ring's peer index was impossible.
    pub(super) fn ring_corrupt(&self) {
        bump_owned(&self.corrupt_rings, 1);
    }

    /// Sets [`ShmCounters::awaiting_peer`], writing only when it changed (the line is shared with the
    /// thread that reads the counters).
    #[inline]
    pub(super) fn set_awaiting(&self, packets: u64) {
        if self.awaiting_peer.load(Ordering::Relaxed) != packets {
            self.awaiting_peer.store(packets, Ordering::Relaxed);
        }
    }
}
