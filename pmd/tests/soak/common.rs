//! What the soaks share: the round length, pinning, the sending and receiving loops and the switches that
//! steer them, two faults (the receiver stopped, a pool nearly emptied), waiting, and drop figures.

use pktloop_engine::meta::{Expiry, ExpiryAction};
use pktloop_engine::packet::free_burst;
use pktloop_engine::port::DropReason;
use pktloop_engine::time::now_ns;
use pktloop_engine::{PacketBurst, Pool, Port};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// What the two forwarding threads share with the fault thread.
#[derive(Default)]
pub struct Switches {
    pub stop_tx: AtomicBool,
    pub stop_rx: AtomicBool,
    /// The receiver stops polling (its ring fills).
    pub rx_paused: AtomicBool,
    /// The sender gives its frames deadlines already past.
    pub expire: AtomicBool,
    pub taken: AtomicU64,
    pub received: AtomicU64,
    /// Frames [`receive`] got chained over more than one buflet.
    pub multi_buflet: AtomicU64,
    /// The longest frame [`receive`] got, in bytes.
    pub longest: AtomicU64,
}

/// Each round's length in seconds: `PKTLOOP_SOAK_SECS`, default 1.
pub fn round_secs() -> f64 {
    std::env::var("PKTLOOP_SOAK_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(1.0)
}

/// Pins the calling thread to core `core` (modulo the cores there are), where the OS allows it.
pub fn pin(core: usize) {
    let cores = core_affinity::get_core_ids().unwrap_or_default();
    if let Some(&id) = cores.get(core % cores.len().max(1)) {
        core_affinity::set_for_current(id);
    }
}

/// Sends until stopped: frames `frame(id, len)` of 60..=max bytes, deadlines in the past while told so.
pub fn send(port: &mut impl Port, max_len: usize, frame: fn(u64, usize) -> Vec<u8>, s: &Switches) {
    pin(0);
    let mut rng = fastrand::Rng::with_seed(1);
    let mut burst = PacketBurst::new();
    let mut id = 0u64;
    while !s.stop_tx.load(Ordering::Acquire) {
        if burst.is_empty() {
            for _ in 0..rng.usize(1..=32) {
                let Ok(mut p) = port.tx_pool().packet_from(&frame(id, rng.usize(60..=max_len))) else { break };
                if s.expire.load(Ordering::Relaxed) {
                    p.meta_mut().expiry =
                        Some(Expiry { deadline_ns: now_ns().saturating_sub(1), action: ExpiryAction::Drop });
                }
                burst.push(p);
                id += 1;
            }
        }
        let taken = port.tx_burst(0, &mut burst) as u64;
        s.taken.fetch_add(taken, Ordering::Relaxed);
    }
    free_burst(&mut burst);
}

/// Receives and frees until stopped, pausing while told so.
pub fn receive(port: &mut impl Port, s: &Switches) {
    pin(1);
    let mut burst = PacketBurst::new();
    while !s.stop_rx.load(Ordering::Acquire) {
        if s.rx_paused.load(Ordering::Relaxed) {
            std::hint::spin_loop();
            continue;
        }
        let got = port.rx_burst(0, &mut burst, 32) as u64;
        s.received.fetch_add(got, Ordering::Relaxed);
        note_shapes(&burst, s);
        free_burst(&mut burst);
    }
}

/// Counts the frames of `burst` chained over several buflets and notes the longest: what shows that
/// multi-buflet frames crossed, not only that frames did.
fn note_shapes(burst: &PacketBurst, s: &Switches) {
    let chained = burst.iter().filter(|p| p.buflet_count() > 1).count() as u64;
    s.multi_buflet.fetch_add(chained, Ordering::Relaxed);
    if let Some(longest) = burst.iter().map(|p| p.len() as u64).max() {
        s.longest.fetch_max(longest, Ordering::Relaxed);
    }
}

/// Stops the receiver for `hold` (its ring fills).
pub fn pause_receiver(s: &Switches, hold: Duration) {
    s.rx_paused.store(true, Ordering::Relaxed);
    std::thread::sleep(hold);
    s.rx_paused.store(false, Ordering::Relaxed);
}

/// Takes every buffer of `pool` but a few, for `hold`.
pub fn hold_most_of(pool: &Pool, hold: Duration) {
    let mut held = Vec::new();
    while pool.stats().capacity - pool.in_use() > 8 {
        match pool.alloc() {
            Some(p) => held.push(p),
            None => break,
        }
    }
    std::thread::sleep(hold);
    drop(held);
}

/// Waits until `done` holds or `patience` passed; returns whether it held.
pub fn wait_until(patience: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + patience;
    while !done() {
        if Instant::now() >= deadline {
            return false;
        }
        // Checked often, without taking a core from the threads being waited for.
        std::thread::sleep(Duration::from_micros(200));
    }
    true
}

/// `reason count` for every reason with drops.
pub fn drop_figures(drops: &[u64; DropReason::COUNT]) -> String {
    let named = DropReason::ALL.iter().zip(drops).filter(|(_, n)| **n > 0);
    named.map(|(r, n)| format!("{} {n}", r.as_str())).collect::<Vec<_>>().join(", ")
}
