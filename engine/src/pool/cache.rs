//! Which cell a thread uses for a pool: a thread-local table indexed by pool id, so a packet dropped
//! anywhere returns to the dropping thread's cache without naming it.
//!
//! The table holds the pool weakly: a cache never keeps a pool alive. A `Weak` also keeps the pool's
//! allocation (not its memory) from being reused, so comparing addresses tells a slot's pool from a newer
//! pool under the same id. When a thread exits, or finds its slot's pool gone, it retires the cell: what the
//! cell held goes back to the depot (if the pool still lives) and the pool is released if that was all it
//! waited for. A pool that retires first steals the cell itself ([`super::cell`]).
//!
//! Operations on a pool whose cell is gone (stolen, or the thread being torn down) take the uncached path
//! straight to the depot, holding a strong count for their duration so the pool cannot be released under
//! them.

use super::cell::CacheCell;
use super::registry::{release, upgrade};
use super::{PoolInner, MAX_BULK};
use std::cell::RefCell;
use std::sync::{Arc, Weak};

struct Slot {
    pool: Weak<PoolInner>,
    cell: Arc<CacheCell>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let Some(pool) = self.pool.upgrade() else { return };
        // SAFETY: the cell caches buffers of this pool only.
        if unsafe { self.cell.retire(&pool.depot, &*pool) } {
            pool.forget_cell(&self.cell);
        }
        release(pool);
    }
}

thread_local! {
    static SLOTS: RefCell<Vec<Option<Slot>>> = const { RefCell::new(Vec::new()) };
}

/// A new slot for `pool`, or `None` when the pool no longer hands out cells (retired).
#[cold]
fn new_slot(pool: &PoolInner) -> Option<Slot> {
    // SAFETY: callers hold a buffer of `pool` or a `Pool` handle, which keeps it registered.
    let strong = unsafe { upgrade(pool) };
    let slot = strong.new_cell().map(|cell| Slot { pool: Arc::downgrade(&strong), cell });
    release(strong);
    slot
}

