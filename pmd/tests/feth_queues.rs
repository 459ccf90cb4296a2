//! feth with several queue pairs: queue i crosses to queue i, rss spreads flows and keeps each on one
//! queue, one worker per queue on split ports, control changes seen by every queue, and teardown that
//! accounts for what is left in several queues' rings.

mod common;

use common::*;
use pktloop_engine::packet::free_burst;
use pktloop_engine::pool::PoolMode;
use pktloop_engine::port::DropReason;
use pktloop_engine::{PacketBurst, Pool, Port};
use pktloop_pmd::feth::rss::{flow_hash, queue_of};
use pktloop_pmd::feth::{create, pair, Feth, FethConfig, FethQueue, RxFullPolicy};
use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};

fn pools(a: &Feth, b: &Feth) -> Vec<Pool> {
    vec![a.tx_pool().clone(), a.rx_pool().clone(), b.tx_pool().clone(), b.rx_pool().clone()]
}

fn assert_all_back(pools: &[Pool]) {
    for p in pools {
        assert_eq!(p.in_use(), 0, "every buffer back in {p:?}");
    }
}

/// A UDP/IPv4 frame of flow `flow` (its source port) carrying `seq`.
fn udp_frame(flow: u16, seq: u32) -> Vec<u8> {
    let mut f = vec![0u8; 60];
    f[..6].copy_from_slice(&[2, 0, 0, 0, 0, 2]);
    f[6..12].copy_from_slice(&[2, 0, 0, 0, 0, 1]);
    f[12..14].copy_from_slice(&[0x08, 0x00]);
    f[14] = 0x45;
    f[14 + 9] = 17;
    f[26..30].copy_from_slice(&[10, 0, 0, 1]);
    f[30..34].copy_from_slice(&[10, 0, 0, 2]);
    f[34..36].copy_from_slice(&(1000 + flow).to_be_bytes());
    f[36..38].copy_from_slice(&9u16.to_be_bytes());
    f[42..46].copy_from_slice(&seq.to_be_bytes());
    f
}

fn flow_and_seq(p: &pktloop_engine::Packet) -> (u16, u32) {
    let d = p.data();
    (u16::from_be_bytes([d[34], d[35]]) - 1000, u32::from_be_bytes([d[42], d[43], d[44], d[45]]))
}

/// Everything waiting on queue `q` of `port`.
fn rx_queue(port: &mut impl Port, q: usize) -> PacketBurst {
    let mut b = PacketBurst::new();
    for _ in 0..4 {
        while b.len() < 512 && port.rx_burst(q, &mut b, 32) != 0 {}
    }
    b
}

#[test]
fn queue_i_crosses_to_queue_i_only() {
    let config = FethConfig { queues: 4, ..cfg() };
    let (mut a, mut b) = pair(&config).unwrap();
    let pools = pools(&a, &b);
    assert_eq!((a.rx_queues(), a.tx_queues(), a.queues(), a.handle().queues()), (4, 4, 4, 4));
    for q in 0..4 {
        let mut burst = frames(a.tx_pool(), 3 + q, 64, 100 * q as u64);
        assert_eq!(a.tx_burst(q, &mut burst), 3 + q);
    }
    for q in 0..4 {
        let got = rx_queue(&mut b, q);
        let ids: Vec<u64> = got.iter().map(id_of).collect();
        assert_eq!(ids, (0..3 + q as u64).map(|k| 100 * q as u64 + k).collect::<Vec<_>>(), "queue {q}");
        let counters = b.handle().queue_counters(q).unwrap().snapshot();
        assert_eq!(counters.ipackets, 3 + q as u64, "queue {q}'s own counters");
    }
    let (sa, sb) = (a.stats(), b.stats());
    assert_eq!((sa.opackets, sb.ipackets, sa.obytes, sb.ibytes), (18, 18, 18 * 64, 18 * 64));
    assert_eq!(a.handle().stats(), sa);
    assert_eq!(a.counters().snapshot().opackets, 3, "counters() is queue 0's");

    // A queue that does not exist moves nothing and panics nowhere.
    let mut burst = frames(a.tx_pool(), 2, 64, 0);
    assert_eq!(a.tx_burst(4, &mut burst), 0);
    assert_eq!(burst.len(), 2);
    assert_eq!(b.rx_burst(usize::MAX, &mut burst, 32), 0);
    assert!(a.queue_mut(4).is_none());
    free_burst(&mut burst);
    assert_eq!(a.stats().total_drops() + b.stats().total_drops(), 0);
    drop((a, b));
    assert_all_back(&pools);
}

