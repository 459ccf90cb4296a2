//! The control plane: the registry of feth interfaces and everything Apple does through `ifconfig` and
//! ioctls (create, destroy, set/clear/get peer, MTU, up/down, media, dequeue stall).
//!
//! Each interface's shared state is an `Iface` behind an `Arc`. Control operations take its mutex (setup
//! path only), change what they need, and bump its `generation`; the lcore that owns the [`super::Feth`]
//! port checks the generation with one relaxed load per poll and, only when it changed, takes the mutex to
//! pick up the new state (new crossing rings in the mailbox, MTU, stall, detaching). A sender leaving one
//! of the interface's rx links bumps it too (`Wake`), so the port retires that link once drained.
//!
//! An interface with several queues has per queue: a mailbox, a block of port counters and one of feth
//! counters. Every queue's lcore watches the same generation and takes only its own mailbox.

use super::config::{FethConfig, Offloads, Qset};
use super::error::FethError;
use super::link::{channel, Mailbox, PeerInfo, TxSide, Wake};
use super::media::{MediaStatus, DEFAULT_MEDIA, IFM_ACTIVE, IFM_AVALID, IFM_ETHER, MEDIA_LIST_MAX};
use super::stats::{sum_feth, sum_port, FethCounters};
use crate::pools::PortPools;
use crossbeam_utils::CachePadded;
use pktloop_engine::port::{Event, EventBus, EventKind, LinkState, PortCounters, PortStats};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

/// Highest unit number (Apple's `IF_MAXUNIT`); the MAC carries the unit in 16 bits.
pub const MAX_UNIT: u32 = 0x7fff;
/// Smallest MTU (`IF_MINMTU`).
pub use super::config::MIN_MTU;

/// Shared state of one interface.
pub(crate) struct Iface {
    pub unit: u32,
    pub name: String,
    pub mac: [u8; 6],
    pub config: FethConfig,
    pub pools: PortPools,
    /// Port counters per queue (queue 0's are the interface's when it has one queue).
    pub counters: Box<[Arc<PortCounters>]>,
    /// feth counters per queue.
    pub extra: Box<[FethCounters]>,
    pub events: EventBus,
    /// Bumped after every change the data path must see.
    pub generation: CachePadded<AtomicU64>,
    /// Mirrors for lock-free reads from any thread.
    pub mtu: AtomicU32,
    pub linked: AtomicBool,
    pub control: Mutex<Control>,
}

impl std::fmt::Debug for Iface {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Iface").field("name", &self.name).finish_non_exhaustive()
    }
}

/// Control state, under the interface's mutex.
#[derive(Debug)]
pub(crate) struct Control {
    pub peer: Option<Weak<Iface>>,
    pub mtu: u32,
    pub up: bool,
    pub detaching: bool,
    pub stall: bool,
    /// Every n-th frame sent is dropped (0: off); `tx-drops` at creation, changed with
    /// [`FethHandle::set_tx_drops`] as Apple's sysctl is.
    pub tx_drops: u32,
    pub media: Vec<u32>,
    /// Crossing links for each queue's data path to adopt.
    pub mailboxes: Vec<Mailbox>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Every feth interface, by weak reference (an interface lives while its port or a handle does).
static REGISTRY: Mutex<Vec<Weak<Iface>>> = Mutex::new(Vec::new());
/// Serialises peer changes, so two interfaces' mutexes are always taken under it (no lock-order cycle).
static PEERING: Mutex<()> = Mutex::new(());

impl Iface {
    /// Queue pairs.
    pub fn queues(&self) -> usize {
        self.counters.len()
    }

    /// The whole interface's counters: every queue's summed.
    pub fn stats(&self) -> PortStats {
        sum_port(self.counters.iter().map(|c| &**c))
    }

    pub fn bump(&self) {
        self.generation.fetch_add(1, Ordering::Release);
    }

