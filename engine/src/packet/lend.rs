//! Lending a packet's buffer out of the packet API and taking it back: drivers whose hardware or kernel
//! reads and writes the pool's memory directly (an AF_XDP UMEM carved from the pool) pass bare buffer
//! indices to it, and make packets of what comes back, without a copy.

use super::{one_pool_id, plain_packet, plain_tag, tag_bits, Packet, NIL, PLAIN, POOL_ID_MASK, SIMPLE};
use crate::pool::{Pool, PoolInner};
use arrayvec::ArrayVec;

/// One buffer of a pool, taken out of a packet (or from [`Pool::get_bulk`]) and owned by whoever holds it,
/// with the window of it that holds data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LentBuffer {
    /// Buffer index in its pool.
    pub index: u32,
    /// Offset of the data from the start of the buffer.
    pub offset: u32,
    /// Data bytes.
    pub len: u32,
}

impl Packet {
    /// Gives up this handle for its buffer when the packet is exactly one buffer of `pool` that no other
    /// packet shares; otherwise returns the packet unchanged. The holder then owns the buffer: it goes back
    /// with [`Pool::put_bulk`] or becomes a packet again with [`Pool::packet_from_buffer`]. Metadata is not
    /// kept.
    #[inline]
    pub fn into_buffer(self, pool: &Pool) -> Result<LentBuffer, Packet> {
        if self.tag() & SIMPLE == 0 || self.tag() & POOL_ID_MASK != pool.id() {
            return Err(self);
        }
        let offset = self.headroom() as u32;
        let len = self.len() as u32;
        let (_, index) = self.into_raw();
        Ok(LentBuffer { index, offset, len })
    }
}

/// The buffers of a run of plain packets, as [`Pool::lend_plain_burst`] lends them: read from the handles.
#[derive(Debug, Clone)]
pub struct PlainBuffers<'a> {
    pkts: std::slice::Iter<'a, Packet>,
    /// The pool's headroom, where a plain packet's data starts.
    offset: u32,
}

impl Iterator for PlainBuffers<'_> {
    type Item = LentBuffer;

    #[inline]
    fn next(&mut self) -> Option<LentBuffer> {
        let p = self.pkts.next()?;
        Some(LentBuffer { index: p.head(), offset: self.offset, len: u32::from(p.cached_len()) })
    }

    #[inline]
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.pkts.size_hint()
    }
}

impl ExactSizeIterator for PlainBuffers<'_> {}

/// Most buffers one packet lends at once: the longest chain a pool allows.
pub const MAX_LENT_CHAIN: usize = 64;

/// The buffers of a lent chain, head first.
pub type LentChain = ArrayVec<LentBuffer, MAX_LENT_CHAIN>;

impl Packet {
    /// Whether the packet is a plain buffer of `pool`: one whole buffer that nothing shares, its data
    /// where the pool puts a new packet's (at its headroom) and its length in the handle; its metadata
    /// may have been written (lending does not keep it). [`Packet::into_buffer`] takes such a packet,
    /// and a driver lending a burst can tell with a tag test which of its packets need no more looking at.
    #[inline]
    pub fn is_plain_of(&self, pool: &Pool) -> bool {
        self.tag() & (PLAIN | SIMPLE | POOL_ID_MASK) == PLAIN | SIMPLE | pool.id()
    }

    /// [`Packet::into_buffer`] for a packet of any number of buflets: gives up the handle and writes each
    /// buflet's buffer, head first, into `out` (cleared first), when every buflet is a whole buffer of
    /// `pool` that nothing else shares; otherwise returns the packet unchanged. Metadata is not kept.
    #[inline]
    pub fn into_buffers(self, pool: &Pool, out: &mut LentChain) -> Result<(), Packet> {
        out.clear();
        if self.tag() & SIMPLE != 0 {
            return self.into_buffer(pool).map(|b| out.push(b));
        }
        if self.tag() & POOL_ID_MASK != pool.id() || self.is_direct() || !self.chain_is_lendable(pool.inner(), out) {
            return Err(self);
        }
        let _ = self.into_raw();
        Ok(())
    }

    /// Whether every buflet is a direct, unshared buffer of `pool`, writing their windows into `out`.
    fn chain_is_lendable(&self, pool: &PoolInner, out: &mut LentChain) -> bool {
        let mut b = self.head();
        while b != NIL {
            let d = self.desc(b);
            if d.mem != b || !pool.is_sole_holder(b) || out.is_full() {
                return false;
            }
            out.push(LentBuffer { index: b, offset: d.off, len: d.len });
            b = d.next;
        }
        true
    }
}

