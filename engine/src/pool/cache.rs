//! Per-thread pool caches (DPDK's per-lcore mempool cache). Each thread keeps, per pool it touches, a stack
//! of free buffer indices; allocation and free are a copy to or from that stack, and only when it runs dry
//! or overflows does the thread move whole magazines to or from the shared [`super::depot`].
//!
//! The caches live in a thread-local table indexed by pool id, so a packet dropped anywhere returns to the
//! dropping thread's cache without naming it. Creating a thread's cache for a pool allocates once (setup);
//! thread exit flushes every cache the thread holds.

use super::depot::Depot;
use super::{release, upgrade, PoolInner, MAX_BULK};
use crossbeam_utils::CachePadded;
use std::cell::RefCell;
use std::mem::ManuallyDrop;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

pub(crate) struct Cache {
    /// Taken out in `drop` to hand to [`release`].
    pool: ManuallyDrop<Arc<PoolInner>>,
    objs: Box<[u32]>,
    len: usize,
    /// Level a refill aims for and a flush returns to.
    size: usize,
    /// Above this a free flushes down to `size`.
    flush_at: usize,
    published: Arc<CachePadded<AtomicUsize>>,
}

impl Cache {
    fn new(pool: Arc<PoolInner>) -> Cache {
        let size = pool.cache_size();
        let flush_at = size + size / 2;
        let mag = pool.depot.mag_size();
        let published = pool.register_cache_len();
        Cache {
            objs: vec![0; flush_at + MAX_BULK + mag].into_boxed_slice(),
            len: 0,
            size,
            flush_at,
            published,
            pool: ManuallyDrop::new(pool),
        }
    }

    #[inline]
    fn publish(&self) {
        self.published.store(self.len, Ordering::Relaxed);
    }

    #[inline]
    fn get(&mut self, out: &mut [u32]) -> bool {
        let n = out.len();
        debug_assert!(n <= MAX_BULK);
        if self.len < n {
            self.refill(n);
            if self.len < n {
                self.pool.count_failure();
                return false;
            }
        }
        let top = self.len;
        out.copy_from_slice(&self.objs[top - n..top]);
        self.len = top - n;
        self.publish();
        true
    }

    #[cold]
    fn refill(&mut self, n: usize) {
        let depot: &Depot = &self.pool.depot;
        let mag = depot.mag_size();
        let want = n + self.size / 2;
        while self.len < want && self.len + mag <= self.objs.len() {
            let got = depot.pop(&**self.pool, &mut self.objs[self.len..]);
            if got == 0 {
                break;
            }
            // Publish as we go so that in_use never counts these buffers twice.
            self.len += got;
            self.publish();
        }
    }

    #[inline]
    fn put(&mut self, idxs: &[u32]) {
        let n = idxs.len();
        debug_assert!(n <= MAX_BULK);
        self.objs[self.len..self.len + n].copy_from_slice(idxs);
        self.len += n;
        if self.len > self.flush_at {
            self.flush();
        }
        self.publish();
    }

    /// Flushes whole magazines down to between half the cache size and the cache size, or down to the cache
    /// size when no whole magazine fits that window. Every magazine moved between threads costs a few
    /// cross-core cache misses, so carrying full ones divides that cost by the most buffers.
    #[cold]
    fn flush(&mut self) {
        let mag = self.pool.depot.mag_size();
        let whole = (self.len - self.size / 2) / mag * mag;
        let level = if whole > 0 && self.len - whole <= self.size { self.len - whole } else { self.size };
        self.flush_to(level);
    }

    #[cold]
    fn flush_to(&mut self, level: usize) {
        if self.len > level {
            let top = self.len;
            self.len = level;
            // Unpublish before the depot sees them, so in_use may briefly overcount but never undercount.
            self.publish();
            self.pool.depot.push(&**self.pool, &self.objs[level..top]);
        }
    }
}

impl Drop for Cache {
    fn drop(&mut self) {
        self.flush_to(0);
        self.pool.unregister_cache_len(&self.published);
        // SAFETY: `pool` is not touched again after this.
        release(unsafe { ManuallyDrop::take(&mut self.pool) });
    }
}

