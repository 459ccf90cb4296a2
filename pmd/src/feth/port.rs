//! The data path: [`FethQueue`], one queue pair of an interface, the port object owned by the one lcore
//! that polls it (an interface with one queue is one of these; see `super::queues` for [`super::Feth`]).
//!
//! The sender does the crossing work (Apple's `feth_nx_sync_tx` -> `feth_rx_submit`): its `tx_burst` moves
//! (global), copies (private) or packs (split) packets into the peer's rx ring, an SPSC ring the peer's
//! `rx_burst` pops. Packets wait on the sender in its own tx rings only in WMM mode (4 rings drained VO
//! first on each pass, holding what the peer's ring cannot take yet) and under dequeue stall. Otherwise
//! they go straight from the caller's burst into the crossing ring, and what does not fit stays in the
//! caller's burst.
//!
//! Fast path (global pools, no WMM, FCS, trailer, hwcsum, drop injection or expiry policy): one relaxed
//! load of the control generation, a pass over the burst reading the lengths cached in the handles (bytes
//! and MTU check), one ring burst push, two counter updates. No descriptor is touched, nothing is allocated
//! or locked, no clock is read.
//!
//! The port's crossing links (adopted on a control change, popped by `rx_burst`, retired, left on drop) are
//! `super::link`'s `Links`; the per-packet tx work and the rx-full policy are `super::shaper`'s; when the
//! peer spreads by flow hash, `super::rss` steers each packet into its lane (that path is taken per burst,
//! on a flag set at resync, so the paths above do not change).

use super::config::{ExpiryPolicy, FethConfig, Qset};
use super::control::{destroy, FethHandle, Iface};
use super::link::Links;
use super::rss;
use super::shaper::Shaper;
use super::tx::Pass;
pub use super::tx::{Completion, COMPLETION_QUEUE, ETHER_HDR_LEN};
use pktloop_engine::packet::free_burst;
use pktloop_engine::pool::{Pool, PoolMode};
use pktloop_engine::port::{
    Advisory, AdvisoryDirection, DropReason, EventBus, EventKind, LinkState, PacketBurst, PortCounters,
    ADVISORY_VERSION,
};
use pktloop_engine::{Packet, Port};
use std::collections::VecDeque;
use std::sync::atomic::{fence, Ordering};
use std::sync::Arc;

/// Bytes a frame may carry beyond the MTU: the Ethernet header (14) and a VLAN tag or FCS (4).
pub const FRAME_OVERHEAD: usize = 18;
/// With advisories on, the clock is read once every this many polls.
pub const ADVISORY_POLL_STRIDE: u32 = 16;
/// Nominal maximum bandwidth reported in advisories (10 Gbit/s).
pub const ADVISORY_MAX_BANDWIDTH_BPS: u64 = 10_000_000_000;

/// Interface advisory timing (only when `adv_interval_ms` is set).
struct AdvisoryClock {
    interval_ns: u64,
    next_ns: u64,
    polls: u32,
    last_ns: u64,
    last_bytes: u64,
    last_packets: u64,
}

/// One queue pair of a feth interface as a port of its own: [`Port`] bursts on its queue (index 0 for the
/// port; in WMM mode 0..4 on tx, the ring being picked by service class), its own crossing rings, local tx
/// rings, counters and completions. [`Port::name`] is the interface's; [`FethQueue::index`] tells which
/// queue it is.
///
/// Owned by the lcore that polls it (`&mut self` on the data path); other threads use a [`FethHandle`]
/// (control, counters, events). Dropping it destroys the interface: what it still queues, and what is left
/// in its rx rings, is dropped and counted as `Detached`; the interface's other queues see it detaching on
/// their next poll and do the same.
///
/// Aligned to whole cache-line pairs, as [`PortCounters`] are: its data-path state (ring positions, the
/// next link's turn) is written every burst by the core that polls it, and two queues side by side (a
/// pair's two ports on one stack, queues in one vector) polled by two cores would otherwise share a line.
#[repr(align(128))]
pub struct FethQueue {
    shaper: Shaper,
    /// This queue's block of the interface's counters.
    counters: Arc<PortCounters>,
    index: usize,
    seen: u64,
    up: bool,
    stalled: bool,
    detaching: bool,
    wmm: bool,
    fast_config: bool,
    /// A burst may take the fast path ([`FethQueue::tx_fast`]) whenever nothing waits in the local tx
    /// rings: the configuration allows it, the link is up and peered and output is not stalled. Worked
    /// out when the control state changes, so that a burst tests one flag.
    fast: bool,
    /// The peer spreads by flow hash: packets are steered into lanes (`super::rss`).
    steer: bool,
    links: Links,
    /// Local tx rings: 1, or 4 in WMM mode (VO, VI, BE, BK), each holding at most `ring_cap`.
    queues: Vec<VecDeque<Packet>>,
    ring_cap: usize,
    queued: usize,
    advisory: Option<AdvisoryClock>,
}

