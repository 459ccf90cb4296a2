//! The input layer (engine `dlil`) over a feth pair: conservation while filters and protocols come and go
//! from a third thread during traffic on two pinned cores, detach waiting for a filter that is busy, bad
//! and unknown frames counted, and the input thread.

mod common;

use common::cfg;
use pktloop_engine::dlil::builtin::{DropEtherType, DropEveryNth, DropSourceMac};
use pktloop_engine::dlil::{Filter, Handoff, InputThread, Interface, InterfaceHandle, Protocol, Verdict};
use pktloop_engine::port::{DropReason, EventKind, PacketBurst};
use pktloop_engine::{ring, Packet, Pool, Port};
use pktloop_pmd::feth::{pair, Feth};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

/// A frame of `len` bytes of EtherType `ethertype` from source MAC `src`.
fn frame(ethertype: u16, src: [u8; 6], len: usize) -> Vec<u8> {
    let mut f = vec![0u8; len];
    f[..len.min(6)].fill(0xff);
    if len >= 14 {
        f[6..12].copy_from_slice(&src);
        f[12..14].copy_from_slice(&ethertype.to_be_bytes());
    }
    f
}

/// A feth pair's first port (the sender), its tx pool, and the input layer over the second port with its
/// handle.
fn sender_and_interface() -> (Feth, Pool, Interface, InterfaceHandle) {
    let (a, b) = pair(&cfg()).unwrap();
    let pool = a.tx_pool().clone();
    let iface = Interface::new(Box::new(b), 32);
    let h = iface.handle();
    (a, pool, iface, h)
}

/// Sends `frames` on `port` (retrying what the ring does not take), then `rounds` more times.
fn send_all(port: &mut Feth, pool: &Pool, frames: &[Vec<u8>], rounds: usize) -> u64 {
    let mut sent = 0;
    let mut burst = PacketBurst::new();
    for _ in 0..rounds {
        for f in frames {
            loop {
                match pool.packet_from(f) {
                    Ok(p) => {
                        burst.push(p);
                        break;
                    }
                    // The pool is out: what is in flight comes back as the receiver frees it.
                    Err(_) => {
                        sent += port.tx_burst(0, &mut burst) as u64;
                    }
                }
            }
            if burst.is_full() || burst.len() >= 32 {
                while !burst.is_empty() {
                    sent += port.tx_burst(0, &mut burst) as u64;
                }
            }
        }
    }
    while !burst.is_empty() {
        sent += port.tx_burst(0, &mut burst) as u64;
    }
    sent
}

/// Counts what it gets, frees it.
struct Count {
    name: &'static str,
    seen: Arc<AtomicU64>,
}

impl Protocol for Count {
    fn name(&self) -> &str {
        self.name
    }

    fn input(&mut self, pkts: &mut PacketBurst, _replies: &mut PacketBurst) {
        self.seen.fetch_add(pkts.len() as u64, Ordering::Relaxed);
        pkts.clear();
    }
}

/// Keeps every 5th packet it sees for a while (consumed), then frees it.
#[derive(Default)]
struct Hoard {
    seen: u64,
    kept: Vec<Packet>,
}

impl Filter for Hoard {
    fn name(&self) -> &str {
        "hoard"
    }

    fn input(&mut self, pkt: Packet) -> Verdict {
        self.seen += 1;
        if self.seen.is_multiple_of(5) && self.kept.len() < 64 {
            self.kept.push(pkt);
            return Verdict::Consumed;
        }
        Verdict::Pass(pkt)
    }
}

/// Every packet the interface saw: delivered, dropped by a named reason, or consumed.
#[derive(Debug, Default)]
struct Tally {
    consumed: u64,
    filtered: u64,
}

