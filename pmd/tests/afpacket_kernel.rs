//! The AF_PACKET port against the real kernel: each test makes two network namespaces joined by a veth
//! pair (deleted when the test ends, however it ends), opens pktloop's port on end B from inside B's
//! namespace, and plays the rest of the world from end A: it injects frames through a packet socket there
//! and reads A's counters. They need root (CAP_NET_ADMIN and CAP_NET_RAW), iproute2 and python3, and print
//! why they skipped where those are missing.

mod kernel;

use kernel::Wire;
use pktloop_engine::mem::Prefer;
use pktloop_engine::pool::PoolConfig;
use pktloop_engine::port::{DropReason, EventKind, LinkState};
use pktloop_engine::{PacketBurst, Pool, Port};
use pktloop_pmd::afpacket::{AfPacketConfig, AfPacketError, AfPacketPort, MAX_QUEUES};
use std::time::{Duration, Instant};

/// Returns early, printing why, when these tests cannot run here.
macro_rules! require_afpacket {
    () => {
        require_kernel!();
        if let Some(why) = pktloop_pmd::afpacket::unavailable() {
            eprintln!("skipped: {why}");
            return;
        }
    };
}

/// How long a test waits for the kernel (frames, link changes) before it fails.
const PATIENCE: Duration = Duration::from_secs(3);

fn pool(buffers: u32, buf_size: u32, max_buflets: u16) -> Pool {
    let mut c = PoolConfig::new("afpacket-kernel-test", buffers, buf_size);
    c.headroom = 32;
    c.max_buflets = max_buflets;
    c.prefer = Prefer::Normal;
    Pool::new(c).unwrap()
}

/// A new wire: `a` in `ns_a` plays the world, `b` in `ns_b` is pktloop's end; returns once `b` is up.
fn wire() -> Wire {
    let w = Wire::new();
    w.ns_b.wait_operstate(&w.b, "up", PATIENCE);
    w
}

/// The settings for a port on `b`.
fn config(w: &Wire) -> AfPacketConfig {
    AfPacketConfig::new(w.b.clone())
}

/// Opens the port on `b` from inside its namespace.
fn open(w: &Wire, config: AfPacketConfig, pool: Pool) -> AfPacketPort {
    try_open(w, config, pool).unwrap()
}

fn try_open(w: &Wire, config: AfPacketConfig, pool: Pool) -> Result<AfPacketPort, AfPacketError> {
    w.ns_b.enter(|| AfPacketPort::open(&config, pool))
}

/// The world's MAC address (of `a`).
fn peer_mac(w: &Wire) -> [u8; 6] {
    w.ns_a.mac(&w.a)
}

/// Sends `frames` out of `a` (so they arrive at `b`), in order.
fn inject(w: &Wire, frames: &[Vec<u8>]) {
    w.ns_a.inject(&w.a, frames);
}

/// A frame of `len` bytes to `dst` with the local experimental EtherType 0x88b5 and a payload that says
/// which frame it is.
fn frame(dst: [u8; 6], src: [u8; 6], len: usize, seq: u16) -> Vec<u8> {
    let mut f: Vec<u8> = (0..len.max(16)).map(|i| (i as u8).wrapping_mul(13).wrapping_add(seq as u8)).collect();
    f[..6].copy_from_slice(&dst);
    f[6..12].copy_from_slice(&src);
    f[12..14].copy_from_slice(&[0x88, 0xb5]);
    f[14..16].copy_from_slice(&seq.to_be_bytes());
    f.truncate(len);
    f
}

/// `frame` with an 802.1Q (or, with `tpid` 0x88a8, 802.1ad) tag carrying `tci` after the addresses.
fn tagged(dst: [u8; 6], src: [u8; 6], len: usize, seq: u16, tpid: u16, tci: u16) -> Vec<u8> {
    let mut f = frame(dst, src, len - 4, seq);
    let tag = [tpid.to_be_bytes(), tci.to_be_bytes()].concat();
    f.splice(12..12, tag);
    f
}

