//! The pool's shared free list: a lock-free Treiber stack of *magazines*.
//!
//! A magazine is itself a free buffer whose memory holds `[count, idx_1 .. idx_count]`, the indices of up
//! to `mag_entries` other free buffers. Moving a magazine costs one CAS however many buffers it carries, and
//! needs no memory beyond the free buffers themselves, so the per-lcore caches refill and flush in bulk
//! (DPDK's mempool cache) without a lock. The head carries a 39-bit tag bumped on every change, which
//! defeats ABA: a thread stalled between reading the head and its CAS would have to sleep through 2^39
//! magazine moves (hours at any rate a pool sees) for the tag to come round.
//!
//! Moving a magazine between cores is bounded by cross-core cache-line transfers (hundreds of nanoseconds
//! each on the shared test machine), so the depot keeps them few: no shared counter (each magazine records
//! how many buffers the stack holds from it down, and the count is read off the top magazine), the head
//! is read for ownership before its CAS, and a pop prefetches the magazine's contents before its CAS.

use crate::primitive::{AtomicU32, AtomicU64, Ordering};
use crossbeam_utils::CachePadded;

/// No magazine: the stack is empty.
const NIL: u32 = super::buflet::NIL;

/// Bits of the head word that name the top magazine; the rest is the tag. Pools hold at most 2^24
/// buffers, so 25 bits name each of them and `NIL` (all ones).
const TOP_BITS: u32 = 25;
/// The top magazine's bits of the head word.
const TOP_MASK: u64 = (1 << TOP_BITS) - 1;

/// The top magazine named by head word `head` (`NIL` when empty).
#[inline(always)]
fn top_of(head: u64) -> u32 {
    match head & TOP_MASK {
        TOP_MASK => NIL,
        top => top as u32,
    }
}

/// The head word after `head` with `top` on top: its tag bumped.
#[inline(always)]
fn next_head(head: u64, top: u32) -> u64 {
    ((head >> TOP_BITS).wrapping_add(1) << TOP_BITS) | (u64::from(top) & TOP_MASK)
}

/// Most buffer indices one magazine records besides itself: a magazine carries up to 256 buffers, the
/// default cache size, so a cache usually refills or flushes with one magazine (fewer magazine moves per
/// buffer; see `cache::Cache::flush`).
pub(crate) const MAG_ENTRIES_MAX: usize = 255;

pub(crate) struct Depot {
    /// `tag << TOP_BITS | index of the top magazine` ([`top_of`], [`next_head`]).
    head: CachePadded<AtomicU64>,
    /// `links[m]`: the magazine below magazine `m`.
    links: Box<[AtomicU32]>,
    /// `depths[m]`: buffers (magazines and entries) in the stack from magazine `m` down to the bottom. Only
    /// the pusher writes it and only `push` and `free` read it, so poppers never touch its cache lines.
    depths: Box<[AtomicU32]>,
    /// Buffer indices a magazine records besides itself.
    mag_entries: usize,
}

/// Where magazine contents live: the pool's buffer memory.
pub(crate) trait MagazineMemory {
    /// Pointer to the first 4-byte word of buffer `idx`; valid for `1 + mag_entries` words.
    ///
    /// # Safety
    /// `idx` is a buffer of this memory.
    unsafe fn words(&self, idx: u32) -> *mut u32;
}

impl Depot {
    pub(crate) fn new(count: usize, buf_size: usize) -> Depot {
        assert!((count as u64) < TOP_MASK, "a buffer index fits the head's {TOP_BITS} bits, NIL apart");
        Depot {
            head: CachePadded::new(AtomicU64::new(TOP_MASK)),
            links: (0..count).map(|_| AtomicU32::new(NIL)).collect(),
            depths: (0..count).map(|_| AtomicU32::new(0)).collect(),
            mag_entries: (buf_size / 4 - 1).min(MAG_ENTRIES_MAX),
        }
    }

    /// Buffers moved by one magazine at most.
    pub(crate) fn mag_size(&self) -> usize {
        self.mag_entries + 1
    }

    /// Buffers in the depot (exact when no push or pop is in flight).
    pub(crate) fn free(&self) -> usize {
        self.depth(top_of(self.head.load(Ordering::Acquire)))
    }

    /// Whether the depot looked empty at a plain load: a poller that most often finds nothing checks this
    /// before [`Depot::pop`], whose read-for-update is a locked instruction that waits for every store the
    /// core has pending (on a driver's path, stores to lines the other core holds).
    #[inline]
    pub(crate) fn looks_empty(&self) -> bool {
        top_of(self.head.load(Ordering::Relaxed)) == NIL
    }

