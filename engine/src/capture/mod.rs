//! Capture: a tap on a port's tx and rx paths (as XNU's `bpf_tap`), feeding a writer on another thread.
//!
//! The hot path never allocates and never blocks: a [`Tap`] (one per lcore) copies a frame, all of its
//! buflets, into a preallocated slot taken from its own free ring and pushes the slot onto its own full ring;
//! when no slot is free the frame is counted as missed, never waited for. The [`Capture`] that made the taps
//! drains every full ring (on a writer thread, or after the run), hands each tap a slot back for each frame
//! taken, and releases the frames of all taps in time order ([`merge`]). A shared count caps how many frames
//! are taken in all. [`sink`] writes drained frames as pcapng ([`PcapNgSink`]: an interface per port, each
//! frame's direction) or classic pcap ([`PcapSink`]), both with nanosecond timestamps, that tcpdump and
//! tshark read. [`Tapped`] decorates any [`Port`] with a tap, for code that wants a capture without touching
//! its poll loop.
//!
//! ```
//! use pktloop_engine::capture::{Capture, CaptureConfig, Direction};
//! use pktloop_engine::{mem::Prefer, pool::{Pool, PoolConfig}};
//!
//! let mut config = PoolConfig::new("cap", 64, 2048);
//! config.prefer = Prefer::Normal;
//! let pool = Pool::new(config).unwrap();
//! let mut capture = Capture::new(CaptureConfig { slots: 16, snaplen: 2048, limit: 10 }).unwrap();
//! let mut tap = capture.tap().unwrap();
//! let packet = pool.packet_from(&[0xab; 60]).unwrap();
//! assert!(tap.packet(&packet, 0, Direction::Tx, 1));
//! let mut seen = 0;
//! capture.drain(|frame| seen += frame.data.len());
//! assert_eq!(seen, 60);
//! ```

#[cfg(any(test, fuzzing))]
pub mod exercise;
mod merge;
pub mod sink;

pub use sink::{Format, PcapNgSink, PcapSink, Sink};

use crate::error::KnobError;
use crate::packet::Packet;
use crate::port::{EventBus, LinkState, PacketBurst, Port, PortCounters};
use crate::ring::{ring, Consumer, Producer};
use merge::Merge;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Which way a captured frame went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Received by the port.
    Rx,
    /// Handed to the port to send.
    Tx,
}

/// One captured frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// When it was seen, engine clock nanoseconds ([`crate::time::now_ns`]); never earlier than the frame
    /// its tap took before it (the time-ordered drain relies on it).
    pub ts_ns: u64,
    /// Port index as the capturing application numbers its ports.
    pub port: u16,
    /// Rx or tx.
    pub dir: Direction,
    /// The frame's full length (the data may be cut at the snap length).
    pub orig_len: u32,
    /// The bytes, all buflets in order, at most the snap length.
    pub data: Vec<u8>,
}

/// How a capture is sized.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CaptureConfig {
    /// Slots per tap (a power of two, 2..=65536): frames a tap can hold before the writer drains them.
    pub slots: usize,
    /// Bytes kept of each frame (the rest is cut, the original length kept): 14 (an Ethernet header)..=262144.
    pub snaplen: usize,
    /// Most frames taken over all taps (1..).
    pub limit: u64,
}

#[derive(Debug, Default)]
struct Shared {
    taken: AtomicU64,
    missed: AtomicU64,
}

/// The writer's side: makes taps, drains them.
#[derive(Debug)]
pub struct Capture {
    config: CaptureConfig,
    shared: Arc<Shared>,
    merge: Merge,
}

/// The hot path's side, owned by one lcore.
#[derive(Debug)]
pub struct Tap {
    full: Producer<Frame>,
    free: Consumer<Frame>,
    shared: Arc<Shared>,
    snaplen: usize,
    limit: u64,
    done: bool,
}

impl Capture {
    /// A capture with no taps yet.
    ///
    /// # Errors
    /// `slots`, `snaplen` or `limit` out of range (knobs `pcap-slots`, `pcap-snaplen`, `pcap-count`).
    pub fn new(config: CaptureConfig) -> Result<Capture, KnobError> {
        crate::error::check_power_of_two("pcap-slots", config.slots as u64, 2, 65536, "a power of two in 2..=65536")?;
        crate::error::check_range("pcap-snaplen", config.snaplen, 14, 262_144, "14..=262144")?;
        if config.limit == 0 {
            return Err(KnobError::new("pcap-count", 0, "1 or more"));
        }
        Ok(Capture { config, shared: Arc::default(), merge: Merge::new(config.slots, config.snaplen) })
    }

