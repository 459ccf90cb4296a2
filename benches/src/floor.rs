//! Floors: the same work as pktloop's scenarios written with no pktloop type at all, so that what pktloop
//! costs above the hardware shows. A floor that used pktloop's own pool or ring would hide those costs.
//!
//! - [`Spsc`]: a bare single-producer/single-consumer ring of `Copy` items, as anyone would hand-write it
//!   (free-running positions on their own cache lines, the other side's position cached);
//! - [`Buffers`]: a slab of fixed-size buffers named by index;
//! - [`txonly_rxonly`]: core 0 takes a buffer index from a "free" ring, writes the frame into the buffer
//!   and pushes the index on a data ring; core 1 pops it, reads the first 16 bytes and pushes the index
//!   back on the free ring (8192 buffers of 2 KiB or more, a 1024-slot data ring, bursts of 32), the
//!   buffers either back to back or an odd number of cache lines apart, as pktloop's pool spaces them;
//! - [`txonly_copy_rxonly`]: the same with a private pool's copy: core 0 writes each frame into a buffer of
//!   its own first, then copies it into the buffer it sends;
//! - [`io_forward`]: a burst of handles seeded each way between two cores that push back out what they
//!   receive (testpmd's io mode with `tx_first`), with 4- or 8-byte handles;
//! - [`ping_pong`]: one `u64` each way over two rings, the round trip timed on core 0.

use crossbeam_utils::CachePadded;
use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

struct Shared<T> {
    head: CachePadded<AtomicUsize>,
    tail: CachePadded<AtomicUsize>,
    slots: Box<[UnsafeCell<T>]>,
    mask: usize,
}

// SAFETY: a slot is written by the producer before the Release store of `head` that hands it over, and
// read by the consumer after its Acquire load; the positions keep the two sides on different slots.
unsafe impl<T: Send> Sync for Shared<T> {}

/// One end of a bare SPSC ring (the same type for both ends; each end uses only its own methods). Aligned
/// to a cache-line pair: each end's positions are written every burst by its own core, and two ends must
/// not share a line wherever they are placed.
#[allow(missing_debug_implementations)]
#[repr(align(128))]
pub struct Spsc<T> {
    shared: Arc<Shared<T>>,
    /// Our position (head for the producer, tail for the consumer).
    pos: usize,
    /// The other side's position as last seen.
    seen: usize,
}

/// A ring of `capacity` slots (a power of two): (producer, consumer).
pub fn spsc<T: Copy + Default + Send>(capacity: usize) -> (Spsc<T>, Spsc<T>) {
    assert!(capacity.is_power_of_two());
    let shared = Arc::new(Shared {
        head: CachePadded::new(AtomicUsize::new(0)),
        tail: CachePadded::new(AtomicUsize::new(0)),
        slots: (0..capacity).map(|_| UnsafeCell::new(T::default())).collect(),
        mask: capacity - 1,
    });
    (Spsc { shared: shared.clone(), pos: 0, seen: 0 }, Spsc { shared, pos: 0, seen: 0 })
}

impl<T: Copy + Send> Spsc<T> {
    /// Producer: pushes as many of `items` as fit; returns how many.
    #[inline]
    pub fn push(&mut self, items: &[T]) -> usize {
        let n = items.len().min(self.room(items.len()));
        for (i, &item) in items[..n].iter().enumerate() {
            // SAFETY: slots pos..pos+n are free (the consumer released them), only we write them.
            unsafe { *self.shared.slots[(self.pos + i) & self.shared.mask].get() = item };
        }
        self.pos = self.pos.wrapping_add(n);
        self.shared.head.store(self.pos, Ordering::Release);
        n
    }

    /// Producer: whether `n` items fit now.
    #[inline]
    pub fn has_room(&mut self, n: usize) -> bool {
        self.room(n) >= n
    }

