//! The crossing links and their whole life: one direction of a peering is an SPSC ring of packet handles
//! from the sender's lcore to the receiver's, with the hand-off that makes sure every packet left in it is
//! accounted for when either side goes away; a port's links are posted by the control plane into its
//! [`Mailbox`], adopted by its lcore into its [`Links`], polled, retired once finished, and left.
//!
//! The sender's [`Sender`] and the receiver's [`Receiver`] each live on their port's lcore. Whoever leaves
//! last drains the ring: the receiver leaving first parks its consumer in the link, and the sender takes it
//! and drains it when it leaves; the sender leaving first marks the link and wakes the receiver (see
//! [`Wake`]), which retires it once it is empty. Items drained that way count as `Detached` drops of the
//! receiver (they were in its rx ring). Leaving is setup-path work and takes the link's mutex; the data path
//! never does. `super::control` creates the link pairs and posts them (under the interface's mutex); the
//! port's lcore takes the mailbox when its control generation changes and hands it to [`Links::adopt`].
//!
//! With several queues each queue is a port of its own here: it has its own mailbox and [`Links`], and
//! every link joins one tx queue to one rx queue of the peer, so every ring stays single-producer
//! single-consumer. A tx queue has one link (into the peer's rx queue of the same index), or, when the peer
//! spreads by flow hash, one per peer rx queue ([`TxSide`]'s lanes); an rx queue polls all its links in turn.
//!
//! The protocol is generic over the item so that it runs under loom (`RUSTFLAGS="--cfg loom" cargo test -p
//! pktloop-pmd --release --lib loom`) with model-checked items; feth uses it with [`Packet`]s.

use pktloop_engine::pool::Pool;
use pktloop_engine::port::{DropReason, PacketBurst, PortCounters};
use pktloop_engine::ring::{Consumer, Producer};
use pktloop_engine::Packet;

#[cfg(loom)]
use loom::sync::{atomic::AtomicBool, Arc, Mutex, MutexGuard};
use std::sync::atomic::Ordering;
#[cfg(not(loom))]
use std::sync::{atomic::AtomicBool, Arc, Mutex, MutexGuard};

/// How a sender that leaves tells the receiving port that one of its links may now be finished.
///
/// Without it the receiver would have to look at every link on every poll to notice a departure. feth's
/// interfaces implement it by bumping their control generation, which the port's lcore already loads once
/// per poll: a departure then costs the receiver one `resync`, and steady state costs nothing.
pub(crate) trait Wake: Send + Sync {
    /// Called once by a sender that leaves while its receiver is still attached, after it is marked gone
    /// (the implementation must publish with Release, and the receiver read with Acquire, so that a woken
    /// receiver sees the sender gone).
    fn wake(&self);
}

/// Shared by the two ends of one direction.
#[derive(Debug)]
pub(crate) struct Link<T> {
    /// Set (Release) by the sender after its last push.
    sender_gone: AtomicBool,
    /// The receiver's consumer, parked here when the receiver left while the sender was still attached.
    orphan: Mutex<Option<Consumer<T>>>,
    /// The receiver's counters, for items drained as `Detached`.
    rx_counters: std::sync::Arc<PortCounters>,
    /// The receiving port, told when the sender leaves first (weak: a link does not keep a port alive).
    rx_wake: std::sync::Weak<dyn Wake>,
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
    link: Arc<Link<T>>,
}

/// What the sender needs to know about its peer to cross packets into it.
#[derive(Debug, Clone)]
pub(crate) struct PeerInfo {
    /// Where private and split copies are allocated.
    pub rx_pool: Pool,
    /// The receiver marks checksums as verified.
    pub hwcsum: bool,
    /// The receiver spreads frames over its rx queues by flow hash: the sender picks the lane.
    pub rss: bool,
}

/// The sending end of a feth crossing from one tx queue, with what it needs to know about the receiver.
///
/// Lane 0 is `tx`, the only one unless the peer steers by flow hash; then lane j (`more[j - 1]`) goes to
/// the peer's rx queue j. Lane 0 stays a plain field so the single-lane fast path reaches its ring directly.
#[derive(Debug)]
pub(crate) struct TxSide {
    pub tx: Sender<Packet>,
    pub more: Vec<Sender<Packet>>,
    pub peer: PeerInfo,
}

