//! The traffic generator behind `fwd`'s txonly, flowgen and icmpecho modes: what frames look like
//! ([`sizes`], [`flows`], made by [`maker`]), captures to replay ([`replay`], played by [`player`]), and
//! how many and how fast ([`pace`], and [`Quota`] which joins a rate and a count).
//!
//! Everything here is built at setup; the per-burst calls never allocate, lock or make a system call
//! (pacing reads the clock once per burst through the vDSO).

pub mod flows;
pub mod maker;
pub mod pace;
pub mod player;
pub mod replay;
pub mod settings;
pub mod sizes;

use pace::Pacer;

/// How many packets a generator may still make, and when: `--count` and `--rate` together.
#[derive(Debug, Clone, Default)]
pub struct Quota {
    /// Packets left to make (None: no count).
    left: Option<u64>,
    /// The rate's token bucket (None: as fast as the port takes them).
    pacer: Option<Pacer>,
}

impl Quota {
    /// A quota of `count` packets (if any) at `pacer`'s rate (if any).
    pub fn new(count: Option<u64>, pacer: Option<Pacer>) -> Quota {
        Quota { left: count, pacer }
    }

    /// Whether the count is used up.
    #[inline]
    pub fn exhausted(&self) -> bool {
        self.left == Some(0)
    }

    /// How many of `want` packets may be made now (reads the clock only when paced).
    #[inline]
    pub fn grant(&mut self, want: usize) -> usize {
        let want = match self.left {
            Some(left) => want.min(left.min(usize::MAX as u64) as usize),
            None => want,
        };
        match &mut self.pacer {
            Some(p) if want > 0 => p.take(pktloop_engine::time::now_ns(), want),
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
}