/// Attaches and detaches filters and protocols on `h` until `stop`, adding what detached ones report, and
/// sets `overlapped` once detached filters have dropped and consumed packets.
fn churn(h: &InterfaceHandle, stop: &AtomicBool, delivered: &Arc<AtomicU64>, overlapped: &AtomicBool) -> Tally {
    let mut t = Tally::default();
    let mut i = 0u64;
    while !stop.load(Ordering::Relaxed) {
        i += 1;
        let f: Box<dyn Filter> = match i % 4 {
            0 => Box::new(DropEveryNth::new(3)),
            1 => Box::new(DropEtherType::new(0x86dd)),
            2 => Box::new(Hoard::default()),
            _ => Box::new(DropSourceMac::new([2, 0, 0, 0, 0, 7])),
        };
        let id = h.attach_filter(f);
        let arp = Box::new(Count { name: "arp", seen: delivered.clone() });
        let arp_attached = h.attach_protocol(0x0806, arp).is_ok();
        std::thread::sleep(Duration::from_micros(200));
        let d = h.detach_filter(id).expect("attached above");
        t.filtered += d.stats.dropped;
        t.consumed += d.stats.consumed;
        if arp_attached {
            h.detach_protocol(0x0806).expect("attached above");
        }
        if t.filtered > 0 && t.consumed > 0 {
            overlapped.store(true, Ordering::Release);
        }
    }
    t
}

#[test]
fn every_packet_is_delivered_dropped_by_reason_or_consumed_while_handlers_come_and_go() {
    let config = cfg();
    let (mut a, b) = pair(&config).unwrap();
    let pool = a.tx_pool().clone();
    let iface = Interface::new(Box::new(b), 32);
    let h = iface.handle();
    let delivered = Arc::new(AtomicU64::new(0));
    h.attach_protocol(0x0800, Box::new(Count { name: "ipv4", seen: delivered.clone() })).unwrap();
    let frames = [
        frame(0x0800, [2, 0, 0, 0, 0, 1], 60),
        frame(0x86dd, [2, 0, 0, 0, 0, 2], 80),
        frame(0x0806, [2, 0, 0, 0, 0, 7], 60),
        frame(0x1234, [2, 0, 0, 0, 0, 3], 64),
        frame(0x0800, [2, 0, 0, 0, 0, 7], 1000),
    ];
    let stop = AtomicBool::new(false);
    let sent_all = AtomicBool::new(false);
    let sent_all = &sent_all;
    let overlapped = AtomicBool::new(false);
    let ((sent, rounds), tally, iface) = std::thread::scope(|s| {
        let sender = s.spawn(|| {
            let _ = core_affinity::set_for_current(core_affinity::CoreId { id: 0 });
            // 20,000 rounds at least, and on until filters the churn attached have dropped and consumed
            // packets (at most 20 s): with the sender and receiver each spinning on one of two cores, the
            // churner runs only when the scheduler gives it one, and traffic that ended first would leave
            // the churn nothing to see.
            let start = Instant::now();
            let (mut n, mut rounds) = (send_all(&mut a, &pool, &frames, 20_000), 20_000);
            while !overlapped.load(Ordering::Acquire) && start.elapsed() < Duration::from_secs(20) {
                n += send_all(&mut a, &pool, &frames, 1_000);
                rounds += 1_000;
            }
            sent_all.store(true, Ordering::Release);
            (n, rounds)
        });
        let receiver = s.spawn(move || {
            let mut iface = iface;
            let _ = core_affinity::set_for_current(core_affinity::CoreId { id: 1 });
            let mut idle_after_end = 0;
            while idle_after_end < 1000 {
                let ended = sent_all.load(Ordering::Acquire);
                if iface.poll() == 0 && ended {
                    idle_after_end += 1;
                }
            }
            iface
        });
        let churner = s.spawn(|| churn(&h, &stop, &delivered, &overlapped));
        let sent = sender.join().unwrap();
        let iface = receiver.join().unwrap();
        stop.store(true, Ordering::Relaxed);
        (sent, churner.join().unwrap(), iface)
    });
    assert_eq!(sent, (frames.len() * rounds) as u64);
    let s = h.stats();
    assert_eq!(s.ipackets, sent, "the port delivered every frame to the interface");
    assert_eq!(s.dropped(DropReason::Filtered), tally.filtered, "interface and filters agree on drops");
    let no_protocol = s.dropped(DropReason::NoProtocol);
    assert!(no_protocol >= rounds as u64, "every 0x1234 frame at least");
    let delivered = delivered.load(Ordering::Relaxed);
    assert_eq!(sent, delivered + tally.filtered + tally.consumed + no_protocol, "{s:?} {tally:?}");
    assert!(tally.filtered > 0 && tally.consumed > 0, "the churn overlapped the traffic: {tally:?}");
    let port = iface.detach();
    drop(port);
    drop(a);
    assert_eq!(pool.in_use(), 0, "every buffer back, hoarded ones included");
}