/// An IPv4/UDP frame 198.18.0.1:`sport` -> 198.18.1.1:`dport` of `len` bytes (flows for the fanout hash).
fn udp(dst: [u8; 6], src: [u8; 6], sport: u16, dport: u16, len: usize) -> Vec<u8> {
    let mut f = vec![0u8; len];
    f[..6].copy_from_slice(&dst);
    f[6..12].copy_from_slice(&src);
    f[12..14].copy_from_slice(&[0x08, 0x00]);
    let ip_len = (len - 14) as u16;
    let ip = &mut f[14..34];
    ip[0] = 0x45;
    ip[2..4].copy_from_slice(&ip_len.to_be_bytes());
    ip[8] = 64;
    ip[9] = 17;
    ip[12..16].copy_from_slice(&[198, 18, 0, 1]);
    ip[16..20].copy_from_slice(&[198, 18, 1, 1]);
    let sum = !ip.chunks(2).fold(0u32, |s, w| {
        let s = s + u32::from(u16::from_be_bytes([w[0], w[1]]));
        (s & 0xffff) + (s >> 16)
    }) as u16;
    ip[10..12].copy_from_slice(&sum.to_be_bytes());
    let udp = &mut f[34..42];
    udp[0..2].copy_from_slice(&sport.to_be_bytes());
    udp[2..4].copy_from_slice(&dport.to_be_bytes());
    udp[4..6].copy_from_slice(&(ip_len - 20).to_be_bytes());
    f
}

/// Whether a frame is one of this file's (the kernel sends nothing else here, but be sure).
fn ours(f: &[u8]) -> bool {
    f.len() >= 14 && [[0x88, 0xb5], [0x08, 0x00], [0x81, 0x00], [0x88, 0xa8]].contains(&[f[12], f[13]])
}

/// Polls queue `queue` (bursts of at most `max`) until `want` of this file's frames arrived or the patience
/// ran out; returns each frame's bytes and buflet count.
fn receive(port: &mut AfPacketPort, queue: usize, want: usize, max: usize) -> Vec<(Vec<u8>, usize)> {
    let deadline = Instant::now() + PATIENCE;
    let mut got = Vec::new();
    let mut burst = PacketBurst::new();
    while got.len() < want && Instant::now() < deadline {
        port.rx_burst(queue, &mut burst, max);
        got.extend(burst.drain(..).map(|p| (p.to_vec(), p.buflet_count())).filter(|(f, _)| ours(f)));
    }
    got
}

/// Sends `frames` on `queue`, a burst of at most 32 at a time, retrying what the ring had no room for,
/// until every packet is taken and the kernel took every frame handed over. Returns the `tx_burst` calls,
/// each of which had frames to send.
fn send_all(port: &mut AfPacketPort, pool: &Pool, queue: usize, frames: &[Vec<u8>]) -> u64 {
    let deadline = Instant::now() + PATIENCE;
    let before = port.stats().opackets;
    let mut calls = 0;
    let mut burst = PacketBurst::new();
    let mut next = 0;
    while next < frames.len() || !burst.is_empty() || port.stats().opackets - before < frames.len() as u64 {
        while burst.len() < 32 && next < frames.len() {
            burst.push(pool.packet_from(&frames[next]).unwrap());
            next += 1;
        }
        port.tx_burst(queue, &mut burst);
        calls += 1;
        assert!(Instant::now() < deadline, "the kernel never took every frame");
    }
    calls
}

fn stat_of(port: &AfPacketPort) -> pktloop_engine::port::PortStats {
    port.stats()
}

#[test]
fn frames_sent_by_pktloop_arrive_at_the_peer() {
    require_afpacket!();
    for qdisc_bypass in [true, false] {
        let w = wire();
        let p = pool(1024, 2048, 1);
        let mut port = open(&w, AfPacketConfig { qdisc_bypass, ..config(&w) }, p.clone());
        let (dst, src) = (peer_mac(&w), port.mac());
        let before = w.ns_a.stat(&w.a, "rx_packets");
        let lens = [64, 1500, 1514, 60];
        let frames: Vec<Vec<u8>> = (0..1000).map(|i| frame(dst, src, lens[i % 4], i as u16)).collect();
        let bytes: u64 = frames.iter().map(|f| f.len() as u64).sum();
        let calls = send_all(&mut port, &p, 0, &frames);
        let s = stat_of(&port);
        assert_eq!((s.opackets, s.obytes, s.oerrors), (1000, bytes, 0), "qdisc_bypass {qdisc_bypass}");
        assert_eq!(w.ns_a.stat(&w.a, "rx_packets") - before, 1000, "the peer got every frame");
        let c = port.afpacket_counters();
        assert_eq!((c.rx_syscalls(), c.tx_syscalls()), (0, calls), "one sendto per burst");
        assert_eq!(p.in_use(), 0, "sent packets went back to the pool");
        // The socket ignores what goes out of the interface: its own frames, and the host's (another packet
        // socket's here), which pass the packet taps on their way out.
        w.ns_b.inject(&w.b, &[frame(dst, [2, 0, 0, 0, 0, 7], 64, 9999)]);
        assert_eq!(w.ns_a.stat(&w.a, "rx_packets") - before, 1001, "the host's frame went out");
        assert!(receive(&mut port, 0, 1, 32).is_empty(), "pktloop received outgoing frames");
    }
}

