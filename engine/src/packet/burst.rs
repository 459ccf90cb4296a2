//! Freeing a burst of packets at once: what drivers and applications do after every receive.

use super::{Packet, POOL_ID_MASK, SIMPLE};
use crate::pool::buflet::{Released, CHAIN_BATCH};
use crate::pool::{lookup, PoolInner};
use arrayvec::ArrayVec;

/// Frees a burst of packets (from any pools): the packets of a run from one pool go back with one cache
/// call (or a few, for long chains), and the run's chains are walked side by side
/// ([`PoolInner::release_chains`]).
pub fn free_burst<const N: usize>(pkts: &mut ArrayVec<Packet, N>) {
    let mut run = Run { pool: None, simple: Released::new(), chains: ArrayVec::new() };
    for p in pkts.drain(..) {
        let (tag, head) = p.into_raw();
        let id = tag & POOL_ID_MASK;
        if run.pool.is_some_and(|c| c.id != id) || run.simple.is_full() || run.chains.is_full() {
            // SAFETY: the run holds only what this loop took apart from packets of its pool.
            unsafe { run.flush() };
        }
        // SAFETY: the packet we just took apart owns buffers of pool `id`.
        run.pool = Some(unsafe { lookup(id) });
        if tag & SIMPLE != 0 {
            // The buffer is the whole packet and nothing shares it: no descriptor read.
            run.simple.push(head);
        } else {
            run.chains.push(head);
        }
    }
    // SAFETY: as above.
    unsafe { run.flush() };
}

/// What [`free_burst`] has taken apart of a run of packets of one pool and not yet given back.
struct Run<'a> {
    pool: Option<&'a PoolInner>,
    /// Buffers that are whole packets.
    simple: Released,
    /// Heads of chains (several buflets, or shared).
    chains: ArrayVec<u32, CHAIN_BATCH>,
}

impl Run<'_> {
    /// Gives back everything the run holds.
    ///
    /// # Safety
    /// Every index the run holds comes from a packet of `pool` taken apart for it, once.
    unsafe fn flush(&mut self) {
        let Some(pool) = self.pool else { return };
        // SAFETY: forwarded contract; at most CHAIN_BATCH chains (the array's capacity).
        unsafe {
            pool.release_chains(&self.chains, &mut self.simple);
            pool.put_bulk(&self.simple);
        }
        self.chains.clear();
        self.simple.clear();
    }
}