/// The receiving end of a feth crossing.
pub(crate) type RxSide = Receiver<Packet>;

/// A new link of `capacity` slots into a receiver whose counters are `rx_counters` and which `rx_wake`
/// tells when the sender leaves first.
///
/// # Panics
/// If `capacity` is not a valid ring size (the config's `ring-size` was validated before).
pub(crate) fn channel<T: Send>(
    capacity: usize,
    rx_counters: std::sync::Arc<PortCounters>,
    rx_wake: std::sync::Weak<dyn Wake>,
) -> (Sender<T>, Receiver<T>) {
    let (producer, consumer) = pktloop_engine::ring::ring(capacity).expect("ring-size validated");
    let orphan = Mutex::new(None);
    let link = Arc::new(Link { sender_gone: AtomicBool::new(false), orphan, rx_counters, rx_wake });
    (Sender { producer, link: link.clone() }, Receiver { consumer, link })
}

/// A single-lane feth crossing from a sender to the receiver described by `peer` (`super::control` builds
/// its lanes with [`channel`] and [`TxSide::new`]).
#[cfg(all(test, not(loom)))]
pub(crate) fn link(
    capacity: usize,
    peer: PeerInfo,
    rx_counters: std::sync::Arc<PortCounters>,
    rx_wake: std::sync::Weak<dyn Wake>,
) -> (TxSide, RxSide) {
    let (tx, rx) = channel(capacity, rx_counters, rx_wake);
    (TxSide { tx, more: Vec::new(), peer }, rx)
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
    /// The sender stops using the link: no push follows. A receiver still attached is woken to retire the
    /// link once it has taken what is left; one that left before is gone, and what it left is drained here.
    pub fn leave(self) {
        let Sender { producer, link } = self;
        let receiver_left = {
            let mut orphan = lock(&link.orphan);
            drop(producer);
            link.sender_gone.store(true, Ordering::Release);
            match orphan.take() {
                Some(mut consumer) => {
                    drain(&mut consumer, &link.rx_counters);
                    true
                }
                None => false,
            }
        };
        if !receiver_left {
            if let Some(receiver) = link.rx_wake.upgrade() {
                receiver.wake();
            }
        }
    }
}

impl TxSide {
    /// A tx side over `lanes` (lane j into the peer's rx queue j when steering), at least one.
    ///
    /// # Panics
    /// With no lane (setup path; `super::control` always makes one).
    pub fn new(mut lanes: Vec<Sender<Packet>>, peer: PeerInfo) -> TxSide {
        let tx = lanes.remove(0);
        TxSide { tx, more: lanes, peer }
    }

    /// How many lanes (peer rx queues) this side reaches.
    #[inline]
    pub fn lanes(&self) -> usize {
        1 + self.more.len()
    }

    /// Lane `j`'s sender (`j < lanes()`; anything else is lane 0, never a panic on the data path).
    #[inline]
    pub fn lane(&mut self, j: usize) -> &mut Sender<Packet> {
        match j.checked_sub(1).and_then(|k| self.more.get_mut(k)) {
            Some(s) => s,
            None => &mut self.tx,
        }
    }

    /// The sender stops using its links.
    pub fn leave(self) {
        self.tx.leave();
        self.more.into_iter().for_each(Sender::leave);
    }
}

impl<T: Send> Receiver<T> {
    /// True once the sender has left: nothing more will be pushed.
    pub fn sender_gone(&self) -> bool {
        self.link.sender_gone.load(Ordering::Acquire)
    }

    /// True once the sender has left and everything it sent has been taken.
    pub fn finished(&mut self) -> bool {
        // Gone first, then empty: every push happened before the Release store of `sender_gone`.
        self.sender_gone() && self.consumer.is_empty()
    }

    /// The receiver goes away: what is queued is dropped as `Detached`, now or by the sender when it leaves.
    pub fn leave(self) {
        let Receiver { mut consumer, link } = self;
        let mut orphan = lock(&link.orphan);
        drain(&mut consumer, &link.rx_counters);
        if !link.sender_gone.load(Ordering::Acquire) {
            *orphan = Some(consumer);
        }
    }
}