#[test]
fn with_linear_tx_the_port_refuses_untagged_frames_over_mtu_plus_14_and_the_rest_arrive_whole() {
    require_afpacket!();
    let w = wire();
    let p = pool(1024, 2048, 1);
    let mut port = open(&w, config(&w), p.clone());
    let mut far = w.ns_a.enter(|| AfPacketPort::open(&AfPacketConfig::new(w.a.clone()), p.clone())).unwrap();
    let (dst, src) = (peer_mac(&w), port.mac());
    let before = w.ns_a.stat(&w.a, "rx_packets");
    let frames = vec![
        frame(dst, src, 60, 1),
        frame(dst, src, 1518, 2), // MTU + 18 untagged: the kernel would send it, the port must not
        frame(dst, src, 1514, 3),
        tagged(dst, src, 1518, 4, 0x8100, 0x064),
        tagged(dst, src, 1518, 5, 0x88a8, 0x064),
    ];
    let mut burst = PacketBurst::new();
    for f in &frames {
        burst.push(p.packet_from(f).unwrap());
    }
    assert_eq!(port.tx_burst(0, &mut burst), 5, "every packet is taken");
    let s = stat_of(&port);
    assert_eq!((s.opackets, s.oerrors, s.dropped(DropReason::BadFrame)), (4, 1, 1));
    assert_eq!(port.afpacket_counters().tx_refused(), 0, "nothing reached the kernel to refuse");
    assert_eq!(w.ns_a.stat(&w.a, "rx_packets") - before, 4);
    let arrived: Vec<Vec<u8>> = receive(&mut far, 0, 4, 32).into_iter().map(|(f, _)| f).collect();
    let want = [&frames[0], &frames[2], &frames[3], &frames[4]];
    assert_eq!(arrived.iter().collect::<Vec<_>>(), want, "byte for byte, in order");
}

#[test]
fn frames_the_kernel_or_the_port_refuse_are_counted_and_the_rest_still_go() {
    require_afpacket!();
    let w = wire();
    let p = pool(1024, 2048, 1);
    // Without linear tx the kernel checks lengths itself (and refuses what is too long).
    let mut port = open(&w, AfPacketConfig { linear_tx: false, ..config(&w) }, p.clone());
    // pktloop on the peer's end too, to see what arrives there and in which order.
    let mut far = w.ns_a.enter(|| AfPacketPort::open(&AfPacketConfig::new(w.a.clone()), p.clone())).unwrap();
    let (dst, src) = (peer_mac(&w), port.mac());
    let before = w.ns_a.stat(&w.a, "rx_packets");
    let frames = vec![
        frame(dst, src, 100, 1),
        frame(dst, src, 13, 2),                   // shorter than a header: the port's check
        frame(dst, src, 1519, 3),                 // longer than MTU + 18: the port's check
        frame(dst, src, 1518, 4),                 // MTU + 18 but untagged: the kernel refuses it
        frame(dst, src, 200, 5),                  // behind the refused one: must still go, in order
        tagged(dst, src, 1518, 6, 0x8100, 0x064), // MTU + 18 with a tag: the kernel takes it
        frame(dst, src, 300, 7),
    ];
    let mut burst = PacketBurst::new();
    for f in &frames {
        burst.push(p.packet_from(f).unwrap());
    }
    assert_eq!(port.tx_burst(0, &mut burst), 7, "every packet is taken");
    let s = stat_of(&port);
    assert_eq!((s.opackets, s.oerrors, s.dropped(DropReason::BadFrame)), (4, 3, 3));
    assert_eq!(s.obytes, 100 + 200 + 1518 + 300);
    assert_eq!(port.afpacket_counters().tx_refused(), 1);
    assert_eq!(port.afpacket_counters().tx_syscalls(), 2, "one more sendto after the refused frame");
    assert_eq!(w.ns_a.stat(&w.a, "rx_packets") - before, 4);
    let arrived: Vec<Vec<u8>> = receive(&mut far, 0, 4, 32).into_iter().map(|(f, _)| f).collect();
    let want = [&frames[0], &frames[4], &frames[5], &frames[6]];
    assert_eq!(arrived.iter().collect::<Vec<_>>(), want, "what the kernel took arrived whole and in order");
    // The ring goes on: the slots behind the refused frame were reused in order.
    let more: Vec<Vec<u8>> = (0..100).map(|i| frame(dst, src, 64, 100 + i)).collect();
    send_all(&mut port, &p, 0, &more);
    assert_eq!(w.ns_a.stat(&w.a, "rx_packets") - before, 104);
    let arrived: Vec<Vec<u8>> = receive(&mut far, 0, 100, 32).into_iter().map(|(f, _)| f).collect();
    assert_eq!(arrived, more);
    assert_eq!(p.in_use(), 0);
}