    fn publish(&self, kind: EventKind) {
        self.events.publish(Event { port: self.unit, kind });
    }
}

/// A sender leaving one of this interface's rx links wakes its port through the generation it already
/// checks on every poll (Release here; the port's `resync` fences with Acquire before it looks).
impl Wake for Iface {
    fn wake(&self) {
        self.bump();
    }
}

/// The MAC of unit `unit`: `66:65:74:68` ("feth") then the unit, 16-bit big-endian.
pub fn mac_for_unit(unit: u32) -> [u8; 6] {
    let u = (unit as u16).to_be_bytes();
    [0x66, 0x65, 0x74, 0x68, u[0], u[1]]
}

/// Creates interface `feth<unit>` with the lowest free unit: MTU 1500, down, no peer, default media.
pub(crate) fn create_iface(config: &FethConfig) -> Result<Arc<Iface>, FethError> {
    config.validate()?;
    let mut reg = lock(&REGISTRY);
    reg.retain(|w| w.strong_count() > 0);
    let used: Vec<u32> = reg.iter().filter_map(|w| w.upgrade()).map(|i| i.unit).collect();
    let unit = (0..=MAX_UNIT).find(|u| !used.contains(u)).ok_or(FethError::NoFreeUnit)?;
    let name = format!("feth{unit}");
    let pools = PortPools::create(&name, &config.pool_spec())?;
    let iface = Arc::new(Iface {
        unit,
        mac: mac_for_unit(unit),
        config: config.clone(),
        pools,
        counters: (0..config.queue_pairs()).map(|_| Arc::new(PortCounters::default())).collect(),
        extra: (0..config.queue_pairs()).map(|_| FethCounters::default()).collect(),
        events: EventBus::new(),
        generation: CachePadded::new(AtomicU64::new(1)),
        mtu: AtomicU32::new(1500),
        linked: AtomicBool::new(false),
        control: Mutex::new(Control {
            peer: None,
            mtu: 1500,
            up: false,
            detaching: false,
            stall: false,
            tx_drops: config.tx_drops,
            media: DEFAULT_MEDIA.to_vec(),
            mailboxes: (0..config.queue_pairs()).map(|_| Mailbox::default()).collect(),
        }),
        name,
    });
    reg.push(Arc::downgrade(&iface));
    Ok(iface)
}

fn parse_unit(name: &str) -> Option<u32> {
    let digits = name.strip_prefix("feth")?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) || (digits.len() > 1 && digits.starts_with('0'))
    {
        return None;
    }
    digits.parse().ok()
}

/// Finds an interface by name. Names of the form `feth<N>` that do not exist are `NoSuchPort`; any other
/// name is `NotFeth` (only feth interfaces live in this registry).
pub(crate) fn find(name: &str) -> Result<Arc<Iface>, FethError> {
    if parse_unit(name).is_none() {
        return Err(FethError::NotFeth { name: name.to_owned() });
    }
    let reg = lock(&REGISTRY);
    reg.iter()
        .filter_map(|w| w.upgrade())
        .find(|i| i.name == name)
        .ok_or_else(|| FethError::NoSuchPort { name: name.to_owned() })
}

/// Connects `a` and `b` (Apple's `feth_config(a, b)`): two crossing rings, LINK_ON to both, self first.
pub(crate) fn connect(a: &Arc<Iface>, b: &Arc<Iface>) -> Result<(), FethError> {
    if Arc::ptr_eq(a, b) {
        return Err(FethError::SelfPeer { name: a.name.clone() });
    }
    {
        let _peering = lock(&PEERING);
        let mut ca = lock(&a.control);
        let mut cb = lock(&b.control);
        for (iface, c) in [(a, &ca), (b, &cb)] {
            if c.detaching || c.peer.is_some() {
                return Err(FethError::Busy { name: iface.name.clone() });
            }
        }
        if a.config.pool_mode != b.config.pool_mode {
            return Err(FethError::PoolModeMismatch {
                ours: a.name.clone(),
                ours_mode: a.config.pool_mode.as_str(),
                theirs: b.name.clone(),
                theirs_mode: b.config.pool_mode.as_str(),
            });
        }
        let links = |c: &FethConfig| (c.llink_cnt, if c.llink_cnt > 0 { c.qset_cnt } else { 0 });
        if links(&a.config) != links(&b.config) {
            return Err(FethError::LinkLayoutMismatch {
                ours: a.name.clone(),
                ours_links: links(&a.config),
                theirs: b.name.clone(),
                theirs_links: links(&b.config),
            });
        }
        wire(a, b, &mut ca, &mut cb);
        wire(b, a, &mut cb, &mut ca);
        a.bump();
        b.bump();
    }
    a.publish(EventKind::LinkUp);
    b.publish(EventKind::LinkUp);
    Ok(())
}

