//! Interface filters (XNU's `iflt_attach`): ordered hooks that see every inbound packet before protocol
//! demux and every outbound packet before the port, and pass, drop or consume it.

use crate::packet::Packet;
use crate::port::{bump_owned, PacketBurst};
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
///
/// The interface calls the burst methods, once per burst; their provided bodies run the per-packet hooks
/// in a loop compiled for each filter type (one dynamic call per burst, not per packet). Override them
/// only to judge a burst as a whole.
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

    /// Runs [`Filter::input`] over `pkts` in place: passed packets stay, in order; dropped ones move to
    /// `dropped` (which has room for all of them).
    fn input_burst(&mut self, pkts: &mut PacketBurst, dropped: &mut PacketBurst) -> FilterStats {
        judge_in_place(pkts, dropped, |p| self.input(p))
    }

    /// Runs [`Filter::output`] over `pkts` in place, as [`Filter::input_burst`] does.
    fn output_burst(&mut self, pkts: &mut PacketBurst, dropped: &mut PacketBurst) -> FilterStats {
        judge_in_place(pkts, dropped, |p| self.output(p))
    }
}

impl std::fmt::Debug for dyn Filter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
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

impl FilterCounters {
    /// Adds one burst's outcome.
    pub(crate) fn add(&self, s: FilterStats) {
        // One writer: the data path.
        bump_owned(&self.passed, s.passed);
        bump_owned(&self.dropped, s.dropped);
        bump_owned(&self.consumed, s.consumed);
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

/// Runs `judge` over `pkts` in place, keeping the passed packets in order and moving the dropped ones to
/// `dropped`; returns what happened.
#[inline]
fn judge_in_place(
    pkts: &mut PacketBurst,
    dropped: &mut PacketBurst,
    mut judge: impl FnMut(Packet) -> Verdict,
) -> FilterStats {
    let mut s = FilterStats::default();
    let len = pkts.len();
    // While the filter runs the burst claims no packet: if a hook panics, the packets not yet looked at
    // leak instead of being freed twice.
    // SAFETY: 0 <= the capacity, and no element is dropped by shrinking the length.
    unsafe { pkts.set_len(0) };
    // Taken after `set_len`, so that no later use of `pkts` invalidates it.
    let base = pkts.as_mut_ptr();
    let mut keep = 0;
    for i in 0..len {
        // SAFETY: slot i < len held an initialised packet, read exactly once; slots below `keep` <= i are
        // the ones written back, so no live packet is overwritten.
        let pkt = unsafe { base.add(i).read() };
        match judge(pkt) {
            Verdict::Pass(p) => {
                // SAFETY: keep <= i < capacity, and slot `keep` was read (moved out) already.
                unsafe { base.add(keep).write(p) };
                keep += 1;
            }
            Verdict::Drop(p) => {
                s.dropped += 1;
                // `dropped` has the same capacity as `pkts`, and the caller frees it after every filter.
                dropped.push(p);
            }
            Verdict::Consumed => s.consumed += 1,
        }
    }
    s.passed = keep as u64;
    // SAFETY: slots 0..keep hold the passed packets, written above.
    unsafe { pkts.set_len(keep) };
    s
}
