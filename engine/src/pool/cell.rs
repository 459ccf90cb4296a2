//! One thread's cache of one pool (DPDK's per-lcore mempool cache): a stack of free buffer indices,
//! refilled from and flushed to the shared [`Depot`] a whole magazine at a time.
//!
//! A cell belongs to its thread, but the pool can take it back: when the pool retires (its last handle is
//! dropped) it *steals* every cell, so that buffers cached by threads that never touch the pool again come
//! home and the pool's memory and id can be released. The owner and the stealer agree through two flags,
//! as in Dekker's algorithm, with an asymmetric barrier ([`crate::barrier`]) so that the owner's side has
//! no locked instruction:
//!
//! - the owner sets `busy` (a plain store), passes the light barrier, and checks `dead`: if set, it clears
//!   `busy` and takes the uncached path (it never waits); otherwise it works and clears `busy` with a
//!   Release store;
//! - the stealer sets `dead` (a swap, so that of two stealers one wins), passes the heavy barrier, and
//!   waits while `busy` is set (an operation is a bounded copy, or a caller's closure over the indices
//!   that is as short: no lock, allocation or syscall).
//!
//! The barriers make sure that at least one side sees the other's flag: either the owner sees `dead` and
//! stays out, or the stealer sees `busy` and waits for the owner's Release, after which the stack is the
//! stealer's.

use super::depot::{Depot, MagazineMemory};
use super::MAX_BULK;
use crate::barrier;
use crate::primitive::{spin_hint, AtomicBool, AtomicUsize, Ordering, UnsafeCell};

/// The cached indices; only touched by whoever holds the cell (the owner while `busy` and not `dead`, the
/// stealer once it set `dead` and saw `busy` clear).
struct Stack {
    /// The indices' slots between two guards of [`GUARD_WORDS`].
    store: Box<[u32]>,
    len: usize,
}

/// Unused words on each side of a stack's slots. The stack is written on every get and put, and what the
/// heap puts next to it may belong to another thread (a ring, a port, another thread's cell): neither end
/// may share a cache line with that, nor the line next to it, which the CPU fetches in pairs. (Guards by
/// hand, not `CachePadded`: the stack's length is known only at run time.)
const GUARD_WORDS: usize = 32;

impl Stack {
    fn with_slots(n: usize) -> Stack {
        Stack { store: vec![0; GUARD_WORDS + n + GUARD_WORDS].into_boxed_slice(), len: 0 }
    }

    #[inline]
    fn objs(&mut self) -> &mut [u32] {
        let end = self.store.len() - GUARD_WORDS;
        &mut self.store[GUARD_WORDS..end]
    }
}

/// Aligned to a pair of cache lines for the reason of [`GUARD_WORDS`]: the owner writes `busy`, `published`
/// and the stack's length on every operation.
#[repr(align(128))]
pub(crate) struct CacheCell {
    /// Set by the owner for the duration of one operation.
    busy: AtomicBool,
    /// Set once, by whoever takes the cell for good.
    dead: AtomicBool,
    /// `Stack::len` as last published, for [`super::Pool::in_use`] (may lag, never counts a buffer twice).
    published: AtomicUsize,
    stack: UnsafeCell<Stack>,
    /// Level a refill aims for and a flush returns to.
    size: usize,
    /// Above this a put flushes down to `size`.
    flush_at: usize,
}

// SAFETY: the stack is only touched by the one thread that holds the cell: the owner between setting and
// clearing `busy` while `dead` is clear, or the stealer once it set `dead` and saw `busy` clear (Acquire,
// pairing with the owner's Release); everything else is atomic.
unsafe impl Sync for CacheCell {}
// SAFETY: as above.
unsafe impl Send for CacheCell {}

impl CacheCell {
    /// A cell for a pool whose caches hold `size` buffers and whose magazines carry `mag` (setup path: it
    /// allocates).
    pub(crate) fn new(size: usize, mag: usize) -> CacheCell {
        let flush_at = size + size / 2;
        CacheCell {
            busy: AtomicBool::new(false),
            dead: AtomicBool::new(false),
            published: AtomicUsize::new(0),
            stack: UnsafeCell::new(Stack::with_slots(flush_at + MAX_BULK + mag)),
            size,
            flush_at,
        }
    }

    /// Buffers held, as last published.
    pub(crate) fn cached(&self) -> usize {
        self.published.load(Ordering::Relaxed)
    }

