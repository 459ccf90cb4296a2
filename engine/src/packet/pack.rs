//! Packing frames into one buffer as slices: split-mode crossing (Apple's `feth_clone_packet`) with no
//! descriptor written per frame. Each frame goes into a 16-byte-aligned region right after the previous
//! one, at the pool's headroom into it, and leaves as a slice (see `pool::slice`) holding one share of
//! the buffer.

use super::{unwritten_source_pool, Packet, ETHERNET, LINE, PLAIN, POOL_ID_MASK, SIMPLE};
use crate::pool::slice::{SLICES_PER_BUFFER, SLICE_ALIGN};
use crate::pool::{lookup, Pool, PoolInner};
use arrayvec::ArrayVec;

/// How far past where the next frame goes a burst has its buffer's lines fetched for ownership: a few
/// small frames' worth, about as many fetches as a core keeps in flight (all of a burst's 2048 bytes at
/// once stalls on the prefetch itself; 256 and 1024 measured alike).
const PACK_AHEAD: usize = 512;

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
        let (tag, buffer) = host.into_raw();
        // SAFETY: `buffer`, taken from `host`, keeps its pool registered; a new plain packet's buffer was
        // ours alone, and is the packer's now.
        unsafe { lookup(tag & POOL_ID_MASK).set_shares(buffer, SLICES_PER_BUFFER) };
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

    /// Packs copies of the first frames of `src` into the rest of the buffer, as [`Packer::pack`] does one
    /// at a time, for as many as fit (and slices are left) and are at most `run.max_len` long; appends the
    /// slices to `out` and returns how many, and their bytes. Keeps the buffer's lines coming while it
    /// copies. The sources' are not asked for: the copies' own loads overlap as well, and the hints cost a
    /// pass (measured: io-fwd split 1.11x without them).
    ///
    /// # Safety
    /// `to` is this packer's pool and the packer has slices left to cut; every packet of `src` is a direct
    /// packet of `run.from`; `out` has room for them all.
    #[inline]
    unsafe fn pack_run<const N: usize>(
        &mut self,
        to: &PoolInner,
        run: &Run<'_>,
        src: &[Packet],
        out: &mut ArrayVec<Packet, N>,
    ) -> (usize, usize) {
        debug_assert!(to.id == self.pool_id && self.cut < SLICES_PER_BUFFER);
        let (headroom, buf_size, geometry) = (to.headroom, to.buf_size, to.slices());
        let tag = self.pool_id | PLAIN | if run.ethernet { ETHERNET } else { 0 };
        // A plain source's buffer holds a line from its data on (the pools' headrooms are equal).
        let line_sources = run.from.room().min(to.room()) >= LINE;
        // SAFETY: the packer's buffer is a buffer of `to` (contract).
        let base = unsafe { to.buf_ptr(self.buffer) };
        let (mut next, mut cut, mut bytes) = (self.next, self.cut, 0);
        // The earlier frames (or the packer's start) asked for the lines up to `PACK_AHEAD` past here.
        let mut asked = (next as usize + PACK_AHEAD).min(buf_size as usize);
        let writes = crate::prefetch::Writes::new();
        let mut i = 0;
        while let Some(p) = src.get(i).filter(|_| cut < SLICES_PER_BUFFER) {
            let len = p.cached_len();
            // A direct packet's length is in its handle, never `u16::MAX` (refused as `pack` refuses it). A
            // region starts inside the buffer (a start at its end would not fit the handle: it would spill
            // into the ordinal) and ends there.
            let fits =
                |&end: &u32| len != u16::MAX && usize::from(len) <= run.max_len && next < buf_size && end <= buf_size;
            let Some(end) = next.checked_add(headroom + u32::from(len)).filter(fits) else { break };
            // The window of lines asked for runs `PACK_AHEAD` past this frame's end: the lines it newly
            // covers, each asked for once.
            let window = (end as usize + PACK_AHEAD).min(buf_size as usize);
            if window > asked {
                writes.ask(base.wrapping_add(asked), window - asked);
                asked = window;
            }
            let at = (next + headroom) as usize;
            // SAFETY: `p` is a direct packet of `run.from` (contract), its `len` bytes there are its data and,
            // plain, its buffer holds a line from there (`line_sources`); the region from `next` to `end`
            // lies inside the buffer (checked), as does the line from `at` when copied whole (checked), and
            // no slice was cut from there on: this packer, which holds the shares for it, alone writes it.
            unsafe {
                let data = direct_data(run.from, p);
                if line_sources && len as usize <= LINE && p.tag() & SIMPLE != 0 && at + LINE <= buf_size as usize {
                    base.add(at).cast::<[u8; LINE]>().write_unaligned(data.cast::<[u8; LINE]>().read_unaligned());
                } else if (32..=LINE).contains(&(len as usize)) {
                    // A slice's bytes past its frame may be another slice's, which another core may be
                    // writing: two overlapping half-line copies read the frame's bytes alone.
                    let tail = len as usize - 32;
                    let head = data.cast::<[u8; 32]>().read_unaligned();
                    let last = data.add(tail).cast::<[u8; 32]>().read_unaligned();
                    base.add(at).cast::<[u8; 32]>().write_unaligned(head);
                    base.add(at + tail).cast::<[u8; 32]>().write_unaligned(last);
                } else {
                    std::ptr::copy_nonoverlapping(data, base.add(at), len.into());
                }
            }
            out.push(Packet::from_parts(geometry.encode(self.buffer, cut, next), tag, len));
            next = end.next_multiple_of(SLICE_ALIGN);
            (cut, bytes, i) = (cut + 1, bytes + usize::from(len), i + 1);
        }
        (self.next, self.cut) = (next, cut);
        (i, bytes)
    }
}