#[test]
fn peers_with_fewer_queues_take_tx_queue_i_on_rx_queue_i_modulo() {
    let a = create(&FethConfig { queues: 4, ..cfg() }).unwrap();
    let b = create(&FethConfig { queues: 2, ..cfg() }).unwrap();
    let (ha, hb) = (a.handle(), b.handle());
    ha.set_peer_handle(&hb).unwrap();
    ha.set_up(true);
    hb.set_up(true);
    let (mut a, mut b) = (a, b);
    for q in 0..4 {
        let mut burst = frames(a.tx_pool(), 1, 64, q as u64);
        assert_eq!(a.tx_burst(q, &mut burst), 1);
    }
    let ids = |b: &mut Feth, q| rx_queue(b, q).iter().map(id_of).collect::<Vec<_>>();
    assert_eq!(ids(&mut b, 0), [0, 2]);
    assert_eq!(ids(&mut b, 1), [1, 3]);
    // b's two tx queues reach a's rx queues 0 and 1.
    for q in 0..2 {
        let mut burst = frames(b.tx_pool(), 1, 64, 10 + q as u64);
        assert_eq!(b.tx_burst(q, &mut burst), 1);
        assert_eq!(ids(&mut a, q), [10 + q as u64]);
    }
}

/// rss on: 64 flows sent from two tx queues spread over all 4 rx queues, each flow on one queue, in order
/// per sending queue, with its hash in the metadata, in every pool mode.
#[test]
fn rss_spreads_flows_over_every_queue_and_keeps_each_flow_on_one() {
    const FLOWS: u16 = 64;
    const PER_FLOW: u32 = 4;
    for mode in [PoolMode::Global, PoolMode::Private, PoolMode::PrivateSplit] {
        let config = FethConfig { queues: 4, rss: true, pool_mode: mode, ..cfg() };
        let (mut a, mut b) = pair(&config).unwrap();
        let pools = pools(&a, &b);
        for seq in 0..PER_FLOW {
            let mut burst = PacketBurst::new();
            for flow in 0..FLOWS {
                burst.push(a.tx_pool().packet_from(&udp_frame(flow, seq)).unwrap());
            }
            let q = seq as usize % 2;
            assert_eq!(a.tx_burst(q, &mut burst), FLOWS as usize);
        }
        let mut queue_of_flow: HashMap<u16, BTreeSet<usize>> = HashMap::new();
        // Order holds per flow and sending queue (two tx queues' rings into one rx queue interleave).
        let mut last_seq: HashMap<(u16, u32), u32> = HashMap::new();
        let mut total = 0;
        for q in 0..4 {
            let got = rx_queue(&mut b, q);
            assert!(!got.is_empty(), "{mode:?}: queue {q} got none of 64 flows");
            for p in &got {
                let (flow, seq) = flow_and_seq(p);
                let hash = flow_hash(&udp_frame(flow, seq));
                assert_eq!(p.meta().rss_hash, hash, "{mode:?}: the hash is recorded");
                assert_eq!(queue_of(hash, 4), q);
                queue_of_flow.entry(flow).or_default().insert(q);
                if let Some(prev) = last_seq.insert((flow, seq % 2), seq) {
                    assert!(seq > prev, "{mode:?}: flow {flow} in order");
                }
            }
            total += got.len();
        }
        assert_eq!(total, (FLOWS as u32 * PER_FLOW) as usize);
        assert!(queue_of_flow.values().all(|qs| qs.len() == 1), "{mode:?}: a flow on one queue only");
        assert_eq!(b.stats().ipackets, total as u64);
        drop((a, b));
        assert_all_back(&pools);
    }
}

