//! The AF_XDP port against the real kernel: each test makes two namespaces joined by a veth pair (deleted
//! when the test ends, however it ends), opens the port on one end from inside its namespace, and checks
//! what the kernel at the other end sees and sends. They need root (CAP_NET_ADMIN, CAP_NET_RAW, CAP_BPF),
//! AF_XDP in the kernel and iproute2, and print why they skipped where those are missing.

mod kernel;

use kernel::{Netns, Wire};
use pktloop_engine::mem::Prefer;
use pktloop_engine::pool::PoolConfig;
use pktloop_engine::port::{DropReason, LinkState};
use pktloop_engine::{PacketBurst, Pool, Port};
use pktloop_pmd::afxdp::{AfXdpConfig, AfXdpError, AfXdpPort, XdpMode, XdpWant};
use std::time::{Duration, Instant};

fn pool(buffers: u32) -> Pool {
    let mut c = PoolConfig::new("afxdp-kernel-test", buffers, 2048);
    c.prefer = Prefer::Normal;
    Pool::new(c).unwrap()
}

/// An Ethernet frame of `len` bytes to `dst` with the local experimental EtherType 0x88b5.
fn frame(dst: [u8; 6], len: usize, seq: u8) -> Vec<u8> {
    let mut f: Vec<u8> = (0..len).map(|i| (i as u8).wrapping_mul(7).wrapping_add(seq)).collect();
    f[..6].copy_from_slice(&dst);
    f[6..12].copy_from_slice(&[0x02, 0, 0, 0, 0, seq]);
    f[12..14].copy_from_slice(&[0x88, 0xb5]);
    f
}

/// Polls until `want` frames of EtherType 0x88b5 arrived or two seconds passed.
fn receive(port: &mut AfXdpPort, want: usize) -> Vec<Vec<u8>> {
    let deadline = Instant::now() + Duration::from_secs(2);
    let mut got = Vec::new();
    let mut burst = PacketBurst::new();
    while got.len() < want && Instant::now() < deadline {
        for q in 0..port.rx_queues() {
            port.rx_burst(q, &mut burst, 32);
            got.extend(burst.drain(..).map(|p| p.to_vec()).filter(|f| f[12..14] == [0x88, 0xb5]));
        }
    }
    got
}

/// Sends all of `burst` on queue 0 (for up to two seconds), then waits up to two more for the kernel at the
/// other end to count that many frames. Returns (frames sent, frames the other end's `rx_packets` gained).
fn send_and_count(w: &Wire, port: &mut AfXdpPort, burst: &mut PacketBurst) -> (usize, u64) {
    let before = w.ns_a.stat(&w.a, "rx_packets");
    let mut sent = 0;
    let deadline = Instant::now() + Duration::from_secs(2);
    while !burst.is_empty() && Instant::now() < deadline {
        sent += port.tx_burst(0, burst);
    }
    let deadline = Instant::now() + Duration::from_secs(2);
    while w.ns_a.stat(&w.a, "rx_packets") < before + sent as u64 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    (sent, w.ns_a.stat(&w.a, "rx_packets") - before)
}

fn open(w: &Wire, pool: &Pool) -> AfXdpPort {
    w.ns_b.enter(|| AfXdpPort::open(&AfXdpConfig::new(&w.b), pool.clone())).unwrap()
}

#[test]
fn frames_from_the_kernel_arrive_byte_for_byte_in_pool_buffers() {
    require_kernel!();
    let w = Wire::new();
    let pool = pool(4096);
    let mut port = open(&w, &pool);
    assert_ne!(port.mode(), XdpMode::ZeroCopy, "veth has no zero-copy");
    let frames: Vec<Vec<u8>> = (0..20).map(|i| frame(port.mac(), 60 + i * 70, i as u8)).collect();
    w.ns_a.inject(&w.a, &frames);
    let got = receive(&mut port, frames.len());
    assert_eq!(got, frames);
    assert_eq!(port.stats().ipackets, frames.len() as u64);
    drop(port);
    assert_eq!(pool.in_use(), 0, "every buffer lent to the kernel came back");
}

#[test]
fn frames_sent_by_pktloop_are_counted_by_the_kernel_at_the_other_end() {
    require_kernel!();
    let w = Wire::new();
    let pool = pool(4096);
    let other = pool_named("afxdp-other");
    let mut port = open(&w, &pool);
    let mut burst = PacketBurst::new();
    let peer = [0xff; 6];
    for i in 0..64u8 {
        // Half from the UMEM's pool (sent in place), half from another pool (copied).
        let from = if i % 2 == 0 { &pool } else { &other };
        burst.push(from.packet_from(&frame(peer, if i < 32 { 64 } else { 1500 }, i)).unwrap());
    }
    assert_eq!(send_and_count(&w, &mut port, &mut burst), (64, 64));
    let stats = port.stats();
    assert_eq!((stats.opackets, stats.oerrors), (64, 0));
    assert_eq!(port.xdp_counters().tx_copied(), 32);
    drop(port);
    assert_eq!(pool.in_use(), 0);
    assert_eq!(other.in_use(), 0);
}

