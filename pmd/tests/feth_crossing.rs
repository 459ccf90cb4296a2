//! Crossing by pool mode: global moves the handle with its metadata, private copies keep the buflet
//! layout, split packs consecutive packets into aggregation buffers.

mod common;

use common::*;
use pktloop_engine::packet::ServiceClass;
use pktloop_engine::pool::PoolMode;
use pktloop_engine::port::DropReason;
use pktloop_engine::{PacketBurst, Port};
use pktloop_pmd::feth::{pair, FethConfig};

fn layout(p: &pktloop_engine::Packet) -> Vec<(usize, usize)> {
    p.buflets().map(|b| (b.offset, b.data.len())).collect()
}

#[test]
fn global_moves_the_same_buffer_with_all_metadata() {
    let (mut a, mut b) = pair(&cfg()).unwrap();
    let mut burst = frames(a.tx_pool(), 1, 200, 42);
    let m = burst[0].meta_mut();
    m.service_class = ServiceClass::Vi;
    m.timestamp_ns = 12345;
    let index = burst[0].index();
    assert_eq!(a.tx_burst(0, &mut burst), 1);
    let got = rx_all(&mut b);
    assert_eq!(got[0].index(), index, "zero copy: the same buffer");
    assert_eq!(got[0].pool_id(), a.tx_pool().id());
    let m = got[0].meta();
    assert_eq!((m.packet_id, m.timestamp_ns, m.service_class), (42, 12345, ServiceClass::Vi));
    assert_eq!(a.handle().feth_stats().copies, 0);
}

/// Apple's tx path marks every packet as starting with a 14-byte Ethernet header, whatever the pool mode:
/// the global pool's zero-copy crossing (fast path, and the general one a knob sends it through) too,
/// for packets whose metadata was never written as for those whose was.
#[test]
fn global_crossing_marks_the_ethernet_header() {
    for config in [cfg(), FethConfig { tx_drops: 1000, ..cfg() }, FethConfig { wmm: true, ..cfg() }] {
        let (mut a, mut b) = pair(&config).unwrap();
        let mut burst = frames(a.tx_pool(), 2, 64, 7);
        burst.push(a.tx_pool().packet_from(&frame_bytes(9, 64)).unwrap());
        assert_eq!(a.tx_burst(0, &mut burst), 3);
        let got = rx_all(&mut b);
        assert_eq!(got.len(), 3);
        for p in &got {
            assert_eq!(p.meta().link_header_len, 14, "tx_drops {} wmm {}", config.tx_drops, config.wmm);
        }
        assert_eq!(got[2].meta().packet_id, 0, "the plain packet's metadata was not otherwise written");
    }
}

#[test]
fn private_copies_keep_layout_headroom_and_service_class() {
    for multibuflet in [false, true] {
        let config = FethConfig { pool_mode: PoolMode::Private, multibuflet, ..cfg() };
        let (mut a, mut b) = pair(&config).unwrap();
        assert_ne!(a.tx_pool().id(), b.rx_pool().id());
        let mut burst = PacketBurst::new();
        let mut layouts = Vec::new();
        for (k, (headroom, len)) in [(24usize, 60usize), (0, 1500), (8, 700), (32, 1514)].into_iter().enumerate() {
            let mut p = a.tx_pool().alloc().unwrap();
            p.set_headroom(headroom).unwrap();
            p.append(&frame_bytes(k as u64, len)).unwrap();
            p.meta_mut().service_class = ServiceClass::ALL[k + 3];
            p.meta_mut().packet_id = 1000 + k as u64;
            layouts.push((layout(&p), headroom));
            burst.push(p);
        }
        if multibuflet {
            assert!(layouts[1].0.len() > 1, "a 1500-byte frame spans buflets");
        }
        assert_eq!(a.tx_burst(0, &mut burst), 4);
        let got = rx_all(&mut b);
        for (k, p) in got.iter().enumerate() {
            assert_eq!(p.pool_id(), b.rx_pool().id(), "copied into the receiver's pool");
            assert_eq!(layout(p), layouts[k].0, "multibuflet {multibuflet} frame {k}: same buflets");
            assert_eq!(p.headroom(), layouts[k].1);
            assert_eq!(p.meta().service_class, ServiceClass::ALL[k + 3]);
            assert_eq!(p.meta().link_header_len, 14);
            assert_eq!(p.meta().packet_id, 0, "only headroom, link header and class are copied");
            assert_eq!(p.to_vec(), frame_bytes(k as u64, p.len()));
        }
        assert_eq!(a.handle().feth_stats().copies, 4);
        let pools = [a.tx_pool().clone(), b.rx_pool().clone()];
        assert_eq!(pools[0].in_use(), 0, "sources went back to the sender's pool");
        drop(got);
        drop((a, b));
        assert!(pools.iter().all(|p| p.in_use() == 0));
    }
}

