//! feth across threads: conservation under load in every pool mode, counters read live from another
//! thread, and destroying or dropping one side while the other is sending.

mod common;

use common::*;
use pktloop_engine::packet::free_burst;
use pktloop_engine::pool::PoolMode;
use pktloop_engine::port::{DropReason, PortStats};
use pktloop_engine::{PacketBurst, Pool, Port};
use pktloop_pmd::feth::{pair, Feth, FethConfig, RxFullPolicy};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

const MODES: [(PoolMode, bool); 4] =
    [(PoolMode::Global, false), (PoolMode::Global, true), (PoolMode::Private, true), (PoolMode::PrivateSplit, false)];

fn all_pools(a: &Feth, b: &Feth) -> Vec<Pool> {
    vec![a.tx_pool().clone(), a.rx_pool().clone(), b.tx_pool().clone(), b.rx_pool().clone()]
}

/// Sends `n` frames from `a`, retrying what the port leaves in the burst; returns how many it took.
fn send(a: &mut Feth, n: u64, len: usize) -> u64 {
    let mut taken = 0u64;
    let mut next = 0u64;
    let mut burst = PacketBurst::new();
    while taken < n {
        if burst.is_empty() {
            let k = (n - next).min(32) as usize;
            match a.tx_pool().alloc() {
                Some(p) => drop(p),
                None => {
                    // The pool is out (the receiver is behind): poll and retry.
                    std::hint::spin_loop();
                    continue;
                }
            }
            let mut fresh = PacketBurst::new();
            for i in 0..k {
                let Ok(mut p) = a.tx_pool().packet_from(&frame_bytes(next + i as u64, len)) else { break };
                p.meta_mut().packet_id = next + i as u64;
                fresh.push(p);
            }
            next += fresh.len() as u64;
            burst = fresh;
        }
        taken += a.tx_burst(0, &mut burst) as u64;
    }
    taken
}

#[test]
fn conservation_under_load_in_every_mode() {
    const N: u64 = 100_000;
    for (mode, multibuflet) in MODES {
        let config = FethConfig { pool_mode: mode, multibuflet, ring_size: 128, ..cfg() };
        let (mut a, mut b) = pair(&config).unwrap();
        let pools = all_pools(&a, &b);
        let counters = a.counters().clone();
        let done = AtomicBool::new(false);
        let (taken, received) = std::thread::scope(|s| {
            let tx = s.spawn(|| send(&mut a, N, 200));
            let rx = s.spawn(|| {
                let mut got = 0u64;
                let mut burst = PacketBurst::new();
                while got < N {
                    b.rx_burst(0, &mut burst, 32);
                    for p in burst.iter() {
                        assert_eq!(id_of(p), got, "{mode:?}: in order, none lost");
                        got += 1;
                    }
                    free_burst(&mut burst);
                }
                done.store(true, Ordering::Release);
                got
            });
            // Counters are live from a third thread.
            let mut last = 0;
            while !done.load(Ordering::Acquire) {
                let now = counters.snapshot().opackets;
                assert!(now >= last, "opackets only grows");
                last = now;
                std::thread::sleep(Duration::from_millis(1));
            }
            (tx.join().unwrap(), rx.join().unwrap())
        });
        assert_eq!((taken, received), (N, N));
        let (sa, sb) = (a.stats(), b.stats());
        assert_eq!((sa.opackets, sb.ipackets, sa.total_drops(), sb.total_drops()), (N, N, 0, 0), "{mode:?}");
        assert_eq!(sa.obytes, N * 200);
        drop((a, b));
        for p in &pools {
            assert_eq!(p.in_use(), 0, "{mode:?}: pool {} has everything back", p.name());
        }
    }
}

/// Every packet a sender handed over is received or dropped under a reason, on one side or the other.
fn assert_conserved(taken: u64, received: u64, sa: &PortStats, sb: &PortStats) {
    assert_eq!(sa.opackets + sa.total_drops(), taken, "sender: sent + dropped = taken ({sa:?})");
    assert_eq!(sb.ipackets + sb.total_drops(), sa.opackets, "receiver: received + dropped = sent ({sb:?})");
    assert_eq!(sb.ipackets, received);
}

#[test]
fn conservation_with_injected_and_ring_full_drops() {
    const N: u64 = 50_000;
    for (mode, multibuflet) in MODES {
        let config = FethConfig {
            pool_mode: mode,
            multibuflet,
            ring_size: 32,
            tx_drops: 7,
            rx_full: RxFullPolicy::Drop,
            ..cfg()
        };
        let (mut a, mut b) = pair(&config).unwrap();
        let pools = all_pools(&a, &b);
        let stop = AtomicBool::new(false);
        let (taken, received) = std::thread::scope(|s| {
            let tx = s.spawn(|| {
                let t = send(&mut a, N, 100);
                stop.store(true, Ordering::Release);
                t
            });
            let rx = s.spawn(|| {
                let mut got = 0u64;
                let mut burst = PacketBurst::new();
                loop {
                    let stopping = stop.load(Ordering::Acquire);
                    let n = b.rx_burst(0, &mut burst, 32);
                    got += n as u64;
                    free_burst(&mut burst);
                    if stopping && n == 0 {
                        return got;
                    }
                }
            });
            (tx.join().unwrap(), rx.join().unwrap())
        });
        let (sa, sb) = (a.stats(), b.stats());
        assert_conserved(taken, received, &sa, &sb);
        // Every 7th packet is dropped, but any drop (a full ring too) restarts the count.
        assert!(sa.dropped(DropReason::TxDropInjection) > 0, "{mode:?}");
        assert!(sa.dropped(DropReason::TxDropInjection) <= N / 7);
        assert_eq!(sa.total_drops(), sa.dropped(DropReason::TxDropInjection) + sa.dropped(DropReason::RxRingFull));
        drop((a, b));
        for p in &pools {
            assert_eq!(p.in_use(), 0, "{mode:?}: pool {}", p.name());
        }
    }
}

