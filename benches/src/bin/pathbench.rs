//! One measurement of one side of a packet-path scenario, for `scripts/bench.sh path`, which runs the sides
//! of each scenario interleaved (A B A B ...) and compares best with best.
//!
//! ```text
//! pathbench SCENARIO SIDE
//!   txonly64 | txonly1518      floor | floor-odd | floor-private | global | global-multi | private
//!                              | private-multi | split
//!   iofwd                      floor | floor-4 | floor-stamped | ring | global | private | split
//!   pingpong                   floor | floor-called | ring | feth | shm
//! ```
//!
//! Prints one line: `SCENARIO SIDE VALUE UNIT` (Mpps, or ns for the ping-pong's p50 and p99.9, printed as
//! two lines). Every run checks its result (frames intact, nothing dropped, every buffer back) before it
//! prints.

use arrayvec::ArrayVec;
use crossbeam_utils::CachePadded;
use pktloop_benches::pairs::{self, frame};
use pktloop_benches::{cross_core, floor, BURST};
use pktloop_engine::packet::free_burst;
use pktloop_engine::{PacketBurst, Port};
use pktloop_pmd::feth::{pair, Feth, FethConfig};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

/// Packets per measured run.
const PACKETS: u64 = 1 << 24;
/// Measured runs per invocation; the best is printed (the run least disturbed by the machine).
const REPEATS: usize = 3;

fn mpps(packets: u64, t: Duration) -> f64 {
    packets as f64 / t.as_secs_f64() / 1e6
}

fn feth_config(side: &str) -> FethConfig {
    pairs::feth_config(side).unwrap_or_else(|| usage(&format!("unknown side {side}")))
}

/// txonly on feth0 (core 0: allocate, write the whole frame, send) -> rxonly on feth1 (core 1: receive,
/// read the first 16 bytes, free), until `n` packets arrived.
fn feth_txonly(a: &mut Feth, b: &mut Feth, f: &[u8], n: u64) -> (Duration, u64) {
    let stop = AtomicBool::new(false);
    let pool = a.tx_pool().clone();
    cross_core(
        || {
            let mut burst = PacketBurst::new();
            while !stop.load(Ordering::Relaxed) {
                if burst.is_empty() {
                    // As pktloop's txonly fills a burst (apps: fwd::modes::fill); when the pool is short for
                    // a moment (buffers in flight), the next turn tries again.
                    pool.alloc_frames(&mut burst, BURST, f);
                }
                a.tx_burst(0, &mut burst);
            }
            free_burst(&mut burst);
        },
        || {
            let mut burst = PacketBurst::new();
            let (mut got, mut sum) = (0u64, 0u64);
            while got < n {
                got += b.rx_burst(0, &mut burst, BURST) as u64;
                for p in burst.iter() {
                    let mut hdr = [0u8; 16];
                    // Cannot fail: every frame is at least 64 bytes.
                    let _ = p.read(0, &mut hdr);
                    sum += u64::from(std::hint::black_box(hdr)[12]);
                }
                free_burst(&mut burst);
            }
            stop.store(true, Ordering::Relaxed);
            sum
        },
    )
}

/// A txonly floor: `packets` frames, returning the time and the sum of the headers read.
type TxonlyFloor = fn(&[u8], u64) -> (Duration, u64);

fn txonly(len: usize, side: &str) -> f64 {
    let f = frame(len);
    let floor: Option<TxonlyFloor> = match side {
        "floor" => Some(|f, n| floor::txonly_rxonly(f, n, floor::Spacing::Packed)),
        "floor-odd" => Some(|f, n| floor::txonly_rxonly(f, n, floor::Spacing::OddLines)),
        // pktloop's pools space buffers an odd number of lines apart.
        "floor-private" => Some(|f, n| floor::txonly_copy_rxonly(f, n, floor::Spacing::OddLines)),
        _ => None,
    };
    if let Some(floor) = floor {
        let (_, sum) = floor(&f, 1 << 16);
        assert_eq!(sum, 8 << 16, "floor: every header read");
        let run = || mpps(PACKETS, floor(&f, PACKETS).0);
        return (0..REPEATS).map(|_| run()).fold(0.0, f64::max);
    }
    let (mut a, mut b) = pair(&feth_config(side)).expect("feth pair");
    let pools = [a.tx_pool().clone(), a.rx_pool().clone(), b.rx_pool().clone()];
    check_txonly(&mut a, &mut b, &f);
    let best = (0..REPEATS).map(|_| mpps(PACKETS, feth_txonly(&mut a, &mut b, &f, PACKETS).0)).fold(0.0, f64::max);
    assert_eq!(a.stats().total_drops() + b.stats().total_drops(), 0, "{side}: nothing dropped");
    drop((a, b));
    for p in &pools {
        assert_eq!(p.in_use(), 0, "{side}: pool {} has every buffer back", p.name());
    }
    best
}

