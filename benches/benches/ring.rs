//! Cross-core ring transfer: 8-byte handles in bursts of 32, producer pinned to core 0, consumer pinned to
//! core 1, same ring capacity for every peer, all measured in the same run:
//!
//! - `pktloop/slice`: [`pktloop_engine::ring`] `push_slice` / `pop_slice`;
//! - `rtrb/chunk`: rtrb's chunk API (`write_chunk_uninit` / `read_chunk`);
//! - `crossbeam/array_queue`: crossbeam's `ArrayQueue`, `push` / `pop` per item (it has no burst API).
//!
//! (`push_burst` / `pop_burst` on `ArrayVec`s of packets are measured in the pool benchmark's
//! producer/consumer case.) Every peer moves items from a 32-slot source burst to a 32-slot destination burst, as a driver would.
//! One criterion iteration transfers [`ITEMS`] items and is timed from the release of both threads until
//! the consumer holds the last item. Before timing, each peer moves a shorter stream with every item
//! checked (each arrives once, in order); timed runs check the sum of what arrived.
//!
//! Run: `cargo bench -p pktloop-benches --bench ring`.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use pktloop_benches::{cross_core, pinning_note, BURST, MEASUREMENT, SAMPLES, WARM_UP};
use std::mem::MaybeUninit;
use std::time::Duration;

/// Items per timed transfer.
const ITEMS: u64 = 1 << 20;
/// Items per correctness run (checked one by one).
const CHECK_ITEMS: u64 = 1 << 18;
/// Ring capacity for every peer.
const CAPACITY: usize = 1024;

/// What the consumer received: the next expected item and the running sum.
#[derive(Debug, Default)]
struct Sink {
    next: u64,
    sum: u64,
}

impl Sink {
    /// Takes a burst; with `VERIFY` every item must be the next in sequence.
    #[inline(always)]
    fn take<const VERIFY: bool>(&mut self, items: &[u64]) {
        if VERIFY {
            for &v in items {
                assert_eq!(v, self.next, "item out of order or lost");
                self.next += 1;
            }
        } else {
            self.next += items.len() as u64;
        }
        self.sum = items.iter().fold(self.sum, |s, &v| s.wrapping_add(v));
    }

    fn check(&self, n: u64) {
        assert_eq!(self.next, n, "items received");
        assert_eq!(self.sum, n * (n - 1) / 2, "sum of items received");
    }
}

/// Fills `src` with the next burst `sent..` (at most up to `n`); returns its length.
#[inline(always)]
fn fill(src: &mut [u64; BURST], sent: u64, n: u64) -> usize {
    let k = (n - sent).min(BURST as u64) as usize;
    for (i, slot) in src[..k].iter_mut().enumerate() {
        *slot = sent + i as u64;
    }
    k
}

fn pktloop_slice<const VERIFY: bool>(n: u64) -> (Duration, Sink) {
    let (mut tx, mut rx) = pktloop_engine::ring::ring::<u64>(CAPACITY).expect("ring");
    cross_core(
        move || {
            let mut src = [0u64; BURST];
            let mut sent = 0;
            while sent < n {
                let k = fill(&mut src, sent, n);
                let mut off = 0;
                while off < k {
                    off += tx.push_slice(&src[off..k]);
                }
                sent += k as u64;
            }
        },
        move || {
            let mut dst = [0u64; BURST];
            let mut sink = Sink::default();
            while sink.next < n {
                let got = rx.pop_slice(&mut dst);
                sink.take::<VERIFY>(&dst[..got]);
            }
            sink
        },
    )
}

