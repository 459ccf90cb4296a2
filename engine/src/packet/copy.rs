//! Copying a packet into another pool, buflet by buflet, keeping its layout (the private-pool crossing).

use super::{born_tag, Packet, SIMPLE};
use crate::pool::buflet::NIL;
use crate::pool::{Pool, PoolInner};

impl Packet {
    /// Copies the packet into `pool`, keeping its buflet layout: same number of buflets, each with its data
    /// at the same offset and length (the private-pool crossing). Metadata is left at its defaults.
    pub fn copy_layout_to(&self, pool: &Pool) -> Result<Packet, CopyError> {
        let dst = pool.inner();
        if self.is_direct() && self.headroom() == dst.headroom as usize && self.len() <= dst.room() {
            // The copy is plain too: its data sits at the destination's headroom, so no descriptor is written.
            // Cannot fail: a new plain packet of a pool with the same headroom and room enough.
            let copied = self.copy_plain_into(dst.alloc_plain().ok_or(CopyError::NoMemPacket)?);
            debug_assert!(copied.is_ok(), "a plain copy into a new plain packet");
            if let Ok(copy) = copied {
                return Ok(copy);
            }
        }
        self.copy_layout_chained(dst)
    }

    /// Copies this direct packet's data into `dst`, an empty plain packet whose pool has the same headroom,
    /// so that a driver copying a burst allocates the copies in bulk. Returns the copy, or `dst` unchanged
    /// when this is not direct or `dst` not plain, `dst` is not empty, the headrooms differ or the data does not fit.
    ///
    /// Takes and returns `dst` by value so that the copy's new length is set in a register: a two-byte
    /// store into a handle in memory, read back whole just after, cannot be forwarded and makes the load
    /// wait until every earlier store (the data just copied, into a line the other core holds) is done.
    #[inline]
    pub fn copy_plain_into(&self, dst: Packet) -> Result<Packet, Packet> {
        let fits = self.is_direct()
            && dst.is_plain()
            && dst.is_empty()
            && self.headroom() == dst.headroom()
            && self.len() <= dst.tailroom();
        if !fits {
            return Err(dst);
        }
        // SAFETY: both are direct packets owning their memory; `dst` has room for the data (checked).
        unsafe { std::ptr::copy_nonoverlapping(self.direct_ptr(), dst.plain_ptr(), self.len()) };
        let (tag, head) = dst.into_raw();
        Ok(Packet::from_parts(head, tag, self.cached_len()))
    }

    /// [`Packet::copy_layout_to`] for packets that are not plain (several buflets, moved data, metadata).
    #[inline(never)]
    fn copy_layout_chained(&self, dst: &PoolInner) -> Result<Packet, CopyError> {
        let n = self.buflet_count();
        if n > dst.max_buflets as usize || self.buflets().any(|b| b.offset + b.data.len() > dst.buf_size as usize) {
            return Err(CopyError::Layout);
        }
        let mut idxs = [0u32; 64];
        if !dst.get_bulk(&mut idxs[..1]) {
            return Err(CopyError::NoMemPacket);
        }
        if n > 1 && !dst.get_bulk(&mut idxs[1..n]) {
            // SAFETY: idxs[0] was just taken from dst and is returned once.
            unsafe { dst.put_bulk(&idxs[..1]) };
            return Err(CopyError::NoMemBuffer);
        }
        for (i, seg) in self.buflets().enumerate() {
            let b = idxs[i];
            // SAFETY: `b` was just taken from dst: ours alone.
            let d = unsafe { dst.desc_mut(b) };
            d.reset(b, seg.offset as u32, dst.buf_size);
            d.len = seg.data.len() as u32;
            d.next = if i + 1 < n { idxs[i + 1] } else { NIL };
            // SAFETY: as above; the window fits the buffer (checked before allocating).
            unsafe { dst.bytes_mut(d) }.copy_from_slice(seg.data);
        }
        // SAFETY: the new head is ours alone.
        let h = unsafe { dst.desc_mut(idxs[0]) };
        h.pkt_len = self.len() as u32;
        h.nbuflets = n as u16;
        let simple = if n == 1 { SIMPLE } else { 0 };
        Ok(Packet::from_parts(idxs[0], born_tag(dst) | simple, self.cached_len()))
    }
}

/// Why [`Packet::copy_layout_to`] failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CopyError {
    /// No buffer for the packet (its first buflet): feth's nomem-packet drop.
    #[error("no buffer for the packet")]
    NoMemPacket,
    /// No buffer for a later buflet: feth's nomem-buffer drop. Nothing was kept.
    #[error("no buffer for a buflet")]
    NoMemBuffer,
    /// The destination's buffers are too small or its chains too short for this layout.
    #[error("destination pool cannot hold this buflet layout")]
    Layout,
}
