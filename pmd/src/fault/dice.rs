//! The seeded decisions: whether each fault strikes a frame, and the damage done when it does.

use super::config::{FaultConfig, Rate, PPM_MAX};
use super::stats::FaultStats;
use pktloop_engine::Packet;

/// One fault's trigger: its rate and, for every-n-th, the frames seen since it last struck.
#[derive(Debug, Clone, Copy)]
struct Trigger {
    rate: Rate,
    seen: u32,
}

impl Trigger {
    fn new(rate: Rate) -> Trigger {
        Trigger { rate, seen: 0 }
    }

    /// Whether the fault strikes the next frame. Only a `PerMillion` rate draws a random number.
    fn hit(&mut self, rng: &mut fastrand::Rng) -> bool {
        match self.rate {
            Rate::Off => false,
            Rate::PerMillion(p) => rng.u32(0..PPM_MAX) < p,
            Rate::EveryNth(n) => {
                self.seen += 1;
                let hit = self.seen >= n;
                if hit {
                    self.seen = 0;
                }
                hit
            }
        }
    }
}

/// What becomes of a received frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Verdict {
    /// Deliver it (perhaps damaged).
    Pass,
    /// Free it and count it.
    Drop,
    /// Hold it back.
    Delay,
}

/// Every trigger of a wrapper, and its random numbers.
#[derive(Debug)]
pub(super) struct Dice {
    rng: fastrand::Rng,
    rx_drop: Trigger,
    rx_corrupt: Trigger,
    rx_truncate: Trigger,
    rx_delay: Trigger,
    tx_drop: Trigger,
    tx_corrupt: Trigger,
    tx_truncate: Trigger,
    tx_reject: Trigger,
}

impl Dice {
    pub(super) fn new(c: &FaultConfig) -> Dice {
        Dice {
            rng: fastrand::Rng::with_seed(c.seed),
            rx_drop: Trigger::new(c.rx.drop),
            rx_corrupt: Trigger::new(c.rx.corrupt),
            rx_truncate: Trigger::new(c.rx.truncate),
            rx_delay: Trigger::new(c.rx.delay),
            tx_drop: Trigger::new(c.tx.drop),
            tx_corrupt: Trigger::new(c.tx.corrupt),
            tx_truncate: Trigger::new(c.tx.truncate),
            tx_reject: Trigger::new(c.tx.reject),
        }
    }

    /// Rolls a received frame's faults, damaging it in place, tallying into `t`.
    pub(super) fn rx(&mut self, p: &mut Packet, t: &mut FaultStats) -> Verdict {
        if self.rx_drop.hit(&mut self.rng) {
            t.rx_dropped += 1;
            return Verdict::Drop;
        }
        if self.rx_truncate.hit(&mut self.rng) && truncate(p, &mut self.rng) {
            t.rx_truncated += 1;
        }
        if self.rx_corrupt.hit(&mut self.rng) && corrupt(p, &mut self.rng) {
            t.rx_corrupted += 1;
        }
        if self.rx_delay.hit(&mut self.rng) {
            return Verdict::Delay;
        }
        Verdict::Pass
    }

    /// Whether a frame's first attempt is refused.
    pub(super) fn tx_reject(&mut self) -> bool {
        self.tx_reject.hit(&mut self.rng)
    }

    /// Rolls a frame to send's faults (after rejection), damaging it in place; false if it is dropped.
    pub(super) fn tx(&mut self, p: &mut Packet, t: &mut FaultStats) -> bool {
        if self.tx_drop.hit(&mut self.rng) {
            t.tx_dropped += 1;
            return false;
        }
        if self.tx_truncate.hit(&mut self.rng) && truncate(p, &mut self.rng) {
            t.tx_truncated += 1;
        }
        if self.tx_corrupt.hit(&mut self.rng) && corrupt(p, &mut self.rng) {
            t.tx_corrupted += 1;
        }
        true
    }
}

/// Cuts `p` to a random length in `1..len`; false (untouched) for frames shorter than two bytes.
fn truncate(p: &mut Packet, rng: &mut fastrand::Rng) -> bool {
    let len = p.len();
    if len < 2 {
        return false;
    }
    p.truncate(rng.usize(1..len));
    true
}

/// Flips one random bit of one random byte in `p`'s first segment; false for an empty frame.
fn corrupt(p: &mut Packet, rng: &mut fastrand::Rng) -> bool {
    let data = p.data_mut();
    if data.is_empty() {
        return false;
    }
    let i = rng.usize(..data.len());
    data[i] ^= 1 << rng.u8(0..8);
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_nth_strikes_exactly_every_nth_and_per_million_at_about_its_rate() {
        let mut rng = fastrand::Rng::with_seed(7);
        let mut every = Trigger::new(Rate::EveryNth(3));
        let hits: Vec<bool> = (0..9).map(|_| every.hit(&mut rng)).collect();
        assert_eq!(hits, [false, false, true, false, false, true, false, false, true]);
        let mut chance = Trigger::new(Rate::PerMillion(100_000));
        let n = (0..100_000).filter(|_| chance.hit(&mut rng)).count();
        assert!((9_000..11_000).contains(&n), "{n}");
        let (mut all, mut none) = (Trigger::new(Rate::PerMillion(PPM_MAX)), Trigger::new(Rate::PerMillion(0)));
        assert!((0..1000).all(|_| all.hit(&mut rng) && !none.hit(&mut rng)));
        assert!(!Trigger::new(Rate::Off).hit(&mut rng));
    }
}
