//! Buflet descriptors, owned by the pool, and the small buflet API the packet layer is built on.
//!
//! Every buffer has a descriptor (like an mbuf header) holding its data window: `start..limit` is the region
//! it may use, `off..off + len` the bytes in it, `next` the following buflet of a chain. A *view* buflet
//! uses a region of another buffer (its `mem`), whose memory is then shared and refcounted; the view's own
//! buffer only lends its descriptor. The packet-level fields (`pkt_len`, `nbuflets`, metadata) are only
//! meaningful on a chain's head.
//!
//! The functions here are `unsafe` where their soundness rests on the caller owning the buflets it names:
//! the packet layer's owning handle is that proof.

use super::shares::Shares;
use super::PoolInner;
use crate::meta::PacketMeta;
use arrayvec::ArrayVec;

/// No buffer: the end of a chain.
pub(crate) const NIL: u32 = u32::MAX;

/// Most buffers one chain can give back: two per buflet (a view and the host it shared), 64 buflets.
pub(crate) const CHAIN_RELEASE_MAX: usize = 128;

/// Buffers released by chains, waiting to go back to the pool in one call.
pub(crate) type Released = ArrayVec<u32, { CHAIN_RELEASE_MAX + 32 }>;
/// The fields of a descriptor that packets touch (all but the metadata): one line.
const DESC_HOT_BYTES: usize = 32;
/// Chains [`PoolInner::release_chains`] walks side by side.
pub(crate) const CHAIN_BATCH: usize = 32;

/// Per-buffer descriptor. Hot fields first, so allocation writes one cache line; the metadata line is only
/// written when a packet's metadata is.
#[repr(C, align(64))]
pub(crate) struct Desc {
    pub(crate) next: u32,
    /// Buffer whose memory the data lives in: itself, or the host of a view.
    pub(crate) mem: u32,
    pub(crate) start: u32,
    pub(crate) off: u32,
    pub(crate) len: u32,
    pub(crate) limit: u32,
    pub(crate) pkt_len: u32,
    pub(crate) nbuflets: u16,
    /// Shares of `mem` this buflet holds beyond its own, in reserve for views it will carve (released with
    /// it). Only packing drivers set it; 0 otherwise.
    pub(crate) shares: u16,
    /// The packet's metadata, when its handle says it was written (lazily, see the packet layer).
    pub(crate) meta: PacketMeta,
}

impl Desc {
    pub(crate) fn new() -> Desc {
        Desc {
            next: NIL,
            mem: 0,
            start: 0,
            off: 0,
            len: 0,
            limit: 0,
            pkt_len: 0,
            nbuflets: 1,
            shares: 0,
            meta: PacketMeta::default(),
        }
    }

    /// Bytes in front of the data.
    #[inline]
    pub(crate) fn headroom(&self) -> usize {
        (self.off - self.start) as usize
    }

    /// Free bytes after the data.
    #[inline]
    pub(crate) fn tailroom(&self) -> usize {
        (self.limit - self.off - self.len) as usize
    }

    /// An empty buflet over all of buffer `idx`, data starting at `off`.
    #[inline]
    pub(crate) fn reset(&mut self, idx: u32, off: u32, buf_size: u32) {
        self.next = NIL;
        self.mem = idx;
        self.start = 0;
        self.off = off;
        self.len = 0;
        self.limit = buf_size;
        // A freed buffer's descriptor keeps what it last held, reserve shares included; a buflet made
        // now holds only its own.
        self.shares = 0;
    }

    /// Makes this buflet the head of a new one-buflet packet (its metadata is not touched).
    #[inline]
    pub(crate) fn reset_head(&mut self, idx: u32, off: u32, buf_size: u32) {
        self.reset(idx, off, buf_size);
        self.pkt_len = 0;
        self.nbuflets = 1;
    }
}

#[cfg(test)]
thread_local! {
    /// Test hook: runs once, right after a chain release gave up a shared buffer's share and before it
    /// goes on to the next buflet (the window of the race `buflet_tests` reproduces).
    pub(crate) static AFTER_SHARE_RELEASED: std::cell::RefCell<Option<Box<dyn FnOnce()>>> =
        const { std::cell::RefCell::new(None) };
    /// Test hook: runs once, right after a view's or slice's buflet gave up its share of the host buffer
    /// (for a slice, possibly the last thing its thread held of the pool) and before anything else.
    pub(crate) static AFTER_HOST_SHARE_RELEASED: std::cell::RefCell<Option<Box<dyn FnOnce()>>> =
        const { std::cell::RefCell::new(None) };
}