/// Pops up to `max` packets from `links` in order into `pkts`.
#[inline]
fn pop_links(links: &mut [RxSide], pkts: &mut PacketBurst, max: usize) -> usize {
    let mut n = 0;
    for r in links {
        if n >= max {
            break;
        }
        n += r.consumer.pop_burst(pkts, max - n);
    }
    n
}

/// Links posted by the control plane for the port's lcore to adopt (kept under the interface's mutex).
#[derive(Debug, Default)]
pub(crate) struct Mailbox {
    /// The port must leave its tx link and adopt `tx` (None: no peer any more).
    tx_changed: bool,
    tx: Option<TxSide>,
    /// Rx links to adopt.
    rx: Vec<RxSide>,
}

impl Mailbox {
    /// Posts a new tx link (the peer was set). One posted before and never adopted leaves unused.
    pub fn post_tx(&mut self, tx: TxSide) {
        self.replace_tx(Some(tx));
    }

    /// Posts "no tx link" (the peer was cleared).
    pub fn post_no_tx(&mut self) {
        self.replace_tx(None);
    }

    fn replace_tx(&mut self, tx: Option<TxSide>) {
        if let Some(stale) = std::mem::replace(&mut self.tx, tx) {
            stale.leave();
        }
        self.tx_changed = true;
    }

    /// Posts a new rx link (a peer now sends here).
    pub fn post_rx(&mut self, rx: RxSide) {
        self.rx.push(rx);
    }

    /// Everything posted so far, leaving the mailbox empty.
    pub fn take(&mut self) -> Mailbox {
        std::mem::take(self)
    }
}

/// A port's ends of its crossings: the tx link into the peer and the rx links from whoever sent here.
///
/// There can be more than one rx link: after a peer change the old peer's link stays until the port has
/// taken what is left in it (its sender has left by then, or will), and the new peer's comes in beside it.
#[derive(Debug)]
pub(crate) struct Links {
    tx: Option<TxSide>,
    rx: Vec<RxSide>,
    /// The rx link polled first in the next burst: turns rotate, so a busy link cannot starve the others of
    /// a queue fed by several (a mesh of steered lanes). Always `<= rx.len()`.
    next: usize,
    /// Look for finished rx links on the next poll (see [`Links::adopt`] for when it is set).
    retiring: bool,
}

impl Links {
    /// A port with no links yet, with room for the usual two rx links (setup path: allocates).
    pub fn new() -> Links {
        Links { tx: None, rx: Vec::with_capacity(2), next: 0, retiring: false }
    }

    /// The tx link, if peered.
    #[inline]
    pub fn tx(&self) -> Option<&TxSide> {
        self.tx.as_ref()
    }

    /// The tx link, if peered, to push into.
    #[inline]
    pub fn tx_mut(&mut self) -> Option<&mut TxSide> {
        self.tx.as_mut()
    }

    /// Adopts what the control plane posted: the old tx link leaves (its receiver is woken and retires it
    /// once drained) and new rx links join the polled ones.
    ///
    /// Runs on every control generation change, which includes every departure of a sender into this port
    /// (a leaving sender wakes its receiver, [`Wake`]). So the retirement walk is armed here, and not kept
    /// armed for as long as a sender lives (which made it run on every poll): a link whose sender has left,
    /// even one adopted in this very call (peered and unpeered before this port polled), is found on the
    /// next poll; one whose sender is still there costs nothing until that sender leaves and wakes this port.
    #[cold]
    pub fn adopt(&mut self, posted: Mailbox) {
        let Mailbox { tx_changed, tx, rx } = posted;
        self.rx.extend(rx);
        if tx_changed {
            if let Some(old) = std::mem::replace(&mut self.tx, tx) {
                old.leave();
            }
        }
        self.retiring = !self.rx.is_empty();
    }