    /// Buffers in the stack from magazine `top` down (0 for `NIL`). Only meaningful while `top` is in the
    /// stack; a stale answer is caught by the head's tag.
    #[inline]
    fn depth(&self, top: u32) -> usize {
        if top == NIL {
            return 0;
        }
        self.depths[top as usize].load(Ordering::Relaxed) as usize
    }

    /// Reads the head (Acquire) with a read-modify-write that leaves it unchanged, so the cache line
    /// arrives owned: unless another thread touches the head meanwhile, the CAS that follows needs no
    /// second transfer from the other core.
    #[inline]
    fn load_head_for_update(&self) -> u64 {
        // Any expected value works: on a match the CAS stores the same value back.
        let guess = TOP_MASK;
        match self.head.compare_exchange(guess, guess, Ordering::Acquire, Ordering::Acquire) {
            Ok(head) | Err(head) => head,
        }
    }

    /// Pushes free buffers, packed into as few magazines as possible.
    ///
    /// # Safety
    /// Every index in `idxs` is a buffer of `mem` (whose buffers this depot was made for) that the caller
    /// owns and gives up: free, held nowhere else, pushed once.
    pub(crate) unsafe fn push(&self, mem: &impl MagazineMemory, idxs: &[u32]) {
        for mag in idxs.chunks(self.mag_size()) {
            let top = mag[0];
            let entries = &mag[1..];
            // SAFETY: `top` is a buffer of `mem` (contract).
            let words = unsafe { mem.words(top) };
            // SAFETY: the caller owns buffer `top`, so nobody else reads or writes its memory, and `words` is
            // valid for 1 + mag_entries >= 1 + entries.len() words.
            unsafe {
                words.write(entries.len() as u32);
                core::ptr::copy_nonoverlapping(entries.as_ptr(), words.add(1), entries.len());
            }
            // Acquire: the depth read below must be the one published with `below`.
            let mut head = self.load_head_for_update();
            loop {
                let below = top_of(head);
                // If `below` leaves the stack meanwhile, the tag makes the CAS fail and we read again.
                let depth = self.depth(below) + mag.len();
                self.depths[top as usize].store(depth as u32, Ordering::Relaxed);
                self.links[top as usize].store(below, Ordering::Relaxed);
                let new = next_head(head, top);
                match self.head.compare_exchange_weak(head, new, Ordering::AcqRel, Ordering::Acquire) {
                    Ok(_) => break,
                    Err(seen) => head = seen,
                }
            }
        }
    }

    /// Starts fetching the top magazine's contents, for a pop expected soon: written by another core, they
    /// would otherwise arrive only when the pop copies them, and the buffers it hands out wait for them.
    /// Only a hint: the top may change before the pop. It reads the head shared, one more transfer of that
    /// line than the pop's own read for ownership; once per magazine, that costs less than the wait it
    /// saves (measured: private txonly and the input thread 1.5-2.7% faster, nothing slower).
    ///
    /// # Safety
    /// As for [`Depot::pop`].
    #[inline]
    pub(crate) unsafe fn prefetch_top(&self, mem: &impl MagazineMemory) {
        let top = top_of(self.head.load(Ordering::Relaxed));
        if top != NIL {
            // SAFETY: every index in the stack is a buffer of `mem` (push's contract); a stale `top` was one
            // too, and a prefetch never faults.
            crate::prefetch::read(unsafe { mem.words(top) }.cast(), 4 * (1 + self.mag_entries));
        }
    }

    /// Pops one magazine into `out` and returns how many buffers it carried (0 when the depot is empty);
    /// they are the caller's now.
    ///
    /// # Safety
    /// `mem` is the memory whose buffers this depot holds (so magazine indices name its buffers).
    ///
    /// # Panics
    /// If `out` holds fewer than [`Depot::mag_size`] entries.
    pub(crate) unsafe fn pop(&self, mem: &impl MagazineMemory, out: &mut [u32]) -> usize {
        assert!(out.len() >= self.mag_size(), "a pop needs room for a whole magazine");
        let mut head = self.load_head_for_update();
        let (top, below) = loop {
            let top = top_of(head);
            if top == NIL {
                return 0;
            }
            // Start fetching the magazine's contents now: they are most likely in another core's cache, and
            // the copy cannot begin before the CAS. Only a hint; a stale `top` costs a wasted fetch.
            // SAFETY: every index in the stack is a buffer of `mem` (push's contract).
            crate::prefetch::read(unsafe { mem.words(top) }.cast(), 4 * (1 + self.mag_entries));
            // May read a stale link if `top` was popped meanwhile; the tag makes the CAS fail then.
            let below = self.links[top as usize].load(Ordering::Relaxed);
            let new = next_head(head, below);
            match self.head.compare_exchange_weak(head, new, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => break (top, below),
                Err(seen) => head = seen,
            }
        };
        if below != NIL {
            // The next pop most likely takes the magazine below, written by another core long ago: start
            // fetching its contents now, so that they are here by then instead of stalling the first use of
            // the buffers it hands out. Only a hint; another thread may take it first.
            // SAFETY: links hold buffers of `mem` (or NIL).
            crate::prefetch::read(unsafe { mem.words(below) }.cast(), 4 * (1 + self.mag_entries));
        }
        // SAFETY: as above.
        let words = unsafe { mem.words(top) };
        // SAFETY: the successful CAS made us the only owner of magazine `top`; its contents were written
        // before the Release CAS that pushed it, which our AcqRel CAS synchronises with. `count` was written
        // by `push` as at most mag_entries, so the copy stays inside the buffer and inside `out`.
        let count = unsafe {
            let count = (words.read() as usize).min(self.mag_entries);
            core::ptr::copy_nonoverlapping(words.add(1), out.as_mut_ptr().add(1), count);
            count
        };
        out[0] = top;
        count + 1
    }
}

