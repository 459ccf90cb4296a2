//! feth data-path behaviours: WMM, FCS, trailer, hwcsum, drop injection, expiry, completions, advisories,
//! dequeue stall, full rx ring, no peer, nomem.

mod common;

use common::*;
use pktloop_engine::packet::{Expiry, ExpiryAction, PacketFlags, ServiceClass};
use pktloop_engine::pool::PoolMode;
use pktloop_engine::port::{DropReason, EventKind, ExpiryStatus, TxStatus};
use pktloop_engine::{PacketBurst, Port};
use pktloop_pmd::feth::config::TRAILER;
use pktloop_pmd::feth::{pair, Completion, FethConfig, RxFullPolicy, TxCompletion};
use std::time::{Duration, Instant};

const MODES: [PoolMode; 3] = [PoolMode::Global, PoolMode::Private, PoolMode::PrivateSplit];

#[test]
fn wmm_drains_vo_first_into_the_single_rx_ring() {
    let (mut a, mut b) = pair(&FethConfig { wmm: true, ..cfg() }).unwrap();
    assert_eq!((a.tx_queues(), a.rx_queues()), (4, 1));
    let classes = [
        ServiceClass::Bk,
        ServiceClass::Be,
        ServiceClass::Vi,
        ServiceClass::Vo,
        ServiceClass::BkSys,
        ServiceClass::Rd,
        ServiceClass::Av,
        ServiceClass::Ctl,
        ServiceClass::Oam,
        ServiceClass::Rv,
    ];
    let mut burst = frames(a.tx_pool(), classes.len(), 64, 0);
    for (p, &c) in burst.iter_mut().zip(&classes) {
        p.meta_mut().service_class = c;
    }
    assert_eq!(a.tx_burst(0, &mut burst), classes.len());
    let got = rx_all(&mut b);
    let order: Vec<u64> = got.iter().map(id_of).collect();
    // VO ring (Vo, Ctl), VI (Vi, Av, Rv), BE (Be, Rd, Oam), BK (Bk, BkSys); arrival order within a ring.
    assert_eq!(order, [3, 7, 2, 6, 9, 1, 5, 8, 0, 4]);
    for p in &got {
        assert_eq!(p.to_vec(), frame_bytes(id_of(p), 64));
    }
    // Any tx queue index is accepted in WMM mode; beyond 4 nothing is taken.
    let mut burst = frames(a.tx_pool(), 1, 64, 20);
    assert_eq!(a.tx_burst(4, &mut burst), 0);
    assert_eq!(a.tx_burst(3, &mut burst), 1);
    assert_eq!(rx_all(&mut b).len(), 1);
}

#[test]
fn wmm_backlog_waits_on_the_sender_when_the_peer_ring_is_full() {
    let (mut a, mut b) = pair(&FethConfig { wmm: true, ring_size: 8, ..cfg() }).unwrap();
    let mut burst = frames(a.tx_pool(), 12, 64, 0);
    for p in burst.iter_mut().take(6) {
        p.meta_mut().service_class = ServiceClass::Bk;
    }
    for p in burst.iter_mut().skip(6) {
        p.meta_mut().service_class = ServiceClass::Vo;
    }
    // Each local ring holds 8: all 12 are taken, 8 cross (VO first), 4 BK wait.
    assert_eq!(a.tx_burst(0, &mut burst), 12);
    assert_eq!(a.queued(), 4);
    let got = rx_all(&mut b);
    assert_eq!(got.iter().map(id_of).collect::<Vec<_>>(), [6, 7, 8, 9, 10, 11, 0, 1]);
    a.poll();
    assert_eq!(a.queued(), 0);
    assert_eq!(rx_all(&mut b).iter().map(id_of).collect::<Vec<_>>(), [2, 3, 4, 5]);
    assert_eq!(drops(&a), 0);
}

fn fcs_of(data: &[u8]) -> [u8; 4] {
    crc32fast::hash(data).to_le_bytes()
}

