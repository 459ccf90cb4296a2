//! Packets: an owning 8-byte handle (pool id + index of the first buflet) over a chain of buflets.
//!
//! Moving a [`Packet`] moves ownership; dropping it (or [`free_burst`]) returns its buflets to the pool
//! through the calling thread's cache. Every buflet has a descriptor (like an mbuf header) holding its data
//! window: `start..limit` is the region it may use inside its buffer, `off..off+len` the bytes in it. A
//! *view* buflet uses a region of another buffer (its `mem`), which is refcounted; split-pool packing carves
//! views out of one large buffer with [`Packet::carve_tail`].
//!
//! A new packet is *plain*: one buffer of its own, data starting at the pool's headroom, its length in the
//! handle. Its descriptor's layout fields are not written until an operation needs more than that
//! (headroom changes, a second buflet, a view), and its metadata reads as the default until first written
//! (a flag in the handle says so). Allocating, filling, sending, reading and freeing a plain packet touches
//! its data line and nothing else, on either core; writing its metadata touches the descriptor on the
//! writing core only, so a receiver that reads the data and not the metadata still touches only data.
//!
//! A *slice* is the same for split-mode packing ([`Packer`]): its handle names a region of a buffer that
//! other slices share (see `pool::slice`), and it holds one share of that buffer. Plain packets and slices
//! are *direct*: the handle alone says where their data is.
//!
//! This file holds the handle, how it names its data, its metadata, and the pool's allocation of new
//! packets; what a packet does sits one kind per file: `access` (its bytes in place), `resize` (growing and
//! shrinking), `views` (carving a buffer's rest), `copy` (into another pool), `hints` (lines to fetch),
//! `lend` (its buffers handed to a driver, and packets made of buffers handed back), and for bursts
//! `fill`, `burst`, `pack`, `copy_burst` and `frames`.

pub use crate::meta::{AccessClass, Expiry, ExpiryAction, PacketFlags, PacketMeta, ServiceClass};

use crate::pool::buflet::{Desc, NIL};
use crate::pool::slice::SLICE_ALIGN;
use crate::pool::{lookup, Pool, PoolInner};
use arrayvec::ArrayVec;

mod access;
mod burst;
mod copy;
mod copy_burst;
mod fill;
mod frames;
mod hints;
mod lend;
mod pack;
mod resize;
mod views;
pub use burst::free_burst;
pub use copy::CopyError;
pub use lend::{LentBuffer, LentChain, PlainBuffers, MAX_LENT_CHAIN};
pub use pack::Packer;

/// What a packet's metadata reads as until it is first written.
static DEFAULT_META: PacketMeta = PacketMeta {
    service_class: ServiceClass::Be,
    link_header_len: 0,
    flags: PacketFlags::empty(),
    rss_hash: 0,
    expiry: None,
    packet_id: 0,
    timestamp_ns: 0,
};

/// What a packet's metadata reads as when it was only marked as starting with an Ethernet header.
static ETHERNET_META: PacketMeta = PacketMeta { link_header_len: ETHERNET_HEADER_LEN, ..DEFAULT_META };

/// Length of an Ethernet header, the link header [`Packet::set_link_header_len`] records without a write.
const ETHERNET_HEADER_LEN: u8 = 14;
/// Bytes of an append [`Packet::prefetch_appends`] asks for, whatever its length: the line its headers go
/// to (the copy itself streams the rest).
const APPEND_AHEAD: usize = 64;
/// A cache line. Frames up to this long are copied as the whole line they start (into room that holds
/// it), in a few inline loads and stores instead of a call to `memcpy` with their length: most frames of
/// a small-packet load are this short.
const LINE: usize = 64;

/// Why an append or write could not be done. The packet is unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PacketError {
    /// The pool had no buffer for another buflet.
    #[error("no buffer for another buflet")]
    NoMem,
    /// The packet would need more buflets than its pool allows, or a view has no room left.
    #[error("packet would exceed its buflet limit")]
    TooLong,
    /// Offset and length reach beyond the packet's data.
    #[error("range {offset}+{len} is beyond the packet length {packet_len}")]
    OutOfRange {
        /// Requested offset.
        offset: usize,
        /// Requested length.
        len: usize,
        /// The packet's length.
        packet_len: usize,
    },
    /// Not enough headroom to prepend.
    #[error("not enough headroom")]
    NoHeadroom,
}

