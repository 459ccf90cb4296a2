//! Lock-free single-producer/single-consumer ring, the transport between lcores.
//!
//! [`ring`] returns a [`Producer`] and a [`Consumer`]: the type system enforces one of each. Positions are
//! free-running counters on separate cache lines; each side caches the other's last seen position and
//! reloads it only when the ring looks full (producer) or empty (consumer), so a burst costs one Acquire
//! load at most and one Release store. Bursts are the main API; single-item calls are thin wrappers.

use crate::error::KnobError;
use crate::primitive::{Arc, AtomicUsize, Ordering, UnsafeCell};
use arrayvec::ArrayVec;
use crossbeam_utils::CachePadded;
use std::mem::MaybeUninit;

/// Largest ring capacity.
pub const MAX_RING_SIZE: usize = 1 << 24;

struct Shared<T> {
    /// Next position the producer writes; written by the producer only.
    head: CachePadded<AtomicUsize>,
    /// Next position the consumer reads; written by the consumer only.
    tail: CachePadded<AtomicUsize>,
    mask: usize,
    /// The ring's slots are `slots[first..first + capacity]`: the array holds a few more, so that the first
    /// can start a 128-byte block (see [`LINE_PAIR`]).
    first: usize,
    slots: Box<[UnsafeCell<MaybeUninit<T>>]>,
}

/// What the slots are aligned to, when their size divides it: a burst of a whole number of lines' worth of
/// slots (8 handles, 16, 32) that starts a line then fills whole lines, and the line the producer writes
/// next is not one the consumer is still reading (a 16-byte-aligned heap array puts the end of one burst
/// and the start of the next in one line). A pair of lines, as the adjacent-line prefetcher fetches them.
const LINE_PAIR: usize = 128;

// SAFETY: a slot is accessed by exactly one side at a time, as handed over by the head/tail protocol, and
// values of `T: Send` move between threads.
unsafe impl<T: Send> Sync for Shared<T> {}
// SAFETY: as above.
unsafe impl<T: Send> Send for Shared<T> {}

impl<T> Shared<T> {
    /// The cell of position `pos`.
    #[inline(always)]
    fn slot(&self, pos: usize) -> &UnsafeCell<MaybeUninit<T>> {
        &self.slots[self.first + (pos & self.mask)]
    }

    /// The first slot's address (under loom, the first cell's: there only `demote` takes it, for a hint
    /// that is off).
    #[inline(always)]
    fn base(&self) -> *const T {
        self.slots.as_ptr().wrapping_add(self.first).cast()
    }

    /// Where `n` items from position `pos` on lie: the slot index they start at, counted from the ring's
    /// first slot ([`Shared::base`]), and how many fit before its last (the rest wrap to the first). `n` is
    /// at most the capacity.
    #[cfg(not(loom))]
    #[inline]
    fn run(&self, pos: usize, n: usize) -> (usize, usize) {
        debug_assert!(n <= self.mask + 1, "at most the capacity");
        let start = pos & self.mask;
        (start, n.min(self.mask + 1 - start))
    }

    /// Moves `n` items from `src` into the slots from position `pos` on, wrapping at the end: at most two
    /// runs of slots, moved four items at a time.
    ///
    /// # Safety
    /// The caller (the producer) owns slots `pos..pos + n`, `n` is at most the capacity, and `src` is valid
    /// for `n` reads of items the caller gives up (it must not drop them afterwards).
    #[inline]
    unsafe fn copy_in(&self, pos: usize, src: *const T, n: usize) {
        #[cfg(not(loom))]
        {
            // `UnsafeCell<MaybeUninit<T>>` has the layout of `T`, and writing through a pointer to the cells'
            // interior is what `UnsafeCell` permits.
            let base = self.base().cast_mut();
            let (start, first) = self.run(pos, n);
            // SAFETY: per the contract the slots are ours and `src` readable for `n`; the two runs lie inside
            // the ring's `capacity` slots from `base` (`run`), which the array holds (`first <= spare`).
            unsafe {
                move_items(src, base.add(start), first);
                if first < n {
                    move_items(src.add(first), base, n - first);
                }
            }
        }
        #[cfg(loom)]
        for i in 0..n {
            // SAFETY: per the contract `src.add(i)` is readable and the slot is ours.
            let value = unsafe { src.add(i).read() };
            // SAFETY: as above.
            self.slot(pos.wrapping_add(i)).with_mut(|p| unsafe { (*p).write(value) });
        }
    }

    /// Hints that the `n` slots from `pos` on, just published, are for the consumer's core now.
    #[inline]
    fn demote(&self, pos: usize, n: usize) {
        crate::prefetch::demote_ring_slots(self.base().cast(), std::mem::size_of::<T>(), self.mask + 1, pos, n);
    }