#[test]
fn a_full_tx_ring_leaves_the_rest_of_the_burst_in_order() {
    require_afpacket!();
    let w = wire();
    let p = pool(1024, 2048, 1);
    let mut port = open(&w, AfPacketConfig { tx_frames: 1, ..config(&w) }, p.clone());
    let ring = port.geometry().tx_frames as usize;
    assert!(ring < 100, "a ring of one block: {ring} frames");
    let (dst, src) = (peer_mac(&w), port.mac());
    let before = w.ns_a.stat(&w.a, "rx_packets");
    let frames: Vec<Vec<u8>> = (0..100).map(|i| frame(dst, src, 64, i)).collect();
    let mut burst = PacketBurst::new();
    for f in &frames {
        burst.push(p.packet_from(f).unwrap());
    }
    assert_eq!(port.tx_burst(0, &mut burst), ring, "as many as the ring holds");
    let left: Vec<Vec<u8>> = burst.iter().map(|p| p.to_vec()).collect();
    assert_eq!(left, frames[ring..], "the rest stay, in order");
    while !burst.is_empty() {
        port.tx_burst(0, &mut burst);
    }
    assert_eq!(w.ns_a.stat(&w.a, "rx_packets") - before, 100);
    assert_eq!(stat_of(&port).opackets, 100);
}

#[test]
fn frames_from_the_peer_arrive_byte_for_byte() {
    require_afpacket!();
    // Small buflets: the long frames arrive as chains.
    for (buf, buflets) in [(2048, 1), (512, 4)] {
        let w = wire();
        let p = pool(1024, buf, buflets);
        let mut port = open(&w, config(&w), p.clone());
        let (dst, src) = (port.mac(), peer_mac(&w));
        let mut sent: Vec<Vec<u8>> = [14, 60, 64, 100, 511, 512, 513, 1000, 1400, 1514]
            .iter()
            .map(|&len| frame(dst, src, len, len as u16))
            .collect();
        // Tags the kernel takes out of the frame on receive: the port puts them back.
        sent.push(tagged(dst, src, 1518, 1, 0x8100, 0xa064));
        sent.push(tagged(dst, src, 64, 2, 0x88a8, 0x0123));
        inject(&w, &sent);
        let got = receive(&mut port, 0, sent.len(), 32);
        let frames: Vec<Vec<u8>> = got.iter().map(|(f, _)| f.clone()).collect();
        assert_eq!(frames, sent, "buflets {buflets}");
        if buflets > 1 {
            let long = got.iter().find(|(f, _)| f.len() == 1400).unwrap();
            assert_eq!(long.1, 3, "1400 bytes: 480 + 512 + 408");
        }
        let s = stat_of(&port);
        let bytes: u64 = sent.iter().map(|f| f.len() as u64).sum();
        assert_eq!((s.ipackets, s.ibytes, s.ierrors, s.total_drops()), (sent.len() as u64, bytes, 0, 0));
        assert_eq!(port.afpacket_counters().rx_syscalls(), 0, "receiving makes no system call");
        drop(got);
        assert_eq!(p.in_use(), 0);
    }
}

/// A port on `w` and the 300 frames of 60..260 bytes the other end sent it, in order.
fn with_300_frames_sent_to_it(w: &Wire) -> (AfPacketPort, Vec<Vec<u8>>) {
    let port = open(w, config(w), pool(1024, 2048, 1));
    let (dst, src) = (port.mac(), peer_mac(w));
    let sent: Vec<Vec<u8>> = (0..300).map(|i| frame(dst, src, 60 + i % 200, i as u16)).collect();
    inject(w, &sent);
    (port, sent)
}

