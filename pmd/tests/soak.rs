//! The soak: two threads pinned to two cores send and receive across a feth pair (the sender's port
//! wrapped in a fault injector that drops, truncates, corrupts and refuses frames) while the main thread
//! injects faults at random moments: the peer cleared and set again, the receiver's dequeue stalled and
//! released, the link set down and up, the receiver stopped until its ring fills, the sender's pool nearly
//! emptied, the MTU changed, expiry deadlines in the past, and at the end of each round a port destroyed
//! (the next round makes a new pair). It runs every pool mode with WMM and multi-buflet on and off.
//!
//! At the end of each round, per port and per reason: frames the sender's port took = sent + dropped
//! by reason; frames sent = received + dropped by reason on the receiver; every pool has all its buffers.
//! It prints its figures. `PKTLOOP_SOAK_SECS` (default 1) is each round's length: 10 rounds, about ten
//! seconds in CI; set it higher for a longer soak. A second soak runs the shm pair (both sides in this
//! process), its client leaving and connecting again at random moments.

mod common;

use common::{cfg, frame_bytes};
use pktloop_engine::meta::{Expiry, ExpiryAction};
use pktloop_engine::packet::free_burst;
use pktloop_engine::pool::PoolMode;
use pktloop_engine::port::{DropReason, PortStats};
use pktloop_engine::time::now_ns;
use pktloop_engine::{PacketBurst, Pool, Port};
use pktloop_pmd::fault::{FaultConfig, FaultInjector, Rate};
use pktloop_pmd::feth::{pair, FethConfig, FethHandle, RxFullPolicy};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// What the fault thread does, and how often it did it.
const FAULTS: [&str; 8] = [
    "peer cleared and set",
    "dequeue stall",
    "link down and up",
    "rx ring filled",
    "pool nearly empty",
    "mtu changed",
    "expired deadlines",
    "port destroyed",
];

/// What the two forwarding threads share with the fault thread.
#[derive(Default)]
struct Switches {
    stop_tx: AtomicBool,
    stop_rx: AtomicBool,
    /// The receiver stops polling (its ring fills).
    rx_paused: AtomicBool,
    /// The sender gives its frames deadlines already past.
    expire: AtomicBool,
    taken: AtomicU64,
    received: AtomicU64,
}

/// One round's figures.
#[derive(Debug, Default)]
struct Round {
    taken: u64,
    received: u64,
    faults: [u64; FAULTS.len()],
    sender: Option<PortStats>,
    receiver: Option<PortStats>,
}

