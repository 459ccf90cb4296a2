//! Allocating a burst of packets that each hold a copy of one frame: what a generator (`pktloop fwd
//! --mode txonly`) does with every burst. One bulk allocation, and each copy written into a buffer straight
//! from the thread cache's slot, with no per-packet check, pool lookup or handle rewrite.

use super::{born_tag, plain_tag, short_len, Packet, APPEND_AHEAD, LINE, SIMPLE};
use crate::pool::buflet::NIL;
use crate::pool::{Pool, PoolInner, MAX_BULK};
use arrayvec::ArrayVec;

/// How many chains ahead of the one being written have their descriptors and first line asked for: a
/// few lines each, about as many fetches as a core keeps in flight.
const CHAINS_AHEAD: usize = 4;

/// A line of bytes to write into many buffers, held in registers: as an array, it was loaded again from
/// the stack for every buffer (the compiler cannot tell that the stores into buffers leave it alone).
#[derive(Clone, Copy)]
struct Line {
    #[cfg(target_arch = "x86_64")]
    parts: [core::arch::x86_64::__m128i; LINE / 16],
    #[cfg(not(target_arch = "x86_64"))]
    bytes: [u8; LINE],
}

impl Line {
    #[inline(always)]
    fn new(bytes: &[u8; LINE]) -> Line {
        #[cfg(target_arch = "x86_64")]
        {
            // SAFETY: SSE2 is part of x86_64; each load reads 16 of the line's 64 bytes.
            let part = |k: usize| unsafe { core::arch::x86_64::_mm_loadu_si128(bytes.as_ptr().add(16 * k).cast()) };
            Line { parts: [part(0), part(1), part(2), part(3)] }
        }
        #[cfg(not(target_arch = "x86_64"))]
        Line { bytes: *bytes }
    }

    /// Writes the line's bytes at `dst`.
    ///
    /// # Safety
    /// `dst` is valid for writes of [`LINE`] bytes.
    #[inline(always)]
    unsafe fn write(self, dst: *mut u8) {
        #[cfg(target_arch = "x86_64")]
        for (k, part) in self.parts.into_iter().enumerate() {
            // SAFETY: SSE2 is part of x86_64; the 16 bytes at `dst + 16 * k` are inside the line (contract).
            unsafe { core::arch::x86_64::_mm_storeu_si128(dst.add(16 * k).cast(), part) };
        }
        #[cfg(not(target_arch = "x86_64"))]
        // SAFETY: forwarded contract.
        unsafe {
            dst.cast::<[u8; LINE]>().write_unaligned(self.bytes)
        };
    }
}

impl Pool {
    /// `n` new packets appended to `out`, each holding a copy of `frame` at the pool's headroom: all or
    /// nothing (`n` at most the room left in `out` and at most [`MAX_BULK`]). Returns false, counted, when
    /// the pool cannot supply them, and false, uncounted (with nothing taken), for a frame no packet of this
    /// pool can hold. The same as [`Pool::alloc_bulk`] and an [`Packet::append`] of `frame` to each, for
    /// less; a frame of up to a line leaves zeros in the rest of the line it starts (tailroom).
    pub fn alloc_frames<const N: usize>(&self, out: &mut ArrayVec<Packet, N>, n: usize, frame: &[u8]) -> bool {
        let pool = self.inner();
        // A handle says lengths below `u16::MAX` (that value means "read the descriptor").
        if frame.len() > pool.room() || frame.len() >= usize::from(u16::MAX) {
            return self.alloc_chained_frames(out, n, frame);
        }
        self.alloc_headed(out, n, frame.len(), frame)
    }