    /// Producer: free slots, as last seen if at least `want` looked free, otherwise right now.
    #[inline]
    fn room(&mut self, want: usize) -> usize {
        let cap = self.shared.mask + 1;
        if cap - self.pos.wrapping_sub(self.seen) < want {
            self.seen = self.shared.tail.load(Ordering::Acquire);
        }
        cap - self.pos.wrapping_sub(self.seen)
    }

    /// Consumer: pops up to `out.len()` items; returns how many.
    #[inline]
    pub fn pop(&mut self, out: &mut [T]) -> usize {
        if self.seen.wrapping_sub(self.pos) < out.len() {
            self.seen = self.shared.head.load(Ordering::Acquire);
        }
        let n = out.len().min(self.seen.wrapping_sub(self.pos));
        if n == 0 {
            // Empty: ask for the line the next item will be in, as pktloop's rings do, so that when the
            // head says it is there it is most often here already (the floor keeps every trick they use).
            #[cfg(target_arch = "x86_64")]
            // SAFETY: a prefetch never faults and reads nothing the program can observe.
            unsafe {
                let next = self.shared.slots[self.pos & self.shared.mask].get();
                core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(next.cast())
            };
        }
        for (i, o) in out[..n].iter_mut().enumerate() {
            // SAFETY: slots pos..pos+n were published by the producer's Release store we acquired.
            *o = unsafe { *self.shared.slots[(self.pos + i) & self.shared.mask].get() };
        }
        self.pos = self.pos.wrapping_add(n);
        if n > 0 {
            self.shared.tail.store(self.pos, Ordering::Release);
        }
        n
    }
}

/// A slab of `count` buffers of `size` bytes, 64-byte aligned, named by index. Which side writes which
/// buffer is the floors' business (each buffer has one owner at a time, handed over through their rings);
/// the slab only hands out pointers, taken from the whole allocation so that they may reach every byte.
#[allow(missing_debug_implementations)]
pub struct Buffers {
    base: *mut CachePadded<[u8; 64]>,
    /// Cache lines in the slab.
    len: usize,
    /// Cache lines from one buffer to the next.
    lines: usize,
}

// SAFETY: the slab is plain bytes that every floor side reaches through raw pointers only; whoever writes a
// buffer owns it at the time, by the floor's protocol (its rings' Release and Acquire order the hand-overs).
unsafe impl Sync for Buffers {}
// SAFETY: as above; the allocation itself is freed once, by `Drop`.
unsafe impl Send for Buffers {}

impl Drop for Buffers {
    fn drop(&mut self) {
        // SAFETY: `base` and `len` are those of the boxed slice `new` leaked, freed here once.
        drop(unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(self.base, self.len)) });
    }
}

/// How far apart the floor's buffers are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spacing {
    /// Back to back: 2 KiB buffers 2 KiB apart, as anyone would write it first.
    Packed,
    /// An odd number of cache lines apart, so that the same offset in successive buffers falls in
    /// different cache sets (what pktloop's pool does).
    OddLines,
}

impl Buffers {
    /// `count` zeroed buffers of `size` bytes (rounded up to whole cache lines), spaced as `spacing` says.
    pub fn new(count: usize, size: usize, spacing: Spacing) -> Buffers {
        let lines = match spacing {
            Spacing::Packed => size.div_ceil(64),
            Spacing::OddLines => size.div_ceil(64) | 1,
        };
        let mem = vec![CachePadded::new([0u8; 64]); count * lines].into_boxed_slice();
        let len = mem.len();
        Buffers { base: Box::into_raw(mem).cast(), len, lines }
    }

    /// Pointer to buffer `idx`, valid for its bytes.
    ///
    /// # Panics
    /// `idx` is not a buffer of the slab.
    #[inline]
    pub fn ptr(&self, idx: u32) -> *mut u8 {
        let line = idx as usize * self.lines;
        assert!(line < self.len, "buffer {idx} is not in the slab");
        // SAFETY: the line is inside the allocation (checked).
        unsafe { self.base.add(line).cast() }
    }
}