impl PoolInner {
    /// Descriptor of buffer `idx` (or of slice slot `idx`).
    ///
    /// # Safety
    /// `idx` is a buffer of this pool that the caller owns (or whose packet it holds, or a materialized
    /// slice's slot), and no `&mut` to its descriptor exists.
    #[inline]
    pub(crate) unsafe fn desc(&self, idx: u32) -> &Desc {
        // SAFETY: per the contract nobody writes the descriptor meanwhile.
        unsafe { &*self.descs[idx as usize].get() }
    }

    /// Descriptor of buffer `idx` (or of slice slot `idx`), writable.
    ///
    /// # Safety
    /// The caller owns buffer `idx` (or the slice whose slot it is) exclusively for the life of the
    /// reference.
    #[inline]
    #[allow(clippy::mut_from_ref)]
    pub(crate) unsafe fn desc_mut(&self, idx: u32) -> &mut Desc {
        // SAFETY: per the contract the access is exclusive.
        unsafe { &mut *self.descs[idx as usize].get() }
    }

    /// The data of buflet `d`.
    ///
    /// # Safety
    /// `d` is the descriptor of a buflet of this pool that the caller owns (its window belongs to it alone).
    #[inline]
    pub(crate) unsafe fn bytes(&self, d: &Desc) -> &[u8] {
        // SAFETY: off..off+len lies inside buffer `mem` (descriptor invariant: limit <= buf_size), owned per
        // the contract.
        unsafe { std::slice::from_raw_parts(self.buf_ptr(d.mem).add(d.off as usize), d.len as usize) }
    }

    /// The data of buflet `d`, writable.
    ///
    /// # Safety
    /// As for [`PoolInner::bytes`], and no other reference to that data may exist.
    #[inline]
    #[allow(clippy::mut_from_ref)]
    pub(crate) unsafe fn bytes_mut(&self, d: &Desc) -> &mut [u8] {
        // SAFETY: as for `bytes`, exclusive per the contract.
        unsafe { std::slice::from_raw_parts_mut(self.buf_ptr(d.mem).add(d.off as usize), d.len as usize) }
    }

    /// The free bytes after buflet `d`'s data, writable.
    ///
    /// # Safety
    /// As for [`PoolInner::bytes_mut`].
    #[inline]
    #[allow(clippy::mut_from_ref)]
    pub(crate) unsafe fn tail_bytes_mut(&self, d: &Desc) -> &mut [u8] {
        // SAFETY: off+len..limit lies inside buffer `mem` and belongs to the buflet, exclusive per the contract.
        unsafe { std::slice::from_raw_parts_mut(self.buf_ptr(d.mem).add((d.off + d.len) as usize), d.tailroom()) }
    }

    /// Buffer `idx`'s count of holders.
    #[inline]
    pub(super) fn refcnt(&self, idx: u32) -> &Shares {
        &self.refcnts[idx as usize * self.refcnt_stride]
    }

    /// Whether buffer `idx` is held by one buflet only (no view shares it, no share is reserved).
    #[inline]
    pub(crate) fn is_sole_holder(&self, idx: u32) -> bool {
        self.refcnt(idx).is_sole()
    }

    /// Adds a holder to buffer `mem`'s memory (a view carved out of it).
    #[inline]
    pub(crate) fn share(&self, mem: u32) {
        self.share_n(mem, 1);
    }

    /// Adds `n` holders to buffer `mem`'s memory at once (see [`Shares::add`]).
    #[inline]
    pub(crate) fn share_n(&self, mem: u32, n: u32) {
        self.refcnt(mem).add(n);
    }

    /// Drops `n` shares of buffer `idx`'s memory; true when they were the last (see [`Shares::release`]).
    ///
    /// # Safety
    /// The caller holds `n` shares of buffer `idx` and gives them up; on true, the buffer is the caller's
    /// to give back.
    #[inline]
    pub(super) unsafe fn release_ref(&self, idx: u32, n: u32) -> bool {
        // SAFETY: forwarded contract.
        unsafe { self.refcnt(idx).release(n) }
    }

    /// Collects into `out` the buffers that chain `head` frees: every buflet's own buffer, and a shared
    /// host buffer when this chain held its last share.
    ///
    /// # Safety
    /// The caller owns chain `head` and gives it up: no buflet of it is used afterwards.
    #[inline]
    pub(crate) unsafe fn release_chain(&self, head: u32, out: &mut Released) {
        let mut b = head;
        while b != NIL {
            // SAFETY: forwarded contract; `b` is the next buflet of the chain.
            b = unsafe { self.release_buflet(b, out) };
        }
    }