impl Pool {
    /// [`Packet::into_buffer`] of the first `n` packets of `pkts` at once, when every one of them is a plain
    /// buffer of this pool ([`Packet::is_plain_of`]): one look at their tags and no per-packet pool lookup.
    /// `lend` sees their buffers first, as an iterator it may clone to go over them several times (each
    /// pass reads the handles again: a plain packet's buffer and length are in its handle, and copying
    /// them out into an array first cost a store and a load per packet more than it saved); then the
    /// handles are given up and the caller owns the buffers. Returns what `lend` returned, or `None` (and
    /// takes nothing, and `lend` is not called) when `n` is more than `pkts` holds or the packets are not
    /// all plain buffers of this pool. Should `lend` panic, nothing is taken: the packets stay in `pkts`
    /// (so a `lend` that records the buffers as its own must do nothing that can panic after recording them).
    #[inline]
    pub fn lend_plain_burst<const N: usize, R>(
        &self,
        pkts: &mut ArrayVec<Packet, N>,
        n: usize,
        lend: impl FnOnce(PlainBuffers<'_>) -> R,
    ) -> Option<R> {
        let burst = pkts.get(..n)?;
        if !burst.is_empty() && one_pool_id(burst, PLAIN | SIMPLE, PLAIN | SIMPLE) != Some(self.id()) {
            return None;
        }
        let lent = lend(PlainBuffers { pkts: burst.iter(), offset: self.inner().headroom });
        pkts.drain(..n).for_each(std::mem::forget);
        Some(lent)
    }

    /// How many packets from the front of `pkts` are [plain buffers](Packet::is_plain_of) of this pool no
    /// longer than `max_len`: the run a driver lends with [`Pool::lend_plain_burst`]. A burst that is all
    /// of them (the usual one) is found in one pass with no branch per packet; a scan that stops at the
    /// first other one paid a branch and the pool's id read again per packet (a fifth of the shm sender's
    /// send in a profile).
    #[inline]
    pub fn plain_run(&self, pkts: &[Packet], max_len: usize) -> usize {
        let want = PLAIN | SIMPLE | self.id();
        // A plain packet's length is in its handle; a length over `max` sets the top bit of `max - len`.
        let max = max_len.min(usize::from(u16::MAX)) as u64;
        let over = |p: &Packet| max.wrapping_sub(u64::from(p.cached_len()));
        // Differences and excesses gathered with ORs, which vectorize with no compare of 64-bit lanes; the
        // differences of whole handles, narrowed to the tag's bits once at the end (see `one_pool_id`).
        let (differ, excess) = pkts.iter().fold((0, 0), |(d, e), p| (d | (p.bits ^ tag_bits(want)), e | over(p)));
        if differ & tag_bits(PLAIN | SIMPLE | POOL_ID_MASK) == 0 && excess >> 63 == 0 {
            return pkts.len();
        }
        // Not all of them: the packet-by-packet test, which stops at the first other one.
        pkts.iter().take_while(|p| p.is_plain_of(self) && over(p) >> 63 == 0).count()
    }

    /// Plain packets ([`Packet::is_plain_of`]) of buffers the caller owns, appended to `pkts` from `bufs`
    /// (each a buffer index and the length of its data, which starts at the pool's headroom) while `pkts`
    /// has room; `bufs` is not asked for more than fit. Returns how many were appended. For a driver's
    /// receive that turns a ring of frames into packets: the tag is made once for the burst and the handles
    /// are written with nothing else per packet, where [`Pool::packet_from_buffer`] reads the pool's
    /// layout again for each one (the stores to the driver's own records in between may, for all the
    /// compiler knows, have changed it). Should `bufs` panic, the packets made so far are forgotten: their
    /// buffers leak, and nothing is freed twice.
    ///
    /// # Safety
    /// Each buffer yielded is one of this pool that the caller owns (as for [`Pool::packet_from_buffer`]),
    /// named once, and its length is below `u16::MAX` and at most [`Pool::buf_size`] less
    /// [`Pool::headroom`]. The packets now own them.
    #[inline]
    pub unsafe fn extend_plain<const N: usize>(
        &self,
        pkts: &mut ArrayVec<Packet, N>,
        mut bufs: impl Iterator<Item = (u32, u16)>,
    ) -> usize {
        let pool = self.inner();
        let (tag, room, count) = (plain_tag(pool), pool.buf_size - pool.headroom, self.capacity());
        let (before, out) = (pkts.len(), pkts.as_mut_ptr());
        // The write position is the loop's only count: `take` and `extend` would keep two more.
        let mut n = before;
        while n < N {
            let Some((index, len)) = bufs.next() else { break };
            debug_assert!(len < u16::MAX && u32::from(len) <= room && (index as usize) < count);
            // SAFETY: `n` is below the capacity, and the slots from the length on are free.
            unsafe { out.add(n).write(Packet::from_parts(index, tag, len)) };
            n += 1;
        }
        // SAFETY: the handles up to `n` were written just above, and `n` is at most the capacity.
        unsafe { pkts.set_len(n) };
        n - before
    }

    /// A packet chaining `bufs` in order (see [`Pool::packet_from_buffer`] for one).
    ///
    /// # Safety
    /// Every buffer is one the caller owns, as for `packet_from_buffer`, each named once; there are
    /// 1..=[`Pool::max_buflets`] of them. The packet now owns them.
    pub unsafe fn packet_from_buffers(&self, bufs: &[LentBuffer]) -> Packet {
        debug_assert!(!bufs.is_empty() && bufs.len() <= usize::from(self.max_buflets()));
        if let [one] = bufs {
            // SAFETY: forwarded contract.
            return unsafe { self.packet_from_buffer(*one) };
        }
        let pool = self.inner();
        let mut total = 0u32;
        for (i, buf) in bufs.iter().enumerate() {
            debug_assert!(buf.offset + buf.len <= pool.buf_size);
            // SAFETY: the caller owns every buffer (contract), so their descriptors are ours to write.
            let d = unsafe { pool.desc_mut(buf.index) };
            d.reset_head(buf.index, buf.offset, pool.buf_size);
            d.len = buf.len;
            d.next = bufs.get(i + 1).map_or(NIL, |n| n.index);
            total += buf.len;
        }
        // SAFETY: as above.
        let head = unsafe { pool.desc_mut(bufs[0].index) };
        head.pkt_len = total;
        head.nbuflets = bufs.len() as u16;
        Packet::from_parts(bufs[0].index, super::born_tag(pool), super::short_len(total))
    }

    /// A packet of one buffer whose data is `buf.len` bytes at `buf.offset` (written there by the kernel or
    /// a device, say).
    ///
    /// # Safety
    /// `buf.index` is a buffer of this pool that the caller owns (as [`Pool::put_bulk`] says: taken raw
    /// or out of a packet, and not given back since), and `buf.offset + buf.len` is at most
    /// [`Pool::buf_size`]. The packet now owns it.
    #[inline]
    pub unsafe fn packet_from_buffer(&self, buf: LentBuffer) -> Packet {
        let pool = self.inner();
        debug_assert!(buf.offset + buf.len <= pool.buf_size);
        if buf.offset == pool.headroom && buf.len < u32::from(u16::MAX) {
            // A frame at the usual offset is a handle and nothing else, made where the caller's loop is (a
            // driver's receive makes one per frame: the call cost more than the packet).
            return plain_packet(pool, buf.index, buf.len as u16);
        }
        // SAFETY: forwarded contract.
        unsafe { self.packet_from_described_buffer(buf) }
    }

    /// [`Pool::packet_from_buffer`] of a buffer whose data is not at the usual offset, or is too long for a
    /// handle: its descriptor says where.
    ///
    /// # Safety
    /// As [`Pool::packet_from_buffer`].
    #[inline(never)]
    unsafe fn packet_from_described_buffer(&self, buf: LentBuffer) -> Packet {
        let pool = self.inner();
        // SAFETY: the caller owns the buffer (contract), so its descriptor is ours to write.
        let d = unsafe { pool.desc_mut(buf.index) };
        d.reset_head(buf.index, buf.offset, pool.buf_size);
        d.len = buf.len;
        d.pkt_len = buf.len;
        Packet::from_parts(buf.index, super::born_tag(pool) | SIMPLE, super::short_len(buf.len))
    }
}

#[cfg(test)]
mod tests {
    use crate::mem::Prefer;
    use crate::pool::{Pool, PoolConfig};

