//! The soak: two threads pinned to two cores send and receive across a feth pair (the sender's port
//! wrapped in a fault injector that drops, truncates, corrupts and refuses frames) while the main thread
//! injects faults at random moments: the peer cleared and set again, the receiver's dequeue stalled and
//! released, the link set down and up, the receiver stopped until its ring fills, the sender's pool nearly
//! emptied, the MTU changed, expiry deadlines in the past, and at the end of each round a port destroyed
//! (the next round makes a new pair). It runs every pool mode with WMM and multi-buflet on and off.
//!
//! At the end of each round, per port and per reason: frames the sender's port took = sent + dropped
//! by reason; frames sent = received + dropped by reason on the receiver; every pool has all its buffers.
//! It prints its figures. `PKTLOOP_SOAK_SECS` (default 1) is each round's length: 10 rounds, about ten
//! seconds in CI; set it higher for a longer soak. A second soak runs the shm pair (both sides in this
//! process), its client leaving and connecting again at random moments.
//!
//! A third soaks the input layer: the receiving feth port wrapped in a dlil `Interface` (polled by a
//! pinned thread or by its own input thread, in every pool mode) while a fault thread attaches and
//! detaches an input filter (passing, dropping and consuming frames by their id) and the protocol handler
//! for the sender's EtherType; per reason, every frame is accounted for from the sender to the handler.
//! A fourth (root only; it prints why it skipped elsewhere) runs a TAP port in a namespace of its own:
//! pktloop sends ARP and ICMP echo requests to the kernel and answers its ARP requests while a fault thread
//! sets the link down and up (`ip link set`, and carrier through the port); the port's counters, per
//! reason, must match the kernel's. Each TAP round lasts twice `PKTLOOP_SOAK_SECS`, two rounds (io_uring
//! and readv/writev).

mod common;
mod kernel;

use common::{cfg, frame_bytes};
use kernel::Netns;
use pktloop_engine::dlil::demux::ethertype;
use pktloop_engine::dlil::{
    echo_in_place, Echo, Filter, FilterId, FilterStats, InputThread, Interface, InterfaceHandle, Protocol, Verdict,
};
use pktloop_engine::meta::{Expiry, ExpiryAction};
use pktloop_engine::packet::free_burst;
use pktloop_engine::pool::{PoolConfig, PoolMode};
use pktloop_engine::port::{DropReason, EventKind, LinkState, PortCounters, PortStats, Subscriber};
use pktloop_engine::time::now_ns;
use pktloop_engine::wire::{
    ArpOperation, ArpPacket, ArpRepr, EtherType, EthernetFrame, EthernetRepr, Icmpv4Packet, Icmpv4Repr, IpProtocol,
    Ipv4Packet, Ipv4Repr,
};
use pktloop_engine::{Packet, PacketBurst, Pool, Port};
use pktloop_pmd::fault::{FaultConfig, FaultInjector, Rate};
use pktloop_pmd::feth::{pair, Feth, FethConfig, FethHandle, RxFullPolicy};
use pktloop_pmd::tap::{TapConfig, TapPort};
use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What the fault thread does, and how often it did it.
const FAULTS: [&str; 8] = [
    "peer cleared and set",
    "dequeue stall",
    "link down and up",
    "rx ring filled",
    "pool nearly empty",
    "mtu changed",
    "expired deadlines",
    "port destroyed",
];

/// What the two forwarding threads share with the fault thread.
#[derive(Default)]
struct Switches {
    stop_tx: AtomicBool,
    stop_rx: AtomicBool,
    /// The receiver stops polling (its ring fills).
    rx_paused: AtomicBool,
    /// The sender gives its frames deadlines already past.
    expire: AtomicBool,
    taken: AtomicU64,
    received: AtomicU64,
}

/// One round's figures.
#[derive(Debug, Default)]
struct Round {
    taken: u64,
    received: u64,
    faults: [u64; FAULTS.len()],
    sender: Option<PortStats>,
    receiver: Option<PortStats>,
}

