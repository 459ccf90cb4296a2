//! Property test: any sequence of sends, receives, stalls, peer changes and MTU changes, in any pool mode
//! and with any drop-related knobs, accounts for every packet, and every buffer comes back.

mod common;

use common::*;
use pktloop_engine::packet::{free_burst, ServiceClass};
use pktloop_engine::pool::PoolMode;
use pktloop_engine::{PacketBurst, Port};
use pktloop_pmd::feth::{pair, FethConfig, RxFullPolicy};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    Send { n: usize, len: usize, class: usize },
    Recv { max: usize },
    Stall(bool),
    Unpeer,
    Repeer,
    Mtu(u32),
    Poll,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (1usize..40, 60usize..1600, 0usize..10).prop_map(|(n, len, class)| Op::Send { n, len, class }),
        3 => (1usize..64).prop_map(|max| Op::Recv { max }),
        1 => any::<bool>().prop_map(Op::Stall),
        1 => Just(Op::Unpeer),
        1 => Just(Op::Repeer),
        1 => prop_oneof![Just(1500u32), Just(1000), Just(1600)].prop_map(Op::Mtu),
        1 => Just(Op::Poll),
    ]
}

fn config() -> impl Strategy<Value = FethConfig> {
    (
        0usize..4,
        any::<bool>(),
        any::<bool>(),
        0u32..5,
        any::<bool>(),
        any::<bool>(),
        prop_oneof![Just(8usize), Just(32)],
    )
        .prop_map(|(mode, wmm, drop_full, tx_drops, fcs, multi, ring_size)| {
            let (pool_mode, multibuflet) = match mode {
                0 => (PoolMode::Global, false),
                1 => (PoolMode::Global, multi),
                2 => (PoolMode::Private, multi),
                _ => (PoolMode::PrivateSplit, false),
            };
            FethConfig {
                pool_mode,
                multibuflet,
                wmm,
                fcs,
                trailer_length: if fcs { 6 } else { 0 },
                tx_drops,
                rx_full: if drop_full { RxFullPolicy::Drop } else { RxFullPolicy::Retry },
                ring_size,
                max_mtu: 2048,
                ..cfg()
            }
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn every_packet_is_accounted_and_every_buffer_returns(config in config(), ops in prop::collection::vec(op(), 1..40)) {
        let (mut a, mut b) = pair(&config).unwrap();
        let pools = [a.tx_pool().clone(), a.rx_pool().clone(), b.tx_pool().clone(), b.rx_pool().clone()];
        let (ca, cb) = (a.counters().clone(), b.counters().clone());
        let mut pending = PacketBurst::new();
        let mut taken = 0u64;
        let mut received = 0u64;
        for op in ops {
            match op {
                Op::Send { n, len, class } => {
                    for _ in 0..n {
                        if pending.is_full() {
                            break;
                        }
                        match a.tx_pool().packet_from(&frame_bytes(0, len)) {
                            Ok(mut p) => {
                                p.meta_mut().service_class = ServiceClass::ALL[class];
                                pending.push(p);
                            }
                            Err(_) => break,
                        }
                    }
                    taken += a.tx_burst(0, &mut pending) as u64;
                }
                Op::Recv { max } => {
                    let mut got = PacketBurst::new();
                    received += b.rx_burst(0, &mut got, max) as u64;
                    free_burst(&mut got);
                }
                Op::Stall(on) => a.handle().set_dequeue_stall(on),
                Op::Unpeer => a.handle().clear_peer(),
                Op::Repeer => {
                    // Busy when already peered: that is fine, nothing changes.
                    let _ = a.handle().set_peer_handle(&b.handle());
                }
                Op::Mtu(m) => a.handle().set_mtu(m).unwrap(),
                Op::Poll => a.poll(),
            }
            let sa = ca.snapshot();
            // In flight: in a's tx rings, or in b's rx ring(s); never negative, never more than taken.
            prop_assert!(sa.opackets + sa.total_drops() + a.queued() as u64 == taken, "{sa:?} queued {} taken {taken}", a.queued());
        }
        // What the caller still holds is not the port's business; give it back.
        free_burst(&mut pending);
        let mut got = PacketBurst::new();
        while b.rx_burst(0, &mut got, 64) != 0 {
            received += got.len() as u64;
            free_burst(&mut got);
        }
        drop((a, b));
        let (sa, sb) = (ca.snapshot(), cb.snapshot());
        prop_assert_eq!(sa.opackets + sa.total_drops(), taken, "sender");
        prop_assert_eq!(sb.ipackets + sb.total_drops(), sa.opackets, "receiver");
        prop_assert_eq!(sb.ipackets, received);
        for p in &pools {
            prop_assert_eq!(p.in_use(), 0, "pool {}", p.name());
        }
    }
}
