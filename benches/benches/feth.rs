//! feth pair throughput across two pinned cores.
//!
//! - `feth_io_fwd/64B`: testpmd `--forward-mode=io` with `start tx_first` over the crossed pair. One burst
//!   of 32 is seeded on each side; core 0 polls feth0 (rx feth0 -> tx feth0, which arrives at feth1), core 1
//!   polls feth1 the same way. An iteration ends when each core has forwarded [`PACKETS`] packets, so the
//!   rate criterion reports is packets/s **per direction**.
//! - `feth_txonly_rxonly/{64B,1518B}/{global,private,split}[/multibuflet]`: core 0 allocates a burst from
//!   feth0's tx pool, writes the frame and sends it; core 1 receives on feth1, reads the Ethernet header and
//!   frees. An iteration is [`PACKETS`] packets received.
//! - `feth_txonly_rxonly_wmm/64B`: the same with WMM on (4 tx rings -> 1 rx ring), classes mixed.
//! - `*/engine_ring_floor`: the same loops over bare engine SPSC rings instead of a feth pair (same pool,
//!   same packets, same work per packet), measured in the same run: the floor feth is compared with.
//!
//! Before timing, each scenario runs once with checks: nothing dropped, every frame's bytes intact (txonly)
//! or every seeded packet still bouncing (io-fwd), and every buffer back in its pool afterwards.
//!
//! Run: `cargo bench -p pktloop-benches --bench feth`.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use pktloop_benches::{cross_core, pinning_note, BURST, MEASUREMENT, SAMPLES, WARM_UP};
use pktloop_engine::packet::{free_burst, ServiceClass};
use pktloop_engine::pool::PoolMode;
use pktloop_engine::ring::{ring, Consumer, Producer};
use pktloop_engine::{Packet, PacketBurst, Pool, Port};
use pktloop_pmd::feth::{pair, Feth, FethConfig};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

/// Packets per iteration (per direction for io-fwd).
const PACKETS: u64 = 1 << 20;
/// Packets of the correctness run before timing.
const CHECK_PACKETS: u64 = 1 << 16;

/// Default knobs (1024-packet pools, hugepages when reserved) but 512-slot rings: a ring that can hold a
/// whole pool would let a fast sender exhaust the receiver's pool, turning private/split copies into
/// (counted) nomem drops; with 512 slots back-pressure reaches the sender first.
fn config(mode: PoolMode, multibuflet: bool, wmm: bool) -> FethConfig {
    FethConfig { pool_mode: mode, multibuflet, wmm, ring_size: 512, ..FethConfig::default() }
}

/// The frame every txonly packet carries: Ethernet header (feth1's MAC, feth0's MAC, IPv4) and a payload.
fn frame(len: usize, dst: [u8; 6], src: [u8; 6]) -> Vec<u8> {
    let mut f = vec![0u8; len];
    f[..6].copy_from_slice(&dst);
    f[6..12].copy_from_slice(&src);
    f[12..14].copy_from_slice(&[0x08, 0x00]);
    for (i, b) in f[14..].iter_mut().enumerate() {
        *b = i as u8;
    }
    f
}

/// What the loops need from a port: bursts in and out.
trait Wire: Send {
    fn rx(&mut self, burst: &mut PacketBurst, max: usize) -> usize;
    fn tx(&mut self, burst: &mut PacketBurst) -> usize;
}

impl Wire for Feth {
    #[inline(always)]
    fn rx(&mut self, burst: &mut PacketBurst, max: usize) -> usize {
        self.rx_burst(0, burst, max)
    }

    #[inline(always)]
    fn tx(&mut self, burst: &mut PacketBurst) -> usize {
        self.tx_burst(0, burst)
    }
}

/// The floor: one end of two bare engine rings (no port in between).
struct RawEnd {
    rx: Option<Consumer<Packet>>,
    tx: Option<Producer<Packet>>,
}

impl Wire for RawEnd {
    #[inline(always)]
    fn rx(&mut self, burst: &mut PacketBurst, max: usize) -> usize {
        self.rx.as_mut().map_or(0, |c| c.pop_burst(burst, max))
    }

    #[inline(always)]
    fn tx(&mut self, burst: &mut PacketBurst) -> usize {
        self.tx.as_mut().map_or(0, |p| p.push_burst(burst))
    }
}

/// Two crossed bare-ring ends, like a feth pair.
fn raw_pair(size: usize) -> (RawEnd, RawEnd) {
    let (pab, cab) = ring::<Packet>(size).expect("ring");
    let (pba, cba) = ring::<Packet>(size).expect("ring");
    (RawEnd { rx: Some(cba), tx: Some(pab) }, RawEnd { rx: Some(cab), tx: Some(pba) })
}

impl Drop for RawEnd {
    fn drop(&mut self) {
        if let Some(c) = self.rx.as_mut() {
            while c.pop().is_some() {}
        }
    }
}