/// A filter that, on its first packet, says so and waits until released.
struct Blocker {
    inside: Arc<Barrier>,
    release: Arc<AtomicBool>,
    saw: Arc<AtomicU64>,
}

impl Filter for Blocker {
    fn name(&self) -> &str {
        "blocker"
    }

    fn input(&mut self, pkt: Packet) -> Verdict {
        if self.saw.fetch_add(1, Ordering::SeqCst) == 0 {
            self.inside.wait();
            while !self.release.load(Ordering::SeqCst) {
                std::thread::yield_now();
            }
        }
        Verdict::Pass(pkt)
    }
}

#[test]
fn detach_waits_until_no_packet_is_inside_the_filter() {
    let (mut a, pool, mut iface, h) = sender_and_interface();
    let inside = Arc::new(Barrier::new(2));
    let release = Arc::new(AtomicBool::new(false));
    let saw = Arc::new(AtomicU64::new(0));
    let id = h.attach_filter(Box::new(Blocker { inside: inside.clone(), release: release.clone(), saw: saw.clone() }));
    send_all(&mut a, &pool, &[frame(0x0800, [2; 6], 60)], 3);
    let detached = AtomicBool::new(false);
    std::thread::scope(|s| {
        let data_path = s.spawn(|| {
            iface.poll();
        });
        inside.wait();
        let detacher = s.spawn(|| {
            let d = h.detach_filter(id).expect("attached");
            detached.store(true, Ordering::SeqCst);
            d
        });
        std::thread::sleep(Duration::from_millis(200));
        assert!(!detached.load(Ordering::SeqCst), "detach returned while a packet was inside the filter");
        release.store(true, Ordering::SeqCst);
        let d = detacher.join().unwrap();
        assert!(detached.load(Ordering::SeqCst));
        data_path.join().unwrap();
        assert_eq!(d.stats.passed, 3, "the burst in the hook finished before detach returned");
    });
    assert_eq!(saw.load(Ordering::SeqCst), 3);
    send_all(&mut a, &pool, &[frame(0x0800, [2; 6], 60)], 2);
    iface.poll();
    assert_eq!(saw.load(Ordering::SeqCst), 3, "a detached filter sees nothing more");
}

#[test]
fn short_and_unknown_frames_are_counted_and_the_interface_goes_on() {
    let (mut a, pool, mut iface, h) = sender_and_interface();
    let delivered = Arc::new(AtomicU64::new(0));
    h.attach_protocol(0x0800, Box::new(Count { name: "ipv4", seen: delivered.clone() })).unwrap();
    let mut tagged = frame(0x8100, [2; 6], 64);
    tagged[16..18].copy_from_slice(&[0x08, 0x00]);
    let mut tag_cut = frame(0x8100, [2; 6], 16);
    tag_cut[14..16].fill(0);
    let frames = [
        frame(0x0800, [2; 6], 60),
        frame(0, [2; 6], 10),
        frame(0x9999, [2; 6], 60),
        tagged,
        tag_cut,
        frame(0, [2; 6], 1),
    ];
    send_all(&mut a, &pool, &frames, 10);
    while iface.poll() > 0 {}
    let s = h.stats();
    assert_eq!(delivered.load(Ordering::Relaxed), 20, "plain and VLAN-tagged IPv4");
    assert_eq!((s.dropped(DropReason::BadFrame), s.ierrors), (30, 30), "10 and 1 byte frames, a cut tag");
    assert_eq!(s.dropped(DropReason::NoProtocol), 10);
    drop(iface.detach());
    drop(a);
    assert_eq!(pool.in_use(), 0);
}

