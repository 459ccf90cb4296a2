//! The fault-injecting wrapper on a feth pair and a null port: each fault happens at its configured rate
//! (seeded, so counts are exact), every frame is accounted for, every buffer comes back, and bad knobs are
//! refused by name.

mod common;

use common::{frame_bytes, id_of};
use pktloop_engine::mem::Prefer;
use pktloop_engine::pool::PoolConfig;
use pktloop_engine::port::DropReason;
use pktloop_engine::{Packet, PacketBurst, Pool, Port};
use pktloop_pmd::fault::{FaultConfig, FaultInjector, FaultStats, Rate};
use pktloop_pmd::feth::{pair, Feth, FethConfig, FethHandle};
use pktloop_pmd::null::NullPort;
use std::sync::atomic::{AtomicU32, Ordering};

const N: usize = 2000;
const LEN: usize = 100;
const PPM_HALF: u32 = 500_000;

/// The brief's pair config; each call gets its own pool size so concurrently running tests never share a
/// global pool (their `in_use` checks stay exact).
fn feth_cfg() -> FethConfig {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let pool_packets = 1024 + NEXT.fetch_add(1, Ordering::Relaxed);
    FethConfig { prefer: Prefer::Normal, pool_packets, ..FethConfig::default() }
}

/// What a run saw: the frames received (in order), and the counters after teardown.
struct Run {
    got: Vec<Vec<u8>>,
    /// Bursts the sender's port took fewer of than it was given.
    short_takes: usize,
    /// Most frames held at once on the receiver.
    max_held: usize,
    tx_faults: FaultStats,
    rx_faults: FaultStats,
    sender: FethHandle,
    receiver: FethHandle,
    pools: Vec<Pool>,
}

/// Sends N frames of LEN bytes (ids 0..N) from `tx` faults on one side of a pair to `rx` faults on the
/// other, retrying what the sender leaves in the burst, then polls until the receiver holds nothing, and
/// tears both down.
fn run(tx: FaultConfig, rx: FaultConfig, config: &FethConfig, len: usize) -> Run {
    let (a, b) = pair(config).unwrap();
    let pools = [a.tx_pool(), a.rx_pool(), b.tx_pool(), b.rx_pool()].map(Pool::clone).to_vec();
    let (sender, receiver) = (a.handle(), b.handle());
    let (mut a, mut b) = (FaultInjector::new(a, &tx).unwrap(), FaultInjector::new(b, &rx).unwrap());
    let (mut burst, mut inbox) = (PacketBurst::new(), PacketBurst::new());
    let (mut got, mut short_takes, mut max_held, mut next) = (Vec::new(), 0, 0, 0);
    while next < N || !burst.is_empty() {
        while burst.len() < 32 && next < N {
            burst.push(a.tx_pool().packet_from(&frame_bytes(next as u64, len)).unwrap());
            next += 1;
        }
        let given = burst.len();
        short_takes += usize::from(a.tx_burst(0, &mut burst) < given);
        receive(&mut b, &mut inbox, &mut got);
        max_held = max_held.max(b.held());
    }
    for _ in 0..rx.rx.delay_polls + 1 {
        receive(&mut b, &mut inbox, &mut got);
    }
    let (tx_faults, rx_faults) = (a.fault_stats(), b.fault_stats());
    assert_eq!((b.held(), rx_faults.rx_held), (0, 0), "every delayed frame released");
    drop((a, b));
    Run { got, short_takes, max_held, tx_faults, rx_faults, sender, receiver, pools }
}

fn receive<P: Port>(port: &mut P, inbox: &mut PacketBurst, got: &mut Vec<Vec<u8>>) {
    port.rx_burst(0, inbox, 64);
    got.extend(inbox.drain(..).map(|p: Packet| p.to_vec()));
}

impl Run {
    /// Sent = received + dropped by reason + held (none held after the final polls), and every buffer is
    /// back in its pool.
    fn check_accounting(&self) {
        let (s, r) = (self.sender.stats(), self.receiver.stats());
        assert_eq!(s.opackets + s.total_drops(), N as u64, "sender: taken = sent on + dropped");
        assert_eq!(s.opackets, r.ipackets, "nothing left in the crossing ring");
        assert_eq!(
            N as u64,
            self.got.len() as u64 + s.total_drops() + r.total_drops(),
            "sent = received + dropped by reason"
        );
        assert_eq!(s.dropped(DropReason::FaultInjected), self.tx_faults.tx_dropped);
        assert_eq!(r.dropped(DropReason::FaultInjected), self.rx_faults.rx_dropped);
        for p in &self.pools {
            assert_eq!(p.in_use(), 0, "pool {} has all its buffers back", p.id());
        }
    }

