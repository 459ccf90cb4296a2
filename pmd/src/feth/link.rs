//! One direction of a peering: an SPSC ring of packet handles from the sender's lcore to the receiver's,
//! and the hand-off that makes sure every packet left in it is accounted for when either side goes away.
//!
//! The sender's [`TxSide`] and the receiver's [`RxSide`] each live on their port's lcore. Whoever leaves
//! last drains the ring: the receiver leaving first parks its consumer in the link, and the sender takes it
//! and drains it when it leaves; the sender leaving first just marks the link, and the receiver retires it
//! once it is empty. Packets drained that way count as `Detached` drops of the receiver (they were in its rx
//! ring). Leaving is setup-path work and takes the link's mutex; the data path never does.

use pktloop_engine::packet::free_burst;
use pktloop_engine::pool::Pool;
use pktloop_engine::port::{DropReason, PacketBurst, PortCounters, MAX_BURST};
use pktloop_engine::ring::{Consumer, Producer};
use pktloop_engine::Packet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// Shared by the two ends of one direction.
#[derive(Debug)]
pub(crate) struct Link {
    /// Set (Release) by the sender after its last push.
    sender_gone: AtomicBool,
    /// The receiver's consumer, parked here when the receiver left while the sender was still attached.
    orphan: Mutex<Option<Consumer<Packet>>>,
    /// The receiver's counters, for packets drained as `Detached`.
    rx_counters: Arc<PortCounters>,
}

/// What the sender needs to know about its peer to cross packets into it.
#[derive(Debug, Clone)]
pub(crate) struct PeerInfo {
    /// Where private and split copies are allocated.
    pub rx_pool: Pool,
    /// The receiver marks checksums as verified.
    pub hwcsum: bool,
}

/// The sending end, owned by the sender's lcore.
#[derive(Debug)]
pub(crate) struct TxSide {
    pub producer: Producer<Packet>,
    pub peer: PeerInfo,
    link: Arc<Link>,
}

/// The receiving end, owned by the receiver's lcore.
#[derive(Debug)]
pub(crate) struct RxSide {
    pub consumer: Consumer<Packet>,
    /// Set when the link may have been disconnected: the rx path then retires it once drained.
    pub check: bool,
    link: Arc<Link>,
}

/// A new link from a sender to a receiver whose counters are `rx_counters`.
pub(crate) fn link(capacity: usize, peer: PeerInfo, rx_counters: Arc<PortCounters>) -> (TxSide, RxSide) {
    // The capacity was validated with the config (`ring-size`).
    let (producer, consumer) = pktloop_engine::ring::ring(capacity).expect("ring-size validated");
    let link = Arc::new(Link { sender_gone: AtomicBool::new(false), orphan: Mutex::new(None), rx_counters });
    (TxSide { producer, peer, link: link.clone() }, RxSide { consumer, check: false, link })
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Frees everything left in `consumer`, counted as `Detached` on `counters`.
fn drain(consumer: &mut Consumer<Packet>, counters: &PortCounters) {
    let mut burst = PacketBurst::new();
    loop {
        let n = consumer.pop_burst(&mut burst, MAX_BURST);
        if n == 0 {
            return;
        }
        counters.drop(DropReason::Detached, n as u64);
        free_burst(&mut burst);
    }
}

impl TxSide {
    /// The sender stops using the link: no push follows.
    pub fn leave(self) {
        let TxSide { producer, link, .. } = self;
        let mut orphan = lock(&link.orphan);
        drop(producer);
        link.sender_gone.store(true, Ordering::Release);
        if let Some(mut consumer) = orphan.take() {
            drain(&mut consumer, &link.rx_counters);
        }
    }
}

impl RxSide {
    /// True once the sender has left and everything it sent has been taken.
    pub fn finished(&mut self) -> bool {
        // Gone first, then empty: every push happened before the Release store of `sender_gone`.
        self.link.sender_gone.load(Ordering::Acquire) && self.consumer.is_empty()
    }

    /// The receiver goes away: what is queued is dropped as `Detached`, now or by the sender when it leaves.
    pub fn leave(self) {
        let RxSide { mut consumer, link, .. } = self;
        let mut orphan = lock(&link.orphan);
        drain(&mut consumer, &link.rx_counters);
        if !link.sender_gone.load(Ordering::Acquire) {
            *orphan = Some(consumer);
        }
    }
}