    /// Pops up to `max` packets from the rx links into `pkts`, starting with the link whose turn it is,
    /// then retires finished links if a sender may have left since the last look.
    #[inline]
    pub fn rx_burst(&mut self, pkts: &mut PacketBurst, max: usize) -> usize {
        // One link and nothing to retire (a plain pair): its ring alone, with no turn to keep. A one-packet
        // ping-pong's round trip, the ports called directly: 123 -> 117 ns mean (BENCHMARKS.md, the packet
        // path's twelfth session).
        if let ([only], false) = (self.rx.as_mut_slice(), self.retiring) {
            return only.consumer.pop_burst(pkts, max);
        }
        // A single link's turn is always 0: the plain walk, as before there were turns.
        let n = if self.next == 0 {
            pop_links(&mut self.rx, pkts, max)
        } else {
            let turn = self.next.min(self.rx.len());
            let (before, from) = self.rx.split_at_mut(turn);
            let n = pop_links(from, pkts, max);
            n + pop_links(before, pkts, max - n)
        };
        self.next += 1;
        if self.next >= self.rx.len() {
            self.next = 0;
        }
        if self.retiring {
            self.retire_finished();
        }
        n
    }

    /// Retires rx links whose sender has left and which are drained. The walk stays armed only while a
    /// link whose sender has left still holds packets: no wake will come for it again. Links whose sender
    /// is still there disarm it; their sender's leaving re-arms it through [`Links::adopt`].
    #[cold]
    fn retire_finished(&mut self) {
        let mut draining = false;
        self.rx.retain_mut(|r| {
            if r.finished() {
                return false;
            }
            draining |= r.sender_gone();
            true
        });
        if self.next >= self.rx.len() {
            self.next = 0;
        }
        self.retiring = draining;
    }

    /// The port goes away: its tx link leaves, and so does every rx link (what is left in them is dropped as
    /// `Detached`, now or by their sender when it leaves).
    pub fn leave_all(&mut self) {
        if let Some(t) = self.tx.take() {
            t.leave();
        }
        for r in self.rx.drain(..) {
            r.leave();
        }
        self.next = 0;
        self.retiring = false;
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use pktloop_engine::mem::Prefer;
    use pktloop_engine::pool::PoolConfig;
    use std::sync::atomic::AtomicU64;

    /// Counts wakes, as the receiving interface's generation does.
    #[derive(Default)]
    struct Generation(AtomicU64);

    impl Wake for Generation {
        fn wake(&self) {
            self.0.fetch_add(1, Ordering::Release);
        }
    }

    fn adopt(links: &mut Links, post: impl FnOnce(&mut Mailbox)) {
        let mut mailbox = Mailbox::default();
        post(&mut mailbox);
        links.adopt(mailbox.take());
    }

    #[test]
    fn a_live_link_is_not_walked_and_a_left_one_is_retired_once_drained() {
        let config = PoolConfig { prefer: Prefer::Normal, ..PoolConfig::new("links-test", 64, 256) };
        let pool = Pool::new(config).unwrap();
        let counters = std::sync::Arc::new(PortCounters::default());
        let generation = std::sync::Arc::new(Generation::default());
        let wake = std::sync::Arc::downgrade(&generation);
        let peer = PeerInfo { rx_pool: pool.clone(), hwcsum: false, rss: false };
        let (tx, rx) = link(8, peer, counters.clone(), wake);
        let (mut sender, mut receiver) = (Links::new(), Links::new());
        adopt(&mut sender, |m| m.post_tx(tx));
        adopt(&mut receiver, |m| m.post_rx(rx));
        let mut burst = PacketBurst::new();
        assert_eq!(receiver.rx_burst(&mut burst, 32), 0);
        assert!(!receiver.retiring, "the sender is there: steady state walks nothing");

        let mut sent = PacketBurst::new();
        for _ in 0..2 {
            sent.push(pool.alloc().unwrap());
        }
        assert_eq!(sender.tx_mut().unwrap().tx.producer.push_burst(&mut sent), 2);
        adopt(&mut sender, Mailbox::post_no_tx);
        assert_eq!(generation.0.load(Ordering::Acquire), 1, "the leaving sender woke the receiver");
        // The receiver's resync on that wake.
        receiver.adopt(Mailbox::default());
        assert!(receiver.retiring);
        assert_eq!(receiver.rx_burst(&mut burst, 1), 1);
        assert_eq!((receiver.rx.len(), receiver.retiring), (1, true), "not drained yet: kept, still armed");
        assert_eq!(receiver.rx_burst(&mut burst, 32), 1);
        assert_eq!((receiver.rx.len(), receiver.retiring), (0, false), "drained: retired, disarmed");
        assert_eq!(counters.snapshot().total_drops(), 0);
        drop(burst);
        assert_eq!(pool.in_use(), 0);
    }

    /// A queue fed by several links (a steered mesh) takes turns: each burst starts one link further, so a
    /// link that always has a burst's worth cannot starve the others; retiring one keeps the turn in range.
    #[test]
    fn rx_links_take_turns() {
        let config = PoolConfig { prefer: Prefer::Normal, ..PoolConfig::new("links-turns", 64, 256) };
        let pool = Pool::new(config).unwrap();
        let counters = std::sync::Arc::new(PortCounters::default());
        let generation = std::sync::Arc::new(Generation::default());
        let mut receiver = Links::new();
        let mut senders = Vec::new();
        for _ in 0..3 {
            let wake = std::sync::Arc::downgrade(&generation);
            let peer = PeerInfo { rx_pool: pool.clone(), hwcsum: false, rss: true };
            let (tx, rx) = link(8, peer, counters.clone(), wake);
            adopt(&mut receiver, |m| m.post_rx(rx));
            senders.push(tx);
        }
        for (k, s) in senders.iter_mut().enumerate() {
            for _ in 0..4 {
                let mut p = pool.alloc().unwrap();
                p.meta_mut().packet_id = k as u64;
                s.tx.producer.push(p).unwrap();
            }
        }
        let mut firsts = Vec::new();
        for _ in 0..4 {
            let mut burst = PacketBurst::new();
            assert_eq!(receiver.rx_burst(&mut burst, 2), 2);
            firsts.push(burst[0].meta().packet_id);
        }
        assert_eq!(firsts, [0, 1, 2, 0]);
        senders.remove(1).leave();
        receiver.adopt(Mailbox::default());
        let mut burst = PacketBurst::new();
        while receiver.rx_burst(&mut burst, 1) != 0 {}
        assert_eq!((receiver.rx.len(), burst.len()), (2, 4), "the left link drained and retired");
        assert!(receiver.next <= receiver.rx.len());
        senders.into_iter().for_each(TxSide::leave);
        receiver.leave_all();
        drop(burst);
        assert_eq!(pool.in_use(), 0);
    }
}

#[cfg(loom)]
mod model {
    use super::*;
    use loom::sync::atomic::{fence, AtomicU64};
    use loom::thread;

