//! feth pair basics: identity, crossing in every pool mode, conservation, pools all back.

mod common;

use common::*;
use pktloop_engine::pool::PoolMode;
use pktloop_engine::port::{DropReason, LinkState};
use pktloop_engine::{PacketBurst, Port};
use pktloop_pmd::feth::{pair, FethConfig};

#[test]
fn pair_is_two_peered_feth_interfaces_that_are_up() {
    let (a, b) = pair(&cfg()).unwrap();
    assert!(a.name().starts_with("feth") && b.name().starts_with("feth"));
    assert_ne!(a.unit(), b.unit());
    assert_eq!(a.mac(), [0x66, 0x65, 0x74, 0x68, (a.unit() >> 8) as u8, a.unit() as u8]);
    assert_eq!((a.mtu(), b.mtu()), (1500, 1500));
    assert_eq!((a.link(), b.link()), (LinkState::Up, LinkState::Up));
    assert_eq!(a.handle().peer().as_deref(), Some(b.name()));
    assert_eq!(b.handle().peer().as_deref(), Some(a.name()));
    assert!(a.handle().is_up() && b.handle().is_up());
    assert_eq!((a.rx_queues(), a.tx_queues()), (1, 1));
}

fn cross_both_ways(mode: PoolMode, multibuflet: bool, len: usize) {
    let config = FethConfig { pool_mode: mode, multibuflet, ..cfg() };
    let (mut a, mut b) = pair(&config).unwrap();
    let pools = [a.tx_pool().clone(), a.rx_pool().clone(), b.tx_pool().clone(), b.rx_pool().clone()];
    for round in 0..5u64 {
        let mut burst = frames(a.tx_pool(), 32, len, round * 100);
        assert_eq!(a.tx_burst(0, &mut burst), 32);
        assert!(burst.is_empty());
        let mut got = rx_all(&mut b);
        assert_eq!(got.len(), 32);
        for (k, p) in got.iter().enumerate() {
            assert_eq!(p.to_vec(), frame_bytes(round * 100 + k as u64, len), "{mode:?} frame {k}");
        }
        // Send them back the other way (forwarding what was received).
        assert_eq!(b.tx_burst(0, &mut got), 32);
        let back = rx_all(&mut a);
        assert_eq!(back.len(), 32);
        for (k, p) in back.iter().enumerate() {
            assert_eq!(p.to_vec(), frame_bytes(round * 100 + k as u64, len));
        }
    }
    let (sa, sb) = (a.stats(), b.stats());
    assert_eq!((sa.opackets, sb.ipackets, sb.opackets, sa.ipackets), (160, 160, 160, 160));
    assert_eq!((sa.obytes, sb.ibytes), (160 * len as u64, 160 * len as u64));
    assert_eq!(drops(&a) + drops(&b), 0);
    drop((a, b));
    for p in &pools {
        assert_eq!(p.in_use(), 0, "{mode:?} pool {} has buffers out", p.name());
    }
}

#[test]
fn global_mode_crosses_byte_exact() {
    cross_both_ways(PoolMode::Global, false, 64);
    cross_both_ways(PoolMode::Global, false, 1514);
}

#[test]
fn private_mode_crosses_byte_exact() {
    cross_both_ways(PoolMode::Private, false, 64);
    cross_both_ways(PoolMode::Private, false, 1514);
}

#[test]
fn split_mode_crosses_byte_exact() {
    cross_both_ways(PoolMode::PrivateSplit, false, 64);
    cross_both_ways(PoolMode::PrivateSplit, false, 1514);
}

#[test]
fn multibuflet_crosses_byte_exact() {
    cross_both_ways(PoolMode::Global, true, 1514);
    cross_both_ways(PoolMode::Private, true, 1514);
}

#[test]
fn mtu_exceeded_is_dropped_and_counted() {
    let (mut a, mut b) = pair(&cfg()).unwrap();
    let mut burst = frames(a.tx_pool(), 2, 1518, 0);
    burst.extend(frames(a.tx_pool(), 1, 1519, 2));
    assert_eq!(a.tx_burst(0, &mut burst), 3);
    assert_eq!(rx_all(&mut b).len(), 2);
    assert_eq!(dropped(&a, DropReason::MtuExceeded), 1);
    a.handle().set_mtu(1400).unwrap();
    let mut burst = frames(a.tx_pool(), 1, 1418, 3);
    burst.extend(frames(a.tx_pool(), 1, 1419, 4));
    assert_eq!(a.tx_burst(0, &mut burst), 2);
    assert_eq!(rx_all(&mut b).len(), 1);
    assert_eq!(dropped(&a, DropReason::MtuExceeded), 2);
    let mut empty = PacketBurst::new();
    assert_eq!(a.tx_burst(0, &mut empty), 0);
}

#[test]
fn tx_headroom_is_the_headroom_of_new_tx_packets_and_survives_crossing() {
    for mode in [PoolMode::Global, PoolMode::Private, PoolMode::PrivateSplit] {
        for headroom in [0u32, 8, 24, 32] {
            let (mut a, mut b) = pair(&FethConfig { pool_mode: mode, tx_headroom: headroom, ..cfg() }).unwrap();
            let p = a.tx_pool().alloc().unwrap();
            assert_eq!(p.headroom(), headroom as usize, "{mode:?}");
            drop(p);
            let mut burst = frames(a.tx_pool(), 2, 64, 0);
            assert_eq!(a.tx_burst(0, &mut burst), 2);
            for p in rx_all(&mut b).iter() {
                assert_eq!(p.headroom(), headroom as usize, "{mode:?}: the receiver sees the same headroom");
            }
        }
    }
}

#[test]
fn buflet_size_and_max_mtu_shape_multi_buflet_jumbo_frames() {
    for mode in [PoolMode::Global, PoolMode::Private] {
        let config = FethConfig { pool_mode: mode, multibuflet: true, buflet_size: 1024, max_mtu: 9000, ..cfg() };
        let (mut a, mut b) = pair(&config).unwrap();
        assert_eq!((a.tx_pool().buf_size(), a.tx_pool().max_buflets()), (1024, 9), "ceil(9000 / 1024) buflets");
        let mut burst = frames(a.tx_pool(), 2, 3000, 0);
        assert_eq!(burst[0].buflet_count(), 3, "992 + 1024 + 984 bytes after 32 of headroom");
        // 3000 bytes exceed MTU 1500 until the MTU is raised.
        assert_eq!(a.tx_burst(0, &mut burst), 2);
        assert_eq!(dropped(&a, DropReason::MtuExceeded), 2);
        a.handle().set_mtu(9000).unwrap();
        let mut burst = frames(a.tx_pool(), 2, 9018, 10);
        assert_eq!(a.tx_burst(0, &mut burst), 2);
        let got = rx_all(&mut b);
        assert_eq!(got.len(), 2);
        for (k, p) in got.iter().enumerate() {
            assert_eq!(p.buflet_count(), 9, "{mode:?}");
            assert_eq!(p.to_vec(), frame_bytes(10 + k as u64, 9018));
        }
    }
}