fn round_secs() -> f64 {
    std::env::var("PKTLOOP_SOAK_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(1.0)
}

fn pin(core: usize) {
    let cores = core_affinity::get_core_ids().unwrap_or_default();
    if let Some(&id) = cores.get(core % cores.len().max(1)) {
        core_affinity::set_for_current(id);
    }
}

/// Sends until stopped: frames `frame(id, len)` of 60..=max bytes, deadlines in the past while told so.
fn send(port: &mut impl Port, max_len: usize, frame: fn(u64, usize) -> Vec<u8>, s: &Switches) {
    pin(0);
    let mut rng = fastrand::Rng::with_seed(1);
    let mut burst = PacketBurst::new();
    let mut id = 0u64;
    while !s.stop_tx.load(Ordering::Acquire) {
        if burst.is_empty() {
            for _ in 0..rng.usize(1..=32) {
                let Ok(mut p) = port.tx_pool().packet_from(&frame(id, rng.usize(60..=max_len))) else { break };
                if s.expire.load(Ordering::Relaxed) {
                    p.meta_mut().expiry =
                        Some(Expiry { deadline_ns: now_ns().saturating_sub(1), action: ExpiryAction::Drop });
                }
                burst.push(p);
                id += 1;
            }
        }
        let taken = port.tx_burst(0, &mut burst) as u64;
        s.taken.fetch_add(taken, Ordering::Relaxed);
    }
    free_burst(&mut burst);
}

/// Receives and frees until stopped, pausing while told so.
fn receive(port: &mut impl Port, s: &Switches) {
    pin(1);
    let mut burst = PacketBurst::new();
    while !s.stop_rx.load(Ordering::Acquire) {
        if s.rx_paused.load(Ordering::Relaxed) {
            std::hint::spin_loop();
            continue;
        }
        let got = port.rx_burst(0, &mut burst, 32) as u64;
        s.received.fetch_add(got, Ordering::Relaxed);
        free_burst(&mut burst);
    }
}

/// Stops the receiver for `hold` (its ring fills).
fn pause_receiver(s: &Switches, hold: Duration) {
    s.rx_paused.store(true, Ordering::Relaxed);
    std::thread::sleep(hold);
    s.rx_paused.store(false, Ordering::Relaxed);
}

/// Takes every buffer of `pool` but a few, for `hold`.
fn hold_most_of(pool: &Pool, hold: Duration) {
    let mut held = Vec::new();
    while pool.stats().capacity - pool.in_use() > 8 {
        match pool.alloc() {
            Some(p) => held.push(p),
            None => break,
        }
    }
    std::thread::sleep(hold);
    drop(held);
}

/// Injects one fault of kind `kind` (see [`FAULTS`]), undoing it after a few milliseconds.
fn inject(kind: usize, rng: &mut fastrand::Rng, (ha, hb): (&FethHandle, &FethHandle), pool: &Pool, s: &Switches) {
    let hold = Duration::from_millis(rng.u64(1..=5));
    match kind {
        0 => {
            ha.clear_peer();
            std::thread::sleep(hold);
            ha.set_peer_handle(hb).expect("the pair is whole again");
        }
        1 => {
            hb.set_dequeue_stall(true);
            std::thread::sleep(hold);
            hb.set_dequeue_stall(false);
        }
        2 => {
            ha.set_up(false);
            std::thread::sleep(hold);
            ha.set_up(true);
        }
        3 => pause_receiver(s, hold),
        4 => hold_most_of(pool, hold),
        5 => {
            let mtu = [1280, 1400, 1500][rng.usize(..3)];
            let _ = ha.set_mtu(mtu);
            let _ = hb.set_mtu(mtu);
        }
        _ => {
            s.expire.store(true, Ordering::Relaxed);
            std::thread::sleep(hold);
            s.expire.store(false, Ordering::Relaxed);
        }
    }
}

fn soak_round(mode: PoolMode, wmm: bool, multibuflet: bool, seed: u64) -> Round {
    let config = FethConfig {
        pool_mode: mode,
        wmm,
        multibuflet,
        tx_exp_policy: 1,
        rx_full: if seed.is_multiple_of(2) { RxFullPolicy::Drop } else { RxFullPolicy::Retry },
        ring_size: 128,
        ..cfg()
    };
    let (a, mut b) = pair(&config).unwrap();
    let pools: Vec<Pool> = vec![a.tx_pool().clone(), a.rx_pool().clone(), b.tx_pool().clone(), b.rx_pool().clone()];
    let (ha, hb) = (a.handle(), b.handle());
    let (ca, cb) = (a.counters().clone(), b.counters().clone());
    let sender_pool = a.tx_pool().clone();
    let max_len = if multibuflet { 3000 } else { 1400 };
    let mut faults = FaultConfig { seed, ..Default::default() };
    (faults.tx.drop, faults.tx.truncate, faults.tx.corrupt) =
        (Rate::PerMillion(2000), Rate::PerMillion(1000), Rate::PerMillion(1000));
    faults.tx.reject = Rate::PerMillion(5000);
    let mut a = FaultInjector::new(a, &faults).unwrap();
    let s = Switches::default();
    let mut round = Round::default();
    let mut rng = fastrand::Rng::with_seed(seed);
    std::thread::scope(|scope| {
        let tx = scope.spawn(|| send(&mut a, max_len, frame_bytes, &s));
        let rx = scope.spawn(|| receive(&mut b, &s));
        let end = Instant::now() + Duration::from_secs_f64(round_secs());
        while Instant::now() < end {
            std::thread::sleep(Duration::from_millis(rng.u64(0..20)));
            let kind = rng.usize(..FAULTS.len() - 1);
            inject(kind, &mut rng, (&ha, &hb), &sender_pool, &s);
            round.faults[kind] += 1;
        }
        // The last fault: a port destroyed while traffic flows.
        if rng.bool() {
            hb.destroy()
        } else {
            ha.destroy()
        }
        round.faults[FAULTS.len() - 1] += 1;
        std::thread::sleep(Duration::from_millis(5));
        s.stop_tx.store(true, Ordering::Release);
        tx.join().unwrap();
        s.stop_rx.store(true, Ordering::Release);
        rx.join().unwrap();
    });
    drop((a, b));
    round.taken = s.taken.load(Ordering::Relaxed);
    round.received = s.received.load(Ordering::Relaxed);
    let (sa, sb) = (ca.snapshot(), cb.snapshot());
    let what = format!("{mode:?} wmm={wmm} multibuflet={multibuflet}");
    assert_eq!(sa.opackets + sa.total_drops(), round.taken, "{what}: sender took = sent + dropped ({sa:?})");
    assert_eq!(sb.ipackets + sb.total_drops(), sa.opackets, "{what}: sent = received + dropped ({sb:?})");
    assert_eq!(sb.ipackets, round.received, "{what}: every frame received reached the receiving thread");
    for p in &pools {
        assert_eq!(p.in_use(), 0, "{what}: pool {} has all its buffers back", p.name());
    }
    (round.sender, round.receiver) = (Some(sa), Some(sb));
    round
}

#[test]
fn a_fault_injecting_soak_loses_nothing_in_any_pool_mode() {
    let started = Instant::now();
    let (mut taken, mut received, mut faults) = (0u64, 0u64, [0u64; FAULTS.len()]);
    let mut drops = [0u64; DropReason::COUNT];
    let mut seed = 0;
    for mode in [PoolMode::Global, PoolMode::Private, PoolMode::PrivateSplit] {
        for (wmm, multibuflet) in [(false, false), (true, false), (false, true), (true, true)] {
            if mode == PoolMode::PrivateSplit && multibuflet {
                continue; // a setting feth refuses (multibuflet is off when pool-mode is split)
            }
            seed += 1;
            let r = soak_round(mode, wmm, multibuflet, seed);
            taken += r.taken;
            received += r.received;
            faults.iter_mut().zip(r.faults).for_each(|(t, f)| *t += f);
            for s in [r.sender, r.receiver].into_iter().flatten() {
                drops.iter_mut().zip(s.drops).for_each(|(t, d)| *t += d);
            }
        }
    }
    let faults: Vec<String> = FAULTS.iter().zip(faults).map(|(k, n)| format!("{k} {n}")).collect();
    let drops: Vec<String> =
        DropReason::ALL.iter().zip(drops).filter(|(_, n)| *n > 0).map(|(r, n)| format!("{} {n}", r.as_str())).collect();
    eprintln!(
        "soak: {:.1} s, {seed} rounds; frames taken {taken}, received {received}; faults: {}; drops: {}; buffers leaked 0",
        started.elapsed().as_secs_f64(),
        faults.join(", "),
        drops.join(", ")
    );
    assert!(received > 0 && taken > received, "traffic flowed, and faults cost some of it");
}

/// The shm pair in one process: the server sends through a fault injector from one pinned thread, a
/// client receives on another and, at random moments, drops its port and connects again (the server sees
/// its peer go and come back); the main thread also stops the receiver until the ring fills and nearly
/// empties the server's pool. At the end: frames the server's port took = sent (taken by a client) +
/// dropped by reason; frames sent = received by the clients + dropped by them; every pool whole.
#[test]
fn an_shm_pair_soaks_while_its_client_leaves_and_comes_back() {
    use pktloop_pmd::shm::{Role, ShmConfig, ShmPort};
    let path = std::env::temp_dir().join(format!("pktloop-soak-{}.sock", std::process::id()));
    let pool = |name: &str| {
        let mut c = pktloop_engine::pool::PoolConfig::new(name, 2048, 2048);
        (c.headroom, c.prefer) = (128, pktloop_engine::mem::Prefer::Normal);
        c
    };
    let config = |role| ShmConfig { ring_size: 256, ..ShmConfig::new(&path, role) };
    let server = ShmPort::open(&config(Role::Server), pool("soak-server")).unwrap();
    let (server_pool, server_counters) = (server.tx_pool().clone(), server.counters().clone());
    let mut faults = FaultConfig { seed: 77, ..Default::default() };
    (faults.tx.drop, faults.tx.truncate, faults.tx.reject) =
        (Rate::PerMillion(2000), Rate::PerMillion(1000), Rate::PerMillion(5000));
    let mut server = FaultInjector::new(server, &faults).unwrap();
    let s = Switches::default();
    let reconnect = AtomicBool::new(false);
    let (mut kinds, mut client_drops, mut client_pools_whole) = ([0u64; 3], 0u64, true);
    let started = Instant::now();
    std::thread::scope(|scope| {
        let tx = scope.spawn(|| send(&mut server, 1400, frame_bytes, &s));
        let rx = scope.spawn(|| {
            pin(1);
            let (mut drops, mut whole) = (0u64, true);
            while !s.stop_rx.load(Ordering::Acquire) {
                let mut client = ShmPort::open(&config(Role::Client), pool("soak-client")).unwrap();
                let (client_pool, counters) = (client.tx_pool().clone(), client.counters().clone());
                let mut burst = PacketBurst::new();
                while !s.stop_rx.load(Ordering::Acquire) && !reconnect.load(Ordering::Acquire) {
                    if !s.rx_paused.load(Ordering::Relaxed) {
                        s.received.fetch_add(client.rx_burst(0, &mut burst, 32) as u64, Ordering::Relaxed);
                        free_burst(&mut burst);
                    }
                }
                drop(client);
                let stats = counters.snapshot();
                drops += stats.total_drops();
                whole &= client_pool.in_use() == 0;
                reconnect.store(false, Ordering::Release);
            }
            (drops, whole)
        });
        let mut rng = fastrand::Rng::with_seed(7);
        let end = Instant::now() + Duration::from_secs_f64(2.0 * round_secs());
        while Instant::now() < end {
            std::thread::sleep(Duration::from_millis(rng.u64(0..20)));
            let kind = rng.usize(..3);
            kinds[kind] += 1;
            match kind {
                0 => {
                    reconnect.store(true, Ordering::Release);
                    while reconnect.load(Ordering::Acquire) {
                        std::thread::sleep(Duration::from_millis(1));
                    }
                }
                1 => pause_receiver(&s, Duration::from_millis(rng.u64(1..=5))),
                _ => hold_most_of(&server_pool, Duration::from_millis(rng.u64(1..=5))),
            }
        }
        s.stop_tx.store(true, Ordering::Release);
        tx.join().unwrap();
        s.stop_rx.store(true, Ordering::Release);
        (client_drops, client_pools_whole) = rx.join().unwrap();
    });
    drop(server);
    let sa = server_counters.snapshot();
    let (taken, received) = (s.taken.load(Ordering::Relaxed), s.received.load(Ordering::Relaxed));
    eprintln!(
        "shm soak: {:.1} s; frames taken {taken}, sent {}, received {received}; client reconnects {}, rx ring \
         filled {}, pool nearly empty {}; server drops {:?}; client drops {client_drops}",
        started.elapsed().as_secs_f64(),
        sa.opackets,
        kinds[0],
        kinds[1],
        kinds[2],
        DropReason::ALL
            .iter()
            .zip(sa.drops)
            .filter(|(_, n)| *n > 0)
            .map(|(r, n)| format!("{} {n}", r.as_str()))
            .collect::<Vec<_>>()
    );
    assert_eq!(sa.opackets + sa.total_drops(), taken, "server: taken = sent + dropped ({sa:?})");
    assert_eq!(received + client_drops, sa.opackets, "sent = received by the clients + dropped by them");
    assert!(client_pools_whole, "every client's pool had all its buffers back");
    assert_eq!(server_pool.in_use(), 0, "the server's pool has all its buffers back");
    assert!(kinds[0] > 0 && received > 0 && sa.dropped(DropReason::PeerLost) + sa.dropped(DropReason::NoPeer) > 0);
}

// The input-layer soak: the receiving feth port wrapped in a dlil Interface while a fault thread attaches
// and detaches an input filter and the protocol handler for the sender's EtherType.

/// The EtherType the input-layer soak sends (IEEE local experimental) and its handler is attached for.
const SOAK_ETHERTYPE: u16 = 0x88b5;

/// What the input layer's fault thread does, and how often it did it.
const DLIL_FAULTS: [&str; 4] = ["filter attached", "filter detached", "protocol attached", "protocol detached"];

/// Frames a filter keeps (consumed) before it frees them: enough to hold buffers across bursts, few
/// enough that the sender's pool does not run dry.
const KEEP: usize = 16;

/// Frame `id` of `len` (>= 22) bytes: the soak's EtherType, then the id, so filters judge by content.
fn typed_frame(id: u64, len: usize) -> Vec<u8> {
    let mut f = frame_bytes(id, len);
    f[12..14].copy_from_slice(&SOAK_ETHERTYPE.to_be_bytes());
    f[14..22].copy_from_slice(&id.to_le_bytes());
    f
}

/// What a round's filters saw, consumed and freed, added by each filter when it is dropped (after it
/// freed what it kept), so it is whole once every filter is detached and dropped.
#[derive(Debug, Default)]
struct FilterTally {
    seen: AtomicU64,
    consumed: AtomicU64,
    freed: AtomicU64,
}

/// An input filter with a rule on the id a frame carries: id % 8 == 3 dropped, id % 8 == 5 consumed
/// (kept, then freed by the filter itself), the rest passed. A frame cut too short to carry an id passes
/// (the fault injector truncates some).
struct ById {
    tally: Arc<FilterTally>,
    seen: u64,
    consumed: u64,
    freed: u64,
    kept: Vec<Packet>,
}

impl ById {
    fn new(tally: &Arc<FilterTally>) -> ById {
        // Room for every kept frame made here, at attach: the data path never allocates.
        ById { tally: tally.clone(), seen: 0, consumed: 0, freed: 0, kept: Vec::with_capacity(KEEP) }
    }

    fn release(&mut self) {
        self.freed += self.kept.len() as u64;
        self.kept.clear();
    }
}

impl Filter for ById {
    fn name(&self) -> &str {
        "soak-by-id"
    }

    fn input(&mut self, pkt: Packet) -> Verdict {
        self.seen += 1;
        let mut id = [0u8; 8];
        match pkt.read(14, &mut id).map(|()| u64::from_le_bytes(id) % 8) {
            Ok(3) => Verdict::Drop(pkt),
            Ok(5) => {
                if self.kept.len() == KEEP {
                    self.release();
                }
                self.kept.push(pkt);
                self.consumed += 1;
                Verdict::Consumed
            }
            _ => Verdict::Pass(pkt),
        }
    }
}

impl Drop for ById {
    fn drop(&mut self) {
        self.release();
        let t = &self.tally;
        t.seen.fetch_add(self.seen, Ordering::Relaxed);
        t.consumed.fetch_add(self.consumed, Ordering::Relaxed);
        t.freed.fetch_add(self.freed, Ordering::Relaxed);
    }
}

/// What a round's protocol handlers got, added by each when it is dropped.
#[derive(Debug, Default)]
struct SinkTally {
    got: AtomicU64,
    wrong_type: AtomicU64,
}

/// The protocol handler for the soak's EtherType: counts what it gets (and frames of another type, which
/// demux must never hand it) and leaves them for the interface to free.
struct Sink {
    tally: Arc<SinkTally>,
    got: u64,
    wrong_type: u64,
}

impl Protocol for Sink {
    fn name(&self) -> &str {
        "soak-sink"
    }

    fn input(&mut self, pkts: &mut PacketBurst, _replies: &mut PacketBurst) {
        self.got += pkts.len() as u64;
        self.wrong_type += pkts.iter().filter(|p| ethertype(p.data()) != Ok(SOAK_ETHERTYPE)).count() as u64;
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        self.tally.got.fetch_add(self.got, Ordering::Relaxed);
        self.tally.wrong_type.fetch_add(self.wrong_type, Ordering::Relaxed);
    }
}

fn add_filter_stats(sum: &mut FilterStats, s: FilterStats) {
    (sum.passed, sum.dropped, sum.consumed) =
        (sum.passed + s.passed, sum.dropped + s.dropped, sum.consumed + s.consumed);
}

/// The fault thread's handlers on one interface: what is attached, and what the interface counted for
/// those detached (their counters are final only once detached).
#[derive(Default)]
struct Churn {
    filter: Option<FilterId>,
    protocol: bool,
    /// The detached filters' counters, summed.
    filters: FilterStats,
    /// Frames the interface delivered to the detached handlers.
    delivered: u64,
    faults: [u64; DLIL_FAULTS.len()],
    filter_tally: Arc<FilterTally>,
    sink_tally: Arc<SinkTally>,
}

impl Churn {
    /// Attaches the filter if it is not attached, else detaches it; counts the fault.
    fn toggle_filter(&mut self, h: &InterfaceHandle) {
        if self.filter.is_some() {
            self.detach_filter(h);
            self.faults[1] += 1;
        } else {
            self.filter = Some(h.attach_filter(Box::new(ById::new(&self.filter_tally))));
            self.faults[0] += 1;
        }
    }

    /// Attaches the protocol handler if it is not attached, else detaches it; counts the fault.
    fn toggle_protocol(&mut self, h: &InterfaceHandle) {
        if self.protocol {
            self.detach_protocol(h);
            self.faults[3] += 1;
        } else {
            self.attach_protocol(h);
            self.faults[2] += 1;
        }
    }

    fn attach_protocol(&mut self, h: &InterfaceHandle) {
        let sink = Sink { tally: self.sink_tally.clone(), got: 0, wrong_type: 0 };
        h.attach_protocol(SOAK_ETHERTYPE, Box::new(sink)).expect("no handler for it is attached");
        self.protocol = true;
    }

    fn detach_filter(&mut self, h: &InterfaceHandle) {
        if let Some(id) = self.filter.take() {
            // Dropping the filter frees what it kept.
            let d = h.detach_filter(id).expect("attached by us");
            add_filter_stats(&mut self.filters, d.stats);
        }
    }

    fn detach_protocol(&mut self, h: &InterfaceHandle) {
        if std::mem::take(&mut self.protocol) {
            let (_sink, delivered) = h.detach_protocol(SOAK_ETHERTYPE).expect("attached by us");
            self.delivered += delivered;
        }
    }
}

/// The receiving side of an input-layer round: a pinned thread polling the interface, or its input thread.
enum Receiver<'scope> {
    Pinned(std::thread::ScopedJoinHandle<'scope, Interface>),
    Input(InputThread),
}

impl<'scope> Receiver<'scope> {
    fn start<'env>(
        scope: &'scope std::thread::Scope<'scope, 'env>,
        mut iface: Interface,
        input_thread: bool,
        pools: &[Pool],
        stop: &'env AtomicBool,
    ) -> Receiver<'scope> {
        if input_thread {
            return Receiver::Input(InputThread::spawn(iface, 1, None, pools).expect("an input thread"));
        }
        Receiver::Pinned(scope.spawn(move || {
            pin(1);
            while !stop.load(Ordering::Acquire) {
                iface.poll();
            }
            iface
        }))
    }

    fn stop(self, stop: &AtomicBool) -> Interface {
        stop.store(true, Ordering::Release);
        match self {
            Receiver::Pinned(t) => t.join().unwrap(),
            Receiver::Input(t) => t.stop(),
        }
    }
}