/// An owned packet. 8 bytes; see the module docs.
///
/// The handle caches the packet length (up to 65534 bytes), so drivers can count bytes and check MTUs
/// without touching the descriptor: forwarding a packet between cores moves 8 bytes and no cache line.
#[derive(PartialEq, Eq)]
pub struct Packet {
    /// Three fields in one word, built and changed whole (see [`Packet::from_parts`]): the head buflet's index
    /// in the low 32 bits (a slice's encoded place, for a slice); the tag (pool id in its low 12 bits;
    /// [`SIMPLE`] when the packet is one direct buflet whose buffer no view shares, so freeing it needs no
    /// descriptor read; [`PLAIN`] when its descriptor is not written: a plain packet with [`SIMPLE`], a
    /// slice without; [`META`], [`ETHERNET`]) in bits 32..48; and in bits 48..64 `pkt_len` when below
    /// `u16::MAX`, else `u16::MAX` (read the descriptor).
    bits: u64,
}

const TAG_SHIFT: u32 = 32;
const LEN_SHIFT: u32 = 48;

/// A handle's word of its three fields.
#[inline(always)]
const fn word(head: u32, tag: u16, len: u16) -> u64 {
    head as u64 | (tag as u64) << TAG_SHIFT | (len as u64) << LEN_SHIFT
}

const POOL_ID_MASK: u16 = 0x0fff;
const SIMPLE: u16 = 0x8000;
/// Direct: data found from the handle alone (a plain packet with [`SIMPLE`], a slice without), at the
/// pool's headroom into its region, length in the handle, metadata not written: the descriptor is stale
/// and must not be read until [`Packet::materialize`] writes it.
const PLAIN: u16 = 0x4000;
/// The head descriptor's `meta` holds this packet's metadata (else it reads as the default).
const META: u16 = 0x2000;
/// Without [`META`]: the metadata reads as the default with an Ethernet link header
/// ([`ETHERNET_META`]), so that a port marking every frame it crosses writes no descriptor line.
const ETHERNET: u16 = 0x1000;
const _: () = assert!(crate::pool::MAX_POOLS <= POOL_ID_MASK as usize + 1);

#[inline]
fn short_len(len: u32) -> u16 {
    len.min(u32::from(u16::MAX)) as u16
}

impl std::fmt::Debug for Packet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Packet")
            .field("pool", &self.tag())
            .field("head", &self.head())
            .field("len", &self.len())
            .field("buflets", &self.buflet_count())
            .finish()
    }
}

/// One buflet of a packet, for layout-aware code (copies that keep offsets, pcap writers, checksums).
#[derive(Debug, Clone, Copy)]
pub struct Buflet<'a> {
    /// Offset of the data from the start of the buflet's region.
    pub offset: usize,
    /// The data.
    pub data: &'a [u8],
}

impl Packet {
    /// A handle of the three fields, built in a register and stored in one 8-byte write. A handle is read
    /// whole (pushed on a ring, moved, returned); fields stored one by one and read back whole before they
    /// reached the cache cannot be forwarded to that read, which then waits for every earlier store to
    /// finish, most often the frame just written into lines the other core holds.
    #[inline(always)]
    const fn from_parts(head: u32, tag: u16, len: u16) -> Packet {
        Packet { bits: word(head, tag, len) }
    }

    /// Index of the head buflet.
    #[inline(always)]
    fn head(&self) -> u32 {
        self.bits as u32
    }

    /// Pool id and flags.
    #[inline(always)]
    fn tag(&self) -> u16 {
        (self.bits >> TAG_SHIFT) as u16
    }

    /// The length cached in the handle (`u16::MAX`: read the descriptor).
    #[inline(always)]
    fn cached_len(&self) -> u16 {
        (self.bits >> LEN_SHIFT) as u16
    }

    #[inline(always)]
    fn set_cached_len(&mut self, len: u16) {
        self.bits = word(self.head(), self.tag(), len);
    }

    /// Changes the flags in one 8-byte store. Volatile: the compiler would otherwise narrow a change of
    /// constant bits to a one-byte store, the partial write `from_parts` exists to avoid.
    #[inline(always)]
    fn set_tag(&mut self, tag: u16) {
        let whole = word(self.head(), tag, self.cached_len());
        // SAFETY: a plain aligned write of this handle's own word.
        unsafe { std::ptr::write_volatile(&mut self.bits, whole) };
    }

    /// The packet's pool, for as long as the packet is borrowed.
    #[inline]
    fn pool(&self) -> &PoolInner {
        // SAFETY: this packet owns buffers of the pool, which keeps it registered while it is borrowed.
        unsafe { self.pool_unbound() }
    }