#[test]
fn fcs_and_trailer_are_appended_on_the_receivers_packet() {
    for mode in MODES {
        for trailer in [0usize, 5, 28] {
            let config = FethConfig { pool_mode: mode, fcs: true, trailer_length: trailer as u32, ..cfg() };
            let (mut a, mut b) = pair(&config).unwrap();
            let mut burst = frames(a.tx_pool(), 8, 100, 0);
            assert_eq!(a.tx_burst(0, &mut burst), 8);
            let got = rx_all(&mut b);
            assert_eq!(got.len(), 8);
            for p in &got {
                let v = p.to_vec();
                assert_eq!(v.len(), 100 + trailer + 4, "{mode:?}");
                let (body, fcs) = v.split_at(100 + trailer);
                assert_eq!(&body[..100], frame_bytes(id_of(p), 100));
                assert_eq!(&body[100..], &TRAILER[..trailer]);
                assert_eq!(fcs, fcs_of(body), "{mode:?}: FCS is the CRC-32 of data and trailer");
                assert!(p.meta().flags.contains(PacketFlags::FCS), "flagged when appended");
                assert_eq!(p.meta().flags.contains(PacketFlags::TRAILER), trailer > 0, "flagged when appended");
                assert_eq!(p.meta().link_header_len, 14);
            }
            assert_eq!(b.stats().ibytes, 8 * (100 + trailer as u64 + 4));
            assert_eq!(a.stats().obytes, 800, "the sender counts what it sent");
            assert_eq!(a.handle().feth_stats().fcs_appended, 8);
        }
    }
}

#[test]
fn fcs_over_a_multi_buflet_chain() {
    for mode in [PoolMode::Global, PoolMode::Private] {
        let config = FethConfig { pool_mode: mode, multibuflet: true, fcs: true, trailer_length: 3, ..cfg() };
        let (mut a, mut b) = pair(&config).unwrap();
        let mut burst = frames(a.tx_pool(), 4, 1500, 0);
        assert!(burst[0].buflet_count() > 1);
        assert_eq!(a.tx_burst(0, &mut burst), 4);
        for p in rx_all(&mut b).iter() {
            let v = p.to_vec();
            assert_eq!(v.len(), 1507);
            assert_eq!(&v[..1500], frame_bytes(id_of(p), 1500));
            assert_eq!(&v[1500..1503], b"tra");
            assert_eq!(v[1503..], fcs_of(&v[..1503]));
            assert!(p.meta().flags.contains(PacketFlags::FCS));
        }
    }
}

#[test]
fn an_fcs_that_does_not_fit_is_counted_not_flagged() {
    // 2048-byte buffers with 32 bytes of headroom hold 2016 bytes: a 2014-byte frame has no room for 4.
    let config = FethConfig { fcs: true, max_mtu: 2048, ..cfg() };
    let (mut a, mut b) = pair(&config).unwrap();
    a.handle().set_mtu(2000).unwrap();
    let mut burst = frames(a.tx_pool(), 2, 2014, 0);
    assert_eq!(a.tx_burst(0, &mut burst), 2);
    let got = rx_all(&mut b);
    assert_eq!(got.len(), 2, "sent without the FCS");
    assert_eq!(got[0].len(), 2014);
    assert!(!got[0].meta().flags.contains(PacketFlags::FCS));
    let s = a.handle().feth_stats();
    assert_eq!((s.fcs_failed, s.fcs_appended), (2, 0));
}

#[test]
fn a_trailer_that_does_not_fit_is_counted_not_flagged() {
    // 2016 bytes of room: a 2010-byte frame takes a 6-byte trailer, not an 8-byte one.
    for (len, fits) in [(2008usize, true), (2010, false)] {
        let config = FethConfig { trailer_length: 8, max_mtu: 2048, ..cfg() };
        let (mut a, mut b) = pair(&config).unwrap();
        a.handle().set_mtu(2000).unwrap();
        let mut burst = frames(a.tx_pool(), 2, len, 0);
        assert_eq!(a.tx_burst(0, &mut burst), 2);
        let got = rx_all(&mut b);
        assert_eq!(got.len(), 2, "sent, with or without the trailer");
        assert_eq!(got[0].len(), if fits { len + 8 } else { len });
        assert_eq!(got[0].meta().flags.contains(PacketFlags::TRAILER), fits);
        assert_eq!(a.handle().feth_stats().trailer_failed, if fits { 0 } else { 2 });
    }
}

#[test]
fn hwcsum_marks_checksums_verified() {
    for mode in MODES {
        let (mut a, mut b) = pair(&FethConfig { pool_mode: mode, hwcsum: true, ..cfg() }).unwrap();
        let mut burst = frames(a.tx_pool(), 3, 64, 0);
        a.tx_burst(0, &mut burst);
        for p in rx_all(&mut b).iter() {
            assert!(p.meta().flags.contains(PacketFlags::HWCSUM), "{mode:?}");
        }
        let (mut c, mut d) = pair(&FethConfig { pool_mode: mode, ..cfg() }).unwrap();
        let mut burst = frames(c.tx_pool(), 3, 64, 0);
        c.tx_burst(0, &mut burst);
        for p in rx_all(&mut d).iter() {
            assert!(!p.meta().flags.intersects(PacketFlags::HWCSUM));
        }
    }
}