#[test]
fn a_block_read_over_many_small_bursts_keeps_its_place() {
    require_afpacket!();
    let w = wire();
    let (mut port, sent) = with_300_frames_sent_to_it(&w);
    // Bursts of 7: most end in the middle of a block.
    let got: Vec<Vec<u8>> = receive(&mut port, 0, sent.len(), 7).into_iter().map(|(f, _)| f).collect();
    assert_eq!(got, sent);
    let blocks = port.afpacket_counters().rx_blocks();
    assert!((1..300).contains(&blocks), "{blocks} blocks for 300 frames");
}

#[test]
fn frames_handed_over_and_never_received_are_counted_detached_at_teardown() {
    require_afpacket!();
    let w = wire();
    let (mut port, sent) = with_300_frames_sent_to_it(&w);
    // One burst of 10 ends in the middle of the first block; the rest wait in it and the blocks after,
    // every one handed over once its retire timeout has passed.
    let got = receive(&mut port, 0, 10, 10).len();
    std::thread::sleep(Duration::from_millis(300));
    let counters = port.counters().clone();
    drop(port);
    let stats = counters.snapshot();
    // Other frames the kernel sends on a new link (IPv6 neighbour discovery) may arrive too.
    assert!(stats.ipackets >= got as u64);
    assert!(stats.dropped(DropReason::Detached) >= (sent.len() - got) as u64, "received {got}: {stats:?}");
    assert_eq!(stats.ierrors, stats.dropped(DropReason::Detached), "came in as errors, so the accounting meets");
}

#[test]
fn oversize_and_truncated_frames_are_counted_as_bad_frames() {
    require_afpacket!();
    let w = wire();
    // Packets of at most 480 + 3 * 512 = 2016 bytes; rx blocks of one page.
    let p = pool(1024, 512, 4);
    let mut port = open(&w, AfPacketConfig { rx_block_size: 4096, ..config(&w) }, p.clone());
    let (dst, src) = (port.mac(), peer_mac(&w));
    // The wire allows longer frames than pktloop's packets or blocks hold.
    w.ns_a.exec(&["ip", "link", "set", "dev", &w.a, "mtu", "9000"]);
    w.ns_b.exec(&["ip", "link", "set", "dev", &w.b, "mtu", "9000"]);
    port.refresh();
    assert_eq!(port.mtu(), 9000, "the port follows the interface's MTU");
    let sent = vec![
        frame(dst, src, 2016, 1), // the longest a packet holds: good, four buflets
        frame(dst, src, 2017, 2), // one byte more: bad
        frame(dst, src, 3000, 3), // bad
        frame(dst, src, 6000, 4), // longer than a block holds: the kernel truncates it, bad
        frame(dst, src, 14, 5),   // a header and nothing else: a frame all the same
    ];
    inject(&w, &sent);
    let want = [sent[0].clone(), sent[4].clone()];
    let deadline = Instant::now() + PATIENCE;
    let mut got = Vec::new();
    let mut burst = PacketBurst::new();
    while (got.len() < 2 || stat_of(&port).ierrors < 3) && Instant::now() < deadline {
        port.rx_burst(0, &mut burst, 32);
        got.extend(burst.drain(..).map(|p| p.to_vec()).filter(|f| ours(f)));
    }
    assert_eq!(got, want);
    let s = stat_of(&port);
    assert_eq!((s.ipackets, s.ierrors, s.dropped(DropReason::BadFrame)), (2, 3, 3));
    // Frames shorter than a header cannot be sent at all: the peer's kernel refuses them (if it ever takes
    // one, the port must count it as a bad frame).
    let script = format!(
        "import socket\ns = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)\ns.bind(({:?}, 0))\ns.send(bytes(10))\n",
        w.a
    );
    if w.ns_a.try_exec(&["python3", "-c", &script]).status.success() {
        let deadline = Instant::now() + PATIENCE;
        while stat_of(&port).ierrors < 4 && Instant::now() < deadline {
            port.rx_burst(0, &mut burst, 32);
            burst.clear();
        }
        assert_eq!(stat_of(&port).dropped(DropReason::BadFrame), 4, "a 10-byte frame arrived: a bad frame");
    }
    drop(got);
    assert_eq!(p.in_use(), 0, "the bad frames took no buffer");
}

