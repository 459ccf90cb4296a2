//! The feth soak: a fault-injecting sender and a receiver pinned to two cores across a feth pair, while
//! the main thread injects faults at random moments; every pool mode, WMM and multi-buflet on and off.

use crate::common::{drop_figures, hold_most_of, pause_receiver, receive, round_secs, send, Switches};
use crate::shared::{cfg, frame_bytes};
use pktloop_engine::pool::PoolMode;
use pktloop_engine::port::{DropReason, PortStats};
use pktloop_engine::{Pool, Port};
use pktloop_pmd::fault::{FaultConfig, FaultInjector, Rate};
use pktloop_pmd::feth::port::FRAME_OVERHEAD;
use pktloop_pmd::feth::{pair, FethConfig, FethHandle, RxFullPolicy};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// What the fault thread does, and how often it did it.
const FAULTS: [&str; 9] = [
    "peer cleared and set",
    "dequeue stall",
    "link down and up",
    "rx ring filled",
    "pool nearly empty",
    "mtu changed",
    "tx drop injection changed",
    "expired deadlines",
    "port destroyed",
];

/// The largest MTU of multi-buflet rounds. A packet chains `ceil(max_mtu / buflet_size)` buflets: 8 of
/// 512 bytes here, 4064 after the headroom, room for a max-MTU frame and [`BEYOND`] more. (With feth's
/// default 2048 a packet holds 2016 bytes, short of a 2062-byte max-MTU frame.)
const MULTIBUFLET_MAX_MTU: u32 = 3900;

/// Bytes past a max-MTU frame (MTU + 14-byte header) that the longest frames of multi-buflet rounds have:
/// past the port's limit (MTU + [`FRAME_OVERHEAD`]), so `MtuExceeded` happens even at the largest MTU.
const BEYOND: usize = 100;

/// One round's figures.
#[derive(Debug, Default)]
struct Round {
    taken: u64,
    received: u64,
    /// Frames received chained over more than one buflet.
    multi_buflet: u64,
    /// The longest frame received, in bytes.
    longest: u64,
    faults: [u64; FAULTS.len()],
    sender: Option<PortStats>,
    receiver: Option<PortStats>,
}

/// What [`inject`] works on: the pair, the sender's pool and the MTUs "mtu changed" picks from.
struct Target<'a> {
    ha: &'a FethHandle,
    hb: &'a FethHandle,
    pool: &'a Pool,
    mtus: &'a [u32],
}

/// The MTUs "mtu changed" picks from: around the standard 1500 (frames past it dropped as `MtuExceeded`)
/// and, in multi-buflet rounds, larger ones up to `max_mtu`, so that long chained frames keep crossing.
fn mtu_choices(multibuflet: bool, max_mtu: u32) -> Vec<u32> {
    if multibuflet {
        vec![1280, 1500, (1500 + max_mtu) / 2, max_mtu]
    } else {
        vec![1280, 1400, 1500]
    }
}

/// Injects one fault of kind `kind` (see [`FAULTS`]), undoing it after a few milliseconds.
fn inject(kind: usize, rng: &mut fastrand::Rng, t: &Target, s: &Switches) {
    let hold = Duration::from_millis(rng.u64(1..=5));
    match kind {
        0 => {
            t.ha.clear_peer();
            std::thread::sleep(hold);
            t.ha.set_peer_handle(t.hb).expect("the pair is whole again");
        }
        1 => {
            t.hb.set_dequeue_stall(true);
            std::thread::sleep(hold);
            t.hb.set_dequeue_stall(false);
        }
        2 => {
            t.ha.set_up(false);
            std::thread::sleep(hold);
            t.ha.set_up(true);
        }
        3 => pause_receiver(s, hold),
        4 => hold_most_of(t.pool, hold),
        5 => {
            let mtu = t.mtus[rng.usize(..t.mtus.len())];
            let _ = t.ha.set_mtu(mtu);
            let _ = t.hb.set_mtu(mtu);
        }
        6 => {
            t.ha.set_tx_drops(rng.u32(2..=50)).expect("in range");
            std::thread::sleep(hold);
            t.ha.set_tx_drops(0).expect("in range");
        }
        _ => {
            s.expire.store(true, Ordering::Relaxed);
            std::thread::sleep(hold);
            s.expire.store(false, Ordering::Relaxed);
        }
    }
}

