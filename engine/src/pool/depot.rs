//! The pool's shared free list: a lock-free Treiber stack of *magazines*.
//!
//! A magazine is itself a free buffer whose memory holds `[count, idx_1 .. idx_count]`, the indices of up
//! to `mag_entries` other free buffers. Moving a magazine costs one CAS however many buffers it carries, and
//! needs no memory beyond the free buffers themselves, so the per-lcore caches refill and flush in bulk
//! (DPDK's mempool cache) without a lock. The head carries a 32-bit tag bumped on every change, which
//! defeats ABA.

use crate::primitive::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use crossbeam_utils::CachePadded;

/// No buffer: end of a chain, empty stack.
pub(crate) const NIL: u32 = u32::MAX;

/// Most buffer indices one magazine records besides itself.
pub(crate) const MAG_ENTRIES_MAX: usize = 63;

pub(crate) struct Depot {
    /// `tag << 32 | index of the top magazine` (`NIL` when empty).
    head: CachePadded<AtomicU64>,
    /// Buffers (magazines and their entries) currently in the depot.
    free: CachePadded<AtomicUsize>,
    /// `links[m]`: the magazine below magazine `m`.
    links: Box<[AtomicU32]>,
    /// Buffer indices a magazine records besides itself.
    mag_entries: usize,
}

/// Where magazine contents live: the pool's buffer memory.
pub(crate) trait MagazineMemory {
    /// Pointer to the first 4-byte word of buffer `idx`; valid for `1 + mag_entries` words.
    fn words(&self, idx: u32) -> *mut u32;
}

impl Depot {
    pub(crate) fn new(count: usize, buf_size: usize) -> Depot {
        Depot {
            head: CachePadded::new(AtomicU64::new(u64::from(NIL))),
            free: CachePadded::new(AtomicUsize::new(0)),
            links: (0..count).map(|_| AtomicU32::new(NIL)).collect(),
            mag_entries: (buf_size / 4 - 1).min(MAG_ENTRIES_MAX),
        }
    }

    /// Buffers moved by one magazine at most.
    pub(crate) fn mag_size(&self) -> usize {
        self.mag_entries + 1
    }

    /// Buffers in the depot (exact when no push or pop is in flight).
    pub(crate) fn free(&self) -> usize {
        self.free.load(Ordering::Relaxed)
    }

    /// Pushes free buffers, packed into as few magazines as possible.
    ///
    /// The caller must own every index in `idxs` (each is free, and held nowhere else).
    pub(crate) fn push(&self, mem: &impl MagazineMemory, idxs: &[u32]) {
        for mag in idxs.chunks(self.mag_size()) {
            let top = mag[0];
            let entries = &mag[1..];
            let words = mem.words(top);
            // SAFETY: the caller owns buffer `top`, so nobody else reads or writes its memory, and `words` is
            // valid for 1 + mag_entries >= 1 + entries.len() words.
            unsafe {
                words.write(entries.len() as u32);
                core::ptr::copy_nonoverlapping(entries.as_ptr(), words.add(1), entries.len());
            }
            let mut head = self.head.load(Ordering::Relaxed);
            loop {
                self.links[top as usize].store(head as u32, Ordering::Relaxed);
                let new = ((head >> 32).wrapping_add(1) << 32) | u64::from(top);
                match self.head.compare_exchange_weak(head, new, Ordering::AcqRel, Ordering::Relaxed) {
                    Ok(_) => break,
                    Err(seen) => head = seen,
                }
            }
            self.free.fetch_add(mag.len(), Ordering::Relaxed);
        }
    }

    /// Pops one magazine into `out` and returns how many buffers it carried (0 when the depot is empty).
    /// `out` must hold at least [`Depot::mag_size`] entries.
    pub(crate) fn pop(&self, mem: &impl MagazineMemory, out: &mut [u32]) -> usize {
        debug_assert!(out.len() >= self.mag_size());
        let mut head = self.head.load(Ordering::Acquire);
        let top = loop {
            let top = head as u32;
            if top == NIL {
                return 0;
            }
            // May read a stale link if `top` was popped meanwhile; the tag makes the CAS fail then.
            let below = self.links[top as usize].load(Ordering::Relaxed);
            let new = ((head >> 32).wrapping_add(1) << 32) | u64::from(below);
            match self.head.compare_exchange_weak(head, new, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => break top,
                Err(seen) => head = seen,
            }
        };
        let words = mem.words(top);
        // SAFETY: the successful CAS made us the only owner of magazine `top`; its contents were written
        // before the Release CAS that pushed it, which our AcqRel CAS synchronises with. `count` was written
        // by `push` as at most mag_entries, so the copy stays inside the buffer and inside `out`.
        let count = unsafe {
            let count = (words.read() as usize).min(self.mag_entries);
            core::ptr::copy_nonoverlapping(words.add(1), out.as_mut_ptr().add(1), count);
            count
        };
        out[0] = top;
        self.free.fetch_sub(count + 1, Ordering::Relaxed);
        count + 1
    }
}
