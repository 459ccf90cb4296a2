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
pub(crate) mod depot;
pub mod mode;
pub(crate) mod registry;
pub(crate) mod slice;

use crate::error::{check_range, KnobError};
use crate::mem::{Backing, MemError, Prefer, Region};
use buflet::Desc;
use cell::CacheCell;
use depot::{Depot, MagazineMemory};
use std::cell::UnsafeCell;
use std::mem::ManuallyDrop;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

pub(crate) use registry::lookup;

pub use mode::PoolMode;
pub use slice::SLICES_PER_BUFFER;

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
    /// Whether packets may be slices of this pool's buffers (split-mode packing without descriptors, see
    /// [`slice`]): the pool then keeps 32 descriptors per buffer for slices that come to need one. Taken
    /// as false (packing then uses views) when a slice's handle cannot name every buffer and region, or the
    /// buffer size is not a multiple of 16.
    pub slices: bool,
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
            slices: false,
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
    /// The memory given for the pool cannot hold its buffers.
    #[error("pool '{name}' needs {need} bytes for its buffers, the memory given holds {have}")]
    RegionTooSmall {
        /// The pool's name.
        name: String,
        /// Bytes its buffers need.
        need: usize,
        /// Bytes the region holds.
        have: usize,
    },
}

/// Bytes of private memory per buffer for the free lists of a pool whose buffers another process can
/// write: a magazine of 63 entries.
const PRIVATE_MAGAZINE_BYTES: usize = 256;

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
    /// Buffer 0: [`buffer_lead`] bytes into the region.
    base: *mut u8,
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
    refcnts: Box<[AtomicU32]>,
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

/// Where a pool's buffers lie ([`PoolInner::buffers`]), valid while the pool lives.
#[derive(Clone, Copy)]
pub(crate) struct Buffers {
    base: *mut u8,
    stride: usize,
    count: u32,
}

impl Buffers {
    /// Start of buffer `idx`'s memory, valid for the pool's `buf_size` bytes.
    ///
    /// # Safety
    /// `idx` is a buffer of the pool (`idx < count`), which still lives.
    #[inline(always)]
    pub(crate) unsafe fn at(self, idx: u32) -> *mut u8 {
        debug_assert!(idx < self.count);
        // SAFETY: idx < count (contract), so the offset stays inside the region (`base` is buffer 0, and the
        // region holds count * stride bytes from there: `pool_bytes`).
        unsafe { self.base.add(idx as usize * self.stride) }
    }