/// A short run where every received frame is compared with what was sent.
fn check_txonly(a: &mut Feth, b: &mut Feth, f: &[u8]) {
    let pool = a.tx_pool().clone();
    let mut burst = PacketBurst::new();
    for _ in 0..64 {
        assert!(pool.alloc_bulk(&mut burst, BURST));
        burst.iter_mut().for_each(|p| p.append(f).expect("frame fits"));
        assert_eq!(a.tx_burst(0, &mut burst), BURST);
        assert_eq!(b.rx_burst(0, &mut burst, BURST), BURST);
        assert!(burst.iter().all(|p| p.to_vec() == f), "frames arrive intact");
        free_burst(&mut burst);
    }
}

/// io forwarding on both ports of the pair (testpmd io + tx_first): each core bounces what it receives
/// back until it moved `n`. Returns packets per second per direction.
fn iofwd(side: &str) -> f64 {
    let floor: Option<fn(u64) -> (Duration, bool)> = match side {
        "floor" => Some(floor::io_forward::<u64>),
        "floor-4" => Some(floor::io_forward::<u32>),
        "floor-stamped" => Some(pktloop_benches::stamped::io_forward),
        _ => None,
    };
    if let Some(run) = floor {
        let checked = || {
            let (t, in_order) = run(PACKETS);
            assert!(in_order, "floor: every handle came round, in order");
            mpps(PACKETS, t)
        };
        return (0..REPEATS).map(|_| checked()).fold(0.0, f64::max);
    }
    if side == "ring" {
        return (0..REPEATS).map(|_| mpps(PACKETS, ring_io_forward(PACKETS))).fold(0.0, f64::max);
    }
    let (mut a, mut b) = pair(&feth_config(side)).expect("feth pair");
    let f = frame(64);
    let (mut ba, mut bb) = (PacketBurst::new(), PacketBurst::new());
    for (port, burst) in [(&mut a, &mut ba), (&mut b, &mut bb)] {
        assert!(port.tx_pool().alloc_bulk(burst, BURST));
        burst.iter_mut().for_each(|p| p.append(&f).expect("frame fits"));
        assert_eq!(port.tx_burst(0, burst), BURST, "seed sent");
    }
    let mut best = 0.0f64;
    for _ in 0..REPEATS {
        let done = AtomicU32::new(0);
        let (t, _) = cross_core(|| bounce(&mut a, &mut ba, PACKETS, &done), || bounce(&mut b, &mut bb, PACKETS, &done));
        best = best.max(mpps(PACKETS, t));
    }
    assert_eq!(a.stats().total_drops() + b.stats().total_drops(), 0, "io-fwd drops nothing");
    best
}

/// io forwarding over pktloop's ring alone, no port: the floor's loop (a burst seeded each way, each core
/// pushing back out what it pops) with the ring's burst calls, as the ports make them. What a port adds on
/// top of its ring shows against `iofwd global`.
fn ring_io_forward(packets: u64) -> Duration {
    let ring = || pktloop_engine::ring::ring::<u64>(floor::IO_RING).expect("ring");
    let ((mut to_b, at_b), (mut to_a, at_a)) = (ring(), ring());
    let seed: Vec<u64> = (0..BURST as u64).collect();
    assert_eq!((to_b.push_slice(&seed), to_a.push_slice(&seed)), (BURST, BURST));
    let stop = &AtomicBool::new(false);
    // Each core's ring ends on lines of their own, so that no two sides' positions share one.
    let (t, in_order) = cross_core(
        move || {
            let (mut rx, mut tx) = (CachePadded::new(at_a), CachePadded::new(to_b));
            let mut burst = ArrayVec::<u64, BURST>::new();
            while !stop.load(Ordering::Relaxed) {
                rx.pop_burst(&mut burst, BURST);
                while !burst.is_empty() {
                    tx.push_burst(&mut burst);
                }
            }
        },
        move || {
            let (mut rx, mut tx) = (CachePadded::new(at_b), CachePadded::new(to_a));
            let mut burst = ArrayVec::<u64, BURST>::new();
            let (mut moved, mut next, mut in_order) = (0u64, 0u64, true);
            while moved < packets {
                moved += rx.pop_burst(&mut burst, BURST) as u64;
                for &h in &burst {
                    in_order &= h == next;
                    next = (next + 1) % BURST as u64;
                }
                while !burst.is_empty() {
                    tx.push_burst(&mut burst);
                }
            }
            stop.store(true, Ordering::Relaxed);
            in_order
        },
    );
    assert!(in_order, "ring: every handle came round, in order");
    t
}