    /// The packet's pool, the reference not tied to `&self`: for a method that changes the handle or its
    /// descriptors, or takes the buffers out of the handle, while it holds the pool.
    ///
    /// # Safety
    /// The caller uses the reference only while buffers of this packet are still held, by this handle or
    /// by whoever took them from it (the last buffer given back to a retired pool may free it).
    #[inline]
    unsafe fn pool_unbound<'p>(&self) -> &'p PoolInner {
        // SAFETY: per the contract a buffer of the pool is held while the reference is used, and a held
        // buffer keeps its pool registered.
        unsafe { lookup(self.tag() & POOL_ID_MASK) }
    }

    /// One whole buffer of its own, no descriptor written.
    #[inline]
    fn is_plain(&self) -> bool {
        self.tag() & (PLAIN | SIMPLE) == PLAIN | SIMPLE
    }

    /// A region of a shared buffer, no descriptor written.
    #[inline]
    fn is_slice(&self) -> bool {
        self.tag() & (PLAIN | SIMPLE) == PLAIN
    }

    /// Plain or a slice: the handle alone says where the data is.
    #[inline]
    fn is_direct(&self) -> bool {
        self.tag() & PLAIN != 0
    }

    /// Writes the descriptor a direct packet implies, so that it becomes an ordinary one (a slice, a view in
    /// its descriptor slot): the first operation that needs more than a data window in one buffer does this.
    #[inline]
    fn materialize(&mut self) {
        if self.is_plain() {
            let pool = self.pool();
            // SAFETY: a plain packet is exactly its own buffer, owned by this handle.
            let d = unsafe { pool.desc_mut(self.head()) };
            d.reset_head(self.head(), pool.headroom, pool.buf_size);
            d.len = u32::from(self.cached_len());
            d.pkt_len = u32::from(self.cached_len());
            self.set_tag(self.tag() & !PLAIN);
        } else if self.is_slice() {
            self.materialize_slice();
        }
    }

    /// [`Packet::materialize`] of a slice: its descriptor slot becomes a view of its region, holding the
    /// slice's share of the buffer, and the handle names the slot.
    #[cold]
    fn materialize_slice(&mut self) {
        let pool = self.pool();
        let geometry = pool.slices();
        let (buffer, start) = (geometry.buffer(self.head()), geometry.start(self.head()));
        let slot = pool.slice_slot(self.head());
        let len = u32::from(self.cached_len());
        // SAFETY: a slice's slot is its own while it lives (its share keeps the buffer, and so the slot's
        // ordinal, from being handed out again).
        let d = unsafe { pool.desc_mut(slot) };
        d.reset_head(buffer, start + pool.headroom, start + self.slice_region(pool));
        d.start = start;
        d.len = len;
        d.pkt_len = len;
        self.bits = word(slot, self.tag() & !PLAIN, self.cached_len());
    }

    /// Bytes of a slice's region: its headroom and data rounded up to [`SLICE_ALIGN`], where the packer cut
    /// the next region (a slice shortened since owns no less; it knows of less, which is safe).
    #[inline]
    fn slice_region(&self, pool: &PoolInner) -> u32 {
        (pool.headroom + u32::from(self.cached_len())).next_multiple_of(SLICE_ALIGN)
    }

    /// Whether this packet is plain and stays so when it grows by `n` bytes: they fit its buffer and the
    /// length still fits the handle. (Plain packets only: the accessors' fast paths stay as small as they
    /// were before slices, small enough to inline into a generator's loop; slices take the next path.)
    #[inline]
    fn stays_plain_with(&self, n: usize) -> bool {
        self.is_plain() && n <= self.tailroom() && usize::from(self.cached_len()) + n < usize::from(u16::MAX)
    }

    /// Grows a slice by `n` bytes inside its region (copying `src` there when given), when they fit and the
    /// length still fits the handle; false, unchanged, otherwise (or when this is not a slice).
    fn grow_slice_in_place(&mut self, n: usize, src: Option<&[u8]>) -> bool {
        let len = usize::from(self.cached_len());
        if !self.is_slice() || n > self.slice_tailroom() || len + n >= usize::from(u16::MAX) {
            return false;
        }
        if let Some(src) = src {
            // SAFETY: the bytes after the data up to the region's end belong to this slice, and `n` of them
            // are free (checked).
            unsafe { std::ptr::copy_nonoverlapping(src.as_ptr(), self.slice_ptr().add(len), n) };
        }
        self.set_cached_len((len + n) as u16);
        true
    }