/// rss with a full lane: under retry the burst stops at the first packet whose lane is full (the flows
/// behind keep their order); under drop that packet alone is dropped and counted.
#[test]
fn rss_full_lane_is_back_pressure_or_a_counted_drop() {
    for policy in [RxFullPolicy::Retry, RxFullPolicy::Drop] {
        let config = FethConfig { queues: 2, rss: true, ring_size: 4, rx_full: policy, ..cfg() };
        let (mut a, mut b) = pair(&config).unwrap();
        let pools = pools(&a, &b);
        // Two flows on different lanes.
        let flows: Vec<u16> = {
            let q0 = (0..).find(|&f| queue_of(flow_hash(&udp_frame(f, 0)), 2) == 0).unwrap();
            let q1 = (0..).find(|&f| queue_of(flow_hash(&udp_frame(f, 0)), 2) == 1).unwrap();
            vec![q0, q1]
        };
        // 6 of flow 0 (its lane holds 4), then 2 of flow 1.
        let mut burst = PacketBurst::new();
        for seq in 0..6 {
            burst.push(a.tx_pool().packet_from(&udp_frame(flows[0], seq)).unwrap());
        }
        for seq in 0..2 {
            burst.push(a.tx_pool().packet_from(&udp_frame(flows[1], seq)).unwrap());
        }
        let taken = a.tx_burst(0, &mut burst);
        let (r0, r1) = (rx_queue(&mut b, 0).len(), rx_queue(&mut b, 1).len());
        match policy {
            RxFullPolicy::Retry => {
                assert_eq!((taken, burst.len(), r0, r1), (4, 4, 4, 0));
                assert_eq!(flow_and_seq(&burst[0]), (flows[0], 4), "the rest stays, in order");
                assert_eq!(a.tx_burst(0, &mut burst), 4, "room again");
                assert_eq!((rx_queue(&mut b, 0).len(), rx_queue(&mut b, 1).len()), (2, 2));
            }
            RxFullPolicy::Drop => {
                assert_eq!((taken, burst.len(), r0, r1), (8, 0, 4, 2));
                assert_eq!(a.stats().dropped(DropReason::RxRingFull), 2);
            }
        }
        drop((a, b));
        assert_all_back(&pools);
    }
}

/// rss from the local tx rings (WMM classes, held under dequeue stall): released, every class is steered
/// by flow, each flow's frames in order on one queue.
#[test]
fn rss_steers_from_the_local_tx_rings_too() {
    let config = FethConfig { queues: 2, rss: true, wmm: true, ..cfg() };
    let (mut a, mut b) = pair(&config).unwrap();
    let pools = pools(&a, &b);
    a.handle().set_dequeue_stall(true);
    let mut burst = PacketBurst::new();
    for seq in 0..3 {
        for flow in 0..16 {
            let mut p = a.tx_pool().packet_from(&udp_frame(flow, seq)).unwrap();
            if flow % 2 == 0 {
                p.meta_mut().service_class = pktloop_engine::packet::ServiceClass::Vo;
            }
            burst.push(p);
        }
    }
    assert_eq!(a.tx_burst(1, &mut burst), 48);
    assert_eq!((a.queued(), b.stats().ipackets), (48, 0));
    a.handle().set_dequeue_stall(false);
    a.poll();
    assert_eq!(a.queued(), 0);
    let mut seen: HashMap<u16, (usize, u32)> = HashMap::new();
    for q in 0..2 {
        let got = rx_queue(&mut b, q);
        assert!(!got.is_empty(), "queue {q}");
        for p in &got {
            let (flow, seq) = flow_and_seq(p);
            assert_eq!(p.meta().rss_hash, flow_hash(&udp_frame(flow, seq)));
            if let Some((q0, prev)) = seen.insert(flow, (q, seq)) {
                assert_eq!(q0, q, "flow {flow} on one queue");
                assert!(seq > prev, "flow {flow} in order");
            }
        }
    }
    assert_eq!(seen.len(), 16);
    assert_eq!(b.stats().ipackets, 48);
    drop((a, b));
    assert_all_back(&pools);
}

