//! Buffer pools: a fixed count of fixed-size buffers carved once from one [`Region`], a lock-free shared free
//! list ([`depot`]) and a per-thread cache per pool ([`cache`]) with bulk refill and flush, as DPDK's mempool
//! cache. Buffers are named by `u32` indices; [`crate::packet::Packet`] is the owning handle built on them.
//!
//! Every pool is registered in a process-wide table under a 16-bit id, so a packet handle is 8 bytes (id +
//! index) and can find its pool without a pointer. A pool's memory is released when its last [`Pool`] handle
//! is gone, no thread cache holds it and all its buffers are back; a pool dropped with buffers still out is
//! kept until they return, never freed under them.

pub(crate) mod cache;
pub(crate) mod depot;
pub mod mode;

use crate::error::{check_range, KnobError};
use crate::mem::{Backing, MemError, Prefer, Region};
use crate::packet::Desc;
use crossbeam_utils::CachePadded;
use depot::{Depot, MagazineMemory};
use std::cell::UnsafeCell;
use std::mem::ManuallyDrop;
use std::sync::atomic::{AtomicPtr, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

pub use mode::{PoolMode, PortPoolSpec, PortPools};

/// Most buffers one bulk call moves through a cache.
pub const MAX_BULK: usize = 512;
/// Most pools alive at once in a process.
pub const MAX_POOLS: usize = 4096;
/// Default per-thread cache size (DPDK's usual 256).
pub const DEFAULT_CACHE_SIZE: u32 = 256;

/// How a pool is built.
#[derive(Debug, Clone)]
pub struct PoolConfig {
    /// Name used in logs and stats.
    pub name: String,
    /// Number of buffers: 1..=16777216.
    pub buffers: u32,
    /// Bytes per buffer, headroom included: 64..=1048576.
    pub buf_size: u32,
    /// Headroom reserved at the front of a new packet's first buffer: 0..buf_size.
    pub headroom: u32,
    /// Most buffers one packet may chain: 1..=64.
    pub max_buflets: u16,
    /// Per-thread cache size: 0..=512 (0: every call goes to the shared free list).
    pub cache_size: u32,
    /// Hugepages or normal pages.
    pub prefer: Prefer,
}

impl PoolConfig {
    /// `buffers` buffers of `buf_size` bytes, no headroom, single-buflet packets, default cache.
    pub fn new(name: impl Into<String>, buffers: u32, buf_size: u32) -> PoolConfig {
        PoolConfig {
            name: name.into(),
            buffers,
            buf_size,
            headroom: 0,
            max_buflets: 1,
            cache_size: DEFAULT_CACHE_SIZE,
            prefer: Prefer::Hugepage,
        }
    }

    fn validate(&self) -> Result<(), KnobError> {
        check_range("pool-size", self.buffers, 1, 1 << 24, "1..=16777216")?;
        check_range("buffer-size", self.buf_size, 64, 1 << 20, "64..=1048576")?;
        if self.headroom >= self.buf_size {
            return Err(KnobError::new("headroom", self.headroom, "less than the buffer size"));
        }
        check_range("max-buflets", self.max_buflets, 1, 64, "1..=64")?;
        check_range("cache-size", self.cache_size, 0, MAX_BULK as u32, "0..=512")?;
        Ok(())
    }
}

/// Pool creation failed.
#[derive(Debug, thiserror::Error)]
pub enum PoolError {
    /// A parameter is out of range.
    #[error(transparent)]
    Knob(#[from] KnobError),
    /// The memory could not be mapped.
    #[error(transparent)]
    Mem(#[from] MemError),
    /// All pool ids are taken.
    #[error("too many pools: at most {MAX_POOLS} may exist at once")]
    TooManyPools,
}

/// A pool's counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolStats {
    /// Buffers in the pool.
    pub capacity: usize,
    /// Buffers handed out and not yet returned (exact when no thread is mid-call).
    pub in_use: usize,
    /// Allocation requests that failed because the pool was empty (rx_nombuf / nomem).
    pub alloc_failures: u64,
}

pub(crate) struct PoolInner {
    pub(crate) id: u16,
    name: String,
    base: *mut u8,
    stride: usize,
    pub(crate) buf_size: u32,
    pub(crate) headroom: u32,
    pub(crate) max_buflets: u16,
    count: u32,
    cache_size: usize,
    descs: Box<[UnsafeCell<Desc>]>,
    refcnts: Box<[AtomicU32]>,
    pub(crate) depot: Depot,
    /// One published length per live thread cache, for `in_use`.
    cache_lens: Mutex<Vec<Arc<CachePadded<AtomicUsize>>>>,
    alloc_failures: AtomicU64,
    pub(crate) users: AtomicUsize,
    backing: Backing,
    _region: Region,
}

// SAFETY: the raw base pointer refers to the region owned by this struct; buffer memory and descriptors are
// only touched by the owner of the buffer (an index obtained from the depot or a cache), and the shared
// parts (depot, counters) are atomics.
unsafe impl Send for PoolInner {}
// SAFETY: as above; every `&self` method either touches atomics or memory its caller owns.
unsafe impl Sync for PoolInner {}

impl MagazineMemory for PoolInner {
    #[inline]
    fn words(&self, idx: u32) -> *mut u32 {
        self.buf_ptr(idx).cast()
    }
}

impl PoolInner {
    #[inline]
    pub(crate) fn buf_ptr(&self, idx: u32) -> *mut u8 {
        debug_assert!(idx < self.count);
        // SAFETY: idx < count, so the offset stays inside the region (count * stride bytes were mapped).
        unsafe { self.base.add(idx as usize * self.stride) }
    }

    /// Descriptor of buffer `idx`.
    ///
    /// # Safety
    /// The caller owns buffer `idx` (or holds a packet whose chain it is in), so no `&mut` to it exists.
    #[inline]
    pub(crate) unsafe fn desc(&self, idx: u32) -> &Desc {
        // SAFETY: per the contract nobody writes the descriptor meanwhile.
        unsafe { &*self.descs[idx as usize].get() }
    }

    /// Descriptor of buffer `idx`, writable.
    ///
    /// # Safety
    /// The caller owns buffer `idx` exclusively for the life of the reference.
    #[inline]
    #[allow(clippy::mut_from_ref)]
    pub(crate) unsafe fn desc_mut(&self, idx: u32) -> &mut Desc {
        // SAFETY: per the contract the access is exclusive.
        unsafe { &mut *self.descs[idx as usize].get() }
    }

    /// How many buflets use buffer `idx`'s memory (1 unless views share it).
    #[inline]
    pub(crate) fn refcnt(&self, idx: u32) -> &AtomicU32 {
        &self.refcnts[idx as usize]
    }

    pub(crate) fn count_failure(&self) {
        self.alloc_failures.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn in_use(&self) -> usize {
        let cached: usize = lock(&self.cache_lens).iter().map(|l| l.load(Ordering::Relaxed)).sum();
        (self.count as usize).saturating_sub(self.depot.free() + cached)
    }

    pub(crate) fn cache_size(&self) -> usize {
        self.cache_size
    }

    pub(crate) fn register_cache_len(&self) -> Arc<CachePadded<AtomicUsize>> {
        let len = Arc::new(CachePadded::new(AtomicUsize::new(0)));
        lock(&self.cache_lens).push(len.clone());
        len
    }

    pub(crate) fn unregister_cache_len(&self, len: &Arc<CachePadded<AtomicUsize>>) {
        lock(&self.cache_lens).retain(|l| !Arc::ptr_eq(l, len));
    }
}

/// Locks a setup-path mutex; a panic elsewhere while holding it leaves data that is still consistent (every
/// critical section is a single push, remove or counter update), so poisoning is ignored.
pub(super) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The process-wide pool table: id -> pool. Each non-null entry owns one strong count of its pool.
static REGISTRY: [AtomicPtr<PoolInner>; MAX_POOLS] = [const { AtomicPtr::new(std::ptr::null_mut()) }; MAX_POOLS];
/// Serialises registration and reclamation (setup and teardown only; lookups never take it).
static REGISTRY_LOCK: Mutex<()> = Mutex::new(());

/// The pool registered under `id`.
///
/// # Safety
/// The caller must hold something that keeps the pool registered: a buffer of it, or a [`Pool`] handle.
#[inline]
pub(crate) unsafe fn lookup<'a>(id: u16) -> &'a PoolInner {
    let p = REGISTRY[id as usize].load(Ordering::Acquire);
    debug_assert!(!p.is_null(), "pool {id} is not registered");
    // SAFETY: per the contract the registry entry is live and owns a strong count, so the pointee outlives
    // the caller's hold on it.
    unsafe { &*p }
}

/// A strong reference to a registered pool, for a new thread cache.
///
/// # Safety
/// As for [`lookup`]: `inner` must be registered for the duration of the call.
pub(crate) unsafe fn upgrade(inner: &PoolInner) -> Arc<PoolInner> {
    let p: *const PoolInner = inner;
    // SAFETY: `p` came from `Arc::into_raw` at registration and the registry still owns a strong count, so
    // incrementing and adopting one more count is sound.
    unsafe {
        Arc::increment_strong_count(p);
        Arc::from_raw(p)
    }
}

/// Drops `held` (a [`Pool`] handle's or a thread cache's reference), and with it the registry's reference
/// when nothing else can reach the pool: no user handle, no other holder and no buffer out. Holders let go
/// under the registry lock, so of two letting go at once the second sees the first gone.
pub(crate) fn release(held: Arc<PoolInner>) {
    let _guard = lock(&REGISTRY_LOCK);
    // Registry + `held`: no other thread has a cache, so nothing is mid-call and `in_use` is exact.
    if held.users.load(Ordering::Acquire) == 0 && Arc::strong_count(&held) == 2 {
        let in_use = held.in_use();
        if in_use == 0 {
            let me = Arc::as_ptr(&held).cast_mut();
            // Only our own entry: the id may already belong to a newer pool.
            if REGISTRY[held.id as usize]
                .compare_exchange(me, std::ptr::null_mut(), Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
            {
                // SAFETY: the entry owned the strong count taken by `Arc::into_raw` at registration.
                drop(unsafe { Arc::from_raw(me) });
            }
        } else {
            log::debug!("pool {} retired with {in_use} buffers out; kept until they return", held.name);
        }
    }
    drop(held);
}

/// A shared handle to a buffer pool. Cloning is cheap; the pool lives until the last handle, the last thread
/// cache and the last outstanding buffer are gone.
pub struct Pool {
    /// Taken out in `drop` to hand to [`release`].
    inner: ManuallyDrop<Arc<PoolInner>>,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool")
            .field("name", &self.inner.name)
            .field("id", &self.inner.id)
            .field("buffers", &self.inner.count)
            .field("buf_size", &self.inner.buf_size)
            .field("backing", &self.inner.backing)
            .finish()
    }
}

impl Clone for Pool {
    fn clone(&self) -> Pool {
        self.inner.users.fetch_add(1, Ordering::Relaxed);
        Pool { inner: ManuallyDrop::new(Arc::clone(&self.inner)) }
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        // SAFETY: `inner` is not touched again after this.
        let inner = unsafe { ManuallyDrop::take(&mut self.inner) };
        if inner.users.fetch_sub(1, Ordering::AcqRel) == 1 {
            cache::release_thread_cache(&inner);
            release(inner);
        }
    }
}

impl Pool {
    /// Maps and carves a new pool.
    ///
    /// # Errors
    /// A parameter out of range (naming it), no memory, or no free pool id.
    pub fn new(config: PoolConfig) -> Result<Pool, PoolError> {
        config.validate()?;
        let stride = (config.buf_size as usize).next_multiple_of(64);
        let count = config.buffers as usize;
        let mut region = Region::map(stride * count, config.prefer)?;
        let base = region.as_mut_ptr();
        let descs = (0..count).map(|_| UnsafeCell::new(Desc::new())).collect();
        let _guard = lock(&REGISTRY_LOCK);
        let id = REGISTRY.iter().position(|s| s.load(Ordering::Acquire).is_null()).ok_or(PoolError::TooManyPools)?;
        let inner = Arc::new(PoolInner {
            id: id as u16,
            name: config.name,
            base,
            stride,
            buf_size: config.buf_size,
            headroom: config.headroom,
            max_buflets: config.max_buflets,
            count: config.buffers,
            cache_size: config.cache_size as usize,
            descs,
            refcnts: (0..count).map(|_| AtomicU32::new(1)).collect(),
            depot: Depot::new(count, config.buf_size as usize),
            cache_lens: Mutex::new(Vec::new()),
            alloc_failures: AtomicU64::new(0),
            users: AtomicUsize::new(1),
            backing: region.backing(),
            _region: region,
        });
        // Push in reverse so that the first allocations hand out low indices (friendlier to look at).
        let all: Vec<u32> = (0..config.buffers).rev().collect();
        inner.depot.push(&*inner, &all);
        REGISTRY[id].store(Arc::into_raw(inner.clone()).cast_mut(), Ordering::Release);
        Ok(Pool { inner: ManuallyDrop::new(inner) })
    }

    /// The pool's name.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// Registry id (what packet handles carry).
    pub fn id(&self) -> u16 {
        self.inner.id
    }

    /// Number of buffers.
    pub fn capacity(&self) -> usize {
        self.inner.count as usize
    }

    /// Bytes per buffer.
    pub fn buf_size(&self) -> u32 {
        self.inner.buf_size
    }

    /// Headroom of a new packet.
    pub fn headroom(&self) -> u32 {
        self.inner.headroom
    }

    /// Most buffers one packet may chain.
    pub fn max_buflets(&self) -> u16 {
        self.inner.max_buflets
    }

    /// Hugepages or normal pages.
    pub fn backing(&self) -> Backing {
        self.inner.backing
    }

    /// Buffers out (allocated and not yet returned). Exact when no thread is in the middle of a call; tests
    /// use it after shutdown to prove nothing leaked.
    pub fn in_use(&self) -> usize {
        self.inner.in_use()
    }

    /// Counters.
    pub fn stats(&self) -> PoolStats {
        PoolStats {
            capacity: self.capacity(),
            in_use: self.in_use(),
            alloc_failures: self.inner.alloc_failures.load(Ordering::Relaxed),
        }
    }

    /// Flushes the calling thread's cache of this pool back to the shared free list (a worker does this
    /// when it stops; thread exit does it too).
    pub fn flush_thread_cache(&self) {
        cache::release_thread_cache(&self.inner);
    }

    /// Takes `out.len()` raw buffers (at most [`MAX_BULK`]) through the calling thread's cache: all or nothing,
    /// like `rte_mempool_get_bulk`. Returns false (and counts a failure) when the pool cannot supply them.
    /// This is the mempool layer; packets ([`Pool::alloc`]) are the safe handles built on it.
    pub fn get_bulk(&self, out: &mut [u32]) -> bool {
        cache::get_bulk(&self.inner, out)
    }

    /// Returns raw buffers taken with [`Pool::get_bulk`] (at most [`MAX_BULK`] per call).
    ///
    /// # Safety
    /// Every index must come from `get_bulk` on this pool, and be returned exactly once.
    pub unsafe fn put_bulk(&self, idxs: &[u32]) {
        // SAFETY: forwarded contract.
        unsafe { cache::put_bulk(&self.inner, idxs) }
    }

    /// Pointer to raw buffer `idx`, valid for [`Pool::buf_size`] bytes while the pool lives.
    ///
    /// # Panics
    /// If `idx` is not a buffer of this pool.
    pub fn buffer_ptr(&self, idx: u32) -> *mut u8 {
        assert!(idx < self.inner.count, "buffer {idx} out of range");
        self.inner.buf_ptr(idx)
    }

    pub(crate) fn inner(&self) -> &PoolInner {
        &self.inner
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(n: u32, size: u32, cache: u32) -> Pool {
        let mut c = PoolConfig::new("t", n, size);
        c.cache_size = cache;
        c.prefer = Prefer::Normal;
        Pool::new(c).unwrap()
    }

    #[test]
    fn bad_parameters_name_the_knob() {
        let e = Pool::new(PoolConfig::new("t", 0, 2048)).unwrap_err();
        assert_eq!(e.to_string(), "invalid pool-size 0: valid is 1..=16777216");
        let e = Pool::new(PoolConfig::new("t", 8, 32)).unwrap_err();
        assert_eq!(e.to_string(), "invalid buffer-size 32: valid is 64..=1048576");
        let mut c = PoolConfig::new("t", 8, 2048);
        c.cache_size = 513;
        assert!(Pool::new(c).unwrap_err().to_string().contains("cache-size 513"));
    }

    #[test]
    fn every_buffer_can_be_taken_once_and_exhaustion_is_counted() {
        for cache in [0, 32, 256] {
            let p = pool(1000, 256, cache);
            let mut seen = vec![false; 1000];
            let mut all = Vec::new();
            let mut burst = [0u32; 7];
            while p.get_bulk(&mut burst) {
                for &i in &burst {
                    assert!(!seen[i as usize], "buffer {i} handed out twice");
                    seen[i as usize] = true;
                }
                all.extend_from_slice(&burst);
            }
            let mut one = [0u32; 1];
            while p.get_bulk(&mut one) {
                assert!(!seen[one[0] as usize]);
                seen[one[0] as usize] = true;
                all.push(one[0]);
            }
            assert!(seen.iter().all(|&s| s), "cache {cache}: every buffer handed out");
            assert_eq!(p.in_use(), 1000);
            assert!(p.stats().alloc_failures >= 2);
            for chunk in all.chunks(MAX_BULK) {
                // SAFETY: each index came from get_bulk on p and is put once.
                unsafe { p.put_bulk(chunk) };
            }
            assert_eq!(p.in_use(), 0);
        }
    }

    // These two watch their own pool through a `Weak` (which also keeps its address from being reused):
    // other tests run in parallel and may take a released id at once, so the id's slot proves nothing.

    #[test]
    fn pool_is_reclaimed_when_idle() {
        let p = pool(64, 256, 32);
        let weak = Arc::downgrade(&p.inner);
        let mut b = [0u32; 8];
        assert!(p.get_bulk(&mut b));
        // SAFETY: returned once.
        unsafe { p.put_bulk(&b) };
        drop(p);
        assert_eq!(weak.strong_count(), 0, "idle pool released by its registry entry and freed");
    }

    #[test]
    fn a_pool_dropped_with_buffers_out_is_released_when_the_last_returns() {
        // More rounds than there are pool ids: each pool must give its id back once its last packet returns,
        // even though this thread keeps running.
        for round in 0..(MAX_POOLS + 50) {
            let p = pool(8, 256, 4);
            let (id, weak) = (p.id(), Arc::downgrade(&p.inner));
            let pkt = p.alloc().unwrap();
            drop(p);
            let slot = REGISTRY[id as usize].load(Ordering::Acquire);
            assert_eq!(slot.cast_const(), weak.as_ptr(), "round {round}: kept registered while a packet is out");
            drop(pkt);
            assert_eq!(weak.strong_count(), 0, "round {round}: released and freed with the last packet");
        }
    }

    #[test]
    fn cross_thread_alloc_free_conserves_buffers() {
        let p = pool(4096, 128, 256);
        let (tx, rx) = std::sync::mpsc::sync_channel::<[u32; 32]>(64);
        let p2 = p.clone();
        let consumer = std::thread::spawn(move || {
            let mut n = 0usize;
            while let Ok(b) = rx.recv() {
                // SAFETY: each index came from get_bulk on p (the producer) and is put once here.
                unsafe { p2.put_bulk(&b) };
                n += b.len();
            }
            n
        });
        let mut sent = 0usize;
        let mut b = [0u32; 32];
        while sent < 200_000 {
            if p.get_bulk(&mut b) {
                tx.send(b).unwrap();
                sent += 32;
            } else {
                std::thread::yield_now();
            }
        }
        drop(tx);
        assert_eq!(consumer.join().unwrap(), sent);
        p.flush_thread_cache();
        assert_eq!(p.in_use(), 0);
    }
}