    /// Moves `n` items out of the slots from position `pos` on into `dst`, as `copy_in` moves them in.
    ///
    /// # Safety
    /// The caller (the consumer) owns slots `pos..pos + n`, which hold initialised items it takes, `n` is at
    /// most the capacity, and `dst` is valid for `n` writes.
    #[inline]
    unsafe fn copy_out(&self, pos: usize, dst: *mut T, n: usize) {
        #[cfg(not(loom))]
        {
            let base = self.base();
            let (start, first) = self.run(pos, n);
            // SAFETY: per the contract the slots hold initialised items we take and `dst` is writable for
            // `n`; the two runs lie inside the ring's `capacity` slots from `base` (`run`), which the array
            // holds (`first <= spare`).
            unsafe {
                move_items(base.add(start), dst, first);
                if first < n {
                    move_items(base, dst.add(first), n - first);
                }
            }
        }
        #[cfg(loom)]
        for i in 0..n {
            // SAFETY: per the contract the slot holds an initialised item we take, and `dst.add(i)` is writable.
            let value = self.slot(pos.wrapping_add(i)).with(|p| unsafe { (*p).assume_init_read() });
            // SAFETY: as above.
            unsafe { dst.add(i).write(value) };
        }
    }
}

/// Moves `n` items from `src` to `dst`, four at a time: a burst's handles go as a few vector moves, where
/// `copy_nonoverlapping` of a length known only at run time is a call to `memcpy`, dearer than the copy
/// itself at burst sizes. (LLVM still makes the loop a call to `memcpy` in `push_slice` of words, which
/// measured faster there than the moves forced inline: `pktloop bench`'s ring transfer, whose producer
/// pushes whole slices of 32 words, moved 2000-2290 million words a second with the call against 1750-1840
/// without, in the slower placement of two cores.)
///
/// # Safety
/// `src` is valid for `n` reads of items the caller gives up, `dst` for `n` writes, and they do not overlap.
#[cfg(not(loom))]
#[inline(always)]
unsafe fn move_items<T>(src: *const T, dst: *mut T, n: usize) {
    let mut i = 0;
    while i + 4 <= n {
        // SAFETY: items i..i + 4 are inside both ranges (contract).
        unsafe { dst.add(i).cast::<[T; 4]>().write_unaligned(src.add(i).cast::<[T; 4]>().read_unaligned()) };
        i += 4;
    }
    // The last one to three as one move of two and one of one: a loop here is what LLVM turns into a call
    // to `memcpy`, which a burst of one packet (a ping-pong's) paid on both ends (BENCHMARKS.md, the packet
    // path's twelfth session).
    if n - i >= 2 {
        // SAFETY: items i..i + 2 are inside both ranges (contract).
        unsafe { dst.add(i).cast::<[T; 2]>().write_unaligned(src.add(i).cast::<[T; 2]>().read_unaligned()) };
        i += 2;
    }
    if i < n {
        // SAFETY: item i is inside both ranges (contract).
        unsafe { dst.add(i).write(src.add(i).read()) };
    }
}

impl<T> Drop for Shared<T> {
    fn drop(&mut self) {
        let head = self.head.load(Ordering::Acquire);
        let mut pos = self.tail.load(Ordering::Acquire);
        while pos != head {
            // SAFETY: slots between tail and head hold initialised values that nobody else can reach any more
            // (both halves are gone); each is dropped once.
            self.slot(pos).with_mut(|p| unsafe { (*p).assume_init_drop() });
            pos = pos.wrapping_add(1);
        }
    }
}

/// Creates a ring holding up to `capacity` items (a power of two in 2..=2^24).
///
/// # Errors
/// A capacity out of range, named `ring-size`.
pub fn ring<T: Send>(capacity: usize) -> Result<(Producer<T>, Consumer<T>), KnobError> {
    let valid = "a power of two in 2..=16777216";
    crate::error::check_power_of_two("ring-size", capacity as u64, 2, MAX_RING_SIZE as u64, valid)?;
    // Slots whose size does not divide the pair cannot each start one: they start where the array does,
    // with no spare slots (nor under loom, whose cells are not the items' size).
    let size = std::mem::size_of::<T>().max(1);
    let spare = if LINE_PAIR.is_multiple_of(size) && !cfg!(loom) { LINE_PAIR / size } else { 0 };
    let slots: Box<[UnsafeCell<MaybeUninit<T>>]> =
        (0..capacity + spare).map(|_| UnsafeCell::new(MaybeUninit::uninit())).collect();
    // `align_offset` may say it cannot (`usize::MAX`): the ring then starts where the array does.
    let first = Some(slots.as_ptr().align_offset(LINE_PAIR)).filter(|&k| k <= spare).unwrap_or(0);
    let shared = Arc::new(Shared {
        head: CachePadded::new(AtomicUsize::new(0)),
        tail: CachePadded::new(AtomicUsize::new(0)),
        mask: capacity - 1,
        first,
        slots,
    });
    Ok((
        Producer { shared: shared.clone(), head: 0, cached_tail: 0, capacity },
        Consumer { shared, tail: 0, cached_head: 0, trickle: true },
    ))
}

