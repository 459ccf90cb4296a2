//! The wrapper's own counters, one per fault kind and direction: written by the polling lcore once per
//! burst, readable from any thread.

use std::sync::atomic::{AtomicU64, Ordering};

/// Declares the snapshot, its live atomic twin, and the per-burst add, from one list of fields.
macro_rules! fault_counters {
    ($($(#[$doc:meta])* $field:ident),* $(,)?) => {
        /// A snapshot of a wrapper's fault counters.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
        pub struct FaultStats {
            $($(#[$doc])* pub $field: u64,)*
            /// Received frames held back right now (delayed, not yet released), every queue together.
            pub rx_held: u64,
        }

        /// Live fault counters of one wrapper.
        #[derive(Debug, Default)]
        #[repr(align(128))]
        pub struct FaultCounters {
            $($field: AtomicU64,)*
            rx_held: AtomicU64,
        }

        impl FaultCounters {
            /// Adds a burst's tally (its `rx_held` is ignored: [`FaultCounters::set_held`] sets it).
            pub(super) fn add(&self, t: &FaultStats) {
                $(add_owned(&self.$field, t.$field);)*
            }

            /// A copy of every counter.
            pub fn snapshot(&self) -> FaultStats {
                let l = |c: &AtomicU64| c.load(Ordering::Relaxed);
                FaultStats { $($field: l(&self.$field),)* rx_held: l(&self.rx_held) }
            }
        }
    };
}

fault_counters! {
    /// Received frames dropped (also counted as `FaultInjected` in the port's counters).
    rx_dropped,
    /// Received frames with one bit flipped.
    rx_corrupted,
    /// Received frames cut short.
    rx_truncated,
    /// Received frames held back (each counts once, when it is held).
    rx_delayed,
    /// Frames to send dropped (also counted as `FaultInjected` in the port's counters).
    tx_dropped,
    /// Frames to send with one bit flipped (again on each attempt, if the port refuses and they come back).
    tx_corrupted,
    /// Frames to send cut short.
    tx_truncated,
    /// First attempts refused, left in the caller's burst to retry.
    tx_rejected,
}

/// Only the polling lcore writes these: a plain load and store, no locked instruction.
fn add_owned(c: &AtomicU64, n: u64) {
    if n != 0 {
        c.store(c.load(Ordering::Relaxed).wrapping_add(n), Ordering::Relaxed);
    }
}

impl FaultCounters {
    /// Records how many frames are held now.
    pub(super) fn set_held(&self, n: usize) {
        self.rx_held.store(n as u64, Ordering::Relaxed);
    }
}

impl FaultStats {
    /// Every fault injected, all kinds and directions (a delayed frame counts once).
    pub fn total(&self) -> u64 {
        self.rx_dropped
            + self.rx_corrupted
            + self.rx_truncated
            + self.rx_delayed
            + self.tx_dropped
            + self.tx_corrupted
            + self.tx_truncated
            + self.tx_rejected
    }
}
