//! The UMEM: a pool's own memory registered with the kernel, so frames land in (and leave from) pktloop's
//! packet buffers with no copy in user space. UMEM addresses are offsets from the start of the pool's
//! mapping: buffer `i` starts at `first + i * stride`. A pool of chunks
//! ([`PoolConfig::chunks`](pktloop_engine::pool::PoolConfig), pktloop's AF_XDP ports') is registered in the
//! kernel's aligned mode: no buffer crosses a page, as a zero-copy queue needs. Any other layout is
//! registered in unaligned mode, and copies only.
//!
//! The ledger records which buffers the kernel holds (in the fill ring, being received into, queued to
//! send, or sent and not completed): a buffer becomes a packet again only if the ledger says the kernel
//! held it, so an address of a buffer the driver or a packet owns can never come back as a second owner,
//! and at teardown every buffer still lent goes back to the pool. The ledger does not know in which ring
//! the kernel holds a buffer: it relies on the kernel handing each buffer back once, through the ring it
//! was given for (a completion naming a buffer that sits in the fill ring would free it early).

use super::sys::socket::UmemSpec;
use pktloop_engine::packet::LentBuffer;
use pktloop_engine::pool::MAX_BULK;
use pktloop_engine::{Packet, Pool};

/// A buffer the kernel gave back, owned by the driver again (made only by [`Umem::take_back`]).
#[derive(Debug)]
pub(super) struct Returned(LentBuffer);

impl Returned {
    /// The frame's length.
    pub fn len(&self) -> u32 {
        self.0.len
    }
}

/// Bytes the kernel leaves in front of a received frame (XDP_PACKET_HEADROOM).
pub const XDP_HEADROOM: u32 = 256;

/// Bits of an unaligned-mode address that hold the offset into the chunk (the rest hold its start).
const UNALIGNED_OFFSET_SHIFT: u32 = 48;

/// A pool's memory as a UMEM, and which of its buffers the kernel holds.
#[derive(Debug)]
pub(super) struct Umem {
    pool: Pool,
    /// Where buffer 0 starts in the UMEM.
    first: u64,
    stride: u64,
    /// One bit per buffer: set while the kernel holds it.
    lent: Box<[u64]>,
    lent_count: usize,
    /// Buffers taken back and not yet returned to the pool, returned in bulk.
    to_free: Vec<u32>,
}

/// The smallest UMEM chunk the kernel takes (`XDP_UMEM_MIN_CHUNK_SIZE`).
pub(super) const MIN_CHUNK: u32 = 2048;

/// This machine's page size: the largest UMEM chunk.
pub(super) fn page_size() -> u32 {
    // SAFETY: sysconf reads a constant of the system and touches no memory of ours.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    u32::try_from(page).unwrap_or(4096)
}

impl Umem {
    /// The UMEM over `pool`'s memory, and how to register it.
    pub fn new(pool: Pool) -> (Umem, UmemSpec) {
        let mem = pool.memory();
        let chunk = mem.stride as u32;
        // Aligned chunks must be a power of two from 2 KiB to a page, from the UMEM's start; any other
        // layout needs the unaligned mode, where each address carries its own chunk start.
        let aligned = chunk.is_power_of_two() && (MIN_CHUNK..=page_size()).contains(&chunk) && mem.first == 0;
        let unaligned = !aligned;
        let spec = UmemSpec { base: mem.base, len: mem.len, chunk, unaligned };
        let words = pool.capacity().div_ceil(64);
        let umem = Umem {
            pool,
            first: mem.first as u64,
            stride: mem.stride as u64,
            lent: vec![0; words].into_boxed_slice(),
            lent_count: 0,
            to_free: Vec::with_capacity(MAX_BULK),
        };
        (umem, spec)
    }

    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// The largest frame the port moves: one that fits a buffer behind the kernel's receive headroom, and
    /// behind the pool's own headroom (where a packet copied for sending starts).
    pub fn frame_room(&self) -> u32 {
        self.pool.buf_size() - XDP_HEADROOM.max(self.pool.headroom())
    }

