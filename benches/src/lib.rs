//! Shared helpers for the criterion benchmarks in `benches/benches/`.
//!
//! - [`cross_core`]: the two-thread harness: a producer pinned to core 0 and a consumer pinned to core 1,
//!   released together, timed from the release until the consumer has everything;
//! - [`on_core`]: run and time a closure on one pinned thread (single-core benchmarks);
//! - [`SAMPLES`], [`WARM_UP`], [`MEASUREMENT`]: the short criterion settings every benchmark uses, so the
//!   whole suite reruns in a few minutes.
//!
//! Pinning is best effort: with fewer than two cores (or no affinity support) the threads run unpinned and
//! [`pinning_note`] says so once.
//!
//! ```
//! use std::sync::atomic::{AtomicU64, Ordering};
//! let cell = AtomicU64::new(0);
//! let (elapsed, got) = pktloop_benches::cross_core(
//!     || cell.store(7, Ordering::Release),
//!     || loop {
//!         let v = cell.load(Ordering::Acquire);
//!         if v != 0 {
//!             break v;
//!         }
//!     },
//! );
//! assert_eq!(got, 7);
//! assert!(elapsed.as_secs() < 10);
//! ```
#![warn(missing_docs)]

pub mod dlil_floor;
pub mod dlil_sides;
pub mod floor;
pub mod pairs;
pub mod stamped;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Core the producer side runs on.
pub const PRODUCER_CORE: usize = 0;
/// Core the consumer side runs on.
pub const CONSUMER_CORE: usize = 1;
/// Items per burst in every benchmark (DPDK's usual burst).
pub const BURST: usize = 32;

fn core_ids() -> &'static [core_affinity::CoreId] {
    static IDS: OnceLock<Vec<core_affinity::CoreId>> = OnceLock::new();
    IDS.get_or_init(|| core_affinity::get_core_ids().unwrap_or_default())
}

/// How the benchmark threads are placed, e.g. `pinned to cores 0 and 1` (printed once by the benches).
pub fn pinning_note() -> String {
    let n = core_ids().len();
    if n >= 2 {
        format!("threads pinned: producer on core {PRODUCER_CORE}, consumer on core {CONSUMER_CORE} ({n} cores)")
    } else {
        format!("warning: only {n} core(s) visible; benchmark threads run unpinned and share a core")
    }
}

/// Pins the calling thread to the `index`-th core; false when there is no such core or pinning failed.
pub fn pin(index: usize) -> bool {
    core_ids().get(index).is_some_and(|&id| core_affinity::set_for_current(id))
}

/// Runs `producer` on a thread pinned to [`PRODUCER_CORE`] and `consumer` on one pinned to
/// [`CONSUMER_CORE`]. Both wait until the other is pinned and ready, then start together; the time runs
/// from the release until `consumer` returns (the consumer has received the last item), and is returned
/// with the consumer's result. Thread creation and pinning are outside the timed span.
pub fn cross_core<P, C, R>(producer: P, consumer: C) -> (Duration, R)
where
    P: FnOnce() + Send,
    C: FnOnce() -> R + Send,
    R: Send,
{
    let producer_ready = AtomicBool::new(false);
    let go = AtomicBool::new(false);
    std::thread::scope(|s| {
        s.spawn(|| {
            pin(PRODUCER_CORE);
            producer_ready.store(true, Ordering::Release);
            while !go.load(Ordering::Acquire) {
                std::hint::spin_loop();
            }
            exit_on_panic(producer);
        });
        let consumer = s.spawn(|| {
            pin(CONSUMER_CORE);
            while !producer_ready.load(Ordering::Acquire) {
                std::hint::spin_loop();
            }
            let start = Instant::now();
            go.store(true, Ordering::Release);
            let r = exit_on_panic(consumer);
            (start.elapsed(), r)
        });
        consumer.join().expect("consumer thread panicked")
    })
}

/// Runs `f`, ending the process if it panics. Each side of [`cross_core`] spins until the other one stops
/// it or hands it the last item: one that panicked would leave the other, and the benchmark, spinning
/// for ever (a check that fails in a run must end it, with the panic's message and a failing status).
fn exit_on_panic<R>(f: impl FnOnce() -> R) -> R {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or_else(|_| std::process::exit(101))
}

/// Runs `f` on a new thread pinned to core `index` and returns what it returns (typically the time it
/// measured itself). A fresh thread also means fresh per-thread pool caches.
pub fn on_core<R: Send>(index: usize, f: impl FnOnce() -> R + Send) -> R {
    std::thread::scope(|s| {
        s.spawn(|| {
            pin(index);
            f()
        })
        .join()
        .expect("benchmark thread panicked")
    })
}

/// Criterion samples per benchmark.
pub const SAMPLES: usize = 10;
/// Criterion warm-up per benchmark.
pub const WARM_UP: Duration = Duration::from_secs(1);
/// Criterion measurement time per benchmark.
pub const MEASUREMENT: Duration = Duration::from_secs(2);