/// Sets up the direction `from` -> `to`, in the mailboxes: per tx queue i of `from`, one link into `to`'s
/// rx queue `i % to's queues`, or, when `to` spreads by flow hash, one into each of `to`'s rx queues (a
/// mesh: every ring has one producer queue and one consumer queue).
fn wire(from: &Arc<Iface>, to: &Arc<Iface>, cfrom: &mut Control, cto: &mut Control) {
    let peer = PeerInfo { rx_pool: to.pools.rx.clone(), hwcsum: to.config.hwcsum, rss: to.config.rss };
    let rx_wake: Weak<Iface> = Arc::downgrade(to);
    let (n_to, rss) = (to.queues(), to.config.rss);
    for (i, mailbox) in cfrom.mailboxes.iter_mut().enumerate() {
        let targets = if rss { 0..n_to } else { i % n_to..i % n_to + 1 };
        let lanes = targets
            .map(|j| {
                let wake: Weak<dyn Wake> = rx_wake.clone();
                let (tx, rx) = channel(to.config.ring_size, to.counters[j].clone(), wake);
                cto.mailboxes[j].post_rx(rx);
                tx
            })
            .collect();
        mailbox.post_tx(TxSide::new(lanes, peer.clone()));
    }
    cfrom.peer = Some(Arc::downgrade(to));
    from.linked.store(true, Ordering::Relaxed);
}

/// Disconnects `a` from its peer, if any (silent success without one): LINK_OFF to both, self first.
pub(crate) fn disconnect(a: &Arc<Iface>) {
    let peer = {
        let _peering = lock(&PEERING);
        let mut ca = lock(&a.control);
        let Some(peer) = ca.peer.take() else { return };
        unlink(a, &mut ca);
        let peer = peer.upgrade();
        if let Some(b) = &peer {
            let mut cb = lock(&b.control);
            cb.peer = None;
            unlink(b, &mut cb);
        }
        peer
    };
    a.publish(EventKind::LinkDown);
    if let Some(b) = peer {
        b.publish(EventKind::LinkDown);
    }
}

/// Tells `iface`'s data path to drop its tx link (its rx links retire once drained).
fn unlink(iface: &Iface, c: &mut Control) {
    c.mailboxes.iter_mut().for_each(Mailbox::post_no_tx);
    iface.linked.store(false, Ordering::Relaxed);
    iface.bump();
}

/// Apple's destroy: marks the interface detaching (a second call does nothing) and clears its peer.
pub(crate) fn destroy(iface: &Arc<Iface>) {
    {
        let mut c = lock(&iface.control);
        if c.detaching {
            return;
        }
        c.detaching = true;
        c.up = false;
        iface.bump();
    }
    disconnect(iface);
}

/// A control handle to one feth interface, usable from any thread (all methods are setup-path: they may
/// lock). Obtained from [`super::Feth::handle`] or [`lookup`].
#[derive(Clone)]
pub struct FethHandle {
    pub(crate) iface: Arc<Iface>,
}

impl std::fmt::Debug for FethHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FethHandle").field("name", &self.iface.name).finish()
    }
}

/// A control handle for the interface called `name`.
///
/// # Errors
/// `NoSuchPort` for an unknown `feth<N>`, `NotFeth` for any other name.
pub fn lookup(name: &str) -> Result<FethHandle, FethError> {
    find(name).map(|iface| FethHandle { iface })
}

/// Apple's set-peer: peers `name` with `peer`, or clears `name`'s peer when `peer` is empty.
///
/// # Errors
/// `NoSuchPort` (ENXIO), `NotFeth` / `SelfPeer` / `PoolModeMismatch` (EINVAL), `Busy` (EBUSY).
pub fn set_peer(name: &str, peer: &str) -> Result<(), FethError> {
    let a = lookup(name)?;
    if peer.is_empty() {
        a.clear_peer();
        Ok(())
    } else {
        a.set_peer(peer)
    }
}