impl std::fmt::Debug for FethQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FethQueue")
            .field("name", &self.shaper.iface.name)
            .field("index", &self.index)
            .field("peered", &self.links.tx().is_some())
            .field("queued", &self.queued)
            .finish_non_exhaustive()
    }
}

fn fast_config(c: &FethConfig) -> bool {
    c.pool_mode == PoolMode::Global
        && !c.wmm
        && !c.fcs
        && c.trailer_length == 0
        && c.expiry_policy() == ExpiryPolicy::None
}

impl FethQueue {
    /// Queue `index` of `iface` (`index < iface.queues()`). Only queue 0 makes advisories (one per
    /// interface and interval, as Apple's).
    pub(crate) fn new(iface: Arc<Iface>, index: usize) -> FethQueue {
        let c = iface.config.clone();
        let rings = if c.wmm { 4 } else { 1 };
        let advisory = (c.adv_interval_ms != 0 && index == 0).then(|| {
            let now = pktloop_engine::time::now_ns();
            let interval_ns = u64::from(c.adv_interval_ms) * 1_000_000;
            AdvisoryClock {
                interval_ns,
                next_ns: now + interval_ns,
                polls: 0,
                last_ns: now,
                last_bytes: 0,
                last_packets: 0,
            }
        });
        let mut feth = FethQueue {
            counters: iface.counters[index].clone(),
            index,
            shaper: Shaper {
                frame_limit: c.frame_limit(1500, FRAME_OVERHEAD as u32),
                mode: c.pool_mode,
                fcs: c.fcs,
                trailer: c.trailer_length as usize,
                tx_drops: c.tx_drops,
                since_drop: 0,
                expiry: c.expiry_policy(),
                completion: c.tx_completion,
                split_headroom: c.tx_headroom as usize,
                completions: VecDeque::with_capacity(COMPLETION_QUEUE),
                rx_full: c.rx_full,
                iface,
            },
            seen: 0,
            up: false,
            stalled: false,
            detaching: false,
            wmm: c.wmm,
            fast_config: fast_config(&c),
            fast: false,
            steer: false,
            links: Links::new(),
            queues: (0..rings).map(|_| VecDeque::with_capacity(c.ring_size)).collect(),
            ring_cap: c.ring_size,
            queued: 0,
            advisory,
        };
        feth.sync();
        feth
    }

    pub(crate) fn iface(&self) -> &Arc<Iface> {
        &self.shaper.iface
    }

    /// A control handle (peer, MTU, up/down, media, stall, destroy), usable from any thread.
    pub fn handle(&self) -> FethHandle {
        FethHandle { iface: self.iface().clone() }
    }

    /// Unit number.
    pub fn unit(&self) -> u32 {
        self.iface().unit
    }

    /// Which queue pair of its interface this is.
    pub fn index(&self) -> usize {
        self.index
    }

    /// Which logical link and queue set this queue pair is (`None` outside logical-link mode).
    pub fn qset(&self) -> Option<Qset> {
        self.iface().config.qset(self.index)
    }

    /// The pool packets arriving here are allocated from (the peer copies into it in private and split
    /// modes; the shared pool in global mode).
    pub fn rx_pool(&self) -> &Pool {
        &self.iface().pools.rx
    }

    /// Packets waiting in this queue's own tx rings (WMM, stall or back-pressure).
    pub fn queued(&self) -> usize {
        self.queued
    }

