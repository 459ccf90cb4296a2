//! Packing frames into one buffer as slices: split-mode crossing (Apple's `feth_clone_packet`) with no
//! descriptor written per frame. Each frame goes into a 16-byte-aligned region right after the previous
//! one, at the pool's headroom into it, and leaves as a slice (see `pool::slice`) holding one share of
//! the buffer.

use super::{unwritten_source_pool, Packet, ETHERNET, PLAIN, POOL_ID_MASK, SIMPLE};
use crate::pool::slice::{SLICES_PER_BUFFER, SLICE_ALIGN};
use crate::pool::{lookup, Pool, PoolInner};
use arrayvec::ArrayVec;

/// How far past where the next frame goes a burst has its buffer's lines fetched for ownership: a few
/// small frames' worth, about as many fetches as a core keeps in flight (all of a burst's 2048 bytes at
/// once stalls on the prefetch itself; 256 and 1024 measured alike).
const PACK_AHEAD: usize = 512;

/// How much of each frame is asked for before the copies start: the lines a small frame's copy reads.
const SOURCE_PREFETCH_BYTES: usize = 128;
const SOURCES_AHEAD: usize = 8;

/// One buffer being cut into slices. It holds a share of the buffer for every slice it may still cut, and
/// hands one to each slice it cuts (the last slice takes the last: a packer that cut them all holds
/// nothing, and its drop touches nothing). Dropping it gives up the shares of the slices it did not cut:
/// the buffer goes back to its pool with its last share, on whichever thread frees it.
#[derive(Debug)]
pub struct Packer {
    pool_id: u16,
    buffer: u32,
    /// Where the next region starts, in bytes into the buffer.
    next: u32,
    /// Slices cut so far (the next one's ordinal).
    cut: u32,
}

impl Packer {
    /// Starts packing into `host`, a new empty plain packet of a pool that allows slices
    /// ([`crate::pool::PoolConfig::slices`]); gives it back when it is not one. Takes the shares of every
    /// slice it may cut at once, so that cutting one writes no shared line.
    #[inline]
    pub fn new(host: Packet) -> Result<Packer, Packet> {
        let mut slot = None;
        Packer::start_in(&mut slot, host)?;
        Ok(slot.expect("started"))
    }

    /// [`Packer::new`] into `slot` (whose packer, if any, is dropped first), built where it stays: a
    /// packer built elsewhere and moved in is read back whole from fields just stored one by one, a load
    /// that waits until every earlier store is done (the frames just packed, into lines the other core
    /// holds).
    #[inline]
    pub fn start_in(slot: &mut Option<Packer>, host: Packet) -> Result<&mut Packer, Packet> {
        if !host.is_plain() || !host.is_empty() || !host.pool().allows_slices() {
            return Err(host);
        }
        let pool = host.pool();
        let (tag, buffer) = host.into_raw();
        // SAFETY: a new plain packet's buffer was ours alone, and is the packer's now.
        unsafe { pool.set_shares(buffer, SLICES_PER_BUFFER) };
        Ok(slot.insert(Packer { pool_id: tag & POOL_ID_MASK, buffer, next: 0, cut: 0 }))
    }

    /// The buffer's pool, while the packer holds a share (it has slices left to cut).
    fn pool(&self) -> Option<&PoolInner> {
        // SAFETY: the packer holds a share of one of the pool's buffers, which keeps it registered.
        (self.cut < SLICES_PER_BUFFER).then(|| unsafe { lookup(self.pool_id) })
    }

    /// A slice holding a copy of `frame`, cut from the rest of the buffer, its metadata the default with an
    /// Ethernet link header when `ethernet`. `None` when the rest cannot hold the pool's headroom and the
    /// frame, the frame is as long as a handle can say (`u16::MAX`), or every slice has been cut: the
    /// caller then packs into another buffer.
    #[inline]
    pub fn pack(&mut self, frame: &[u8], ethernet: bool) -> Option<Packet> {
        let pool = self.pool()?;
        let headroom = pool.headroom;
        let len = u16::try_from(frame.len()).ok().filter(|&l| l != u16::MAX)?;
        let end = self.next.checked_add(headroom + u32::from(len))?;
        // A region starts inside the buffer (a start at its end would not fit the handle) and ends there.
        if self.next >= pool.buf_size || end > pool.buf_size {
            return None;
        }
        // SAFETY: the region from `next` to `end` lies inside the buffer (checked) and no slice was cut from
        // it: this packer, which holds a share, is the only one to write it.
        unsafe {
            let at = pool.buf_ptr(self.buffer).add((self.next + headroom) as usize);
            std::ptr::copy_nonoverlapping(frame.as_ptr(), at, frame.len());
        }
        let head = pool.slices().encode(self.buffer, self.cut, self.next);
        self.next = end.next_multiple_of(SLICE_ALIGN);
        self.cut += 1;
        let tag = self.pool_id | PLAIN | if ethernet { ETHERNET } else { 0 };
        debug_assert_eq!(tag & SIMPLE, 0);
        Some(Packet::from_parts(head, tag, len))
    }