    fn ids(&self) -> Vec<u64> {
        self.got.iter().map(|f| u64::from_le_bytes(f[..8].try_into().unwrap())).collect()
    }
}

fn faults(seed: u64) -> FaultConfig {
    FaultConfig { seed, ..FaultConfig::default() }
}

#[test]
fn no_faults_delivers_everything_in_order() {
    let r = run(faults(1), faults(2), &feth_cfg(), LEN);
    r.check_accounting();
    assert_eq!(r.ids(), (0..N as u64).collect::<Vec<_>>());
    assert_eq!((r.tx_faults.total(), r.rx_faults.total(), r.short_takes), (0, 0, 0));
}

#[test]
fn drops_happen_at_their_rate_on_each_side_and_are_counted_as_fault_injected() {
    let mut tx = faults(3);
    tx.tx.drop = Rate::EveryNth(10);
    let mut rx = faults(4);
    rx.rx.drop = Rate::PerMillion(50_000);
    let r = run(tx, rx, &feth_cfg(), LEN);
    r.check_accounting();
    assert_eq!(r.tx_faults.tx_dropped, N as u64 / 10);
    let rx_dropped = r.rx_faults.rx_dropped;
    assert!((N as u64 * 9 / 10 * 3 / 100..=N as u64 * 9 / 10 * 7 / 100).contains(&rx_dropped), "{rx_dropped}");
    assert_eq!(r.got.len() as u64, N as u64 - N as u64 / 10 - rx_dropped);
    assert!(r.ids().iter().all(|id| id % 10 != 9), "every 10th frame sent is the one dropped");
    assert_eq!(r.receiver.stats().dropped(DropReason::FaultInjected), rx_dropped);
}

#[test]
fn the_same_seed_gives_the_same_faults() {
    let config = |seed| {
        let mut c = faults(seed);
        c.rx.drop = Rate::PerMillion(100_000);
        c.rx.corrupt = Rate::PerMillion(100_000);
        c
    };
    let (one, two, other) = (
        run(faults(0), config(9), &feth_cfg(), LEN),
        run(faults(0), config(9), &feth_cfg(), LEN),
        run(faults(0), config(10), &feth_cfg(), LEN),
    );
    assert_eq!((one.got.clone(), one.rx_faults), (two.got.clone(), two.rx_faults));
    assert_ne!(one.got, other.got);
}

/// Bits that differ between two frames of the same length.
fn flipped_bits(frame: &[u8], original: &[u8]) -> u32 {
    frame.iter().zip(original).map(|(x, y)| (x ^ y).count_ones()).sum()
}

#[test]
fn corruption_flips_exactly_one_bit_in_each_struck_frame() {
    let mut tx = faults(5);
    tx.tx.corrupt = Rate::EveryNth(4);
    let mut rx = faults(6);
    rx.rx.corrupt = Rate::PerMillion(200_000);
    let r = run(tx, rx, &feth_cfg(), LEN);
    r.check_accounting();
    assert_eq!(r.got.len(), N);
    assert_eq!(r.tx_faults.tx_corrupted, N as u64 / 4);
    let rx_corrupted = r.rx_faults.rx_corrupted;
    assert!((300..=500).contains(&rx_corrupted), "{rx_corrupted}");
    // Nothing is dropped or delayed, so the i-th frame received is frame i, even when its id was hit.
    let damaged: u64 =
        r.got.iter().enumerate().map(|(i, f)| u64::from(flipped_bits(f, &frame_bytes(i as u64, LEN)))).sum();
    // Two corruptions can strike the same frame (once on each side): each flips one bit, and two flips of
    // the same bit cancel out, so the total is at most the count and of the same parity.
    let total = r.tx_faults.tx_corrupted + rx_corrupted;
    assert!(damaged <= total && (total - damaged).is_multiple_of(2), "{damaged} of {total}");
    assert!(damaged >= total - 20, "{damaged} of {total}");
}

