//! The workers. A worker owns its ports (each port is polled by exactly one thread) and runs its jobs
//! ([`super::job`], one pass each by [`super::modes`]) once per poll. Hot path rules: bursts only, no
//! allocation (every buffer is made at setup), no lock, no clock read except, at most once per burst:
//! capture timestamps (only when capturing), expiry deadlines (only with --expiry-us), pacing (only with
//! --rate, and only when the packets already due do not cover the burst), a replay at recorded timing, the
//! icmpecho generator's ARP retry timer before the peer is resolved, and a generator's start and finish
//! stamps (once per run). Counters are published once per burst.

/// Kept at this path too, for `latency::pingpong`.
pub use super::job::Strip;
use super::job::{Job, OwnedPort};
use super::modes::{poll, PollCtx, Running};
use crate::stats::{self, LcoreCounters};
use pktloop_engine::capture::Tap;
use pktloop_engine::lcore::LcoreCtx;
use std::sync::Arc;

/// What a worker hands back when it stops.
#[derive(Debug)]
pub struct WorkerResult {
    /// Its ports, for the final counters and teardown.
    pub ports: Vec<OwnedPort>,
    /// Packets still held in the worker's burst buffers at stop (freed).
    pub stranded: u64,
    /// Whether the worker was pinned.
    pub pinned: bool,
}

/// A worker: ports, jobs, counters, an optional capture tap.
pub struct Worker {
    /// Owned ports.
    pub ports: Vec<OwnedPort>,
    /// Jobs run once per poll.
    pub jobs: Vec<Job>,
    /// Packets per burst.
    pub burst: usize,
    /// Counters read by the main thread.
    pub counters: Arc<LcoreCounters>,
    /// Capture tap (None: capture off, zero cost beyond one branch per burst).
    pub tap: Option<Tap>,
    /// Count the cycles of busy polls (costs two cycle-counter reads per poll).
    pub record_cycles: bool,
    /// Every pool of the run (its thread caches are made before the poll loop).
    pub pools: Vec<pktloop_engine::Pool>,
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker").field("ports", &self.ports).field("jobs", &self.jobs).finish()
    }
}

impl Worker {
    /// Runs until stopped; returns the ports.
    pub fn run(self, ctx: &LcoreCtx) -> WorkerResult {
        let Worker { mut ports, jobs, burst, counters, mut tap, record_cycles, pools } = self;
        let mut running: Vec<Running> = jobs.into_iter().map(Running::new).collect();
        let mut x = PollCtx { burst, counters: &counters, tap: &mut tap };
        // This thread's caches of every pool of the run (frames cross pools), made now rather than on first
        // use. From here to the stop nothing may allocate: the allocator counts it if anything does.
        pools.iter().for_each(pktloop_engine::Pool::prepare_thread_cache);
        pktloop_engine::hot::prepare_thread();
        let hot = pktloop_engine::hot::HotSection::enter();
        let c0 = stats::cycles_now();
        if record_cycles {
            // testpmd's --record-core-cycles: cycles of the polls that moved packets (two rdtsc per poll).
            let mut busy = 0u64;
            let work = |c: &LcoreCounters| stats::get(&c.packets) + stats::get(&c.generated) + stats::get(&c.consumed);
            while ctx.running() {
                let (t0, before) = (stats::cycles_now().unwrap_or(0), work(&counters));
                for r in &mut running {
                    poll(r, &mut ports, &mut x);
                }
                if work(&counters) != before {
                    busy += stats::cycles_now().unwrap_or(0).wrapping_sub(t0);
                }
            }
            stats::add(&counters.busy_cycles, busy);
        } else {
            while ctx.running() {
                for r in &mut running {
                    poll(r, &mut ports, &mut x);
                }
            }
        }
        if let (Some(a), Some(b)) = (c0, stats::cycles_now()) {
            stats::add(&counters.cycles, b.wrapping_sub(a));
        }
        drop(hot);
        let stranded = running.iter_mut().map(Running::free_held).sum();
        WorkerResult { ports, stranded, pinned: ctx.pinned }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame;
    use pktloop_engine::mem::Prefer;
    use pktloop_engine::port::PacketBurst;
    use pktloop_engine::Port;
    use pktloop_pmd::feth::{pair, FethConfig};

    #[test]
    fn strip_cuts_fcs_and_trailer_so_forwarded_frames_keep_their_length() {
        let cfg = FethConfig {
            prefer: Prefer::Normal,
            fcs: true,
            trailer_length: 8,
            pool_packets: 64,
            ..FethConfig::default()
        };
        let (mut a, mut b) = pair(&cfg).unwrap();
        let mut burst = PacketBurst::new();
        burst.push(a.tx_pool().packet_from(&[0xab; 64]).unwrap());
        assert!(a.tx_pool().alloc_frames(&mut burst, 1, &frame::udp_frame([1; 6], [2; 6], 64)));
        let sent = burst.pop().unwrap();
        assert_eq!(sent.len(), 64);
        for _ in 0..3 {
            let mut one = PacketBurst::new();
            one.push(b.tx_pool().alloc().unwrap());
            one[0].extend(64).unwrap();
            assert_eq!(b.tx_burst(0, &mut one), 1);
            assert_eq!(a.rx_burst(0, &mut one, 32), 1);
            assert_eq!(one[0].len(), 76);
            Strip { trailer: 8, fcs: true }.apply(&mut one);
            assert_eq!(one[0].len(), 64, "{:?}", one[0].meta());
            assert_eq!(a.tx_burst(0, &mut one), 1);
            assert_eq!(b.rx_burst(0, &mut one, 32), 1);
            Strip { trailer: 8, fcs: true }.apply(&mut one);
            assert_eq!(one[0].len(), 64);
        }
        drop(sent);
        assert_eq!(a.tx_burst(0, &mut burst), 1);
        assert_eq!(b.rx_burst(0, &mut burst, 32), 1);
        assert_eq!(burst[0].len(), 64 + 8 + 4);
        Strip { trailer: 8, fcs: true }.apply(&mut burst);
        assert_eq!(burst[0].len(), 64);
        assert_eq!(burst[0].to_vec(), vec![0xab; 64]);
        assert_eq!(b.tx_burst(0, &mut burst), 1);
        assert_eq!(a.rx_burst(0, &mut burst, 32), 1);
        assert_eq!(burst[0].len(), 64 + 8 + 4);
        assert_eq!(a.stats().total_drops() + b.stats().total_drops(), 0);
    }
}