/// The peer's name, or an empty string (Apple's get-peer).
///
/// # Errors
/// `name` is not a feth interface.
pub fn get_peer(name: &str) -> Result<String, FethError> {
    Ok(lookup(name)?.peer().unwrap_or_default())
}

/// Destroys interface `name` (a second destroy of a detaching interface is a no-op).
///
/// # Errors
/// `name` is not a feth interface.
pub fn destroy_by_name(name: &str) -> Result<(), FethError> {
    lookup(name)?.destroy();
    Ok(())
}

impl FethHandle {
    /// Interface name.
    pub fn name(&self) -> &str {
        &self.iface.name
    }

    /// Unit number.
    pub fn unit(&self) -> u32 {
        self.iface.unit
    }

    /// Ethernet address.
    pub fn mac(&self) -> [u8; 6] {
        self.iface.mac
    }

    /// The knobs it was created with.
    pub fn config(&self) -> &FethConfig {
        &self.iface.config
    }

    /// Peers with the interface called `peer`.
    ///
    /// # Errors
    /// As [`set_peer`].
    pub fn set_peer(&self, peer: &str) -> Result<(), FethError> {
        connect(&self.iface, &find(peer)?)
    }

    /// Peers with `peer`.
    ///
    /// # Errors
    /// As [`set_peer`].
    pub fn set_peer_handle(&self, peer: &FethHandle) -> Result<(), FethError> {
        connect(&self.iface, &peer.iface)
    }

    /// Clears the peer (nothing happens without one).
    pub fn clear_peer(&self) {
        disconnect(&self.iface);
    }

    /// The peer's name, if any.
    pub fn peer(&self) -> Option<String> {
        let c = lock(&self.iface.control);
        c.peer.as_ref().and_then(Weak::upgrade).map(|p| p.name.clone())
    }

    /// Marks the interface detaching and clears its peer; its port then drops what it still queues
    /// (counted `Detached`). A second call does nothing.
    pub fn destroy(&self) {
        destroy(&self.iface);
    }

    /// True once destroyed.
    pub fn is_detaching(&self) -> bool {
        lock(&self.iface.control).detaching
    }

    /// Sets the MTU.
    ///
    /// # Errors
    /// Outside `[72, max_mtu]`.
    pub fn set_mtu(&self, mtu: u32) -> Result<(), FethError> {
        let max = self.iface.config.max_mtu;
        if !(MIN_MTU..=max).contains(&mtu) {
            return Err(FethError::Mtu { value: mtu, max });
        }
        let mut c = lock(&self.iface.control);
        c.mtu = mtu;
        self.iface.mtu.store(mtu, Ordering::Relaxed);
        self.iface.bump();
        Ok(())
    }

    /// Drops every `n`-th frame sent from now on (0: none), counted as `tx_drop_injection`: the `tx-drops`
    /// knob at run time, as Apple's `net.link.fake.tx_drops` sysctl is changed under traffic. Each queue
    /// takes it at its next poll.
    ///
    /// # Errors
    /// `n` beyond 0..=2147483647 (the knob's range).
    pub fn set_tx_drops(&self, n: u32) -> Result<(), FethError> {
        super::config::check_tx_drops(n)?;
        lock(&self.iface.control).tx_drops = n;
        self.iface.bump();
        Ok(())
    }

    /// Current MTU.
    pub fn mtu(&self) -> u32 {
        self.iface.mtu.load(Ordering::Relaxed)
    }

    /// Up (RUNNING) or down. A down port's `tx_burst` takes nothing; a detaching port cannot go up.
    pub fn set_up(&self, up: bool) {
        let mut c = lock(&self.iface.control);
        c.up = up && !c.detaching;
        self.iface.bump();
    }

    /// Whether the interface is up.
    pub fn is_up(&self) -> bool {
        lock(&self.iface.control).up
    }

