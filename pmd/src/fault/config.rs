//! What a [`super::FaultInjector`] injects: each fault a [`Rate`] per direction, all off by default, checked
//! by [`FaultConfig::validate`] before a wrapper is built.

use pktloop_engine::error::check_range;
use pktloop_engine::KnobError;

/// A certainty in parts per million.
pub const PPM_MAX: u32 = 1_000_000;
/// Most polls a delayed frame is held for.
pub const DELAY_POLLS_MAX: u32 = 1 << 20;
/// Most frames held per rx queue.
pub const DELAY_CAPACITY_MAX: u32 = 1 << 16;

/// How often a fault strikes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Rate {
    /// Never (the default).
    #[default]
    Off,
    /// Each frame independently, with this chance in parts per million (`0..=1_000_000`).
    PerMillion(u32),
    /// Every n-th frame (`n >= 1`): frames n, 2n, 3n... of the direction.
    EveryNth(u32),
}

/// The two knob names of one fault, by how its rate is given.
#[derive(Clone, Copy)]
struct Knob {
    ppm: &'static str,
    every: &'static str,
}

impl Rate {
    fn check(self, knob: Knob) -> Result<(), KnobError> {
        match self {
            Rate::Off => Ok(()),
            Rate::PerMillion(p) => check_range(knob.ppm, p, 0, PPM_MAX, "0..=1000000 (parts per million)").map(drop),
            Rate::EveryNth(n) => check_range(knob.every, n, 1, u32::MAX, "1..=4294967295 (every n-th frame)").map(drop),
        }
    }
}

/// Faults on frames the wrapped port receives, applied in this order to each frame: drop, truncate,
/// corrupt, delay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RxFaults {
    /// Free the frame; counted as [`pktloop_engine::port::DropReason::FaultInjected`].
    pub drop: Rate,
    /// Flip one random bit of one random byte (of the first segment).
    pub corrupt: Rate,
    /// Cut to a random length in `1..len` (at least one byte survives: an empty frame is no frame to a
    /// port). Frames of one byte are left whole.
    pub truncate: Rate,
    /// Hold the frame back for `delay_polls` polls of its queue, then release it, held frames in order.
    pub delay: Rate,
    /// Polls a delayed frame waits (`1..=1048576`).
    pub delay_polls: u32,
    /// Frames held at most per rx queue (`1..=65536`), allocated when the wrapper is built; a frame picked
    /// for delay while its queue is full passes undelayed.
    pub delay_capacity: u32,
}

impl Default for RxFaults {
    fn default() -> RxFaults {
        RxFaults {
            drop: Rate::Off,
            corrupt: Rate::Off,
            truncate: Rate::Off,
            delay: Rate::Off,
            delay_polls: 4,
            delay_capacity: 1024,
        }
    }
}

/// Faults on frames handed to the wrapped port, applied in this order: reject, drop, truncate, corrupt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TxFaults {
    /// Free the frame (it counts as taken); counted as [`pktloop_engine::port::DropReason::FaultInjected`].
    pub drop: Rate,
    /// As [`RxFaults::corrupt`].
    pub corrupt: Rate,
    /// As [`RxFaults::truncate`].
    pub truncate: Rate,
    /// Refuse a frame's first attempt as back-pressure: it and the frames behind it stay in the caller's
    /// burst, and its retry (the same packet at the front of the next burst on that queue) is accepted.
    pub reject: Rate,
}

/// Every fault of one wrapper. The default injects nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FaultConfig {
    /// Seed of the wrapper's random numbers: the same seed and the same traffic give the same faults.
    pub seed: u64,
    /// Faults on received frames.
    pub rx: RxFaults,
    /// Faults on sent frames.
    pub tx: TxFaults,
}

const fn knob(ppm: &'static str, every: &'static str) -> Knob {
    Knob { ppm, every }
}

impl FaultConfig {
    /// Checks every knob.
    ///
    /// # Errors
    /// The first knob out of range, with its value and valid range. A rate's knob is named by direction,
    /// fault and form: `rx-drop-ppm` for `rx.drop = Rate::PerMillion(..)`, `tx-reject-every` for
    /// `tx.reject = Rate::EveryNth(..)`.
    pub fn validate(&self) -> Result<(), KnobError> {
        let (rx, tx) = (&self.rx, &self.tx);
        rx.drop.check(knob("rx-drop-ppm", "rx-drop-every"))?;
        rx.corrupt.check(knob("rx-corrupt-ppm", "rx-corrupt-every"))?;
        rx.truncate.check(knob("rx-truncate-ppm", "rx-truncate-every"))?;
        rx.delay.check(knob("rx-delay-ppm", "rx-delay-every"))?;
        check_range("rx-delay-polls", rx.delay_polls, 1, DELAY_POLLS_MAX, "1..=1048576")?;
        check_range("rx-delay-capacity", rx.delay_capacity, 1, DELAY_CAPACITY_MAX, "1..=65536")?;
        tx.drop.check(knob("tx-drop-ppm", "tx-drop-every"))?;
        tx.corrupt.check(knob("tx-corrupt-ppm", "tx-corrupt-every"))?;
        tx.truncate.check(knob("tx-truncate-ppm", "tx-truncate-every"))?;
        tx.reject.check(knob("tx-reject-ppm", "tx-reject-every"))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_valid_and_injects_nothing() {
        let c = FaultConfig::default();
        c.validate().unwrap();
        assert_eq!((c.rx.drop, c.tx.reject), (Rate::Off, Rate::Off));
    }

    #[test]
    fn errors_name_the_knob_the_value_and_the_range() {
        let mut c = FaultConfig::default();
        c.rx.corrupt = Rate::PerMillion(PPM_MAX + 1);
        let e = c.validate().unwrap_err();
        assert_eq!((e.knob, e.value), ("rx-corrupt-ppm", 1_000_001));
        assert_eq!(e.to_string(), "invalid rx-corrupt-ppm 1000001: valid is 0..=1000000 (parts per million)");
        c.rx.corrupt = Rate::PerMillion(PPM_MAX);
        c.tx.reject = Rate::EveryNth(0);
        assert_eq!(c.validate().unwrap_err().knob, "tx-reject-every");
        c.tx.reject = Rate::EveryNth(1);
        c.rx.delay_polls = 0;
        assert_eq!(c.validate().unwrap_err().knob, "rx-delay-polls");
        c.rx.delay_polls = DELAY_POLLS_MAX;
        c.rx.delay_capacity = DELAY_CAPACITY_MAX + 1;
        assert_eq!(c.validate().unwrap_err().knob, "rx-delay-capacity");
        c.rx.delay_capacity = DELAY_CAPACITY_MAX;
        c.validate().unwrap();
    }
}