/// An empty send is a poll: the buffers of frames the kernel has sent come home with nothing new sent.
#[test]
fn an_empty_send_takes_back_what_the_kernel_has_sent() {
    require_kernel!();
    let w = Wire::new();
    let pool = pool(4096);
    let mut port = open(&w, &pool);
    let lent = pool.in_use();
    let mut burst = PacketBurst::new();
    for i in 0..32u8 {
        burst.push(pool.packet_from(&frame([0xff; 6], 64, i)).unwrap());
    }
    assert_eq!(send_and_count(&w, &mut port, &mut burst), (32, 32));
    assert!(pool.in_use() > lent, "the last frames' buffers are out until a send takes them back");
    let mut empty = PacketBurst::new();
    let deadline = Instant::now() + Duration::from_secs(2);
    while pool.in_use() > lent && Instant::now() < deadline {
        assert_eq!(port.tx_burst(0, &mut empty), 0);
    }
    assert_eq!(pool.in_use(), lent, "empty sends took back every sent frame's buffer");
    assert_eq!(port.stats().opackets, 32);
    drop(port);
    assert_eq!(pool.in_use(), 0);
}

fn pool_named(name: &str) -> Pool {
    let mut c = PoolConfig::new(name, 256, 2048);
    c.prefer = Prefer::Normal;
    Pool::new(c).unwrap()
}

#[test]
fn oversize_and_runt_frames_to_send_are_counted_and_freed() {
    require_kernel!();
    let w = Wire::new();
    let pool = pool(4096);
    let mut port = open(&w, &pool);
    let mut burst = PacketBurst::new();
    burst.push(pool.packet_from(&[0u8; 10]).unwrap());
    burst.push(pool.packet_from(&frame([0xff; 6], 1600, 1)).unwrap());
    assert_eq!(port.tx_burst(0, &mut burst), 2);
    let stats = port.stats();
    assert_eq!((stats.opackets, stats.oerrors), (0, 2));
    assert_eq!((stats.dropped(DropReason::BadFrame), stats.dropped(DropReason::MtuExceeded)), (1, 1));
    drop(port);
    assert_eq!(pool.in_use(), 0);
}

#[test]
fn the_program_goes_away_with_the_port() {
    require_kernel!();
    let w = Wire::new();
    let pool = pool(4096);
    let port = open(&w, &pool);
    let shown = w.ns_b.exec(&["ip", "link", "show", "dev", &w.b]);
    assert!(String::from_utf8_lossy(&shown.stdout).contains("xdp"), "the program is attached while the port lives");
    drop(port);
    let shown = w.ns_b.exec(&["ip", "link", "show", "dev", &w.b]);
    assert!(!String::from_utf8_lossy(&shown.stdout).contains("xdp"), "and gone after");
    // The interface works for the kernel again: a second port can attach.
    let port = open(&w, &pool);
    assert_eq!(port.link(), LinkState::Up);
}

#[test]
fn missing_down_or_misnamed_interfaces_and_bad_settings_are_refused_by_name() {
    require_kernel!();
    let w = Wire::new();
    let pool = pool(4096);
    let try_open = |c: AfXdpConfig| w.ns_b.enter(|| AfXdpPort::open(&c, pool.clone())).unwrap_err();
    let e = try_open(AfXdpConfig::new("nosuchif0"));
    assert!(matches!(e, AfXdpError::NoInterface { .. }), "{e}");
    assert!(e.to_string().contains("nosuchif0"));
    let e = try_open(AfXdpConfig::new("a-name-longer-than-15"));
    assert!(matches!(e, AfXdpError::NameTooLong { len: 21, max: 15, .. }), "{e}");
    let e = try_open(AfXdpConfig { queues: 0, ..AfXdpConfig::new(&w.b) });
    assert_eq!(e.to_string(), "invalid afxdp queues 0: valid is 1..=64");
    let e = try_open(AfXdpConfig { ring_size: 1000, ..AfXdpConfig::new(&w.b) });
    assert!(e.to_string().contains("ring-size 1000"), "{e}");
    let small = pool_named("afxdp-small");
    let e = w.ns_b.enter(|| AfXdpPort::open(&AfXdpConfig::new(&w.b), small.clone())).unwrap_err();
    assert!(matches!(e, AfXdpError::PoolTooSmall { have: 256, .. }), "{e}");
    w.ns_b.exec(&["ip", "link", "set", "dev", &w.b, "down"]);
    let e = try_open(AfXdpConfig::new(&w.b));
    assert!(matches!(e, AfXdpError::Down { .. }), "{e}");
    assert!(e.to_string().contains("ip link set dev"));
}

