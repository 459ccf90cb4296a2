//! Pool alloc + free in bursts of 32, reported per buffer:
//!
//! - `pool_single_core`: on one pinned core, alloc a burst and free it again through the thread's cache:
//!   the raw mempool layer (`get_bulk` / `put_bulk`) and the packet layer (`alloc_bulk` + `free_burst`);
//! - `pool_producer_consumer`: alloc on core 0, hand the burst over a pktloop ring, free on core 1, so
//!   buffers flow core 0 -> ring -> core 1's cache -> depot -> core 0's cache: raw layer (`u32` indices over
//!   `push_slice` / `pop_slice`) and packet layer (`Packet`s over `push_burst` / `pop_burst`).
//!
//! The peer in the same run is a shared lock-free free list without per-thread caches: crossbeam's
//! `ArrayQueue<u32>` holding every free index (pop 32 / push 32 item by item), driven the same way.
//! Before timing, each case checks that every buffer is handed out once and that all are back afterwards.
//!
//! Run: `cargo bench -p pktloop-benches --bench pool`.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use crossbeam_queue::ArrayQueue;
use pktloop_benches::{cross_core, on_core, pinning_note, BURST, MEASUREMENT, PRODUCER_CORE, SAMPLES, WARM_UP};
use pktloop_engine::packet::free_burst;
use pktloop_engine::pool::{Pool, PoolConfig};
use pktloop_engine::ring::ring;
use pktloop_engine::PacketBurst;
use std::hint::black_box;
use std::time::{Duration, Instant};

/// Buffers per pool: enough for the ring, two caches and the depot's magazines in flight.
const BUFFERS: u32 = 8192;
/// Bytes per buffer (one max-MTU frame plus headroom).
const BUF_SIZE: u32 = 2048;
/// Ring between producer and consumer.
const RING: usize = 1024;
/// Buffers moved per producer/consumer iteration.
const ITEMS: u64 = 1 << 20;

fn new_pool(name: &str) -> Pool {
    let mut config = PoolConfig::new(name, BUFFERS, BUF_SIZE);
    config.headroom = 128;
    Pool::new(config).expect("pool")
}

/// The peer: every free index in one shared bounded MPMC queue, no per-thread cache.
fn new_freelist() -> ArrayQueue<u32> {
    let q = ArrayQueue::new(BUFFERS as usize);
    for i in 0..BUFFERS {
        q.push(i).expect("room for every index");
    }
    q
}

/// All or nothing, like `get_bulk`.
#[inline(always)]
fn freelist_get(q: &ArrayQueue<u32>, out: &mut [u32]) -> bool {
    for i in 0..out.len() {
        match q.pop() {
            Some(v) => out[i] = v,
            None => {
                freelist_put(q, &out[..i]);
                return false;
            }
        }
    }
    true
}

#[inline(always)]
fn freelist_put(q: &ArrayQueue<u32>, idxs: &[u32]) {
    for &v in idxs {
        q.push(v).expect("a free list never holds more than every index");
    }
}

/// Takes every buffer in bursts and checks each comes out once, then returns them all.
fn check_raw(pool: &Pool) {
    on_core(PRODUCER_CORE, || {
        let mut seen = vec![false; BUFFERS as usize];
        let mut taken = Vec::new();
        let mut burst = [0u32; BURST];
        while pool.get_bulk(&mut burst) {
            for &i in &burst {
                assert!(!std::mem::replace(&mut seen[i as usize], true), "buffer {i} handed out twice");
            }
            taken.extend_from_slice(&burst);
        }
        assert_eq!(taken.len(), BUFFERS as usize, "every buffer handed out");
        assert_eq!(pool.in_use(), BUFFERS as usize);
        for chunk in taken.chunks(BURST) {
            // SAFETY: each index came from get_bulk on this pool and is returned once.
            unsafe { pool.put_bulk(chunk) };
        }
    });
    assert_eq!(pool.in_use(), 0, "all buffers back after the check");
}

/// Allocates every buffer as packets in bursts and checks they are distinct, empty and have the headroom.
fn check_packets(pool: &Pool) {
    on_core(PRODUCER_CORE, || {
        let mut seen = vec![false; BUFFERS as usize];
        let mut held = Vec::new();
        let mut burst = PacketBurst::new();
        while pool.alloc_bulk(&mut burst, BURST) {
            for p in &burst {
                assert!(!std::mem::replace(&mut seen[p.index() as usize], true), "packet {} twice", p.index());
                assert!(p.is_empty() && p.headroom() == 128);
            }
            held.extend(burst.drain(..));
        }
        assert_eq!(held.len(), BUFFERS as usize, "every buffer allocated as a packet");
        let mut held = held.into_iter();
        loop {
            let mut burst: PacketBurst = held.by_ref().take(BURST).collect();
            if burst.is_empty() {
                break;
            }
            free_burst(&mut burst);
        }
    });
    assert_eq!(pool.in_use(), 0, "all packets back after the check");
}