/// Buffer memory for loom models of the depot and the cache cells, plus an ownership flag per buffer that
/// the test itself keeps: set when a thread takes a buffer out of the depot, cleared when it gives it back.
/// The flags are plain std atomics: loom runs one thread at a time, so they add no interleavings of their
/// own.
#[cfg(all(test, loom))]
pub(crate) mod test_mem {
    use super::{Depot, MagazineMemory};
    use std::sync::atomic::{AtomicBool, Ordering};

    pub(crate) struct TestMem {
        words: Box<[core::cell::UnsafeCell<u32>]>,
        owned: Box<[AtomicBool]>,
    }

    // SAFETY: a buffer's words are only touched by the thread that owns the buffer (the property under
    // test; the ownership flags check it), so sharing the memory between threads is sound.
    unsafe impl Sync for TestMem {}
    // SAFETY: as above.
    unsafe impl Send for TestMem {}

    impl MagazineMemory for TestMem {
        unsafe fn words(&self, idx: u32) -> *mut u32 {
            self.words[idx as usize * (Self::BUF_SIZE / 4)].get()
        }
    }

    impl TestMem {
        /// Buffers in the model pool.
        pub(crate) const COUNT: usize = 6;
        /// Bytes per buffer: 3 words, so a magazine carries itself and 2 entries.
        pub(crate) const BUF_SIZE: usize = 12;

        pub(crate) fn new() -> TestMem {
            TestMem {
                words: (0..Self::COUNT * Self::BUF_SIZE / 4).map(|_| core::cell::UnsafeCell::new(0)).collect(),
                owned: (0..Self::COUNT).map(|_| AtomicBool::new(false)).collect(),
            }
        }

        /// The buffers become the caller's; each must have been free.
        pub(crate) fn take(&self, idxs: &[u32]) {
            for &i in idxs {
                assert!((i as usize) < Self::COUNT, "index {i} out of range");
                assert!(!self.owned[i as usize].swap(true, Ordering::Relaxed), "buffer {i} owned twice");
            }
        }

        /// The caller gives the buffers up.
        pub(crate) fn give(&self, idxs: &[u32]) {
            for &i in idxs {
                assert!(self.owned[i as usize].swap(false, Ordering::Relaxed), "buffer {i} given back unowned");
            }
        }

        /// After the threads are done: the depot holds every buffer exactly once, and says so. Drains it.
        pub(crate) fn check_all_free(&self, depot: &Depot) {
            assert_eq!(depot.free(), Self::COUNT, "depot count after all threads returned their buffers");
            let mut seen = Vec::new();
            loop {
                let mut out = [u32::MAX; 3];
                // SAFETY: the depot holds this memory's buffers; out holds a magazine.
                let n = unsafe { depot.pop(self, &mut out) };
                if n == 0 {
                    break;
                }
                self.take(&out[..n]);
                seen.extend_from_slice(&out[..n]);
            }
            seen.sort_unstable();
            assert_eq!(seen, (0..Self::COUNT as u32).collect::<Vec<_>>(), "every buffer exactly once");
            assert_eq!(depot.free(), 0);
        }
    }
}

/// Model checks of the depot under loom (`RUSTFLAGS="--cfg loom" cargo test -p pktloop-engine --release
/// --lib loom`): threads popping and pushing magazines concurrently, including a pop that sleeps between
/// reading the head and its CAS while another thread pops and pushes the same magazine back (ABA).
#[cfg(all(test, loom))]
mod loom_tests {
    use super::test_mem::TestMem;
    use super::*;
    use loom::sync::Arc;
    use loom::thread;

    const COUNT: usize = TestMem::COUNT;
    const BUF_SIZE: usize = TestMem::BUF_SIZE;

