//! Interface filters (XNU's `iflt_attach`): ordered hooks that see every inbound packet before protocol
//! demux and every outbound packet before the port, and pass, drop or consume it.

use crate::packet::Packet;
use std::sync::atomic::{AtomicU64, Ordering};

/// What a filter did with a packet.
#[derive(Debug)]
pub enum Verdict {
    /// On to the next filter (or the protocol, or the port).
    Pass(Packet),
    /// Dropped: the interface frees it and counts it as `Filtered`, on the interface and on the filter.
    Drop(Packet),
    /// The filter kept it (it owns the packet now, to free, queue or reinject later).
    Consumed,
}

/// An interface filter. The interface calls it from its data path only (one thread at a time), so the
/// hooks take `&mut self` and keep plain state; it is handed back by `detach_filter` once no packet is
/// inside it.
pub trait Filter: Send {
    /// Name for tables and events.
    fn name(&self) -> &str;

    /// An inbound packet, before protocol demux.
    fn input(&mut self, pkt: Packet) -> Verdict {
        Verdict::Pass(pkt)
    }

    /// An outbound packet, before the port.
    fn output(&mut self, pkt: Packet) -> Verdict {
        Verdict::Pass(pkt)
    }
}

/// A filter's counters: written by the interface's data path once per burst, read by anyone.
#[derive(Debug, Default)]
pub struct FilterCounters {
    passed: AtomicU64,
    dropped: AtomicU64,
    consumed: AtomicU64,
}

/// A snapshot of a filter's counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FilterStats {
    /// Packets it passed on.
    pub passed: u64,
    /// Packets it dropped.
    pub dropped: u64,
    /// Packets it kept.
    pub consumed: u64,
}

/// One writer (the data path): a plain load and store.
fn add(c: &AtomicU64, n: u64) {
    if n != 0 {
        c.store(c.load(Ordering::Relaxed) + n, Ordering::Relaxed);
    }
}

impl FilterCounters {
    /// Adds one burst's outcome.
    pub(crate) fn add(&self, s: FilterStats) {
        add(&self.passed, s.passed);
        add(&self.dropped, s.dropped);
        add(&self.consumed, s.consumed);
    }

    /// The counters now.
    pub fn snapshot(&self) -> FilterStats {
        let l = |c: &AtomicU64| c.load(Ordering::Relaxed);
        FilterStats { passed: l(&self.passed), dropped: l(&self.dropped), consumed: l(&self.consumed) }
    }
}

/// Which hook a burst goes through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Hook {
    Input,
    Output,
}

/// Runs `pkts` through `filter`'s `hook`, keeping the passed packets in order in `pkts` and moving the
/// dropped ones to `dropped`; returns what happened. `kept` is scratch (empty on entry and on return).
pub(crate) fn run_burst<const N: usize>(
    filter: &mut dyn Filter,
    hook: Hook,
    pkts: &mut arrayvec::ArrayVec<Packet, N>,
    kept: &mut arrayvec::ArrayVec<Packet, N>,
    dropped: &mut arrayvec::ArrayVec<Packet, N>,
) -> FilterStats {
    let mut s = FilterStats::default();
    for pkt in pkts.drain(..) {
        let verdict = match hook {
            Hook::Input => filter.input(pkt),
            Hook::Output => filter.output(pkt),
        };
        match verdict {
            Verdict::Pass(p) => {
                s.passed += 1;
                kept.push(p);
            }
            Verdict::Drop(p) => {
                s.dropped += 1;
                // `dropped` has the same capacity as `pkts`, and the caller frees it after every filter.
                dropped.push(p);
            }
            Verdict::Consumed => s.consumed += 1,
        }
    }
    std::mem::swap(pkts, kept);
    s
}