#[test]
fn two_queues_share_one_umem_and_each_receives_and_sends() {
    require_kernel!();
    let (ns_a, ns_b) = (Netns::new(), Netns::new());
    let t = kernel::tag();
    let (a, b) = (format!("qa{t}"), format!("qb{t}"));
    let queues = ["numtxqueues", "2", "numrxqueues", "2"];
    let mut add = vec!["ip", "link", "add", &a];
    add.extend(queues);
    add.extend(["type", "veth", "peer", "name", &b]);
    add.extend(queues);
    add.extend(["netns", &ns_b.name]);
    ns_a.exec(&add);
    ns_a.exec(&["ip", "addr", "add", "198.18.0.1/24", "dev", &a]);
    ns_a.exec(&["ip", "link", "set", "dev", &a, "up"]);
    ns_b.exec(&["ip", "link", "set", "dev", &b, "up"]);
    let pool = pool(16384);
    let config = AfXdpConfig { queues: 2, ..AfXdpConfig::new(&b) };
    let mut port = ns_b.enter(|| AfXdpPort::open(&config, pool.clone())).unwrap();
    assert_eq!(port.rx_queues(), 2);
    kernel::check_missing_queues(&mut port, &pool);
    let mac: Vec<String> = port.mac().iter().map(|x| format!("{x:02x}")).collect();
    ns_a.exec(&["ip", "neigh", "add", "198.18.0.2", "lladdr", &mac.join(":"), "dev", &a]);
    // One UDP socket per datagram: the kernel hashes each to a tx queue of `a`, which is the rx queue of `b`.
    let script = "import socket\nfor i in range(400):\n    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n    \
                  s.sendto(b'x' * 18, ('198.18.0.2', 9))\n    s.close()\n";
    ns_a.exec(&["python3", "-c", script]);
    let deadline = Instant::now() + Duration::from_secs(2);
    let mut per_queue = [0usize; 2];
    let mut burst = PacketBurst::new();
    while per_queue.iter().sum::<usize>() < 400 && Instant::now() < deadline {
        for (q, got) in per_queue.iter_mut().enumerate() {
            port.rx_burst(q, &mut burst, 32);
            *got += burst.drain(..).filter(|p| p.data()[12..14] == [0x08, 0x00]).count();
        }
    }
    assert_eq!(per_queue.iter().sum::<usize>(), 400, "every datagram arrived: {per_queue:?}");
    assert!(per_queue.iter().all(|&n| n > 0), "both queues received: {per_queue:?}");
    // Each queue sends too.
    let before = ns_a.stat(&a, "rx_packets");
    for q in 0..2 {
        let mut burst = PacketBurst::new();
        for i in 0..32u8 {
            burst.push(pool.packet_from(&frame([0xff; 6], 64, i)).unwrap());
        }
        let deadline = Instant::now() + Duration::from_secs(2);
        while !burst.is_empty() && Instant::now() < deadline {
            port.tx_burst(q, &mut burst);
        }
    }
    let deadline = Instant::now() + Duration::from_secs(2);
    while ns_a.stat(&a, "rx_packets") < before + 64 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(ns_a.stat(&a, "rx_packets") - before, 64);
    drop(port);
    assert_eq!(pool.in_use(), 0);
}

#[test]
fn an_open_that_fails_after_lending_buffers_gives_every_one_back() {
    require_kernel!();
    let w = Wire::new();
    let pool = pool(16384);
    // Queue 0 binds and fills its fill ring; queue 1 does not exist on a one-queue veth.
    let config = AfXdpConfig { queues: 2, ..AfXdpConfig::new(&w.b) };
    let e = w.ns_b.enter(|| AfXdpPort::open(&config, pool.clone())).unwrap_err();
    assert!(matches!(e, AfXdpError::Bind { queue: 1, .. }), "{e}");
    assert!(e.to_string().contains("queue 1"), "{e}");
    assert_eq!(pool.in_use(), 0, "the buffers queue 0 lent to its fill ring came back");
    // And the interface is free again for a port that fits it.
    let port = open(&w, &pool);
    assert_eq!(port.rx_queues(), 1);
}

