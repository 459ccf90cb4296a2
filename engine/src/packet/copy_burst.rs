//! Copying a burst of plain packets into another pool at once: what a driver that cannot lend its buffers
//! (feth's private pools) does with every burst it sends. One bulk allocation, and each copy written into
//! a buffer straight from the thread cache's slot, with no per-packet call, check or handle rewrite.

use super::{Packet, ETHERNET, LINE, META, PLAIN, POOL_ID_MASK, SIMPLE};
use crate::pool::{lookup, Pool, PoolInner, MAX_BULK};
use arrayvec::ArrayVec;

/// Copies this many ahead have their destination line fetched for ownership: the core that received
/// and freed those buffers read them last. A whole burst of 32 asked for at once, as the generator's fill
/// asks for its buffers, has their transfers overlap best on the AMD EPYC machine: txonly 64 B private
/// 168.90 / 137.98 Mpps against 8 ahead (6 pairs, 1.25 median pairwise), 16 ahead 0.96 of 32. (An earlier
/// Intel machine had measured 4, 8 and 12 alike and a whole burst 12% slower: see feth's shaper.)
const OWN_AHEAD: usize = 32;

impl Pool {
    /// Copies of the packets of `src`, appended to `out` in order, from one bulk allocation of this pool:
    /// all or nothing. Applies when every packet of `src` is plain with no metadata written (at most marked
    /// as starting with an Ethernet header), all of one pool whose headroom is this pool's, and each fits
    /// this pool's buffers and is at most `max_len` bytes long (a driver's frame limit: a longer frame
    /// is the caller's to drop, one packet at a time). Returns the bytes copied. The copies hold the same
    /// bytes at the same offset, and their metadata reads as the default, with an Ethernet link header when
    /// `ethernet` (whatever the sources were marked).
    ///
    /// A frame of up to a line is copied as the whole line: the rest of the copy's line then holds what the
    /// source buffer held past the frame. Both are this process's buffers; a destination whose memory
    /// another process reads (a pool of `Pool::in_shared_region`) would see those bytes too.
    ///
    /// Returns `None`, with nothing allocated or counted, when `src` is not such a burst, is empty or
    /// longer than [`MAX_BULK`], `out` has no room for it, or this pool cannot supply it: the caller then
    /// copies one packet at a time (which counts what fails).
    pub fn copy_plain_burst<const N: usize>(
        &self,
        src: &[Packet],
        out: &mut ArrayVec<Packet, N>,
        ethernet: bool,
        max_len: usize,
    ) -> Option<usize> {
        self.copy_plain(src, out, ethernet, max_len).map(|(_, bytes)| bytes)
    }

    /// [`Pool::copy_plain_burst`] of the first `k` packets of `src`, which are then freed (when copied):
    /// what a driver does with what it sent. The sources go back with no second look at the burst (the
    /// copy's own pass found them whole packets of one pool).
    pub fn move_plain_burst<const N: usize, const M: usize>(
        &self,
        src: &mut ArrayVec<Packet, M>,
        k: usize,
        out: &mut ArrayVec<Packet, N>,
        ethernet: bool,
        max_len: usize,
    ) -> Option<usize> {
        let (from, bytes) = self.copy_plain(src.get(..k)?, out, ethernet, max_len)?;
        // SAFETY: the first `k` packets of `src` own buffers of pool `from` (the copy's check), which keeps it
        // registered until they are given back. Each slot gets the buffer of one of them taken apart here:
        // a whole packet that nothing shares (`SIMPLE`, checked with the pool), given up once; taking
        // packets apart uses no pool and is short.
        unsafe {
            let pool = lookup(from);
            pool.put_bulk_with(k, |slots| slots.iter_mut().zip(src.drain(..k)).for_each(|(s, p)| *s = p.into_raw().1));
        }
        Some(bytes)
    }

