//! One measurement of the input layer's two ways to run, for `scripts/bench.sh path` (interleaved A B A B):
//!
//! ```text
//! dlilbench layer-cost     the layer's cost per packet over bare rx_burst on a null port: both on core
//!                          0, interleaved in blocks of 2048 bursts (layer-cost-3: with three pass filters)
//! dlilbench rtc            core 0 polls an interface over a null port (64-byte IPv4 frames); its
//!                          protocol frees each burst (run to completion)
//! dlilbench input-thread   an input thread on core 0 polls the same interface and hands each burst over
//!                          a ring to a worker on core 1, which frees it
//! dlilbench floor-rtc       the same work with no pktloop type (benches/src/dlil_floor.rs): one core
//!                          receives, demuxes and frees
//! dlilbench floor-handoff-8   core 0 hands 8-byte handles to core 1, which gives the buffers back on a
//!                          free ring (floor-handoff-4: 4-byte handles)
//! dlilbench floor-lend-8   ring slots own the buffers; core 1 reads 8-byte handles and releases the
//!                          slots (floor-lend-4: 4-byte handles)
//! dlilbench rtc-fwd        as rtc, but the protocol sends each burst back out (the null port frees it)
//! dlilbench input-thread-fwd  as input-thread, but the worker sends each burst back out through the
//!                          input thread (a ring each way), as `pktloop fwd --input-thread` forwards
//! ```
//!
//! Prints `dlil SIDE VALUE Mpps` (layer-cost: `dlil SIDE VALUE ns/pkt ...`): packets that reached their consumer per second, the best of three runs.
//! Every pktloop run checks that nothing was dropped and every buffer came back; every floor run, that each
//! frame it moved was written and demuxed.