#[test]
fn truncation_cuts_struck_frames_to_a_shorter_prefix_of_at_least_one_byte() {
    let mut rx = faults(7);
    rx.rx.truncate = Rate::EveryNth(5);
    let r = run(faults(0), rx, &feth_cfg(), LEN);
    r.check_accounting();
    assert_eq!(r.got.len(), N);
    assert_eq!(r.rx_faults.rx_truncated, N as u64 / 5);
    let short: Vec<(usize, &Vec<u8>)> = r.got.iter().enumerate().filter(|(_, f)| f.len() < LEN).collect();
    assert_eq!(short.len(), N / 5);
    for (i, f) in short {
        assert_eq!(i % 5, 4, "frames arrive in order: the 5th, 10th, ... are cut");
        assert!(!f.is_empty());
        assert_eq!(f[..], frame_bytes(i as u64, LEN)[..f.len()]);
    }
}

#[test]
fn truncating_a_multi_buflet_frame_returns_the_buflets_it_cut() {
    let config = FethConfig { multibuflet: true, buflet_size: 512, ..feth_cfg() };
    let mut tx = faults(8);
    tx.tx.truncate = Rate::PerMillion(PPM_HALF);
    let r = run(tx, faults(0), &config, 1400);
    r.check_accounting();
    assert!(r.got.iter().any(|f| f.len() <= 512), "some cut within the first buflet");
    assert_eq!(r.got.iter().filter(|f| f.len() < 1400).count() as u64, r.tx_faults.tx_truncated);
}

#[test]
fn rejected_first_attempts_stay_in_the_callers_burst_and_their_retries_pass_in_order() {
    let mut tx = faults(11);
    tx.tx.reject = Rate::EveryNth(5);
    let r = run(tx, faults(0), &feth_cfg(), LEN);
    r.check_accounting();
    assert_eq!(r.ids(), (0..N as u64).collect::<Vec<_>>(), "nothing lost, nothing reordered");
    assert_eq!(r.tx_faults.tx_rejected, N as u64 / 5);
    assert!(r.short_takes as u64 >= r.tx_faults.tx_rejected, "each refusal was back-pressure to the caller");
}

#[test]
fn delayed_frames_come_later_in_their_own_order_and_nothing_is_lost() {
    let mut rx = faults(12);
    rx.rx.delay = Rate::EveryNth(3);
    rx.rx.delay_polls = 2;
    let r = run(faults(0), rx, &feth_cfg(), LEN);
    r.check_accounting();
    let ids = r.ids();
    assert_eq!(ids.len(), N);
    assert_eq!(r.rx_faults.rx_delayed, N as u64 / 3);
    assert!(r.max_held > 0);
    assert_ne!(ids, (0..N as u64).collect::<Vec<_>>(), "delayed frames arrive after later ones");
    let delayed: Vec<u64> = ids.iter().copied().filter(|id| id % 3 == 2).collect();
    assert!(delayed.windows(2).all(|w| w[0] < w[1]), "held frames leave in order");
    let mut sorted = ids;
    sorted.sort_unstable();
    assert_eq!(sorted, (0..N as u64).collect::<Vec<_>>());
}

#[test]
fn frames_held_at_teardown_are_freed_and_counted_as_detached() {
    let mut rx = faults(13);
    rx.rx.delay = Rate::EveryNth(1);
    rx.rx.delay_polls = 1000;
    rx.rx.delay_capacity = 40;
    let (a, b) = pair(&feth_cfg()).unwrap();
    let pools = [a.tx_pool(), a.rx_pool(), b.tx_pool(), b.rx_pool()].map(Pool::clone);
    let (mut a, hb) = (a, b.handle());
    let mut b = FaultInjector::new(b, &rx).unwrap();
    let mut burst = common::frames(a.tx_pool(), 64, LEN, 0);
    assert_eq!(a.tx_burst(0, &mut burst), 64);
    assert_eq!(b.rx_burst(0, &mut burst, 64), 24, "40 held, the rest pass: the queue is full");
    assert_eq!((b.held(), b.fault_stats().rx_held, b.fault_stats().rx_delayed), (40, 40, 40));
    assert!(burst.iter().map(id_of).eq(40..64));
    drop((burst, b));
    let s = hb.stats();
    assert_eq!((s.ipackets, s.dropped(DropReason::Detached)), (64, 40), "received = delivered 24 + detached 40");
    drop(a);
    assert!(pools.iter().all(|p| p.in_use() == 0));
}