    /// Free bytes after a slice's data, to its region's end.
    fn slice_tailroom(&self) -> usize {
        let pool = self.pool();
        (self.slice_region(pool) - pool.headroom) as usize - usize::from(self.cached_len())
    }

    /// Start of a plain packet's data.
    #[inline]
    fn plain_ptr(&self) -> *mut u8 {
        debug_assert!(self.is_plain());
        let pool = self.pool();
        // SAFETY: a plain packet owns buffer `head` of its pool, and headroom < buf_size (pool config).
        unsafe { pool.buf_ptr(self.head()).add(pool.headroom as usize) }
    }

    /// Start of a direct packet's data.
    #[inline]
    fn direct_ptr(&self) -> *mut u8 {
        if self.is_plain() {
            self.plain_ptr()
        } else {
            self.slice_ptr()
        }
    }

    /// Start of a slice's data.
    #[inline]
    fn slice_ptr(&self) -> *mut u8 {
        let pool = self.pool();
        let g = pool.slices();
        let (buffer, start) = (g.buffer(self.head()), g.start(self.head()));
        // SAFETY: a slice holds a share of buffer `buffer` of its pool and owns the region from `start` in
        // it, its headroom included (the packer cut regions so).
        unsafe { pool.buf_ptr(buffer).add((start + pool.headroom) as usize) }
    }

    /// Descriptor `idx` of this packet's chain. Not for direct packets, whose descriptor is stale.
    #[inline]
    fn desc(&self, idx: u32) -> &Desc {
        assert!(!self.is_direct(), "descriptor of a direct packet read");
        // SAFETY: callers only pass members of this packet's chain, which the packet owns; `&self` only
        // permits shared access.
        unsafe { self.pool().desc(idx) }
    }

    /// Descriptor `idx` of this packet's chain (or of a buffer just taken from the pool to join it),
    /// writable (a plain packet's is written first).
    #[inline]
    #[allow(clippy::mut_from_ref)]
    fn desc_mut(&mut self, idx: u32) -> &mut Desc {
        self.materialize();
        // SAFETY: callers only pass members of this packet's chain, or buffers they just took from the pool
        // to link into it; the packet owns both, and `&mut self` makes the access exclusive.
        unsafe { self.pool().desc_mut(idx) }
    }

    #[inline]
    fn head_desc(&self) -> &Desc {
        self.desc(self.head())
    }

    /// The head descriptor, writable (a direct packet's written first: a slice's head changes then).
    #[inline]
    fn head_desc_mut(&mut self) -> &mut Desc {
        self.materialize();
        self.desc_mut(self.head())
    }

    /// Index of the last buflet of a packet that is not direct (its descriptors hold the chain).
    fn tail(&self) -> u32 {
        let mut b = self.head();
        loop {
            let next = self.desc(b).next;
            if next == NIL {
                return b;
            }
            b = next;
        }
    }

    /// Id of the pool the packet's buflets belong to.
    pub fn pool_id(&self) -> u16 {
        self.tag() & POOL_ID_MASK
    }

    /// Index of the first buflet's descriptor (unique among live packets of the pool; a slice's is the
    /// slot it would use, so that it does not change when the slice gets a descriptor).
    pub fn index(&self) -> u32 {
        if self.is_slice() {
            return self.pool().slice_slot(self.head());
        }
        self.head()
    }

    /// Data length over all buflets.
    #[inline]
    pub fn len(&self) -> usize {
        if self.cached_len() != u16::MAX {
            self.cached_len() as usize
        } else {
            self.head_desc().pkt_len as usize
        }
    }

    /// Sets the packet length in the descriptor and the handle.
    #[inline]
    fn set_len(&mut self, len: u32) {
        if self.is_direct() && len < u32::from(u16::MAX) {
            self.set_cached_len(len as u16);
            return;
        }
        self.head_desc_mut().pkt_len = len;
        self.set_cached_len(short_len(len));
    }

    /// True when the packet holds no data.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Free bytes in front of the data in the first buflet.
    pub fn headroom(&self) -> usize {
        if self.is_direct() {
            return self.pool().headroom as usize;
        }
        self.head_desc().headroom()
    }

    /// Number of buflets in the chain.
    pub fn buflet_count(&self) -> usize {
        if self.is_direct() {
            return 1;
        }
        self.head_desc().nbuflets as usize
    }

