//! A single-producer single-consumer ring whose producer and consumer live in two processes: its indices
//! and slots sit in a mapping both have, and each side trusts nothing the other writes.
//!
//! Each side keeps its own index privately and only publishes it (never a store that changes nothing: the
//! other side polls that line), and reads the other side's only when what it learnt last time is used up,
//! as DPDK's and rtrb's rings do, so that in steady state a burst moves the index lines once each way.
//! The other side's index, when read, is checked
//! (a consumer can never be ahead of the producer, nor the producer more than a ring ahead of the consumer)
//! and a ring whose peer index is impossible is reported as [`Corrupt`], never followed. Slots are arrays
//! of `AtomicU32` words accessed with relaxed loads and stores (plain moves on x86), ordered by the
//! Release store and Acquire load of the indices, so a peer writing slots at any moment is a race on
//! atomics, not undefined behaviour. Validating what the words mean is the caller's job.

#![cfg_attr(loom, allow(dead_code))]

#[cfg(loom)]
use loom::sync::atomic::{AtomicU32, Ordering};
#[cfg(not(loom))]
use std::sync::atomic::{AtomicU32, Ordering};

/// The peer's published index is impossible: the ring cannot be used until the peer is gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Corrupt;

/// Where one ring lives: its two published indices and `size * W` slot words.
#[derive(Debug, Clone, Copy)]
pub(super) struct RingMemory {
    pub producer: *const AtomicU32,
    pub consumer: *const AtomicU32,
    pub slots: *const AtomicU32,
    /// Slots (a power of two).
    pub size: u32,
}

// SAFETY: the pointers name atomics in memory that outlives the ring halves (their constructors' contract);
// atomics may be used from any thread.
unsafe impl Send for RingMemory {}

impl RingMemory {
    fn producer(&self) -> &AtomicU32 {
        // SAFETY: valid for the ring's life (constructor contract).
        unsafe { &*self.producer }
    }

    fn consumer(&self) -> &AtomicU32 {
        // SAFETY: as above.
        unsafe { &*self.consumer }
    }

    /// The words of the `n` slots of `W` words from `from` on (`n` at most the ring's size): one run, or
    /// two when they wrap past the last slot (the second then starts at the first). A loop over runs
    /// moves a pointer, where one over positions masks each. The runs borrow nothing from `self` (it is a
    /// copy of pointers): the caller ties them to what keeps the ring mapped (see [`Reader::runs`]).
    #[inline]
    fn runs<'m, const W: usize>(&self, from: u32, n: u32) -> [&'m [AtomicU32]; 2] {
        assert!(n <= self.size, "a ring's runs hold at most its slots");
        let (size, at, n) = (self.size as usize, (from & (self.size - 1)) as usize, n as usize);
        let first = n.min(size - at);
        // SAFETY: the ring's `size * W` slot words live as long as the ring (constructor contract), and both
        // runs lie inside them: `at + first <= size` and `n - first <= size`.
        unsafe {
            [
                std::slice::from_raw_parts(self.slots.add(at * W), first * W),
                std::slice::from_raw_parts(self.slots, (n - first) * W),
            ]
        }
    }

    /// Calls `hint` on the lines of the `n` slots of `W` words from `from` on.
    #[inline]
    fn each_line<const W: usize>(&self, from: u32, n: u32, hint: impl Fn(*const u8, usize)) {
        let (base, size) = (self.slots.cast::<u8>(), self.size as usize);
        pktloop_engine::prefetch::ring_slots(base, 4 * W, size, from as usize, n as usize, hint);
    }

    /// [`pktloop_engine::prefetch::demote_ring_slots`] of the `n` slots of `W` words from `from` on.
    #[inline]
    fn demote<const W: usize>(&self, from: u32, n: u32) {
        let (base, size) = (self.slots.cast::<u8>(), self.size as usize);
        pktloop_engine::prefetch::demote_ring_slots(base, 4 * W, size, from as usize, n as usize);
    }

    /// Word `w` of slot `pos` (taken modulo the size).
    fn word<const W: usize>(&self, pos: u32, w: usize) -> &AtomicU32 {
        let slot = (pos & (self.size - 1)) as usize;
        // SAFETY: slot < size and w < W, so the word is inside the `size * W` words (constructor contract).
        unsafe { &*self.slots.add(slot * W + w) }
    }
}

