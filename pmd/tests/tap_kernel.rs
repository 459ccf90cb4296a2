//! The TAP port against the real kernel: each test makes a TAP interface, moves it into a namespace of its
//! own (deleted when the test ends, however it ends) and checks what the kernel sees and sends. They need
//! root (CAP_NET_ADMIN), /dev/net/tun and iproute2, and print why they skipped where those are missing.

mod kernel;

use kernel::Netns;
use pktloop_engine::mem::Prefer;
use pktloop_engine::pool::PoolConfig;
use pktloop_engine::port::{DropReason, EventKind, LinkState};
use pktloop_engine::{PacketBurst, Pool, Port};
use pktloop_pmd::tap::{Io, TapConfig, TapError, TapPort};
use std::time::{Duration, Instant};

fn pool(buf_size: u32, max_buflets: u16) -> Pool {
    let mut c = PoolConfig::new("tap-kernel-test", 1024, buf_size);
    c.headroom = 32;
    c.max_buflets = max_buflets;
    c.prefer = Prefer::Normal;
    Pool::new(c).unwrap()
}

/// A TAP port named after this test, moved into a fresh namespace as 198.18.0.1/24.
fn port_in_ns(io_uring: bool, queues: usize, pool: Pool) -> (TapPort, Netns) {
    let config = TapConfig { name: format!("pkt{}", kernel::tag()), queues, io_uring, ..TapConfig::default() };
    let mut port = TapPort::open(&config, pool).unwrap();
    if io_uring {
        assert_eq!(port.io(), Io::IoUring, "this kernel has io_uring");
    }
    let ns = Netns::new();
    ns.adopt(port.name(), "198.18.0.1/24");
    drain(&mut port);
    (port, ns)
}

/// Reads and frees what the kernel sent before the interface moved (IPv6 is on in this process's
/// namespace, off in the test's: the interface may have announced itself by IPv6 multicast in between).
fn drain(port: &mut TapPort) {
    let mut burst = PacketBurst::new();
    for q in 0..port.rx_queues() {
        while port.rx_burst(q, &mut burst, 32) > 0 {
            burst.clear();
        }
    }
}

/// An Ethernet frame of `len` bytes to `dst` with the local experimental EtherType 0x88b5 and a payload
/// that says which frame it is.
fn frame(dst: [u8; 6], src: [u8; 6], len: usize, seq: u8) -> Vec<u8> {
    let mut f: Vec<u8> = (0..len).map(|i| (i as u8).wrapping_mul(13).wrapping_add(seq)).collect();
    f[..6].copy_from_slice(&dst);
    f[6..12].copy_from_slice(&src);
    f[12..14].copy_from_slice(&[0x88, 0xb5]);
    f
}

/// Polls queue `queue` until `want` frames of EtherType 0x88b5 arrived or two seconds passed; frames the
/// kernel sent on its own (none are expected with IPv6 off) are dropped from the result.
fn receive(port: &mut TapPort, queue: usize, want: usize) -> Vec<Vec<u8>> {
    let deadline = Instant::now() + Duration::from_secs(2);
    let mut got = Vec::new();
    let mut burst = PacketBurst::new();
    while got.len() < want && Instant::now() < deadline {
        port.rx_burst(queue, &mut burst, 32);
        got.extend(burst.drain(..).map(|p| p.to_vec()).filter(|f| f[12..14] == [0x88, 0xb5]));
    }
    got
}

fn each_io(test: impl Fn(bool)) {
    for io_uring in [false, true] {
        test(io_uring);
    }
}

#[test]
fn frames_sent_by_pktloop_are_counted_by_the_kernel() {
    require_kernel!();
    each_io(|io_uring| {
        let p = pool(2048, 1);
        let (mut port, ns) = port_in_ns(io_uring, 1, p.clone());
        let before = ns.stat(port.name(), "rx_packets");
        let n = 2000;
        let (dst, src) = (port.interface_mac(), port.mac());
        let mut sent = 0;
        while sent < n {
            let mut burst = PacketBurst::new();
            for i in 0..32.min(n - sent) {
                burst.push(p.packet_from(&frame(dst, src, 64, i as u8)).unwrap());
            }
            sent += port.tx_burst(0, &mut burst);
            assert!(burst.is_empty(), "the kernel takes every frame");
        }
        let s = port.stats();
        assert_eq!((s.opackets, s.obytes, s.oerrors), (n as u64, 64 * n as u64, 0));
        assert_eq!(ns.stat(port.name(), "rx_packets") - before, n as u64, "the kernel saw every frame");
        assert_eq!(p.in_use(), 0);
        let per_frame = port.tap_counters().tx_syscalls() as f64 / n as f64;
        if io_uring {
            assert!(per_frame <= 1.0 / 16.0, "{per_frame} system calls per frame with io_uring");
        } else {
            assert_eq!(per_frame, 1.0);
        }
    });
}