    /// Buffers the kernel holds.
    pub fn lent_count(&self) -> usize {
        self.lent_count
    }

    /// Lends `pkt`'s buffer to the kernel (to send): its UMEM address and frame length, or the packet back
    /// when it is not one unshared buffer of this pool.
    pub fn lend_packet(&mut self, pkt: Packet) -> Result<(u64, u32), Packet> {
        let buf = pkt.into_buffer(&self.pool)?;
        Ok((self.lend(buf), buf.len))
    }

    /// Records buffer `buf`, which the driver owns, as the kernel's and returns its UMEM address.
    fn lend(&mut self, buf: LentBuffer) -> u64 {
        let (word, bit) = (buf.index as usize / 64, buf.index % 64);
        debug_assert!(self.lent[word] & (1 << bit) == 0, "buffer {} lent twice", buf.index);
        self.lent[word] |= 1 << bit;
        self.lent_count += 1;
        self.first + u64::from(buf.index) * self.stride + u64::from(buf.offset)
    }

    /// Takes back the buffer at UMEM address `addr` (a frame of `len` bytes there, not checked yet): None
    /// when the address is not inside a buffer the kernel holds.
    pub fn take_back(&mut self, addr: u64, len: u32) -> Option<Returned> {
        let at = (addr & ((1 << UNALIGNED_OFFSET_SHIFT) - 1)) + (addr >> UNALIGNED_OFFSET_SHIFT);
        let at = at.checked_sub(self.first)?;
        let index = at / self.stride;
        let offset = (at % self.stride) as u32;
        if index >= self.pool.capacity() as u64 {
            return None;
        }
        let (word, bit) = (index as usize / 64, index % 64);
        if self.lent[word] & (1 << bit) == 0 {
            return None;
        }
        self.lent[word] &= !(1 << bit);
        self.lent_count -= 1;
        Some(Returned(LentBuffer { index: index as u32, offset, len }))
    }

    /// A taken-back buffer as a packet of the frame in it; None (the buffer freed) when the frame does not
    /// lie inside the buffer's `buf_size` bytes (the kernel fills a chunk of the stride, which may be longer).
    pub fn packet(&mut self, buf: Returned) -> Option<Packet> {
        if u64::from(buf.0.offset) + u64::from(buf.0.len) > u64::from(self.pool.buf_size()) {
            self.free(buf);
            return None;
        }
        // SAFETY: a `Returned` is only made by `take_back`, which cleared the buffer's bit in the ledger:
        // the buffer was lent, the kernel gave it back, and nothing else owns it; its frame was checked just
        // above to lie inside it.
        Some(unsafe { self.pool.packet_from_buffer(buf.0) })
    }

    /// Gives a taken-back buffer to the pool (in bulk, at the next [`Umem::flush`] or when enough wait).
    pub fn free(&mut self, buf: Returned) {
        self.push_free(buf.0.index);
    }

    fn push_free(&mut self, index: u32) {
        self.to_free.push(index);
        if self.to_free.len() == MAX_BULK {
            self.flush();
        }
    }

    /// Returns the buffers freed since the last flush to the pool.
    pub fn flush(&mut self) {
        if !self.to_free.is_empty() {
            // SAFETY: each index was cleared from the ledger once (a buffer lent, so taken from this pool
            // with get_bulk or out of one of its packets) and is owned by nothing else now.
            unsafe { self.pool.put_bulk(&self.to_free) };
            self.to_free.clear();
        }
    }

