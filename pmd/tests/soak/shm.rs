//! The shm soak: the shm pair in one process, its client leaving and connecting again at random moments.

use crate::common::{drop_figures, hold_most_of, pause_receiver, pin, round_secs, send, Switches};
use crate::shared::frame_bytes;
use pktloop_engine::packet::free_burst;
use pktloop_engine::port::DropReason;
use pktloop_engine::{PacketBurst, Port};
use pktloop_pmd::fault::{FaultConfig, FaultInjector, Rate};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

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
        let tx = scope.spawn(|| send(&mut server, 1400, frame_bytes, &s));
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
         filled {}, pool nearly empty {}; server drops {}; client drops {client_drops}",
        started.elapsed().as_secs_f64(),
        sa.opackets,
        kinds[0],
        kinds[1],
        kinds[2],
        drop_figures(&sa.drops)
    );
    assert_eq!(sa.opackets + sa.total_drops(), taken, "server: taken = sent + dropped ({sa:?})");
    assert_eq!(received + client_drops, sa.opackets, "sent = received by the clients + dropped by them");
    assert!(client_pools_whole, "every client's pool had all its buffers back");
    assert_eq!(server_pool.in_use(), 0, "the server's pool has all its buffers back");
    assert!(kinds[0] > 0 && received > 0 && sa.dropped(DropReason::PeerLost) + sa.dropped(DropReason::NoPeer) > 0);
}
