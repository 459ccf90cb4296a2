//! Copying a burst of plain packets into another pool at once: what a driver that cannot lend its buffers
//! (feth's private pools) does with every burst it sends. One bulk allocation, and each copy written into
//! a buffer straight from the thread cache's slot, with no per-packet call, check or handle rewrite.

use super::{unwritten_source_pool, Packet, ETHERNET, PLAIN, SIMPLE};
use crate::pool::{Pool, PoolInner, MAX_BULK};
use arrayvec::ArrayVec;

/// Copies this many ahead have their destination line fetched for ownership: the core that received
/// and freed those buffers read them last, and a whole burst asked for at once stalls on the fetches a
/// core can track (see feth's shaper, which measured 4, 8 and 12 alike).
const OWN_AHEAD: usize = 8;

/// How much of each frame is asked for before the copies start: the lines a small frame's copy reads.
const SOURCE_PREFETCH_BYTES: usize = 128;

/// Frames up to this long are copied as a whole line, in a few inline loads and stores, instead of by a
/// call to `memcpy` with their length: most frames of a small-packet load are this short.
const LINE: usize = 64;

impl Pool {
    /// Copies of the packets of `src`, appended to `out` in order, from one bulk allocation of this pool:
    /// all or nothing. Applies when every packet of `src` is plain with no metadata written (at most marked
    /// as starting with an Ethernet header), all of one pool whose headroom is this pool's, and each fits
    /// this pool's buffers. The copies hold the same bytes at the same offset, and their metadata reads as
    /// the default, with an Ethernet link header when `ethernet` (whatever the sources were marked).
    ///
    /// A frame of up to a line is copied as the whole line: the rest of the copy's line then holds what the
    /// source buffer held past the frame. Both are this process's buffers; a destination whose memory
    /// another process reads (a pool of `Pool::in_shared_region`) would see those bytes too.
    ///
    /// Returns false, with nothing allocated or counted, when `src` is not such a burst, is empty or
    /// longer than [`MAX_BULK`], `out` has no room for it, or this pool cannot supply it: the caller then
    /// copies one packet at a time (which counts what fails).
    pub fn copy_plain_burst<const N: usize>(
        &self,
        src: &[Packet],
        out: &mut ArrayVec<Packet, N>,
        ethernet: bool,
    ) -> bool {
        let n = src.len();
        if n == 0 || n > MAX_BULK || n > out.remaining_capacity() {
            return false;
        }
        let Some(from) = self.plain_copies_source(src) else { return false };
        let dst = self.inner();
        let tag = dst.id | SIMPLE | PLAIN | if ethernet { ETHERNET } else { 0 };
        let headroom = dst.headroom as usize;
        // Both pools' buffers hold a line after the headroom: short frames may then be copied a line at a
        // time (the bytes past a frame's end are its buffer's tailroom, owned with it, and the copy's).
        let whole_lines = from.room().min(dst.room()) >= LINE;
        // SAFETY: the packets of `src` are plain and own their buffers of pool `from`.
        let data = |p: &Packet| unsafe { from.buf_ptr(p.head()) }.wrapping_add(headroom);
        // Every frame's first lines start loading before the first copy: most often another core wrote
        // them, and these reads gain from all being in flight at once.
        src.iter().for_each(|p| crate::prefetch::read(data(p), p.len().min(SOURCE_PREFETCH_BYTES)));
        dst.get_bulk_with(n, |idxs| {
            // SAFETY: the indices are buffers of this pool, just taken from the cache.
            let room = |i: usize| unsafe { dst.buf_ptr(idxs[i]) }.wrapping_add(headroom);
            (0..n.min(OWN_AHEAD)).for_each(|i| crate::prefetch::write(room(i), 64));
            for (i, (p, &idx)) in src.iter().zip(idxs).enumerate() {
                if i + OWN_AHEAD < n {
                    crate::prefetch::write(room(i + OWN_AHEAD), 64);
                }
                // SAFETY: `p` owns its buffer, whose `len` bytes from the shared headroom are its data and
                // whose room holds a line when `whole_lines`; buffer `idx` is ours now and has room for the
                // frame (checked by `plain_copies_source`) and for a line when `whole_lines`. Pool memory is
                // a mapping of initialised bytes, so reading a tailroom is reading bytes.
                unsafe {
                    if whole_lines && p.len() <= LINE {
                        room(i).cast::<[u8; LINE]>().write_unaligned(data(p).cast::<[u8; LINE]>().read_unaligned());
                    } else {
                        std::ptr::copy_nonoverlapping(data(p), room(i), p.len());
                    }
                }
                out.push(Packet::from_parts(idx, tag, p.cached_len()));
            }
        })
    }

    /// The pool of `src` (not empty) when every packet of it is plain with no metadata written, of that one
    /// pool, whose headroom is this pool's, and short enough for this pool's buffers.
    fn plain_copies_source<'s>(&self, src: &'s [Packet]) -> Option<&'s PoolInner> {
        let from = unwritten_source_pool(src, PLAIN | SIMPLE)?;
        let to = self.inner();
        let longest = src.iter().map(|p| usize::from(p.cached_len())).max().unwrap_or(0);
        (from.headroom == to.headroom && longest <= to.room()).then_some(from)
    }
}