/// The producing half: writes slots, then publishes them.
#[derive(Debug)]
pub(super) struct Producer<const W: usize> {
    mem: RingMemory,
    /// Next slot to write (private: the published copy may be overwritten by the peer).
    head: u32,
    /// The consumer's index as last read (checked).
    tail: u32,
}

impl<const W: usize> Producer<W> {
    /// # Safety
    /// `mem` names two atomics and `size * W` slot atomics (`size` a power of two) that stay mapped while
    /// this half lives, and this process makes no other half for this ring's role. What the peer process
    /// writes there is not part of the contract: every index read back is checked, and the slots are only
    /// accessed through atomics, so any words the peer stores are data, never a soundness question.
    pub unsafe fn new(mem: RingMemory) -> Producer<W> {
        debug_assert!(mem.size.is_power_of_two());
        let head = mem.producer().load(Ordering::Relaxed);
        Producer { mem, head, tail: head }
    }

    /// Slots free to write: at least `want` if the ring has them (the consumer's index is read only when
    /// what was known of it leaves fewer).
    pub fn space(&mut self, want: u32) -> Result<u32, Corrupt> {
        let known = self.mem.size - self.head.wrapping_sub(self.tail);
        if known >= want {
            return Ok(known);
        }
        Ok(self.mem.size - self.head.wrapping_sub(self.consumed()?))
    }

    /// Reads the consumer's published index (how far it has read), checked to lie at most a ring behind
    /// [`Producer::head`].
    pub fn consumed(&mut self) -> Result<u32, Corrupt> {
        let tail = self.mem.consumer().load(Ordering::Acquire);
        if self.head.wrapping_sub(tail) > self.mem.size {
            return Err(Corrupt);
        }
        self.tail = tail;
        Ok(tail)
    }

    /// The consumer's index as last read by [`Producer::consumed`] or [`Producer::space`].
    pub fn known_consumed(&self) -> u32 {
        self.tail
    }

    /// The next slot to write: every entry before it is published.
    pub fn head(&self) -> u32 {
        self.head
    }

    /// Asks for the lines of the next `n` slots in owned state before they are written: the consumer
    /// read them last, and a store to a line another core holds waits for it, so the burst's lines are
    /// fetched together rather than one store at a time. A hint: it reads and writes nothing.
    #[inline]
    pub fn prepare(&self, n: u32) {
        self.mem.each_line::<W>(self.head, n, pktloop_engine::prefetch::write);
    }

    /// Writes the entry `k` slots past the last published one (`k` below [`Producer::space`]).
    #[inline]
    pub fn write(&mut self, k: u32, entry: [u32; W]) {
        for (w, v) in entry.into_iter().enumerate() {
            self.mem.word::<W>(self.head.wrapping_add(k), w).store(v, Ordering::Relaxed);
        }
    }

    /// Writes `entries` into the slots from the last published one on (as many as [`Producer::space`]
    /// allows at most), as [`Producer::write`] of each does.
    #[inline]
    pub fn write_each(&mut self, entries: impl Iterator<Item = [u32; W]>) {
        for (k, entry) in entries.enumerate() {
            self.write(k as u32, entry);
        }
    }

    /// Publishes the first `n` written entries.
    #[inline]
    pub fn publish(&mut self, n: u32) {
        if n > 0 {
            let first = self.head;
            self.head = self.head.wrapping_add(n);
            self.mem.producer().store(self.head, Ordering::Release);
            // The other process reads them next: into the shared cache with them (where the CPU can).
            self.mem.demote::<W>(first, n);
        }
    }
}

/// The consuming half: reads published slots, then releases them.
#[derive(Debug)]
pub(super) struct Consumer<const W: usize> {
    mem: RingMemory,
    /// Next slot to read (private, as the producer's head).
    tail: u32,
    /// The producer's index as last read (checked).
    head: u32,
    /// The last entries released came one or a few at a time (see [`Consumer::hint_next`]).
    trickle: bool,
}

impl<const W: usize> Consumer<W> {
    /// # Safety
    /// As [`Producer::new`], for the one consumer of this ring in this process.
    pub unsafe fn new(mem: RingMemory) -> Consumer<W> {
        debug_assert!(mem.size.is_power_of_two());
        let tail = mem.consumer().load(Ordering::Relaxed);
        Consumer { mem, tail, head: tail, trickle: true }
    }

