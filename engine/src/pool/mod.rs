//! Buffer pools: a fixed count of fixed-size buffers carved once from one [`Region`], a lock-free shared free
//! list ([`depot`]) and a per-thread cache per pool ([`cache`]) with bulk refill and flush, as DPDK's mempool
//! cache. Buffers are named by `u32` indices; [`crate::packet::Packet`] is the owning handle built on them.
//!
//! Every pool is registered in a process-wide table ([`registry`]) under a 16-bit id, so a packet handle is
//! 8 bytes (id + index) and can find its pool without a pointer. The pool owns its buffers' descriptors
//! ([`buflet`]), the small API the packet layer is built on. A pool's memory and id are released as soon as
//! its last [`Pool`] handle is gone and all its buffers are back, whichever threads cached them: a retiring
//! pool steals its thread caches back ([`cell`]); a pool dropped with buffers still out is kept until they
//! return, never freed under them.

pub(crate) mod buflet;
pub(crate) mod cache;
pub(crate) mod cell;
mod config;
pub(crate) mod depot;
mod layout;
pub mod mode;
pub(crate) mod registry;
pub(crate) mod shares;
pub(crate) mod slice;

use crate::mem::{Backing, Prefer, Region};
use buflet::Desc;
use cell::CacheCell;
use depot::{Depot, MagazineMemory};
use std::cell::UnsafeCell;
use std::mem::ManuallyDrop;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

pub(crate) use registry::lookup;

pub(crate) use config::MAX_BUFFER_BYTES;
pub use config::{PoolConfig, PoolError, PoolStats};
pub(crate) use layout::Buffers;
pub use layout::{buffer_lead, buffer_stride, pool_bytes, PoolMemory};
use layout::{bytes_of, lead_of, stride_of};
pub use mode::PoolMode;
pub use slice::SLICES_PER_BUFFER;

/// Most buffers one bulk call moves through a cache.
pub const MAX_BULK: usize = 512;
/// Most pools alive at once in a process.
pub const MAX_POOLS: usize = 4096;
/// Default per-thread cache size (DPDK's usual 256).
pub const DEFAULT_CACHE_SIZE: u32 = 256;

/// Bytes of private memory per buffer for the free lists of a pool whose buffers another process can
/// write: a magazine of 63 entries.
const PRIVATE_MAGAZINE_BYTES: usize = 256;

pub(crate) struct PoolInner {
    pub(crate) id: u16,
    /// [`PoolConfig::ethernet`].
    pub(crate) ethernet: bool,
    name: String,
    /// Buffer 0: `first` bytes into the region.
    base: *mut u8,
    /// Where buffer 0 lies in the region: [`buffer_lead`], or 0 for [`PoolConfig::chunks`].
    first: usize,
    stride: usize,
    pub(crate) buf_size: u32,
    pub(crate) headroom: u32,
    pub(crate) max_buflets: u16,
    count: u32,
    cache_size: usize,
    /// One per buffer, then (when slices are allowed) [`slice::SLICES_PER_BUFFER`] per buffer for slices.
    descs: Box<[UnsafeCell<Desc>]>,
    /// Set when packets may be slices of this pool's buffers.
    slices: Option<slice::SliceGeometry>,
    /// Each buffer's count of holders, `refcnt_stride` apart.
    refcnts: Box<[shares::Shares]>,
    /// 1, or a cache line's worth of counts when slices are allowed: the core that cuts slices from one
    /// buffer writes its count while the other frees the slices of the buffer before, and counts side by
    /// side would make each wait for the line the other just wrote.
    refcnt_stride: usize,
    pub(crate) depot: Depot,
    /// Every thread's cache of this pool, for `in_use` and for stealing them back when the pool retires.
    cells: Mutex<Cells>,
    alloc_failures: AtomicU64,
    pub(crate) users: AtomicUsize,
    backing: Backing,
    /// Where the depot keeps magazine contents: the buffers themselves (`mag_words` = stride / 4), or for a
    /// pool in shared memory a private table, so that a peer writing into a free buffer cannot corrupt the
    /// free list.
    mags: *mut u32,
    mag_words: usize,
    _mags: Option<Region>,
    _region: Region,
}