    /// Packet metadata.
    #[inline]
    pub fn meta(&self) -> &PacketMeta {
        if self.tag() & META == 0 {
            return if self.tag() & ETHERNET == 0 { &DEFAULT_META } else { &ETHERNET_META };
        }
        // SAFETY: this packet owns its head buffer, and META says its descriptor's metadata was written by
        // this packet (plain or not: layout and metadata are written independently).
        unsafe { &self.pool().desc(self.head()).meta }
    }

    /// Packet metadata, writable.
    #[inline]
    pub fn meta_mut(&mut self) -> &mut PacketMeta {
        if self.is_slice() {
            self.materialize_slice();
        }
        // SAFETY: this packet owns its head buffer (or slot), which keeps the pool (and so the descriptor)
        // alive for as long as `&mut self` lasts, and makes the access exclusive; only the metadata is
        // touched, which is valid for plain packets too.
        let h = unsafe { self.pool_unbound().desc_mut(self.head()) };
        if self.tag() & META == 0 {
            h.meta = *self.meta();
            self.set_tag((self.tag() | META) & !ETHERNET);
        }
        &mut h.meta
    }

    /// Sets the metadata's link-header length. Marking a packet whose metadata was never written as
    /// starting with an Ethernet header (14) is a flag in the handle, not a write to its descriptor.
    #[inline]
    pub fn set_link_header_len(&mut self, len: u8) {
        if self.tag() & META == 0 && len == ETHERNET_HEADER_LEN {
            self.set_tag(self.tag() | ETHERNET);
        } else {
            self.meta_mut().link_header_len = len;
        }
    }

    /// Gives up ownership without freeing.
    fn into_raw(self) -> (u16, u32) {
        let raw = (self.tag(), self.head());
        std::mem::forget(self);
        raw
    }
}

impl Drop for Packet {
    fn drop(&mut self) {
        // SAFETY: the packet's own pool, and the handle is being dropped.
        unsafe { free_packet(self.pool(), self.tag(), self.head()) };
    }
}

/// Makes buffer `idx`, just taken from `pool`, an empty plain packet with the pool's headroom (nothing is
/// written: see the module docs).
#[inline]
fn init_packet(pool: &PoolInner, idx: u32) -> Packet {
    plain_packet(pool, idx, 0)
}

/// A plain packet of buffer `idx` holding `len` bytes at the pool's headroom (the caller owns the buffer).
#[inline]
fn plain_packet(pool: &PoolInner, idx: u32, len: u16) -> Packet {
    Packet::from_parts(idx, plain_tag(pool), len)
}

/// The tag of a plain packet of `pool`.
#[inline]
fn plain_tag(pool: &PoolInner) -> u16 {
    born_tag(pool) | SIMPLE | PLAIN
}

/// The tag every new packet of `pool` starts from: its id, and [`ETHERNET`] for a pool of Ethernet frames.
#[inline]
fn born_tag(pool: &PoolInner) -> u16 {
    pool.id | if pool.ethernet { ETHERNET } else { 0 }
}

/// The pool id of `pkts` when there is at least one, all of that one pool and all of one kind (their tags'
/// `kind_mask` bits equal to `kind`): the bursts that are read, copied or freed in one pass.
#[inline]
fn one_pool_id(pkts: &[Packet], kind_mask: u16, kind: u16) -> Option<u16> {
    let first = pkts.first()?;
    if first.tag() & kind_mask != kind {
        return None;
    }
    // Every handle's difference from the first, gathered with no branch per packet (the loop vectorizes; a
    // burst of another make is rare, and an early exit would not pay for its branches), and only then
    // narrowed to the key's bits: whole handles take two operations a packet, where each narrowed to its
    // tag first took shuffles.
    let differ = pkts.iter().fold(0, |d, p| d | (p.bits ^ first.bits));
    (differ & tag_bits(POOL_ID_MASK | kind_mask) == 0).then_some(first.tag() & POOL_ID_MASK)
}

/// Where `tag`'s bits are in a handle.
#[inline(always)]
const fn tag_bits(tag: u16) -> u64 {
    (tag as u64) << TAG_SHIFT
}

/// The pool of the packets of `src` when there is at least one and every one has the tag bits `kind`
/// (`PLAIN | SIMPLE`: plain; `PLAIN`: direct, plain or a slice), no metadata written (at most marked as
/// starting with an Ethernet header), and that one pool: a burst a driver copies whole from the handles
/// alone.
fn unwritten_source_pool(src: &[Packet], kind: u16) -> Option<&PoolInner> {
    let id = one_pool_id(src, kind | META, kind)?;
    // SAFETY: the packets of `src` own buffers of pool `id`, which keeps it registered while they live:
    // for as long as the borrow of `src` the returned reference is tied to.
    Some(unsafe { lookup(id) })
}