/// Waits until `done` holds or `patience` passed; returns whether it held.
fn wait_until(patience: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + patience;
    while !done() {
        if Instant::now() >= deadline {
            return false;
        }
        // Checked often, without taking a core from the threads being waited for.
        std::thread::sleep(Duration::from_micros(200));
    }
    true
}

/// Frames the sender's port counted as sent that the receiving port has not received or dropped yet.
fn in_flight(sender: &PortCounters, receiver: &PortCounters) -> i64 {
    let (a, b) = (sender.snapshot(), receiver.snapshot());
    a.opackets as i64 - (b.ipackets + b.total_drops()) as i64
}

/// One input-layer round's figures.
#[derive(Default)]
struct DlilRound {
    taken: u64,
    sender: PortStats,
    port: PortStats,
    iface: PortStats,
    churn: Churn,
}

/// The sender's faults in the input-layer soak: truncated frames (some too short for a header: `BadFrame`
/// at demux), corrupted ones (some of another EtherType: `NoProtocol`), drops and back-pressure.
fn sender_faults(seed: u64) -> FaultConfig {
    let mut faults = FaultConfig { seed, ..Default::default() };
    (faults.tx.drop, faults.tx.truncate, faults.tx.corrupt, faults.tx.reject) =
        (Rate::PerMillion(2000), Rate::PerMillion(2000), Rate::PerMillion(2000), Rate::PerMillion(5000));
    faults
}

