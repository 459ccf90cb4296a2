//! feth link life: packets in flight when a pair is unpeered, or a peer changes, before the receiver has
//! polled are received or counted as `Detached`, whoever leaves the link first, and every buffer returns.

mod common;

use common::*;
use pktloop_engine::packet::free_burst;
use pktloop_engine::pool::PoolMode;
use pktloop_engine::port::DropReason;
use pktloop_engine::{Pool, Port};
use pktloop_pmd::feth::{create, pair, Feth, FethConfig};

const MODES: [PoolMode; 3] = [PoolMode::Global, PoolMode::Private, PoolMode::PrivateSplit];

fn config(mode: PoolMode) -> FethConfig {
    FethConfig { pool_mode: mode, ..cfg() }
}

fn pools_of(ports: &[&Feth]) -> Vec<Pool> {
    ports.iter().flat_map(|p| [p.tx_pool().clone(), p.rx_pool().clone()]).collect()
}

/// Sends `n` frames with ids `first..` from `port`; the peer's ring has room for all of them.
fn send(port: &mut Feth, n: usize, first: u64) {
    let mut burst = frames(port.tx_pool(), n, 64, first);
    assert_eq!(port.tx_burst(0, &mut burst), n);
}

/// The ids of everything waiting on `port`, in arrival order (the packets are freed).
fn receive(port: &mut Feth, max: usize) -> Vec<u64> {
    let mut burst = pktloop_engine::PacketBurst::new();
    let mut ids = Vec::new();
    while ids.len() < max && port.rx_burst(0, &mut burst, max - ids.len()) != 0 {
        ids.extend(burst.iter().map(id_of));
        free_burst(&mut burst);
    }
    ids
}

/// Who leaves the crossing link first once the pair is unpeered.
#[derive(Debug, Clone, Copy)]
enum Order {
    /// The sender polls (and leaves) before the receiver has polled at all.
    SenderFirst,
    /// The receiver takes some, then the sender leaves, then the receiver takes the rest.
    ReceiverPollsBetween,
    /// The receiver's port is dropped before it ever polled; the sender leaves after.
    ReceiverFirst,
}

fn unpeer_with_packets_in_flight(mode: PoolMode, order: Order) {
    const N: usize = 40;
    let (mut a, mut b) = pair(&config(mode)).unwrap();
    let pools = pools_of(&[&a, &b]);
    let cb = b.counters().clone();
    // `b` has not polled since it was peered: the link is still in its mailbox.
    send(&mut a, N, 0);
    a.handle().clear_peer();
    let received = match order {
        Order::SenderFirst => {
            a.poll();
            receive(&mut b, usize::MAX)
        }
        Order::ReceiverPollsBetween => {
            let mut got = receive(&mut b, 16);
            a.poll();
            got.extend(receive(&mut b, usize::MAX));
            got
        }
        Order::ReceiverFirst => {
            drop(b);
            a.poll();
            Vec::new()
        }
    };
    let detached = cb.snapshot().dropped(DropReason::Detached);
    assert_eq!(received.len() as u64 + detached, N as u64, "{mode:?} {order:?}: received or Detached");
    if !matches!(order, Order::ReceiverFirst) {
        assert_eq!(received, (0..N as u64).collect::<Vec<_>>(), "{mode:?} {order:?}: all, in order");
    }
    // Unpeered: the sender drops what it is given now, counted.
    send(&mut a, 1, 1000);
    assert_eq!(dropped(&a, DropReason::NoPeer), 1);
    assert_eq!(a.stats().opackets, N as u64);
    drop(a);
    for p in &pools {
        assert_eq!(p.in_use(), 0, "{mode:?} {order:?}: pool {} has everything back", p.name());
    }
}

#[test]
fn unpeering_before_the_receiver_polls_loses_nothing_whoever_leaves_first() {
    for mode in MODES {
        for order in [Order::SenderFirst, Order::ReceiverPollsBetween, Order::ReceiverFirst] {
            unpeer_with_packets_in_flight(mode, order);
        }
    }
}

/// A peered pair `a`-`b` and a third port `c`, up and unpeered, with every pool they use.
fn pair_and_third(mode: PoolMode) -> (Feth, Feth, Feth, Vec<Pool>) {
    let config = config(mode);
    let (a, b) = pair(&config).unwrap();
    let c = create(&config).unwrap();
    c.handle().set_up(true);
    let pools = pools_of(&[&a, &b, &c]);
    (a, b, c, pools)
}

/// No port dropped anything, and once all three are gone every pool has all its buffers back.
fn nothing_dropped_and_all_back(mode: PoolMode, (a, b, c): (Feth, Feth, Feth), pools: &[Pool]) {
    assert_eq!(drops(&a) + drops(&b) + drops(&c), 0, "{mode:?}");
    drop((a, b, c));
    for p in pools {
        assert_eq!(p.in_use(), 0, "{mode:?}: pool {} has everything back", p.name());
    }
}

/// `a` sends to `b`, then `a` changes its peer to `c` and sends there, all before `b` or `c` polled.
#[test]
fn the_sender_changing_peer_before_the_receiver_polls_loses_nothing() {
    for mode in MODES {
        let (mut a, mut b, mut c, pools) = pair_and_third(mode);
        send(&mut a, 40, 0);
        a.handle().clear_peer();
        a.handle().set_peer_handle(&c.handle()).unwrap();
        // a's resync leaves the link into b (waking b) and adopts the one into c.
        send(&mut a, 24, 100);
        assert_eq!(receive(&mut b, usize::MAX), (0..40).collect::<Vec<_>>(), "{mode:?}");
        assert_eq!(receive(&mut c, usize::MAX), (100..124).collect::<Vec<_>>(), "{mode:?}");
        assert_eq!(receive(&mut b, usize::MAX), Vec::<u64>::new());
        nothing_dropped_and_all_back(mode, (a, b, c), &pools);
    }
}

/// `a` sends to `b`; `b` then changes its peer to `c`, which sends too, before `b` polled and before `a`
/// noticed: `b` drains both links, and retires the old one once `a` leaves it.
#[test]
fn the_receiver_changing_peer_before_it_polls_loses_nothing() {
    for mode in MODES {
        let (mut a, mut b, mut c, pools) = pair_and_third(mode);
        send(&mut a, 40, 0);
        b.handle().clear_peer();
        b.handle().set_peer_handle(&c.handle()).unwrap();
        send(&mut c, 24, 100);
        let mut got = receive(&mut b, usize::MAX);
        got.sort_unstable();
        let expected: Vec<u64> = (0..40).chain(100..124).collect();
        assert_eq!(got, expected, "{mode:?}: both links drained");
        // a leaves the old link only now; b keeps receiving from c.
        a.poll();
        send(&mut c, 8, 200);
        assert_eq!(receive(&mut b, usize::MAX), (200..208).collect::<Vec<_>>(), "{mode:?}");
        assert_eq!(b.stats().ipackets, 72);
        nothing_dropped_and_all_back(mode, (a, b, c), &pools);
    }
}
