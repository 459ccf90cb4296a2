//! Slices: packets over a region of a buffer that other slices share, named by their handle alone.
//!
//! Split-mode packing copies consecutive frames into one large buffer, each into a 16-byte-aligned region
//! right after the previous one. A *view* says where its region lies in a descriptor, written by the core
//! that packs and read by the core that receives: one line crossing between cores per frame, on top of the
//! frame's own. A slice says it in its handle instead (which buffer, where its region starts, and its
//! ordinal among the buffer's slices), and holds one share of the buffer's refcount; receiving, reading and
//! freeing it touches the frame's lines and the buffer's count, nothing else.
//!
//! A slice that needs a descriptor (metadata written, a chain, moved data) gets one without allocating:
//! a pool that allows slices keeps [`SLICES_PER_BUFFER`] descriptors per buffer, and slice `k` of a buffer
//! always uses that buffer's `k`-th. The slice's share of the buffer keeps the buffer from being reused,
//! and so keeps the slot its own, for as long as it lives.

use super::buflet::Released;
use super::PoolInner;

/// Slices one buffer is cut into at most, per life of the buffer.
pub const SLICES_PER_BUFFER: u32 = 1 << ORDINAL_BITS;
const ORDINAL_BITS: u32 = 5;
/// Regions start at multiples of this many bytes into their buffer (Apple's packing alignment).
pub const SLICE_ALIGN: u32 = 16;

/// Where a pool's slices keep their buffer, ordinal and region in the 32 bits of a handle's head: the
/// region's start (in [`SLICE_ALIGN`] units) in the low `unit_bits`, the ordinal above it, the buffer above
/// that.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SliceGeometry {
    unit_bits: u32,
}

impl SliceGeometry {
    /// The geometry for `buffers` buffers of `buf_size` bytes, or `None` when the three fields do not fit
    /// 32 bits together (with room to spare: no slice is `NIL`) or the size is not a multiple of
    /// [`SLICE_ALIGN`].
    pub(crate) fn for_pool(buffers: u32, buf_size: u32) -> Option<SliceGeometry> {
        // Regions end within the buffer only when it is a whole number of them.
        if !buf_size.is_multiple_of(SLICE_ALIGN) {
            return None;
        }
        let units = buf_size / SLICE_ALIGN;
        let unit_bits = u32::BITS - (units - 1).leading_zeros();
        let buffer_bits = u32::BITS.checked_sub(unit_bits + ORDINAL_BITS)?;
        // Strictly fewer: the last buffer's last slice starting at the last unit would be all ones, `NIL`.
        (u64::from(buffers) < 1u64 << buffer_bits).then_some(SliceGeometry { unit_bits })
    }

    /// The head of slice `ordinal` of buffer `buffer`, its region starting `start` bytes in (a multiple of
    /// [`SLICE_ALIGN`]).
    #[inline]
    pub(crate) fn encode(&self, buffer: u32, ordinal: u32, start: u32) -> u32 {
        debug_assert!(
            ordinal < SLICES_PER_BUFFER
                && start.is_multiple_of(SLICE_ALIGN)
                && start / SLICE_ALIGN < 1 << self.unit_bits
        );
        (((buffer << ORDINAL_BITS) | ordinal) << self.unit_bits) | (start / SLICE_ALIGN)
    }

    /// The buffer of slice `head`.
    #[inline]
    pub(crate) fn buffer(&self, head: u32) -> u32 {
        head >> (self.unit_bits + ORDINAL_BITS)
    }

    /// The ordinal of slice `head` among its buffer's slices.
    #[inline]
    pub(crate) fn ordinal(&self, head: u32) -> u32 {
        (head >> self.unit_bits) & (SLICES_PER_BUFFER - 1)
    }

    /// Where slice `head`'s region starts in its buffer, in bytes.
    #[inline]
    pub(crate) fn start(&self, head: u32) -> u32 {
        (head & ((1 << self.unit_bits) - 1)) * SLICE_ALIGN
    }
}

