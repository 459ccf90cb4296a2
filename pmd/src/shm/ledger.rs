//! Which buffers are across the boundary: one byte per buffer of a pool, set while the other side has it.
//!
//! A side keeps two: its own buffers lent to the peer (an index the peer gives back is taken only if its
//! entry is set, so a buffer returned twice or never lent is refused, and at the peer's death every set
//! entry is a buffer to take back), and the peer's buffers in its hands (an index the peer sends is taken
//! only if its entry is clear, so the peer cannot hand over one buffer twice).
//!
//! A byte rather than a bit: every packet that crosses goes through two changes on each side, and a byte
//! is changed with a load and a store, where a bit took a shift, a test and a read-modify-write of a word
//! that a burst's neighbouring buffers share (each change waiting on the store before it, unless the word
//! was held in a register across the burst, which cost a branch per change): the shm sender moved 1.10x
//! with bytes (BENCHMARKS.md, shm section).

use std::sync::atomic::{AtomicU32, Ordering};

/// One byte per buffer: 1 while across.
#[derive(Debug)]
pub(super) struct Ledger {
    across: Box<[u8]>,
}

impl Ledger {
    /// All clear, for `count` buffers.
    pub fn new(count: u32) -> Ledger {
        Ledger { across: vec![0; count as usize].into_boxed_slice() }
    }

    /// Buffers in the ledger.
    pub fn count(&self) -> u32 {
        self.across.len() as u32
    }

    /// The entries, for a loop that changes many: it holds where they are in registers, where changing
    /// them through the ledger loads that again after each change (a byte stored may be anything to the
    /// compiler).
    #[inline(always)]
    pub fn entries(&mut self) -> Entries<'_> {
        Entries { across: &mut self.across }
    }

    /// Sets `idx`'s entry; false (and nothing changed) when it is out of range or already set.
    #[inline(always)]
    pub fn insert(&mut self, idx: u32) -> bool {
        self.entries().insert(idx)
    }

    /// Clears `idx`'s entry; false (and nothing changed) when it is out of range or not set.
    #[inline(always)]
    pub fn remove(&mut self, idx: u32) -> bool {
        self.entries().remove(idx)
    }

    /// [`Ledger::insert`] of each index; how many were set (the others were out of range or set already).
    #[inline]
    pub fn insert_each(&mut self, idxs: impl Iterator<Item = u32>) -> usize {
        idxs.map(|idx| usize::from(self.insert(idx))).sum()
    }

    /// [`Ledger::remove`] of each index; how many were cleared (the others were out of range or clear).
    #[inline]
    pub fn remove_each(&mut self, idxs: impl Iterator<Item = u32>) -> usize {
        idxs.map(|idx| usize::from(self.remove(idx))).sum()
    }

    /// [`Ledger::remove`] of each index, keeping in `idxs` (in order, from its start) those that were set;
    /// returns how many. Each index is written back whether kept or not, with no branch on it.
    #[inline]
    pub fn remove_keeping(&mut self, idxs: &mut [u32]) -> usize {
        let mut kept = 0;
        for at in 0..idxs.len() {
            let idx = idxs[at];
            idxs[kept] = idx;
            kept += usize::from(self.remove(idx));
        }
        kept
    }

    /// [`Ledger::remove`] of each index in the ring words `words` (read once each), writing those that were
    /// set into `kept` (in order, from its start); returns how many. For indices on a ring: one pass
    /// where a copy first and [`Ledger::remove_keeping`] after took two.
    ///
    /// # Panics
    /// When `kept` has less room than `words` has indices.
    #[inline]
    pub fn remove_into(&mut self, words: &[AtomicU32], kept: &mut [u32]) -> usize {
        assert!(words.len() <= kept.len(), "room for every index");
        let mut entries = self.entries();
        let mut n = 0;
        for word in words {
            let idx = word.load(Ordering::Relaxed);
            // SAFETY: `n` counts some of the words before this one, so it is below `words.len()`, which is
            // at most `kept.len()` (asserted).
            unsafe { *kept.get_unchecked_mut(n) = idx };
            n += usize::from(entries.remove(idx));
        }
        n
    }

    /// Whether `idx`'s entry is set.
    pub fn contains(&self, idx: u32) -> bool {
        self.across.get(idx as usize).is_some_and(|&e| e != 0)
    }

    /// Clears every entry, calling `f` with each index that was set (in order).
    pub fn drain(&mut self, mut f: impl FnMut(u32)) {
        for (idx, entry) in self.across.iter_mut().enumerate() {
            if std::mem::take(entry) != 0 {
                f(idx as u32);
            }
        }
    }
}

/// A ledger's entries, borrowed (see [`Ledger::entries`]).
pub(super) struct Entries<'a> {
    across: &'a mut [u8],
}

impl Entries<'_> {
    /// [`Ledger::insert`].
    #[inline(always)]
    pub fn insert(&mut self, idx: u32) -> bool {
        let Some(entry) = self.across.get_mut(idx as usize) else { return false };
        // Set either way, with no branch on it.
        let fresh = *entry == 0;
        *entry = 1;
        fresh
    }

    /// [`Ledger::remove`].
    #[inline(always)]
    pub fn remove(&mut self, idx: u32) -> bool {
        let Some(entry) = self.across.get_mut(idx as usize) else { return false };
        let held = *entry != 0;
        *entry = 0;
        held
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
    fn a_run_counts_the_entries_it_changed() {
        let mut l = Ledger::new(100);
        assert_eq!(l.insert_each([3, 70, 3, 100, 99].into_iter()), 3, "a repeat and one out of range refused");
        assert!(l.contains(3) && l.contains(70) && l.contains(99));
        assert_eq!(l.remove_each([70, 70, 5, 99].into_iter()), 2, "a repeat and one never set refused");
        assert!(l.contains(3) && !l.contains(70) && !l.contains(99));
        assert!(!Ledger::new(0).insert(0), "an empty ledger refuses every index");
    }

    #[test]
    fn removing_into_keeps_the_indices_that_were_set_in_order() {
        let mut l = Ledger::new(100);
        l.insert_each([1, 2, 70, 99].into_iter());
        let mut kept = [0; 6];
        let words = [2, 500, 70, 2, 3, 99].map(AtomicU32::new);
        assert_eq!(l.remove_into(&words, &mut kept), 3);
        assert_eq!(kept[..3], [2, 70, 99]);
        assert!(l.contains(1) && !l.contains(2) && !l.contains(70) && !l.contains(99));
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
}