    /// [`Pool::copy_plain_burst`], which also says which pool the sources are of (its id).
    #[inline]
    fn copy_plain<const N: usize>(
        &self,
        src: &[Packet],
        out: &mut ArrayVec<Packet, N>,
        ethernet: bool,
        max_len: usize,
    ) -> Option<(u16, usize)> {
        let n = src.len();
        if n == 0 || n > MAX_BULK || n > out.remaining_capacity() {
            return None;
        }
        let (from, bytes) = self.plain_copies_source(src, max_len)?;
        let dst = self.inner();
        let tag = dst.id | SIMPLE | PLAIN | if ethernet { ETHERNET } else { 0 };
        let headroom = dst.headroom as usize;
        // Both pools' buffers hold a line after the headroom: short frames may then be copied a line at a
        // time (the bytes past a frame's end are its buffer's tailroom, owned with it, and the copy's).
        let whole_lines = from.room().min(dst.room()) >= LINE;
        // Where both pools' buffers lie, as values in registers: read through the pools inside the loop,
        // they were loaded again after every store into a buffer (the compiler cannot tell the stores leave
        // them alone), as was each copy's slot in `out`.
        let (to, from_bufs) = (dst.buffers(), from.buffers());
        // SAFETY: the packets of `src` are plain and own their buffers of pool `from`.
        let data = move |p: &Packet| unsafe { from_bufs.at(p.head()) }.wrapping_add(headroom);
        // The sources' lines are not asked for ahead: the copies' own loads overlap as well, and a pass of
        // hints cost more than it gained, whichever core wrote them (txonly private 1.10x and io-fwd private
        // 1.03x without it).
        let start = out.len();
        let copies = out.as_mut_ptr().wrapping_add(start);
        dst.get_bulk_with(n, move |idxs| {
            // The closure is called once, with the `n` indices asked for, exactly when the call says so: the
            // length set below counts on it.
            debug_assert_eq!(idxs.len(), n);
            // SAFETY: the indices are buffers of this pool, just taken from the cache.
            let room = move |i: usize| unsafe { to.at(idxs[i]) }.wrapping_add(headroom);
            let writes = crate::prefetch::Writes::new();
            (0..n.min(OWN_AHEAD)).for_each(|i| writes.ask(room(i), LINE));
            for (i, (p, &idx)) in src.iter().zip(idxs).enumerate() {
                if i + OWN_AHEAD < n {
                    writes.ask(room(i + OWN_AHEAD), LINE);
                }
                // The length in the handle is the packet's (`plain_copies_source` checked each is plain).
                let len = p.cached_len();
                // SAFETY: `p` owns its buffer, whose `len` bytes from the shared headroom are its data and
                // whose room holds a line when `whole_lines`; buffer `idx` is ours now and has room for the
                // frame (checked by `plain_copies_source`) and for a line when `whole_lines`. Pool memory is
                // a mapping of initialised bytes, so reading a tailroom is reading bytes. Slot `start + i`
                // of `out` is inside its spare capacity (`n <= out.remaining_capacity()`), and counted
                // only once every copy is written (below).
                unsafe {
                    if whole_lines && usize::from(len) <= LINE {
                        room(i).cast::<[u8; LINE]>().write_unaligned(data(p).cast::<[u8; LINE]>().read_unaligned());
                    } else {
                        std::ptr::copy_nonoverlapping(data(p), room(i), usize::from(len));
                    }
                    copies.add(i).write(Packet::from_parts(idx, tag, len));
                }
            }
        })
        // SAFETY: on success every one of the `n` slots after `start` holds a copy written above.
        .then(|| unsafe { out.set_len(start + n) })
        .map(|()| (from.id, bytes))
    }

    /// The pool of `src` (not empty) and the bytes of its frames, when every packet of it is plain with no
    /// metadata written, of that one pool, whose headroom is this pool's, and at most `max_len` long and
    /// short enough for this pool's buffers. One pass, with no branch per packet: this runs on every burst
    /// a private-mode driver sends.
    fn plain_copies_source<'s>(&self, src: &'s [Packet], max_len: usize) -> Option<(&'s PoolInner, usize)> {
        let kind = PLAIN | SIMPLE;
        let key = |p: &Packet| p.tag() & (POOL_ID_MASK | kind | META);
        let first = key(src.first()?);
        let to = self.inner();
        // A plain packet's length is in its handle (`u16::MAX`, "read the descriptor", is never one's).
        let limit = to.room().min(max_len) as u64;
        // A frame over the limit leaves the top bit set in `limit - len` (both are far below 2^63), so an OR of
        // those differences finds one: a longest length taken with `max` instead costs a compare and a blend
        // emulated on 64-bit lanes (SSE2 has no 64-bit compare), a third of a private-mode send.
        let (differ, over, bytes) = src.iter().fold((0, 0u64, 0u64), |(differ, over, bytes), p| {
            let len = u64::from(p.cached_len());
            (differ | (key(p) ^ first), over | limit.wrapping_sub(len), bytes + len)
        });
        if differ != 0 || over >> 63 != 0 || first & (kind | META) != kind {
            return None;
        }
        // SAFETY: the packets of `src` own buffers of pool `first`'s id, which keeps it registered while they
        // live: for as long as the borrow of `src` the returned reference is tied to.
        let from = unsafe { lookup(first & POOL_ID_MASK) };
        (from.headroom == to.headroom).then_some((from, bytes as usize))
    }
}