/// Runs `f` on the calling thread's cell for `pool`, held for the call, creating it on first use. `None`
/// when there is no cell to use: the pool retired it, or the thread is being torn down.
#[inline]
fn with_cell<R>(pool: &PoolInner, f: impl FnOnce(&mut super::cell::Held<'_>) -> R) -> Option<R> {
    SLOTS
        .try_with(|slots| {
            let mut slots = slots.try_borrow_mut().ok()?;
            let id = pool.id as usize;
            if slots.len() <= id {
                slots.resize_with(id + 1, || None);
            }
            let slot = &mut slots[id];
            if !matches!(slot, Some(s) if std::ptr::eq(s.pool.as_ptr(), pool)) {
                // Replacing a slot of an older pool under this id retires its cell (Slot's drop).
                *slot = new_slot(pool);
            }
            // SAFETY: the slot is this thread's own (a thread local), so this thread owns its cell; the
            // `RefCell` borrow above refuses a nested call, so no other `Held` of it is alive.
            let mut held = unsafe { slot.as_ref()?.cell.enter()? };
            Some(f(&mut held))
        })
        .ok()
        .flatten()
}

/// Creates the calling thread's cell for `pool` now, if it has none (setup path: allocates).
pub(crate) fn prepare(pool: &PoolInner) {
    let _ = with_cell(pool, |_| ());
}

/// Takes `n` buffers and hands their indices to `take` (where they lie in the cache when there is one): all
/// or nothing; false, not counted, when the pool cannot supply them (the caller decides whether that was
/// a failure). `take` must use no pool's cache: the calling thread's table of cells is borrowed while it
/// runs, so a pool operation inside it would take the slow uncached path (correct, but slow).
#[inline]
pub(crate) fn get_bulk_with(pool: &PoolInner, n: usize, take: impl FnOnce(&[u32])) -> bool {
    if n == 0 {
        return true;
    }
    if n > MAX_BULK {
        return false;
    }
    // Whichever path supplies the buffers calls `take`, once.
    let mut take = Some(take);
    let mut hand_over = |idxs: &[u32]| take.take().map_or((), |f| f(idxs));
    // SAFETY: the cell caches buffers of `pool` only; `hand_over` enters no cell (the table is borrowed:
    // `with_cell` inside it finds none) and is as short as its caller's `take`.
    with_cell(pool, |held| unsafe { held.get_with(&pool.depot, pool, n, &mut hand_over) })
        .unwrap_or_else(|| get_uncached(pool, n, &mut hand_over))
}

/// Returns buffers to the calling thread's cell, or to the depot when it has none.
///
/// # Safety
/// Every index is a buffer of `pool` that the caller owns and gives up, returned once.
pub(crate) unsafe fn put_bulk(pool: &PoolInner, idxs: &[u32]) {
    for chunk in idxs.chunks(MAX_BULK) {
        // SAFETY: forwarded contract.
        unsafe { put_bulk_with(pool, chunk.len(), |slots| slots.copy_from_slice(chunk)) };
    }
}

/// Returns `n` buffers (at most [`MAX_BULK`]) whose indices `fill` writes: into the calling thread's cell
/// where they will lie, or through a copy to the depot when it has none.
///
/// # Safety
/// `fill` writes, in each of the `n` slots it is given, a buffer of `pool` that the caller owns and gives
/// up, each once. It must use no pool's cache, as for [`get_bulk_with`], and be short (no lock, wait or
/// syscall: a pool retiring waits for it).
#[inline]
pub(crate) unsafe fn put_bulk_with(pool: &PoolInner, n: usize, fill: impl FnOnce(&mut [u32])) {
    assert!(n <= MAX_BULK, "at most MAX_BULK buffers per call");
    // Whichever path takes the buffers calls `fill`, once.
    let mut fill = Some(fill);
    let mut write = |slots: &mut [u32]| fill.take().map_or((), |f| f(slots));
    // SAFETY: forwarded contract.
    if with_cell(pool, |held| unsafe { held.put_with(&pool.depot, pool, n, &mut write) }).is_none() {
        // SAFETY: forwarded contract.
        unsafe { put_uncached(pool, n, &mut write) };
    }
}

/// Returns the `n` buffers `fill` names straight to the depot, then releases the pool if they were the
/// last it waited for.
///
/// # Safety
/// As for [`put_bulk_with`].
#[cold]
unsafe fn put_uncached(pool: &PoolInner, n: usize, fill: &mut dyn FnMut(&mut [u32])) {
    if n == 0 {
        return;
    }
    let mut idxs = [0u32; MAX_BULK];
    fill(&mut idxs[..n]);
    // SAFETY: we still own the `n` (at least one) buffers of the pool being given back, which keeps it
    // registered.
    let held = unsafe { upgrade(pool) };
    // SAFETY: forwarded contract.
    unsafe { held.depot.push(pool, &idxs[..n]) };
    release(held);
}

/// Allocation without a cell: `n` buffers straight from the depot, handed to `take`; all or nothing.
#[cold]
fn get_uncached(pool: &PoolInner, n: usize, take: &mut dyn FnMut(&[u32])) -> bool {
    // SAFETY: the caller holds a buffer or a handle of the pool, which keeps it registered.
    let held = unsafe { upgrade(pool) };
    let mut buf = [0u32; MAX_BULK + super::depot::MAG_ENTRIES_MAX + 1];
    let mut have = 0;
    let ok = loop {
        if have >= n {
            break true;
        }
        // SAFETY: the depot holds this pool's buffers; buf has room for a magazine past `have`.
        let got = unsafe { held.depot.pop(pool, &mut buf[have..]) };
        if got == 0 {
            break false;
        }
        have += got;
    };
    let keep = if ok { n } else { 0 };
    if ok {
        take(&buf[..keep]);
    }
    // SAFETY: the buffers past `keep` came from the depot just now and go back once.
    unsafe { held.depot.push(pool, &buf[keep..have]) };
    release(held);
    ok
}

/// Flushes the calling thread's cell for `pool` back to the depot (the cell stays).
pub(crate) fn flush_thread_cache(pool: &PoolInner) {
    // SAFETY: the cell caches buffers of `pool` only.
    with_cell(pool, |held| unsafe { held.flush_to(&pool.depot, pool, 0) });
}