/// The thread caches of a pool.
#[derive(Default)]
struct Cells {
    live: Vec<Arc<CacheCell>>,
    /// Set when the pool retired: it hands out no new cell.
    retired: bool,
}

// SAFETY: the raw base pointer refers to the region owned by this struct; buffer memory and descriptors are
// only touched by the owner of the buffer (an index obtained from the depot or a cache), and the shared
// parts (depot, counters) are atomics.
unsafe impl Send for PoolInner {}
// SAFETY: as above; every `&self` method either touches atomics or memory its caller owns.
unsafe impl Sync for PoolInner {}

impl MagazineMemory for PoolInner {
    #[inline]
    unsafe fn words(&self, idx: u32) -> *mut u32 {
        debug_assert!(idx < self.count);
        // SAFETY: `idx` is one of our buffers (contract), and the magazine memory holds `mag_words` words for
        // each of them.
        unsafe { self.mags.add(idx as usize * self.mag_words) }
    }
}

impl PoolInner {
    /// Start of buffer `idx`'s memory, valid for `buf_size` bytes while the pool lives.
    ///
    /// # Safety
    /// `idx` is a buffer of this pool (`idx < count`).
    #[inline]
    pub(crate) unsafe fn buf_ptr(&self, idx: u32) -> *mut u8 {
        // SAFETY: forwarded contract.
        unsafe { self.buffers().at(idx) }
    }

    /// Where this pool's buffers lie, as a value a hot loop keeps in registers: read through `&self` in a
    /// loop that also writes buffers, the base and stride would be loaded again for every buffer (the
    /// compiler cannot tell the writes do not change them).
    #[inline]
    pub(crate) fn buffers(&self) -> Buffers {
        Buffers::new(self.base, self.stride, self.count)
    }

    pub(crate) fn count_failure(&self) {
        self.alloc_failures.fetch_add(1, Ordering::Relaxed);
    }

    /// Takes `out.len()` buffers through the calling thread's cache: all or nothing, counted on failure.
    #[inline]
    pub(crate) fn get_bulk(&self, out: &mut [u32]) -> bool {
        let ok = self.get_bulk_with(out.len(), |s| out.copy_from_slice(s));
        if !ok {
            self.count_failure();
        }
        ok
    }

    /// Takes `n` buffers through the calling thread's cache and hands their indices to `take`, read where
    /// they lie: all or nothing: for `n > 0`, `take` is called once, with exactly `n` indices, when and
    /// only when the call returns true (callers count on it); for `n == 0` it returns true and is not
    /// called. Not counted when the pool cannot supply them: the caller decides whether
    /// that was a failure. `take` should use no pool (inside it, any pool operation takes the slow uncached
    /// path: the thread's cells are held).
    #[inline]
    pub(crate) fn get_bulk_with(&self, n: usize, take: impl FnOnce(&[u32])) -> bool {
        cache::get_bulk_with(self, n, take)
    }

    /// Returns buffers through the calling thread's cache.
    ///
    /// # Safety
    /// Every index is a buffer of this pool that the caller owns and gives up, returned once.
    #[inline]
    pub(crate) unsafe fn put_bulk(&self, idxs: &[u32]) {
        // SAFETY: forwarded contract.
        unsafe { cache::put_bulk(self, idxs) }
    }

    /// Returns `n` buffers (at most [`MAX_BULK`]) through the calling thread's cache, their indices written
    /// by `fill` where the cache keeps them.
    ///
    /// # Safety
    /// `fill` writes, in each of the `n` slots it is given, a buffer of this pool that the caller owns and
    /// gives up, each once; it uses no pool and is short (no lock, wait or syscall: a pool retiring waits
    /// for it).
    #[inline]
    pub(crate) unsafe fn put_bulk_with(&self, n: usize, fill: impl FnOnce(&mut [u32])) {
        // SAFETY: forwarded contract.
        unsafe { cache::put_bulk_with(self, n, fill) }
    }