fn round_config(mode: PoolMode, wmm: bool, multibuflet: bool, seed: u64) -> FethConfig {
    let mut config = FethConfig {
        pool_mode: mode,
        wmm,
        multibuflet,
        tx_exp_policy: 1,
        rx_full: if seed.is_multiple_of(2) { RxFullPolicy::Drop } else { RxFullPolicy::Retry },
        ring_size: 128,
        ..cfg()
    };
    if multibuflet {
        config.max_mtu = MULTIBUFLET_MAX_MTU;
    }
    config
}

fn soak_round(mode: PoolMode, wmm: bool, multibuflet: bool, seed: u64) -> Round {
    let config = round_config(mode, wmm, multibuflet, seed);
    let (a, mut b) = pair(&config).unwrap();
    let pools: Vec<Pool> = vec![a.tx_pool().clone(), a.rx_pool().clone(), b.tx_pool().clone(), b.rx_pool().clone()];
    let (ha, hb) = (a.handle(), b.handle());
    let (ca, cb) = (a.counters().clone(), b.counters().clone());
    let sender_pool = a.tx_pool().clone();
    let max_len = if multibuflet {
        // Multi-buflet frames up to the largest MTU's, and some past it: both ports start at that MTU.
        for h in [&ha, &hb] {
            h.set_mtu(config.max_mtu).expect("the largest MTU");
        }
        config.max_mtu as usize + 14 + BEYOND
    } else {
        1400
    };
    assert!(max_len <= sender_pool.max_packet_len(), "the sender's pool holds the longest frame sent");
    let mtus = mtu_choices(multibuflet, config.max_mtu);
    let mut faults = FaultConfig { seed, ..Default::default() };
    (faults.tx.drop, faults.tx.truncate, faults.tx.corrupt) =
        (Rate::PerMillion(2000), Rate::PerMillion(1000), Rate::PerMillion(1000));
    faults.tx.reject = Rate::PerMillion(5000);
    let mut a = FaultInjector::new(a, &faults).unwrap();
    let s = Switches::default();
    let mut round = Round::default();
    let mut rng = fastrand::Rng::with_seed(seed);
    let target = Target { ha: &ha, hb: &hb, pool: &sender_pool, mtus: &mtus };
    std::thread::scope(|scope| {
        let tx = scope.spawn(|| send(&mut a, max_len, frame_bytes, &s));
        let rx = scope.spawn(|| receive(&mut b, &s));
        let end = Instant::now() + Duration::from_secs_f64(round_secs());
        while Instant::now() < end {
            std::thread::sleep(Duration::from_millis(rng.u64(0..20)));
            let kind = rng.usize(..FAULTS.len() - 1);
            inject(kind, &mut rng, &target, &s);
            round.faults[kind] += 1;
        }
        // The last fault: a port destroyed while traffic flows.
        if rng.bool() {
            hb.destroy()
        } else {
            ha.destroy()
        }
        round.faults[FAULTS.len() - 1] += 1;
        std::thread::sleep(Duration::from_millis(5));
        s.stop_tx.store(true, Ordering::Release);
        tx.join().unwrap();
        s.stop_rx.store(true, Ordering::Release);
        rx.join().unwrap();
    });
    drop((a, b));
    round.taken = s.taken.load(Ordering::Relaxed);
    round.received = s.received.load(Ordering::Relaxed);
    (round.multi_buflet, round.longest) = (s.multi_buflet.load(Ordering::Relaxed), s.longest.load(Ordering::Relaxed));
    let (sa, sb) = (ca.snapshot(), cb.snapshot());
    let what = format!("{mode:?} wmm={wmm} multibuflet={multibuflet}");
    assert_eq!(sa.opackets + sa.total_drops(), round.taken, "{what}: sender took = sent + dropped ({sa:?})");
    assert_eq!(sb.ipackets + sb.total_drops(), sa.opackets, "{what}: sent = received + dropped ({sb:?})");
    assert_eq!(sb.ipackets, round.received, "{what}: every frame received reached the receiving thread");
    for p in &pools {
        assert_eq!(p.in_use(), 0, "{what}: pool {} has all its buffers back", p.name());
    }
    (round.sender, round.receiver) = (Some(sa), Some(sb));
    check_frame_shapes(&round, &config, &what);
    round
}