    /// Drains sync tx completions: one per dropped packet (`RetryFailed`) and, in private and split modes,
    /// one per packet copied into the peer (`Success`). Zero-copy moves (global mode) complete nothing, as
    /// in Apple's driver. At most [`COMPLETION_QUEUE`] wait; more are counted as lost. In async mode the
    /// same statuses are published as `TxStatus` events instead and this is always empty.
    pub fn take_completions(&mut self) -> std::collections::vec_deque::Drain<'_, Completion> {
        self.shaper.completions.drain(..)
    }

    /// One poll without a burst: picks up control changes, sends what waits in the tx rings (if the
    /// peer's ring has room and output is not stalled) and makes a due advisory. `rx_burst` does the same.
    pub fn poll(&mut self) {
        self.sync();
        if self.queued != 0 {
            self.drain();
        }
        if self.advisory.is_some() {
            self.tick();
        }
    }

    /// One relaxed load per poll; the mailbox is only touched when the control plane changed something.
    #[inline(always)]
    fn sync(&mut self) {
        let g = self.iface().generation.load(Ordering::Relaxed);
        if g != self.seen {
            self.resync(g);
        }
    }

    #[cold]
    #[inline(never)]
    fn resync(&mut self, generation: u64) {
        // `sync` read the generation relaxed. A sender that left one of our rx links bumped it with Release
        // after marking the link; this fence makes that mark visible to the retirement walk `adopt` arms, so
        // the walk cannot miss it and disarm (control state itself comes under the mutex below).
        fence(Ordering::Acquire);
        self.seen = generation;
        let posted = {
            let iface = self.shaper.iface.clone();
            let mut c = iface.control.lock().unwrap_or_else(|p| p.into_inner());
            self.shaper.frame_limit = iface.config.frame_limit(c.mtu, FRAME_OVERHEAD as u32);
            self.up = c.up;
            self.stalled = c.stall;
            self.detaching = c.detaching;
            self.shaper.tx_drops = c.tx_drops;
            c.mailboxes[self.index].take()
        };
        // Outside the mutex: an old tx link leaving may drain a ring and wake the peer.
        self.links.adopt(posted);
        let tx = self.links.tx();
        // Drop injection counts every frame, which only the shaped path does.
        let plain = self.fast_config && self.shaper.tx_drops == 0;
        let open = self.up && !self.detaching && !self.stalled;
        self.fast = plain && open && tx.is_some_and(|t| !t.peer.hwcsum && !t.peer.rss);
        self.steer = tx.is_some_and(|t| t.peer.rss);
        if self.detaching {
            self.drop_queued(DropReason::Detached);
        }
    }

    /// Adds a pass's tallies to the counters (once per burst) and frees what it dropped.
    fn account(&mut self, pass: &mut Pass) {
        self.counters.tx(pass.sent, pass.bytes);
        if pass.drops.iter().any(|&n| n != 0) {
            for (reason, &n) in DropReason::ALL.iter().zip(&pass.drops) {
                PortCounters::drop(&self.counters, *reason, n);
            }
        }
        self.iface().extra[self.index].add(&pass.tally);
        pass.spare = None;
        pass.packer = None;
        free_burst(&mut pass.trash);
        free_burst(&mut pass.fresh);
    }

    /// Drops everything in the local tx rings.
    fn drop_queued(&mut self, reason: DropReason) {
        if self.queued == 0 {
            return;
        }
        let mut pass = Pass::new();
        for q in &mut self.queues {
            for p in q.drain(..) {
                self.shaper.drop_packet(p, reason, &mut pass);
            }
        }
        self.queued = 0;
        self.account(&mut pass);
    }

    /// Fast path: zero-copy move straight from the caller's burst.
    #[inline]
    fn tx_fast(&mut self, pkts: &mut PacketBurst) -> usize {
        // Apple's tx path sets the link-header length of every packet it sends: feth's pools make packets
        // that read so (`PoolConfig::ethernet`), so this path writes nothing (the general one sets it).
        let limit = self.shaper.frame_limit;
        let mut bytes = 0usize;
        let mut over = false;
        for p in pkts.iter() {
            let len = p.len();
            bytes += len;
            over |= len > limit;
        }
        let Some(tx) = self.links.tx_mut().filter(|_| !over) else { return self.tx_direct(pkts) };
        let n = tx.tx.producer.push_burst(pkts);
        if !pkts.is_empty() {
            // The peer's ring is full: what is left was not sent.
            bytes -= pkts.iter().map(Packet::len).sum::<usize>();
        }
        self.counters.tx(n as u64, bytes as u64);
        if pkts.is_empty() {
            return n;
        }
        let mut pass = Pass::new();
        let dropped = self.shaper.ring_full(move || pkts.drain(..), &mut pass);
        if dropped != 0 {
            self.account(&mut pass);
        }
        n + dropped
    }

    /// General path straight from the caller's burst (no local backlog, no WMM, not stalled).
    fn tx_direct(&mut self, pkts: &mut PacketBurst) -> usize {
        let n0 = pkts.len();
        let mut pass = Pass::new();
        match self.links.tx_mut() {
            None => {
                for p in pkts.drain(..) {
                    self.shaper.drop_packet(p, DropReason::NoPeer, &mut pass);
                }
            }
            Some(tx) => {
                // Take as many as the peer's ring has room for; packets dropped on the way (MTU, injection,
                // expiry, nomem) use no room, so take more while room is left. The consumer's position is
                // only looked at when the room last seen is short of the burst.
                let mut room = tx.tx.producer.slots_for(pkts.len());
                let mut out = PacketBurst::new();
                while room > 0 && !pkts.is_empty() {
                    let k = room.min(pkts.len());
                    let rest = k - self.shaper.cross_plain_burst(pkts, k, &tx.peer, &mut pass, &mut out);
                    if rest != 0 {
                        self.shaper.prefetch_sources(&pkts[..rest]);
                        for p in pkts.drain(..rest) {
                            if let Some(d) = self.shaper.process(p, &tx.peer, &mut pass) {
                                out.push(d);
                            }
                        }
                    }
                    room -= out.len();
                    let pushed = tx.tx.producer.push_burst(&mut out);
                    debug_assert!(out.is_empty(), "room was reserved for {pushed} packets");
                }
                let left = &mut *pkts;
                self.shaper.ring_full(move || left.drain(..), &mut pass);
            }
        }
        self.account(&mut pass);
        n0 - pkts.len()
    }

    /// Steered path (the peer spreads by flow hash): each packet from the caller's burst into the lane of
    /// its flow; what stays (its lane full, retry policy) stays in `pkts`.
    fn tx_steered(&mut self, pkts: &mut PacketBurst) -> usize {
        let Some(tx) = self.links.tx_mut() else { return self.tx_direct(pkts) };
        let n0 = pkts.len();
        let mut pass = Pass::new();
        rss::cross_burst(&mut self.shaper, tx, pkts, &mut pass);
        self.account(&mut pass);
        n0 - pkts.len()
    }

    /// Takes packets from the front of `pkts` into the local tx rings (by access class in WMM mode) while
    /// their ring has room; returns how many.
    fn enqueue(&mut self, pkts: &mut PacketBurst) -> usize {
        let cap = self.ring_cap;
        let k = if self.wmm {
            let mut lens: [usize; 4] = std::array::from_fn(|i| self.queues[i].len());
            let mut k = 0;
            for p in pkts.iter() {
                let r = p.meta().service_class.access_class().ring();
                if lens[r] == cap {
                    break;
                }
                lens[r] += 1;
                k += 1;
            }
            for p in pkts.drain(..k) {
                let r = p.meta().service_class.access_class().ring();
                self.queues[r].push_back(p);
            }
            k
        } else {
            let k = pkts.len().min(cap - self.queues[0].len());
            self.queues[0].extend(pkts.drain(..k));
            k
        };
        self.queued += k;
        k
    }

    /// One pass over the local tx rings, VO first, into the peer's rx ring. A port that is down holds them,
    /// as it takes nothing new.
    fn drain(&mut self) {
        if self.stalled || !self.up || self.queued == 0 {
            return;
        }
        let Some(tx) = self.links.tx_mut() else {
            self.drop_queued(DropReason::NoPeer);
            return;
        };
        let mut pass = Pass::new();
        if self.steer {
            self.queued -= rss::cross_queues(&mut self.shaper, tx, &mut self.queues, &mut pass);
            self.account(&mut pass);
            return;
        }
        let mut room = tx.tx.producer.slots_for(self.queued);
        let mut out = PacketBurst::new();
        for q in &mut self.queues {
            while room > 0 {
                let Some(p) = q.pop_front() else { break };
                self.queued -= 1;
                if let Some(d) = self.shaper.process(p, &tx.peer, &mut pass) {
                    out.push(d);
                    room -= 1;
                    if out.is_full() {
                        tx.tx.producer.push_burst(&mut out);
                    }
                }
            }
        }
        tx.tx.producer.push_burst(&mut out);
        debug_assert!(out.is_empty());
        // Packets are left only if the peer's ring filled up (room is 0).
        if self.queued != 0 {
            let queues = &mut self.queues;
            self.queued -= self.shaper.ring_full(move || queues.iter_mut().flat_map(|q| q.drain(..)), &mut pass);
        }
        self.account(&mut pass);
    }

    /// Advisory timing: the clock is read once every [`ADVISORY_POLL_STRIDE`] polls.
    fn tick(&mut self) {
        let linked = self.links.tx().is_some();
        let queued = self.queued;
        let Some(a) = self.advisory.as_mut() else { return };
        a.polls = a.polls.wrapping_add(1);
        if a.polls % ADVISORY_POLL_STRIDE != 0 {
            return;
        }
        let now = pktloop_engine::time::now_ns();
        if now < a.next_ns {
            return;
        }
        a.next_ns = now + a.interval_ns;
        // The interface's totals (every queue's), once per interval.
        let s = self.shaper.iface.stats();
        let elapsed = (now - a.last_ns).max(1);
        let (bytes, packets) = (s.obytes - a.last_bytes, s.opackets - a.last_packets);
        (a.last_ns, a.last_bytes, a.last_packets) = (now, s.obytes, s.opackets);
        if !linked {
            return;
        }
        let avg_throughput_bps = (u128::from(bytes) * 8 * 1_000_000_000 / u128::from(elapsed)) as u64;
        // Little's law: a queued packet waits for the ones ahead of it to go at the measured rate.
        let avg_delay_ns = (queued as u64).saturating_mul(elapsed).checked_div(packets).unwrap_or(0);
        let advisory = Advisory {
            version: ADVISORY_VERSION,
            direction: AdvisoryDirection::Tx,
            timestamp_ns: now,
            rate_trend: 0,
            max_bandwidth_bps: ADVISORY_MAX_BANDWIDTH_BPS,
            avg_throughput_bps,
            total_bytes: s.obytes,
            queue_len: queued as u32,
            avg_delay_ns,
        };
        self.shaper.publish(EventKind::Advisory(advisory));
        self.iface().extra[self.index].advisory();
    }
}