use pktloop_benches::dlil_floor;
use pktloop_benches::dlil_sides::{layer_cost, null_port, Sink, BURST};
use pktloop_engine::dlil::{Handoff, InputThread, Interface, Protocol, ETHERTYPE_IPV4};
use pktloop_engine::packet::free_burst;
use pktloop_engine::pool::Pool;
use pktloop_engine::port::PacketBurst;
use pktloop_engine::{ring, Packet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// Packets per measured run.
const PACKETS: u64 = 1 << 24;
/// Runs per invocation; the best is printed.
const REPEATS: usize = 3;
/// Block pairs of a layer-cost run (2048 bursts a block: about a second in all).
const COST_BLOCKS: usize = 400;

/// Sends what it gets back out through the interface, counting it.
struct Reflect(Arc<AtomicU64>);

impl Protocol for Reflect {
    fn name(&self) -> &str {
        "reflect"
    }

    fn input(&mut self, pkts: &mut PacketBurst, replies: &mut PacketBurst) {
        self.0.store(self.0.load(Ordering::Relaxed) + pkts.len() as u64, Ordering::Relaxed);
        let room = replies.remaining_capacity().min(pkts.len());
        replies.extend(pkts.drain(..room));
    }
}

fn interface() -> (Interface, Pool) {
    let (port, pool) = null_port("dlilbench");
    (Interface::new(Box::new(port), BURST), pool)
}

fn pin(core: usize) {
    let _ = core_affinity::set_for_current(core_affinity::CoreId { id: core });
}

/// Run to completion on core 0, freeing: Mpps.
fn rtc() -> f64 {
    rtc_with(|seen| Box::new(Sink(seen)))
}

/// Run to completion on core 0, forwarding: Mpps.
fn rtc_fwd() -> f64 {
    rtc_with(|seen| Box::new(Reflect(seen)))
}

fn rtc_with(protocol: fn(Arc<AtomicU64>) -> Box<dyn Protocol>) -> f64 {
    let (mut iface, pool) = interface();
    let seen = Arc::new(AtomicU64::new(0));
    iface.handle().attach_protocol(ETHERTYPE_IPV4, protocol(seen.clone())).expect("free");
    let mpps = std::thread::scope(|s| {
        s.spawn(|| {
            pin(0);
            let t = Instant::now();
            while seen.load(Ordering::Relaxed) < PACKETS {
                iface.poll();
            }
            PACKETS as f64 / t.elapsed().as_secs_f64() / 1e6
        })
        .join()
        .expect("worker")
    });
    check(&iface, &pool, &[]);
    drop(iface.detach());
    assert_eq!(pool.in_use(), 0);
    mpps
}

/// Input thread on core 0 handing bursts to a worker on core 1, which frees them: Mpps at the worker.
fn input_thread() -> f64 {
    input_thread_with(false)
}

/// The same, the worker sending each burst back out through the input thread: Mpps at the worker.
fn input_thread_fwd() -> f64 {
    input_thread_with(true)
}

fn input_thread_with(forward: bool) -> f64 {
    let (iface, pool) = interface();
    let h = iface.handle();
    let (to_worker, mut from_input) = ring::ring::<Packet>(1024).expect("ring");
    let (mut to_port, outbound) = ring::ring::<Packet>(1024).expect("ring");
    h.attach_protocol(ETHERTYPE_IPV4, Box::new(Handoff::new("to-worker", to_worker, h.counters().clone())))
        .expect("free");
    let thread =
        InputThread::spawn(iface, 0, forward.then_some(outbound), std::slice::from_ref(&pool)).expect("input thread");
    pin(1);
    let mut burst = PacketBurst::new();
    let mut got = 0u64;
    let t = Instant::now();
    while got < PACKETS {
        got += from_input.pop_burst(&mut burst, BURST) as u64;
        if forward {
            // Back-pressure: what the outbound ring cannot take yet waits here.
            while !burst.is_empty() {
                to_port.push_burst(&mut burst);
            }
        } else {
            free_burst(&mut burst);
        }
    }
    let mpps = got as f64 / t.elapsed().as_secs_f64() / 1e6;
    let iface = thread.stop();
    // What the input thread handed over after we stopped counting.
    while from_input.pop_burst(&mut burst, BURST) > 0 {
        free_burst(&mut burst);
    }
    let dropped = iface.handle().stats().total_drops();
    drop(iface.detach());
    drop(from_input);
    drop(to_port);
    assert_eq!(pool.in_use(), 0);
    eprintln!("input-thread: {dropped} packets the worker's ring had no room for (counted, freed)");
    mpps
}

/// A floor side: Mpps, checking every frame was demuxed. The floor pins its own threads; run to completion
/// runs on the calling thread, pinned to core 0 here as `rtc` is.
fn floor_side(run: fn(u64) -> (std::time::Duration, u64)) -> f64 {
    let (t, demuxed) = pktloop_benches::on_core(0, || run(PACKETS));
    assert!(demuxed >= PACKETS, "every frame demuxed");
    PACKETS as f64 / t.as_secs_f64() / 1e6
}

fn check(iface: &Interface, pool: &Pool, _: &[()]) {
    assert_eq!(iface.handle().stats().total_drops(), 0, "nothing dropped");
    assert!(pool.in_use() <= 2 * BURST, "buffers come back");
}

/// The layer's cost over bare `rx_burst` (`filters` pass filters), on core 0: prints it and exits.
fn print_layer_cost(side: &str, filters: usize) -> ! {
    let c = pktloop_benches::on_core(0, || layer_cost(filters, COST_BLOCKS));
    println!(
        "dlil {side} {:.2} ns/pkt over bare (median pairwise {:.2}; best bare {:.1}, best layer {:.1} ns per burst of {BURST})",
        c.per_packet(),
        c.median_extra / BURST as f64,
        c.best_bare,
        c.best_layer
    );
    std::process::exit(0)
}

fn main() {
    let side = std::env::args().nth(1).unwrap_or_default();
    match side.as_str() {
        "layer-cost" => print_layer_cost(&side, 0),
        "layer-cost-3" => print_layer_cost(&side, 3),
        _ => {}
    }
    let run: fn() -> f64 = match side.as_str() {
        "rtc" => rtc,
        "input-thread" => input_thread,
        "floor-rtc" => || floor_side(dlil_floor::run_to_completion),
        "floor-handoff-8" => || floor_side(dlil_floor::hand_off::<u64>),
        "floor-handoff-4" => || floor_side(dlil_floor::hand_off::<u32>),
        "floor-lend-8" => || floor_side(dlil_floor::lend::<u64>),
        "floor-lend-4" => || floor_side(dlil_floor::lend::<u32>),
        "rtc-fwd" => rtc_fwd,
        "input-thread-fwd" => input_thread_fwd,
        _ => {
            eprintln!(
                "usage: dlilbench layer-cost|layer-cost-3|rtc|input-thread|rtc-fwd|input-thread-fwd|floor-rtc|floor-handoff-8|floor-handoff-4|floor-lend-8|floor-lend-4"
            );
            std::process::exit(2);
        }
    };
    let best = (0..REPEATS).map(|_| run()).fold(0.0, f64::max);
    println!("dlil {side} {best:.2} Mpps");
}