fn bounce(port: &mut Feth, burst: &mut PacketBurst, n: u64, done: &AtomicU32) {
    let (mut moved, mut reported) = (0u64, false);
    loop {
        if burst.is_empty() {
            moved += port.rx_burst(0, burst, BURST) as u64;
        }
        if !burst.is_empty() {
            port.tx_burst(0, burst);
        }
        if !reported && moved >= n {
            reported = true;
            done.fetch_add(1, Ordering::Release);
        }
        if reported && done.load(Ordering::Acquire) == 2 {
            return;
        }
    }
}

/// p50 and p99.9 of `rtts` in ns.
fn percentiles(mut rtts: Vec<u64>) -> (u64, u64) {
    rtts.sort_unstable();
    let at = |q: f64| rtts[((rtts.len() as f64 * q) as usize).min(rtts.len() - 1)];
    (at(0.5), at(0.999))
}

/// A packet bounced between the two ports of a pair, round trips timed on core 1.
fn feth_ping_pong(rounds: usize) -> Vec<u64> {
    let (mut a, mut b) = pair(&feth_config("global")).expect("feth pair");
    ports_ping_pong(&mut a, &mut b, rounds)
}

/// The feth ping-pong over a shared-memory pair whose two ends are in this process: what the shm path
/// costs, apart from anything two processes add (`pktloop latency` measures across two).
fn shm_ping_pong(rounds: usize) -> Vec<u64> {
    let (mut a, mut b, _endpoint) = pairs::shm_pair();
    ports_ping_pong(&mut a, &mut b, rounds)
}

/// One 64-byte frame of `a`'s pool sent from `a`, echoed back by `b` on the other core, `rounds` times;
/// the round trips in ns. The frame must come back intact.
fn ports_ping_pong(a: &mut dyn Port, b: &mut dyn Port, rounds: usize) -> Vec<u64> {
    let f = frame(64);
    let mut seed = PacketBurst::new();
    seed.push(a.tx_pool().packet_from(&f).expect("seed"));
    let mut rtts = Vec::with_capacity(rounds);
    let rtts_ref = &mut rtts;
    cross_core(
        || {
            let mut burst = PacketBurst::new();
            for _ in 0..rounds {
                while b.rx_burst(0, &mut burst, BURST) == 0 {}
                while b.tx_burst(0, &mut burst) == 0 {}
            }
        },
        || {
            let mut burst = seed;
            for _ in 0..rounds {
                let t0 = std::time::Instant::now();
                while a.tx_burst(0, &mut burst) == 0 {}
                while a.rx_burst(0, &mut burst, BURST) == 0 {}
                rtts_ref.push(t0.elapsed().as_nanos() as u64);
            }
            assert!(burst.len() == 1 && burst[0].to_vec() == f, "the frame came back intact");
            free_burst(&mut burst);
        },
    );
    rtts
}

/// The same ping-pong over two bare engine rings of `u64` (no port): what the ring alone costs.
fn ring_ping_pong(rounds: usize) -> Vec<u64> {
    let (mut ping_tx, mut ping_rx) = pktloop_engine::ring::ring::<u64>(64).expect("ring");
    let (mut pong_tx, mut pong_rx) = pktloop_engine::ring::ring::<u64>(64).expect("ring");
    floor::time_round_trips(
        rounds,
        (move |v: &[u64]| ping_tx.push_slice(v), move |out: &mut [u64]| ping_rx.pop_slice(out)),
        (move |v: &[u64]| pong_tx.push_slice(v), move |out: &mut [u64]| pong_rx.pop_slice(out)),
    )
}

fn usage(why: &str) -> ! {
    eprintln!("pathbench: {why}\nusage: pathbench txonly64|txonly1518|iofwd|pingpong SIDE");
    std::process::exit(2)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [scenario, side] = args.as_slice() else { usage("two arguments expected") };
    match scenario.as_str() {
        "txonly64" => println!("{scenario} {side} {:.2} Mpps", txonly(64, side)),
        "txonly1518" => println!("{scenario} {side} {:.2} Mpps", txonly(1518, side)),
        "iofwd" => println!("{scenario} {side} {:.2} Mpps", iofwd(side)),
        "pingpong" => {
            const ROUNDS: usize = 1_000_000;
            let rtts = match side.as_str() {
                "floor" => floor::ping_pong(ROUNDS),
                "floor-called" => floor::ping_pong_called(ROUNDS),
                "feth" => feth_ping_pong(ROUNDS),
                "shm" => shm_ping_pong(ROUNDS),
                "ring" => ring_ping_pong(ROUNDS),
                other => usage(&format!("unknown side {other}")),
            };
            let (p50, p999) = percentiles(rtts);
            println!("pingpong-p50 {side} {p50} ns");
            println!("pingpong-p99.9 {side} {p999} ns");
        }
        other => usage(&format!("unknown scenario {other}")),
    }
}
