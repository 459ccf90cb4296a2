//! The TAP soak: pktloop asks the kernel (ARP requests, ICMP echo requests) through a TAP port in a
//! namespace of its own and answers the kernel's ARP requests, while a fault thread sets the link down and
//! up; the port's counters, per reason, must match the kernel's.

mod frames;

use crate::common::{drop_figures, pin, round_secs, wait_until};
use crate::kernel::{self, Netns};
use crate::require_kernel;
use frames::{from_kernel, tap_request, FromKernel, KERNEL_IP, STATION_IP};
use pktloop_engine::dlil::{echo_in_place, Echo};
use pktloop_engine::packet::free_burst;
use pktloop_engine::pool::PoolConfig;
use pktloop_engine::port::{DropReason, EventKind, LinkState, PortStats, Subscriber};
use pktloop_engine::{PacketBurst, Pool, Port};
use pktloop_pmd::tap::{TapConfig, TapPort};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

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