    fn in_use(&self) -> usize {
        let cells = lock(&self.cells);
        let cached: usize = cells.live.iter().map(|c| c.cached()).sum();
        (self.count as usize).saturating_sub(self.depot.free() + cached)
    }

    /// A new thread cache, or `None` once the pool has retired (setup path: allocates).
    pub(crate) fn new_cell(&self) -> Option<Arc<CacheCell>> {
        let mut cells = lock(&self.cells);
        if cells.retired {
            return None;
        }
        let cell = Arc::new(CacheCell::new(self.cache_size, self.depot.mag_size()));
        cells.live.push(cell.clone());
        Some(cell)
    }

    /// Forgets a cell its thread retired itself.
    pub(crate) fn forget_cell(&self, cell: &Arc<CacheCell>) {
        lock(&self.cells).live.retain(|c| !Arc::ptr_eq(c, cell));
    }

    /// The last handle is gone: no new cell is handed out, and every thread's cell is stolen back, so that
    /// what the caches held returns to the depot whatever those threads do next.
    fn retire(&self) {
        let live = {
            let mut cells = lock(&self.cells);
            cells.retired = true;
            std::mem::take(&mut cells.live)
        };
        for cell in live {
            // SAFETY: the cell caches buffers of this pool only. A cell its owner retired meanwhile (thread
            // exit) is that owner's to return.
            unsafe { cell.retire(&self.depot, self) };
        }
    }

    /// No handle, no cache, every buffer back in the depot. Exact only when no operation is in flight,
    /// which [`registry::release`] makes sure of before asking.
    pub(crate) fn idle_and_complete(&self) -> bool {
        self.users.load(Ordering::Acquire) == 0 && lock(&self.cells).retired && self.depot.free() == self.count as usize
    }
}

/// Locks a setup-path mutex; a panic elsewhere while holding it leaves data that is still consistent (every
/// critical section is a single push, remove or flag update), so poisoning is ignored.
pub(super) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A shared handle to a buffer pool. Cloning is cheap; the pool lives until the last handle, the last thread
/// cache and the last outstanding buffer are gone.
pub struct Pool {
    /// Taken out in `drop` to hand to [`registry::release`].
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
            inner.retire();
        }
        registry::release(inner);
    }
}

impl Pool {
    /// Maps and carves a new pool.
    ///
    /// # Errors
    /// A parameter out of range (naming it), no memory, or no free pool id.
    pub fn new(config: PoolConfig) -> Result<Pool, PoolError> {
        config.validate()?;
        let region = Region::map(bytes_of(&config), config.prefer)?;
        Pool::carve(config, region, None, true)
    }

    /// A pool carved from `region`, memory another process maps too (see [`Region::shared`]), with every
    /// buffer free. Its free lists live in private memory: what the other process writes into the buffers
    /// is data, never a link this pool follows.
    ///
    /// # Errors
    /// As [`Pool::new`], or the region is smaller than the buffers.
    ///
    /// # Safety
    /// Whoever else maps the region writes a buffer only while it holds it (it was lent and not yet given
    /// back): this pool's packets hand their bytes out as `&[u8]` / `&mut [u8]`, which nothing may change
    /// underneath. Free lists and descriptors are private, so breaking this changes bytes, never which
    /// buffers this pool owns.
    pub unsafe fn in_shared_region(config: PoolConfig, region: Region) -> Result<Pool, PoolError> {
        Pool::over_region(config, region, true)
    }

    /// A pool over another process's buffers (its pool made with [`Pool::in_shared_region`], mapped here
    /// with [`Region::map_peer`]), with every buffer *out*: none can be allocated. A driver makes packets of
    /// the buffers its peer lends it ([`Pool::packet_from_buffer`]); freed packets collect in the pool,
    /// where the driver takes them back ([`Pool::take_free`]) to return them to their owner. Free lists are
    /// private, as for `in_shared_region`, and there is no thread cache (`cache_size` is taken as 0), so
    /// that a packet freed on any thread is at once where the driver looks.
    ///
    /// # Errors
    /// As [`Pool::in_shared_region`].
    ///
    /// # Safety
    /// As [`Pool::in_shared_region`]: the region's owner writes a buffer only while no packet of it is
    /// alive here (it lent the buffer and has not had it back).
    pub unsafe fn over_lent_buffers(config: PoolConfig, region: Region) -> Result<Pool, PoolError> {
        Pool::over_region(PoolConfig { cache_size: 0, ..config }, region, false)
    }

