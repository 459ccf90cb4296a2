//! Embedding pktloop's input layer: a feth pair whose receiving port sits behind an interface. An input
//! filter drops IPv6, an IPv4 handler counts what reaches it, and while traffic flows a filter that drops
//! one sender's frames is attached, then detached as another (dropping every 50th frame) is attached. At
//! the end every frame is accounted for.
//!
//! Run: `cargo run --release -p pktloop --example filters`

use pktloop_engine::dlil::builtin::{DropEtherType, DropEveryNth, DropSourceMac};
use pktloop_engine::dlil::{Interface, Protocol, ETHERTYPE_IPV4, ETHERTYPE_IPV6};
use pktloop_engine::mem::Prefer;
use pktloop_engine::port::{DropReason, PacketBurst};
use pktloop_engine::Port;
use pktloop_pmd::feth::{pair, FethConfig};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;

/// Rounds of traffic; each round sends one IPv4 frame from each of two hosts and one IPv6 frame.
const ROUNDS: u64 = 20_000;

/// Counts IPv4 frames and frees them.
struct CountIpv4(Arc<AtomicU64>);

impl Protocol for CountIpv4 {
    fn name(&self) -> &str {
        "count-ipv4"
    }

    fn input(&mut self, pkts: &mut PacketBurst, _replies: &mut PacketBurst) {
        self.0.fetch_add(pkts.len() as u64, Ordering::Relaxed);
        pkts.clear();
    }
}

/// What the example saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    /// Frames sent.
    pub sent: u64,
    /// IPv4 frames that reached the handler.
    pub counted: u64,
    /// Frames the IPv6 filter dropped.
    pub ipv6_dropped: u64,
    /// Frames the host filter dropped while it was attached.
    pub host_dropped: u64,
    /// Frames the every-50th filter dropped after it replaced the host filter.
    pub nth_dropped: u64,
    /// Buffers still out after teardown.
    pub leaked: usize,
}

fn frame(ethertype: u16, host: u8) -> Vec<u8> {
    let mut f = vec![0u8; 60];
    f[..6].copy_from_slice(&[2, 0, 0, 0, 0, 0xaa]);
    f[6..12].copy_from_slice(&[2, 0, 0, 0, 0, host]);
    f[12..14].copy_from_slice(&ethertype.to_be_bytes());
    f
}

/// Waits (yielding the core: the threads may outnumber the cores) until `phase` reaches `at`.
fn wait_for(phase: &AtomicU32, at: u32) {
    while phase.load(Ordering::Acquire) < at {
        std::thread::yield_now();
    }
}

/// Runs the example and returns what it counted.
pub fn run_filters() -> Outcome {
    let config = FethConfig { prefer: Prefer::Normal, pool_packets: 1024, ..FethConfig::default() };
    let (mut wire, port) = pair(&config).expect("feth pair");
    let pool = wire.tx_pool().clone();
    let mut iface = Interface::new(Box::new(port), 32);
    let control = iface.handle();
    let no_ipv6 = control.attach_filter(Box::new(DropEtherType::new(ETHERTYPE_IPV6)));
    let counted = Arc::new(AtomicU64::new(0));
    control.attach_protocol(ETHERTYPE_IPV4, Box::new(CountIpv4(counted.clone()))).expect("IPv4 is free");
    let done = AtomicBool::new(false);
    let phase = AtomicU32::new(0);

    let (sent, host_dropped, nth) = std::thread::scope(|s| {
        // The data path: run to completion on its own thread until the sender is done and all is in.
        s.spawn(|| {
            let mut quiet = 0;
            while quiet < 1000 {
                let got = iface.poll();
                quiet = if got == 0 && done.load(Ordering::Acquire) { quiet + 1 } else { 0 };
            }
        });
        // The control path: a filter for host 7 comes and goes while frames flow, and another takes its
        // place.
        // The sender waits at a quarter and at half of its rounds until the change is made, so that each
        // filter sees traffic however the threads are scheduled (frames keep flowing through the data path
        // meanwhile).
        let controller = s.spawn(|| {
            wait_for(&phase, 1);
            let host = control.attach_filter(Box::new(DropSourceMac::new([2, 0, 0, 0, 0, 7])));
            phase.store(2, Ordering::Release);
            wait_for(&phase, 3);
            let nth = control.attach_filter(Box::new(DropEveryNth::new(50)));
            let host_dropped = control.detach_filter(host).expect("attached above").stats.dropped;
            phase.store(4, Ordering::Release);
            (host_dropped, nth)
        });
        let mut sent = 0u64;
        let mut burst = PacketBurst::new();
        let frames = [frame(ETHERTYPE_IPV4, 1), frame(ETHERTYPE_IPV4, 7), frame(ETHERTYPE_IPV6, 1)];
        for round in 0..ROUNDS {
            if round == ROUNDS / 4 || round == ROUNDS / 2 {
                let at = if round == ROUNDS / 4 { 1 } else { 3 };
                phase.store(at, Ordering::Release);
                wait_for(&phase, at + 1);
            }
            for f in &frames {
                while pool.packet_from(f).map(|p| burst.push(p)).is_err() {
                    sent += wire.tx_burst(0, &mut burst) as u64;
                }
            }
            if burst.len() >= 30 {
                while !burst.is_empty() {
                    sent += wire.tx_burst(0, &mut burst) as u64;
                }
            }
        }
        while !burst.is_empty() {
            sent += wire.tx_burst(0, &mut burst) as u64;
        }
        done.store(true, Ordering::Release);
        let (host_dropped, nth) = controller.join().expect("controller");
        (sent, host_dropped, nth)
    });

    let ipv6_dropped = control.detach_filter(no_ipv6).expect("attached").stats.dropped;
    let nth_dropped = control.detach_filter(nth).expect("attached").stats.dropped;
    assert_eq!(control.stats().dropped(DropReason::Filtered), ipv6_dropped + host_dropped + nth_dropped);
    drop(iface.detach());
    drop(wire);
    Outcome {
        sent,
        counted: counted.load(Ordering::Relaxed),
        ipv6_dropped,
        host_dropped,
        nth_dropped,
        leaked: pool.in_use(),
    }
}

fn main() {
    let o = run_filters();
    println!(
        "sent {}: {} IPv4 counted, {} IPv6 dropped by the IPv6 filter, {} dropped by the host filter while \
         it was attached, {} by the every-50th filter after it; {} buffers leaked",
        o.sent, o.counted, o.ipv6_dropped, o.host_dropped, o.nth_dropped, o.leaked
    );
}