/// Sends until stopped, then lets the sender's own tx rings (WMM, back-pressure) empty, so that every
/// frame it took is counted as sent or dropped.
fn send_and_flush(a: &mut FaultInjector<Feth>, max_len: usize, s: &Switches) {
    send(a, max_len, typed_frame, s);
    let flushed = wait_until(Duration::from_secs(5), || {
        a.inner_mut().poll();
        a.inner().queued() == 0
    });
    assert!(flushed, "the sender's tx rings emptied ({} frames left)", a.inner().queued());
}

fn dlil_round(mode: PoolMode, wmm: bool, multibuflet: bool, input_thread: bool, seed: u64) -> DlilRound {
    let rx_full = if seed.is_multiple_of(2) { RxFullPolicy::Drop } else { RxFullPolicy::Retry };
    let config = FethConfig { pool_mode: mode, wmm, multibuflet, rx_full, ring_size: 128, ..cfg() };
    let (a, b) = pair(&config).unwrap();
    // Multi-buflet frames up to the largest MTU, so they reach the interface rather than `MtuExceeded`.
    let max_len = if multibuflet { config.max_mtu as usize } else { 1400 };
    for h in [a.handle(), b.handle()].iter().filter(|_| multibuflet) {
        h.set_mtu(config.max_mtu).expect("the largest MTU");
    }
    let pools: Vec<Pool> = vec![a.tx_pool().clone(), a.rx_pool().clone(), b.tx_pool().clone(), b.rx_pool().clone()];
    let (ca, cb) = (a.counters().clone(), b.counters().clone());
    let mut a = FaultInjector::new(a, &sender_faults(seed)).unwrap();
    let iface = Interface::new(Box::new(b), 32);
    let h = iface.handle();
    let mut round = DlilRound::default();
    // The round starts with the handler attached, before any traffic (not a fault).
    round.churn.attach_protocol(&h);
    let (s, mut rng) = (Switches::default(), fastrand::Rng::with_seed(seed));
    let iface = std::thread::scope(|scope| {
        let tx = scope.spawn(|| send_and_flush(&mut a, max_len, &s));
        let rx = Receiver::start(scope, iface, input_thread, &pools, &s.stop_rx);
        let end = Instant::now() + Duration::from_secs_f64(round_secs());
        while Instant::now() < end {
            // A random moment: the sleep sets when the next fault comes, it waits for nothing.
            std::thread::sleep(Duration::from_millis(rng.u64(0..10)));
            if rng.bool() {
                round.churn.toggle_filter(&h);
            } else {
                round.churn.toggle_protocol(&h);
            }
        }
        s.stop_tx.store(true, Ordering::Release);
        tx.join().unwrap();
        let drained = wait_until(Duration::from_secs(5), || in_flight(&ca, &cb) == 0);
        assert!(drained, "the receiver took every frame sent ({} in flight)", in_flight(&ca, &cb));
        rx.stop(&s.stop_rx)
    });
    // Detached here, after the traffic: their counters join the round's, their kept frames are freed.
    round.churn.detach_filter(&h);
    round.churn.detach_protocol(&h);
    drop(iface.detach());
    drop(a);
    (round.taken, round.sender, round.port, round.iface) =
        (s.taken.load(Ordering::Relaxed), ca.snapshot(), cb.snapshot(), h.stats());
    let what = format!("{mode:?} wmm={wmm} multibuflet={multibuflet} input_thread={input_thread}");
    check_dlil_round(&round, &what);
    for p in &pools {
        assert_eq!(p.in_use(), 0, "{what}: pool {} has all its buffers back", p.name());
    }
    round
}

