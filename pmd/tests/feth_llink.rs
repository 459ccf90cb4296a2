//! feth's logical links, queue sets and offloads (reference section 6: `llink_cnt`, `qset_cnt`,
//! `low_latency`, `lro`, `tso_support`, `tso_buf_size`): the queue pairs the links make and where each
//! crosses, the low-latency set, peers whose links differ, TSO frames crossing whole, and every knob's
//! range.

mod common;

use common::*;
use pktloop_engine::packet::free_burst;
use pktloop_engine::pool::PoolMode;
use pktloop_engine::port::DropReason;
use pktloop_engine::{PacketBurst, Port};
use pktloop_pmd::feth::{create, pair, Feth, FethConfig, Offloads, Qset};

/// Everything waiting on queue `q` of `port`.
fn rx_queue(port: &mut Feth, q: usize) -> PacketBurst {
    let mut b = PacketBurst::new();
    for _ in 0..4 {
        while b.len() < 512 && port.rx_burst(q, &mut b, 32) != 0 {}
    }
    b
}

fn qset(llink: u32, qset: u32, low_latency: bool) -> Qset {
    Qset { llink, qset, default: qset == 0, low_latency }
}

#[test]
fn links_make_their_queue_sets_and_each_crosses_to_the_same_set_of_the_peer() {
    for wmm in [false, true] {
        let config = FethConfig { llink_cnt: 3, qset_cnt: 2, low_latency: true, wmm, ..cfg() };
        let (mut a, mut b) = pair(&config).unwrap();
        let pools = [a.tx_pool().clone(), b.tx_pool().clone()];
        assert_eq!((a.queues(), a.rx_queues(), a.tx_queues(), a.handle().queues()), (6, 6, 6, 6));
        // Apple's layout: every link's first set is its default; the low-latency set is the second of every
        // link but the default one.
        let want = [
            qset(0, 0, false),
            qset(0, 1, false),
            qset(1, 0, false),
            qset(1, 1, true),
            qset(2, 0, false),
            qset(2, 1, true),
        ];
        assert_eq!(a.qsets(), want);
        assert_eq!(a.handle().qset(3), Some(want[3]));
        assert_eq!(a.handle().qset(6), None, "past the last queue");
        for q in 0..6 {
            let mut burst = frames(a.tx_pool(), 1 + q, 64, 100 * q as u64);
            assert_eq!(a.tx_burst(q, &mut burst), 1 + q);
        }
        for (q, set) in want.iter().enumerate() {
            let ids: Vec<u64> = rx_queue(&mut b, q).iter().map(id_of).collect();
            assert_eq!(ids, (0..1 + q as u64).map(|k| 100 * q as u64 + k).collect::<Vec<_>>(), "set {set:?}");
        }
        let queues = b.split_queues();
        let sets: Vec<_> = queues.iter().map(|q| q.qset()).collect();
        assert_eq!(sets, want.map(Some), "each split queue knows its set");
        assert_eq!(a.stats().total_drops(), 0);
        drop((a, queues));
        for p in pools {
            assert_eq!(p.in_use(), 0, "every buffer back in {p:?}");
        }
    }
}

#[test]
fn without_low_latency_or_links_no_set_is_low_latency_and_queues_are_plain() {
    let a = create(&FethConfig { llink_cnt: 2, qset_cnt: 3, ..cfg() }).unwrap();
    assert!(a.qsets().iter().all(|s| !s.low_latency));
    assert_eq!(a.qsets().iter().filter(|s| s.default).count(), 2, "one default set per link");
    let plain = create(&FethConfig { queues: 4, ..cfg() }).unwrap();
    assert!(plain.qsets().is_empty() && plain.handle().qset(0).is_none());
    let one = create(&FethConfig { llink_cnt: 1, qset_cnt: 1, low_latency: true, ..cfg() }).unwrap();
    assert_eq!(one.qsets(), [qset(0, 0, false)], "the default link has no low-latency set");
}

#[test]
fn peers_with_different_links_are_refused() {
    let a = create(&FethConfig { llink_cnt: 2, qset_cnt: 4, ..cfg() }).unwrap();
    let b = create(&FethConfig { llink_cnt: 2, qset_cnt: 2, ..cfg() }).unwrap();
    let c = create(&cfg()).unwrap();
    let e = a.handle().set_peer_handle(&b.handle()).unwrap_err();
    assert_eq!(e.errno(), libc::EINVAL);
    let (na, nb) = (format!("feth{}", a.unit()), format!("feth{}", b.unit()));
    assert_eq!(e.to_string(), format!("logical links differ: {na} has 2 x 4, {nb} has 2 x 2 (llink-cnt x qset-cnt)"));
    let e = c.handle().set_peer_handle(&a.handle()).unwrap_err();
    assert!(e.to_string().contains("has 0 x 0"), "{e}");
    assert!(a.handle().peer().is_none() && c.handle().peer().is_none(), "nothing peered");
}