#[test]
fn drop_injection_drops_every_nth_and_any_drop_restarts_the_count() {
    for mode in MODES {
        let (mut a, mut b) = pair(&FethConfig { pool_mode: mode, tx_drops: 3, ..cfg() }).unwrap();
        let mut burst = frames(a.tx_pool(), 30, 64, 0);
        assert_eq!(a.tx_burst(0, &mut burst), 30);
        let got: Vec<u64> = rx_all(&mut b).iter().map(id_of).collect();
        assert_eq!(got.len(), 20);
        assert!(got.iter().all(|id| id % 3 != 2), "{mode:?}: packets 2, 5, 8, ... dropped: {got:?}");
        assert_eq!(dropped(&a, DropReason::TxDropInjection), 10);
        // An MTU drop in the middle restarts the count: ids 0 ok, 1 mtu drop, 2 ok, 3 ok, 4 injected.
        let mut burst = frames(a.tx_pool(), 1, 64, 100);
        burst.extend(frames(a.tx_pool(), 1, 1600, 101));
        burst.extend(frames(a.tx_pool(), 3, 64, 102));
        assert_eq!(a.tx_burst(0, &mut burst), 5);
        let got: Vec<u64> = rx_all(&mut b).iter().map(id_of).collect();
        assert_eq!(got, [100, 102, 103]);
        assert_eq!(dropped(&a, DropReason::TxDropInjection), 11);
        assert_eq!(dropped(&a, DropReason::MtuExceeded), 1);
    }
}

#[test]
fn drop_injection_changes_under_traffic_as_apples_sysctl_does() {
    for mode in MODES {
        let (mut a, mut b) = pair(&FethConfig { pool_mode: mode, ..cfg() }).unwrap();
        let handle = a.handle().clone();
        let mut sent_and_received = |first: u64| {
            let mut burst = frames(a.tx_pool(), 10, 64, first);
            assert_eq!(a.tx_burst(0, &mut burst), 10);
            rx_all(&mut b).iter().map(id_of).collect::<Vec<u64>>()
        };
        assert_eq!(sent_and_received(0).len(), 10, "{mode:?}: off at creation");
        handle.set_tx_drops(2).unwrap();
        assert_eq!(sent_and_received(10), [10, 12, 14, 16, 18], "{mode:?}: every second frame from the next burst");
        handle.set_tx_drops(0).unwrap();
        assert_eq!(sent_and_received(20).len(), 10, "{mode:?}: off again");
        assert_eq!(dropped(&a, DropReason::TxDropInjection), 5);
        let e = a.handle().set_tx_drops(1 << 31).unwrap_err();
        assert_eq!(e.to_string(), "invalid tx-drops 2147483648: valid is 0 (off)..=2147483647");
    }
}

fn with_expiry(burst: &mut PacketBurst, deadlines: &[(u64, ExpiryAction)]) {
    for (p, &(deadline_ns, action)) in burst.iter_mut().zip(deadlines) {
        p.meta_mut().expiry = Some(Expiry { deadline_ns, action });
    }
}

#[test]
fn expiry_policies_drop_and_notify() {
    use ExpiryAction::{Drop as D, Notify as N};
    let past = 1;
    let future = u64::MAX;
    let deadlines = [(past, D), (future, D), (past, N), (future, N)];
    // (policy, delivered ids, notifications as (id, status))
    type Case = (u32, &'static [u64], &'static [(u64, ExpiryStatus)]);
    let cases: [Case; 4] = [
        (0, &[0, 1, 2, 3], &[]),
        (1, &[1, 3], &[(0, ExpiryStatus::ExpiredDropped), (2, ExpiryStatus::ExpiredDropped)]),
        (2, &[0, 1, 2, 3], &[(0, ExpiryStatus::ExpiredNotDropped), (2, ExpiryStatus::ExpiredNotDropped)]),
        (3, &[1, 2, 3], &[(0, ExpiryStatus::ExpiredDropped), (2, ExpiryStatus::ExpiredNotDropped)]),
    ];
    for mode in MODES {
        for (policy, delivered, notes) in cases {
            let (mut a, mut b) = pair(&FethConfig { pool_mode: mode, tx_exp_policy: policy, ..cfg() }).unwrap();
            let sub = a.events().subscribe();
            let mut burst = frames(a.tx_pool(), 4, 64, 0);
            with_expiry(&mut burst, &deadlines);
            let before = pktloop_engine::time::now_ns();
            assert_eq!(a.tx_burst(0, &mut burst), 4);
            let got: Vec<u64> = rx_all(&mut b).iter().map(id_of).collect();
            assert_eq!(got, delivered, "{mode:?} policy {policy}");
            let events: Vec<_> = sub.drain();
            let seen: Vec<(u64, ExpiryStatus)> = events
                .iter()
                .map(|e| match e.kind {
                    EventKind::Expired { packet_id, status, timestamp_ns, deadline_ns } => {
                        assert_eq!(deadline_ns, past);
                        assert!(timestamp_ns >= before);
                        assert_eq!(e.port, a.unit());
                        (packet_id, status)
                    }
                    other => panic!("unexpected event {other:?}"),
                })
                .collect();
            assert_eq!(seen, notes, "{mode:?} policy {policy}");
            assert_eq!(dropped(&a, DropReason::Expired), 4 - delivered.len() as u64);
        }
    }
}