/// Conservation at each step, per reason: sender, wire, port to interface, filters, demux, handlers.
fn check_dlil_round(r: &DlilRound, what: &str) {
    let (sa, sb, si, c) = (&r.sender, &r.port, &r.iface, &r.churn);
    assert_eq!(sa.opackets + sa.total_drops(), r.taken, "{what}: sender took = sent + dropped ({sa:?})");
    assert_eq!(sb.ipackets + sb.total_drops(), sa.opackets, "{what}: sent = received + dropped ({sb:?})");
    assert_eq!(si.ipackets, sb.ipackets, "{what}: every frame the port received entered the interface");
    let [filtered, no_protocol, bad] =
        [DropReason::Filtered, DropReason::NoProtocol, DropReason::BadFrame].map(|r| si.dropped(r));
    assert_eq!(si.total_drops(), filtered + no_protocol + bad, "{what}: the interface's own reasons only ({si:?})");
    assert_eq!(filtered, c.filters.dropped, "{what}: the interface and its filters agree on drops");
    let f = &c.filters;
    assert_eq!(
        si.ipackets,
        f.dropped + f.consumed + c.delivered + no_protocol + bad,
        "{what}: every frame was dropped or consumed by a filter, delivered, or dropped at demux by reason"
    );
    let (ft, st) = (&c.filter_tally, &c.sink_tally);
    assert_eq!(f.passed + f.dropped + f.consumed, ft.seen.load(Ordering::Relaxed), "{what}: filter counters");
    assert_eq!(f.consumed, ft.consumed.load(Ordering::Relaxed), "{what}: consumed, as the filters count it");
    assert_eq!(f.consumed, ft.freed.load(Ordering::Relaxed), "{what}: the filters freed all they consumed");
    assert_eq!(c.delivered, st.got.load(Ordering::Relaxed), "{what}: the handlers got what was delivered");
    assert_eq!(st.wrong_type.load(Ordering::Relaxed), 0, "{what}: demux handed the handler only its type");
}

