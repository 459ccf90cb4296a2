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
        // At least one word, so that a cursor always has one to start at.
        let words = (count as usize).div_ceil(64).max(1);
        Ledger { words: vec![0; words].into_boxed_slice(), count }
    }

    /// A cursor for a run of changes (a burst's buffers): see [`Cursor`].
    #[inline]
    pub fn cursor(&mut self) -> Cursor<'_> {
        let word = self.words[0];
        Cursor { words: &mut self.words, count: self.count, at: 0, word }
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
        let mut cursor = self.cursor();
        idxs.filter(|&idx| cursor.insert(idx)).count()
    }

    /// [`Ledger::remove`] of each index; how many were cleared (the others were out of range or clear).
    #[inline]
    pub fn remove_each(&mut self, idxs: impl Iterator<Item = u32>) -> usize {
        let mut cursor = self.cursor();
        idxs.filter(|&idx| cursor.remove(idx)).count()
    }

    /// [`Ledger::remove`] of each index, keeping in `idxs` (in order, from its start) those that were set;
    /// returns how many. Each index is written back whether kept or not, with no branch on it.
    #[inline]
    pub fn remove_keeping(&mut self, idxs: &mut [u32]) -> usize {
        let mut cursor = self.cursor();
        let mut kept = 0;
        for at in 0..idxs.len() {
            let idx = idxs[at];
            idxs[kept] = idx;
            kept += usize::from(cursor.remove(idx));
        }
        kept
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

/// [`Ledger::insert`] and [`Ledger::remove`] for a run of buffers, with the word they are in held in a
/// register and stored when the run moves to another word or ends (on drop). A burst's buffers are most
/// often neighbours, so their bits share words: changed through memory one after another, each change
/// loads the word the one before has just stored and waits for it (a profile of the shm sender put a
/// tenth of its core on that load).
pub(super) struct Cursor<'a> {
    words: &'a mut [u64],
    count: u32,
    /// The word held, and its value.
    at: usize,
    word: u64,
}

impl Cursor<'_> {
    /// As [`Ledger::insert`].
    #[inline(always)]
    pub fn insert(&mut self, idx: u32) -> bool {
        let Some(bit) = self.bit(idx) else { return false };
        let fresh = self.word & bit == 0;
        self.word |= bit;
        fresh
    }

    /// As [`Ledger::remove`].
    #[inline(always)]
    pub fn remove(&mut self, idx: u32) -> bool {
        let Some(bit) = self.bit(idx) else { return false };
        let held = self.word & bit != 0;
        self.word &= !bit;
        held
    }

    /// `idx`'s bit, its word now the one held; `None` when `idx` is out of range.
    #[inline(always)]
    fn bit(&mut self, idx: u32) -> Option<u64> {
        if idx >= self.count {
            return None;
        }
        let at = idx as usize / 64;
        if at != self.at {
            // `count` bits fit the words (`Ledger::new`), so both are there.
            self.words[self.at] = self.word;
            self.word = self.words[at];
            self.at = at;
        }
        Some(1u64 << (idx % 64))
    }
}

impl Drop for Cursor<'_> {
    #[inline(always)]
    fn drop(&mut self) {
        self.words[self.at] = self.word;
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

    #[test]
    fn removing_keeps_the_indices_that_were_set_in_order() {
        let mut l = Ledger::new(100);
        l.insert_each([1, 2, 70, 99].into_iter());
        let mut idxs = [2, 500, 70, 2, 3, 99];
        assert_eq!(l.remove_keeping(&mut idxs), 3, "out of range, a repeat and one never set refused");
        assert_eq!(idxs[..3], [2, 70, 99]);
        assert!(l.contains(1) && !l.contains(2) && !l.contains(70) && !l.contains(99));
    }

    #[test]
    fn a_cursor_keeps_every_change_across_words() {
        let mut l = Ledger::new(200);
        {
            let mut c = l.cursor();
            assert!(c.insert(5) && c.insert(6) && !c.insert(5), "a repeat within the held word is refused");
            assert!(c.insert(130) && c.insert(64) && c.insert(7), "other words, and back");
            assert!(!c.insert(130) && !c.insert(200), "a repeat after moving away; out of range");
            assert!(c.remove(6) && !c.remove(6) && !c.remove(199));
        }
        let mut seen = Vec::new();
        l.drain(|i| seen.push(i));
        assert_eq!(seen, [5, 7, 64, 130], "every change made through the cursor is in the ledger");
        let mut empty = Ledger::new(0);
        assert!(!empty.cursor().insert(0), "an empty ledger refuses every index");
    }
}