    /// Frees chains `heads` (at most [`CHAIN_BATCH`]), walking them side by side, a buflet of each in
    /// turn: the descriptor reads of one round (most often lines the other core wrote) are asked for
    /// together instead of one chain's reads waiting on each other. `out` is given back to the pool
    /// whenever it could not take another buflet's buffers, and holds the rest when this returns.
    ///
    /// # Safety
    /// The caller owns every chain and gives them up; each is named once; there are at most
    /// [`CHAIN_BATCH`]. Every index already in `out` is a buffer of this pool that the caller gives up,
    /// once.
    pub(crate) unsafe fn release_chains(&self, heads: &[u32], out: &mut Released) {
        let mut cursor: ArrayVec<u32, CHAIN_BATCH> = heads.iter().copied().collect();
        while !cursor.is_empty() {
            cursor.iter().for_each(|&b| self.prefetch_desc(b));
            cursor.retain(|b| {
                if out.remaining_capacity() < 2 {
                    // SAFETY: what `out` holds was given up by the caller or released from its chains, once
                    // each (contract).
                    unsafe { self.put_bulk(out) };
                    out.clear();
                }
                // SAFETY: forwarded contract; `b` is the next buflet of its chain.
                *b = unsafe { self.release_buflet(*b, out) };
                *b != NIL
            });
        }
    }

    /// Hints that descriptor `idx` will be read soon. Safe: only its address is taken.
    #[inline]
    pub(crate) fn prefetch_desc(&self, idx: u32) {
        crate::prefetch::read(self.descs[idx as usize].get().cast_const().cast(), DESC_HOT_BYTES);
    }

    /// Hints that descriptor `idx` will be written soon: its line is fetched owned.
    #[inline]
    pub(crate) fn prefetch_desc_for_write(&self, idx: u32) {
        crate::prefetch::write(self.descs[idx as usize].get().cast_const().cast(), DESC_HOT_BYTES);
    }

    /// Releases buflet `b` of a chain the caller gives up (its own buffer, and its share of a host buffer;
    /// into `out` what that frees, at most two) and returns the next buflet.
    ///
    /// # Safety
    /// The caller owns `b`'s chain and gives it up.
    #[inline]
    unsafe fn release_buflet(&self, b: u32, out: &mut Released) -> u32 {
        // Everything needed is read before any share is given up, the pool's own fields too: once this
        // chain's share of a host buffer is gone, the other holder may free it on another thread, and its
        // descriptor may then head a new packet whose `next` is not ours to follow; and when `b` is a
        // slice's slot, that share was the last this thread held of the pool, which may then be retired
        // and freed.
        let (next, mem, shares, own_buffer) = {
            // SAFETY: the caller owns the chain, so nobody writes `b`'s descriptor while we read it.
            let d = unsafe { self.desc(b) };
            (d.next, d.mem, 1 + u32::from(d.shares), self.has_buffer(b))
        };
        // SAFETY: a view's buflet holds `shares` of its host's memory (its own and those in reserve),
        // given up with the chain (contract).
        if mem != b && unsafe { self.release_ref(mem, shares) } {
            out.push(mem);
        }
        #[cfg(test)]
        if mem != b {
            if let Some(hook) = AFTER_HOST_SHARE_RELEASED.with(|h| h.borrow_mut().take()) {
                hook();
            }
        }
        let own = if mem == b { shares } else { 1 };
        // A slice's descriptor slot (no buffer of its own) gives back nothing more.
        // SAFETY: otherwise the buflet holds its own buffer's share (and, direct, those in reserve), given up
        // with the chain (contract).
        if own_buffer && unsafe { self.release_ref(b, own) } {
            out.push(b);
        } else {
            #[cfg(test)]
            if let Some(hook) = AFTER_SHARE_RELEASED.with(|h| h.borrow_mut().take()) {
                hook();
            }
        }
        next
    }

    /// Frees chain `head` back to the pool.
    ///
    /// # Safety
    /// As for [`PoolInner::release_chain`].
    pub(crate) unsafe fn free_chain(&self, head: u32) {
        let mut out = Released::new();
        // SAFETY: forwarded contract.
        unsafe { self.release_chain(head, &mut out) };
        // SAFETY: each index was released exactly once by the chain, which the caller gave up.
        unsafe { self.put_bulk(&out) };
    }
}