/// Multi-buflet rounds received frames of several buflets, and longer than a 1500 MTU lets through, and
/// dropped some as too long; other rounds received one-buflet frames only. No round received a frame
/// longer than its largest MTU lets through.
fn check_frame_shapes(r: &Round, config: &FethConfig, what: &str) {
    let limit = (config.max_mtu as usize + FRAME_OVERHEAD) as u64;
    assert!(r.longest <= limit, "{what}: frames cross up to {limit} bytes (longest {})", r.longest);
    if !config.multibuflet {
        assert_eq!(r.multi_buflet, 0, "{what}: every frame received is one buffer");
        return;
    }
    let standard = (1500 + FRAME_OVERHEAD) as u64;
    assert!(r.multi_buflet > 0, "{what}: frames of several buflets crossed");
    assert!(r.longest > standard, "{what}: frames past a 1500 MTU crossed (longest {})", r.longest);
    let too_long = r.sender.as_ref().map_or(0, |s| s.dropped(DropReason::MtuExceeded));
    assert!(too_long > 0, "{what}: frames past the MTU were dropped as mtu_exceeded");
}

#[test]
fn a_fault_injecting_soak_loses_nothing_in_any_pool_mode() {
    let started = Instant::now();
    let (mut taken, mut received, mut faults) = (0u64, 0u64, [0u64; FAULTS.len()]);
    let (mut multi_buflet, mut longest) = (Vec::new(), 0u64);
    let mut drops = [0u64; DropReason::COUNT];
    let mut seed = 0;
    for mode in [PoolMode::Global, PoolMode::Private, PoolMode::PrivateSplit] {
        for (wmm, multibuflet) in [(false, false), (true, false), (false, true), (true, true)] {
            if mode == PoolMode::PrivateSplit && multibuflet {
                continue; // a setting feth refuses (multibuflet is off when pool-mode is split)
            }
            seed += 1;
            let r = soak_round(mode, wmm, multibuflet, seed);
            taken += r.taken;
            received += r.received;
            if multibuflet {
                multi_buflet.push(r.multi_buflet);
                longest = longest.max(r.longest);
            }
            faults.iter_mut().zip(r.faults).for_each(|(t, f)| *t += f);
            for s in [r.sender, r.receiver].into_iter().flatten() {
                drops.iter_mut().zip(s.drops).for_each(|(t, d)| *t += d);
            }
        }
    }
    let drop_injections = faults[FAULTS.iter().position(|&k| k == "tx drop injection changed").unwrap()];
    let faults: Vec<String> = FAULTS.iter().zip(faults).map(|(k, n)| format!("{k} {n}")).collect();
    let per_round: Vec<String> = multi_buflet.iter().map(u64::to_string).collect();
    eprintln!(
        "soak: {:.1} s, {seed} rounds; frames taken {taken}, received {received}; multi-buflet frames received \
         {} (per multi-buflet round {}), longest {longest} bytes; faults: {}; drops: {}; buffers leaked 0",
        started.elapsed().as_secs_f64(),
        multi_buflet.iter().sum::<u64>(),
        per_round.join(", "),
        faults.join(", "),
        drop_figures(&drops)
    );
    assert!(received > 0 && taken > received, "traffic flowed, and faults cost some of it");
    let injected = drops[DropReason::TxDropInjection as usize];
    assert!(
        drop_injections == 0 || injected > 0,
        "feth's drop injection, turned on {drop_injections} times, dropped frames"
    );
}