#[test]
fn frames_from_a_packet_socket_arrive_byte_for_byte() {
    require_kernel!();
    each_io(|io_uring| {
        // Small buflets: the long frames arrive as chains.
        for (buf, buflets) in [(2048, 1), (512, 4)] {
            let (mut port, ns) = port_in_ns(io_uring, 1, pool(buf, buflets));
            let sent: Vec<Vec<u8>> = [60, 64, 100, 511, 512, 513, 1000, 1514]
                .iter()
                .enumerate()
                .map(|(i, &len)| frame(port.mac(), [2, 0, 0, 0, 0, 9], len, i as u8))
                .collect();
            ns.inject(port.name(), &sent);
            assert_eq!(receive(&mut port, 0, sent.len()), sent, "io_uring {io_uring}, buflets {buflets}");
            let s = port.stats();
            assert_eq!((s.ierrors, s.total_drops()), (0, 0));
        }
    });
}

#[test]
fn oversize_and_garbage_frames_from_the_kernel_are_counted_and_never_stop_the_port() {
    require_kernel!();
    each_io(|io_uring| {
        let p = pool(2048, 1);
        let (mut port, ns) = port_in_ns(io_uring, 1, p.clone());
        // The kernel side allows frames longer than pktloop's MTU (1500) and than its buffers.
        ns.exec(&["ip", "link", "set", "dev", port.name(), "mtu", "4000"]);
        let mac = port.mac();
        let garbage: Vec<u8> = (0..14u8).map(|i| i.wrapping_mul(37)).collect();
        let frames = vec![
            frame(mac, mac, 1519, 1), // one byte longer than MTU + 18
            frame(mac, mac, 3000, 2), // longer than a buffer
            garbage.clone(),          // a header and nothing else, of no known type: a frame all the same
            frame(mac, mac, 1518, 3), // the longest good frame
        ];
        ns.inject(port.name(), &frames);
        let deadline = Instant::now() + Duration::from_secs(2);
        let mut got = Vec::new();
        let mut burst = PacketBurst::new();
        while got.len() < 2 && Instant::now() < deadline {
            port.rx_burst(0, &mut burst, 32);
            got.extend(burst.drain(..).map(|p| p.to_vec()));
        }
        assert_eq!(got, vec![garbage, frames[3].clone()]);
        let s = port.stats();
        assert_eq!((s.ierrors, s.dropped(DropReason::BadFrame)), (2, 2));
        assert_eq!(p.in_use(), 0, "the bad frames' buffers went back");
    });
}

#[test]
fn link_follows_the_interface_state_and_the_carrier() {
    require_kernel!();
    let (mut port, ns) = port_in_ns(true, 1, pool(2048, 1));
    let events = port.events().subscribe();
    let poll = |port: &mut TapPort| {
        let mut b = PacketBurst::new();
        for _ in 0..5000 {
            port.rx_burst(0, &mut b, 32);
            b.clear();
        }
    };
    let name = port.name().to_owned();
    ns.exec(&["ip", "link", "set", "dev", &name, "down"]);
    poll(&mut port);
    assert_eq!(port.link(), LinkState::Down, "moved to another namespace and downed there");
    ns.exec(&["ip", "link", "set", "dev", &name, "up"]);
    poll(&mut port);
    assert_eq!(port.link(), LinkState::Up);
    port.set_carrier(false).unwrap();
    assert_eq!(port.link(), LinkState::Down);
    let carrier = ns.exec(&["cat", &format!("/sys/class/net/{name}/carrier")]);
    assert_eq!(String::from_utf8_lossy(&carrier.stdout).trim(), "0", "the kernel sees no carrier");
    port.set_carrier(true).unwrap();
    assert_eq!(port.link(), LinkState::Up);
    let kinds: Vec<EventKind> = events.drain().into_iter().map(|e| e.kind).collect();
    assert_eq!(kinds, [EventKind::LinkDown, EventKind::LinkUp, EventKind::LinkDown, EventKind::LinkUp]);
}