    /// The receiving port's control generation, as far as links are concerned.
    #[derive(Default)]
    struct Generation(AtomicU64);

    impl Wake for Generation {
        fn wake(&self) {
            self.0.fetch_add(1, Ordering::Release);
        }
    }

    /// Every interleaving of a sender pushing 3 items into a 2-slot link then leaving, and a receiver
    /// taking some and leaving (or retiring the link once finished): each item is taken or dropped as
    /// `Detached` exactly once, and all are released.
    #[test]
    fn loom_link_accounts_for_every_item_whoever_leaves_first() {
        loom::model(|| {
            let counters = std::sync::Arc::new(PortCounters::default());
            let item = Arc::new(());
            let nobody = std::sync::Weak::<Generation>::new();
            let (mut tx, mut rx) = channel::<Arc<()>>(2, counters.clone(), nobody);
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

    /// Every interleaving of a sender pushing into a link then leaving, and a receiving port polling once as
    /// `Feth` does (a relaxed load of its generation, and only when it changed the acquire fence of `resync`
    /// and a retirement walk): a woken receiver always sees the sender gone and what it pushed, so it
    /// retires the drained link and never disarms its check too early.
    #[test]
    fn loom_a_woken_receiver_sees_the_sender_gone_and_retires_the_link() {
        loom::model(|| {
            let counters = std::sync::Arc::new(PortCounters::default());
            let generation = std::sync::Arc::new(Generation::default());
            let wake = std::sync::Arc::downgrade(&generation);
            let (mut tx, mut rx) = channel::<u8>(2, counters, wake);
            let sender = thread::spawn(move || {
                let _ = tx.producer.push(1);
                tx.leave();
            });
            if generation.0.load(Ordering::Relaxed) != 0 {
                fence(Ordering::Acquire);
                while rx.consumer.pop().is_some() {}
                assert!(rx.finished(), "woken, so the sender is seen gone and its item taken");
            }
            sender.join().unwrap();
        });
    }
}