    /// `n` new packets of `len` bytes each, appended to `out`, whose data starts with a copy of `head`; the
    /// rest of each is what its buffer held, as DPDK's txonly leaves a payload: what a generator writing
    /// only headers takes. A head of up to a line, in buffers with a line of room, is written as the first
    /// 64 bytes of data, zeros after it. Both are this process's buffers; a pool whose memory another
    /// process reads (`Pool::in_shared_region`) shows it those bytes too. All or nothing (`n` at most the room
    /// left in `out` and at most [`MAX_BULK`]). Returns false, counted, when the pool cannot supply them, and
    /// false, uncounted (with nothing taken), when `head` is longer than `len` or `len` does not fit one
    /// buffer after the headroom (or a handle: below `u16::MAX`).
    pub fn alloc_headed<const N: usize>(
        &self,
        out: &mut ArrayVec<Packet, N>,
        n: usize,
        len: usize,
        head: &[u8],
    ) -> bool {
        let pool = self.inner();
        if n > out.remaining_capacity() || n > MAX_BULK || head.len() > len || len > pool.room() {
            return false;
        }
        // A handle says lengths below `u16::MAX` (that value means "read the descriptor").
        let Some(len) = u16::try_from(len).ok().filter(|&l| l != u16::MAX) else { return false };
        let (tag, headroom) = (plain_tag(pool), pool.headroom as usize);
        let (buffers, whole_line) = (pool.buffers(), head.len() <= LINE && pool.room() >= LINE);
        let starts_line = whole_line && buffers.lines_start_at(headroom);
        // Everything the loops read is moved into the closures, values in registers: borrowed, the
        // buffers' layout, the tag and the length were loaded again after every store into a buffer (the
        // compiler cannot tell those stores leave them alone), as was the next slot of `out`.
        let start = out.len();
        let packets = out.as_mut_ptr().wrapping_add(start);
        let ok = pool.get_bulk_with(n, move |idxs| {
            // The closure is called once, with the `n` indices asked for, exactly when the call says so: the
            // length set below counts on it.
            debug_assert_eq!(idxs.len(), n);
            // SAFETY: the indices are buffers of this pool, just taken from the cache.
            let data = move |idx: u32| unsafe { buffers.at(idx) }.wrapping_add(headroom);
            // The line each frame starts in was last read by the core that freed the buffer: asked for
            // owned together, their waits overlap instead of stalling each copy in turn. Where the
            // frames start lines (the pool places buffers so that they do), the first line is the whole
            // head's, and a hint of one byte leaves no test per frame of whether its head spans two.
            let writes = crate::prefetch::Writes::new();
            if starts_line {
                idxs.iter().for_each(|&idx| writes.ask(data(idx), 1));
            } else {
                idxs.iter().for_each(|&idx| writes.ask(data(idx), APPEND_AHEAD));
            }
            // A short head goes in as the whole line it starts, one line-sized store: its bytes and zeros
            // after them (the rest of the line is the packet's payload, or its tailroom).
            let mut bytes = [0u8; LINE];
            if whole_line {
                bytes[..head.len()].copy_from_slice(head);
            }
            let line = Line::new(&bytes);
            for (i, &idx) in idxs.iter().enumerate() {
                // SAFETY: buffer `idx` is ours now and holds `len` bytes after the headroom, `head` among
                // them, and a line when `whole_line` (checked). Slot `start + i` of `out` is in its spare room
                // (`n` is at most the room left), counted once every packet is written (below).
                unsafe {
                    if whole_line {
                        line.write(data(idx));
                    } else {
                        std::ptr::copy_nonoverlapping(head.as_ptr(), data(idx), head.len());
                    }
                    packets.add(i).write(Packet::from_parts(idx, tag, len));
                }
            }
        });
        if ok {
            // SAFETY: the `n` slots after `start` hold the packets written above.
            unsafe { out.set_len(start + n) };
        } else {
            pool.count_failure();
        }
        ok
    }