    /// The interface flags ([`super::flags`]): broadcast, multicast and simplex, with up and running while
    /// it is up.
    pub fn if_flags(&self) -> u32 {
        super::flags::if_flags(self.is_up())
    }

    /// Whether its pools are marked mappable by user space (knob `user-access`: a mark only, as Apple's).
    pub fn user_access(&self) -> bool {
        self.iface.config.user_access == 1
    }

    /// Holds (true) or releases (false) output: while stalled, the port queues what it is given (up to its
    /// tx rings' size) and sends nothing; nothing is lost.
    pub fn set_dequeue_stall(&self, stall: bool) {
        let mut c = lock(&self.iface.control);
        c.stall = stall;
        self.iface.bump();
    }

    /// Carrier: up when peered.
    pub fn link(&self) -> LinkState {
        if self.iface.linked.load(Ordering::Relaxed) {
            LinkState::Up
        } else {
            LinkState::Down
        }
    }

    /// Media status: active only when peered.
    pub fn media(&self) -> MediaStatus {
        let c = lock(&self.iface.control);
        let status = if c.peer.is_some() { IFM_AVALID | IFM_ACTIVE } else { IFM_AVALID };
        MediaStatus { status, current: IFM_ETHER, list: c.media.clone() }
    }

    /// Replaces the media list.
    ///
    /// # Errors
    /// More than 27 words.
    pub fn set_media(&self, words: &[u32]) -> Result<(), FethError> {
        if words.len() > MEDIA_LIST_MAX {
            return Err(FethError::MediaListTooLong { len: words.len(), max: MEDIA_LIST_MAX });
        }
        lock(&self.iface.control).media = words.to_vec();
        Ok(())
    }

    /// Queue pairs (knob `queues`, or `llink-cnt` x `qset-cnt` in logical-link mode).
    pub fn queues(&self) -> usize {
        self.iface.queues()
    }

    /// Which logical link and queue set queue pair `queue` is (`None` outside logical-link mode).
    pub fn qset(&self, queue: usize) -> Option<Qset> {
        self.iface.config.qset(queue)
    }

    /// The offloads the interface advertises (knobs `hwcsum`, `lro`, `tso`, `tso-buf-size`).
    pub fn offloads(&self) -> Offloads {
        self.iface.config.offloads()
    }

    /// Queue 0's port counters (shared with its lcore): the whole interface's when it has one queue. See
    /// [`FethHandle::stats`] for all queues.
    pub fn counters(&self) -> &Arc<PortCounters> {
        &self.iface.counters[0]
    }

    /// Queue `queue`'s port counters, if there is such a queue.
    pub fn queue_counters(&self, queue: usize) -> Option<&Arc<PortCounters>> {
        self.iface.counters.get(queue)
    }

    /// The whole interface's port counters: every queue's, summed.
    pub fn stats(&self) -> PortStats {
        self.iface.stats()
    }

    /// Queue `queue`'s feth-specific counters, if there is such a queue.
    pub fn queue_feth_stats(&self, queue: usize) -> Option<super::stats::FethStats> {
        self.iface.extra.get(queue).map(FethCounters::snapshot)
    }

    /// feth-specific counters, every queue's summed.
    pub fn feth_stats(&self) -> super::stats::FethStats {
        sum_feth(&self.iface.extra)
    }

    /// The event stream.
    pub fn events(&self) -> &EventBus {
        &self.iface.events
    }

    /// Pools (rx and tx) of this interface.
    pub fn pools(&self) -> &PortPools {
        &self.iface.pools
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_like_ifunit() {
        assert_eq!(parse_unit("feth0"), Some(0));
        assert_eq!(parse_unit("feth123"), Some(123));
        for bad in ["feth", "feth01", "feth-1", "eth0", "null0", "feth1a", ""] {
            assert_eq!(parse_unit(bad), None, "{bad}");
        }
    }

    #[test]
    fn mac_carries_the_unit_big_endian() {
        assert_eq!(mac_for_unit(0x1234), [0x66, 0x65, 0x74, 0x68, 0x12, 0x34]);
        assert_eq!(&mac_for_unit(7)[..4], b"feth");
    }
}