/// One worker thread per queue on split ports: worker i owns queue i of both sides and sends `N` frames
/// on a's queue i while receiving on b's queue i. Without rss each receives its own; with rss they receive
/// each other's too. The sums add up and nothing leaks.
#[test]
fn one_worker_per_split_queue_and_the_counts_add_up() {
    const N: u64 = 20_000;
    const Q: usize = 4;
    for rss in [false, true] {
        let config = FethConfig { queues: Q, rss, ring_size: 128, pool_packets: 2048, ..cfg() };
        let (a, b) = pair(&config).unwrap();
        let pools = pools(&a, &b);
        let (ha, hb) = (a.handle(), b.handle());
        let received = AtomicU64::new(0);
        let per_queue: Vec<u64> = std::thread::scope(|s| {
            let workers: Vec<_> = a
                .split_queues()
                .into_iter()
                .zip(b.split_queues())
                .map(|(tx, rx)| {
                    let received = &received;
                    s.spawn(move || worker(tx, rx, N, Q as u64 * N, received))
                })
                .collect();
            workers.into_iter().map(|w| w.join().unwrap()).collect()
        });
        let (sa, sb) = (ha.stats(), hb.stats());
        assert_eq!((sa.opackets, sb.ipackets), (Q as u64 * N, Q as u64 * N), "rss {rss}");
        assert_eq!(sa.total_drops() + sb.total_drops(), 0);
        assert_eq!(per_queue.iter().sum::<u64>(), Q as u64 * N);
        if rss {
            assert!(per_queue.iter().all(|&n| n > 0), "flows spread over every queue: {per_queue:?}");
        } else {
            assert_eq!(per_queue, [N; Q]);
        }
        for (q, &n) in per_queue.iter().enumerate() {
            let c = hb.queue_counters(q).unwrap().snapshot();
            assert_eq!(c.ipackets, n, "rss {rss}: queue {q}'s block counts its own");
        }
        assert_all_back(&pools);
    }
}

/// Sends `n` flows-varied frames on `tx` and receives on `rx` until all workers together received `all`.
/// Returns what this worker received.
fn worker(mut tx: FethQueue, mut rx: FethQueue, n: u64, all: u64, received: &AtomicU64) -> u64 {
    let index = tx.index() as u64;
    let (mut sent, mut mine) = (0u64, 0u64);
    let mut burst = PacketBurst::new();
    let mut got = PacketBurst::new();
    while received.load(Ordering::Relaxed) < all {
        while burst.len() < 32 && sent + (burst.len() as u64) < n {
            let seq = (sent + burst.len() as u64) as u32;
            let Ok(p) = tx.tx_pool().packet_from(&udp_frame((index * 1000) as u16 + (seq % 97) as u16, seq)) else {
                break;
            };
            burst.push(p);
        }
        sent += tx.tx_burst(0, &mut burst) as u64;
        let k = rx.rx_burst(0, &mut got, 64) as u64;
        free_burst(&mut got);
        mine += k;
        received.fetch_add(k, Ordering::Relaxed);
    }
    assert!(burst.is_empty() && sent == n);
    mine
}