#[test]
fn multi_queue_fanout_spreads_flows_and_loses_none() {
    require_afpacket!();
    let w = wire();
    let p = pool(2048, 2048, 1);
    // Through the qdisc: outgoing frames pass the packet taps, and the fanout group must ignore them.
    let mut port = open(&w, AfPacketConfig { queues: 4, qdisc_bypass: false, ..config(&w) }, p.clone());
    assert_eq!((port.rx_queues(), port.tx_queues()), (4, 4));
    kernel::check_missing_queues(&mut port, &p);
    assert!(port.fanout_group().is_some());
    let (dst, src) = (port.mac(), peer_mac(&w));
    let sent: Vec<Vec<u8>> = (0..256u16).map(|i| udp(dst, src, 1024 + i, 4000 + 7 * i, 64 + usize::from(i))).collect();
    inject(&w, &sent);
    let mut per_queue = [0usize; 4];
    let mut got = Vec::new();
    let deadline = Instant::now() + PATIENCE;
    let mut burst = PacketBurst::new();
    while got.len() < sent.len() && Instant::now() < deadline {
        for (q, n) in per_queue.iter_mut().enumerate() {
            port.rx_burst(q, &mut burst, 32);
            let frames: Vec<Vec<u8>> = burst.drain(..).map(|p| p.to_vec()).filter(|f| ours(f)).collect();
            *n += frames.len();
            got.extend(frames);
        }
    }
    assert_eq!(per_queue.iter().sum::<usize>(), sent.len(), "per queue {per_queue:?}");
    assert!(per_queue.iter().filter(|&&n| n > 0).count() > 1, "one queue got every flow: {per_queue:?}");
    got.sort();
    let mut want = sent;
    want.sort();
    assert_eq!(got, want);
    // Every tx queue sends, and no queue receives what goes out of the interface.
    let before = w.ns_a.stat(&w.a, "rx_packets");
    let peer = peer_mac(&w);
    for q in 0..4 {
        let frames: Vec<Vec<u8>> = (0..10).map(|i| frame(peer, dst, 64, q * 10 + i)).collect();
        send_all(&mut port, &p, q as usize, &frames);
    }
    // And a frame the host sends out of the interface, past the packet taps.
    w.ns_b.inject(&w.b, &[frame(peer, [2, 0, 0, 0, 0, 7], 64, 9999)]);
    assert_eq!(w.ns_a.stat(&w.a, "rx_packets") - before, 41);
    let deadline = Instant::now() + Duration::from_millis(200);
    while Instant::now() < deadline {
        for q in 0..4 {
            port.rx_burst(q, &mut burst, 32);
            assert!(burst.iter().all(|p| !ours(&p.to_vec())), "queue {q} received an outgoing frame");
        }
    }
    assert_eq!(p.in_use(), 0);
}