/// A frame of `len` bytes tagged 802.1Q, carrying `inner`.
fn tagged(inner: u16, len: usize) -> Vec<u8> {
    let mut f = frame(0x8100, [2; 6], len);
    f[16..18].copy_from_slice(&inner.to_be_bytes());
    f
}

/// Bursts whose every frame is tagged go to the protocol of each frame's inner type, whether the inner
/// types differ within the burst or not, and so do bursts that mix tagged and plain frames.
#[test]
fn tagged_bursts_are_demuxed_on_each_frames_inner_type() {
    let (mut a, pool, mut iface, h) = sender_and_interface();
    let (v4, v6) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    h.attach_protocol(0x0800, Box::new(Count { name: "ipv4", seen: v4.clone() })).unwrap();
    h.attach_protocol(0x86dd, Box::new(Count { name: "ipv6", seen: v6.clone() })).unwrap();
    let seen = || (v4.load(Ordering::Relaxed), v6.load(Ordering::Relaxed));
    // Frames sent in turn up to a burst of 32, and the IPv4 and IPv6 packets each burst delivers.
    type Case<'a> = (&'a [Vec<u8>], (u64, u64));
    let bursts: [Case; 4] = [
        (&[tagged(0x0800, 64), tagged(0x86dd, 64)], (16, 16)),
        (&[tagged(0x86dd, 64)], (0, 32)),
        (&[tagged(0x0800, 64)], (32, 0)),
        (&[frame(0x86dd, [2; 6], 64), tagged(0x0800, 64)], (16, 16)),
    ];
    for (frames, (want4, want6)) in bursts {
        let before = seen();
        send_all(&mut a, &pool, frames, 32 / frames.len());
        while iface.poll() > 0 {}
        assert_eq!((seen().0 - before.0, seen().1 - before.1), (want4, want6), "{frames:?}");
    }
    assert_eq!(h.stats().total_drops(), 0);
    drop(iface.detach());
    drop(a);
    assert_eq!(pool.in_use(), 0);
}

/// What a stalled feth port queued in its local tx rings moves on when the stall ends and its sender,
/// behind the input layer, has nothing new: the interface's empty output reaches the port as a poll.
#[test]
fn an_empty_output_reaches_the_port_and_moves_what_it_queued() {
    let (a, mut b) = pair(&cfg()).unwrap();
    let pool = a.tx_pool().clone();
    let stall = a.handle();
    let mut iface = Interface::new(Box::new(a), 32);
    stall.set_dequeue_stall(true);
    let mut burst = PacketBurst::new();
    for _ in 0..8 {
        burst.push(pool.packet_from(&frame(0x0800, [2; 6], 60)).unwrap());
    }
    assert_eq!(iface.output(&mut burst), 8);
    let mut got = PacketBurst::new();
    assert_eq!(b.rx_burst(0, &mut got, 32), 0, "held while stalled");
    stall.set_dequeue_stall(false);
    assert_eq!(iface.output(&mut burst), 0);
    assert_eq!(b.rx_burst(0, &mut got, 32), 8, "moved by the empty output alone");
    drop(got);
    drop(iface.detach());
    drop(b);
    assert_eq!(pool.in_use(), 0);
}

