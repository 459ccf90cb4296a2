//! One direction of a peering: an SPSC ring of packet handles from the sender's lcore to the receiver's,
//! and the hand-off that makes sure every packet left in it is accounted for when either side goes away.
//!
//! The sender's [`Sender`] and the receiver's [`Receiver`] each live on their port's lcore. Whoever leaves
//! last drains the ring: the receiver leaving first parks its consumer in the link, and the sender takes it
//! and drains it when it leaves; the sender leaving first just marks the link, and the receiver retires it
//! once it is empty. Items drained that way count as `Detached` drops of the receiver (they were in its rx
//! ring). Leaving is setup-path work and takes the link's mutex; the data path never does.
//!
//! The protocol is generic over the item so that it runs under loom (`RUSTFLAGS="--cfg loom" cargo test -p
//! pktloop-pmd --release --lib loom`) with model-checked items; feth uses it with [`Packet`]s.

use pktloop_engine::pool::Pool;
use pktloop_engine::port::{DropReason, PortCounters};
use pktloop_engine::ring::{Consumer, Producer};
use pktloop_engine::Packet;

#[cfg(loom)]
use loom::sync::{atomic::AtomicBool, Arc, Mutex, MutexGuard};
use std::sync::atomic::Ordering;
#[cfg(not(loom))]
use std::sync::{atomic::AtomicBool, Arc, Mutex, MutexGuard};

/// Shared by the two ends of one direction.
#[derive(Debug)]
pub(crate) struct Link<T> {
    /// Set (Release) by the sender after its last push.
    sender_gone: AtomicBool,
    /// The receiver's consumer, parked here when the receiver left while the sender was still attached.
    orphan: Mutex<Option<Consumer<T>>>,
    /// The receiver's counters, for items drained as `Detached`.
    rx_counters: std::sync::Arc<PortCounters>,
}

/// The sending end, owned by the sender's lcore.
#[derive(Debug)]
pub(crate) struct Sender<T> {
    pub producer: Producer<T>,
    link: Arc<Link<T>>,
}

/// The receiving end, owned by the receiver's lcore.
#[derive(Debug)]
pub(crate) struct Receiver<T> {
    pub consumer: Consumer<T>,
    /// Set when the link may have been disconnected: the rx path then retires it once drained.
    pub check: bool,
    link: Arc<Link<T>>,
}

/// What the sender needs to know about its peer to cross packets into it.
#[derive(Debug, Clone)]
pub(crate) struct PeerInfo {
    /// Where private and split copies are allocated.
    pub rx_pool: Pool,
    /// The receiver marks checksums as verified.
    pub hwcsum: bool,
}

/// The sending end of a feth crossing, with what it needs to know about the receiver.
#[derive(Debug)]
pub(crate) struct TxSide {
    pub tx: Sender<Packet>,
    pub peer: PeerInfo,
}

/// The receiving end of a feth crossing.
pub(crate) type RxSide = Receiver<Packet>;

/// A new link of `capacity` slots into a receiver whose counters are `rx_counters`.
///
/// # Panics
/// If `capacity` is not a valid ring size (the config's `ring-size` was validated before).
pub(crate) fn channel<T: Send>(capacity: usize, rx_counters: std::sync::Arc<PortCounters>) -> (Sender<T>, Receiver<T>) {
    let (producer, consumer) = pktloop_engine::ring::ring(capacity).expect("ring-size validated");
    let link = Arc::new(Link { sender_gone: AtomicBool::new(false), orphan: Mutex::new(None), rx_counters });
    (Sender { producer, link: link.clone() }, Receiver { consumer, check: false, link })
}

/// A feth crossing from a sender to the receiver described by `peer`.
pub(crate) fn link(capacity: usize, peer: PeerInfo, rx_counters: std::sync::Arc<PortCounters>) -> (TxSide, RxSide) {
    let (tx, rx) = channel(capacity, rx_counters);
    (TxSide { tx, peer }, rx)
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Drops everything left in `consumer`, counted as `Detached` on `counters` (teardown only).
fn drain<T: Send>(consumer: &mut Consumer<T>, counters: &PortCounters) {
    let mut n = 0;
    while let Some(item) = consumer.pop() {
        drop(item);
        n += 1;
    }
    counters.drop(DropReason::Detached, n);
}

impl<T: Send> Sender<T> {
    /// The sender stops using the link: no push follows.
    pub fn leave(self) {
        let Sender { producer, link } = self;
        let mut orphan = lock(&link.orphan);
        drop(producer);
        link.sender_gone.store(true, Ordering::Release);
        if let Some(mut consumer) = orphan.take() {
            drain(&mut consumer, &link.rx_counters);
        }
    }
}

impl TxSide {
    /// The sender stops using the link.
    pub fn leave(self) {
        self.tx.leave();
    }
}

impl<T: Send> Receiver<T> {
    /// True once the sender has left and everything it sent has been taken.
    pub fn finished(&mut self) -> bool {
        // Gone first, then empty: every push happened before the Release store of `sender_gone`.
        self.link.sender_gone.load(Ordering::Acquire) && self.consumer.is_empty()
    }

    /// The receiver goes away: what is queued is dropped as `Detached`, now or by the sender when it leaves.
    pub fn leave(self) {
        let Receiver { mut consumer, link, .. } = self;
        let mut orphan = lock(&link.orphan);
        drain(&mut consumer, &link.rx_counters);
        if !link.sender_gone.load(Ordering::Acquire) {
            *orphan = Some(consumer);
        }
    }
}

#[cfg(loom)]
mod model {
    use super::*;
    use loom::thread;

    /// Every interleaving of a sender pushing 3 items into a 2-slot link then leaving, and a receiver
    /// taking some and leaving (or retiring the link once finished): each item is taken or dropped as
    /// `Detached` exactly once, and all are released.
    #[test]
    fn loom_link_accounts_for_every_item_whoever_leaves_first() {
        loom::model(|| {
            let counters = std::sync::Arc::new(PortCounters::default());
            let item = Arc::new(());
            let (mut tx, mut rx) = channel::<Arc<()>>(2, counters.clone());
            let sent = {
                let item = item.clone();
                thread::spawn(move || {
                    let mut sent = 0u64;
                    for _ in 0..3 {
                        if tx.producer.push(item.clone()).is_ok() {
                            sent += 1;
                        }
                    }
                    tx.leave();
                    sent
                })
            };
            let mut taken = 0u64;
            for _ in 0..2 {
                if let Some(got) = rx.consumer.pop() {
                    drop(got);
                    taken += 1;
                }
            }
            if rx.finished() {
                drop(rx);
            } else {
                rx.leave();
            }
            let sent = sent.join().unwrap();
            let detached = counters.snapshot().dropped(DropReason::Detached);
            assert_eq!(taken + detached, sent);
            assert_eq!(Arc::strong_count(&item), 1, "every item released");
        });
    }
}
