//! Counting sent packets as the peer takes them: a port's `opackets` are packets its peer received, so a
//! packet counts as sent once the peer's consumer index has passed its last slot. The sender keeps, per
//! slot, the running totals of the packets that ended by that slot; what the peer took since the last
//! look is then one lookup at its index less the totals counted so far, however many slots it passed.

/// Packets and bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Totals {
    pub packets: u64,
    pub bytes: u64,
}

/// Bits of a packed running total that hold the bytes; the packets count above them. A total is one
/// wrapping integer, packets * 2^40 + bytes (bytes overflowing into the packets, which the subtraction's
/// borrow undoes), so the difference of two totals splits exactly into packets and bytes while it is under
/// 2^24 packets and 2^40 bytes: a tally's ring holds at most [`MAX_SLOTS`] = 2^20 packets between two
/// looks, each at most a frame (under 2^17 bytes). One 8-byte store per slot where two counters took two
/// (the shm sender's send writes a slot's totals per packet).
const BYTES_BITS: u32 = 40;
const BYTES_MASK: u64 = (1 << BYTES_BITS) - 1;
/// The packed total of one packet of no bytes.
const ONE_PACKET: u64 = 1 << BYTES_BITS;
/// Largest ring a tally is for: its slots' packets and bytes fit the packed fields.
const MAX_SLOTS: u32 = 1 << 20;

/// The packets and bytes between two packed running totals, `from` first.
fn between(from: u64, to: u64) -> Totals {
    let d = to.wrapping_sub(from);
    Totals { packets: d >> BYTES_BITS, bytes: d & BYTES_MASK }
}

/// The totals of a producer's ring, slot by slot (private: the peer may overwrite the ring's slots).
#[derive(Debug)]
pub(super) struct Tally {
    /// Per slot, as last written: the packed totals of every packet that ended in it or before.
    at: Box<[u64]>,
    /// Packed totals of every packet written.
    written: u64,
    /// Packed totals of the packets counted as taken.
    counted: u64,
    /// The consumer index they were counted up to.
    counted_to: u32,
}

impl Tally {
    /// Nothing written yet, for a ring of `size` slots (a power of two, at most 2^20) whose producer is
    /// at `head`.
    pub fn new(size: u32, head: u32) -> Tally {
        debug_assert!(size.is_power_of_two() && size <= MAX_SLOTS);
        Tally { at: vec![0; size as usize].into_boxed_slice(), written: 0, counted: 0, counted_to: head }
    }

    #[inline]
    fn slot(&mut self, pos: u32) -> &mut u64 {
        let mask = self.at.len() - 1;
        &mut self.at[pos as usize & mask]
    }

    /// Slot `pos` carries part of a packet that goes on in the next one.
    #[inline]
    pub fn continues(&mut self, pos: u32) {
        let totals = self.written;
        *self.slot(pos) = totals;
    }

    /// Slot `pos` carries the last part of a packet of `bytes` bytes.
    #[inline]
    pub fn ends(&mut self, pos: u32, bytes: u32) {
        self.ends_each(pos, std::iter::once(bytes));
    }

    /// Slots `from`, `from + 1`, ... each carry the whole of a packet, of the `lens` bytes in turn (at most
    /// a ring of them, as a producer writes): what [`Tally::ends`] of each does, with the totals and the
    /// slots in registers.
    ///
    /// # Panics
    /// When `lens` holds more lengths than the ring has slots.
    #[inline]
    pub fn ends_each(&mut self, from: u32, lens: impl ExactSizeIterator<Item = u32>) {
        let (mut lens, mut totals) = (lens, self.written);
        let at = from as usize & (self.at.len() - 1);
        // The slots in one run or two (when they wrap past the last), each walked with a pointer.
        let (before, after) = self.at.split_at_mut(at);
        let first = lens.len().min(after.len());
        let wrapped = lens.len() - first;
        for run in [&mut after[..first], &mut before[..wrapped]] {
            for (slot, len) in run.iter_mut().zip(&mut lens) {
                totals = totals.wrapping_add(ONE_PACKET + u64::from(len));
                *slot = totals;
            }
        }
        self.written = totals;
    }