/// Packets left in several queues' crossing rings, and in several queues' local tx rings (stall), are
/// all counted `Detached` when the ports go, whichever side goes first.
#[test]
fn teardown_accounts_for_packets_left_in_several_queues() {
    for (rss, receiver_first) in [(false, false), (false, true), (true, false), (true, true)] {
        let config = FethConfig { queues: 4, rss, ..cfg() };
        let (mut a, b) = pair(&config).unwrap();
        let pools = pools(&a, &b);
        let (ha, hb) = (a.handle(), b.handle());
        let mut sent = 0;
        for q in 0..4 {
            let mut burst = PacketBurst::new();
            for seq in 0..10 + q as u32 {
                burst.push(a.tx_pool().packet_from(&udp_frame(seq as u16, seq)).unwrap());
            }
            sent += a.tx_burst(q, &mut burst);
        }
        assert_eq!(sent, 46);
        if receiver_first {
            drop(b);
            drop(a);
        } else {
            drop(a);
            drop(b);
        }
        let (sa, sb) = (ha.stats(), hb.stats());
        assert_eq!((sa.opackets, sb.ipackets), (46, 0));
        assert_eq!(sb.dropped(DropReason::Detached), 46, "rss {rss}, receiver first {receiver_first}");
        assert_all_back(&pools);
    }

    // Stalled output: packets wait in each queue's local tx rings until the destroy.
    let (mut a, b) = pair(&FethConfig { queues: 3, wmm: true, ..cfg() }).unwrap();
    let pools = pools(&a, &b);
    a.handle().set_dequeue_stall(true);
    for q in 0..3 {
        let mut burst = frames(a.tx_pool(), 5, 64, 0);
        assert_eq!(a.tx_burst(q, &mut burst), 5);
    }
    assert_eq!(a.queued(), 15);
    let ha = a.handle();
    let queues = a.split_queues();
    drop(queues);
    assert_eq!(ha.stats().dropped(DropReason::Detached), 15);
    drop(b);
    assert_all_back(&pools);
}

/// MTU, link, up/down and peer changes reach every queue.
#[test]
fn control_changes_reach_every_queue() {
    let config = FethConfig { queues: 3, ..cfg() };
    let (mut a, mut b) = pair(&config).unwrap();
    let ha = a.handle();
    ha.set_mtu(100).unwrap();
    for q in 0..3 {
        let mut burst = frames(a.tx_pool(), 1, 200, 0);
        assert_eq!(a.tx_burst(q, &mut burst), 1);
    }
    assert_eq!(a.stats().dropped(DropReason::MtuExceeded), 3);
    ha.clear_peer();
    for q in 0..3 {
        let mut burst = frames(a.tx_pool(), 1, 64, 0);
        assert_eq!(a.tx_burst(q, &mut burst), 1);
    }
    assert_eq!(a.stats().dropped(DropReason::NoPeer), 3);
    assert_eq!(a.link(), pktloop_engine::port::LinkState::Down);
    ha.set_peer_handle(&b.handle()).unwrap();
    ha.set_up(false);
    let mut burst = frames(a.tx_pool(), 1, 64, 7);
    assert_eq!(a.tx_burst(2, &mut burst), 0, "down: takes nothing");
    ha.set_up(true);
    assert_eq!(a.tx_burst(2, &mut burst), 1);
    assert_eq!(rx_queue(&mut b, 2).iter().map(id_of).collect::<Vec<_>>(), [7]);
}

#[test]
fn queues_knob_is_range_checked() {
    for bad in [0, 9] {
        let e = create(&FethConfig { queues: bad, ..cfg() }).unwrap_err();
        assert_eq!(e.to_string(), format!("invalid queues {bad}: valid is 1..=8"));
        assert_eq!(e.errno(), libc::EINVAL);
    }
    let one = create(&cfg()).unwrap();
    assert_eq!((one.rx_queues(), one.tx_queues(), one.split_queues().len()), (1, 1, 1));
}