impl Port for FethQueue {
    fn name(&self) -> &str {
        &self.iface().name
    }

    fn mac(&self) -> [u8; 6] {
        self.iface().mac
    }

    fn mtu(&self) -> u32 {
        self.iface().mtu.load(Ordering::Relaxed)
    }

    fn rx_queues(&self) -> usize {
        1
    }

    /// 4 in WMM mode (the ring is chosen by each packet's service class, whatever the queue), else 1.
    fn tx_queues(&self) -> usize {
        if self.wmm {
            4
        } else {
            1
        }
    }

    #[inline]
    fn rx_burst(&mut self, queue: usize, pkts: &mut PacketBurst, max: usize) -> usize {
        self.sync();
        if self.queued != 0 {
            self.drain();
        }
        if self.advisory.is_some() {
            self.tick();
        }
        if queue != 0 {
            return 0;
        }
        let start = pkts.len();
        let n = self.links.rx_burst(pkts, max);
        if n != 0 {
            let bytes: usize = pkts[start..].iter().map(Packet::len).sum();
            self.counters.rx(n as u64, bytes as u64);
        }
        n
    }

    /// Sends from the front of `pkts`. A detaching port takes everything and drops it (`Detached`); a
    /// down port takes nothing. Without a peer, packets are dropped and counted as `NoPeer` (Apple keeps
    /// them in the tx ring; pktloop never holds them silently). When the peer's rx ring is full they stay
    /// in `pkts` (retry policy) or are dropped as `RxRingFull` (drop policy).
    #[inline]
    fn tx_burst(&mut self, queue: usize, pkts: &mut PacketBurst) -> usize {
        self.sync();
        if self.advisory.is_some() {
            self.tick();
        }
        // The common case first, on one flag that every test below would let through.
        if self.fast && self.queued == 0 && queue == 0 && !pkts.is_empty() {
            return self.tx_fast(pkts);
        }
        if queue >= self.tx_queues() {
            return 0;
        }
        if pkts.is_empty() {
            // An empty burst is a poll: packets waiting in the local tx rings (WMM, or a stall that ended)
            // move on. A sender whose pool is empty has nothing else to call, and would otherwise wait
            // forever for buffers that sit in these rings.
            if self.up && !self.detaching {
                self.drain();
            }
            return 0;
        }
        if self.detaching {
            let n = pkts.len();
            let mut pass = Pass::new();
            for p in pkts.drain(..) {
                self.shaper.drop_packet(p, DropReason::Detached, &mut pass);
            }
            self.account(&mut pass);
            return n;
        }
        if !self.up {
            return 0;
        }
        if self.queued == 0 && !self.stalled && !self.wmm {
            // Not `fast` (it would have taken the first branch).
            return if self.steer { self.tx_steered(pkts) } else { self.tx_direct(pkts) };
        }
        let taken = self.enqueue(pkts);
        self.drain();
        taken
    }

    fn link(&self) -> LinkState {
        if self.iface().linked.load(Ordering::Relaxed) {
            LinkState::Up
        } else {
            LinkState::Down
        }
    }

    fn counters(&self) -> &Arc<PortCounters> {
        &self.counters
    }

    fn events(&self) -> &EventBus {
        &self.iface().events
    }

    fn tx_pool(&self) -> &Pool {
        &self.iface().pools.tx
    }
}

impl Drop for FethQueue {
    fn drop(&mut self) {
        let iface = self.iface().clone();
        destroy(&iface);
        let g = iface.generation.load(Ordering::Acquire);
        self.resync(g);
        self.drop_queued(DropReason::Detached);
        self.links.leave_all();
    }
}