impl PoolInner {
    /// This pool's slice geometry.
    ///
    /// # Panics
    /// If the pool was not made to allow slices: only slices of such pools exist.
    #[inline]
    pub(crate) fn slices(&self) -> SliceGeometry {
        self.slices.expect("a slice of a pool that allows none")
    }

    /// Whether this pool allows slices ([`super::PoolConfig::slices`], and a geometry that fits).
    pub(crate) fn allows_slices(&self) -> bool {
        self.slices.is_some()
    }

    /// The descriptor slot that slice `head` uses when it needs one.
    #[inline]
    pub(crate) fn slice_slot(&self, head: u32) -> u32 {
        let g = self.slices();
        self.count + g.buffer(head) * SLICES_PER_BUFFER + g.ordinal(head)
    }

    /// Whether descriptor `idx` belongs to a buffer (else it is a slice's slot, with no buffer of its own).
    #[inline]
    pub(crate) fn has_buffer(&self, idx: u32) -> bool {
        idx < self.count
    }

    /// Makes buffer `buffer`'s count `n` shares, all the caller's: a plain store, where an atomic add would
    /// wait for the line the core that freed the buffer last wrote.
    ///
    /// # Safety
    /// The caller holds the buffer's only share (a new plain packet it takes apart).
    #[inline]
    pub(crate) unsafe fn set_shares(&self, buffer: u32, n: u32) {
        // SAFETY: forwarded contract.
        unsafe { self.refcnt(buffer).set(n) };
    }

    /// Gives up `n` shares of buffer `buffer` held by slices being freed, pushing the buffer into `out`
    /// when they were its last.
    ///
    /// # Safety
    /// The caller owns `n` slices of `buffer` (or a packer's `n` shares) and gives them up.
    #[inline]
    pub(crate) unsafe fn release_slices(&self, buffer: u32, n: u32, out: &mut Released) {
        // SAFETY: forwarded contract.
        if unsafe { self.release_ref(buffer, n) } {
            out.push(buffer);
        }
    }

    /// [`PoolInner::release_slices`] giving the buffer back at once when the shares were its last.
    ///
    /// # Safety
    /// As for `release_slices`.
    pub(crate) unsafe fn release_slices_now(&self, buffer: u32, n: u32) {
        // SAFETY: forwarded contract.
        if unsafe { self.release_ref(buffer, n) } {
            // SAFETY: the shares given up were the buffer's last: nobody else holds it now.
            unsafe { self.put_bulk(&[buffer]) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_round_trip_at_the_edges() {
        for (buffers, buf_size) in [(1024, 96 * 1024), (4095, 512 * 1024), ((1 << 20) - 1, 2048), (2, 64)] {
            let g = SliceGeometry::for_pool(buffers, buf_size).expect("fits");
            for buffer in [0, buffers / 2, buffers - 1] {
                for ordinal in [0, 1, SLICES_PER_BUFFER - 1] {
                    for start in [0, SLICE_ALIGN, (buf_size - 1) / SLICE_ALIGN * SLICE_ALIGN] {
                        let head = g.encode(buffer, ordinal, start);
                        assert_eq!((g.buffer(head), g.ordinal(head), g.start(head)), (buffer, ordinal, start));
                    }
                }
            }
        }
    }

    #[test]
    fn pools_too_large_for_the_handle_have_no_geometry() {
        // 512 KiB buffers take 15 bits of region, 5 of ordinal: 12 are left, 4096 buffers, of which the
        // last could make a handle of all ones.
        assert!(SliceGeometry::for_pool(4095, 512 * 1024).is_some());
        assert!(SliceGeometry::for_pool(4096, 512 * 1024).is_none());
        assert!(SliceGeometry::for_pool(1 << 24, 1 << 20).is_none());
        assert!(SliceGeometry::for_pool(8, 1000).is_none(), "regions would end past the buffer");
    }
}