    /// A new tap with its own preallocated slots (setup time: allocates `slots` buffers of `snaplen`).
    ///
    /// # Errors
    /// Never in practice: the ring size was checked by [`Capture::new`].
    pub fn tap(&mut self) -> Result<Tap, KnobError> {
        let (full_tx, full_rx) = ring::<Frame>(self.config.slots)?;
        let (mut free_tx, free_rx) = ring::<Frame>(self.config.slots)?;
        for _ in 0..self.config.slots {
            // Cannot fail: the ring holds exactly `slots`.
            let _ = free_tx.push(Frame::slot(self.config.snaplen));
        }
        self.merge.add(full_rx, free_tx);
        Ok(Tap {
            full: full_tx,
            free: free_rx,
            shared: self.shared.clone(),
            snaplen: self.config.snaplen,
            limit: self.config.limit,
            done: false,
        })
    }

    /// Hands every captured frame to `f`, all taps merged in time order (for when the taps have stopped, or
    /// a one-off look). Returns how many.
    pub fn drain(&mut self, mut f: impl FnMut(&Frame)) -> usize {
        self.merge.drain_all(&mut f)
    }

    /// Hands `f`, in time order, the captured frames no tap can still undercut, holding the others back;
    /// taps are taken to have published every frame stamped before `horizon_ns` (engine clock). Call it
    /// repeatedly while the taps run, then [`Capture::drain`]. Returns how many frames were handed out.
    pub fn drain_until(&mut self, horizon_ns: u64, mut f: impl FnMut(&Frame)) -> usize {
        self.merge.drain_until(horizon_ns, &mut f)
    }

    /// Frames handed out older than one before them: a tap published them after the horizon had passed
    /// their timestamp, so the file is out of order there (0 unless a worker stalled that long).
    pub fn late(&self) -> u64 {
        self.merge.late()
    }

    /// Frames taken so far (capped at the limit).
    pub fn taken(&self) -> u64 {
        self.shared.taken.load(Ordering::Relaxed).min(self.config.limit)
    }

    /// Frames not captured because a tap had no free slot (the writer fell behind).
    pub fn missed(&self) -> u64 {
        self.shared.missed.load(Ordering::Relaxed)
    }

    /// The configuration.
    pub fn config(&self) -> CaptureConfig {
        self.config
    }
}

impl Frame {
    /// An empty slot that holds `snaplen` bytes without growing (setup or writer side only: allocates).
    fn slot(snaplen: usize) -> Frame {
        Frame { ts_ns: 0, port: 0, dir: Direction::Rx, orig_len: 0, data: Vec::with_capacity(snaplen) }
    }
}

impl Tap {
    /// Copies `pkt` into a slot. Returns false when the limit is reached or no slot is free (counted missed).
    #[inline]
    pub fn packet(&mut self, pkt: &Packet, port: u16, dir: Direction, ts_ns: u64) -> bool {
        self.burst(std::slice::from_ref(pkt), port, dir, ts_ns) == 1
    }

    /// Copies every packet of `pkts` (one timestamp for the burst). Returns how many were taken.
    ///
    /// The places under the limit are reserved for the burst at once, one for each packet a slot is free
    /// for: every tap's burst bumping the shared count once per packet made that line a contended one per
    /// frame. All the places reserved are used (this tap alone takes its free slots), so the limit stays
    /// exact.
    #[inline]
    pub fn burst(&mut self, pkts: &[Packet], port: u16, dir: Direction, ts_ns: u64) -> usize {
        if self.done || pkts.is_empty() {
            return 0;
        }
        let slots = self.free.len();
        let want = pkts.len().min(slots) as u64;
        let prev = match want {
            0 => self.shared.taken.load(Ordering::Relaxed),
            _ => self.shared.taken.fetch_add(want, Ordering::Relaxed),
        };
        let granted = want.min(self.limit.saturating_sub(prev)) as usize;
        if prev.saturating_add(want) >= self.limit {
            // The rest are past the limit, not missed.
            self.done = true;
        } else if pkts.len() > granted {
            self.shared.missed.fetch_add((pkts.len() - granted) as u64, Ordering::Relaxed);
        }
        for (n, pkt) in pkts[..granted].iter().enumerate() {
            let Some(slot) = self.free.pop() else { return n };
            self.fill(slot, pkt, port, dir, ts_ns);
        }
        granted
    }