/// Frees packet `head` whose handle carried `tag` (pool id and flags).
///
/// # Safety
/// `pool` is the packet's pool, and the handle was taken apart (or is being dropped) for this: nothing
/// uses the packet afterwards.
#[inline]
unsafe fn free_packet(pool: &PoolInner, tag: u16, head: u32) {
    if tag & SIMPLE != 0 {
        // SAFETY: a simple packet is exactly its own buffer, owned by the handle being freed.
        unsafe { pool.put_bulk(&[head]) };
    } else if tag & PLAIN != 0 {
        // SAFETY: the slice being freed held one share of its buffer.
        unsafe { pool.release_slices_now(pool.slices().buffer(head), 1) };
    } else {
        // SAFETY: the handle being freed owned the chain.
        unsafe { pool.free_chain(head) };
    }
}

impl PoolInner {
    /// One empty plain packet, or `None` (counted) when the pool is empty.
    #[inline]
    fn alloc_plain(&self) -> Option<Packet> {
        let mut idx = [0u32; 1];
        self.get_bulk(&mut idx).then(|| init_packet(self, idx[0]))
    }

    /// Bytes a plain packet of this pool can hold (after the headroom).
    #[inline]
    fn room(&self) -> usize {
        (self.buf_size - self.headroom) as usize
    }
}

impl Pool {
    /// One empty packet with the pool's headroom, or `None` (counted) when the pool is empty.
    #[inline]
    pub fn alloc(&self) -> Option<Packet> {
        self.inner().alloc_plain()
    }

    /// `n` empty packets appended to `out`, all or nothing (`n` at most the room left in `out` and at most
    /// [`crate::pool::MAX_BULK`]). Returns false, counted, when the pool cannot supply them.
    #[inline]
    pub fn alloc_bulk<const N: usize>(&self, out: &mut ArrayVec<Packet, N>, n: usize) -> bool {
        if n > out.remaining_capacity() || n > crate::pool::MAX_BULK {
            return false;
        }
        let ok = self.take_bulk(out, n);
        if !ok {
            self.inner().count_failure();
        }
        ok
    }

    /// [`Pool::alloc_bulk`] for a caller that goes on with fewer when the pool runs short (one at a time,
    /// or a slower path that counts its own failures): a pool that cannot supply them is not counted.
    #[inline]
    pub fn try_alloc_bulk<const N: usize>(&self, out: &mut ArrayVec<Packet, N>, n: usize) -> bool {
        n <= out.remaining_capacity() && n <= crate::pool::MAX_BULK && self.take_bulk(out, n)
    }

    /// `n` packets (checked by the caller to fit `out` and [`crate::pool::MAX_BULK`]) from the pool,
    /// uncounted when it cannot supply them.
    #[inline]
    fn take_bulk<const N: usize>(&self, out: &mut ArrayVec<Packet, N>, n: usize) -> bool {
        debug_assert!(n <= out.remaining_capacity() && n <= crate::pool::MAX_BULK);
        // The handles are built from the indices where the thread cache holds them, with the pool's tag read
        // and the burst's length stored once.
        let tag = plain_tag(self.inner());
        self.inner().get_bulk_with(n, |idxs| out.extend(idxs.iter().map(|&i| Packet::from_parts(i, tag, 0))))
    }

    /// Up to `n` empty packets appended to `out`, and no more than it has room for: all of them in one bulk
    /// when the pool has them, else as many as it has, one at a time. Returns how many. A pool that runs
    /// short counts one failure, the last single allocation's.
    pub fn alloc_up_to<const N: usize>(&self, out: &mut ArrayVec<Packet, N>, n: usize) -> usize {
        let n = n.min(out.remaining_capacity());
        if n == 0 || self.try_alloc_bulk(out, n) {
            return n;
        }
        let mut got = 0;
        while got < n {
            let Some(p) = self.alloc() else { break };
            out.push(p);
            got += 1;
        }
        got
    }

    /// A packet holding a copy of `frame`, chained over several buflets when it does not fit one.
    pub fn packet_from(&self, frame: &[u8]) -> Result<Packet, PacketError> {
        let mut p = self.alloc().ok_or(PacketError::NoMem)?;
        p.append(frame)?;
        Ok(p)
    }
}

#[cfg(test)]
mod slice_tests;
#[cfg(test)]
mod tests;
