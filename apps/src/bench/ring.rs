//! The ring scenario: u64 items across two pinned threads in bursts of 32, through pktloop's ring, rtrb's
//! (calls that move as many of a slice as fit, as pktloop's do) and crossbeam's `ArrayQueue` (one at a
//! time: it has no burst API).

use super::{Row, Suite};
use crate::error::AppError;
use pktloop_engine::lcore;
use pktloop_engine::ring::ring;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Slots of every ring.
const CAPACITY: usize = 1024;
/// Items per call.
const BURST: usize = 32;

/// pktloop's ring against rtrb's and crossbeam's.
pub(super) fn rows(suite: &mut Suite) -> Result<(), AppError> {
    if !suite.wants("ring transfer") {
        return Ok(());
    }
    let ours = ring_transfer(suite.secs, RingKind::Pktloop)?;
    let rtrb = ring_transfer(suite.secs, RingKind::Rtrb)?;
    let xb = ring_transfer(suite.secs, RingKind::Crossbeam)?;
    for (peer, value, note) in [
        ("rtrb (partial slices)", rtrb, "u64 items moved producer -> consumer"),
        ("crossbeam ArrayQueue (one at a time)", xb, "crossbeam has no burst API"),
    ] {
        // One row per peer, each named for its peer, so that the JSON's names are unique.
        suite.emit(Row {
            name: format!("ring transfer 2 cores, bursts of 32, against {peer}"),
            value: ours,
            unit: "Mop/s",
            peer: Some((peer.into(), value)),
            note: note.into(),
        });
    }
    Ok(())
}

/// Which ring moves the items.
#[derive(Debug, Clone, Copy)]
enum RingKind {
    Pktloop,
    Rtrb,
    Crossbeam,
}

/// Million u64 items per second moved across two pinned threads in bursts of 32.
fn ring_transfer(secs: Duration, kind: RingKind) -> Result<f64, AppError> {
    match kind {
        RingKind::Pktloop => {
            let (mut p, mut c) = ring::<u64>(CAPACITY)?;
            let mut buf = [0u64; BURST];
            across_cores(secs, "ring", move || c.pop_slice(&mut buf), move || _ = p.push_slice(&[7; BURST]))
        }
        RingKind::Rtrb => {
            let (mut p, mut c) = rtrb::RingBuffer::<u64>::new(CAPACITY);
            let mut buf = [0u64; BURST];
            let pop = move || c.pop_partial_slice(&mut buf).0.len();
            across_cores(secs, "rtrb", pop, move || _ = p.push_partial_slice(&[7; BURST]))
        }
        RingKind::Crossbeam => {
            let q = Arc::new(crossbeam_queue::ArrayQueue::<u64>::new(CAPACITY));
            let qc = q.clone();
            let pop = move || (0..BURST).take_while(|_| qc.pop().is_some()).count();
            let push = move || {
                for _ in 0..BURST {
                    if q.push(7).is_err() {
                        break;
                    }
                }
            };
            across_cores(secs, "xb", pop, push)
        }
    }
}

/// Runs `push` on core 0 and `pop` (which returns how many items it took) on core 1, both released at
/// once, for `secs`; million items taken per second.
fn across_cores(
    secs: Duration,
    name: &str,
    mut pop: impl FnMut() -> usize + Send + 'static,
    mut push: impl FnMut() + Send + 'static,
) -> Result<f64, AppError> {
    let moved = Arc::new(AtomicU64::new(0));
    let go = Arc::new(AtomicBool::new(false));
    let cores = lcore::plan(2);
    let spawn_err = |e: std::io::Error| AppError::runtime(format!("cannot start a bench thread: {e}"));
    let (m, g) = (moved.clone(), go.clone());
    let consumer = lcore::spawn(&format!("{name}-c"), 1, cores.cores[1], move |ctx| {
        let mut n = 0u64;
        while !g.load(Ordering::Acquire) {}
        while ctx.running() {
            n += pop() as u64;
        }
        m.store(n, Ordering::Relaxed);
    })
    .map_err(spawn_err)?;
    let g = go.clone();
    let producer = lcore::spawn(&format!("{name}-p"), 0, cores.cores[0], move |ctx| {
        while !g.load(Ordering::Acquire) {}
        while ctx.running() {
            push();
        }
    })
    .map_err(spawn_err)?;
    go.store(true, Ordering::Release);
    let start = Instant::now();
    crate::interrupt::sleep_until(Instant::now() + secs);
    consumer.stop();
    let elapsed = start.elapsed().as_secs_f64();
    consumer.join().map_err(|_| AppError::runtime("ring consumer panicked"))?;
    producer.join().map_err(|_| AppError::runtime("ring producer panicked"))?;
    Ok(moved.load(Ordering::Relaxed) as f64 / elapsed / 1e6)
}