/// Frames up to this long are written as the whole line they start, as pktloop writes them.
const LINE: usize = 64;

/// A frame ready to be written: a frame of up to a line as the whole line (its bytes, then zeros), held
/// in registers, as pktloop's generator writes it (a floor keeps every trick of the code it measures).
#[derive(Clone, Copy)]
struct Frame<'a> {
    bytes: &'a [u8],
    line: Option<[u8; LINE]>,
}

impl<'a> Frame<'a> {
    fn new(bytes: &'a [u8]) -> Frame<'a> {
        let line = (bytes.len() <= LINE).then(|| {
            let mut line = [0u8; LINE];
            line[..bytes.len()].copy_from_slice(bytes);
            line
        });
        Frame { bytes, line }
    }

    /// Writes the frame at `dst`.
    ///
    /// # Safety
    /// `dst` is valid for `max(len, 64)` bytes of writes, which nothing else reads or writes meanwhile.
    #[inline(always)]
    unsafe fn write(&self, dst: *mut u8) {
        // SAFETY: per the contract.
        unsafe {
            match self.line {
                Some(line) => dst.cast::<[u8; LINE]>().write_unaligned(line),
                None => std::ptr::copy_nonoverlapping(self.bytes.as_ptr(), dst, self.bytes.len()),
            }
        }
    }
}

/// Copies a frame of `len` bytes from `src` to `dst`, a frame of up to a line as the whole line.
///
/// # Safety
/// `src` and `dst` are valid for `max(len, 64)` bytes of reads and writes, which nothing else writes
/// (or, at `dst`, reads) meanwhile.
#[inline(always)]
unsafe fn copy_frame(src: *const u8, dst: *mut u8, len: usize) {
    // SAFETY: per the contract.
    unsafe {
        if len <= LINE {
            dst.cast::<[u8; LINE]>().write_unaligned(src.cast::<[u8; LINE]>().read_unaligned());
        } else {
            std::ptr::copy_nonoverlapping(src, dst, len);
        }
    }
}

/// Buffers in the txonly floor.
pub const FLOOR_BUFFERS: usize = 8192;
/// Data ring slots in the txonly floor.
pub const FLOOR_RING: usize = 1024;
/// Burst size.
pub const FLOOR_BURST: usize = 32;

/// The txonly -> rxonly floor: `packets` frames (a copy of `frame` each) from core 0 to core 1. Returns the
/// time from the start until core 1 has read the last one, and a sum of header bytes read (so the reads
/// cannot be optimised away; callers check it).
pub fn txonly_rxonly(frame: &[u8], packets: u64, spacing: Spacing) -> (Duration, u64) {
    let bufs = Buffers::new(FLOOR_BUFFERS, frame.len().max(2048), spacing);
    let (data_tx, data_rx) = spsc::<u32>(FLOOR_RING);
    let (mut free_tx, free_rx) = spsc::<u32>(FLOOR_BUFFERS);
    let all: Vec<u32> = (0..FLOOR_BUFFERS as u32).collect();
    assert_eq!(free_tx.push(&all), FLOOR_BUFFERS);
    let stop = &AtomicBool::new(false);
    let bufs = &bufs;
    // Each side's ring ends move into its thread (here and in the floors below): left on this stack,
    // side by side, the positions both sides write every burst would share cache lines.
    let frame = Frame::new(frame);
    crate::cross_core(
        move || {
            let (mut free_rx, mut data_tx) = (free_rx, data_tx);
            let mut burst = [0u32; FLOOR_BURST];
            let (mut have, mut sent) = (0usize, 0usize);
            while !stop.load(Ordering::Relaxed) {
                if sent == have {
                    have = free_rx.pop(&mut burst);
                    sent = 0;
                    for &idx in &burst[..have] {
                        // SAFETY: the index came off the free ring: the buffer is ours until pushed on.
                        unsafe { frame.write(bufs.ptr(idx)) };
                    }
                }
                sent += data_tx.push(&burst[sent..have]);
            }
        },
        move || {
            let (mut data_rx, mut free_tx) = (data_rx, free_tx);
            let mut burst = [0u32; FLOOR_BURST];
            let (mut got, mut sum) = (0u64, 0u64);
            while got < packets {
                let n = data_rx.pop(&mut burst);
                for &idx in &burst[..n] {
                    let mut hdr = [0u8; 16];
                    // SAFETY: the index came off the data ring: the buffer is ours until pushed back.
                    unsafe { std::ptr::copy_nonoverlapping(bufs.ptr(idx), hdr.as_mut_ptr(), 16) };
                    sum += u64::from(std::hint::black_box(hdr)[12]);
                }
                let mut back = 0;
                while back < n {
                    back += free_tx.push(&burst[back..n]);
                }
                got += n as u64;
            }
            stop.store(true, Ordering::Relaxed);
            sum
        },
    )
}

/// The txonly -> rxonly floor with a private pool's copy: core 0 writes each frame into a buffer of its
/// own (a stack of them, reused burst after burst), then copies it into a buffer from the free ring and
/// pushes that; core 1 as in [`txonly_rxonly`].
pub fn txonly_copy_rxonly(frame: &[u8], packets: u64, spacing: Spacing) -> (Duration, u64) {
    let bufs = Buffers::new(FLOOR_BUFFERS, frame.len().max(2048), spacing);
    let own = Buffers::new(FLOOR_BUFFERS, frame.len().max(2048), spacing);
    let (data_tx, data_rx) = spsc::<u32>(FLOOR_RING);
    let (mut free_tx, free_rx) = spsc::<u32>(FLOOR_BUFFERS);
    let all: Vec<u32> = (0..FLOOR_BUFFERS as u32).collect();
    assert_eq!(free_tx.push(&all), FLOOR_BUFFERS);
    let stop = &AtomicBool::new(false);
    let (bufs, own) = (&bufs, &own);
    let frame = Frame::new(frame);
    crate::cross_core(
        move || {
            let (mut free_rx, mut data_tx) = (free_rx, data_tx);
            let mut stack: Vec<u32> = (0..FLOOR_BUFFERS as u32).collect();
            let mut burst = [0u32; FLOOR_BURST];
            let mut mine = [0u32; FLOOR_BURST];
            let (mut have, mut sent) = (0usize, 0usize);
            while !stop.load(Ordering::Relaxed) {
                if sent == have {
                    for m in &mut mine {
                        *m = stack.pop().expect("own buffers");
                    }
                    for &idx in &mine {
                        // SAFETY: the buffer came off our own stack: it is ours.
                        unsafe { frame.write(own.ptr(idx)) };
                    }
                    have = free_rx.pop(&mut burst);
                    sent = 0;
                    for (&idx, &m) in burst[..have].iter().zip(&mine) {
                        // SAFETY: the index came off the free ring: the buffer is ours until pushed on.
                        unsafe { copy_frame(own.ptr(m), bufs.ptr(idx), frame.bytes.len()) };
                    }
                    stack.extend(mine.iter().rev());
                }
                sent += data_tx.push(&burst[sent..have]);
            }
        },
        move || {
            let (mut data_rx, mut free_tx) = (data_rx, free_tx);
            let mut burst = [0u32; FLOOR_BURST];
            let (mut got, mut sum) = (0u64, 0u64);
            while got < packets {
                let n = data_rx.pop(&mut burst);
                for &idx in &burst[..n] {
                    let mut hdr = [0u8; 16];
                    // SAFETY: the index came off the data ring: the buffer is ours until pushed back.
                    unsafe { std::ptr::copy_nonoverlapping(bufs.ptr(idx), hdr.as_mut_ptr(), 16) };
                    sum += u64::from(std::hint::black_box(hdr)[12]);
                }
                let mut back = 0;
                while back < n {
                    back += free_tx.push(&burst[back..n]);
                }
                got += n as u64;
            }
            stop.store(true, Ordering::Relaxed);
            sum
        },
    )
}

/// A handle word: 4 or 8 bytes naming a buffer (pktloop's handles are 8 bytes).
pub trait Word: Copy + Default + Send + Sync {
    /// The word of buffer `idx`.
    fn of(idx: usize) -> Self;
    /// The buffer it names.
    fn index(self) -> usize;
}

impl Word for u32 {
    fn of(idx: usize) -> u32 {
        idx as u32
    }
    fn index(self) -> usize {
        self as usize
    }
}

impl Word for u64 {
    fn of(idx: usize) -> u64 {
        idx as u64
    }
    fn index(self) -> usize {
        self as usize
    }
}

/// Slots of each ring of the io-forwarding floor, as the feth pair that `pathbench iofwd` measures has.
pub const IO_RING: usize = 512;

/// The io-forwarding floor (testpmd's io mode with `tx_first`): a burst of handles seeded each way over two
/// rings of [`IO_RING`] slots between core 0 and core 1, each core pushing what it pops back out, until
/// core 1 has moved `packets`. Returns that time (packets per direction) and whether every handle core 1
/// moved came in order (the seeded handles `0..FLOOR_BURST`, round and round); callers check it.
pub fn io_forward<W: Word>(packets: u64) -> (Duration, bool) {
    io_forward_over(spsc::<W>, packets)
}

/// The two ends of a ring the io-forwarding floor runs over: [`Spsc`], or another protocol's
/// ([`crate::stamped`]).
pub trait BurstRing<W>: Send {
    /// Producer: pushes as many of `items` as fit; returns how many.
    fn push(&mut self, items: &[W]) -> usize;
    /// Consumer: pops up to `out.len()` items; returns how many.
    fn pop(&mut self, out: &mut [W]) -> usize;
}

impl<W: Copy + Send> BurstRing<W> for Spsc<W> {
    #[inline]
    fn push(&mut self, items: &[W]) -> usize {
        Spsc::push(self, items)
    }
    #[inline]
    fn pop(&mut self, out: &mut [W]) -> usize {
        Spsc::pop(self, out)
    }
}

/// [`io_forward`] over rings of [`IO_RING`] slots that `ring` makes (producer, consumer).
pub fn io_forward_over<W: Word, R: BurstRing<W>>(ring: fn(usize) -> (R, R), packets: u64) -> (Duration, bool) {
    let ((mut to_b, at_b), (mut to_a, at_a)) = (ring(IO_RING), ring(IO_RING));
    let seed: Vec<W> = (0..FLOOR_BURST).map(W::of).collect();
    assert_eq!(to_b.push(&seed), FLOOR_BURST);
    assert_eq!(to_a.push(&seed), FLOOR_BURST);
    let stop = &AtomicBool::new(false);
    crate::cross_core(
        move || bounce(at_a, to_b, |_| stop.load(Ordering::Relaxed)),
        move || {
            let (mut moved, mut next, mut in_order) = (0u64, 0usize, true);
            bounce(at_b, to_a, |burst| {
                for w in burst {
                    in_order &= w.index() == next;
                    next = (next + 1) % FLOOR_BURST;
                }
                moved += burst.len() as u64;
                moved >= packets
            });
            stop.store(true, Ordering::Relaxed);
            in_order
        },
    )
}

/// One io-forwarding core's loop: pops a burst from `rx` and pushes it out on `tx`, until `done` (shown each
/// burst) says so. The ring ends are its own, on its thread's stack.
fn bounce<W: Word, R: BurstRing<W>>(mut rx: R, mut tx: R, mut done: impl FnMut(&[W]) -> bool) {
    let mut burst = [W::default(); FLOOR_BURST];
    loop {
        let n = rx.pop(&mut burst);
        let mut sent = 0;
        while sent < n {
            sent += tx.push(&burst[sent..n]);
        }
        if done(&burst[..n]) {
            return;
        }
    }
}

/// The bare ping-pong: `rounds` round trips of one `u64` over two rings between core 0 and core 1.
/// Returns each round trip's time in nanoseconds (measured on core 1).
pub fn ping_pong(rounds: usize) -> Vec<u64> {
    let (mut ping_tx, mut ping_rx) = spsc::<u64>(64);
    let (mut pong_tx, mut pong_rx) = spsc::<u64>(64);
    time_round_trips(
        rounds,
        (move |v: &[u64]| ping_tx.push(v), move |out: &mut [u64]| ping_rx.pop(out)),
        (move |v: &[u64]| pong_tx.push(v), move |out: &mut [u64]| pong_rx.pop(out)),
    )
}

/// [`ping_pong`] with each ring call made through a trait object, as an application calls a port (and
/// DPDK's `rte_eth_rx_burst` a driver, through a function pointer): what a call the poll loop cannot
/// inline costs a round trip, with no pktloop code in it.
pub fn ping_pong_called(rounds: usize) -> Vec<u64> {
    let (mut ping_tx, mut ping_rx) = spsc::<u64>(64);
    let (mut pong_tx, mut pong_rx) = spsc::<u64>(64);
    type Send_<'a> = &'a mut (dyn FnMut(&[u64]) -> usize + Send);
    type Receive<'a> = &'a mut (dyn FnMut(&mut [u64]) -> usize + Send);
    let (mut ping_send, mut ping_receive) = (|v: &[u64]| ping_tx.push(v), |out: &mut [u64]| ping_rx.pop(out));
    let (mut pong_send, mut pong_receive) = (|v: &[u64]| pong_tx.push(v), |out: &mut [u64]| pong_rx.pop(out));
    // Opaque to the compiler, which would otherwise see through the trait objects and inline the calls.
    let ping: (Send_, Receive) = std::hint::black_box((&mut ping_send, &mut ping_receive));
    let pong: (Send_, Receive) = std::hint::black_box((&mut pong_send, &mut pong_receive));
    time_round_trips(rounds, ping, pong)
}

/// The ping-pong harness, for any transport: core 1 sends `i` on `ping` and times until it is back on
/// `pong`; core 0 answers. Each lane is a (send, receive) pair of calls that move up to a slice of items
/// and say how many moved. Returns each round trip's time in nanoseconds.
pub fn time_round_trips<PS, PR, QS, QR>(rounds: usize, ping: (PS, PR), pong: (QS, QR)) -> Vec<u64>
where
    PS: FnMut(&[u64]) -> usize + Send,
    PR: FnMut(&mut [u64]) -> usize + Send,
    QS: FnMut(&[u64]) -> usize + Send,
    QR: FnMut(&mut [u64]) -> usize + Send,
{
    let ((ping_tx, ping_rx), (pong_tx, pong_rx)) = (ping, pong);
    let mut rtts = Vec::with_capacity(rounds);
    let rtts_ref = &mut rtts;
    crate::cross_core(
        move || {
            let (mut ping_rx, mut pong_tx) = (ping_rx, pong_tx);
            let mut one = [0u64; 1];
            for _ in 0..rounds {
                while ping_rx(&mut one) == 0 {}
                while pong_tx(&one) == 0 {}
            }
        },
        move || {
            let (mut ping_tx, mut pong_rx) = (ping_tx, pong_rx);
            let mut one = [0u64; 1];
            for i in 0..rounds as u64 {
                let t0 = Instant::now();
                while ping_tx(&[i]) == 0 {}
                while pong_rx(&mut one) == 0 {}
                rtts_ref.push(t0.elapsed().as_nanos() as u64);
                assert_eq!(one[0], i);
            }
        },
    );
    rtts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_forward_brings_every_seeded_handle_round_in_order() {
        assert!(io_forward::<u64>(1 << 12).1, "8-byte handles");
        assert!(io_forward::<u32>(1 << 12).1, "4-byte handles");
    }
}