#[test]
fn errors_name_what_is_wrong_and_how_to_fix_it() {
    require_afpacket!();
    let w = wire();
    let open = |config: AfPacketConfig| try_open(&w, config, pool(64, 2048, 1)).map(|_| ());
    let missing = format!("nx{}", kernel::tag());
    match open(AfPacketConfig::new(missing.clone())) {
        Err(e @ AfPacketError::NoSuchInterface { .. }) => {
            assert!(e.to_string().contains(&format!("{missing:?}")), "{e}");
            assert!(e.is_usage());
        }
        other => panic!("{other:?}"),
    }
    match open(AfPacketConfig::new("a-name-far-too-long")) {
        Err(e @ AfPacketError::NameTooLong { len: 19, max: 15, .. }) => {
            assert_eq!(
                e.to_string(),
                "invalid af-packet interface \"a-name-far-too-long\": 19 bytes, valid is 1..=15 bytes"
            );
        }
        other => panic!("{other:?}"),
    }
    for bad in ["", "a/b", "two words", ".."] {
        assert!(matches!(open(AfPacketConfig::new(bad)), Err(AfPacketError::BadName { .. })), "{bad:?}");
    }
    for queues in [0, MAX_QUEUES + 1] {
        match open(AfPacketConfig { queues, ..config(&w) }) {
            Err(e @ AfPacketError::Queues { .. }) => {
                assert_eq!(e.to_string(), format!("invalid af-packet-queues {queues}: valid is 1..=64"));
            }
            other => panic!("{queues} queues: {other:?}"),
        }
    }
    match open(AfPacketConfig { rx_block_size: 12288, ..config(&w) }) {
        Err(e @ AfPacketError::Ring { knob: "af-packet-rx-block-size", value: 12288, .. }) => {
            assert!(e.to_string().contains("a power of two"), "{e}");
        }
        other => panic!("{other:?}"),
    }
    match open(AfPacketConfig { rx_block_size: 1024, ..config(&w) }) {
        Err(AfPacketError::Ring { min: 4096, .. }) => {}
        other => panic!("a block under a page: {other:?}"),
    }
    match open(AfPacketConfig { block_timeout_ms: 5000, ..config(&w) }) {
        Err(e @ AfPacketError::Ring { .. }) => {
            assert_eq!(e.to_string(), "invalid af-packet-block-timeout-ms 5000: valid is 0..=1000");
        }
        other => panic!("{other:?}"),
    }
    w.ns_b.exec(&["ip", "link", "set", "dev", &w.b, "down"]);
    match open(config(&w)) {
        Err(e @ AfPacketError::InterfaceDown { .. }) => {
            assert!(e.to_string().contains(&format!("`ip link set dev {} up`", w.b)), "{e}");
        }
        other => panic!("{other:?}"),
    }
    let tun = format!("pt{}", kernel::tag());
    w.ns_b.exec(&["ip", "tuntap", "add", "mode", "tun", "name", &tun]);
    w.ns_b.exec(&["ip", "link", "set", "dev", &tun, "up"]);
    match open(AfPacketConfig::new(tun.clone())) {
        Err(e @ AfPacketError::NotEthernet { .. }) => assert!(e.to_string().contains(&tun), "{e}"),
        other => panic!("a tun device: {other:?}"),
    }
}

#[test]
fn every_buffer_is_back_after_traffic_an_empty_pool_and_the_port_dropped() {
    require_afpacket!();
    let w = wire();
    let p = pool(256, 512, 4);
    let mut port = open(&w, config(&w), p.clone());
    let (mac, peer) = (port.mac(), peer_mac(&w));
    // Both ways, with chained packets.
    let sent: Vec<Vec<u8>> = (0..100).map(|i| frame(mac, peer, 1000, i)).collect();
    inject(&w, &sent);
    let got = receive(&mut port, 0, 100, 32);
    assert_eq!(got.len(), 100);
    assert!(got.iter().all(|(_, buflets)| *buflets == 3), "1000 bytes: 480 + 512 + 8");
    drop(got);
    let out: Vec<Vec<u8>> = (0..100).map(|i| frame(peer, mac, 1000, i)).collect();
    send_all(&mut port, &p, 0, &out);
    assert_eq!(p.in_use(), 0);
    // An empty pool: the frames are counted and dropped, and the ring keeps moving.
    let mut held = Vec::new();
    while let Some(pkt) = p.alloc() {
        held.push(pkt);
    }
    inject(&w, &(0..20).map(|i| frame(mac, peer, 100, i)).collect::<Vec<_>>());
    let deadline = Instant::now() + PATIENCE;
    let mut burst = PacketBurst::new();
    while stat_of(&port).rx_nombuf < 20 && Instant::now() < deadline {
        assert_eq!(port.rx_burst(0, &mut burst, 32), 0);
    }
    let s = stat_of(&port);
    assert_eq!((s.rx_nombuf, s.ierrors, s.dropped(DropReason::NoMemPacket)), (20, 20, 20));
    drop(held);
    let later: Vec<Vec<u8>> = (0..5).map(|i| frame(mac, peer, 100, 50 + i)).collect();
    inject(&w, &later);
    let got: Vec<Vec<u8>> = receive(&mut port, 0, 5, 32).into_iter().map(|(f, _)| f).collect();
    assert_eq!(got, later, "frames after the empty spell arrive");
    drop(got);
    // Frames waiting in the ring when the port goes are the kernel's problem, not the pool's.
    inject(&w, &(0..10).map(|i| frame(mac, peer, 100, 80 + i)).collect::<Vec<_>>());
    let mut burst = PacketBurst::new();
    for _ in 0..10 {
        burst.push(p.packet_from(&frame(peer, mac, 64, 0)).unwrap());
    }
    port.tx_burst(0, &mut burst);
    drop(port);
    assert_eq!(p.in_use(), 0, "every buffer is back in the pool");
}