    fn pool() -> Pool {
        let mut c = PoolConfig::new("lend", 64, 2048);
        c.prefer = Prefer::Normal;
        Pool::new(c).unwrap()
    }

    #[test]
    fn a_lent_buffer_comes_back_as_the_same_bytes_at_any_offset() {
        let pool = pool();
        let p = pool.packet_from(b"frame bytes").unwrap();
        let lent = p.into_buffer(&pool).unwrap();
        assert_eq!((lent.offset, lent.len), (pool.headroom(), 11));
        assert_eq!(pool.in_use(), 1);
        // SAFETY: `lent` was just taken out of a packet of this pool.
        let back = unsafe { pool.packet_from_buffer(lent) };
        assert_eq!(back.data(), b"frame bytes");
        let lent = back.into_buffer(&pool).unwrap();
        let moved = super::LentBuffer { offset: 256, len: 4, ..lent };
        // SAFETY: as above; 256 + 4 is inside the 2048-byte buffer.
        let mut p = unsafe { pool.packet_from_buffer(moved) };
        assert_eq!((p.headroom(), p.len()), (256, 4));
        p.append(b"more").unwrap();
        assert_eq!(p.len(), 8);
        drop(p);
        assert_eq!(pool.in_use(), 0);
    }

    #[test]
    fn shared_chained_or_foreign_packets_are_not_lent() {
        let pool = pool();
        let other = pool_named("other");
        let p = pool.packet_from(&[7u8; 100]).unwrap();
        let p = p.into_buffer(&other).unwrap_err();
        let mut whole = pool.packet_from(&[1u8; 1000]).unwrap();
        let tail = whole.carve_tail(0);
        assert!(tail.is_some(), "a 1000-byte packet leaves room to carve");
        let whole = whole.into_buffer(&pool).unwrap_err();
        let chained = pool_chained();
        let long = chained.packet_from(&[2u8; 3000]).unwrap();
        assert!(long.buflet_count() > 1);
        let long = long.into_buffer(&chained).unwrap_err();
        drop((p, whole, tail, long));
        assert_eq!(chained.in_use(), 0);
        assert_eq!(pool.in_use(), 0);
    }

