//! Allocating a burst of packets that each hold a copy of one frame: what a generator (`pktloop fwd
//! --mode txonly`) does with every burst. One bulk allocation, and each copy written into a buffer straight
//! from the thread cache's slot, with no per-packet check, pool lookup or handle rewrite.

use super::{plain_tag, Packet, APPEND_AHEAD};
use crate::pool::{Pool, MAX_BULK};
use arrayvec::ArrayVec;

/// Frames up to this long are written as the whole line they start, held in registers for the burst: a
/// few stores each, and no call to `memcpy` with their length.
const LINE: usize = 64;

impl Pool {
    /// `n` new packets appended to `out`, each holding a copy of `frame` at the pool's headroom: all or
    /// nothing (`n` at most the room left in `out` and at most [`MAX_BULK`]). Returns false, counted, when
    /// the pool cannot supply them, and false, uncounted, for a frame no packet of this pool can hold. The
    /// same as [`Pool::alloc_bulk`] and an [`Packet::append`] of `frame` to each, for less.
    pub fn alloc_frames<const N: usize>(&self, out: &mut ArrayVec<Packet, N>, n: usize, frame: &[u8]) -> bool {
        let pool = self.inner();
        // A handle says lengths below `u16::MAX` (that value means "read the descriptor").
        if frame.len() > pool.room() || frame.len() >= usize::from(u16::MAX) {
            return self.alloc_chained_frames(out, n, frame);
        }
        if n > out.remaining_capacity() || n > MAX_BULK {
            return false;
        }
        let (tag, len, headroom) = (plain_tag(pool), frame.len() as u16, pool.headroom as usize);
        let ok = pool.get_bulk_with(n, |idxs| {
            // SAFETY: the indices are buffers of this pool, just taken from the cache.
            let data = |idx: u32| unsafe { pool.buf_ptr(idx) }.wrapping_add(headroom);
            // The line each frame starts in was last read by the core that freed the buffer: asked for
            // owned together, their waits overlap instead of stalling each copy in turn.
            idxs.iter().for_each(|&idx| crate::prefetch::write(data(idx), APPEND_AHEAD));
            if frame.len() <= LINE && pool.room() >= LINE {
                // A short frame goes in as the whole line it starts, from registers: its bytes and zeros
                // after them (the rest of the line is the new packet's tailroom).
                let mut line = [0u8; LINE];
                line[..frame.len()].copy_from_slice(frame);
                for &idx in idxs {
                    // SAFETY: buffer `idx` is ours now and holds a line after the headroom (checked).
                    unsafe { data(idx).cast::<[u8; LINE]>().write_unaligned(line) };
                    out.push(Packet::from_parts(idx, tag, len));
                }
                return;
            }
            for &idx in idxs {
                // SAFETY: buffer `idx` is ours now and holds the frame after the headroom (checked: the
                // frame fits the pool's room).
                unsafe { std::ptr::copy_nonoverlapping(frame.as_ptr(), data(idx), frame.len()) };
                out.push(Packet::from_parts(idx, tag, len));
            }
        });
        if !ok {
            pool.count_failure();
        }
        ok
    }

    /// [`Pool::alloc_frames`] of a frame longer than a buffer: each packet chains buflets for it.
    #[cold]
    fn alloc_chained_frames<const N: usize>(&self, out: &mut ArrayVec<Packet, N>, n: usize, frame: &[u8]) -> bool {
        let start = out.len();
        if !self.alloc_bulk(out, n) {
            return false;
        }
        Packet::prefetch_appends(&out[start..], frame.len());
        if out[start..].iter_mut().all(|p| p.append(frame).is_ok()) {
            return true;
        }
        // No room for the frame (or no buflets left for it): the whole burst goes back.
        out.truncate(start);
        false
    }
}