/// Data addresses of received packets.
fn addrs(burst: &PacketBurst) -> Vec<usize> {
    burst.iter().map(|p| p.data().as_ptr() as usize).collect()
}

#[test]
fn split_packs_consecutive_packets_into_16_byte_aligned_regions() {
    let config = FethConfig { pool_mode: PoolMode::PrivateSplit, ..cfg() };
    let (mut a, mut b) = pair(&config).unwrap();
    assert_eq!(b.rx_pool().buf_size(), 96 * 1024);
    let lens = [64usize, 100, 61, 1514, 77, 64];
    let mut burst = PacketBurst::new();
    for (k, &len) in lens.iter().enumerate() {
        burst.extend(frames(a.tx_pool(), 1, len, k as u64));
    }
    assert_eq!(a.tx_burst(0, &mut burst), lens.len());
    let got = rx_all(&mut b);
    let at = addrs(&got);
    for (k, p) in got.iter().enumerate() {
        assert_eq!(p.to_vec(), frame_bytes(k as u64, lens[k]), "frame {k} byte-exact");
        assert_eq!(p.headroom(), 32);
        assert_eq!(p.buflet_count(), 1);
    }
    for k in 1..lens.len() {
        // Region k starts at the 16-byte boundary after frame k-1's data; its data after 32 of headroom.
        let expect = (at[k - 1] + lens[k - 1]).next_multiple_of(16) + 32;
        assert_eq!(at[k], expect, "frame {k} packed right after frame {}", k - 1);
    }
    assert_eq!(at[0] % 16, 0);
    drop(got);
    let pools = [a.tx_pool().clone(), b.rx_pool().clone()];
    drop((a, b));
    assert!(pools.iter().all(|p| p.in_use() == 0), "aggregation buffers freed with their last packet");
}

/// Frames with no metadata cross split pools a burst at a time as slices (no descriptor); frames with a
/// service class keep it; received slices forwarded on cross again; every buffer comes back.
#[test]
fn split_bursts_cross_as_slices_and_forward_on() {
    let config = FethConfig { pool_mode: PoolMode::PrivateSplit, ..cfg() };
    let (mut a, mut b) = pair(&config).unwrap();
    let mut burst = PacketBurst::new();
    for k in 0..40u64 {
        burst.push(a.tx_pool().packet_from(&frame_bytes(k, 64)).unwrap());
    }
    assert_eq!(a.tx_burst(0, &mut burst), 40);
    assert_eq!(b.rx_pool().in_use(), 2, "at most 32 frames to an aggregation buffer");
    let mut vo = frames(a.tx_pool(), 1, 64, 40);
    vo[0].meta_mut().service_class = ServiceClass::Vo;
    assert_eq!(a.tx_burst(0, &mut vo), 1);
    let got = rx_all(&mut b);
    assert_eq!(got.len(), 41);
    for (k, p) in got.iter().enumerate() {
        assert_eq!(p.to_vec(), frame_bytes(k as u64, 64), "frame {k} byte-exact");
        assert_eq!((p.headroom(), p.meta().link_header_len), (32, 14));
    }
    assert_eq!((got[39].meta().service_class, got[40].meta().service_class), (ServiceClass::Be, ServiceClass::Vo));
    let at = addrs(&got);
    assert_eq!(at[1] - at[0], 96, "packed: 32 of headroom + 64 of frame per region");
    // Forwarded back: the slices are the sources now, and go back to b's pool once copied.
    let mut back = got;
    assert_eq!(b.tx_burst(0, &mut back), 41);
    assert_eq!(b.rx_pool().in_use(), 0, "b's aggregation buffers back with their last slice");
    let returned = rx_all(&mut a);
    assert_eq!(
        returned.iter().map(|p| p.to_vec()).collect::<Vec<_>>(),
        (0..41).map(|k| frame_bytes(k, 64)).collect::<Vec<_>>()
    );
    let pools = [a.tx_pool().clone(), a.rx_pool().clone(), b.tx_pool().clone(), b.rx_pool().clone()];
    drop(returned);
    drop((a, b));
    assert!(pools.iter().all(|p| p.in_use() == 0));
}