    /// Whether every buffer's byte `offset` starts a cache line: buffer 0's does, and buffers are whole
    /// lines apart.
    pub(crate) fn lines_start_at(self, offset: usize) -> bool {
        (self.base as usize + offset).is_multiple_of(64) && self.stride.is_multiple_of(64)
    }
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
        Buffers { base: self.base, stride: self.stride, count: self.count }
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
        let region = Region::map(pool_bytes(config.buffers, config.buf_size, config.headroom), config.prefer)?;
        Pool::carve(config, region, None, true)
    }

    /// A pool carved from `region`, memory another process maps too (see [`Region::shared`]), with every
    /// buffer free. Its free lists live in private memory: what the other process writes into the buffers
    /// is data, never a link this pool follows.
    ///
    /// # Errors
    /// As [`Pool::new`], or the region is smaller than the buffers.
    pub fn in_shared_region(config: PoolConfig, region: Region) -> Result<Pool, PoolError> {
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
    pub fn over_lent_buffers(config: PoolConfig, region: Region) -> Result<Pool, PoolError> {
        Pool::over_region(PoolConfig { cache_size: 0, ..config }, region, false)
    }

    fn over_region(config: PoolConfig, region: Region, free: bool) -> Result<Pool, PoolError> {
        config.validate()?;
        let need = pool_bytes(config.buffers, config.buf_size, config.headroom);
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
        let base = region.as_mut_ptr().wrapping_add(buffer_lead(config.headroom));
        let (mag_ptr, mag_bytes, mag_words, mags) = match mags {
            Some(mut m) => (m.as_mut_ptr().cast::<u32>(), PRIVATE_MAGAZINE_BYTES, PRIVATE_MAGAZINE_BYTES / 4, Some(m)),
            None => (base.cast::<u32>(), config.buf_size as usize, stride / 4, None),
        };
        let slices = config.slices.then(|| slice::SliceGeometry::for_pool(config.buffers, config.buf_size)).flatten();
        let slots = if slices.is_some() { count * slice::SLICES_PER_BUFFER as usize } else { 0 };
        let refcnt_stride = if slices.is_some() { 64 / std::mem::size_of::<AtomicU32>() } else { 1 };
        let descs = (0..count + slots).map(|_| UnsafeCell::new(Desc::new())).collect();
        let inner = registry::register(|id| PoolInner {
            id,
            name: config.name,
            base,
            stride,
            buf_size: config.buf_size,
            headroom: config.headroom,
            max_buflets: config.max_buflets,
            count: config.buffers,
            cache_size: config.cache_size as usize,
            descs,
            slices,
            refcnts: (0..count * refcnt_stride).map(|_| AtomicU32::new(1)).collect(),
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

    /// Returns raw buffers taken with [`Pool::get_bulk`] (at most [`MAX_BULK`] per call).
    ///
    /// # Safety
    /// Every index must come from `get_bulk` on this pool, and be returned exactly once.
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
        let first = buffer_lead(self.inner.headroom);
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
}

/// Distance between two buffers of a pool made with `config` (see [`buffer_stride`]).
fn stride_of(config: &PoolConfig) -> usize {
    buffer_stride(config.buf_size)
}

/// Bytes of memory a pool of `buffers` buffers of `buf_size` bytes with `headroom` needs: its buffers
/// [`buffer_stride`] apart, behind [`buffer_lead`].
pub fn pool_bytes(buffers: u32, buf_size: u32, headroom: u32) -> usize {
    buffer_lead(headroom) + buffer_stride(buf_size) * buffers as usize
}

/// Where buffer 0 starts in a pool's memory: so far into its first line that the headroom ends on a line
/// boundary. A new packet's data then starts a cache line, and a small frame fills one line instead of
/// straddling two, on the core that writes it and on the one that reads it (feth's headroom is 32 bytes:
/// a 64-byte frame touched two lines each time it was written, copied or read; io forwarding with private
/// pools, which copies every frame, 28.7 -> 40.4 Mpps with its frames' data aligned). Rounded down to a
/// multiple of 8, so that every buffer stays 8-byte aligned (free buffers hold the free list's words): with
/// a headroom that is not a multiple of 8, the data starts `headroom % 8` bytes short of a line.
pub fn buffer_lead(headroom: u32) -> usize {
    ((64 - headroom as usize % 64) % 64) & !7
}

/// Distance between two buffers of `buf_size` bytes in a pool's memory: an odd number of cache lines.
///
/// The headers of a burst's packets sit at the same offset in their buffers, and a cache maps an address
/// to its set by the bits just above the line offset. With power-of-two strides (2 KiB buffers) every
/// header of a pool lands in the same two of an L1's 64 sets, 24 lines at most for the whole pool, so a
/// burst of 32 evicts its own headers. An odd count of lines walks all the sets (DPDK's mempool pads its
/// objects for the same reason); it costs one line per buffer at most.
pub fn buffer_stride(buf_size: u32) -> usize {
    let lines = (buf_size as usize).div_ceil(64);
    (lines | 1) * 64
}

/// The layout of a pool's memory (see [`Pool::memory`]). Valid for as long as the pool lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolMemory {
    /// Start of the mapping (page aligned).
    pub base: *mut u8,
    /// Bytes mapped (whole pages, at least `first + capacity * stride`).
    pub len: usize,
    /// Where buffer 0 starts, from `base` ([`buffer_lead`]): buffer `i` is at `base + first + i * stride`.
    pub first: usize,
    /// Distance between two buffers ([`buffer_stride`]: an odd number of cache lines).
    pub stride: usize,
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

    /// A new packet's data starts a cache line whatever the headroom (a multiple of 8), the buffers stay
    /// inside the mapping, 8-byte aligned and a stride apart, and `memory` says where they are.
    #[test]
    fn buffers_are_placed_so_that_new_data_starts_a_line() {
        for headroom in [0, 8, 32, 56, 64, 100, 128, 200] {
            let mut c = PoolConfig::new("t", 5, 2048);
            c.headroom = headroom;
            c.prefer = Prefer::Normal;
            let p = Pool::new(c).unwrap();
            let mem = p.memory();
            for i in 0..5 {
                let buf = p.buffer_ptr(i);
                assert_eq!(buf, mem.base.wrapping_add(mem.first + i as usize * mem.stride));
                assert_eq!(buf as usize % 8, 0, "headroom {headroom}: buffer {i} 8-byte aligned");
                let data = buf as usize + headroom as usize;
                assert_eq!(data.is_multiple_of(64), headroom.is_multiple_of(8), "headroom {headroom}: buffer {i}");
            }
            assert!(mem.first + 5 * mem.stride <= mem.len, "headroom {headroom}: every buffer inside");
            let pkts: Vec<_> = (0..5).map(|_| p.alloc().unwrap()).collect();
            for q in &pkts {
                assert_eq!(q.data().as_ptr(), p.buffer_ptr(q.index()).wrapping_add(headroom as usize));
            }
        }
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
            assert!(registry::is_registered(id, weak.as_ptr()), "round {round}: kept registered while a packet is out");
            drop(pkt);
            assert_eq!(weak.strong_count(), 0, "round {round}: released and freed with the last packet");
        }
    }

    /// Several long-lived threads create and drop pools in a loop, well past the number of pool ids, while
    /// a long-lived sink thread frees some of every pool's packets before the pool is dropped (so its
    /// cache holds buffers of every pool) and some after. Every pool must be released with its last
    /// buffer while all those threads still run: a cache never keeps a retired pool.
    #[test]
    fn retired_pools_come_back_whichever_threads_cached_their_buffers() {
        use crate::Packet;
        use std::sync::mpsc::{channel, Sender};
        const WORKERS: usize = 3;
        const ROUNDS: usize = MAX_POOLS / WORKERS + 200;
        type Batch = (Vec<Packet>, Option<Sender<()>>);
        let (to_sink, sink_rx) = channel::<Batch>();
        let sink = std::thread::spawn(move || {
            for (pkts, ack) in sink_rx {
                drop(pkts);
                if let Some(ack) = ack {
                    ack.send(()).unwrap();
                }
            }
        });
        let workers: Vec<_> = (0..WORKERS)
            .map(|_| {
                let to_sink = to_sink.clone();
                std::thread::spawn(move || {
                    let (ack_tx, ack_rx) = channel();
                    let mut weaks = Vec::with_capacity(ROUNDS);
                    for _ in 0..ROUNDS {
                        let p = pool(64, 256, 8);
                        let mut pkts: Vec<Packet> = (0..24).map(|_| p.alloc().unwrap()).collect();
                        to_sink.send((pkts.split_off(16), Some(ack_tx.clone()))).unwrap();
                        ack_rx.recv().unwrap();
                        let late = pkts.split_off(8);
                        drop(pkts);
                        weaks.push(Arc::downgrade(&p.inner));
                        drop(p);
                        to_sink.send((late, None)).unwrap();
                    }
                    weaks
                })
            })
            .collect();
        let weaks: Vec<_> = workers.into_iter().flat_map(|w| w.join().unwrap()).collect();
        // Everything sent so far has been freed once the sink answers this.
        let (ack_tx, ack_rx) = channel();
        to_sink.send((Vec::new(), Some(ack_tx))).unwrap();
        ack_rx.recv().unwrap();
        let held = weaks.iter().filter(|w| w.strong_count() > 0).count();
        assert_eq!(held, 0, "{held} of {} retired pools still held while the sink thread runs", weaks.len());
        drop(to_sink);
        sink.join().unwrap();
    }

    /// Two pools over one shared file, as two processes hold them: the owner's and the borrower's view of
    /// the same buffers. A buffer lent by the owner becomes the borrower's packet with the same bytes, the
    /// freed packet collects in the borrower's pool and is taken back from there; whatever is written into
    /// the buffers while they are free corrupts neither pool's free list.
    #[test]
    fn a_shared_pool_lends_its_buffers_to_a_pool_over_the_same_memory() {
        let config = || {
            let mut c = PoolConfig::new("shared", 256, 2048);
            c.prefer = Prefer::Normal;
            c
        };
        let bytes = 256 * buffer_stride(2048);
        let (region, fd) = Region::shared("t", bytes, Prefer::Normal).unwrap();
        let owner = Pool::in_shared_region(config(), region).unwrap();
        let borrower = Pool::over_lent_buffers(config(), Region::map_peer(fd, bytes).unwrap()).unwrap();
        assert_eq!((owner.in_use(), borrower.in_use()), (0, 256));
        assert!(borrower.alloc().is_none(), "nothing to allocate over lent buffers");
        let lent = owner.packet_from(b"crossing").unwrap().into_buffer(&owner).unwrap();
        // The free buffers' bytes are data only: scribble over all of them.
        for i in 0..256 {
            if i != lent.index {
                // SAFETY: the pointer is valid for buf_size bytes; the buffer is free, nobody reads it.
                unsafe { owner.buffer_ptr(i).write_bytes(0xff, 2048) };
            }
        }
        // SAFETY: `lent` is a buffer the borrower was lent (it owns it until it gives it back).
        let p = unsafe { borrower.packet_from_buffer(lent) };
        assert_eq!(p.data(), b"crossing");
        drop(p);
        let mut back = [0u32; 128];
        assert_eq!(borrower.take_free(&mut back), 1);
        assert_eq!(back[0], lent.index);
        // SAFETY: the owner lent this buffer out and takes it back once.
        unsafe { owner.put_bulk(&back[..1]) };
        let all: Vec<_> = (0..256).map(|_| owner.alloc().unwrap()).collect();
        assert!(owner.alloc().is_none());
        drop(all);
        assert_eq!(owner.in_use(), 0);
    }

    #[test]
    fn buffers_are_an_odd_number_of_cache_lines_apart() {
        assert_eq!(buffer_stride(2048), 33 * 64, "2 KiB buffers: 33 lines, so headers walk every L1 set");
        assert_eq!(buffer_stride(1500), 25 * 64, "already odd: no padding");
        assert_eq!(buffer_stride(96 * 1024), 1537 * 64);
        let p = pool(64, 2048, 0);
        let gaps: Vec<_> = (0..2).map(|i| p.buffer_ptr(i + 1) as usize - p.buffer_ptr(i) as usize).collect();
        assert_eq!(gaps, [33 * 64, 33 * 64]);
    }

    #[test]
    fn a_region_too_small_for_the_buffers_is_refused() {
        let (region, _fd) = Region::shared("t", 4096, Prefer::Normal).unwrap();
        let e = Pool::in_shared_region(PoolConfig::new("small", 4096, 2048), region).unwrap_err();
        assert_eq!(e.to_string(), "pool 'small' needs 8650752 bytes for its buffers, the memory given holds 2097152");
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