    /// Entries published and not yet released: at least `want` if there are (the producer's index is read
    /// only when fewer are known to be published).
    pub fn ready(&mut self, want: u32) -> Result<u32, Corrupt> {
        let known = self.head.wrapping_sub(self.tail);
        if known >= want {
            return Ok(known);
        }
        let head = self.mem.producer().load(Ordering::Acquire);
        let n = head.wrapping_sub(self.tail);
        if n > self.mem.size {
            return Err(Corrupt);
        }
        self.head = head;
        Ok(n)
    }

    /// Slots.
    pub fn size(&self) -> u32 {
        self.mem.size
    }

    /// Starts loading the lines of the `n` entries past the last released one, published or not yet: the
    /// producer writes them on another core, and reads that all miss at once overlap instead of each
    /// waiting in turn. A hint only.
    #[inline]
    pub fn fetch(&self, n: u32) {
        self.mem.each_line::<W>(self.tail, n, pktloop_engine::prefetch::read);
    }

    /// Nothing is ready: when entries have been coming one or a few at a time (a ping-pong's), starts
    /// loading the line the next one will be in. The producer's store takes it back, and a later poll's
    /// hint fetches it again, written: when the index says it is there, reading it most often hits
    /// instead of waiting for a second transfer after the index's (`pktloop latency` across two
    /// processes: p50 240-270 -> 201-211 ns). Not while entries come in bursts: each empty poll's hint
    /// would take the line back from a producer in the middle of filling it (as in the engine's ring,
    /// whose rule this is).
    #[inline]
    pub fn hint_next(&self) {
        if self.trickle {
            self.fetch(1);
        }
    }

    /// Entry `k` past the last released one (`k` below [`Consumer::ready`]).
    #[inline]
    pub fn read(&self, k: u32) -> [u32; W] {
        self.reader().read(k)
    }

    /// What [`Consumer::read`] needs, by value: a loop that reads a run of entries holds it in registers,
    /// where reading through the consumer loads its fields again after each store the loop makes.
    #[inline]
    pub fn reader(&self) -> Reader<'_, W> {
        Reader { mem: self.mem, tail: self.tail, _consumer: std::marker::PhantomData }
    }

    /// Gives the first `n` read entries back to the producer.
    #[inline]
    pub fn release(&mut self, n: u32) {
        if n > 0 {
            self.trickle = (n as usize) < pktloop_engine::ring::TRICKLE;
            self.tail = self.tail.wrapping_add(n);
            self.mem.consumer().store(self.tail, Ordering::Release);
        }
    }
}

/// A consumer's published entries, as they were when taken (see [`Consumer::reader`]); it borrows the
/// consumer, so the ring's memory outlives it.
#[derive(Debug, Clone, Copy)]
pub(super) struct Reader<'a, const W: usize> {
    mem: RingMemory,
    tail: u32,
    _consumer: std::marker::PhantomData<&'a Consumer<W>>,
}

impl<'a, const W: usize> Reader<'a, W> {
    /// The words of entries `k..k + n` (below [`Consumer::ready`]), in one run or two (see
    /// [`RingMemory::runs`]).
    #[inline]
    pub fn runs(&self, k: u32, n: u32) -> [&'a [AtomicU32]; 2] {
        self.mem.runs::<W>(self.tail.wrapping_add(k), n)
    }