#[test]
fn split_regions_are_bounded_by_the_aggregation_factor() {
    // 1 KiB rx buffers: regions of 32 + 300 -> 336 bytes, three fit (1008), the fourth takes a new buffer.
    let config = FethConfig { pool_mode: PoolMode::PrivateSplit, aggregation_factor: 1, ..cfg() };
    let (mut a, mut b) = pair(&config).unwrap();
    let mut burst = frames(a.tx_pool(), 7, 300, 0);
    assert_eq!(a.tx_burst(0, &mut burst), 7);
    let got = rx_all(&mut b);
    let at = addrs(&got);
    assert_eq!(at[1] - at[0], 336);
    assert_eq!(at[2] - at[1], 336);
    let first_buffer = at[0] - 32..at[0] - 32 + 1024;
    assert!(!first_buffer.contains(&at[3]), "the fourth frame does not fit the first buffer");
    assert_eq!(at[4] - at[3], 336);
    for (k, p) in got.iter().enumerate() {
        assert_eq!(p.to_vec(), frame_bytes(k as u64, 300));
    }
    // A frame larger than an aggregation buffer cannot cross: counted, not silent.
    let mut burst = frames(a.tx_pool(), 1, 1500, 9);
    assert_eq!(a.tx_burst(0, &mut burst), 1);
    assert_eq!(dropped(&a, DropReason::NoMemBuffer), 1);
    assert!(rx_all(&mut b).is_empty());
}

#[test]
fn split_without_rx_buffers_is_nomem_packet() {
    let config = FethConfig { pool_mode: PoolMode::PrivateSplit, aggregation_factor: 1, pool_packets: 4, ..cfg() };
    let (mut a, mut b) = pair(&config).unwrap();
    // 4 rx buffers of 1 KiB, and a 900-byte frame fills one: at most 4 packets can be out at once.
    let mut sent = 0;
    for k in 0..3 {
        let mut burst = frames(a.tx_pool(), 1, 900, k);
        sent += a.tx_burst(0, &mut burst);
    }
    assert_eq!(sent, 3);
    let mut burst = frames(a.tx_pool(), 2, 900, 10);
    assert_eq!(a.tx_burst(0, &mut burst), 2);
    assert_eq!(dropped(&a, DropReason::NoMemPacket), 1);
    assert_eq!(rx_all(&mut b).len(), 4);
}

/// A receiver's pool too short for a burst of copies: the copies go one at a time and count no failure
/// while single buffers are there, and each copy that finds none counts one failure and one drop.
#[test]
fn a_short_receiving_pool_counts_one_failure_per_copy_it_cannot_make() {
    let config = FethConfig { pool_mode: PoolMode::Private, ..cfg() };
    let (mut a, mut b) = pair(&config).unwrap();
    let rx_pool = b.rx_pool().clone();
    let mut held = Vec::new();
    while rx_pool.stats().in_use + 10 < config.pool_packets as usize {
        held.push(rx_pool.alloc().unwrap());
    }
    let before = rx_pool.stats().alloc_failures;
    let mut burst = frames(a.tx_pool(), 6, 64, 0);
    assert_eq!(a.tx_burst(0, &mut burst), 6);
    assert_eq!(rx_pool.stats().alloc_failures, before, "six copies, one at a time, none failed");
    let mut burst = frames(a.tx_pool(), 9, 64, 6);
    assert_eq!(a.tx_burst(0, &mut burst), 9);
    assert_eq!(rx_pool.stats().alloc_failures, before + 5, "four more copies, then five without a buffer");
    assert_eq!(a.stats().dropped(DropReason::NoMemPacket), 5);
    assert_eq!(rx_all(&mut b).len(), 10);
    drop(held);
}