#[test]
fn sync_completions_report_drops_and_copies() {
    for mode in MODES {
        let (mut a, mut b) = pair(&FethConfig { pool_mode: mode, tx_drops: 2, ..cfg() }).unwrap();
        let mut burst = frames(a.tx_pool(), 4, 64, 0);
        assert_eq!(a.tx_burst(0, &mut burst), 4);
        let got: Vec<Completion> = a.take_completions().collect();
        let failed: Vec<u64> = got.iter().filter(|c| c.status == TxStatus::RetryFailed).map(|c| c.packet_id).collect();
        let ok: Vec<u64> = got.iter().filter(|c| c.status == TxStatus::Success).map(|c| c.packet_id).collect();
        assert_eq!(failed, [1, 3], "{mode:?}");
        if mode == PoolMode::Global {
            assert!(ok.is_empty(), "a zero-copy move completes nothing");
        } else {
            assert_eq!(ok, [0, 2], "{mode:?}: copied packets complete with success");
        }
        assert_eq!(a.take_completions().count(), 0, "drained");
        assert_eq!(rx_all(&mut b).len(), 2);
    }
}

#[test]
fn async_completions_are_tx_status_events() {
    for mode in MODES {
        let config = FethConfig { pool_mode: mode, tx_drops: 2, tx_completion: TxCompletion::Async, ..cfg() };
        let (mut a, mut b) = pair(&config).unwrap();
        let sub = a.events().subscribe();
        let mut burst = frames(a.tx_pool(), 4, 64, 0);
        assert_eq!(a.tx_burst(0, &mut burst), 4);
        assert_eq!(a.take_completions().count(), 0);
        let events: Vec<(u64, TxStatus)> = sub
            .drain()
            .into_iter()
            .map(|e| match e.kind {
                EventKind::TxStatus { packet_id, status } => (packet_id, status),
                other => panic!("unexpected event {other:?}"),
            })
            .collect();
        let expect: &[(u64, TxStatus)] = if mode == PoolMode::Global {
            &[(1, TxStatus::RetryFailed), (3, TxStatus::RetryFailed)]
        } else {
            &[(0, TxStatus::Success), (1, TxStatus::RetryFailed), (2, TxStatus::Success), (3, TxStatus::RetryFailed)]
        };
        assert_eq!(events, expect, "{mode:?}");
        assert_eq!(rx_all(&mut b).len(), 2);
    }
}

#[test]
fn sync_completion_queue_overflow_is_counted() {
    let (mut a, _b) = pair(&FethConfig { tx_drops: 1, ..cfg() }).unwrap();
    let n = pktloop_pmd::feth::port::COMPLETION_QUEUE + 100;
    let mut sent = 0;
    while sent < n {
        let mut burst = frames(a.tx_pool(), 100.min(n - sent), 64, sent as u64);
        sent += a.tx_burst(0, &mut burst);
    }
    assert_eq!(dropped(&a, DropReason::TxDropInjection), n as u64);
    assert_eq!(a.handle().feth_stats().completions_lost, 100);
    assert_eq!(a.take_completions().count(), pktloop_pmd::feth::port::COMPLETION_QUEUE);
}

fn advisories(sub: &pktloop_engine::port::Subscriber) -> Vec<pktloop_engine::port::Advisory> {
    sub.drain()
        .into_iter()
        .filter_map(|e| match e.kind {
            EventKind::Advisory(a) => Some(a),
            _ => None,
        })
        .collect()
}