    /// [`Consumer::read`].
    #[inline]
    pub fn read(&self, k: u32) -> [u32; W] {
        std::array::from_fn(|w| self.mem.word::<W>(self.tail.wrapping_add(k), w).load(Ordering::Relaxed))
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    /// A ring's memory as the test owns it.
    struct Owned {
        producer: AtomicU32,
        consumer: AtomicU32,
        slots: Vec<AtomicU32>,
    }

    impl Owned {
        fn new(size: u32, words: usize) -> Owned {
            let slots = (0..size as usize * words).map(|_| AtomicU32::new(0)).collect();
            Owned { producer: AtomicU32::new(0), consumer: AtomicU32::new(0), slots }
        }

        fn memory(&self, size: u32) -> RingMemory {
            RingMemory { producer: &self.producer, consumer: &self.consumer, slots: self.slots.as_ptr(), size }
        }
    }

    #[test]
    fn entries_cross_in_order_and_wrap() {
        let mem = Owned::new(8, 2);
        // SAFETY: `mem` outlives both halves; one producer, one consumer.
        let (mut p, mut c) = unsafe { (Producer::<2>::new(mem.memory(8)), Consumer::<2>::new(mem.memory(8))) };
        for round in 0..10u32 {
            assert_eq!(p.space(u32::MAX), Ok(8));
            for k in 0..5 {
                p.write(k, [round, k]);
            }
            p.publish(5);
            assert_eq!((p.space(u32::MAX), c.ready(1)), (Ok(3), Ok(5)));
            for k in 0..5 {
                assert_eq!(c.read(k), [round, k]);
            }
            c.release(5);
        }
    }

    #[test]
    fn runs_cover_the_entries_in_order_wrapped_or_not() {
        let mem = Owned::new(8, 1);
        // SAFETY: `mem` outlives both halves; one producer, one consumer.
        let (mut p, mut c) = unsafe { (Producer::<1>::new(mem.memory(8)), Consumer::<1>::new(mem.memory(8))) };
        let words = |run: &[AtomicU32]| run.iter().map(|w| w.load(Ordering::Relaxed)).collect::<Vec<_>>();
        for (first, n) in [(0u32, 8u32), (6, 5), (2, 8), (5, 0)] {
            // Bring both ends to `first` (mod 8), then publish `n` entries numbered from 100.
            while c.reader().runs(0, 0)[0].as_ptr() != mem.slots[first as usize..].as_ptr() {
                p.write(0, [0]);
                p.publish(1);
                assert_eq!(c.ready(1), Ok(1));
                c.release(1);
            }
            for k in 0..n {
                p.write(k, [100 + k]);
            }
            p.publish(n);
            assert_eq!(c.ready(n.max(1)), Ok(n));
            let [a, b] = c.reader().runs(0, n);
            let got: Vec<u32> = words(a).into_iter().chain(words(b)).collect();
            assert_eq!(got, (100..100 + n).collect::<Vec<_>>(), "from slot {first}, {n} entries");
            assert_eq!(a.len() as u32, n.min(8 - first), "the first run stops at the ring's end");
            c.release(n);
        }
    }

    #[test]
    fn impossible_peer_indices_are_corrupt_not_followed() {
        let mem = Owned::new(8, 1);
        // SAFETY: as above.
        let (mut p, mut c) = unsafe { (Producer::<1>::new(mem.memory(8)), Consumer::<1>::new(mem.memory(8))) };
        mem.producer.store(9, Ordering::Relaxed);
        assert_eq!(c.ready(1), Err(Corrupt), "a producer more than a ring ahead");
        mem.producer.store(u32::MAX, Ordering::Relaxed);
        assert_eq!(c.ready(1), Err(Corrupt), "a producer behind the consumer");
        mem.consumer.store(3, Ordering::Relaxed);
        assert_eq!(p.space(u32::MAX), Err(Corrupt), "a consumer ahead of the producer");
    }
}

#[cfg(loom)]
mod model {
    use super::*;
    use loom::sync::Arc;
    use loom::thread;

    struct Shared {
        producer: AtomicU32,
        consumer: AtomicU32,
        slots: Vec<AtomicU32>,
    }

    fn memory(s: &Shared) -> RingMemory {
        RingMemory { producer: &s.producer, consumer: &s.consumer, slots: s.slots.as_ptr(), size: 2 }
    }

    /// Every interleaving of a producer pushing 3 two-word entries through a 2-slot ring and a consumer
    /// taking them: each arrives once, in order, with both words written before it was published.
    #[test]
    fn loom_shm_ring_entries_arrive_whole_and_in_order() {
        loom::model(|| {
            let shared = Arc::new(Shared {
                producer: AtomicU32::new(0),
                consumer: AtomicU32::new(0),
                slots: (0..4).map(|_| AtomicU32::new(0)).collect(),
            });
            let s = shared.clone();
            let producer = thread::spawn(move || {
                // SAFETY: `s` keeps the memory alive for the half's life; the only producer.
                let mut p = unsafe { Producer::<2>::new(memory(&s)) };
                let mut sent = 0u32;
                while sent < 3 {
                    if p.space(1).unwrap() > 0 {
                        p.write(0, [sent + 1, (sent + 1) * 10]);
                        p.publish(1);
                        sent += 1;
                    } else {
                        thread::yield_now();
                    }
                }
            });
            // SAFETY: as above, the only consumer.
            let mut c = unsafe { Consumer::<2>::new(memory(&shared)) };
            let mut got = 0u32;
            while got < 3 {
                if c.ready(1).unwrap() > 0 {
                    assert_eq!(c.read(0), [got + 1, (got + 1) * 10]);
                    c.release(1);
                    got += 1;
                } else {
                    thread::yield_now();
                }
            }
            producer.join().unwrap();
        });
    }
}