#[test]
fn an_input_layer_soak_counts_every_frame_while_filters_and_protocols_come_and_go() {
    let started = Instant::now();
    let (mut rounds, mut taken, mut faults) = (0u64, 0u64, [0u64; DLIL_FAULTS.len()]);
    let (mut filters, mut delivered, mut received) = (FilterStats::default(), 0u64, 0u64);
    let mut drops = [0u64; DropReason::COUNT];
    for mode in [PoolMode::Global, PoolMode::Private, PoolMode::PrivateSplit] {
        // feth refuses multibuflet with split pools.
        let multibuflet = mode != PoolMode::PrivateSplit;
        for (wmm, multibuflet) in [(false, false), (true, multibuflet)] {
            rounds += 1;
            // The interface polled by a pinned thread of the test, or by its own input thread.
            let input_thread = rounds.is_multiple_of(2);
            let r = dlil_round(mode, wmm, multibuflet, input_thread, 100 + rounds);
            (taken, received) = (taken + r.taken, received + r.iface.ipackets);
            delivered += r.churn.delivered;
            faults.iter_mut().zip(r.churn.faults).for_each(|(t, f)| *t += f);
            add_filter_stats(&mut filters, r.churn.filters);
            for s in [r.sender, r.port, r.iface] {
                drops.iter_mut().zip(s.drops).for_each(|(t, d)| *t += d);
            }
        }
    }
    let faults: Vec<String> = DLIL_FAULTS.iter().zip(faults).map(|(k, n)| format!("{k} {n}")).collect();
    eprintln!(
        "input-layer soak: {:.1} s, {rounds} rounds (half on an input thread); frames taken {taken}, received by the interface {received}, \
         delivered {delivered}, filters passed {} dropped {} consumed {} (all freed); faults: {}; drops: {}; \
         buffers leaked 0",
        started.elapsed().as_secs_f64(),
        filters.passed,
        filters.dropped,
        filters.consumed,
        faults.join(", "),
        drop_figures(&drops)
    );
    let no_protocol = drops[DropReason::NoProtocol as usize];
    assert!(delivered > 0 && filters.dropped > 0 && filters.consumed > 0, "the filter's every verdict happened");
    assert!(no_protocol > 0, "frames landed while no handler was attached");
}

/// `reason count` for every reason with drops.
fn drop_figures(drops: &[u64; DropReason::COUNT]) -> String {
    let named = DropReason::ALL.iter().zip(drops).filter(|(_, n)| **n > 0);
    named.map(|(r, n)| format!("{} {n}", r.as_str())).collect::<Vec<_>>().join(", ")
}

// The TAP soak: pktloop asks the kernel (ARP requests, ICMP echo requests) through a TAP port in a
// namespace of its own, answers the kernel's ARP requests, while a fault thread sets the link down and up.

/// pktloop's station behind the TAP port, and the kernel's address on it (benchmark range only).
const STATION_IP: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
const KERNEL_IP: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
/// The ICMP identifier of the soak's echo requests.
const ECHO_IDENT: u16 = 0x706b;
/// Requests per second pktloop sends: enough to keep frames in flight through every fault, little
/// enough for a 2-core CI machine's kernel to answer.
const TAP_RATE: f64 = 10_000.0;
/// Most requests one round sends, whatever `PKTLOOP_SOAK_SECS` says.
const TAP_MAX_REQUESTS: u64 = 200_000;
/// How the link goes down and up: from outside with `ip link set` (the kernel refuses writes with EIO,
/// counted as `no_peer`), and through the port's API (carrier off: the kernel takes frames, answers
/// nothing).
const TAP_FAULTS: [&str; 2] = ["link set down and up", "carrier off and on"];

/// What the traffic thread and the fault thread share.
#[derive(Debug)]
struct TapSwitches {
    stop: AtomicBool,
    /// The carrier the fault thread asks for; the traffic thread (the port's owner) sets it.
    carrier: AtomicBool,
    /// The link as the traffic thread last saw it in the port's events.
    link_up: AtomicBool,
}

/// What the traffic thread did.
#[derive(Debug, Default)]
struct TapTraffic {
    taken: u64,
    arp_requests: u64,
    echo_requests: u64,
    received: u64,
    echo_replies: u64,
    arp_replies: u64,
    /// The kernel's ARP requests for the station, answered.
    answered: u64,
    other: u64,
    link_down: u64,
    link_up: u64,
}

/// Request `n`: every fourth an ARP request for the kernel's address (which also teaches the kernel the
/// station's), the others ICMP echo requests with sequence number `n`.
fn tap_request(n: u64, station: [u8; 6], kernel: [u8; 6]) -> Vec<u8> {
    let (ethertype, dst) = if n.is_multiple_of(4) { (EtherType::Arp, [0xff; 6]) } else { (EtherType::Ipv4, kernel) };
    let data = n.to_le_bytes();
    let icmp = Icmpv4Repr::EchoRequest { ident: ECHO_IDENT, seq_no: n as u16, data: &data };
    let mut f = vec![0u8; 60.max(14 + 20 + icmp.buffer_len())];
    let mut eth = EthernetFrame::new_unchecked(&mut f[..]);
    EthernetRepr { src_addr: station.into(), dst_addr: dst.into(), ethertype }.emit(&mut eth);
    if ethertype == EtherType::Arp {
        let arp = ArpRepr {
            operation: ArpOperation::Request,
            sender_hardware_addr: station.into(),
            sender_protocol_addr: STATION_IP,
            target_hardware_addr: [0; 6].into(),
            target_protocol_addr: KERNEL_IP,
        };
        arp.emit(&mut ArpPacket::new_unchecked(eth.payload_mut()));
        return f;
    }
    let mut ip = Ipv4Packet::new_unchecked(eth.payload_mut());
    let ip_repr = Ipv4Repr {
        src_addr: STATION_IP,
        dst_addr: KERNEL_IP,
        protocol: IpProtocol::Icmp,
        payload_len: icmp.buffer_len(),
        ttl: 64,
    };
    ip_repr.emit(&mut ip);
    icmp.emit(&mut Icmpv4Packet::new_unchecked(&mut ip.payload_mut()[..icmp.buffer_len()]));
    f
}