#[test]
fn link_and_offload_knobs_are_range_checked_by_name() {
    let cases = [
        (FethConfig { llink_cnt: 17, ..cfg() }, "invalid llink-cnt 17: valid is 0 (off)..=16"),
        (FethConfig { qset_cnt: 0, ..cfg() }, "invalid qset-cnt 0: valid is 1..=16"),
        (FethConfig { qset_cnt: 17, ..cfg() }, "invalid qset-cnt 17: valid is 1..=16"),
        (
            FethConfig { llink_cnt: 2, queues: 4, ..cfg() },
            "invalid queues 4: valid is 1 when llink-cnt is set (the links make the queues)",
        ),
        (
            FethConfig { llink_cnt: 2, rss: true, ..cfg() },
            "invalid rss 1: valid is off when llink-cnt is set (tx queue (link, set) crosses to rx queue (link, set))",
        ),
        (
            FethConfig { tso_buf_size: 1000, ..cfg() },
            "invalid tso-buf-size 1000: valid is a power of two in 512..=32768",
        ),
        (FethConfig { tso_buf_size: 256, ..cfg() }, "invalid tso-buf-size 256: valid is a power of two in 512..=32768"),
        (
            FethConfig { tso_buf_size: 65536, ..cfg() },
            "invalid tso-buf-size 65536: valid is a power of two in 512..=32768",
        ),
        (
            FethConfig { tso: true, pool_mode: PoolMode::Private, ..cfg() },
            "invalid tso 1: valid is off unless pool-mode is global",
        ),
        (
            FethConfig { tso: true, pool_mode: PoolMode::PrivateSplit, ..cfg() },
            "invalid tso 1: valid is off unless pool-mode is global",
        ),
    ];
    for (c, want) in cases {
        let e = create(&c).unwrap_err();
        assert_eq!(e.to_string(), want);
        assert_eq!(e.errno(), libc::EINVAL);
    }
    let d = FethConfig::default();
    assert_eq!((d.llink_cnt, d.qset_cnt, d.tso_buf_size), (0, 4, 16384), "Apple's defaults");
    assert!(!d.lro && !d.tso && !d.low_latency);
    for ok in [
        FethConfig { llink_cnt: 16, qset_cnt: 16, ..cfg() },
        FethConfig { tso: true, tso_buf_size: 512, ..cfg() },
        FethConfig { tso: true, tso_buf_size: 32768, ..cfg() },
        // TSO's buffer size need not stay below max-mtu, as buflet-size must.
        FethConfig { tso: true, tso_buf_size: 1024, max_mtu: 1500, ..cfg() },
    ] {
        let port = create(&ok).unwrap_or_else(|e| panic!("{ok:?}: {e}"));
        assert_eq!(port.queues(), ok.queue_pairs());
    }
}

#[test]
fn offloads_are_advertised_as_the_knobs_say() {
    let plain = create(&cfg()).unwrap();
    let none = Offloads { checksum: false, lro: false, tso_mtu: None, vlan_mtu: true };
    assert_eq!(plain.handle().offloads(), none);
    let all = create(&FethConfig { hwcsum: true, lro: true, tso: true, tso_buf_size: 8192, ..cfg() }).unwrap();
    assert_eq!(all.handle().offloads(), Offloads { checksum: true, lro: true, tso_mtu: Some(8192), vlan_mtu: true });
    assert_eq!(all.tx_pool().buf_size(), 8192, "TSO's buffer size is the buflet size (one max(max-mtu, it) buffer)");
    let multi = create(&FethConfig { tso: true, multibuflet: true, tso_buf_size: 1024, ..cfg() }).unwrap();
    assert_eq!(multi.tx_pool().buf_size(), 1024, "multi-buflet: TSO-sized buflets");
}

/// A 9000-byte frame on an interface at MTU 1500: with TSO it crosses whole, byte for byte (Apple passes a
/// TSO packet to its peer unsegmented); without, it is dropped as longer than the MTU.
#[test]
fn tso_frames_up_to_its_mtu_cross_whole_and_others_stay_bound_by_the_mtu() {
    for tso in [true, false] {
        let config = FethConfig { tso, max_mtu: 9216, buflet_size: 1024, ..cfg() };
        let (mut a, mut b) = pair(&config).unwrap();
        let pool = a.tx_pool().clone();
        let mut burst = frames(&pool, 2, 9000, 7);
        assert_eq!(a.tx_burst(0, &mut burst), 2);
        let mut got = rx_all(&mut b);
        if tso {
            assert_eq!(got.iter().map(id_of).collect::<Vec<_>>(), [7, 8]);
            assert!(got.iter().all(|p| p.len() == 9000 && p.to_vec() == frame_bytes(id_of(p), 9000)));
            assert_eq!(drops(&a), 0);
        } else {
            assert!(got.is_empty());
            assert_eq!(dropped(&a, DropReason::MtuExceeded), 2);
        }
        free_burst(&mut got);
        drop((a, b));
        assert_eq!(pool.in_use(), 0);
    }
}