    /// [`Pool::alloc_frames`] of a frame longer than a buffer: each packet a chain of as many buflets as the
    /// frame needs, all taken in one bulk allocation, their descriptors written once each (what a packet's
    /// appends would leave: the head's window at the headroom, the others' from their start, each full but
    /// the last) and the frame's pieces copied straight in.
    fn alloc_chained_frames<const N: usize>(&self, out: &mut ArrayVec<Packet, N>, n: usize, frame: &[u8]) -> bool {
        if n > out.remaining_capacity() || n > MAX_BULK {
            return false;
        }
        let pool = self.inner();
        let (size, first) = (pool.buf_size as usize, pool.room());
        let per_packet = 1 + frame.len().saturating_sub(first).div_ceil(size);
        if per_packet > usize::from(pool.max_buflets) || frame.len() > u32::MAX as usize {
            // No packet of the pool holds the frame.
            return false;
        }
        if n * per_packet > MAX_BULK {
            return self.alloc_frames_one_by_one(out, n, frame);
        }
        // A chain's handle: not plain (its descriptors are written), its length there unless too long, and
        // simple when it is one buffer (as an append into a new packet leaves it).
        let tag = if per_packet == 1 { born_tag(pool) | SIMPLE } else { born_tag(pool) };
        let cached = short_len(frame.len() as u32);
        let ok = pool.get_bulk_with(n * per_packet, |idxs| {
            let chains = idxs.chunks_exact(per_packet);
            // Each chain's descriptors and its first data line, fetched owned a few chains ahead of the
            // writes (another core freed these buffers and read them last).
            let ask = |chain: &[u32]| {
                chain.iter().for_each(|&b| pool.prefetch_desc_for_write(b));
                // SAFETY: a buffer of this pool (only its address is formed).
                crate::prefetch::write(unsafe { pool.buf_ptr(chain[0]) }.wrapping_add(pool.headroom as usize), 64);
            };
            chains.clone().take(CHAINS_AHEAD).for_each(ask);
            for (i, chain) in chains.clone().enumerate() {
                if let Some(ahead) = chains.clone().nth(i + CHAINS_AHEAD) {
                    ask(ahead);
                }
                // SAFETY: the chain's buffers were just taken from the cache: ours alone.
                unsafe { write_chain(pool, chain, frame) };
                out.push(Packet::from_parts(chain[0], tag, cached));
            }
        });
        if !ok {
            pool.count_failure();
        }
        ok
    }

    /// [`Pool::alloc_frames`] of chains one packet at a time, for bursts whose buflets are more than one
    /// bulk allocation takes.
    #[cold]
    fn alloc_frames_one_by_one<const N: usize>(&self, out: &mut ArrayVec<Packet, N>, n: usize, frame: &[u8]) -> bool {
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

/// Writes `frame` into the buffers of `chain` (in order) as one packet: the head's descriptor with the
/// packet's length and buflet count, each buflet's window (the head's from the headroom, the others' from
/// their start), full but the last, linked in order; its metadata is left unwritten (the handle says it
/// reads as the default).
///
/// # Safety
/// The buffers of `chain` are buffers of `pool` that the caller owns alone, as many as the frame needs
/// (its first piece in the head's room, the rest `buf_size` at a time).
unsafe fn write_chain(pool: &PoolInner, chain: &[u32], frame: &[u8]) {
    let (size, headroom) = (pool.buf_size, pool.headroom);
    let mut copied = 0;
    for (j, &b) in chain.iter().enumerate() {
        let off = if j == 0 { headroom } else { 0 };
        let len = (frame.len() - copied).min((size - off) as usize);
        // SAFETY: buffer `b` is ours alone (contract): its descriptor, and its `size - off` bytes from `off`.
        let d = unsafe {
            std::ptr::copy_nonoverlapping(frame[copied..].as_ptr(), pool.buf_ptr(b).add(off as usize), len);
            pool.desc_mut(b)
        };
        if j == 0 {
            d.reset_head(b, off, size);
            d.pkt_len = frame.len() as u32;
            d.nbuflets = chain.len() as u16;
        } else {
            d.reset(b, off, size);
        }
        d.len = len as u32;
        d.next = chain.get(j + 1).copied().unwrap_or(NIL);
        copied += len;
    }
    debug_assert_eq!(copied, frame.len());
}
