//! How a pool is built ([`PoolConfig`], checked knob by knob), what it counts, and why building one fails.

use super::{DEFAULT_CACHE_SIZE, MAX_BULK, MAX_POOLS};
use crate::error::{check_range, KnobError};
use crate::mem::{MemError, Prefer};

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
    /// [`slice`](super::slice)): the pool then keeps 32 descriptors per buffer for slices that come to need one. Taken
    /// as false (packing then uses views) when a slice's handle cannot name every buffer and region, or the
    /// buffer size is not a multiple of 16.
    pub slices: bool,
    /// Whether the buffers are laid out as power-of-two chunks from the memory's start (the buffer size
    /// rounded up to a power of two apart, buffer 0 at offset 0) instead of an odd number of cache lines
    /// apart behind a lead ([`buffer_stride`](super::buffer_stride), [`buffer_lead`](super::buffer_lead)):
    /// then no buffer of up to a page crosses one, as an AF_XDP zero-copy queue needs of its UMEM (its
    /// aligned mode). The odd spacing's spread of headers over the cache's sets is lost.
    pub chunks: bool,
    /// Whether the pool's packets are Ethernet frames: their metadata's link-header length reads 14 from
    /// allocation until written, as a driver that marks every frame it sends would leave it (feth's pools),
    /// with nothing written per packet.
    pub ethernet: bool,
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
            chunks: false,
            ethernet: false,
        }
    }

    pub(super) fn validate(&self) -> Result<(), KnobError> {
        check_range("pool-size", self.buffers, 1, 1 << 24, "1..=16777216")?;
        check_range("buffer-size", self.buf_size, 64, MAX_BUFFER_BYTES, "64..=1048576")?;
        if self.headroom >= self.buf_size {
            return Err(KnobError::new("headroom", self.headroom, "less than the buffer size"));
        }
        check_range("max-buflets", self.max_buflets, 1, 64, "1..=64")?;
        check_range("cache-size", self.cache_size, 0, MAX_BULK as u32, "0..=512")?;
        Ok(())
    }
}

/// The largest buffer a pool may have, in bytes.
pub(crate) const MAX_BUFFER_BYTES: u32 = 1 << 20;

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