/// Frames whose metadata was never written (what `pktloop fwd` and most senders make) cross private mode
/// a burst at a time: the same copies, counters and completions as one at a time, also when the peer's
/// ring takes only part of the burst.
#[test]
fn plain_bursts_cross_private_mode_with_every_packet_accounted_for() {
    use pktloop_engine::port::{EventKind, TxStatus};
    use pktloop_pmd::feth::{Completion, TxCompletion};
    for completion in [TxCompletion::Sync, TxCompletion::Async] {
        let config = FethConfig { pool_mode: PoolMode::Private, ring_size: 8, tx_completion: completion, ..cfg() };
        let (mut a, mut b) = pair(&config).unwrap();
        let sub = a.events().subscribe();
        let mut burst = PacketBurst::new();
        for k in 0..12u64 {
            let mut p = a.tx_pool().alloc().unwrap();
            p.append(&frame_bytes(k, 60 + k as usize)).unwrap();
            burst.push(p);
        }
        assert_eq!(a.tx_burst(0, &mut burst), 8, "{completion:?}: as many as the ring has room for");
        assert_eq!(burst.len(), 4, "the rest stays with the sender (retry policy)");
        let got = rx_all(&mut b);
        assert_eq!(got.len(), 8);
        for (k, p) in got.iter().enumerate() {
            assert_eq!(p.pool_id(), b.rx_pool().id(), "copied into the receiver's pool");
            assert_eq!(p.to_vec(), frame_bytes(k as u64, 60 + k), "{completion:?}: frame {k} intact");
            assert_eq!(p.meta().link_header_len, 14);
        }
        assert_eq!(a.tx_burst(0, &mut burst), 4);
        assert_eq!(rx_all(&mut b).len(), 4);
        let stats = a.stats();
        assert_eq!((stats.opackets, stats.obytes), (12, (0..12).map(|k| 60 + k).sum::<u64>()));
        assert_eq!(a.handle().feth_stats().copies, 12);
        let success = Completion { packet_id: 0, status: TxStatus::Success };
        let events: Vec<_> = sub.drain().into_iter().map(|e| e.kind).collect();
        match completion {
            TxCompletion::Sync => {
                assert_eq!(a.take_completions().collect::<Vec<_>>(), vec![success; 12]);
                assert!(events.is_empty());
            }
            TxCompletion::Async => {
                let status = EventKind::TxStatus { packet_id: 0, status: TxStatus::Success };
                assert_eq!(events, vec![status; 12]);
                assert_eq!(a.take_completions().count(), 0);
            }
        }
        drop(got);
        assert_eq!(a.tx_pool().in_use(), 0, "{completion:?}: every source back in the sender's pool");
        assert_eq!(b.rx_pool().in_use(), 0);
    }
}

/// A burst of plain frames (no metadata) with one past the frame limit, in either copying mode: the burst
/// crossing checks the limit in its own pass and refuses the burst, so it goes one packet at a time and
/// only that frame is dropped (as `MtuExceeded`); the others arrive intact and in order, and every buffer
/// is back afterwards.
#[test]
fn a_plain_burst_with_one_frame_past_the_limit_loses_only_that_frame() {
    for mode in [PoolMode::Private, PoolMode::PrivateSplit] {
        let (mut a, mut b) = pair(&FethConfig { pool_mode: mode, ..cfg() }).unwrap();
        let lens = [60, 1518, 1519, 64, 1518];
        let mut burst = PacketBurst::new();
        for (k, &len) in lens.iter().enumerate() {
            let mut p = a.tx_pool().alloc().unwrap();
            p.append(&frame_bytes(k as u64, len)).unwrap();
            burst.push(p);
        }
        assert_eq!(a.tx_burst(0, &mut burst), 5, "{mode:?}: every frame taken");
        let got: Vec<Vec<u8>> = rx_all(&mut b).iter().map(|p| p.to_vec()).collect();
        let want: Vec<Vec<u8>> = [0, 1, 3, 4].iter().map(|&k| frame_bytes(k, lens[k as usize])).collect();
        assert_eq!(got, want, "{mode:?}: all but the frame past the limit, intact and in order");
        assert_eq!(a.stats().dropped(DropReason::MtuExceeded), 1, "{mode:?}");
        assert_eq!(a.stats().opackets, 4, "{mode:?}");
        assert_eq!((a.tx_pool().in_use(), b.rx_pool().in_use()), (0, 0), "{mode:?}: every buffer back");
    }
}