/// The ring was full; the item is handed back.
#[derive(Debug, PartialEq, Eq)]
pub struct Full<T>(pub T);

/// Fewer items than this taken at once count as a trickle, whose consumer asks for the next slot's line
/// while it waits (see [`Consumer::ready`]); public for rings built elsewhere on the same rule.
pub const TRICKLE: usize = 4;

/// The producing half. Aligned to a cache-line pair, as each end's positions are written every burst by
/// its own core: two ends placed side by side (in one vector, one struct or one stack frame) and polled by
/// two cores must not share a line.
#[repr(align(128))]
pub struct Producer<T> {
    shared: Arc<Shared<T>>,
    head: usize,
    cached_tail: usize,
    capacity: usize,
}

/// The consuming half (aligned as [`Producer`] is).
#[repr(align(128))]
pub struct Consumer<T> {
    shared: Arc<Shared<T>>,
    tail: usize,
    cached_head: usize,
    /// The last items taken came one or a few at a time (see [`Consumer::ready`]).
    trickle: bool,
}

impl<T> std::fmt::Debug for Producer<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Producer").field("capacity", &self.capacity).field("head", &self.head).finish()
    }
}

impl<T> std::fmt::Debug for Consumer<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Consumer").field("tail", &self.tail).finish()
    }
}

impl<T: Send> Producer<T> {
    /// Capacity of the ring.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Free slots, reloading the consumer's position only if fewer than `want` look free.
    #[inline]
    fn free_slots(&mut self, want: usize) -> usize {
        let free = self.capacity - self.head.wrapping_sub(self.cached_tail);
        if free >= want {
            return free;
        }
        self.cached_tail = self.shared.tail.load(Ordering::Acquire);
        self.capacity - self.head.wrapping_sub(self.cached_tail)
    }

    /// Free slots right now.
    pub fn slots(&mut self) -> usize {
        self.free_slots(usize::MAX)
    }

    /// Free slots, as last seen if at least `want` looked free then (no look at the consumer's position,
    /// which costs a cross-core transfer once it has moved), otherwise right now. Never more than are free.
    #[inline]
    pub fn slots_for(&mut self, want: usize) -> usize {
        self.free_slots(want)
    }

    /// Writes `value` into the slot at position `pos`.
    ///
    /// # Safety
    /// `pos` is a free slot (in head..tail + capacity): the consumer has released it and will not read it
    /// until a Release store of head publishes it. An item already there is overwritten, not dropped.
    #[inline]
    unsafe fn write(&self, pos: usize, value: T) {
        // SAFETY: per the contract, nobody else touches the slot now.
        self.shared.slot(pos).with_mut(|p| unsafe { (*p).write(value) });
    }

    /// Pushes one item, or hands it back when the ring is full.
    #[inline]
    pub fn push(&mut self, value: T) -> Result<(), Full<T>> {
        if self.free_slots(1) == 0 {
            return Err(Full(value));
        }
        // SAFETY: a free slot was seen above, and the one at head is the first of them.
        unsafe { self.write(self.head, value) };
        self.publish(1);
        Ok(())
    }

    /// Moves as many items from the front of `src` as fit; what does not fit stays in `src`, in order.
    /// Returns how many moved.
    #[inline]
    pub fn push_burst<const N: usize>(&mut self, src: &mut ArrayVec<T, N>) -> usize {
        let len = src.len();
        let n = len.min(self.free_slots(len));
        if n == 0 {
            return 0;
        }
        // SAFETY: free_slots said slots head..head+n are ours; the first n items of `src` move into them, and
        // the rest shift to the front before the length drops to `len - n`, so none is dropped or duplicated.
        unsafe {
            self.shared.copy_in(self.head, src.as_ptr(), n);
            if n < len {
                // Only a ring that ran short leaves items behind: a whole burst (the rule) skips the call to
                // `memmove` that a copy of run-time length is, even of nothing.
                let p = src.as_mut_ptr();
                std::ptr::copy(p.add(n), p, len - n);
            }
            src.set_len(len - n);
        }
        self.publish(n);
        self.shared.demote(self.head.wrapping_sub(n), n);
        n
    }

    #[inline]
    fn publish(&mut self, n: usize) {
        self.head = self.head.wrapping_add(n);
        self.shared.head.store(self.head, Ordering::Release);
    }