    #[test]
    fn a_chain_is_lent_whole_and_comes_back_as_the_same_bytes() {
        let pool = pool_chained();
        let frame: Vec<u8> = (0..5000u32).map(|i| i as u8).collect();
        let p = pool.packet_from(&frame).unwrap();
        assert_eq!(p.buflet_count(), 3);
        let mut chain = super::LentChain::new();
        p.into_buffers(&pool, &mut chain).unwrap();
        assert_eq!(chain.iter().map(|b| b.len).sum::<u32>(), 5000);
        assert_eq!(pool.in_use(), 3, "lent buffers stay out of the pool");
        // SAFETY: the buffers were just lent out of a packet of this pool, each named once.
        let back = unsafe { pool.packet_from_buffers(&chain) };
        assert_eq!((back.len(), back.buflet_count()), (5000, 3));
        assert_eq!(back.to_vec(), frame);
        drop(back);
        assert_eq!(pool.in_use(), 0);
        let mut whole = pool.packet_from(&[1u8; 100]).unwrap();
        let view = whole.carve_tail(0).unwrap();
        let whole = whole.into_buffers(&pool, &mut chain).unwrap_err();
        drop((whole, view));
        assert_eq!(pool.in_use(), 0);
    }

    #[test]
    fn plain_buffers_become_plain_packets_while_the_burst_has_room() {
        let pool = pool();
        let frames: Vec<Vec<u8>> = (0..5u8).map(|i| vec![i; 60 + usize::from(i)]).collect();
        let lent: Vec<_> = frames.iter().map(|f| pool.packet_from(f).unwrap().into_buffer(&pool).unwrap()).collect();
        let mut pkts = arrayvec::ArrayVec::<super::Packet, 4>::new();
        pkts.push(pool.packet_from(b"already here").unwrap());
        let mut bufs = lent.iter().map(|b| (b.index, b.len as u16));
        // SAFETY: each buffer was just lent out of a packet of this pool, named once, its data at the
        // headroom and 60-64 bytes long.
        let made = unsafe { pool.extend_plain(&mut pkts, bufs.by_ref()) };
        assert_eq!(made, 3, "three fit after the packet already in the burst");
        assert_eq!(bufs.len(), 2, "the buffers that did not fit are not taken");
        for (p, f) in pkts[1..].iter().zip(&frames) {
            assert!(p.is_plain_of(&pool));
            assert_eq!(p.data(), &f[..]);
        }
        assert_eq!(pool.in_use(), 6, "four packets and two buffers still lent");
        drop(pkts);
        for b in bufs {
            // SAFETY: as above.
            drop(unsafe { pool.packet_from_buffer(super::LentBuffer { index: b.0, offset: pool.headroom(), len: 0 }) });
        }
        assert_eq!(pool.in_use(), 0);
    }

    fn pool_chained() -> Pool {
        let mut c = PoolConfig::new("chained", 8, 2048);
        c.prefer = Prefer::Normal;
        c.max_buflets = 4;
        Pool::new(c).unwrap()
    }

    fn pool_named(name: &str) -> Pool {
        let mut c = PoolConfig::new(name, 8, 2048);
        c.prefer = Prefer::Normal;
        Pool::new(c).unwrap()
    }
}
