//! Growing and shrinking a packet: appends that chain buflets when the last is full, room made or given
//! back at either end, headroom moved.

use super::{Packet, PacketError, SIMPLE};
use crate::pool::buflet::NIL;

impl Packet {
    /// Free bytes after the data in the last buflet.
    #[inline]
    pub fn tailroom(&self) -> usize {
        if self.is_plain() {
            return self.pool().room() - usize::from(self.cached_len());
        }
        if self.is_slice() {
            return self.slice_tailroom();
        }
        self.desc(self.tail()).tailroom()
    }

    /// Appends `src`, filling the last buflet and then chaining new buflets from the same pool.
    /// On error nothing was appended.
    #[inline(always)]
    pub fn append(&mut self, src: &[u8]) -> Result<(), PacketError> {
        if self.stays_plain_with(src.len()) {
            // SAFETY: the bytes after the data up to the buffer's end belong to this plain packet, and
            // `src.len()` of them are free.
            unsafe { std::ptr::copy_nonoverlapping(src.as_ptr(), self.plain_ptr().add(self.len()), src.len()) };
            self.set_cached_len(self.cached_len() + src.len() as u16);
            return Ok(());
        }
        self.append_chained(src)
    }

    /// [`Packet::append`] beyond a plain packet's one buffer (kept out of line: the fast path stays small).
    #[inline(never)]
    fn append_chained(&mut self, src: &[u8]) -> Result<(), PacketError> {
        self.grow_chained(src.len(), Some(src))
    }

    /// Grows the packet by `n` bytes, filling the last buflet and then chaining new buflets from the same
    /// pool, without writing them: a driver reads a frame of unknown length into the whole room this gives
    /// (one iovec per buflet, [`Packet::for_each_segment_mut`]) and then [`Packet::truncate`]s to what
    /// arrived. The new bytes keep whatever the buffers held. On error the packet is unchanged.
    #[inline]
    pub fn extend_chained(&mut self, n: usize) -> Result<(), PacketError> {
        if self.stays_plain_with(n) {
            self.set_cached_len(self.cached_len() + n as u16);
            return Ok(());
        }
        self.grow_chained(n, None)
    }

    /// Grows the packet by `n` bytes across buflets, copying them from `src` when given.
    fn grow_chained(&mut self, n: usize, src: Option<&[u8]>) -> Result<(), PacketError> {
        debug_assert!(src.is_none_or(|s| s.len() == n));
        if self.grow_slice_in_place(n, src) {
            return Ok(());
        }
        // A plain packet is its head buflet alone: no chain to walk for its tail (whose descriptor
        // `materialize` has only just written).
        let was_plain = self.is_plain();
        self.materialize();
        let tail = if was_plain { self.head() } else { self.tail() };
        // SAFETY: the packet keeps every buffer it has until this method returns (it only gains some).
        let pool = unsafe { self.pool_unbound() };
        let room = self.desc(tail).tailroom();
        if n <= room {
            // The common case (a split view filling its window, a frame growing in its last buflet) needs no
            // new buflet, nor the zeroed index array below.
            // SAFETY: the tail buflet is this packet's; its tailroom is ours to write.
            let dst = unsafe { pool.tail_bytes_mut(self.desc(tail)) };
            if let Some(src) = src {
                dst[..n].copy_from_slice(src);
            }
            self.desc_mut(tail).len += n as u32;
            self.set_len(self.len() as u32 + n as u32);
            return Ok(());
        }
        let mut extra = [0u32; 64];
        let need = (n - room).div_ceil(pool.buf_size as usize);
        if self.buflet_count() + need > pool.max_buflets as usize || need > extra.len() {
            return Err(PacketError::TooLong);
        }
        if !pool.get_bulk(&mut extra[..need]) {
            return Err(PacketError::NoMem);
        }
        // The new buflets' descriptors are lines another core may have read last: ask for them together,
        // before the copy.
        extra[..need].iter().for_each(|&nb| pool.prefetch_desc_for_write(nb));
        // The tail's room first, then the new buflets, each full but the last. Their descriptors are only
        // written, never read back: a read of a line this core is still fetching for a store waits for it
        // (perf had a quarter of this function there).
        // SAFETY: the tail buflet is this packet's; its tailroom (`room` bytes) is ours to write.
        let dst = unsafe { pool.tail_bytes_mut(self.desc(tail)) };
        if let Some(src) = src {
            dst.copy_from_slice(&src[..room]);
        }
        self.desc_mut(tail).len += room as u32;
        let (size, mut copied, mut b) = (pool.buf_size as usize, room, tail);
        for &nb in &extra[..need] {
            let k = size.min(n - copied);
            if let Some(src) = src {
                // SAFETY: `nb` was just taken from the pool: its buffer, `size` bytes, is ours alone.
                let dst = unsafe { std::slice::from_raw_parts_mut(pool.buf_ptr(nb), k) };
                dst.copy_from_slice(&src[copied..copied + k]);
            }
            // `nb` was just taken from the pool to join the chain.
            let d = self.desc_mut(nb);
            d.reset(nb, 0, pool.buf_size);
            d.len = k as u32;
            self.desc_mut(b).next = nb;
            b = nb;
            copied += k;
        }
        debug_assert_eq!(copied, n);
        let total = self.len() as u32 + n as u32;
        self.set_tag(self.tag() & !SIMPLE);
        self.head_desc_mut().nbuflets += need as u16;
        self.set_len(total);
        Ok(())
    }