#[test]
fn advisories_come_at_the_interval_while_linked_and_count_bytes() {
    let (mut a, mut b) = pair(&FethConfig { adv_interval_ms: 10, ..cfg() }).unwrap();
    let sub = a.events().subscribe();
    let start = Instant::now();
    let mut sent_bytes = 0u64;
    let mut adv = Vec::new();
    // Poll until 5 advisories came (a loaded machine may take longer than 50 ms), at most 5 s.
    while adv.len() < 5 && start.elapsed() < Duration::from_secs(5) {
        let mut burst = frames(a.tx_pool(), 4, 100, 0);
        sent_bytes += 400;
        a.tx_burst(0, &mut burst);
        rx_all(&mut b);
        adv.extend(advisories(&sub));
        std::thread::sleep(Duration::from_micros(200));
    }
    let elapsed = start.elapsed();
    assert!(adv.len() >= 5, "{} advisories in {elapsed:?}", adv.len());
    assert!(adv.len() as u128 <= elapsed.as_millis() / 10 + 1, "not more often than every 10 ms");
    for w in adv.windows(2) {
        assert!(w[1].timestamp_ns - w[0].timestamp_ns >= 10_000_000, "at least the interval apart");
        assert!(w[1].total_bytes >= w[0].total_bytes);
    }
    let last = adv.last().unwrap();
    assert!(last.total_bytes <= sent_bytes && last.total_bytes % 100 == 0, "bytes, not packets");
    assert!(last.total_bytes >= 400);
    assert_eq!((last.rate_trend, last.queue_len), (0, 0));
    assert!(adv.iter().all(|a| a.version == 2 && a.direction == pktloop_engine::port::AdvisoryDirection::Tx));
    assert_eq!(a.handle().feth_stats().advisories, adv.len() as u64);

    // Unlinked: none.
    a.handle().clear_peer();
    let start = Instant::now();
    while start.elapsed() < Duration::from_millis(40) {
        a.poll();
        std::thread::sleep(Duration::from_micros(200));
    }
    assert!(advisories(&sub).is_empty());
}

#[test]
fn dequeue_stall_holds_output_and_loses_nothing() {
    let (mut a, mut b) = pair(&FethConfig { ring_size: 16, ..cfg() }).unwrap();
    a.handle().set_dequeue_stall(true);
    let mut burst = frames(a.tx_pool(), 20, 64, 0);
    assert_eq!(a.tx_burst(0, &mut burst), 16, "the tx ring takes what it holds");
    assert_eq!(burst.len(), 4);
    assert_eq!(a.queued(), 16);
    assert!(rx_all(&mut b).is_empty());
    a.poll();
    assert!(rx_all(&mut b).is_empty(), "still held");
    a.handle().set_dequeue_stall(false);
    a.poll();
    assert_eq!(a.queued(), 0, "released into the peer's ring");
    let mut got: Vec<u64> = rx_all(&mut b).iter().map(id_of).collect();
    assert_eq!(a.tx_burst(0, &mut burst), 4);
    got.extend(rx_all(&mut b).iter().map(id_of));
    assert_eq!(got, (0..20).collect::<Vec<_>>());
    assert_eq!(drops(&a), 0);
    assert_eq!(a.stats().opackets, 20);
}

#[test]
fn a_port_set_down_holds_its_backlog_until_it_is_up() {
    let (mut a, mut b) = pair(&FethConfig { ring_size: 16, ..cfg() }).unwrap();
    a.handle().set_dequeue_stall(true);
    let mut burst = frames(a.tx_pool(), 8, 64, 0);
    assert_eq!(a.tx_burst(0, &mut burst), 8);
    a.handle().set_up(false);
    a.handle().set_dequeue_stall(false);
    a.poll();
    let mut none = PacketBurst::new();
    assert_eq!(a.rx_burst(0, &mut none, 32), 0);
    assert!(rx_all(&mut b).is_empty(), "down: nothing sent, by a poll or a receive");
    assert_eq!(a.queued(), 8, "held, not lost");
    a.handle().set_up(true);
    a.poll();
    assert_eq!(rx_all(&mut b).iter().map(id_of).collect::<Vec<_>>(), (0..8).collect::<Vec<_>>());
    assert_eq!((a.queued(), drops(&a)), (0, 0));
}

