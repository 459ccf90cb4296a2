//! Which buffers are across the boundary: one bit per buffer of a pool, set while the other side has it.
//!
//! A side keeps two: its own buffers lent to the peer (an index the peer gives back is taken only if its
//! bit is set, so a buffer returned twice or never lent is refused, and at the peer's death every set bit
//! is a buffer to take back), and the peer's buffers in its hands (an index the peer sends is taken only if
//! its bit is clear, so the peer cannot hand over one buffer twice).

/// One bit per buffer.
#[derive(Debug)]
pub(super) struct Ledger {
    words: Box<[u64]>,
    count: u32,
}

impl Ledger {
    /// All clear, for `count` buffers.
    pub fn new(count: u32) -> Ledger {
        Ledger { words: vec![0; (count as usize).div_ceil(64)].into_boxed_slice(), count }
    }

    /// Buffers in the ledger.
    pub fn count(&self) -> u32 {
        self.count
    }

    /// Sets `idx`'s bit; false (and nothing changed) when it is out of range or already set.
    #[inline]
    pub fn insert(&mut self, idx: u32) -> bool {
        let Some((word, bit)) = self.bit(idx) else { return false };
        // Set either way, with no branch on the bit: every packet that crosses goes through two of these
        // and two removes.
        let fresh = *word & bit == 0;
        *word |= bit;
        fresh
    }

    /// Clears `idx`'s bit; false (and nothing changed) when it is out of range or not set.
    #[inline]
    pub fn remove(&mut self, idx: u32) -> bool {
        let Some((word, bit)) = self.bit(idx) else { return false };
        let held = *word & bit != 0;
        *word &= !bit;
        held
    }

    /// The word holding `idx`'s bit and the bit, when `idx` is in range.
    #[inline(always)]
    fn bit(&mut self, idx: u32) -> Option<(&mut u64, u64)> {
        if idx >= self.count {
            return None;
        }
        let bit = 1u64 << (idx % 64);
        // `count` bits fit the words (`new`), so the word is there; `get_mut` turns a check the compiler
        // cannot see is redundant into a `None` rather than a panic path.
        debug_assert!((idx as usize / 64) < self.words.len(), "count bits fit the words");
        self.words.get_mut(idx as usize / 64).map(|w| (w, bit))
    }

    /// [`Ledger::insert`] of each index; how many were set (the others were out of range or set already).
    #[inline]
    pub fn insert_each(&mut self, idxs: impl Iterator<Item = u32>) -> usize {
        idxs.filter(|&idx| self.insert(idx)).count()
    }

    /// [`Ledger::remove`] of each index; how many were cleared (the others were out of range or clear).
    #[inline]
    pub fn remove_each(&mut self, idxs: impl Iterator<Item = u32>) -> usize {
        idxs.filter(|&idx| self.remove(idx)).count()
    }

    /// Whether `idx`'s bit is set.
    pub fn contains(&self, idx: u32) -> bool {
        idx < self.count && self.words[idx as usize / 64] & (1 << (idx % 64)) != 0
    }

    /// Clears every bit, calling `f` with each index that was set (in order).
    pub fn drain(&mut self, mut f: impl FnMut(u32)) {
        for (w, word) in self.words.iter_mut().enumerate() {
            while *word != 0 {
                let bit = word.trailing_zeros();
                *word &= *word - 1;
                f(w as u32 * 64 + bit);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_buffer_is_in_once_and_out_once() {
        let mut l = Ledger::new(130);
        assert!(l.insert(0) && l.insert(129) && l.insert(64));
        assert!(!l.insert(64), "twice");
        assert!(!l.insert(130), "out of range");
        assert!(l.remove(64) && !l.remove(64) && !l.remove(500));
        let mut seen = Vec::new();
        l.drain(|i| seen.push(i));
        assert_eq!(seen, [0, 129]);
        assert!(!l.contains(0) && !l.contains(129));
    }

    #[test]
    fn a_run_counts_the_bits_it_changed() {
        let mut l = Ledger::new(100);
        assert_eq!(l.insert_each([3, 70, 3, 100, 99].into_iter()), 3, "a repeat and one out of range refused");
        assert!(l.contains(3) && l.contains(70) && l.contains(99));
        assert_eq!(l.remove_each([70, 70, 5, 99].into_iter()), 2, "a repeat and one never set refused");
        assert!(l.contains(3) && !l.contains(70) && !l.contains(99));
    }
}