/// What a burst's packing runs share: the sources' pool, the slices' link header, the frame limit.
struct Run<'a> {
    from: &'a PoolInner,
    ethernet: bool,
    max_len: usize,
}

/// Where direct packet `p`'s data starts.
///
/// # Safety
/// `p` is a direct packet of `pool`.
#[inline]
unsafe fn direct_data(pool: &PoolInner, p: &Packet) -> *const u8 {
    let head = p.head();
    let (buffer, start) = if p.tag() & SIMPLE != 0 {
        (head, 0)
    } else {
        let g = pool.slices();
        (g.buffer(head), g.start(head))
    };
    // SAFETY: a direct packet owns (plain) or holds a share of (slice) buffer `buffer` of its pool, and its
    // data starts at the headroom into its region, which starts at `start` (contract).
    unsafe { pool.buf_ptr(buffer).add((start + pool.headroom) as usize) }
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
    /// A frame of up to a line from a plain packet is copied as the whole line: the rest of its slice's
    /// line then holds what the source buffer held past the frame (as with [`Pool::copy_plain_burst`]).
    ///
    /// Returns how many of the first packets of `src` were packed, and their bytes: none when `src` is not
    /// such a burst or `out` has no room for it, fewer than all when this pool runs out of buffers (not
    /// counted: the caller goes on one packet at a time, which counts what fails), a frame does not fit an
    /// empty buffer, or one is longer than `max_len` (a driver's frame limit: that frame is the caller's
    /// to drop).
    pub fn pack_plain_burst<const N: usize>(
        &self,
        src: &[Packet],
        packer: &mut Option<Packer>,
        out: &mut ArrayVec<Packet, N>,
        ethernet: bool,
        max_len: usize,
    ) -> (usize, usize) {
        if src.len() > out.remaining_capacity() {
            return (0, 0);
        }
        let Some(from) = self.plain_packing_source(src) else { return (0, 0) };
        let run = Run { from, ethernet, max_len };
        let (mut done, mut bytes) = (0, 0);
        while done < src.len() {
            let fresh = !packer.as_ref().is_some_and(|k| k.pool_id == self.inner().id && k.cut < SLICES_PER_BUFFER);
            if fresh && self.start_packer(packer).is_none() {
                break;
            }
            let k = packer.as_mut().expect("a packer of this pool");
            // SAFETY: `k` is a packer of this pool with slices left (checked or just started), the packets
            // of `src` are direct packets of `from`, and `out` has room for all of them (checked).
            let (packed, packed_bytes) = unsafe { k.pack_run(self.inner(), &run, &src[done..], out) };
            (done, bytes) = (done + packed, bytes + packed_bytes);
            let stopped = src.get(done).is_some_and(|p| usize::from(p.cached_len()) > max_len);
            if (packed == 0 && fresh) || stopped {
                // The next frame does not fit an empty buffer, or is past the caller's limit.
                break;
            }
            if packed == 0 {
                *packer = None;
            }
        }
        (done, bytes)
    }

    /// A packer of a new buffer of this pool in `packer` (the one there, if any, dropped first), with the
    /// lines its first frames go into fetched owned; `None` when the pool has no buffer left (not counted:
    /// the burst's caller goes on one packet at a time, which counts what fails).
    fn start_packer<'k>(&self, packer: &'k mut Option<Packer>) -> Option<&'k mut Packer> {
        *packer = None;
        let mut host = None;
        self.inner().get_bulk_with(1, |idx| host = Some(super::init_packet(self.inner(), idx[0])));
        let k = Packer::start_in(packer, host?).ok()?;
        // The receiving core read this buffer last: the lines the first frames go into, fetched owned.
        k.prefetch_ahead(0, PACK_AHEAD);
        Some(k)
    }

    /// The pool of `src` (not empty) when every packet of it is direct with no metadata written, all of that
    /// one pool, whose headroom is this pool's, and this pool allows slices.
    fn plain_packing_source<'s>(&self, src: &'s [Packet]) -> Option<&'s PoolInner> {
        let to = self.inner();
        let from = unwritten_source_pool(src, PLAIN)?;
        (to.allows_slices() && from.headroom == to.headroom).then_some(from)
    }

    /// A slice of this pool holding a copy of `frame`, packed into `packer`'s buffer, or into a new one
    /// (replacing it) when it does not fit there; its metadata reads as the default, with an Ethernet link
    /// header when `ethernet`. `None` when the pool has no buffer left (counted), the frame does not fit
    /// an empty buffer after the headroom, or the pool allows no slices.
    pub fn pack_frame(&self, frame: &[u8], packer: &mut Option<Packer>, ethernet: bool) -> Option<Packet> {
        let ahead = frame.len() + self.inner().headroom as usize + 64;
        // A packer of another pool is let go: every slice returned is this pool's.
        if let Some(k) = packer.as_mut().filter(|k| k.pool_id == self.inner().id) {
            // The lines beyond those asked for so far that this frame moves the window over.
            k.prefetch_ahead(PACK_AHEAD, ahead);
            if let Some(s) = k.pack(frame, ethernet) {
                return Some(s);
            }
        }
        if !self.inner().allows_slices() {
            *packer = None;
            return None;
        }
        // A pool that allows slices starts a packer unless it has no buffer left.
        let Some(k) = self.start_packer(packer) else {
            self.inner().count_failure();
            return None;
        };
        k.pack(frame, ethernet)
    }
}