    /// Copies `pkt` (up to the snap length) into `slot` and publishes it.
    #[inline]
    fn fill(&mut self, mut slot: Frame, pkt: &Packet, port: u16, dir: Direction, ts_ns: u64) {
        slot.data.clear();
        for b in pkt.buflets() {
            let room = self.snaplen - slot.data.len();
            let take = b.data.len().min(room);
            // Within the capacity reserved at setup: no allocation.
            slot.data.extend_from_slice(&b.data[..take]);
            if take < b.data.len() {
                break;
            }
        }
        slot.ts_ns = ts_ns;
        slot.port = port;
        slot.dir = dir;
        slot.orig_len = pkt.len() as u32;
        // Cannot fail: the full ring has a place for every slot.
        let _ = self.full.push(slot);
    }

    /// True once the shared limit is reached: the caller can stop capturing.
    #[inline]
    pub fn is_done(&self) -> bool {
        self.done
    }
}

/// A port that taps what it receives (after its rx) and what it is given to send (before its tx), as
/// `bpf_tap` does inside a driver. A packet the inner port leaves in the caller's burst (a full ring) is not
/// captured again when the caller retries the same burst.
#[derive(Debug)]
pub struct Tapped<P: Port> {
    inner: P,
    tap: Tap,
    port: u16,
    /// The first packet the last tx left in the caller's burst (pool id, index) and how many were left.
    left: Option<(u16, u32, usize)>,
}

impl<P: Port> Tapped<P> {
    /// Wraps `inner`; frames are recorded as port number `port`.
    pub fn new(inner: P, tap: Tap, port: u16) -> Tapped<P> {
        Tapped { inner, tap, port, left: None }
    }

    /// The wrapped port.
    pub fn inner(&self) -> &P {
        &self.inner
    }

    /// Unwraps the port, dropping the tap.
    pub fn into_inner(self) -> P {
        self.inner
    }
}

impl<P: Port> Port for Tapped<P> {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn mac(&self) -> [u8; 6] {
        self.inner.mac()
    }

    fn mtu(&self) -> u32 {
        self.inner.mtu()
    }

    fn rx_queues(&self) -> usize {
        self.inner.rx_queues()
    }

    fn tx_queues(&self) -> usize {
        self.inner.tx_queues()
    }

    #[inline]
    fn rx_burst(&mut self, queue: usize, pkts: &mut PacketBurst, max: usize) -> usize {
        let start = pkts.len();
        let n = self.inner.rx_burst(queue, pkts, max);
        if n > 0 && !self.tap.is_done() {
            self.tap.burst(&pkts[start..], self.port, Direction::Rx, crate::time::now_ns());
        }
        n
    }

    #[inline]
    fn tx_burst(&mut self, queue: usize, pkts: &mut PacketBurst) -> usize {
        let seen = match (self.left.take(), pkts.first()) {
            (Some((pool, index, count)), Some(p)) if p.pool_id() == pool && p.index() == index => count,
            _ => 0,
        };
        if pkts.len() > seen && !self.tap.is_done() {
            self.tap.burst(&pkts[seen..], self.port, Direction::Tx, crate::time::now_ns());
        }
        let n = self.inner.tx_burst(queue, pkts);
        self.left = pkts.first().map(|p| (p.pool_id(), p.index(), pkts.len()));
        n
    }

    fn link(&self) -> LinkState {
        self.inner.link()
    }

    fn counters(&self) -> &Arc<PortCounters> {
        self.inner.counters()
    }

    fn events(&self) -> &EventBus {
        self.inner.events()
    }