/// What the kernel sent the station.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FromKernel {
    EchoReply,
    ArpReply,
    Other,
}

/// Reads a frame from the kernel (checked views: a malformed frame is `Other`, never a panic).
fn from_kernel(f: &[u8]) -> FromKernel {
    let Ok(eth) = EthernetFrame::new_checked(f) else { return FromKernel::Other };
    match eth.ethertype() {
        EtherType::Arp => {
            let arp = ArpPacket::new_checked(eth.payload()).and_then(|p| ArpRepr::parse(&p));
            match arp {
                Ok(a) if a.operation == ArpOperation::Reply && a.target_protocol_addr == STATION_IP => {
                    FromKernel::ArpReply
                }
                _ => FromKernel::Other,
            }
        }
        EtherType::Ipv4 => {
            let ip = Ipv4Packet::new_checked(eth.payload());
            let icmp = ip.and_then(|ip| Icmpv4Packet::new_checked(ip.payload()));
            match icmp.and_then(|p| Icmpv4Repr::parse(&p)) {
                Ok(Icmpv4Repr::EchoReply { ident: ECHO_IDENT, .. }) => FromKernel::EchoReply,
                _ => FromKernel::Other,
            }
        }
        _ => FromKernel::Other,
    }
}

/// Sorts what arrived: the kernel's ARP requests for the station are answered in place and queued on
/// `out`; the rest is counted and freed.
fn take_answers(port: &TapPort, inp: &mut PacketBurst, out: &mut PacketBurst, t: &mut TapTraffic) {
    for mut p in inp.drain(..) {
        t.received += 1;
        if echo_in_place(p.data_mut(), port.mac(), STATION_IP.octets()) == Echo::ArpReply {
            // `out` holds at most a burst of requests and of answers: room is left (freed if ever not).
            if !out.is_full() {
                out.push(p);
                t.answered += 1;
            }
            continue;
        }
        match from_kernel(p.data()) {
            FromKernel::EchoReply => t.echo_replies += 1,
            FromKernel::ArpReply => t.arp_replies += 1,
            FromKernel::Other => t.other += 1,
        }
    }
}

/// Queues the requests due by now at `TAP_RATE` (at most 8 at a time, `TAP_MAX_REQUESTS` in all).
fn queue_requests(port: &TapPort, started: Instant, t: &mut TapTraffic, out: &mut PacketBurst) {
    let due = ((started.elapsed().as_secs_f64() * TAP_RATE) as u64).min(TAP_MAX_REQUESTS);
    let (station, kernel) = (port.mac(), port.interface_mac());
    for _ in 0..8 {
        let n = t.arp_requests + t.echo_requests;
        if n >= due {
            break;
        }
        let Ok(p) = port.tx_pool().packet_from(&tap_request(n, station, kernel)) else { break };
        out.push(p);
        *if n.is_multiple_of(4) { &mut t.arp_requests } else { &mut t.echo_requests } += 1;
    }
}

/// Tells the fault thread about link changes the port reported.
fn watch_link(events: &Subscriber, sw: &TapSwitches, t: &mut TapTraffic) {
    while let Some(e) = events.poll() {
        match e.kind {
            EventKind::LinkDown => t.link_down += 1,
            EventKind::LinkUp => t.link_up += 1,
            _ => continue,
        }
        sw.link_up.store(e.kind == EventKind::LinkUp, Ordering::Release);
    }
}

/// The port's owner: sends requests and answers, receives, sets the carrier when asked, until stopped.
fn tap_traffic(port: &mut TapPort, events: Subscriber, sw: &TapSwitches) -> TapTraffic {
    pin(0);
    let (started, mut t, mut carrier) = (Instant::now(), TapTraffic::default(), true);
    let (mut out, mut inp) = (PacketBurst::new(), PacketBurst::new());
    while !sw.stop.load(Ordering::Acquire) {
        let want = sw.carrier.load(Ordering::Acquire);
        if want != carrier {
            port.set_carrier(want).expect("the kernel sets the carrier");
            carrier = want;
        }
        watch_link(&events, sw, &mut t);
        queue_requests(port, started, &mut t, &mut out);
        t.taken += port.tx_burst(0, &mut out) as u64;
        if port.rx_burst(0, &mut inp, 32) > 0 {
            take_answers(port, &mut inp, &mut out, &mut t);
        }
    }
    // Not taken by the port: freed here, not counted.
    free_burst(&mut out);
    watch_link(&events, sw, &mut t);
    t
}

/// Sets the link down (`kind` of [`TAP_FAULTS`]), waits until the port reports it, holds it a few
/// milliseconds, sets it up and waits until the port reports that.
fn link_fault(kind: usize, ns: &Netns, name: &str, sw: &TapSwitches, rng: &mut fastrand::Rng) {
    let set = |up: bool| match kind {
        0 => drop(ns.exec(&["ip", "link", "set", "dev", name, if up { "up" } else { "down" }])),
        _ => sw.carrier.store(up, Ordering::Release),
    };
    for up in [false, true] {
        set(up);
        let seen = wait_until(Duration::from_secs(5), || sw.link_up.load(Ordering::Acquire) == up);
        assert!(seen, "{}: the port reported the link {}", TAP_FAULTS[kind], if up { "up" } else { "down" });
        if !up {
            // How long the link stays down: the fault itself, nothing is waited for.
            std::thread::sleep(Duration::from_millis(rng.u64(1..=10)));
        }
    }
}

/// Counters of the TAP interface as the kernel (in its namespace) sees them: frames pktloop wrote that it
/// took and refused, frames it handed pktloop (counted when read).
fn kernel_counters(ns: &Netns, name: &str) -> [u64; 3] {
    ["rx_packets", "rx_dropped", "tx_packets"].map(|c| ns.stat(name, c))
}