fn round_secs() -> f64 {
    std::env::var("PKTLOOP_SOAK_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(1.0)
}

fn pin(core: usize) {
    let cores = core_affinity::get_core_ids().unwrap_or_default();
    if let Some(&id) = cores.get(core % cores.len().max(1)) {
        core_affinity::set_for_current(id);
    }
}

/// Sends until stopped: frames of 60..=max bytes, deadlines in the past while told so.
fn send(port: &mut impl Port, max_len: usize, s: &Switches) {
    pin(0);
    let mut rng = fastrand::Rng::with_seed(1);
    let mut burst = PacketBurst::new();
    let mut id = 0u64;
    while !s.stop_tx.load(Ordering::Acquire) {
        if burst.is_empty() {
            for _ in 0..rng.usize(1..=32) {
                let Ok(mut p) = port.tx_pool().packet_from(&frame_bytes(id, rng.usize(60..=max_len))) else { break };
                if s.expire.load(Ordering::Relaxed) {
                    p.meta_mut().expiry =
                        Some(Expiry { deadline_ns: now_ns().saturating_sub(1), action: ExpiryAction::Drop });
                }
                burst.push(p);
                id += 1;
            }
        }
        let taken = port.tx_burst(0, &mut burst) as u64;
        s.taken.fetch_add(taken, Ordering::Relaxed);
    }
    free_burst(&mut burst);
}

/// Receives and frees until stopped, pausing while told so.
fn receive(port: &mut impl Port, s: &Switches) {
    pin(1);
    let mut burst = PacketBurst::new();
    while !s.stop_rx.load(Ordering::Acquire) {
        if s.rx_paused.load(Ordering::Relaxed) {
            std::hint::spin_loop();
            continue;
        }
        let got = port.rx_burst(0, &mut burst, 32) as u64;
        s.received.fetch_add(got, Ordering::Relaxed);
        free_burst(&mut burst);
    }
}

/// Stops the receiver for `hold` (its ring fills).
fn pause_receiver(s: &Switches, hold: Duration) {
    s.rx_paused.store(true, Ordering::Relaxed);
    std::thread::sleep(hold);
    s.rx_paused.store(false, Ordering::Relaxed);
}

/// Takes every buffer of `pool` but a few, for `hold`.
fn hold_most_of(pool: &Pool, hold: Duration) {
    let mut held = Vec::new();
    while pool.stats().capacity - pool.in_use() > 8 {
        match pool.alloc() {
            Some(p) => held.push(p),
            None => break,
        }
    }
    std::thread::sleep(hold);
    drop(held);
}

/// Injects one fault of kind `kind` (see [`FAULTS`]), undoing it after a few milliseconds.
fn inject(kind: usize, rng: &mut fastrand::Rng, (ha, hb): (&FethHandle, &FethHandle), pool: &Pool, s: &Switches) {
    let hold = Duration::from_millis(rng.u64(1..=5));
    match kind {
        0 => {
            ha.clear_peer();
            std::thread::sleep(hold);
            ha.set_peer_handle(hb).expect("the pair is whole again");
        }
        1 => {
            hb.set_dequeue_stall(true);
            std::thread::sleep(hold);
            hb.set_dequeue_stall(false);
        }
        2 => {
            ha.set_up(false);
            std::thread::sleep(hold);
            ha.set_up(true);
        }
        3 => pause_receiver(s, hold),
        4 => hold_most_of(pool, hold),
        5 => {
            let mtu = [1280, 1400, 1500][rng.usize(..3)];
            let _ = ha.set_mtu(mtu);
            let _ = hb.set_mtu(mtu);
        }
        _ => {
            s.expire.store(true, Ordering::Relaxed);
            std::thread::sleep(hold);
            s.expire.store(false, Ordering::Relaxed);
        }
    }
}

fn soak_round(mode: PoolMode, wmm: bool, multibuflet: bool, seed: u64) -> Round {
    let config = FethConfig {
        pool_mode: mode,
        wmm,
        multibuflet,
        tx_exp_policy: 1,
        rx_full: if seed.is_multiple_of(2) { RxFullPolicy::Drop } else { RxFullPolicy::Retry },
        ring_size: 128,
        ..cfg()
    };
    let (a, mut b) = pair(&config).unwrap();
    let pools: Vec<Pool> = vec![a.tx_pool().clone(), a.rx_pool().clone(), b.tx_pool().clone(), b.rx_pool().clone()];
    let (ha, hb) = (a.handle(), b.handle());
    let (ca, cb) = (a.counters().clone(), b.counters().clone());
    let sender_pool = a.tx_pool().clone();
    let max_len = if multibuflet { 3000 } else { 1400 };
    let mut faults = FaultConfig { seed, ..Default::default() };
    (faults.tx.drop, faults.tx.truncate, faults.tx.corrupt) =
        (Rate::PerMillion(2000), Rate::PerMillion(1000), Rate::PerMillion(1000));
    faults.tx.reject = Rate::PerMillion(5000);
    let mut a = FaultInjector::new(a, &faults).unwrap();
    let s = Switches::default();
    let mut round = Round::default();
    let mut rng = fastrand::Rng::with_seed(seed);
    std::thread::scope(|scope| {
        let tx = scope.spawn(|| send(&mut a, max_len, &s));
        let rx = scope.spawn(|| receive(&mut b, &s));
        let end = Instant::now() + Duration::from_secs_f64(round_secs());
        while Instant::now() < end {
            std::thread::sleep(Duration::from_millis(rng.u64(0..20)));
            let kind = rng.usize(..FAULTS.len() - 1);
            inject(kind, &mut rng, (&ha, &hb), &sender_pool, &s);
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
    let (sa, sb) = (ca.snapshot(), cb.snapshot());
    let what = format!("{mode:?} wmm={wmm} multibuflet={multibuflet}");
    assert_eq!(sa.opackets + sa.total_drops(), round.taken, "{what}: sender took = sent + dropped ({sa:?})");
    assert_eq!(sb.ipackets + sb.total_drops(), sa.opackets, "{what}: sent = received + dropped ({sb:?})");
    assert_eq!(sb.ipackets, round.received, "{what}: every frame received reached the receiving thread");
    for p in &pools {
        assert_eq!(p.in_use(), 0, "{what}: pool {} has all its buffers back", p.name());
    }
    (round.sender, round.receiver) = (Some(sa), Some(sb));
    round
}

#[test]
fn a_fault_injecting_soak_loses_nothing_in_any_pool_mode() {
    let started = Instant::now();
    let (mut taken, mut received, mut faults) = (0u64, 0u64, [0u64; FAULTS.len()]);
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
            faults.iter_mut().zip(r.faults).for_each(|(t, f)| *t += f);
            for s in [r.sender, r.receiver].into_iter().flatten() {
                drops.iter_mut().zip(s.drops).for_each(|(t, d)| *t += d);
            }
        }
    }
    let faults: Vec<String> = FAULTS.iter().zip(faults).map(|(k, n)| format!("{k} {n}")).collect();
    let drops: Vec<String> =
        DropReason::ALL.iter().zip(drops).filter(|(_, n)| *n > 0).map(|(r, n)| format!("{} {n}", r.as_str())).collect();
    eprintln!(
        "soak: {:.1} s, {seed} rounds; frames taken {taken}, received {received}; faults: {}; drops: {}; buffers leaked 0",
        started.elapsed().as_secs_f64(),
        faults.join(", "),
        drops.join(", ")
    );
    assert!(received > 0 && taken > received, "traffic flowed, and faults cost some of it");
}

/// The shm pair in one process: the server sends through a fault injector from one pinned thread, a
/// client receives on another and, at random moments, drops its port and connects again (the server sees
/// its peer go and come back); the main thread also stops the receiver until the ring fills and nearly
/// empties the server's pool. At the end: frames the server's port took = sent (taken by a client) +
/// dropped by reason; frames sent = received by the clients + dropped by them; every pool whole.
#[test]
fn an_shm_pair_soaks_while_its_client_leaves_and_comes_back() {
    use pktloop_pmd::shm::{Role, ShmConfig, ShmPort};
    let path = std::env::temp_dir().join(format!("pktloop-soak-{}.sock", std::process::id()));
    let pool = |name: &str| {
        let mut c = pktloop_engine::pool::PoolConfig::new(name, 2048, 2048);
        (c.headroom, c.prefer) = (128, pktloop_engine::mem::Prefer::Normal);
        c
    };
    let config = |role| ShmConfig { ring_size: 256, ..ShmConfig::new(&path, role) };
    let server = ShmPort::open(&config(Role::Server), pool("soak-server")).unwrap();
    let (server_pool, server_counters) = (server.tx_pool().clone(), server.counters().clone());
    let mut faults = FaultConfig { seed: 77, ..Default::default() };
    (faults.tx.drop, faults.tx.truncate, faults.tx.reject) =
        (Rate::PerMillion(2000), Rate::PerMillion(1000), Rate::PerMillion(5000));
    let mut server = FaultInjector::new(server, &faults).unwrap();
    let s = Switches::default();
    let reconnect = AtomicBool::new(false);
    let (mut kinds, mut client_drops, mut client_pools_whole) = ([0u64; 3], 0u64, true);
    let started = Instant::now();
    std::thread::scope(|scope| {
        let tx = scope.spawn(|| send(&mut server, 1400, &s));
        let rx = scope.spawn(|| {
            pin(1);
            let (mut drops, mut whole) = (0u64, true);
            while !s.stop_rx.load(Ordering::Acquire) {
                let mut client = ShmPort::open(&config(Role::Client), pool("soak-client")).unwrap();
                let (client_pool, counters) = (client.tx_pool().clone(), client.counters().clone());
                let mut burst = PacketBurst::new();
                while !s.stop_rx.load(Ordering::Acquire) && !reconnect.load(Ordering::Acquire) {
                    if !s.rx_paused.load(Ordering::Relaxed) {
                        s.received.fetch_add(client.rx_burst(0, &mut burst, 32) as u64, Ordering::Relaxed);
                        free_burst(&mut burst);
                    }
                }
                drop(client);
                let stats = counters.snapshot();
                drops += stats.total_drops();
                whole &= client_pool.in_use() == 0;
                reconnect.store(false, Ordering::Release);
            }
            (drops, whole)
        });
        let mut rng = fastrand::Rng::with_seed(7);
        let end = Instant::now() + Duration::from_secs_f64(2.0 * round_secs());
        while Instant::now() < end {
            std::thread::sleep(Duration::from_millis(rng.u64(0..20)));
            let kind = rng.usize(..3);
            kinds[kind] += 1;
            match kind {
                0 => {
                    reconnect.store(true, Ordering::Release);
                    while reconnect.load(Ordering::Acquire) {
                        std::thread::sleep(Duration::from_millis(1));
                    }
                }
                1 => pause_receiver(&s, Duration::from_millis(rng.u64(1..=5))),
                _ => hold_most_of(&server_pool, Duration::from_millis(rng.u64(1..=5))),
            }
        }
        s.stop_tx.store(true, Ordering::Release);
        tx.join().unwrap();
        s.stop_rx.store(true, Ordering::Release);
        (client_drops, client_pools_whole) = rx.join().unwrap();
    });
    drop(server);
    let sa = server_counters.snapshot();
    let (taken, received) = (s.taken.load(Ordering::Relaxed), s.received.load(Ordering::Relaxed));
    eprintln!(
        "shm soak: {:.1} s; frames taken {taken}, sent {}, received {received}; client reconnects {}, rx ring \
         filled {}, pool nearly empty {}; server drops {:?}; client drops {client_drops}",
        started.elapsed().as_secs_f64(),
        sa.opackets,
        kinds[0],
        kinds[1],
        kinds[2],
        DropReason::ALL
            .iter()
            .zip(sa.drops)
            .filter(|(_, n)| *n > 0)
            .map(|(r, n)| format!("{} {n}", r.as_str()))
            .collect::<Vec<_>>()
    );
    assert_eq!(sa.opackets + sa.total_drops(), taken, "server: taken = sent + dropped ({sa:?})");
    assert_eq!(received + client_drops, sa.opackets, "sent = received by the clients + dropped by them");
    assert!(client_pools_whole, "every client's pool had all its buffers back");
    assert_eq!(server_pool.in_use(), 0, "the server's pool has all its buffers back");
    assert!(kinds[0] > 0 && received > 0 && sa.dropped(DropReason::PeerLost) + sa.dropped(DropReason::NoPeer) > 0);
}