    fn tx_pool(&self) -> &crate::pool::Pool {
        self.inner.tx_pool()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mem::Prefer;
    use crate::pool::{Pool, PoolConfig};

    fn pool(buf: u32, buflets: u16) -> Pool {
        let mut c = PoolConfig::new("cap-test", 64, buf);
        c.max_buflets = buflets;
        c.prefer = Prefer::Normal;
        Pool::new(c).unwrap()
    }

    #[test]
    fn multi_buflet_frames_are_captured_whole_and_the_limit_holds() {
        let pool = pool(512, 4);
        let frame: Vec<u8> = (0..1500u32).map(|i| i as u8).collect();
        let pkt = pool.packet_from(&frame).unwrap();
        assert!(pkt.buflet_count() > 1);
        let mut cap = Capture::new(CaptureConfig { slots: 4, snaplen: 65535, limit: 3 }).unwrap();
        let mut a = cap.tap().unwrap();
        let mut b = cap.tap().unwrap();
        assert!(a.packet(&pkt, 1, Direction::Rx, 5));
        assert!(b.packet(&pkt, 2, Direction::Tx, 6));
        assert!(a.packet(&pkt, 1, Direction::Rx, 7));
        assert!(!b.packet(&pkt, 2, Direction::Tx, 8), "limit of 3 reached");
        let mut got = Vec::new();
        assert_eq!(cap.drain(|f| got.push(f.clone())), 3);
        assert!(got.iter().all(|f| f.data == frame && f.orig_len == 1500));
        assert_eq!(cap.taken(), 3);
    }

    #[test]
    fn bursts_take_their_places_at_once_and_the_limit_and_the_missed_count_stay_exact() {
        let pool = pool(2048, 1);
        let pkts: Vec<Packet> = (0..32u8).map(|i| pool.packet_from(&[i; 60]).unwrap()).collect();
        let mut cap = Capture::new(CaptureConfig { slots: 16, snaplen: 128, limit: 40 }).unwrap();
        let (mut a, mut b) = (cap.tap().unwrap(), cap.tap().unwrap());
        assert_eq!(a.burst(&pkts, 0, Direction::Rx, 1), 16, "as many as it has slots for");
        assert_eq!(cap.missed(), 16, "the others missed");
        assert_eq!(b.burst(&pkts[..10], 1, Direction::Rx, 2), 10);
        let mut n = cap.drain(|_| ());
        assert_eq!(n, 26);
        // 14 places left under the limit: the burst takes them, and the rest are past it, not missed.
        assert_eq!(a.burst(&pkts, 0, Direction::Tx, 3), 14);
        assert!(a.is_done() && cap.missed() == 16);
        assert_eq!(b.burst(&pkts, 1, Direction::Tx, 4), 0, "nothing once the limit is reached");
        assert!(b.is_done());
        n += cap.drain(|_| ());
        assert_eq!((n as u64, cap.taken()), (40, 40));
    }

    #[test]
    fn a_full_tap_counts_missed_frames_and_snaplen_cuts() {
        let pool = pool(2048, 1);
        let pkt = pool.packet_from(&[7u8; 200]).unwrap();
        let mut cap = Capture::new(CaptureConfig { slots: 2, snaplen: 64, limit: 100 }).unwrap();
        let mut t = cap.tap().unwrap();
        assert_eq!(t.burst(&[pool.packet_from(&[1]).unwrap(), pkt], 0, Direction::Rx, 1), 2);
        let p3 = pool.packet_from(&[3u8; 100]).unwrap();
        assert!(!t.packet(&p3, 0, Direction::Rx, 2));
        assert_eq!(cap.missed(), 1);
        let mut lens = Vec::new();
        cap.drain(|f| lens.push((f.data.len(), f.orig_len)));
        assert_eq!(lens, vec![(1, 1), (64, 200)]);
        assert!(t.packet(&p3, 0, Direction::Rx, 3), "slots come back after a drain");
    }

    #[test]
    fn bad_sizes_are_refused_by_name() {
        let e = Capture::new(CaptureConfig { slots: 3, snaplen: 100, limit: 1 }).unwrap_err();
        assert_eq!(e.knob, "pcap-slots");
        let e = Capture::new(CaptureConfig { slots: 4, snaplen: 13, limit: 1 }).unwrap_err();
        assert_eq!(e.knob, "pcap-snaplen");
        let e = Capture::new(CaptureConfig { slots: 4, snaplen: 100, limit: 0 }).unwrap_err();
        assert_eq!(e.knob, "pcap-count");
    }

    #[test]
    fn taps_are_merged_in_time_order_and_held_back_until_no_tap_can_undercut() {
        let pool = pool(2048, 1);
        let pkt = pool.packet_from(&[0u8; 60]).unwrap();
        let mut cap = Capture::new(CaptureConfig { slots: 4, snaplen: 2048, limit: 100 }).unwrap();
        let (mut a, mut b) = (cap.tap().unwrap(), cap.tap().unwrap());
        for ts in [10, 30, 50] {
            assert!(a.packet(&pkt, 0, Direction::Tx, ts));
        }
        assert!(b.packet(&pkt, 1, Direction::Rx, 20));
        let mut out = Vec::new();
        // b's newest is 20: a's 30 and 50 wait, as b may still publish something stamped 25.
        assert_eq!(cap.drain_until(0, |f| out.push(f.ts_ns)), 2);
        assert_eq!(out, [10, 20]);
        for ts in [60, 70, 80, 90] {
            assert!(a.packet(&pkt, 0, Direction::Tx, ts), "held frames gave their slots back");
        }
        assert!(b.packet(&pkt, 1, Direction::Rx, 40));
        cap.drain_until(0, |f| out.push(f.ts_ns));
        assert_eq!(out, [10, 20, 30, 40]);
        // An idle tap holds nothing back once the horizon passes.
        cap.drain_until(55, |f| out.push(f.ts_ns));
        assert_eq!(out, [10, 20, 30, 40, 50]);
        assert_eq!(cap.drain(|f| out.push(f.ts_ns)), 4);
        assert_eq!(out, [10, 20, 30, 40, 50, 60, 70, 80, 90]);
        assert_eq!(cap.late(), 0);
        // A frame published after the horizon passed it is still written, counted late.
        assert!(b.packet(&pkt, 1, Direction::Rx, 45));
        cap.drain(|f| out.push(f.ts_ns));
        assert_eq!((out.last(), cap.late()), (Some(&45), 1));
    }

    #[test]
    fn a_lane_holds_at_most_a_ring_and_then_its_tap_misses() {
        let pool = pool(2048, 1);
        let pkt = pool.packet_from(&[0u8; 60]).unwrap();
        let mut cap = Capture::new(CaptureConfig { slots: 2, snaplen: 2048, limit: 100 }).unwrap();
        let (mut a, _idle) = (cap.tap().unwrap(), cap.tap().unwrap());
        let mut out = Vec::new();
        for ts in 1..=6 {
            a.packet(&pkt, 0, Direction::Tx, ts);
            cap.drain_until(0, |f| out.push(f.ts_ns));
        }
        assert!(out.is_empty(), "the idle tap holds everything back until the horizon");
        assert_eq!(cap.missed(), 2, "2 held + 2 in the ring, the rest missed");
        cap.drain(|f| out.push(f.ts_ns));
        assert_eq!(out, [1, 2, 3, 4]);
    }

    /// A port whose tx keeps at most `room` packets and whose rx hands them back.
    struct Loopback {
        pool: Pool,
        held: Vec<Packet>,
        room: usize,
        counters: Arc<PortCounters>,
        events: EventBus,
    }

    impl Port for Loopback {
        fn name(&self) -> &str {
            "loop0"
        }
        fn mac(&self) -> [u8; 6] {
            [2, 0, 0, 0, 0, 1]
        }
        fn mtu(&self) -> u32 {
            1500
        }
        fn rx_burst(&mut self, _q: usize, pkts: &mut PacketBurst, max: usize) -> usize {
            let n = max.min(self.held.len()).min(pkts.remaining_capacity());
            pkts.extend(self.held.drain(..n));
            n
        }
        fn tx_burst(&mut self, _q: usize, pkts: &mut PacketBurst) -> usize {
            let n = (self.room - self.held.len()).min(pkts.len());
            self.held.extend(pkts.drain(..n));
            n
        }
        fn link(&self) -> LinkState {
            LinkState::Up
        }
        fn counters(&self) -> &Arc<PortCounters> {
            &self.counters
        }
        fn events(&self) -> &EventBus {
            &self.events
        }
        fn tx_pool(&self) -> &Pool {
            &self.pool
        }
    }

    #[test]
    fn tapped_port_captures_each_frame_once_in_each_direction() {
        let pool = pool(2048, 1);
        let inner = Loopback {
            pool: pool.clone(),
            held: Vec::new(),
            room: 3,
            counters: Arc::default(),
            events: EventBus::new(),
        };
        let mut cap = Capture::new(CaptureConfig { slots: 16, snaplen: 2048, limit: 100 }).unwrap();
        let mut port = Tapped::new(inner, cap.tap().unwrap(), 7);
        let mut burst = PacketBurst::new();
        for i in 0..5u8 {
            burst.push(pool.packet_from(&[i; 60]).unwrap());
        }
        assert_eq!(port.tx_burst(0, &mut burst), 3, "the ring takes 3, 2 are left for a retry");
        let mut got = PacketBurst::new();
        assert_eq!(port.rx_burst(0, &mut got, 32), 3);
        assert_eq!(port.tx_burst(0, &mut burst), 2, "the retry sends the 2 left");
        assert_eq!(port.rx_burst(0, &mut got, 32), 2);
        let mut frames = Vec::new();
        cap.drain(|f| frames.push((f.dir, f.data[0], f.port)));
        let tx: Vec<u8> = frames.iter().filter(|f| f.0 == Direction::Tx).map(|f| f.1).collect();
        let rx: Vec<u8> = frames.iter().filter(|f| f.0 == Direction::Rx).map(|f| f.1).collect();
        assert_eq!(tx, [0, 1, 2, 3, 4], "each sent frame once, retries not duplicated");
        assert_eq!(rx, [0, 1, 2, 3, 4]);
        assert!(frames.iter().all(|f| f.2 == 7));
        assert_eq!(port.name(), "loop0");
        drop(got);
        drop(port.into_inner());
        assert_eq!(pool.in_use(), 0);
    }
}