    /// The owner takes the cell for one operation; `None` once it has been stolen.
    ///
    /// # Safety
    /// Only the cell's owner calls this (one thread, the same every time), and never while a [`Held`] it
    /// returned is alive: an inner `Held` leaving would clear `busy` under the outer one, and a retiring
    /// pool could then take the stack while the outer one still works on it.
    #[inline]
    pub(crate) unsafe fn enter(&self) -> Option<Held<'_>> {
        self.busy.store(true, Ordering::Relaxed);
        barrier::light();
        if self.dead.load(Ordering::Relaxed) {
            // Release, as a `Held` leaving does: the stealer's Acquire of `busy` pairs with it.
            self.busy.store(false, Ordering::Release);
            return None;
        }
        Some(Held { cell: self })
    }

    /// Takes the cell for good (the pool retiring, or its owner exiting), waiting while the owner is inside
    /// an operation, and pushes what it held to `depot`. False when somebody else took it first.
    ///
    /// # Safety
    /// Every index the cell holds is a free buffer of `mem`, which `depot` belongs to.
    pub(crate) unsafe fn retire(&self, depot: &Depot, mem: &impl MagazineMemory) -> bool {
        if self.dead.swap(true, Ordering::Acquire) {
            return false;
        }
        barrier::heavy();
        while self.busy.load(Ordering::Acquire) {
            spin_hint();
        }
        let mut held = Held { cell: self };
        // SAFETY: forwarded contract; with `dead` set and `busy` seen clear we are the cell's only user from
        // now on.
        unsafe { held.flush_to(depot, mem, 0) };
        // `held` must not clear `busy`: it was never set by us, and the owner may be checking `dead` now.
        std::mem::forget(held);
        true
    }
}

/// The cell, held for one operation; leaving (drop) hands it back to its owner's next operation.
pub(crate) struct Held<'a> {
    cell: &'a CacheCell,
}

impl Drop for Held<'_> {
    #[inline]
    fn drop(&mut self) {
        self.cell.busy.store(false, Ordering::Release);
    }
}

impl Held<'_> {
    #[inline]
    fn with_stack<R>(&mut self, f: impl FnOnce(&mut Stack) -> R) -> R {
        // SAFETY: holding the cell (the owner after `enter`, or the stealer after `retire`'s wait) makes this
        // the stack's only user, and `&mut self` keeps the reference from escaping this call.
        self.cell.stack.with_mut(|s| f(unsafe { &mut *s }))
    }

    #[inline]
    fn publish(&self, len: usize) {
        self.cell.published.store(len, Ordering::Relaxed);
    }

    /// Takes `n` buffers (at most [`MAX_BULK`]), refilling from `depot` when short: all or nothing. `take`
    /// reads their indices where they lie in the cache, so a caller building handles from them does not
    /// first copy them out (a copy by `memcpy` whose wide stores the handles' narrow loads then wait for).
    /// If `take` unwinds, the buffers it had not yet made its own are lost to the pool, never handed out
    /// twice.
    ///
    /// # Safety
    /// The cell caches buffers of `mem`, which `depot` belongs to. `take` does not enter this cell (the
    /// stack it reads is the cell's) and is short: no lock, wait or syscall, since a stealer waits for it.
    #[inline]
    pub(crate) unsafe fn get_with(
        &mut self,
        depot: &Depot,
        mem: &impl MagazineMemory,
        n: usize,
        take: impl FnOnce(&[u32]),
    ) -> bool {
        debug_assert!(n <= MAX_BULK);
        let have = self.with_stack(|s| s.len);
        if have < n {
            // SAFETY: forwarded contract.
            unsafe { self.refill(depot, mem, n) };
        } else if have < 2 * n {
            // The next take of this size refills: the magazine it will most likely pop starts arriving now.
            // SAFETY: forwarded contract.
            unsafe { depot.prefetch_top(mem) };
        }
        let left = self.with_stack(|s| {
            if s.len < n {
                return None;
            }
            // The length drops before `take` runs: the entries above it are no longer the cache's.
            s.len -= n;
            let len = s.len;
            take(&s.objs()[len..len + n]);
            Some(len)
        });
        match left {
            Some(len) => {
                self.publish(len);
                true
            }
            None => false,
        }
    }

    /// # Safety
    /// The cell caches buffers of `mem`, which `depot` belongs to.
    #[cold]
    unsafe fn refill(&mut self, depot: &Depot, mem: &impl MagazineMemory, n: usize) {
        let want = n + self.cell.size / 2;
        let mag = depot.mag_size();
        loop {
            let got = self.with_stack(|s| {
                if s.len >= want || s.len + mag > s.objs().len() {
                    return None;
                }
                let len = s.len;
                // SAFETY: the slice has room for a whole magazine (checked above); the magazines are `mem`'s.
                let got = unsafe { depot.pop(mem, &mut s.objs()[len..]) };
                s.len += got;
                Some((got, s.len))
            });
            let Some((got, len)) = got else { return };
            if got == 0 {
                return;
            }
            // Published as we go, so that in_use never counts these buffers in both the depot and here.
            self.publish(len);
        }
    }

    /// Returns `n` buffers (at most [`MAX_BULK`]), flushing whole magazines to `depot` when over the limit.
    /// `fill` writes their indices straight into the cache's free slots, so a caller taking handles apart
    /// does not gather them first (a gather of narrow stores that a `memcpy`'s wide loads then wait for).
    /// If `fill` unwinds, what it wrote is not taken back and its buffers are lost to the pool, never handed
    /// out twice.
    ///
    /// # Safety
    /// `fill` writes, in each of the `n` slots it is given, a free buffer of `mem` that the caller gives up,
    /// each once; `depot` belongs to `mem`. `fill` does not enter this cell and is short, as for
    /// [`Held::get_with`].
    #[inline]
    pub(crate) unsafe fn put_with(
        &mut self,
        depot: &Depot,
        mem: &impl MagazineMemory,
        n: usize,
        fill: impl FnOnce(&mut [u32]),
    ) {
        debug_assert!(n <= MAX_BULK);
        // Room: the stack holds flush_at + MAX_BULK + a magazine. Before a put it is at most flush_at (a put
        // above that flushed), or under size / 2 + a magazine after a refill, which can be more when a
        // magazine outweighs the cache (a lent pool's cache of 0): either way `n` more fit.
        let len = self.with_stack(|s| {
            let len = s.len;
            fill(&mut s.objs()[len..len + n]);
            s.len += n;
            s.len
        });
        if len > self.cell.flush_at {
            // SAFETY: forwarded contract.
            unsafe { self.flush(depot, mem, len) };
        } else {
            self.publish(len);
        }
    }

    /// Flushes whole magazines down to between half the cache size and the cache size, or down to the
    /// cache size when no whole magazine fits that window. Each magazine moved between cores costs a few
    /// cross-core cache misses, so full ones carry the most.
    ///
    /// # Safety
    /// As for [`Held::put_with`].
    #[cold]
    unsafe fn flush(&mut self, depot: &Depot, mem: &impl MagazineMemory, len: usize) {
        let (size, mag) = (self.cell.size, depot.mag_size());
        let whole = (len - size / 2) / mag * mag;
        let level = if whole > 0 && len - whole <= size { len - whole } else { size };
        // SAFETY: forwarded contract.
        unsafe { self.flush_to(depot, mem, level) };
    }

    /// Pushes everything above `level` to `depot`.
    ///
    /// # Safety
    /// The cell caches buffers of `mem`, which `depot` belongs to.
    pub(crate) unsafe fn flush_to(&mut self, depot: &Depot, mem: &impl MagazineMemory, level: usize) {
        let top = self.with_stack(|s| s.len);
        if top <= level {
            return;
        }
        // Unpublished before the depot sees them, so in_use may briefly overcount but never undercount.
        self.publish(level);
        self.with_stack(|s| {
            // SAFETY: the indices above `level` are free buffers of `mem` held by this cell (contract).
            unsafe { depot.push(mem, &s.objs()[level..top]) };
            s.len = level;
        });
    }
}

