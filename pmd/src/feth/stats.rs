//! feth's own counters, beside the generic [`pktloop_engine::port::PortCounters`] (Apple's `FETH_COUNTER_*`
//! that have no generic equivalent). Written by the port's lcore once per burst, read by anyone.
//!
//! An interface with several queues has one block of each kind per queue (each written by its queue's
//! lcore only, so the single-writer adds stay exact and no two queues share a line); reads sum them.

use pktloop_engine::port::{PortCounters, PortStats};
use std::sync::atomic::{AtomicU64, Ordering};

/// Live feth counters of one interface, on cache lines of their own (no false sharing with another port's).
#[derive(Debug, Default)]
#[repr(align(128))]
pub struct FethCounters {
    copies: AtomicU64,
    fcs_appended: AtomicU64,
    fcs_failed: AtomicU64,
    trailer_failed: AtomicU64,
    expired_notified: AtomicU64,
    completions_lost: AtomicU64,
    advisories: AtomicU64,
}

/// Per-burst tallies, added to [`FethCounters`] in one go.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Tally {
    pub copies: u64,
    pub fcs_appended: u64,
    pub fcs_failed: u64,
    pub trailer_failed: u64,
    pub expired_notified: u64,
    pub completions_lost: u64,
}

/// Adds to a counter only the port's lcore writes: a plain load and store, no locked instruction (which
/// would first wait for every store of the burst, frame copies included, to reach the cache).
#[inline]
fn bump(c: &AtomicU64, n: u64) {
    if n != 0 {
        c.store(c.load(Ordering::Relaxed).wrapping_add(n), Ordering::Relaxed);
    }
}

impl FethCounters {
    pub(crate) fn add(&self, t: &Tally) {
        bump(&self.copies, t.copies);
        bump(&self.fcs_appended, t.fcs_appended);
        bump(&self.fcs_failed, t.fcs_failed);
        bump(&self.trailer_failed, t.trailer_failed);
        bump(&self.expired_notified, t.expired_notified);
        bump(&self.completions_lost, t.completions_lost);
    }

    pub(crate) fn advisory(&self) {
        bump(&self.advisories, 1);
    }

    /// A copy of the counters.
    pub fn snapshot(&self) -> FethStats {
        let l = |c: &AtomicU64| c.load(Ordering::Relaxed);
        FethStats {
            copies: l(&self.copies),
            fcs_appended: l(&self.fcs_appended),
            fcs_failed: l(&self.fcs_failed),
            trailer_failed: l(&self.trailer_failed),
            expired_notified: l(&self.expired_notified),
            completions_lost: l(&self.completions_lost),
            advisories: l(&self.advisories),
        }
    }
}

/// The sum of per-queue blocks' snapshots.
pub(crate) fn sum_feth(blocks: &[FethCounters]) -> FethStats {
    blocks.iter().map(FethCounters::snapshot).fold(FethStats::default(), |a, b| FethStats {
        copies: a.copies + b.copies,
        fcs_appended: a.fcs_appended + b.fcs_appended,
        fcs_failed: a.fcs_failed + b.fcs_failed,
        trailer_failed: a.trailer_failed + b.trailer_failed,
        expired_notified: a.expired_notified + b.expired_notified,
        completions_lost: a.completions_lost + b.completions_lost,
        advisories: a.advisories + b.advisories,
    })
}

/// The sum of per-queue port counters' snapshots: the whole interface.
pub(crate) fn sum_port<'a>(blocks: impl IntoIterator<Item = &'a PortCounters>) -> PortStats {
    blocks.into_iter().map(PortCounters::snapshot).fold(PortStats::default(), |a, b| PortStats {
        ipackets: a.ipackets + b.ipackets,
        ibytes: a.ibytes + b.ibytes,
        ierrors: a.ierrors + b.ierrors,
        opackets: a.opackets + b.opackets,
        obytes: a.obytes + b.obytes,
        oerrors: a.oerrors + b.oerrors,
        rx_nombuf: a.rx_nombuf + b.rx_nombuf,
        drops: std::array::from_fn(|i| a.drops[i] + b.drops[i]),
    })
}

/// A snapshot of [`FethCounters`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FethStats {
    /// Packets copied into the peer's pool (private and split modes; Apple's `TX_COPY_*`).
    pub copies: u64,
    /// Frames that got an FCS.
    pub fcs_appended: u64,
    /// Frames that had no room for their FCS (sent without it).
    pub fcs_failed: u64,
    /// Frames that had no room for their trailer (sent without it).
    pub trailer_failed: u64,
    /// Expiry notifications made.
    pub expired_notified: u64,
    /// Sync tx completions lost because the completion queue was full.
    pub completions_lost: u64,
    /// Interface advisories published.
    pub advisories: u64,
}