#[test]
fn an_input_thread_hands_bursts_to_a_worker_and_stopping_loses_nothing() {
    let (mut a, b) = pair(&cfg()).unwrap();
    let pool = a.tx_pool().clone();
    let pools = [a.tx_pool(), a.rx_pool(), b.tx_pool(), b.rx_pool()].map(Pool::clone);
    let iface = Interface::new(Box::new(b), 32);
    let h = iface.handle();
    let events = h.subscribe();
    let (to_worker, mut from_input) = ring::ring::<Packet>(1024).unwrap();
    let (mut to_port, outbound) = ring::ring::<Packet>(1024).unwrap();
    h.attach_protocol(0x0800, Box::new(Handoff::new("to-worker", to_worker, h.counters().clone()))).unwrap();
    let overflow = || h.stats().dropped(DropReason::RxRingFull);
    let thread = InputThread::spawn(iface, 1, Some(outbound), &pools).unwrap();
    let n = 50_000u64;
    let sent_all = AtomicBool::new(false);
    let stop_peer = AtomicBool::new(false);
    let (sent, back, got) = std::thread::scope(|s| {
        // The far side: sends n frames to the interface and takes back what the worker returns.
        let peer = s.spawn(|| {
            let mut back = 0u64;
            let mut rx = PacketBurst::new();
            let f = frame(0x0800, [2; 6], 60);
            let mut sent = 0u64;
            let mut burst = PacketBurst::new();
            loop {
                if sent < n && burst.is_empty() {
                    if let Ok(p) = pool.packet_from(&f) {
                        burst.push(p);
                    }
                }
                sent += a.tx_burst(0, &mut burst) as u64;
                if sent == n {
                    sent_all.store(true, Ordering::Release);
                }
                // Read before the poll: once stopped, a poll that finds nothing is the last one.
                let stopping = stop_peer.load(Ordering::Acquire);
                let k = a.rx_burst(0, &mut rx, 64) as u64;
                back += k;
                rx.clear();
                if stopping && k == 0 {
                    return (sent, back, a);
                }
            }
        });
        // The worker: takes what the input thread hands over and sends it back out through the interface.
        let mut got = 0u64;
        let mut burst = PacketBurst::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        while !(sent_all.load(Ordering::Acquire) && got + overflow() == n) {
            assert!(Instant::now() < deadline, "got {got} of {n}");
            got += from_input.pop_burst(&mut burst, 32) as u64;
            while !burst.is_empty() {
                to_port.push_burst(&mut burst);
            }
        }
        let iface = thread.stop();
        drop(iface.detach());
        stop_peer.store(true, Ordering::Release);
        let (sent, back, a) = peer.join().unwrap();
        drop(a);
        (sent, back, got)
    });
    assert_eq!(sent, n);
    assert_eq!(got + overflow(), n);
    assert_eq!(back + h.stats().dropped(DropReason::Detached), got, "nothing queued for output was lost");
    let kinds: Vec<EventKind> = events.drain().into_iter().map(|e| e.kind).collect();
    let end = [EventKind::Detaching, EventKind::ProtocolDetached { ethertype: 0x0800 }, EventKind::Detached];
    assert!(kinds.ends_with(&end), "{kinds:?}");
    drop(from_input);
    drop(to_port);
    assert_eq!(pool.in_use(), 0);
}