    /// Grows the packet by `n` bytes in the last buflet's tailroom without writing them (they keep whatever
    /// the buffer held: a generator that rewrites only headers, like DPDK's net_null, skips the copy).
    ///
    /// Inlined like [`Packet::append`]: a receive path extends every packet of a burst, and the plain case
    /// is two instructions where a call costs more than the work.
    #[inline]
    pub fn extend(&mut self, n: usize) -> Result<(), PacketError> {
        if self.stays_plain_with(n) {
            self.set_cached_len(self.cached_len() + n as u16);
            return Ok(());
        }
        self.extend_described(n)
    }

    /// [`Packet::extend`] of a packet whose length lives in its descriptor. (Left to the compiler: forcing
    /// it out of line, as `append_chained` is, measured 2-5% slower on the null port's receive.)
    fn extend_described(&mut self, n: usize) -> Result<(), PacketError> {
        if self.grow_slice_in_place(n, None) {
            return Ok(());
        }
        self.materialize();
        let tail = self.tail();
        let d = self.desc_mut(tail);
        if n > d.tailroom() {
            return Err(PacketError::TooLong);
        }
        d.len += n as u32;
        let total = self.len() as u32 + n as u32;
        self.set_len(total);
        Ok(())
    }

    /// Shortens the packet to `len` bytes, returning buflets that become empty (except the first).
    pub fn truncate(&mut self, len: usize) {
        if len >= self.len() {
            return;
        }
        if self.is_direct() {
            self.set_cached_len(len as u16);
            return;
        }
        let mut keep = len;
        let mut b = self.head();
        let mut count = 1u16;
        let cut = loop {
            let d = self.desc_mut(b);
            if keep <= d.len as usize {
                d.len = keep as u32;
                break std::mem::replace(&mut d.next, NIL);
            }
            keep -= d.len as usize;
            b = d.next;
            count += 1;
        };
        self.head_desc_mut().nbuflets = count;
        self.set_len(len as u32);
        if cut != NIL {
            // SAFETY: the buflets from `cut` on were ours and are unlinked from the packet above.
            unsafe { self.pool().free_chain(cut) };
        }
    }

    /// Grows the packet at the front by `n` bytes taken from the headroom, returning them to fill in.
    pub fn prepend(&mut self, n: usize) -> Result<&mut [u8], PacketError> {
        if n > self.headroom() {
            return Err(PacketError::NoHeadroom);
        }
        let total = self.len() as u32 + n as u32;
        let h = self.head_desc_mut();
        h.off -= n as u32;
        h.len += n as u32;
        self.set_len(total);
        Ok(&mut self.data_mut()[..n])
    }

    /// Removes `n` bytes from the front of the first buflet (they become headroom).
    pub fn adj(&mut self, n: usize) -> Result<(), PacketError> {
        let total = self.len() as u32;
        let h = self.head_desc_mut();
        if n > h.len as usize {
            return Err(PacketError::OutOfRange { offset: 0, len: n, packet_len: h.len as usize });
        }
        h.off += n as u32;
        h.len -= n as u32;
        self.set_len(total - n as u32);
        Ok(())
    }

    /// Moves the (empty) packet's data start to `headroom` bytes into its first buflet's region.
    pub fn set_headroom(&mut self, headroom: usize) -> Result<(), PacketError> {
        let empty = self.is_empty();
        let h = self.head_desc_mut();
        // Compared with the region's size, not added to its start: any `headroom` a caller passes, however
        // large, is refused rather than wrapping into a small offset.
        if !empty || headroom > (h.limit - h.start) as usize {
            return Err(PacketError::NoHeadroom);
        }
        h.off = h.start + headroom as u32;
        Ok(())
    }

    /// Size of the first buflet's region (headroom + data + tailroom).
    pub fn region_size(&self) -> usize {
        if self.is_plain() {
            return self.pool().buf_size as usize;
        }
        if self.is_slice() {
            return self.slice_region(self.pool()) as usize;
        }
        let h = self.head_desc();
        (h.limit - h.start) as usize
    }
}