fn rtrb_chunk<const VERIFY: bool>(n: u64) -> (Duration, Sink) {
    use rtrb::chunks::ChunkError::TooFewSlots;
    let (mut tx, mut rx) = rtrb::RingBuffer::<u64>::new(CAPACITY);
    cross_core(
        move || {
            let mut src = [0u64; BURST];
            let mut sent = 0;
            while sent < n {
                let k = fill(&mut src, sent, n);
                let mut off = 0;
                while off < k {
                    let mut chunk = match tx.write_chunk_uninit(k - off) {
                        Ok(chunk) => chunk,
                        Err(TooFewSlots(0)) => continue,
                        Err(TooFewSlots(m)) => tx.write_chunk_uninit(m).expect("slots just seen"),
                    };
                    let (a, b) = chunk.as_mut_slices();
                    let (la, lb) = (a.len(), b.len());
                    copy_to_uninit(a, &src[off..off + la]);
                    copy_to_uninit(b, &src[off + la..off + la + lb]);
                    // SAFETY: both slices of the chunk were just initialised.
                    unsafe { chunk.commit_all() };
                    off += la + lb;
                }
                sent += k as u64;
            }
        },
        move || {
            let mut dst = [0u64; BURST];
            let mut sink = Sink::default();
            while sink.next < n {
                let chunk = match rx.read_chunk(BURST) {
                    Ok(chunk) => chunk,
                    Err(TooFewSlots(0)) => continue,
                    Err(TooFewSlots(m)) => rx.read_chunk(m).expect("slots just seen"),
                };
                let (a, b) = chunk.as_slices();
                let got = a.len() + b.len();
                dst[..a.len()].copy_from_slice(a);
                dst[a.len()..got].copy_from_slice(b);
                chunk.commit_all();
                sink.take::<VERIFY>(&dst[..got]);
            }
            sink
        },
    )
}

#[inline(always)]
fn copy_to_uninit(dst: &mut [MaybeUninit<u64>], src: &[u64]) {
    for (d, &s) in dst.iter_mut().zip(src) {
        d.write(s);
    }
}

fn crossbeam_array_queue<const VERIFY: bool>(n: u64) -> (Duration, Sink) {
    let q = crossbeam_queue::ArrayQueue::<u64>::new(CAPACITY);
    let q = &q;
    cross_core(
        move || {
            let mut src = [0u64; BURST];
            let mut sent = 0;
            while sent < n {
                let k = fill(&mut src, sent, n);
                for &v in &src[..k] {
                    while q.push(v).is_err() {}
                }
                sent += k as u64;
            }
        },
        move || {
            let mut dst = [0u64; BURST];
            let mut sink = Sink::default();
            while sink.next < n {
                let mut got = 0;
                while got < BURST {
                    match q.pop() {
                        Some(v) => {
                            dst[got] = v;
                            got += 1;
                        }
                        None => break,
                    }
                }
                sink.take::<VERIFY>(&dst[..got]);
            }
            sink
        },
    )
}

type Transfer = fn(u64) -> (Duration, Sink);

/// The peers: name, checked transfer, timed transfer.
const PEERS: [(&str, Transfer, Transfer); 3] = [
    ("pktloop/slice", pktloop_slice::<true>, pktloop_slice::<false>),
    ("rtrb/chunk", rtrb_chunk::<true>, rtrb_chunk::<false>),
    ("crossbeam/array_queue", crossbeam_array_queue::<true>, crossbeam_array_queue::<false>),
];

fn ring_transfer(c: &mut Criterion) {
    eprintln!("ring transfer: {}; capacity {CAPACITY}, burst {BURST}, {ITEMS} items per iteration", pinning_note());
    for (name, checked, _) in PEERS {
        let (_, sink) = checked(CHECK_ITEMS);
        sink.check(CHECK_ITEMS);
        eprintln!("  {name}: {CHECK_ITEMS} items checked, each once and in order");
    }
    let mut group = c.benchmark_group("ring_cross_core_u64_burst32");
    group.throughput(Throughput::Elements(ITEMS));
    for (name, _, timed) in PEERS {
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let (t, sink) = timed(ITEMS);
                    sink.check(ITEMS);
                    total += t;
                }
                total
            })
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(SAMPLES)
        .warm_up_time(WARM_UP)
        .measurement_time(MEASUREMENT)
        .without_plots();
    targets = ring_transfer
}
criterion_main!(benches);
