//! Freeing a burst of packets at once: what drivers and applications do after every receive.

use super::{Packet, PLAIN, POOL_ID_MASK, SIMPLE};
use crate::pool::buflet::{Released, CHAIN_BATCH};
use crate::pool::{lookup, PoolInner, MAX_BULK};
use arrayvec::ArrayVec;

/// Frees a burst of packets (from any pools): the packets of a run from one pool go back with one cache
/// call (or a few, for long chains), the run's chains are walked side by side
/// ([`PoolInner::release_chains`]), and consecutive slices of one buffer give up their shares at once.
pub fn free_burst<const N: usize>(pkts: &mut ArrayVec<Packet, N>) {
    if let Some(id) = one_pool_of_simple(pkts) {
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
    if let Some(id) = one_pool_of_slices(pkts) {
        // SAFETY: the burst's packets are slices of pool `id`, which their shares keep registered.
        unsafe { free_slices(lookup(id), pkts) };
        return;
    }
    let mut run = Run { pool: None, simple: Released::new(), chains: ArrayVec::new(), slices: None };
    for p in pkts.drain(..) {
        let (tag, head) = p.into_raw();
        let id = tag & POOL_ID_MASK;
        if run.pool.is_some_and(|c| c.id != id) || run.simple.remaining_capacity() < 2 || run.chains.is_full() {
            // SAFETY: the run holds only what this loop took apart from packets of its pool.
            unsafe { run.flush() };
        }
        // SAFETY: the packet we just took apart owns buffers of pool `id`.
        run.pool = Some(unsafe { lookup(id) });
        if tag & SIMPLE != 0 {
            // The buffer is the whole packet and nothing shares it: no descriptor read.
            run.simple.push(head);
        } else if tag & PLAIN != 0 {
            // SAFETY: the run holds only what this loop took apart from packets of its pool.
            unsafe { run.add_slice(head) };
        } else {
            run.chains.push(head);
        }
    }
    // SAFETY: as above.
    unsafe { run.flush() };
}

/// The pool id of a burst (at most [`MAX_BULK`] packets) whose packets are all simple (one buffer each
/// that nothing shares) and all of that one pool: the common burst, which goes back in one pass.
#[inline]
fn one_pool_of_simple<const N: usize>(pkts: &ArrayVec<Packet, N>) -> Option<u16> {
    let first = pkts.first()?.tag();
    let key = |tag: u16| tag & (POOL_ID_MASK | SIMPLE);
    let one = first & SIMPLE != 0 && pkts.len() <= MAX_BULK && pkts.iter().all(|p| key(p.tag()) == key(first));
    one.then_some(first & POOL_ID_MASK)
}

/// Frees `pkts`, slices of `pool` (at most as many as [`Released`] holds): each run of one buffer's slices
/// gives up its shares at once, and the buffers that frees go back in one call.
///
/// # Safety
/// Every packet of `pkts` is a slice of `pool`, and there are at most as many as [`Released`] holds (one
/// buffer freed per packet at most).
unsafe fn free_slices<const N: usize>(pool: &PoolInner, pkts: &mut ArrayVec<Packet, N>) {
    let geometry = pool.slices();
    let mut freed = Released::new();
    let mut run: Option<(u32, u32)> = None;
    for p in pkts.drain(..) {
        let buffer = geometry.buffer(p.into_raw().1);
        match &mut run {
            Some((b, n)) if *b == buffer => *n += 1,
            _ => {
                if let Some((b, n)) = run.replace((buffer, 1)) {
                    // SAFETY: the run's slices, taken apart here, held `n` shares of `b`; `freed` has room for
                    // a buffer per packet (contract).
                    unsafe { pool.release_slices(b, n, &mut freed) };
                }
            }
        }
    }
    // SAFETY: as above, for the last run; `freed` holds buffers whose last share was just given up.
    unsafe {
        if let Some((b, n)) = run {
            pool.release_slices(b, n, &mut freed);
        }
        pool.put_bulk(&freed);
    }
}

/// The pool id of a burst (at most as many packets as [`Released`] holds) whose packets are all slices of
/// that one pool: what a split-mode receiver frees, which goes back with one pool lookup and one count
/// per buffer.
#[inline]
fn one_pool_of_slices<const N: usize>(pkts: &ArrayVec<Packet, N>) -> Option<u16> {
    let first = pkts.first()?.tag();
    let key = |tag: u16| tag & (POOL_ID_MASK | SIMPLE | PLAIN);
    let one = first & (SIMPLE | PLAIN) == PLAIN
        && pkts.len() <= Released::new().capacity()
        && pkts.iter().all(|p| key(p.tag()) == key(first));
    one.then_some(first & POOL_ID_MASK)
}

/// What [`free_burst`] has taken apart of a run of packets of one pool and not yet given back.
struct Run<'a> {
    pool: Option<&'a PoolInner>,
    /// Buffers that are whole packets.
    simple: Released,
    /// Heads of chains (several buflets, or shared).
    chains: ArrayVec<u32, CHAIN_BATCH>,
    /// The buffer of the last slices taken apart, and how many of its shares they held.
    slices: Option<(u32, u32)>,
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
            if let Some((buffer, n)) = self.slices.take() {
                pool.release_slices(buffer, n, &mut self.simple);
            }
            pool.release_chains(&self.chains, &mut self.simple);
            pool.put_bulk(&self.simple);
        }
        self.chains.clear();
        self.simple.clear();
    }

    /// Counts slice `head`'s share with the others of its buffer, giving up those of the previous buffer
    /// (into `simple`, when they were its last) if it is another.
    ///
    /// # Safety
    /// As for [`Run::flush`]; `simple` has room for two more buffers.
    unsafe fn add_slice(&mut self, head: u32) {
        let Some(pool) = self.pool else { return };
        let buffer = pool.slices().buffer(head);
        match &mut self.slices {
            Some((b, n)) if *b == buffer => *n += 1,
            last => {
                if let Some((b, n)) = last.replace((buffer, 1)) {
                    // SAFETY: forwarded contract: the run's slices of `b` held `n` shares.
                    unsafe { pool.release_slices(b, n, &mut self.simple) };
                }
            }
        }
    }
}