#[test]
fn the_responder_answers_arp_and_ping_through_the_output_path_and_link_events_are_relayed() {
    use pktloop_engine::dlil::{Responder, ETHERTYPE_ARP, ETHERTYPE_IPV4};
    use pktloop_engine::wire::{
        ArpOperation, ArpPacket, ArpRepr, EtherType, EthernetAddress, EthernetFrame, EthernetRepr, Icmpv4Packet,
        Icmpv4Repr, IpProtocol, Ipv4Packet, Ipv4Repr,
    };
    use std::net::Ipv4Addr;
    let (mut a, pool, mut iface, h) = sender_and_interface();
    let events = h.subscribe();
    let (me, peer) = ([2, 0, 0, 0, 0, 0x22], [2, 0, 0, 0, 0, 0x11]);
    let (my_ip, peer_ip) = (Ipv4Addr::new(198, 18, 0, 2), Ipv4Addr::new(198, 18, 0, 1));
    for t in [ETHERTYPE_ARP, ETHERTYPE_IPV4] {
        h.attach_protocol(t, Box::new(Responder::new(me, my_ip.octets()))).unwrap();
    }
    let eth = |f: &mut [u8], dst: [u8; 6], t| {
        EthernetRepr { src_addr: EthernetAddress(peer), dst_addr: EthernetAddress(dst), ethertype: t }
            .emit(&mut EthernetFrame::new_unchecked(f))
    };
    let mut arp = vec![0u8; 60];
    eth(&mut arp, [0xff; 6], EtherType::Arp);
    ArpRepr {
        operation: ArpOperation::Request,
        sender_hardware_addr: EthernetAddress(peer),
        sender_protocol_addr: peer_ip,
        target_hardware_addr: EthernetAddress([0; 6]),
        target_protocol_addr: my_ip,
    }
    .emit(&mut ArpPacket::new_unchecked(&mut arp[14..42]));
    let mut ping = vec![0u8; 14 + 20 + 8 + 16];
    eth(&mut ping, me, EtherType::Ipv4);
    Ipv4Repr { src_addr: peer_ip, dst_addr: my_ip, protocol: IpProtocol::Icmp, payload_len: 24, ttl: 64 }
        .emit(&mut Ipv4Packet::new_unchecked(&mut ping[14..]));
    let data = [7u8; 16];
    Icmpv4Repr::EchoRequest { ident: 1, seq_no: 9, data: &data }
        .emit(&mut Icmpv4Packet::new_unchecked(&mut ping[34..]));
    send_all(&mut a, &pool, &[arp, ping], 1);
    while iface.poll() > 0 {}
    let mut replies = PacketBurst::new();
    a.rx_burst(0, &mut replies, 8);
    assert_eq!(replies.len(), 2, "an ARP reply and an echo reply");
    let arp_bytes = replies[0].to_vec();
    let arp_reply = EthernetFrame::new_checked(&arp_bytes[..]).unwrap();
    let parsed = ArpRepr::parse(&ArpPacket::new_checked(arp_reply.payload()).unwrap()).unwrap();
    assert_eq!((parsed.operation, parsed.sender_hardware_addr), (ArpOperation::Reply, EthernetAddress(me)));
    let echo = replies[1].to_vec();
    let ip = Ipv4Packet::new_checked(&echo[14..]).unwrap();
    assert_eq!((ip.src_addr(), ip.dst_addr()), (my_ip, peer_ip));
    let icmp = Icmpv4Packet::new_checked(ip.payload()).unwrap();
    assert!(icmp.verify_checksum());
    assert_eq!(h.stats().opackets, 2, "the replies went out through the interface");
    drop(replies);
    // The peer goes away: the port posts link down, and the interface relays it.
    drop(a);
    for _ in 0..200 {
        iface.poll();
    }
    let kinds: Vec<EventKind> = events.drain().into_iter().map(|e| e.kind).collect();
    assert!(kinds.contains(&EventKind::LinkDown), "{kinds:?}");
    drop(iface.detach());
    assert_eq!(pool.in_use(), 0);
}

/// A null port always has frames to give: a detach receives only what a few passes bring (64 bursts of 32
/// at most), not new traffic until its bound of passes (10,000 bursts).
#[test]
fn detach_from_a_port_that_never_goes_quiet_receives_only_what_is_at_hand() {
    let mut c = pktloop_engine::pool::PoolConfig::new("dlil-null-detach", 4096, 2048);
    c.prefer = pktloop_engine::mem::Prefer::Normal;
    let pool = Pool::new(c).unwrap();
    let null = pktloop_pmd::null::NullPort::new("null0", pool.clone(), 64).unwrap();
    let counters = null.counters().clone();
    let mut iface = Interface::new(Box::new(null), 32);
    for _ in 0..10 {
        iface.poll();
    }
    let before = counters.snapshot().ipackets;
    assert!(before > 0);
    drop(iface.detach());
    let during = counters.snapshot().ipackets - before;
    assert!(during <= 64 * 32, "{during} frames received while detaching");
    assert_eq!(pool.in_use(), 0);
}