/// io forwarding on one port until both sides have moved `n` packets; returns how many it moved.
fn io_fwd_loop(port: &mut impl Wire, burst: &mut PacketBurst, n: u64, done: &AtomicU32) -> u64 {
    let mut moved = 0u64;
    let mut reported = false;
    loop {
        if burst.is_empty() {
            let got = port.rx(burst, BURST) as u64;
            moved += got;
        }
        if !burst.is_empty() {
            port.tx(burst);
        }
        if !reported && moved >= n {
            reported = true;
            done.fetch_add(1, Ordering::Release);
        }
        if reported && done.load(Ordering::Acquire) == 2 {
            return moved;
        }
    }
}

/// One io-fwd run of `n` packets per direction; returns the time and the packets each side moved.
fn io_fwd<W: Wire>(a: &mut W, b: &mut W, ba: &mut PacketBurst, bb: &mut PacketBurst, n: u64) -> (Duration, u64, u64) {
    let done = AtomicU32::new(0);
    let mut moved_a = 0;
    let (t, moved_b) = cross_core(|| moved_a = io_fwd_loop(a, ba, n, &done), || io_fwd_loop(b, bb, n, &done));
    (t, moved_a, moved_b)
}

fn bench_io_fwd(c: &mut Criterion) {
    let (mut a, mut b) = pair(&config(PoolMode::Global, false, false)).expect("feth pair");
    let pool = a.tx_pool().clone();
    eprintln!("feth: {}; pool backing {}", pinning_note(), pool.backing());
    let f = frame(64, b.mac(), a.mac());
    let (mut ba, mut bb) = (PacketBurst::new(), PacketBurst::new());
    for (port, burst) in [(&mut a, &mut ba), (&mut b, &mut bb)] {
        for _ in 0..BURST {
            burst.push(pool.packet_from(&f).expect("seed"));
        }
        assert_eq!(port.tx_burst(0, burst), BURST, "seed burst sent");
    }
    let (_, ma, mb) = io_fwd(&mut a, &mut b, &mut ba, &mut bb, CHECK_PACKETS);
    assert!(ma >= CHECK_PACKETS && mb >= CHECK_PACKETS);
    assert_eq!(a.stats().total_drops() + b.stats().total_drops(), 0, "io-fwd drops nothing");
    assert_eq!(pool.in_use(), 2 * BURST, "exactly the seeded packets are in flight");

    let mut group = c.benchmark_group("feth_io_fwd");
    group.throughput(Throughput::Elements(PACKETS));
    group.bench_function("64B", |bch| {
        bch.iter_custom(|iters| {
            (0..iters).map(|_| io_fwd(&mut a, &mut b, &mut ba, &mut bb, PACKETS).0).sum::<Duration>()
        })
    });
    assert_eq!(a.stats().total_drops() + b.stats().total_drops(), 0);
    drop((a, b, ba, bb));
    assert_eq!(pool.in_use(), 0, "every buffer back after io-fwd");

    // The floor: the same bounce over two bare engine rings, same pool and packets.
    let owner = pair(&config(PoolMode::Global, false, false)).expect("feth pair");
    let pool = owner.0.tx_pool().clone();
    let (mut a, mut b) = raw_pair(512);
    let (mut ba, mut bb) = (PacketBurst::new(), PacketBurst::new());
    for (end, burst) in [(&mut a, &mut ba), (&mut b, &mut bb)] {
        for _ in 0..BURST {
            burst.push(pool.packet_from(&f).expect("seed"));
        }
        assert_eq!(end.tx(burst), BURST);
    }
    let (_, ma, mb) = io_fwd(&mut a, &mut b, &mut ba, &mut bb, CHECK_PACKETS);
    assert!(ma >= CHECK_PACKETS && mb >= CHECK_PACKETS);
    group.bench_function("64B/engine_ring_floor", |bch| {
        bch.iter_custom(|iters| {
            (0..iters).map(|_| io_fwd(&mut a, &mut b, &mut ba, &mut bb, PACKETS).0).sum::<Duration>()
        })
    });
    group.finish();
    drop((a, b, ba, bb, owner));
    assert_eq!(pool.in_use(), 0);
}