#[test]
fn mac_and_mtu_set_by_pktloop_are_the_kernels() {
    require_kernel!();
    let (mut port, ns) = port_in_ns(true, 1, pool(2048, 1));
    let name = port.name().to_owned();
    port.set_interface_mac([0x02, 0x18, 0, 0, 0, 0x42]).unwrap();
    port.set_mtu(1400).unwrap();
    let show = String::from_utf8_lossy(&ns.exec(&["ip", "link", "show", "dev", &name]).stdout).into_owned();
    assert!(show.contains("link/ether 02:18:00:00:00:42"), "{show}");
    assert!(show.contains("mtu 1400"), "{show}");
    assert_eq!((port.interface_mac(), port.mtu()), ([0x02, 0x18, 0, 0, 0, 0x42], 1400));
    assert_ne!(port.mac(), port.interface_mac(), "pktloop's station is the other end of the wire");
    match port.set_mtu(4000) {
        Err(TapError::Mtu { value: 4000, min: 68, max }) => assert_eq!(max, 2048 - 32 - 19),
        other => panic!("{other:?}"),
    }
    match port.set_interface_mac([0x01, 0, 0, 0, 0, 1]) {
        Err(TapError::Os { .. }) => {}
        other => panic!("a multicast MAC is refused: {other:?}"),
    }
}

#[test]
fn the_interface_goes_away_with_the_port() {
    require_kernel!();
    let (port, ns) = port_in_ns(true, 2, pool(2048, 1));
    let name = port.name().to_owned();
    assert!(ns.try_exec(&["ip", "link", "show", "dev", &name]).status.success());
    drop(port);
    assert!(!ns.try_exec(&["ip", "link", "show", "dev", &name]).status.success(), "{name} still exists");
}

#[test]
fn names_that_are_too_long_taken_or_malformed_are_refused_with_the_limit() {
    require_kernel!();
    let open = |name: &str| TapPort::open(&TapConfig { name: name.to_owned(), ..TapConfig::default() }, pool(2048, 1));
    match open("a-name-far-too-long") {
        Err(e @ TapError::NameTooLong { len: 19, max: 15, .. }) => {
            assert_eq!(e.to_string(), "invalid tap-name \"a-name-far-too-long\": 19 bytes, valid is 1..=15 bytes");
        }
        other => panic!("{other:?}"),
    }
    for bad in ["", "a/b", "two words", "%d%d", "50%"] {
        assert!(matches!(open(bad), Err(TapError::BadName { .. })), "{bad:?}");
    }
    let first = open(&format!("pkt{}", kernel::tag())).unwrap();
    let name = first.name().to_owned();
    let ns = Netns::new();
    ns.adopt(&name, "198.18.0.1/24");
    // Taken in our namespace by an interface that is not ours to attach to: make one here by name.
    let again = TapPort::open(&TapConfig { name: name.clone(), ..TapConfig::default() }, pool(2048, 1)).unwrap();
    match open(&name) {
        Err(e @ TapError::NameTaken { .. }) => assert!(e.to_string().contains(&name)),
        other => panic!("a second single-queue open of {name} must be refused: {other:?}"),
    }
    drop((again, first));
}

#[test]
fn every_queue_of_a_multi_queue_port_moves_frames() {
    require_kernel!();
    let p = pool(2048, 1);
    let (mut port, ns) = port_in_ns(true, 4, p.clone());
    assert_eq!((port.rx_queues(), port.tx_queues()), (4, 4));
    kernel::check_missing_queues(&mut port, &p);
    let name = port.name().to_owned();
    let before = ns.stat(&name, "rx_packets");
    for q in 0..4 {
        let mut burst = PacketBurst::new();
        for i in 0..10 {
            burst.push(p.packet_from(&frame(port.interface_mac(), port.mac(), 64, i)).unwrap());
        }
        assert_eq!(port.tx_burst(q, &mut burst), 10, "queue {q}");
    }
    assert_eq!(ns.stat(&name, "rx_packets") - before, 40);
    // The kernel spreads what it sends over the queues; together they get every frame.
    let sent: Vec<Vec<u8>> = (0..40).map(|i| frame(port.mac(), [2, 0, 0, 0, 1, i], 60, i)).collect();
    ns.inject(&name, &sent);
    let mut got: Vec<Vec<u8>> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(2);
    let mut burst = PacketBurst::new();
    while got.len() < 40 && Instant::now() < deadline {
        for q in 0..4 {
            port.rx_burst(q, &mut burst, 32);
            got.extend(burst.drain(..).map(|p| p.to_vec()).filter(|f| f[12..14] == [0x88, 0xb5]));
        }
    }
    got.sort();
    let mut want = sent;
    want.sort();
    assert_eq!(got, want);
}