    /// The packets (and their bytes) the peer took since the last look, its consumer index now at
    /// `consumed` (checked by the ring to lie at most a ring behind the producer), which are counted now.
    /// An index that moved back (only a hostile peer's does) counts nothing and moves nothing back.
    pub fn take(&mut self, consumed: u32) -> Totals {
        // An honest peer is at most a ring past the last count (the producer writes no further ahead of
        // it); any index behind the last count is further than that, the distance wrapping.
        let passed = consumed.wrapping_sub(self.counted_to);
        if passed == 0 || passed > self.at.len() as u32 {
            return Totals::default();
        }
        let now = *self.slot(consumed.wrapping_sub(1));
        let taken = between(self.counted, now);
        self.counted = now;
        self.counted_to = consumed;
        taken
    }

    /// Packets written and not counted as taken.
    pub fn untaken(&self) -> u64 {
        between(self.counted, self.written).packets
    }

    /// Counts every packet written as no longer waiting (the session ends; the caller counts them lost).
    pub fn forget_untaken(&mut self) {
        self.counted = self.written;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_packet_counts_once_when_the_peer_passes_its_last_slot() {
        let mut t = Tally::new(8, 6);
        // Packets of 1, 2 and 1 slots at positions 6, 7-8, 9 (the ring wraps at 8).
        t.ends(6, 60);
        t.continues(7);
        t.ends(8, 2000);
        t.ends(9, 64);
        assert_eq!(t.untaken(), 3);
        assert_eq!(t.take(6), Totals::default(), "nothing taken yet");
        assert_eq!(t.take(8), Totals { packets: 1, bytes: 60 }, "the second packet is half taken");
        assert_eq!(t.take(9), Totals { packets: 1, bytes: 2000 });
        assert_eq!(t.take(7), Totals::default(), "an index moved back counts nothing");
        assert_eq!(t.take(10), Totals { packets: 1, bytes: 64 });
        assert_eq!(t.untaken(), 0);
    }

    #[test]
    fn a_run_of_whole_packets_counts_as_each_one_does() {
        let (mut one, mut run) = (Tally::new(8, 5), Tally::new(8, 5));
        let lens = [60, 1500, 64, 9000, 1, 70];
        for (k, &len) in lens.iter().enumerate() {
            one.ends(5 + k as u32, len);
        }
        run.ends_each(5, lens.into_iter());
        assert_eq!(run.untaken(), 6);
        // Positions 5..=10 wrap at 8: the peer passing any of them counts the same either way.
        for consumed in [7, 9, 11] {
            assert_eq!(run.take(consumed), one.take(consumed));
        }
        assert_eq!(run.untaken(), 0);
    }

    #[test]
    fn an_index_a_whole_ring_back_counts_nothing() {
        // Ring of 4, written up to 12, counted to 10: a peer index of 8 (head - size) passes the ring's
        // check, and the slot before it holds the totals of position 11, which was never taken.
        let mut t = Tally::new(4, 0);
        for pos in 0..12 {
            t.ends(pos, 1);
            if pos < 10 {
                assert_eq!(t.take(pos + 1).packets, 1);
            }
        }
        assert_eq!(t.take(8), Totals::default());
        assert_eq!(t.untaken(), 2, "the last two still wait for the peer");
        assert_eq!(t.take(12).packets, 2, "and count once it takes them");
    }

    #[test]
    fn a_lap_taken_at_once_counts_every_packet_of_it() {
        let mut t = Tally::new(4, u32::MAX - 1);
        for k in 0..4 {
            t.ends((u32::MAX - 1).wrapping_add(k), 10);
        }
        assert_eq!(t.take(2), Totals { packets: 4, bytes: 40 }, "a full ring, the indices wrapping past u32::MAX");
        t.ends(2, 5);
        t.forget_untaken();
        assert_eq!(t.untaken(), 0);
    }

    #[test]
    fn packed_totals_count_across_their_wrap() {
        // Running totals just short of wrapping both fields: the counts between looks stay exact.
        let mut t = Tally::new(8, 0);
        t.written = u64::MAX - 3 * ONE_PACKET - 100;
        t.counted = t.written;
        t.ends_each(0, [60, 1500, 16_000, 9].into_iter());
        assert_eq!(t.untaken(), 4);
        assert_eq!(t.take(2), Totals { packets: 2, bytes: 1560 });
        assert_eq!(t.take(4), Totals { packets: 2, bytes: 16_009 }, "past the wrap");
        assert_eq!(t.untaken(), 0);
    }
}