/// One TAP round's figures.
#[derive(Debug)]
struct TapRound {
    traffic: TapTraffic,
    stats: PortStats,
    faults: [u64; TAP_FAULTS.len()],
    /// Kernel counters of the interface over the round: rx_packets, rx_dropped, tx_packets.
    kernel: [u64; 3],
}

/// A TAP port (with io_uring or not) in a namespace of its own as 198.18.0.1/24, link state known.
fn tap_in_ns(io_uring: bool, pool: &Pool) -> (TapPort, Netns) {
    let config = TapConfig { name: format!("pkt{}", kernel::tag()), io_uring, ..TapConfig::default() };
    let mut port = TapPort::open(&config, pool.clone()).unwrap();
    let ns = Netns::new();
    ns.adopt(port.name(), &format!("{KERNEL_IP}/24"));
    // What the kernel sent before the move (IPv6 is on outside the namespace) is not the soak's.
    let mut burst = PacketBurst::new();
    while port.rx_burst(0, &mut burst, 32) > 0 {
        burst.clear();
    }
    // Looks at the interface now: the move may have set it down and up unseen by the port.
    port.set_carrier(true).unwrap();
    assert_eq!(port.link(), LinkState::Up);
    (port, ns)
}

fn tap_round(io_uring: bool, seed: u64) -> TapRound {
    let mut c = PoolConfig::new("soak-tap", 1024, 2048);
    (c.headroom, c.prefer) = (32, pktloop_engine::mem::Prefer::Normal);
    let pool = Pool::new(c).unwrap();
    let (mut port, ns) = tap_in_ns(io_uring, &pool);
    let name = port.name().to_owned();
    let up = || AtomicBool::new(true);
    let sw = TapSwitches { stop: AtomicBool::new(false), carrier: up(), link_up: up() };
    let events = port.events().subscribe();
    // Both sides' counters from here: the drain at setup counted what it read.
    let (before, base) = (kernel_counters(&ns, &name), port.stats());
    let (mut rng, mut faults) = (fastrand::Rng::with_seed(seed), [0u64; TAP_FAULTS.len()]);
    let traffic = std::thread::scope(|scope| {
        let traffic = scope.spawn(|| tap_traffic(&mut port, events, &sw));
        let end = Instant::now() + Duration::from_secs_f64(2.0 * round_secs());
        while Instant::now() < end {
            // A random moment: the sleep sets when the next fault comes, it waits for nothing.
            std::thread::sleep(Duration::from_millis(rng.u64(0..50)));
            let kind = (faults.iter().sum::<u64>() % 2) as usize;
            link_fault(kind, &ns, &name, &sw, &mut rng);
            faults[kind] += 1;
        }
        sw.stop.store(true, Ordering::Release);
        traffic.join().unwrap()
    });
    let after = kernel_counters(&ns, &name);
    let round =
        TapRound { traffic, stats: port.stats().since(&base), faults, kernel: [0, 1, 2].map(|i| after[i] - before[i]) };
    check_tap_round(&round, &format!("io_uring={io_uring}"));
    assert_eq!(pool.in_use(), 0, "the TAP port's pool has all its buffers back");
    drop((port, ns));
    round
}

/// Every frame the port took was sent or dropped by a named reason, and the kernel agrees; every frame
/// the kernel handed over was received; every link change was reported.
fn check_tap_round(r: &TapRound, what: &str) {
    let (s, t, [k_rx, k_rx_dropped, k_tx]) = (&r.stats, &r.traffic, r.kernel);
    let [down, refused, lost] =
        [DropReason::NoPeer, DropReason::BadFrame, DropReason::RingFailed].map(|reason| s.dropped(reason));
    assert_eq!(s.ierrors, 0, "{what}: the kernel sent nothing malformed ({s:?})");
    assert_eq!(s.total_drops(), down + refused + lost, "{what}: a TAP port's reasons only ({s:?})");
    assert_eq!(s.opackets + down + refused + lost, t.taken, "{what}: taken = sent + dropped by reason ({s:?})");
    assert_eq!(s.oerrors, down + refused + lost, "{what}: every tx drop is an error");
    assert_eq!(lost, 0, "{what}: no io_uring batch failed (its buffers would be kept from the pool)");
    assert_eq!(k_rx, s.opackets, "{what}: the kernel received every frame the port sent");
    assert_eq!(k_rx_dropped, down, "{what}: the kernel refused (link down) what the port counts no_peer");
    assert_eq!(k_tx, s.ipackets, "{what}: the port received every frame the kernel handed it");
    assert_eq!(s.ipackets, t.received, "{what}: every frame received reached the traffic thread");
    let faults: u64 = r.faults.iter().sum();
    assert_eq!((t.link_down, t.link_up), (faults, faults), "{what}: each fault reported down, then up");
    assert!(r.faults[0] > 0 && down > 0, "{what}: frames met a link set down ({:?})", r.faults);
    assert!(t.echo_replies > 0 && t.echo_replies <= t.echo_requests, "{what}: echo answered at most once");
    assert!(t.arp_replies > 0 && t.arp_replies <= t.arp_requests, "{what}: ARP answered at most once");
}

#[test]
fn a_tap_soak_accounts_for_every_frame_while_the_link_goes_down_and_up() {
    require_kernel!();
    for (seed, io_uring) in [(1, true), (2, false)] {
        let started = Instant::now();
        let r = tap_round(io_uring, seed);
        let (t, s) = (&r.traffic, &r.stats);
        let faults: Vec<String> = TAP_FAULTS.iter().zip(r.faults).map(|(k, n)| format!("{k} {n}")).collect();
        let requests = t.arp_requests + t.echo_requests;
        eprintln!(
            "tap soak ({}): {:.1} s; frames taken {} (requests {requests}, answers to the kernel's ARP {}), sent {}, \
             received {} (echo replies {}, ARP replies {}, other {}), unanswered {}; faults: {}; link events: down \
             {} up {}; drops: {}; buffers leaked 0",
            if io_uring { "io_uring" } else { "readv/writev" },
            started.elapsed().as_secs_f64(),
            t.taken,
            t.answered,
            s.opackets,
            s.ipackets,
            t.echo_replies,
            t.arp_replies,
            t.other,
            requests - t.echo_replies - t.arp_replies,
            faults.join(", "),
            t.link_down,
            t.link_up,
            drop_figures(&s.drops)
        );
    }
}