#[test]
fn frames_that_arrived_and_were_never_received_are_counted_detached_at_teardown() {
    require_kernel!();
    let w = Wire::new();
    let pool = pool(4096);
    let port = open(&w, &pool);
    let frames: Vec<Vec<u8>> = (0..20).map(|i| frame(port.mac(), 64, i as u8)).collect();
    w.ns_a.inject(&w.a, &frames);
    // Nobody polls: the frames wait in the rx ring (or, had it been full, the kernel counts them missed).
    std::thread::sleep(Duration::from_millis(200));
    let (counters, xdp) = (port.counters().clone(), port.xdp_counters().clone());
    drop(port);
    let stats = counters.snapshot();
    let missed = xdp.kernel_rx_ring_full() + xdp.kernel_rx_dropped();
    assert_eq!(stats.ipackets, 0);
    // Other frames the kernel sends on a new link (IPv6 neighbour discovery) may arrive too.
    assert!(stats.dropped(DropReason::Detached) + missed >= 20, "{stats:?}, missed {missed}");
    assert!(stats.dropped(DropReason::Detached) > 0, "{stats:?}");
    assert_eq!(stats.ierrors, stats.dropped(DropReason::Detached), "came in as errors, so the accounting meets");
    assert_eq!(pool.in_use(), 0);
}

#[test]
fn frames_the_kernel_drops_are_counted_missed_even_when_the_port_drops_right_after() {
    require_kernel!();
    let w = Wire::new();
    let pool = pool(4096);
    // Small rings: 32 buffers in the fill ring, 64 rx slots; 300 frames arrive before the first poll.
    let config = AfXdpConfig { ring_size: 64, ..AfXdpConfig::new(&w.b) };
    let mut port = w.ns_b.enter(|| AfXdpPort::open(&config, pool.clone())).unwrap();
    let frames: Vec<Vec<u8>> = (0..300).map(|i| frame(port.mac(), 64, i as u8)).collect();
    w.ns_a.inject(&w.a, &frames);
    // Fewer polls than the few thousand between two reads of the kernel's counters: only teardown reads
    // them.
    let mut burst = PacketBurst::new();
    let mut got = 0;
    for _ in 0..200 {
        got += port.rx_burst(0, &mut burst, 32);
        burst.clear();
    }
    assert!(got > 0 && got < 300, "the rings hold fewer than 300: {got}");
    let counters = port.xdp_counters().clone();
    drop(port);
    let missed = counters.kernel_rx_ring_full() + counters.kernel_rx_dropped();
    assert_eq!(got as u64 + missed, 300, "received {got}, missed {missed}: every frame is one or the other");
    assert_eq!(pool.in_use(), 0);
}

#[test]
fn the_mode_asked_for_is_the_mode_obtained_or_a_refusal_naming_it() {
    require_kernel!();
    let w = Wire::new();
    let pool = pool(4096);
    let with = |want| AfXdpConfig { want, ..AfXdpConfig::new(&w.b) };
    for (want, mode) in
        [(XdpWant::Auto, XdpMode::Copy), (XdpWant::Copy, XdpMode::Copy), (XdpWant::Generic, XdpMode::Generic)]
    {
        let mut port = w.ns_b.enter(|| AfXdpPort::open(&with(want), pool.clone())).unwrap();
        assert_eq!(port.mode(), mode, "{want:?}");
        // Frames flow in each mode.
        w.ns_a.inject(&w.a, &[frame(port.mac(), 60, 1)]);
        assert_eq!(receive(&mut port, 1).len(), 1, "{want:?}");
    }
    // Zero-copy over buffers that cross pages is refused before veth is asked; over chunks, veth refuses it.
    let e = w.ns_b.enter(|| AfXdpPort::open(&with(XdpWant::ZeroCopy), pool.clone())).unwrap_err();
    assert!(matches!(e, AfXdpError::ZeroCopyNeedsChunks { .. }), "{e}");
    let mut c = PoolConfig::new("afxdp-zc", 4096, 2048);
    c.prefer = Prefer::Normal;
    c.chunks = true;
    let chunks = Pool::new(c).unwrap();
    let e = w.ns_b.enter(|| AfXdpPort::open(&with(XdpWant::ZeroCopy), chunks.clone())).unwrap_err();
    assert!(matches!(e, AfXdpError::ModeRefused { mode: "zero-copy", .. }), "{e}");
    // In copy mode the aligned UMEM moves frames as the unaligned one does.
    let mut port = w.ns_b.enter(|| AfXdpPort::open(&with(XdpWant::Copy), chunks.clone())).unwrap();
    w.ns_a.inject(&w.a, &[frame(port.mac(), 60, 7)]);
    assert_eq!(receive(&mut port, 1).len(), 1);
    drop(port);
    assert_eq!((pool.in_use(), chunks.in_use()), (0, 0));
}