    /// Hints that the `bytes` of the buffer from `skip` bytes past where the next region starts will be
    /// written soon (as far as the buffer goes): a driver packing a burst has the lines of the next frames
    /// fetched owned while it copies this one.
    #[inline]
    pub fn prefetch_ahead(&self, skip: usize, bytes: usize) {
        let Some(pool) = self.pool() else { return };
        let from = self.next as usize + skip;
        if from < pool.buf_size as usize {
            // SAFETY: `buffer` is a buffer of this pool; only an address inside it is formed.
            let at = unsafe { pool.buf_ptr(self.buffer) }.wrapping_add(from);
            crate::prefetch::write(at, bytes.min(pool.buf_size as usize - from));
        }
    }
}

impl Drop for Packer {
    fn drop(&mut self) {
        if let Some(pool) = self.pool() {
            // SAFETY: the packer holds a share for each slice it did not cut.
            unsafe { pool.release_slices_now(self.buffer, SLICES_PER_BUFFER - self.cut) };
        }
    }
}

impl Pool {
    /// Slices of this pool holding copies of the packets of `src`, appended to `out` in order: packed into
    /// `packer`'s buffer and, as each fills, into new ones (left in `packer` for the next burst). Split-mode
    /// crossing of a whole burst with no per-packet call. Applies when every packet of `src` is direct
    /// (plain or a slice) with no metadata written (at most marked as starting with an Ethernet header),
    /// all of one pool whose headroom is this pool's; the slices' metadata reads as the default, with an
    /// Ethernet link header when `ethernet`.
    ///
    /// Returns how many of the first packets of `src` were packed: 0 when `src` is not such a burst or
    /// `out` has no room for it, fewer than all when this pool runs out of buffers (not counted: the caller
    /// goes on one packet at a time, which counts what fails) or a frame does not fit an empty buffer.
    pub fn pack_plain_burst<const N: usize>(
        &self,
        src: &[Packet],
        packer: &mut Option<Packer>,
        out: &mut ArrayVec<Packet, N>,
        ethernet: bool,
    ) -> usize {
        if src.len() > out.remaining_capacity() || !self.packs_plain(src) {
            return 0;
        }
        let ask = |p: &Packet| crate::prefetch::read(p.direct_ptr(), p.len().min(SOURCE_PREFETCH_BYTES));
        src.iter().take(SOURCES_AHEAD).for_each(ask);
        let mut done = 0;
        for (i, p) in src.iter().enumerate() {
            if let Some(ahead) = src.get(i + SOURCES_AHEAD) {
                ask(ahead);
            }
            let Some(slice) = self.pack_one(p.data(), packer, ethernet, false) else { break };
            out.push(slice);
            done += 1;
        }
        done
    }

    /// Whether every packet of `src` (not empty) is direct with no metadata written, all of one pool whose
    /// headroom is this pool's, and this pool allows slices.
    fn packs_plain(&self, src: &[Packet]) -> bool {
        let to = self.inner();
        to.allows_slices() && unwritten_source_pool(src, PLAIN).is_some_and(|from| from.headroom == to.headroom)
    }

    /// A slice of this pool holding a copy of `frame`, packed into `packer`'s buffer, or into a new one
    /// (replacing it) when it does not fit there; its metadata reads as the default, with an Ethernet link
    /// header when `ethernet`. `None` when the pool has no buffer left (counted) or the frame does not fit
    /// an empty buffer after the headroom.
    pub fn pack_frame(&self, frame: &[u8], packer: &mut Option<Packer>, ethernet: bool) -> Option<Packet> {
        self.pack_one(frame, packer, ethernet, true)
    }

    /// [`Pool::pack_frame`], counting an empty pool when `count`.
    #[inline]
    fn pack_one(&self, frame: &[u8], packer: &mut Option<Packer>, ethernet: bool, count: bool) -> Option<Packet> {
        let ahead = frame.len() + self.inner().headroom as usize + 64;
        // A packer of another pool is let go: every slice returned is this pool's.
        if let Some(k) = packer.as_mut().filter(|k| k.pool_id == self.inner().id) {
            // The lines beyond those asked for so far that this frame moves the window over.
            k.prefetch_ahead(PACK_AHEAD, ahead);
            if let Some(s) = k.pack(frame, ethernet) {
                return Some(s);
            }
        }
        *packer = None;
        let mut host = None;
        if !self.inner().get_bulk_with(1, |idx| host = Some(super::init_packet(self.inner(), idx[0]))) && count {
            self.inner().count_failure();
        }
        let k = Packer::start_in(packer, host?).ok()?;
        // The receiving core read this buffer last: the lines the first frames go into, fetched owned.
        k.prefetch_ahead(0, PACK_AHEAD);
        k.pack(frame, ethernet)
    }
}