#[test]
fn full_rx_ring_is_back_pressure_by_default() {
    for mode in MODES {
        let (mut a, mut b) = pair(&FethConfig { pool_mode: mode, ring_size: 8, ..cfg() }).unwrap();
        let mut burst = frames(a.tx_pool(), 12, 64, 0);
        assert_eq!(a.tx_burst(0, &mut burst), 8);
        assert_eq!(burst.len(), 4, "{mode:?}: the rest stays with the caller");
        assert_eq!(burst[0].meta().packet_id, 8);
        assert_eq!(rx_all(&mut b).len(), 8);
        assert_eq!(a.tx_burst(0, &mut burst), 4);
        assert_eq!(rx_all(&mut b).len(), 4);
        assert_eq!(drops(&a), 0);
    }
}

#[test]
fn full_rx_ring_drop_policy_counts_rx_ring_full() {
    for mode in MODES {
        let config = FethConfig { pool_mode: mode, ring_size: 8, rx_full: RxFullPolicy::Drop, ..cfg() };
        let (mut a, mut b) = pair(&config).unwrap();
        let mut burst = frames(a.tx_pool(), 12, 64, 0);
        assert_eq!(a.tx_burst(0, &mut burst), 12);
        assert!(burst.is_empty());
        assert_eq!(dropped(&a, DropReason::RxRingFull), 4, "{mode:?}");
        assert_eq!(rx_all(&mut b).len(), 8);
        let failed = a.take_completions().filter(|c| c.status == TxStatus::RetryFailed).count();
        assert_eq!(failed, 4);
    }
}

#[test]
fn no_peer_drops_are_counted() {
    let (mut a, _b) = pair(&cfg()).unwrap();
    a.handle().clear_peer();
    let mut burst = frames(a.tx_pool(), 5, 64, 0);
    assert_eq!(a.tx_burst(0, &mut burst), 5);
    assert_eq!(dropped(&a, DropReason::NoPeer), 5);
    assert_eq!(a.stats().opackets, 0);
}

#[test]
fn receiver_pool_exhaustion_is_nomem_packet_then_nomem_buffer() {
    // b's pool: 16 packets of 4 buflets = 64 buffers; b does not receive, so copies pile up in its ring.
    let config = FethConfig { pool_mode: PoolMode::Private, multibuflet: true, pool_packets: 16, ..cfg() };
    let (mut a, mut b) = pair(&config).unwrap();
    let big = b.rx_pool().capacity();
    assert_eq!(big, 64);
    // 63 one-buflet packets leave one buffer in b's pool...
    let mut sent = 0;
    while sent < 63 {
        let mut burst = frames(a.tx_pool(), (63 - sent).min(16), 64, sent as u64);
        sent += a.tx_burst(0, &mut burst);
    }
    assert_eq!(drops(&a), 0);
    // ...so a 4-buflet packet gets its first buffer but not the rest (and gives it back): nomem buffer.
    let mut burst = frames(a.tx_pool(), 2, 1500, 100);
    assert_eq!(a.tx_burst(0, &mut burst), 2);
    assert_eq!(dropped(&a, DropReason::NoMemBuffer), 2);
    assert_eq!(dropped(&a, DropReason::NoMemPacket), 0);
    // The last buffer carries one more small packet; after that there is none: nomem packet.
    let mut burst = frames(a.tx_pool(), 2, 64, 200);
    assert_eq!(a.tx_burst(0, &mut burst), 2);
    assert_eq!(dropped(&a, DropReason::NoMemPacket), 1);
    assert_eq!(a.stats().opackets, 64);
    assert_eq!(rx_all(&mut b).len(), 64);
}

#[test]
fn packets_dropped_on_the_way_leave_room_for_the_rest() {
    for rx_full in [RxFullPolicy::Retry, RxFullPolicy::Drop] {
        let config = FethConfig { ring_size: 8, tx_drops: 2, rx_full, ..cfg() };
        let (mut a, mut b) = pair(&config).unwrap();
        let mut burst = frames(a.tx_pool(), 12, 64, 0);
        // Every second packet is injected away, so 12 fit an 8-slot ring: 6 cross, 6 are dropped.
        assert_eq!(a.tx_burst(0, &mut burst), 12, "{rx_full:?}");
        assert_eq!(dropped(&a, DropReason::TxDropInjection), 6);
        assert_eq!(dropped(&a, DropReason::RxRingFull), 0);
        assert_eq!(rx_all(&mut b).iter().map(id_of).collect::<Vec<_>>(), [0, 2, 4, 6, 8, 10]);
    }
}
