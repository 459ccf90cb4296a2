//! Where a pool's buffers lie in its memory: buffer 0 placed so that new data starts a line, buffers an odd
//! number of lines apart.

use super::PoolConfig;

/// Where a pool's buffers lie ([`super::PoolInner::buffers`]), valid while the pool lives.
#[derive(Clone, Copy)]
pub(crate) struct Buffers {
    base: *mut u8,
    stride: usize,
    count: u32,
}

impl Buffers {
    /// `count` buffers from `base` on, `stride` bytes apart.
    pub(super) fn new(base: *mut u8, stride: usize, count: u32) -> Buffers {
        Buffers { base, stride, count }
    }

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

/// Distance between two buffers of a pool made with `config`: [`buffer_stride`], or the buffer size
/// rounded up to a power of two for [`PoolConfig::chunks`].
pub(super) fn stride_of(config: &PoolConfig) -> usize {
    match config.chunks {
        true => (config.buf_size as usize).next_power_of_two(),
        false => buffer_stride(config.buf_size),
    }
}

/// Where buffer 0 starts in the memory of a pool made with `config`: [`buffer_lead`], or at the start for
/// [`PoolConfig::chunks`].
pub(super) fn lead_of(config: &PoolConfig) -> usize {
    match config.chunks {
        true => 0,
        false => buffer_lead(config.headroom),
    }
}

/// Bytes of memory a pool made with `config` needs (its layout's [`pool_bytes`]).
pub(super) fn bytes_of(config: &PoolConfig) -> usize {
    lead_of(config) + stride_of(config) * config.buffers as usize
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

/// The layout of a pool's memory (see [`super::Pool::memory`]). Valid for as long as the pool lives.
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