fn single_core(c: &mut Criterion) {
    eprintln!("pool: {}; {BUFFERS} buffers of {BUF_SIZE} B, burst {BURST}", pinning_note());
    let pool = new_pool("bench-single");
    eprintln!("  pool memory: {:?}", pool.backing());
    check_raw(&pool);
    check_packets(&pool);
    let freelist = new_freelist();

    let mut group = c.benchmark_group("pool_single_core_burst32");
    group.throughput(Throughput::Elements(BURST as u64));
    group.bench_function("pktloop/raw_get_put_bulk", |b| {
        b.iter_custom(|iters| {
            on_core(PRODUCER_CORE, || {
                let mut burst = [0u32; BURST];
                // Creates this thread's cache outside the timed loop.
                assert!(pool.get_bulk(&mut burst));
                // SAFETY: returned once.
                unsafe { pool.put_bulk(&burst) };
                let start = Instant::now();
                for _ in 0..iters {
                    assert!(pool.get_bulk(black_box(&mut burst)));
                    // SAFETY: the indices just came from get_bulk on this pool and are returned once.
                    unsafe { pool.put_bulk(black_box(&burst)) };
                }
                start.elapsed()
            })
        })
    });
    group.bench_function("pktloop/packet_alloc_bulk_free_burst", |b| {
        b.iter_custom(|iters| {
            on_core(PRODUCER_CORE, || {
                let mut burst = PacketBurst::new();
                assert!(pool.alloc_bulk(&mut burst, BURST));
                free_burst(&mut burst);
                let start = Instant::now();
                for _ in 0..iters {
                    assert!(pool.alloc_bulk(black_box(&mut burst), BURST));
                    free_burst(black_box(&mut burst));
                }
                start.elapsed()
            })
        })
    });
    group.bench_function("crossbeam/array_queue_freelist", |b| {
        b.iter_custom(|iters| {
            on_core(PRODUCER_CORE, || {
                let mut burst = [0u32; BURST];
                let start = Instant::now();
                for _ in 0..iters {
                    assert!(freelist_get(&freelist, black_box(&mut burst)));
                    freelist_put(&freelist, black_box(&burst));
                }
                start.elapsed()
            })
        })
    });
    group.finish();
    assert_eq!(pool.in_use(), 0, "single-core runs returned every buffer");
    assert_eq!(freelist.len(), BUFFERS as usize, "peer free list got every index back");
}

/// Raw layer across cores: `get_bulk` on core 0, indices over the ring, `put_bulk` on core 1 (an empty pool
/// is retried).
fn raw_producer_consumer(pool: &Pool, n: u64) -> Duration {
    let (mut tx, mut rx) = ring::<u32>(RING).expect("ring");
    cross_core(
        || {
            let mut burst = [0u32; BURST];
            let mut sent = 0u64;
            while sent < n {
                if !pool.get_bulk(&mut burst) {
                    continue;
                }
                let mut off = 0;
                while off < BURST {
                    off += tx.push_slice(&burst[off..]);
                }
                sent += BURST as u64;
            }
        },
        || {
            let mut burst = [0u32; BURST];
            let mut got = 0u64;
            while got < n {
                let k = rx.pop_slice(&mut burst);
                // SAFETY: every index in the ring came from get_bulk on this pool and is returned once.
                unsafe { pool.put_bulk(&burst[..k]) };
                got += k as u64;
            }
        },
    )
    .0
}

/// Packet layer across cores: `alloc_bulk` on core 0, packets over the ring, `free_burst` on core 1.
fn packet_producer_consumer(pool: &Pool, n: u64) -> Duration {
    let (mut tx, mut rx) = ring::<pktloop_engine::Packet>(RING).expect("ring");
    cross_core(
        || {
            let mut burst = PacketBurst::new();
            let mut sent = 0u64;
            while sent < n {
                if !pool.alloc_bulk(&mut burst, BURST) {
                    continue;
                }
                while !burst.is_empty() {
                    tx.push_burst(&mut burst);
                }
                sent += BURST as u64;
            }
        },
        || {
            let mut burst = PacketBurst::new();
            let mut got = 0u64;
            while got < n {
                got += rx.pop_burst(&mut burst, BURST) as u64;
                free_burst(&mut burst);
            }
        },
    )
    .0
}

