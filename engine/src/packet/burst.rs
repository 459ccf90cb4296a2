//! Freeing a burst of packets at once: what drivers and applications do after every receive.

use super::{one_pool_id, Packet, PLAIN, POOL_ID_MASK, SIMPLE};
use crate::pool::buflet::{Released, CHAIN_BATCH};
use crate::pool::{lookup, PoolInner, MAX_BULK};
use arrayvec::ArrayVec;

/// Frees a burst of packets (from any pools): the packets of a run from one pool go back with one cache
/// call (or a few, for long chains), the run's chains are walked side by side
/// ([`PoolInner::release_chains`]), and consecutive slices of one buffer give up their shares at once.
pub fn free_burst<const N: usize>(pkts: &mut ArrayVec<Packet, N>) {
    // A poll that received nothing frees nothing: not even the run below.
    if pkts.is_empty() {
        return;
    }
    // Simple packets (one buffer each that nothing shares), the most common burst.
    if let Some(id) = one_pool_id(pkts, SIMPLE, SIMPLE).filter(|_| pkts.len() <= MAX_BULK) {
        let n = pkts.len();
        // Each buffer's index is written where the thread cache keeps it, with no gathering first.
        // SAFETY: the burst's packets own buffers of pool `id`, which keeps it registered until they are
        // given back. Each slot gets the buffer of one packet taken apart here: a whole packet of that
        // pool that nothing shares, given up once; taking packets apart uses no pool and is short.
        unsafe {
            let pool = lookup(id);
            pool.put_bulk_with(n, |slots| slots.iter_mut().zip(pkts.drain(..)).for_each(|(s, p)| *s = p.into_raw().1));
        }
        return;
    }
    // Slices, what a split-mode receiver frees: one pool lookup and one count per buffer (at most one
    // buffer freed per packet, which `Released` must hold).
    if let Some(id) = one_pool_id(pkts, SIMPLE | PLAIN, PLAIN).filter(|_| pkts.len() <= Released::new().capacity()) {
        // SAFETY: the burst's packets are slices of pool `id`, which their shares keep registered.
        unsafe { free_slices(lookup(id), pkts) };
        return;
    }
    let mut run = Run { pool: None, simple: Released::new(), chains: ArrayVec::new(), slices: SliceRun::default() };
    for p in pkts.drain(..) {
        let (tag, head) = p.into_raw();
        let id = tag & POOL_ID_MASK;
        if run.pool.is_some_and(|c| c.id != id) || run.simple.remaining_capacity() < 2 || run.chains.is_full() {
            // SAFETY: the run holds only what this loop took apart from packets of its pool.
            unsafe { run.flush() };
        }
        // SAFETY: the packet we just took apart owns buffers of pool `id`.
        let pool = unsafe { lookup(id) };
        run.pool = Some(pool);
        if tag & SIMPLE != 0 {
            // The buffer is the whole packet and nothing shares it: no descriptor read.
            run.simple.push(head);
        } else if tag & PLAIN != 0 {
            // SAFETY: the slice just taken apart is of the run's pool; `simple` has room for two more buffers
            // (the run is flushed before it has less).
            unsafe { run.slices.add(pool, head, &mut run.simple) };
        } else {
            run.chains.push(head);
        }
    }
    // SAFETY: as above.
    unsafe { run.flush() };
}

/// Frees `pkts`, slices of `pool` (at most as many as [`Released`] holds): each run of one buffer's slices
/// gives up its shares at once, and the buffers that frees go back in one call.
///
/// # Safety
/// Every packet of `pkts` is a slice of `pool`, and there are at most as many as [`Released`] holds (one
/// buffer freed per packet at most).
unsafe fn free_slices<const N: usize>(pool: &PoolInner, pkts: &mut ArrayVec<Packet, N>) {
    let mut freed = Released::new();
    let mut run = SliceRun::default();
    for p in pkts.drain(..) {
        // SAFETY: the slice just taken apart is of `pool`; `freed` has room for a buffer per packet (contract).
        unsafe { run.add(pool, p.into_raw().1, &mut freed) };
    }
    // SAFETY: as above, for the last run; `freed` holds buffers whose last share was just given up.
    unsafe {
        run.finish(pool, &mut freed);
        pool.put_bulk(&freed);
    }
}

/// Consecutive slices of one buffer being freed: how many of its shares they held, given up with one count
/// when a slice of another buffer comes (or the run ends).
#[derive(Default)]
struct SliceRun(Option<(u32, u32)>);

impl SliceRun {
    /// Counts slice `head`'s share with the others of its buffer, giving up those of the previous buffer
    /// (into `out`, when they were its last) if it is another.
    ///
    /// # Safety
    /// Slice `head` of `pool` was taken apart to be freed, as were the run's others; `out` has room for one
    /// more buffer.
    #[inline]
    unsafe fn add(&mut self, pool: &PoolInner, head: u32, out: &mut Released) {
        let buffer = pool.slices().buffer(head);
        match &mut self.0 {
            Some((b, n)) if *b == buffer => *n += 1,
            last => {
                if let Some((b, n)) = last.replace((buffer, 1)) {
                    // SAFETY: the run's slices of `b`, taken apart here, held `n` shares (contract).
                    unsafe { pool.release_slices(b, n, out) };
                }
            }
        }
    }

    /// Gives up the shares the run holds (into `out`, when they were their buffer's last).
    ///
    /// # Safety
    /// As for [`SliceRun::add`].
    #[inline]
    unsafe fn finish(&mut self, pool: &PoolInner, out: &mut Released) {
        if let Some((b, n)) = self.0.take() {
            // SAFETY: forwarded contract.
            unsafe { pool.release_slices(b, n, out) };
        }
    }
}

/// What [`free_burst`] has taken apart of a run of packets of one pool and not yet given back.
struct Run<'a> {
    pool: Option<&'a PoolInner>,
    /// Buffers that are whole packets.
    simple: Released,
    /// Heads of chains (several buflets, or shared).
    chains: ArrayVec<u32, CHAIN_BATCH>,
    /// The last slices taken apart, of one buffer.
    slices: SliceRun,
}

impl Run<'_> {
    /// Gives back everything the run holds.
    ///
    /// # Safety
    /// Every index the run holds comes from a packet of `pool` taken apart for it, once.
    unsafe fn flush(&mut self) {
        let Some(pool) = self.pool else { return };
        // SAFETY: forwarded contract; at most CHAIN_BATCH chains (the array's capacity); the run's slices held
        // the shares, and `simple` has room for their buffer (the run is flushed before it has less than two).
        unsafe {
            self.slices.finish(pool, &mut self.simple);
            pool.release_chains(&self.chains, &mut self.simple);
            pool.put_bulk(&self.simple);
        }
        self.chains.clear();
        self.simple.clear();
    }
}