/// Model checks of the owner/stealer hand-off under loom: an owner putting and getting buffers through its
/// cell while the pool retires it from another thread. Every buffer ends in the depot exactly once, and
/// the owner falls back to the uncached path once the cell is dead.
#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use crate::pool::depot::test_mem::TestMem;
    use loom::sync::Arc;
    use loom::thread;

    #[test]
    fn loom_cell_steal_while_the_owner_works() {
        let mut builder = loom::model::Builder::new();
        builder.preemption_bound = Some(3);
        builder.check(|| {
            let mem = Arc::new(TestMem::new());
            let depot = Arc::new(Depot::new(TestMem::COUNT, TestMem::BUF_SIZE));
            let all: Vec<u32> = (0..TestMem::COUNT as u32).collect();
            // SAFETY: the depot starts with every buffer, once.
            unsafe { depot.push(&*mem, &all) };
            // Cache size 2: a put of 3 flushes.
            let cell = Arc::new(CacheCell::new(2, depot.mag_size()));
            let owner = {
                let (cell, depot, mem) = (cell.clone(), depot.clone(), mem.clone());
                thread::spawn(move || {
                    for _ in 0..2 {
                        let mut got = [0u32; 2];
                        // SAFETY: this thread owns the cell, and holds no `Held` of it.
                        let taken = match unsafe { cell.enter() } {
                            // SAFETY: the cell caches buffers of `mem` only.
                            Some(mut held) => unsafe { held.get_with(&depot, &*mem, 2, |s| got.copy_from_slice(s)) },
                            None => {
                                let mut out = [0u32; 3];
                                // SAFETY: out holds a magazine; the buffers become ours.
                                let n = unsafe { depot.pop(&*mem, &mut out) };
                                // SAFETY: returned at once, still free.
                                unsafe { depot.push(&*mem, &out[..n]) };
                                false
                            }
                        };
                        if taken {
                            mem.take(&got);
                            mem.give(&got);
                            // SAFETY: this thread owns the cell; the `Held` above has left.
                            match unsafe { cell.enter() } {
                                // SAFETY: the buffers are free buffers of `mem`, given up here.
                                Some(mut held) => unsafe {
                                    held.put_with(&depot, &*mem, 2, |s| s.copy_from_slice(&got))
                                },
                                // SAFETY: as above, straight to the depot.
                                None => unsafe { depot.push(&*mem, &got) },
                            }
                        }
                    }
                })
            };
            // SAFETY: the cell holds free buffers of `mem` only.
            let stolen = unsafe { cell.retire(&depot, &*mem) };
            assert!(stolen, "nobody else retires this cell");
            owner.join().unwrap();
            // SAFETY: the owner thread has ended; this one is the cell's only user.
            assert!(unsafe { cell.enter() }.is_none(), "a stolen cell stays dead");
            assert_eq!(cell.cached(), 0);
            mem.check_all_free(&depot);
        });
    }
}