    fn over_region(config: PoolConfig, region: Region, free: bool) -> Result<Pool, PoolError> {
        config.validate()?;
        let need = bytes_of(&config);
        if region.len() < need {
            return Err(PoolError::RegionTooSmall { name: config.name, need, have: region.len() });
        }
        let mags = Region::map(config.buffers as usize * PRIVATE_MAGAZINE_BYTES, Prefer::Normal)?;
        Pool::carve(config, region, Some(mags), free)
    }

    /// Registers a pool over `region` (big enough for its buffers), its magazines in `mags` or else in the
    /// buffers, and hands every buffer to its free list when `free`.
    fn carve(config: PoolConfig, mut region: Region, mags: Option<Region>, free: bool) -> Result<Pool, PoolError> {
        crate::barrier::init();
        let stride = stride_of(&config);
        let count = config.buffers as usize;
        let first = lead_of(&config);
        let base = region.as_mut_ptr().wrapping_add(first);
        let (mag_ptr, mag_bytes, mag_words, mags) = match mags {
            Some(mut m) => (m.as_mut_ptr().cast::<u32>(), PRIVATE_MAGAZINE_BYTES, PRIVATE_MAGAZINE_BYTES / 4, Some(m)),
            None => (base.cast::<u32>(), config.buf_size as usize, stride / 4, None),
        };
        let slices = config.slices.then(|| slice::SliceGeometry::for_pool(config.buffers, config.buf_size)).flatten();
        let slots = if slices.is_some() { count * slice::SLICES_PER_BUFFER as usize } else { 0 };
        let refcnt_stride = if slices.is_some() { 64 / std::mem::size_of::<shares::Shares>() } else { 1 };
        let descs = (0..count + slots).map(|_| UnsafeCell::new(Desc::new())).collect();
        let inner = registry::register(|id| PoolInner {
            id,
            ethernet: config.ethernet,
            name: config.name,
            base,
            first,
            stride,
            buf_size: config.buf_size,
            headroom: config.headroom,
            max_buflets: config.max_buflets,
            count: config.buffers,
            cache_size: config.cache_size as usize,
            descs,
            slices,
            refcnts: (0..count * refcnt_stride).map(|_| shares::Shares::default()).collect(),
            refcnt_stride,
            depot: Depot::new(count, mag_bytes),
            cells: Mutex::new(Cells::default()),
            alloc_failures: AtomicU64::new(0),
            users: AtomicUsize::new(1),
            backing: region.backing(),
            mags: mag_ptr,
            mag_words,
            _mags: mags,
            _region: region,
        })?;
        if free {
            // Push in reverse so that the first allocations hand out low indices (friendlier to look at).
            let all: Vec<u32> = (0..config.buffers).rev().collect();
            // SAFETY: a new pool owns all its buffers; each is pushed once.
            unsafe { inner.depot.push(&*inner, &all) };
        }
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

    /// Whether packets can be slices of this pool's buffers ([`PoolConfig::slices`]).
    pub fn allows_slices(&self) -> bool {
        self.inner.allows_slices()
    }

    /// Creates this thread's cache of the pool now. It is otherwise made on the thread's first alloc or
    /// free, which allocates: a poll loop calls this at setup for every pool it may touch, so that its hot
    /// path allocates nothing ([`crate::hot`]).
    pub fn prepare_thread_cache(&self) {
        cache::prepare(&self.inner);
    }

    /// Most buffers one packet may chain.
    pub fn max_buflets(&self) -> u16 {
        self.inner.max_buflets
    }

    /// The longest packet a fresh one can grow to: its first buffer past the headroom, then whole chained
    /// buffers up to [`Pool::max_buflets`].
    pub fn max_packet_len(&self) -> usize {
        let buf = self.inner.buf_size as usize;
        buf - self.inner.headroom as usize + (usize::from(self.inner.max_buflets) - 1) * buf
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
        cache::flush_thread_cache(&self.inner);
    }

    /// Takes `out.len()` raw buffers (at most [`MAX_BULK`]) through the calling thread's cache: all or nothing,
    /// like `rte_mempool_get_bulk`. Returns false (and counts a failure) when the pool cannot supply them.
    /// This is the mempool layer; packets ([`Pool::alloc`]) are the safe handles built on it.
    pub fn get_bulk(&self, out: &mut [u32]) -> bool {
        self.inner.get_bulk(out)
    }

    /// [`Pool::get_bulk`] that counts no failure: for a caller that goes on one buffer at a time when the
    /// pool cannot supply the whole bulk (the single one that then fails counts).
    pub fn try_get_bulk(&self, out: &mut [u32]) -> bool {
        self.inner.get_bulk_with(out.len(), |s| out.copy_from_slice(s))
    }

    /// Returns raw buffers to the pool (at most [`MAX_BULK`] per call).
    ///
    /// # Safety
    /// Every index is a buffer of this pool that the caller owns: taken raw ([`Pool::get_bulk`],
    /// [`Pool::take_free`]) or out of a packet ([`into_buffer`](crate::Packet::into_buffer),
    /// [`into_buffers`](crate::Packet::into_buffers), [`Pool::lend_plain_burst`]) and not given back
    /// since; each is returned exactly once.
    pub unsafe fn put_bulk(&self, idxs: &[u32]) {
        // SAFETY: forwarded contract.
        unsafe { self.inner.put_bulk(idxs) }
    }

    /// Pointer to raw buffer `idx`, valid for [`Pool::buf_size`] bytes while the pool lives.
    ///
    /// # Panics
    /// If `idx` is not a buffer of this pool.
    pub fn buffer_ptr(&self, idx: u32) -> *mut u8 {
        assert!(idx < self.inner.count, "buffer {idx} out of range");
        // SAFETY: checked just above.
        unsafe { self.inner.buf_ptr(idx) }
    }

    /// Where the pool's buffers lie: drivers that register them with the kernel (an AF_XDP UMEM) need the
    /// whole mapping, and find buffer `i` at `base + first + i * stride`.
    pub fn memory(&self) -> PoolMemory {
        let first = self.inner.first;
        // Buffer 0 lies `first` bytes into the mapping.
        let base = self.inner.base.wrapping_sub(first);
        PoolMemory { base, len: self.inner._region.len(), first, stride: self.inner.stride }
    }

    /// Whether [`Pool::take_free`] may find buffers now: one relaxed load of the shared free list's head, so
    /// that a driver's poll that finds nothing makes no call (a hint: a free may land right after).
    #[inline]
    pub fn may_take_free(&self) -> bool {
        !self.inner.depot.looks_empty()
    }

    /// Takes up to `out.len()` free buffers from the shared free list (not through a thread cache),
    /// returning how many: a driver collects the freed buffers of a [`Pool::over_lent_buffers`] pool this
    /// way. Never counted as an allocation failure.
    pub fn take_free(&self, out: &mut [u32]) -> usize {
        let depot = &self.inner.depot;
        let mut taken = 0;
        while out.len() - taken >= depot.mag_size() && !depot.looks_empty() {
            // SAFETY: this pool's depot holds buffers of this pool's memory; the rest of `out` holds a
            // magazine (checked just above).
            let n = unsafe { depot.pop(self.inner(), &mut out[taken..]) };
            if n == 0 {
                break;
            }
            taken += n;
        }
        taken
    }

    pub(crate) fn inner(&self) -> &PoolInner {
        &self.inner
    }

    /// A weak reference to the pool's state: it upgrades while the state is allocated (tests).
    #[cfg(test)]
    pub(crate) fn weak(&self) -> std::sync::Weak<PoolInner> {
        Arc::downgrade(&self.inner)
    }
}

#[cfg(test)]
mod tests;
