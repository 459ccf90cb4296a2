//! A floor with another ring protocol, to see how far a ring can go below [`crate::floor`]'s: the
//! consumer reads no position of the producer's. Each slot carries its lap's parity in the top bit of the
//! word, so a consumer waiting for a burst polls the burst's first slot itself, and the line that tells it
//! the burst is there is the line that brings its first eight items (with head and tail positions, that
//! news comes on a line of its own, one more transfer between the cores per burst). The producer still
//! learns the consumer's position from a line of its own, as rarely as the free room it saw allows.
//!
//! Not a pktloop design: its items are 63-bit words (the top bit is the ring's), and a consumer that polls
//! slots the producer is filling takes their lines back mid-burst: streaming bursts one way, it moved
//! 0.68x the head-and-tail ring's rate in a first try (BENCHMARKS.md, the twentieth session). It is here
//! as a floor for io forwarding (testpmd's `tx_first`), where each core waits for the other's burst.

use crossbeam_utils::CachePadded;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// The bit of a slot's word that says which lap wrote it.
const LAP: u64 = 1 << 63;

struct Shared {
    /// Next position the consumer reads; written by the consumer only.
    tail: CachePadded<AtomicUsize>,
    slots: Box<[AtomicU64]>,
    mask: usize,
    /// log2 of the capacity: a position's lap is `pos >> lap_shift` (a division per item cost the floor a
    /// third of its rate).
    lap_shift: u32,
}

/// One end of a lap-stamped SPSC ring of 63-bit words (the same type for both ends; each end uses only its
/// own methods). Aligned to a cache-line pair, as [`crate::floor::Spsc`] is.
#[allow(missing_debug_implementations)]
#[repr(align(128))]
pub struct Stamped {
    shared: Arc<Shared>,
    /// Our position (the next slot we write, or read).
    pos: usize,
    /// The producer's view of the consumer's position.
    seen: usize,
}

/// A ring of `capacity` slots (a power of two): (producer, consumer).
pub fn stamped(capacity: usize) -> (Stamped, Stamped) {
    assert!(capacity.is_power_of_two());
    let shared = Arc::new(Shared {
        tail: CachePadded::new(AtomicUsize::new(0)),
        // Zeroed slots read as written by lap -1: none is ready for lap 0, which stamps its slots with LAP.
        slots: (0..capacity).map(|_| AtomicU64::new(0)).collect(),
        mask: capacity - 1,
        lap_shift: capacity.trailing_zeros(),
    });
    (Stamped { shared: shared.clone(), pos: 0, seen: 0 }, Stamped { shared, pos: 0, seen: 0 })
}

impl Stamped {
    /// The stamp of the lap position `pos` is in: LAP on even laps, 0 on odd ones.
    #[inline(always)]
    fn stamp(&self, pos: usize) -> u64 {
        if (pos >> self.shared.lap_shift) & 1 == 0 {
            LAP
        } else {
            0
        }
    }

    /// Producer: pushes as many of `items` (each below 2^63) as fit; returns how many.
    #[inline]
    pub fn push(&mut self, items: &[u64]) -> usize {
        let cap = self.shared.mask + 1;
        if cap - self.pos.wrapping_sub(self.seen) < items.len() {
            self.seen = self.shared.tail.load(Ordering::Acquire);
        }
        let n = items.len().min(cap - self.pos.wrapping_sub(self.seen));
        for (i, &item) in items[..n].iter().enumerate() {
            debug_assert!(item & LAP == 0, "the top bit is the ring's");
            let at = self.pos.wrapping_add(i);
            self.shared.slots[at & self.shared.mask].store(item | self.stamp(at), Ordering::Release);
        }
        self.pos = self.pos.wrapping_add(n);
        n
    }

    /// Consumer: pops up to `out.len()` items, as far as the slots say they are this lap's; returns how many.
    #[inline]
    pub fn pop(&mut self, out: &mut [u64]) -> usize {
        let mut n = 0;
        while n < out.len() {
            let at = self.pos.wrapping_add(n);
            let word = self.shared.slots[at & self.shared.mask].load(Ordering::Acquire);
            if word & LAP != self.stamp(at) {
                break;
            }
            out[n] = word & !LAP;
            n += 1;
        }
        if n > 0 {
            self.pos = self.pos.wrapping_add(n);
            self.shared.tail.store(self.pos, Ordering::Release);
        }
        n
    }
}

impl crate::floor::BurstRing<u64> for Stamped {
    #[inline]
    fn push(&mut self, items: &[u64]) -> usize {
        Stamped::push(self, items)
    }
    #[inline]
    fn pop(&mut self, out: &mut [u64]) -> usize {
        Stamped::pop(self, out)
    }
}

/// [`crate::floor::io_forward`] over lap-stamped rings: a burst of handles seeded each way between core 0
/// and core 1, each pushing back out what it pops, until core 1 has moved `packets`. Returns that time and
/// whether every handle core 1 moved came in order.
pub fn io_forward(packets: u64) -> (Duration, bool) {
    crate::floor::io_forward_over(stamped, packets)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Items come out once each, in order, across many laps, and a full ring takes nothing more.
    #[test]
    fn items_cross_laps_in_order_and_a_full_ring_refuses_more() {
        let (mut p, mut c) = stamped(8);
        let mut next = 0u64;
        let mut out = [0u64; 5];
        for round in 0..100u64 {
            let items: Vec<u64> = (round * 5..round * 5 + 5).collect();
            assert_eq!(p.push(&items), 5);
            assert_eq!(c.pop(&mut out), 5);
            for &v in &out {
                assert_eq!(v, next);
                next += 1;
            }
        }
        assert_eq!(p.push(&[1; 8]), 8);
        assert_eq!(p.push(&[1]), 0, "full");
        assert_eq!(c.pop(&mut [0; 16]), 8);
        assert_eq!(c.pop(&mut [0; 16]), 0, "empty");
    }

    #[test]
    fn io_forward_brings_every_seeded_handle_round_in_order() {
        let (_, in_order) = io_forward(1 << 16);
        assert!(in_order);
    }
}