    /// A depot holding every buffer, in magazines of 3.
    fn full_depot() -> (Arc<Depot>, Arc<TestMem>) {
        let mem = Arc::new(TestMem::new());
        let depot = Depot::new(COUNT, BUF_SIZE);
        assert_eq!(depot.mag_size(), 3);
        let all: Vec<u32> = (0..COUNT as u32).collect();
        // SAFETY: every buffer, once.
        unsafe { depot.push(&*mem, &all) };
        assert_eq!(depot.free(), COUNT);
        (Arc::new(depot), mem)
    }

    /// Pops one magazine; the buffers it carried become the caller's.
    fn pop(depot: &Depot, mem: &TestMem) -> Vec<u32> {
        let mut out = [NIL; 3];
        // SAFETY: the depot holds this memory's buffers; out holds a magazine.
        let n = unsafe { depot.pop(mem, &mut out) };
        mem.take(&out[..n]);
        out[..n].to_vec()
    }

    fn push(depot: &Depot, mem: &TestMem, idxs: &[u32]) {
        mem.give(idxs);
        // SAFETY: the buffers were taken from this depot and are given back once.
        unsafe { depot.push(mem, idxs) };
    }

    /// Two threads each pop a magazine and push it back, twice; the main thread checks the result.
    #[test]
    fn loom_depot_two_threads_pop_and_push() {
        let mut builder = loom::model::Builder::new();
        builder.preemption_bound = Some(3);
        builder.check(|| {
            let (depot, mem) = full_depot();
            let workers: Vec<_> = (0..2)
                .map(|_| {
                    let (depot, mem) = (depot.clone(), mem.clone());
                    thread::spawn(move || {
                        for _ in 0..2 {
                            let got = pop(&depot, &mem);
                            assert!(!got.is_empty(), "two magazines for two threads");
                            push(&depot, &mem, &got);
                        }
                    })
                })
                .collect();
            for w in workers {
                w.join().unwrap();
            }
            mem.check_all_free(&depot);
        });
    }

    /// ABA: one thread pops a magazine; the other pops two and pushes the first back, so the same
    /// magazine is on top again with a different one below it. A pop whose CAS compared only the index
    /// would install a stale link and hand a buffer out twice.
    #[test]
    fn loom_depot_aba_is_caught_by_the_tag() {
        let mut builder = loom::model::Builder::new();
        builder.preemption_bound = Some(3);
        builder.check(|| {
            let (depot, mem) = full_depot();
            let (d1, m1) = (depot.clone(), mem.clone());
            let popper = thread::spawn(move || {
                let got = pop(&d1, &m1);
                if !got.is_empty() {
                    push(&d1, &m1, &got);
                }
            });
            let (d2, m2) = (depot.clone(), mem.clone());
            let shuffler = thread::spawn(move || {
                let a = pop(&d2, &m2);
                let b = pop(&d2, &m2);
                push(&d2, &m2, &a);
                push(&d2, &m2, &b);
            });
            popper.join().unwrap();
            shuffler.join().unwrap();
            mem.check_all_free(&depot);
        });
    }

    /// Three threads: one splits its magazine into single-buffer magazines while two others pop and push.
    #[test]
    fn loom_depot_three_threads_with_repacking() {
        let mut builder = loom::model::Builder::new();
        builder.preemption_bound = Some(3);
        builder.check(|| {
            let (depot, mem) = full_depot();
            let threads: Vec<_> = (0..3)
                .map(|t| {
                    let (depot, mem) = (depot.clone(), mem.clone());
                    thread::spawn(move || {
                        let got = pop(&depot, &mem);
                        if t == 0 {
                            for i in &got {
                                push(&depot, &mem, std::slice::from_ref(i));
                            }
                        } else if !got.is_empty() {
                            push(&depot, &mem, &got);
                        }
                    })
                })
                .collect();
            for t in threads {
                t.join().unwrap();
            }
            mem.check_all_free(&depot);
        });
    }
}

#[cfg(all(test, not(loom)))]
mod head_tests {
    use super::*;

    #[test]
    fn the_head_word_names_its_top_and_bumps_its_tag() {
        let empty = TOP_MASK;
        assert_eq!(top_of(empty), NIL);
        let largest = (1u32 << 24) - 1; // the last buffer of the largest pool
        let one = next_head(empty, largest);
        assert_eq!(top_of(one), largest);
        assert_eq!(one >> TOP_BITS, 1, "the tag counts changes");
        assert_eq!(top_of(next_head(one, NIL)), NIL, "NIL round-trips");
        assert_ne!(next_head(one, 7), next_head(next_head(next_head(one, 7), 9), 7), "ABA: same top, new tag");
        let last_tag = !TOP_MASK;
        let wrapped = next_head(last_tag | 5, 5);
        assert_eq!((top_of(wrapped), wrapped >> TOP_BITS), (5, 0), "the tag wraps without touching the top");
    }
}
