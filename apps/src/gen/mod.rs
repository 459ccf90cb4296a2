//! The traffic generator behind `fwd`'s txonly, flowgen and icmpecho modes: what frames look like
//! ([`sizes`], [`flows`], made by [`maker`]), captures to replay ([`replay`], played by [`player`]), and
//! how many and how fast ([`pace`], and [`Quota`] which joins a rate and a count).
//!
//! Everything here is built at setup; the per-burst calls never allocate, lock or make a system call
//! (pacing reads the clock through the vDSO only when the packets already due do not cover a burst).

pub mod flows;
pub mod maker;
pub mod pace;
pub mod player;
pub mod replay;
pub mod settings;
pub mod sizes;

use pace::Pacer;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// A rate that can be turned while generators run (`set rate` at the interactive prompt): packets per
/// second of each generator port as `f64` bits, 0 for unpaced. Generators look at it once per burst.
#[derive(Debug, Clone, Default)]
pub struct RateDial(Arc<AtomicU64>);

impl RateDial {
    /// Sets the rate of each generator port (None: as fast as the ports take them).
    pub fn set(&self, pps: Option<f64>) {
        self.0.store(pps.map_or(0, f64::to_bits), Ordering::Relaxed);
    }

    fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// A generator's hold on a [`RateDial`]: its share of the port's rate and the setting it last saw.
#[derive(Debug, Clone)]
pub struct DialHold {
    dial: RateDial,
    /// Queues sharing the port's rate.
    share: f64,
    /// Packets a bucket holds per packet per second of rate (its depth in seconds), at least `min_depth`.
    depth_s: f64,
    min_depth: usize,
    seen: u64,
}

impl DialHold {
    /// A hold on `dial` for one of `share` queues, with buckets `depth_s` seconds deep (at least
    /// `min_depth` packets).
    pub fn new(dial: RateDial, share: usize, depth_s: f64, min_depth: usize) -> DialHold {
        let seen = dial.get();
        DialHold { dial, share: share.max(1) as f64, depth_s, min_depth, seen }
    }
}

/// How many packets a generator may still make, and when: `--count` and `--rate` together.
#[derive(Debug, Clone, Default)]
pub struct Quota {
    /// Packets left to make (None: no count).
    left: Option<u64>,
    /// The rate's token bucket (None: as fast as the port takes them).
    pacer: Option<Pacer>,
    /// A rate turned at run time replaces `pacer` when it changes.
    dial: Option<DialHold>,
}

impl Quota {
    /// A quota of `count` packets (if any) at `pacer`'s rate (if any).
    pub fn new(count: Option<u64>, pacer: Option<Pacer>) -> Quota {
        Quota { left: count, pacer, dial: None }
    }

    /// The same quota, its rate turned by `hold`'s dial from now on.
    pub fn with_dial(mut self, hold: DialHold) -> Quota {
        self.dial = Some(hold);
        self
    }

    /// Picks up a new setting of the dial (one relaxed load per burst, only with a dial).
    #[inline]
    fn follow_dial(&mut self) {
        let Some(h) = &mut self.dial else { return };
        let now = h.dial.get();
        if now != h.seen {
            h.seen = now;
            let pps = f64::from_bits(now) / h.share;
            self.pacer = (now != 0).then(|| Pacer::new(pps, ((pps * h.depth_s) as usize).max(h.min_depth)));
        }
    }

    /// Whether the count is used up.
    #[inline]
    pub fn exhausted(&self) -> bool {
        self.left == Some(0)
    }

    /// How many of `want` packets may be made now (reads the clock only when paced).
    #[inline]
    pub fn grant(&mut self, want: usize) -> usize {
        self.follow_dial();
        let want = match self.left {
            Some(left) => want.min(left.min(usize::MAX as u64) as usize),
            None => want,
        };
        match &mut self.pacer {
            Some(p) if want > 0 => p.take(want, pktloop_engine::time::now_ns),
            _ => want,
        }
    }

    /// Settles a grant of `granted` of which `made` were made (the rest are given back to the pacer).
    #[inline]
    pub fn settle(&mut self, granted: usize, made: usize) {
        if let Some(left) = &mut self.left {
            *left -= made as u64;
        }
        if let Some(p) = &mut self.pacer {
            p.unsend(granted - made);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_count_caps_grants_and_unmade_packets_are_not_charged() {
        let mut q = Quota::new(Some(40), None);
        assert_eq!(q.grant(32), 32);
        q.settle(32, 30);
        assert_eq!(q.grant(32), 10);
        q.settle(10, 10);
        assert!(q.exhausted());
        assert_eq!(q.grant(32), 0);
        let mut unpaced = Quota::default();
        assert_eq!(unpaced.grant(32), 32);
        assert!(!unpaced.exhausted());
    }

    #[test]
    fn a_dial_turned_while_running_paces_from_the_next_burst() {
        let dial = RateDial::default();
        let mut q = Quota::default().with_dial(DialHold::new(dial.clone(), 2, 0.01, 1));
        assert_eq!(q.grant(32), 32, "unpaced until the dial is set");
        dial.set(Some(2.0));
        assert_eq!(q.grant(32), 1, "1 pps for this queue: one packet now, the next in a second");
        assert_eq!(q.grant(32), 0);
        dial.set(None);
        assert_eq!(q.grant(32), 32);
    }
}