/// The peer across cores: the same ring, the shared free list instead of the pool.
fn freelist_producer_consumer(q: &ArrayQueue<u32>, n: u64) -> Duration {
    let (mut tx, mut rx) = ring::<u32>(RING).expect("ring");
    cross_core(
        || {
            let mut burst = [0u32; BURST];
            let mut sent = 0u64;
            while sent < n {
                if !freelist_get(q, &mut burst) {
                    continue;
                }
                let mut off = 0;
                while off < BURST {
                    off += tx.push_slice(&burst[off..]);
                }
                sent += BURST as u64;
            }
        },
        || {
            let mut burst = [0u32; BURST];
            let mut got = 0u64;
            while got < n {
                let k = rx.pop_slice(&mut burst);
                freelist_put(q, &burst[..k]);
                got += k as u64;
            }
        },
    )
    .0
}

/// Reference: the same ring handoff with no pool at all (the producer makes up indices, the consumer drops
/// them), showing how much of the producer/consumer cost is the ring itself.
fn ring_only(n: u64) -> Duration {
    let (mut tx, mut rx) = ring::<u32>(RING).expect("ring");
    cross_core(
        || {
            let mut burst = [0u32; BURST];
            let mut sent = 0u64;
            while sent < n {
                for (i, b) in burst.iter_mut().enumerate() {
                    *b = (sent as u32).wrapping_add(i as u32) % BUFFERS;
                }
                let mut off = 0;
                while off < BURST {
                    off += tx.push_slice(&burst[off..]);
                }
                sent += BURST as u64;
            }
        },
        || {
            let mut burst = [0u32; BURST];
            let mut got = 0u64;
            while got < n {
                let k = rx.pop_slice(&mut burst);
                black_box(&burst[..k]);
                got += k as u64;
            }
        },
    )
    .0
}

/// Moves a shorter stream across cores with every index checked against a "currently out" bitmap.
fn check_producer_consumer(pool: &Pool) {
    use std::sync::atomic::{AtomicBool, Ordering};
    let out: Vec<AtomicBool> = (0..BUFFERS).map(|_| AtomicBool::new(false)).collect();
    let n = 1 << 16;
    let (mut tx, mut rx) = ring::<pktloop_engine::Packet>(RING).expect("ring");
    cross_core(
        || {
            let mut burst = PacketBurst::new();
            let mut sent = 0u64;
            while sent < n {
                if !pool.alloc_bulk(&mut burst, BURST) {
                    continue;
                }
                for p in &burst {
                    assert!(!out[p.index() as usize].swap(true, Ordering::AcqRel), "buffer {} out twice", p.index());
                }
                while !burst.is_empty() {
                    tx.push_burst(&mut burst);
                }
                sent += BURST as u64;
            }
        },
        || {
            let mut burst = PacketBurst::new();
            let mut got = 0u64;
            while got < n {
                got += rx.pop_burst(&mut burst, BURST) as u64;
                for p in &burst {
                    assert!(
                        out[p.index() as usize].swap(false, Ordering::AcqRel),
                        "buffer {} freed but not out",
                        p.index()
                    );
                }
                free_burst(&mut burst);
            }
        },
    );
    assert_eq!(pool.in_use(), 0, "all buffers back after the cross-core check");
}

fn producer_consumer(c: &mut Criterion) {
    let pool = new_pool("bench-pc");
    check_producer_consumer(&pool);
    eprintln!("  producer/consumer: {} packets checked across cores, each out once, all back", 1 << 16);
    let freelist = new_freelist();

    let mut group = c.benchmark_group("pool_producer_consumer_burst32");
    group.throughput(Throughput::Elements(ITEMS));
    group.bench_function("pktloop/raw_get_put_bulk", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| raw_producer_consumer(&pool, ITEMS)).sum())
    });
    group.bench_function("pktloop/packet_alloc_bulk_free_burst", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| packet_producer_consumer(&pool, ITEMS)).sum())
    });
    group.bench_function("crossbeam/array_queue_freelist", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| freelist_producer_consumer(&freelist, ITEMS)).sum())
    });
    group.bench_function("reference/ring_only_no_pool", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| ring_only(ITEMS)).sum())
    });
    group.finish();
    assert_eq!(pool.in_use(), 0, "producer/consumer runs returned every buffer");
    assert_eq!(freelist.len(), BUFFERS as usize, "peer free list got every index back");
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(SAMPLES)
        .warm_up_time(WARM_UP)
        .measurement_time(MEASUREMENT)
        .without_plots();
    targets = single_core, producer_consumer
}
criterion_main!(benches);