    /// Takes up to `want` buffers from the pool and lends them to the kernel to receive into: their
    /// addresses are passed to `give` in order. Returns how many; fewer when the pool runs short, then
    /// every buffer it had (a bulk is all or nothing, so a short pool is taken one buffer at a time: a fill
    /// ring left empty while buffers are free drops every frame).
    pub fn lend_fresh(&mut self, want: usize, mut give: impl FnMut(usize, u64)) -> usize {
        let mut done = 0;
        let mut idxs = [0u32; 64];
        let mut most = idxs.len();
        while done < want {
            let k = (want - done).min(most);
            // A failed bulk is not the pool's failure while single buffers may follow; the last single is.
            let got = if k == 1 { self.pool.get_bulk(&mut idxs[..1]) } else { self.pool.try_get_bulk(&mut idxs[..k]) };
            if !got {
                if k == 1 {
                    break;
                }
                most = 1;
                continue;
            }
            for &index in &idxs[..k] {
                give(done, self.lend(LentBuffer { index, offset: 0, len: 0 }));
                done += 1;
            }
        }
        done
    }

    /// Returns every buffer still lent to the pool.
    ///
    /// # Safety
    /// The kernel touches none of this UMEM's buffers any more: every socket over it is closed and, in
    /// zero-copy mode, the driver has let go of them. (A late write would land in a buffer the pool has
    /// handed out again, or in the pool's own free list, which lives in free buffers.)
    pub unsafe fn reclaim_all(&mut self) {
        for word in 0..self.lent.len() {
            while self.lent[word] != 0 {
                let bit = self.lent[word].trailing_zeros();
                self.lent[word] &= !(1 << bit);
                self.lent_count -= 1;
                self.push_free((word * 64) as u32 + bit);
            }
        }
        self.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pktloop_engine::mem::Prefer;
    use pktloop_engine::pool::PoolConfig;

    /// With a headroom that places buffer 0 past the mapping's start, addresses still name each buffer's
    /// own memory both ways, and the UMEM is registered in unaligned mode.
    #[test]
    fn addresses_follow_buffers_placed_for_aligned_data() {
        let mut config = PoolConfig::new("umem-first", 8, 2048);
        config.headroom = 32;
        config.prefer = Prefer::Normal;
        let pool = Pool::new(config).unwrap();
        let mem = pool.memory();
        assert_eq!(mem.first, 32, "a 32-byte headroom ends on a line");
        let (mut umem, spec) = Umem::new(pool.clone());
        assert!(spec.unaligned, "chunks do not start at multiples of their size");
        let mut lent = Vec::new();
        assert_eq!(umem.lend_fresh(8, |_, addr| lent.push(addr)), 8);
        for &addr in &lent {
            let index = ((addr - 32) / mem.stride as u64) as u32;
            assert_eq!(mem.base.wrapping_add(addr as usize), pool.buffer_ptr(index), "address {addr}");
        }
        let frame = umem.take_back(lent[3] + 40, 60).expect("a lent buffer");
        let p = umem.packet(frame).expect("the frame lies inside the buffer");
        assert_eq!((p.headroom(), p.len()), (40, 60));
        assert_eq!(umem.take_back(16, 60).map(|_| ()), None, "before buffer 0: nobody's");
        drop(p);
        // SAFETY: no socket was made over this UMEM.
        unsafe { umem.reclaim_all() };
        assert_eq!(pool.in_use(), 0);
    }

    /// A pool with fewer buffers free than asked for lends the ones it has.
    #[test]
    fn a_short_pool_lends_every_buffer_it_has() {
        let mut config = PoolConfig::new("umem-short", 100, 2048);
        config.prefer = Prefer::Normal;
        let pool = Pool::new(config).unwrap();
        let held: Vec<_> = (0..90).map(|_| pool.alloc().expect("90 of 100")).collect();
        let mut umem = Umem::new(pool.clone()).0;
        let mut lent = Vec::new();
        assert_eq!(umem.lend_fresh(32, |_, addr| lent.push(addr)), 10, "the ten left");
        assert_eq!(lent.len(), 10);
        assert_eq!(pool.stats().alloc_failures, 1, "the one buffer it could not find, not the bulk before");
        drop(held);
        // SAFETY: no socket was made over this UMEM.
        unsafe { umem.reclaim_all() };
        assert_eq!(pool.in_use(), 0);
    }
}