    /// Pushes items from an iterator until it ends or the ring is full; returns how many moved. Items the
    /// iterator yields after the ring filled up are not taken (use a peekable source to keep them).
    #[inline]
    pub fn push_iter(&mut self, iter: &mut impl Iterator<Item = T>) -> usize {
        let free = self.free_slots(usize::MAX);
        let mut pos = self.head;
        let mut n = 0;
        while n < free {
            let Some(value) = iter.next() else { break };
            // SAFETY: `pos` is the `n`th of the `free` slots seen free, none published yet.
            unsafe { self.write(pos, value) };
            pos = pos.wrapping_add(1);
            n += 1;
        }
        if n > 0 {
            self.publish(n);
        }
        n
    }

    /// Copies as many items of `src` as fit; returns how many.
    #[inline]
    pub fn push_slice(&mut self, src: &[T]) -> usize
    where
        T: Copy,
    {
        let n = src.len().min(self.free_slots(src.len()));
        if n > 0 {
            // SAFETY: slots head..head+n are ours; `T: Copy`, so copying leaves `src` valid.
            unsafe { self.shared.copy_in(self.head, src.as_ptr(), n) };
            self.publish(n);
        }
        n
    }
}

impl<T: Send> Consumer<T> {
    /// Items ready, reloading the producer's position only if fewer than `want` look ready.
    #[inline]
    fn ready(&mut self, want: usize) -> usize {
        let ready = self.cached_head.wrapping_sub(self.tail);
        if ready >= want {
            return ready;
        }
        self.cached_head = self.shared.head.load(Ordering::Acquire);
        let ready = self.cached_head.wrapping_sub(self.tail);
        if ready == 0 && self.trickle {
            // Nothing yet, and items have been coming one or a few at a time (a ping-pong's): ask for the
            // line the next item will be in. The producer's store takes it back, and a later poll's hint
            // fetches it again, written: when the position says it is there, reading it most often hits
            // instead of waiting for a second transfer after the position's. Not while items come in
            // bursts: each poll's hint then takes the line back from the producer in the middle of filling
            // it (bursts of 32 moved 0.78x rtrb's rate with the hint, 0.98-1.06x without: medians of 6 runs).
            // The cell's address, not an access to it (so loom tracks nothing; the hint is off there).
            let slot: *const UnsafeCell<MaybeUninit<T>> = self.shared.slot(self.tail);
            crate::prefetch::read(slot.cast(), 1);
        }
        ready
    }

    /// Items ready right now.
    pub fn len(&mut self) -> usize {
        self.ready(usize::MAX)
    }

    /// True when nothing is ready right now.
    pub fn is_empty(&mut self) -> bool {
        self.len() == 0
    }

    /// Takes the item in the slot at position `pos`.
    ///
    /// # Safety
    /// `pos` is a ready slot (in tail..head, as an Acquire load of head saw it), whose item is taken once:
    /// the tail is published past it before it is read again.
    #[inline]
    unsafe fn read(&self, pos: usize) -> T {
        // SAFETY: per the contract the producer initialised the slot before the Release store of head that
        // our Acquire load saw, and will not touch it again until we publish a tail past it.
        self.shared.slot(pos).with(|p| unsafe { (*p).assume_init_read() })
    }

    /// Pops one item.
    #[inline]
    pub fn pop(&mut self) -> Option<T> {
        if self.ready(1) == 0 {
            return None;
        }
        // SAFETY: an item was seen ready above, the one at tail first; the tail is published past it next.
        let value = unsafe { self.read(self.tail) };
        self.release(1);
        Some(value)
    }

    /// Appends up to `max` items to `dst` (bounded by its free room); returns how many.
    #[inline]
    pub fn pop_burst<const N: usize>(&mut self, dst: &mut ArrayVec<T, N>, max: usize) -> usize {
        let want = max.min(dst.remaining_capacity());
        let n = want.min(self.ready(want));
        if n == 0 {
            return 0;
        }
        let len = dst.len();
        // SAFETY: slots tail..tail+n hold items the producer published (ready); they move into `dst`'s spare
        // room (n <= remaining capacity), which then counts them.
        unsafe {
            self.shared.copy_out(self.tail, dst.as_mut_ptr().add(len), n);
            dst.set_len(len + n);
        }
        self.release(n);
        n
    }

    #[inline]
    fn release(&mut self, n: usize) {
        self.trickle = n < TRICKLE;
        self.tail = self.tail.wrapping_add(n);
        self.shared.tail.store(self.tail, Ordering::Release);
    }

    /// Copies up to `dst.len()` items into `dst`; returns how many.
    #[inline]
    pub fn pop_slice(&mut self, dst: &mut [T]) -> usize
    where
        T: Copy,
    {
        let n = dst.len().min(self.ready(dst.len()));
        if n > 0 {
            // SAFETY: slots tail..tail+n hold published items; `T: Copy` and `dst` has room for n.
            unsafe { self.shared.copy_out(self.tail, dst.as_mut_ptr(), n) };
            self.release(n);
        }
        n
    }
}

#[cfg(test)]
mod tests;
