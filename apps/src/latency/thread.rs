//! What both ends of a ping-pong do on their threads: make their caches before the loop that must not
//! allocate, and hand bursts to the capture when there is one.

use pktloop_engine::capture::{Direction, Tap};
use pktloop_engine::hot::{self, HotSection};
use pktloop_engine::{Packet, Pool};

/// This thread's caches of the run's pools and the engine's per-thread state, made now; then a hot section
/// for the loop that follows: nothing in it may allocate (the allocator counts it).
pub(super) fn hot_section(pools: &[Pool]) -> HotSection {
    pools.iter().for_each(Pool::prepare_thread_cache);
    hot::prepare_thread();
    HotSection::enter()
}

/// Hands `pkts` to the capture, if there is one, as port `port`'s in direction `dir` at time `ts`.
#[inline]
pub(super) fn tap_burst(tap: &mut Option<Tap>, pkts: &[Packet], port: u16, dir: Direction, ts: u64) {
    if let Some(t) = tap {
        t.burst(pkts, port, dir, ts);
    }
}