thread_local! {
    static CACHES: RefCell<Vec<Option<Cache>>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` on the calling thread's cache for `pool`, creating it on first use. Returns `None` when the
/// thread is being torn down and its caches are gone.
#[inline]
fn with_cache<R>(pool: &PoolInner, f: impl FnOnce(&mut Cache) -> R) -> Option<R> {
    CACHES
        .try_with(|caches| {
            let mut caches = caches.try_borrow_mut().ok()?;
            let id = pool.id as usize;
            if caches.len() <= id {
                caches.resize_with(id + 1, || None);
            }
            let slot = &mut caches[id];
            match slot {
                Some(c) if std::ptr::eq(Arc::as_ptr(&c.pool), pool) => {}
                _ => {
                    // SAFETY: callers hold a buffer of `pool` or a `Pool` handle, which keeps it registered.
                    *slot = Some(Cache::new(unsafe { upgrade(pool) }));
                }
            }
            slot.as_mut().map(f)
        })
        .ok()
        .flatten()
}

pub(crate) fn get_bulk(pool: &PoolInner, out: &mut [u32]) -> bool {
    if out.is_empty() {
        return true;
    }
    if out.len() > MAX_BULK {
        pool.count_failure();
        return false;
    }
    with_cache(pool, |c| c.get(out)).unwrap_or_else(|| get_uncached(pool, out))
}

/// # Safety
/// Every index must be a buffer of `pool` that the caller owns, returned once.
pub(crate) unsafe fn put_bulk(pool: &PoolInner, idxs: &[u32]) {
    if idxs.is_empty() {
        return;
    }
    if pool.users.load(Ordering::Relaxed) == 0 {
        // SAFETY: forwarded contract.
        unsafe { put_retired(pool, idxs) };
        return;
    }
    for chunk in idxs.chunks(MAX_BULK) {
        if with_cache(pool, |c| c.put(chunk)).is_none() {
            pool.depot.push(pool, chunk);
        }
    }
}

/// Returns buffers to a pool whose handles are all gone. No cache is made for it (a cache would keep the
/// pool alive as long as this thread runs): the thread's old cache is flushed, the buffers go straight to
/// the depot, and the pool is released if they were the last ones out.
///
/// # Safety
/// As for [`put_bulk`].
#[cold]
unsafe fn put_retired(pool: &PoolInner, idxs: &[u32]) {
    // SAFETY: we still own buffers of the pool, which keeps it registered.
    let held = unsafe { upgrade(pool) };
    release_thread_cache(pool);
    pool.depot.push(pool, idxs);
    release(held);
}

/// Allocation for a thread without a cache (being torn down): straight from the depot, all or nothing.
#[cold]
fn get_uncached(pool: &PoolInner, out: &mut [u32]) -> bool {
    let mag = pool.depot.mag_size();
    let mut buf = vec![0u32; out.len() + mag];
    let mut have = 0;
    while have < out.len() {
        let got = pool.depot.pop(pool, &mut buf[have..]);
        if got == 0 {
            pool.depot.push(pool, &buf[..have]);
            pool.count_failure();
            return false;
        }
        have += got;
    }
    out.copy_from_slice(&buf[..out.len()]);
    if have > out.len() {
        pool.depot.push(pool, &buf[out.len()..have]);
    }
    true
}

/// Drops the calling thread's cache for `pool`, flushing its buffers back to the depot.
pub(crate) fn release_thread_cache(pool: &PoolInner) {
    let cache = CACHES
        .try_with(|caches| {
            let mut caches = caches.try_borrow_mut().ok()?;
            let slot = caches.get_mut(pool.id as usize)?;
            match slot {
                Some(c) if std::ptr::eq(Arc::as_ptr(&c.pool), pool) => slot.take(),
                _ => None,
            }
        })
        .ok()
        .flatten();
    // Dropped outside the borrow: the drop may reclaim the pool.
    drop(cache);
}