/// Waits (up to 10 s, the machine may be loaded) until `cond` holds.
fn wait_for(what: &str, cond: impl Fn() -> bool) {
    let start = std::time::Instant::now();
    while !cond() {
        assert!(start.elapsed() < Duration::from_secs(10), "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// A sender thread owning `a` sends until told to stop; a receiver thread owning `b` receives until told
/// to stop, then drops its port. `disrupt` runs on the main thread mid-stream. Checks conservation and
/// that every pool is whole.
fn disrupt_while_sending(mode: PoolMode, disrupt: impl FnOnce(&pktloop_pmd::feth::FethHandle, &AtomicBool)) {
    let config = FethConfig { pool_mode: mode, ring_size: 64, ..cfg() };
    let (mut a, mut b) = pair(&config).unwrap();
    let pools = all_pools(&a, &b);
    let (ha, hb) = (a.handle(), b.handle());
    let (ca, cb) = (a.counters().clone(), b.counters().clone());
    let stop_tx = &AtomicBool::new(false);
    let stop_rx = &AtomicBool::new(false);
    let (taken, received) = std::thread::scope(|s| {
        let tx = s.spawn(|| {
            let mut taken = 0u64;
            let mut burst = PacketBurst::new();
            let mut id = 0u64;
            while !stop_tx.load(Ordering::Acquire) {
                if burst.is_empty() {
                    for _ in 0..16 {
                        match a.tx_pool().packet_from(&frame_bytes(id, 64)) {
                            Ok(p) => burst.push(p),
                            Err(_) => break,
                        }
                        id += 1;
                    }
                }
                taken += a.tx_burst(0, &mut burst) as u64;
            }
            free_burst(&mut burst);
            taken
        });
        let rx = s.spawn(move || {
            let mut got = 0u64;
            let mut burst = PacketBurst::new();
            while !stop_rx.load(Ordering::Acquire) {
                got += b.rx_burst(0, &mut burst, 32) as u64;
                free_burst(&mut burst);
            }
            // Whatever is left in its rx ring is dropped as Detached, now or when the sender leaves.
            drop(b);
            got
        });
        wait_for("traffic", || cb.snapshot().ipackets > 1000);
        disrupt(&hb, stop_rx);
        wait_for("the sender to notice", || ca.snapshot().dropped(DropReason::NoPeer) > 0);
        stop_rx.store(true, Ordering::Release);
        stop_tx.store(true, Ordering::Release);
        (tx.join().unwrap(), rx.join().unwrap())
    });
    assert_eq!(ha.peer(), None);
    drop(a);
    let (sa, sb) = (ca.snapshot(), cb.snapshot());
    assert!(received > 1000 && taken > received, "{mode:?}: traffic flowed, then stopped arriving");
    assert_conserved(taken, received, &sa, &sb);
    for p in &pools {
        assert_eq!(p.in_use(), 0, "{mode:?}: pool {} has everything back", p.name());
    }
}

#[test]
fn destroying_the_receiver_while_a_thread_sends_loses_nothing() {
    for mode in [PoolMode::Global, PoolMode::Private, PoolMode::PrivateSplit] {
        disrupt_while_sending(mode, |hb, _| hb.destroy());
    }
}

#[test]
fn dropping_the_receiver_port_while_a_thread_sends_loses_nothing() {
    for mode in [PoolMode::Global, PoolMode::Private, PoolMode::PrivateSplit] {
        // The receiving thread stops first and drops its port while the sender keeps going.
        disrupt_while_sending(mode, |_, stop_rx| stop_rx.store(true, Ordering::Release));
    }
}

#[test]
fn destroying_the_sender_from_another_thread_drops_its_backlog_as_detached() {
    let config = FethConfig { wmm: true, ring_size: 16, ..cfg() };
    let (mut a, mut b) = pair(&config).unwrap();
    let pools = all_pools(&a, &b);
    a.handle().set_dequeue_stall(true);
    let mut burst = frames(a.tx_pool(), 40, 64, 0);
    let taken = a.tx_burst(0, &mut burst) as u64;
    assert_eq!(a.queued() as u64, taken);
    let h = a.handle();
    std::thread::spawn(move || h.destroy()).join().unwrap();
    a.poll();
    assert_eq!(a.queued(), 0);
    assert_eq!(a.stats().dropped(DropReason::Detached), taken);
    // A detaching port takes what it is given and drops it, counted.
    let n = burst.len() as u64;
    assert_eq!(a.tx_burst(0, &mut burst) as u64, n);
    assert_eq!(a.stats().dropped(DropReason::Detached), taken + n);
    assert!(rx_all(&mut b).is_empty());
    drop((a, b));
    assert!(pools.iter().all(|p| p.in_use() == 0));
}