/// txonly on `a` (producer core) -> rxonly on `b` (consumer core) until `n` packets arrived. With `verify`
/// every received frame is compared with what was sent. Returns the time and a checksum of header bytes.
fn txonly_rxonly<W: Wire>(
    a: &mut W,
    b: &mut W,
    tx_pool: &Pool,
    f: &[u8],
    n: u64,
    wmm: bool,
    verify: bool,
) -> (Duration, u64) {
    let stop = AtomicBool::new(false);
    cross_core(
        || {
            let mut burst = PacketBurst::new();
            let mut k = 0usize;
            while !stop.load(Ordering::Relaxed) {
                if burst.is_empty() {
                    if !tx_pool.alloc_bulk(&mut burst, BURST) {
                        continue;
                    }
                    for p in burst.iter_mut() {
                        // Cannot fail: the pool's packets hold a max-size frame.
                        let _ = p.append(f);
                        if wmm {
                            p.meta_mut().service_class = ServiceClass::ALL[k % ServiceClass::ALL.len()];
                            k += 1;
                        }
                    }
                }
                a.tx(&mut burst);
            }
            free_burst(&mut burst);
        },
        || {
            let mut burst = PacketBurst::new();
            let mut got = 0u64;
            let mut sum = 0u64;
            while got < n {
                let k = b.rx(&mut burst, BURST);
                got += k as u64;
                for p in burst.iter() {
                    let mut hdr = [0u8; 14];
                    // Cannot fail: every frame is at least 64 bytes.
                    let _ = p.read(0, &mut hdr);
                    sum += u64::from(hdr[12]);
                    if verify {
                        assert_eq!(p.to_vec(), f, "frame arrived intact");
                    }
                }
                free_burst(&mut burst);
            }
            stop.store(true, Ordering::Relaxed);
            sum
        },
    )
}

fn bench_txonly(c: &mut Criterion) {
    let cases: [(&str, PoolMode, bool); 5] = [
        ("global", PoolMode::Global, false),
        ("global/multibuflet", PoolMode::Global, true),
        ("private", PoolMode::Private, false),
        ("private/multibuflet", PoolMode::Private, true),
        ("split", PoolMode::PrivateSplit, false),
    ];
    let mut group = c.benchmark_group("feth_txonly_rxonly");
    group.throughput(Throughput::Elements(PACKETS));
    for len in [64usize, 1518] {
        for (name, mode, multi) in cases {
            let (mut a, mut b) = pair(&config(mode, multi, false)).expect("feth pair");
            let pools = [a.tx_pool().clone(), a.rx_pool().clone(), b.rx_pool().clone()];
            let f = frame(len, b.mac(), a.mac());
            let tx_pool = a.tx_pool().clone();
            let (_, sum) = txonly_rxonly(&mut a, &mut b, &tx_pool, &f, CHECK_PACKETS, false, true);
            assert!(sum >= CHECK_PACKETS * 8, "EtherType low byte read");
            assert_eq!(a.stats().total_drops() + b.stats().total_drops(), 0, "{name}: nothing dropped");
            group.bench_function(format!("{len}B/{name}"), |bch| {
                bch.iter_custom(|iters| {
                    (0..iters)
                        .map(|_| txonly_rxonly(&mut a, &mut b, &tx_pool, &f, PACKETS, false, false).0)
                        .sum::<Duration>()
                })
            });
            assert_eq!(a.stats().total_drops() + b.stats().total_drops(), 0, "{name}: nothing dropped");
            drop((a, b, tx_pool));
            for p in &pools {
                assert_eq!(p.in_use(), 0, "{name}: pool {} has all its buffers back", p.name());
            }
        }
        // The floor: the same loops over one bare engine ring, from the same kind of (global) pool.
        let owner = pair(&config(PoolMode::Global, false, false)).expect("feth pair");
        let tx_pool = owner.0.tx_pool().clone();
        let f = frame(len, owner.1.mac(), owner.0.mac());
        let (mut a, mut b) = raw_pair(512);
        txonly_rxonly(&mut a, &mut b, &tx_pool, &f, CHECK_PACKETS, false, true);
        group.bench_function(format!("{len}B/engine_ring_floor"), |bch| {
            bch.iter_custom(|iters| {
                (0..iters)
                    .map(|_| txonly_rxonly(&mut a, &mut b, &tx_pool, &f, PACKETS, false, false).0)
                    .sum::<Duration>()
            })
        });
        drop((a, b, owner));
        assert_eq!(tx_pool.in_use(), 0);
    }
    group.finish();

    let mut group = c.benchmark_group("feth_txonly_rxonly_wmm");
    group.throughput(Throughput::Elements(PACKETS));
    let (mut a, mut b) = pair(&config(PoolMode::Global, false, true)).expect("feth pair");
    let pool = a.tx_pool().clone();
    let f = frame(64, b.mac(), a.mac());
    txonly_rxonly(&mut a, &mut b, &pool, &f, CHECK_PACKETS, true, true);
    group.bench_function("64B", |bch| {
        bch.iter_custom(|iters| {
            (0..iters).map(|_| txonly_rxonly(&mut a, &mut b, &pool, &f, PACKETS, true, false).0).sum::<Duration>()
        })
    });
    group.finish();
    assert_eq!(a.stats().total_drops() + b.stats().total_drops(), 0, "wmm: nothing dropped");
    drop((a, b));
    assert_eq!(pool.in_use(), 0);
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(SAMPLES)
        .warm_up_time(WARM_UP)
        .measurement_time(MEASUREMENT)
        .without_plots();
    targets = bench_io_fwd, bench_txonly
}
criterion_main!(benches);