fn null_pool() -> Pool {
    let mut c = PoolConfig::new("fault-null", 512, 2048);
    c.prefer = Prefer::Normal;
    Pool::new(c).unwrap()
}

#[test]
fn wraps_a_null_port_too_with_every_frame_accounted_for() {
    let pool = null_pool();
    let mut c = faults(14);
    c.rx.drop = Rate::EveryNth(7);
    c.rx.delay = Rate::PerMillion(100_000);
    c.rx.delay_polls = 3;
    c.tx.drop = Rate::EveryNth(2);
    c.tx.corrupt = Rate::EveryNth(3);
    let mut port = FaultInjector::new(NullPort::new("null7", pool.clone(), 64).unwrap(), &c).unwrap();
    let counters = port.counters().clone();
    let mut burst = PacketBurst::new();
    let (mut delivered, mut taken) = (0u64, 0u64);
    for _ in 0..100 {
        delivered += port.rx_burst(0, &mut burst, 32) as u64;
        taken += port.tx_burst(0, &mut burst) as u64;
        assert!(burst.is_empty());
    }
    let (s, f) = (port.stats(), port.fault_stats());
    assert_eq!(s.ipackets, delivered + f.rx_dropped + f.rx_held, "received = delivered + dropped + held");
    assert_eq!(f.rx_dropped, s.ipackets / 7);
    assert!(f.rx_delayed > 0 && f.rx_held > 0);
    assert_eq!((taken, s.opackets + f.tx_dropped), (delivered, delivered));
    assert_eq!(f.tx_dropped, delivered / 2);
    assert_eq!(s.dropped(DropReason::FaultInjected), f.rx_dropped + f.tx_dropped);
    let held = f.rx_held;
    drop(port);
    assert_eq!(counters.snapshot().dropped(DropReason::Detached), held);
    assert_eq!(pool.in_use(), 0);
}

#[test]
fn a_knob_out_of_range_is_refused_by_name_and_the_port_is_released() {
    let pool = null_pool();
    type Case = (fn(&mut FaultConfig), &'static str, i64);
    let cases: [Case; 4] = [
        (|c| c.rx.drop = Rate::PerMillion(1_000_001), "rx-drop-ppm", 1_000_001),
        (|c| c.tx.truncate = Rate::EveryNth(0), "tx-truncate-every", 0),
        (|c| c.rx.delay_polls = 0, "rx-delay-polls", 0),
        (|c| c.rx.delay_capacity = 65_537, "rx-delay-capacity", 65_537),
    ];
    for (set, knob, value) in cases {
        let mut c = FaultConfig::default();
        set(&mut c);
        let e = FaultInjector::new(NullPort::new("null8", pool.clone(), 64).unwrap(), &c).unwrap_err();
        assert_eq!((e.knob, e.value), (knob, value));
        assert!(e.to_string().starts_with(&format!("invalid {knob} {value}: valid is ")), "{e}");
    }
    assert_eq!(pool.in_use(), 0);
}

/// A wrapper is a port: wrappers nest, and a wrapped `Feth` still polls like one.
#[test]
fn wrappers_nest() {
    let (a, mut b) = pair(&feth_cfg()).unwrap();
    let mut outer_cfg = faults(15);
    outer_cfg.tx.drop = Rate::EveryNth(2);
    let mut inner_cfg = faults(16);
    inner_cfg.tx.drop = Rate::EveryNth(2);
    let mut a: FaultInjector<FaultInjector<Feth>> =
        FaultInjector::new(FaultInjector::new(a, &inner_cfg).unwrap(), &outer_cfg).unwrap();
    let mut burst = common::frames(a.tx_pool(), 40, LEN, 0);
    assert_eq!(a.tx_burst(0, &mut burst), 40);
    assert_eq!(b.rx_burst(0, &mut burst, 64), 10);
    assert_eq!(a.stats().dropped(DropReason::FaultInjected), 30);
    assert_eq!((a.fault_stats().tx_dropped, a.inner().fault_stats().tx_dropped), (20, 10));
}