#[test]
fn kernel_drops_of_a_full_ring_are_counted() {
    require_afpacket!();
    let w = wire();
    // Two blocks of one page: three 1000-byte frames each.
    let config = AfPacketConfig { rx_block_size: 4096, rx_blocks: 2, ..config(&w) };
    let mut port = open(&w, config, pool(1024, 2048, 1));
    let (mac, peer) = (port.mac(), peer_mac(&w));
    let sent: Vec<Vec<u8>> = (0..200).map(|i| frame(mac, peer, 1000, i)).collect();
    inject(&w, &sent);
    let got = receive(&mut port, 0, 200, 32);
    assert!(!got.is_empty() && got.len() < 200, "{} frames through a ring of six", got.len());
    // The drop counters are read every few thousand polls.
    let mut burst = PacketBurst::new();
    for _ in 0..5000 {
        port.rx_burst(0, &mut burst, 32);
        burst.clear();
    }
    let drops = port.afpacket_counters().kernel_drops();
    assert_eq!(drops + got.len() as u64, 200, "every frame received or counted dropped");
    assert_eq!(stat_of(&port).total_drops(), 0, "missed frames never reached the port: not its drops");
    assert!(port.afpacket_counters().ring_freezes() > 0);
}

#[test]
fn link_follows_the_interface_and_its_carrier() {
    require_afpacket!();
    let w = wire();
    let p = pool(256, 2048, 1);
    let mut port = open(&w, config(&w), p.clone());
    assert_eq!(port.link(), LinkState::Up);
    let events = port.events().subscribe();
    let wait = |port: &mut AfPacketPort, want: LinkState| {
        let deadline = Instant::now() + PATIENCE;
        let mut b = PacketBurst::new();
        while port.link() != want && Instant::now() < deadline {
            for _ in 0..5000 {
                port.rx_burst(0, &mut b, 32);
                b.clear();
            }
        }
        assert_eq!(port.link(), want);
    };
    w.ns_b.exec(&["ip", "link", "set", "dev", &w.b, "down"]);
    wait(&mut port, LinkState::Down);
    // Frames sent while the interface is down are taken and counted, not kept.
    let (mac, peer) = (port.mac(), peer_mac(&w));
    let mut burst = PacketBurst::new();
    for i in 0..5 {
        burst.push(p.packet_from(&frame(peer, mac, 64, i)).unwrap());
    }
    assert_eq!(port.tx_burst(0, &mut burst), 5);
    let s = stat_of(&port);
    assert_eq!((s.opackets, s.oerrors, s.dropped(DropReason::NoPeer)), (0, 5, 5));
    w.ns_b.exec(&["ip", "link", "set", "dev", &w.b, "up"]);
    wait(&mut port, LinkState::Up);
    // The peer's end down: no carrier here.
    w.ns_a.exec(&["ip", "link", "set", "dev", &w.a, "down"]);
    wait(&mut port, LinkState::Down);
    // Up without a carrier, the kernel drops what the port sends (and says ENOBUFS): the frames are taken
    // and counted, not kept to go out stale when the carrier is back (the last check below would see them).
    for i in 0..5 {
        burst.push(p.packet_from(&frame(peer, mac, 64, i)).unwrap());
    }
    assert_eq!(port.tx_burst(0, &mut burst), 5);
    port.tx_burst(0, &mut burst);
    let s = stat_of(&port);
    assert_eq!((s.opackets, s.oerrors, s.dropped(DropReason::NoPeer)), (0, 10, 10));
    w.ns_a.exec(&["ip", "link", "set", "dev", &w.a, "up"]);
    wait(&mut port, LinkState::Up);
    let kinds: Vec<EventKind> = events.drain().into_iter().map(|e| e.kind).collect();
    assert_eq!(kinds, [EventKind::LinkDown, EventKind::LinkUp, EventKind::LinkDown, EventKind::LinkUp]);
    // And frames still flow both ways.
    let sent: Vec<Vec<u8>> = (0..10).map(|i| frame(mac, peer, 80, i)).collect();
    inject(&w, &sent);
    let got: Vec<Vec<u8>> = receive(&mut port, 0, 10, 32).into_iter().map(|(f, _)| f).collect();
    assert_eq!(got, sent);
    let before = w.ns_a.stat(&w.a, "rx_packets");
    send_all(&mut port, &p, 0, &(0..10).map(|i| frame(peer, mac, 64, i)).collect::<Vec<_>>());
    assert_eq!(w.ns_a.stat(&w.a, "rx_packets") - before, 10);
}
