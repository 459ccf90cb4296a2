//! The input-layer soak: the receiving feth port wrapped in a dlil `Interface` (polled by a pinned thread
//! or by its own input thread) while a fault thread attaches and detaches an input filter and the protocol
//! handler for the sender's EtherType; every frame is accounted for, per reason, from the sender to the
//! handler.

mod churn;

use crate::common::{drop_figures, pin, round_secs, send, wait_until, Switches};
use crate::shared::{cfg, frame_bytes};
use churn::{add_filter_stats, Churn, DLIL_FAULTS, SOAK_ETHERTYPE};
use pktloop_engine::dlil::{FilterStats, InputThread, Interface};
use pktloop_engine::pool::PoolMode;
use pktloop_engine::port::{DropReason, PortCounters, PortStats};
use pktloop_engine::{Pool, Port};
use pktloop_pmd::fault::{FaultConfig, FaultInjector, Rate};
use pktloop_pmd::feth::{pair, Feth, FethConfig, RxFullPolicy};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Frame `id` of `len` (>= 22) bytes: the soak's EtherType, then the id, so filters judge by content.
fn typed_frame(id: u64, len: usize) -> Vec<u8> {
    let mut f = frame_bytes(id, len);
    f[12..14].copy_from_slice(&SOAK_ETHERTYPE.to_be_bytes());
    f[14..22].copy_from_slice(&id.to_le_bytes());
    f
}

/// The receiving side of an input-layer round: a pinned thread polling the interface, or its input thread.
enum Receiver<'scope> {
    Pinned(std::thread::ScopedJoinHandle<'scope, Interface>),
    Input(InputThread),
}

impl<'scope> Receiver<'scope> {
    fn start<'env>(
        scope: &'scope std::thread::Scope<'scope, 'env>,
        mut iface: Interface,
        input_thread: bool,
        pools: &[Pool],
        stop: &'env AtomicBool,
    ) -> Receiver<'scope> {
        if input_thread {
            return Receiver::Input(InputThread::spawn(iface, 1, None, pools).expect("an input thread"));
        }
        Receiver::Pinned(scope.spawn(move || {
            pin(1);
            while !stop.load(Ordering::Acquire) {
                iface.poll();
            }
            iface
        }))
    }

    fn stop(self, stop: &AtomicBool) -> Interface {
        stop.store(true, Ordering::Release);
        match self {
            Receiver::Pinned(t) => t.join().unwrap(),
            Receiver::Input(t) => t.stop(),
        }
    }
}

/// Frames the sender's port counted as sent that the receiving port has not received or dropped yet.
fn in_flight(sender: &PortCounters, receiver: &PortCounters) -> i64 {
    let (a, b) = (sender.snapshot(), receiver.snapshot());
    a.opackets as i64 - (b.ipackets + b.total_drops()) as i64
}

/// One input-layer round's figures.
#[derive(Default)]
struct DlilRound {
    taken: u64,
    sender: PortStats,
    port: PortStats,
    iface: PortStats,
    churn: Churn,
}

/// The sender's faults in the input-layer soak: truncated frames (some too short for a header: `BadFrame`
/// at demux), corrupted ones (some of another EtherType: `NoProtocol`), drops and back-pressure.
fn sender_faults(seed: u64) -> FaultConfig {
    let mut faults = FaultConfig { seed, ..Default::default() };
    (faults.tx.drop, faults.tx.truncate, faults.tx.corrupt, faults.tx.reject) =
        (Rate::PerMillion(2000), Rate::PerMillion(2000), Rate::PerMillion(2000), Rate::PerMillion(5000));
    faults
}

/// Sends until stopped, then lets the sender's own tx rings (WMM, back-pressure) empty, so that every
/// frame it took is counted as sent or dropped.
fn send_and_flush(a: &mut FaultInjector<Feth>, max_len: usize, s: &Switches) {
    send(a, max_len, typed_frame, s);
    let flushed = wait_until(Duration::from_secs(5), || {
        a.inner_mut().poll();
        a.inner().queued() == 0
    });
    assert!(flushed, "the sender's tx rings emptied ({} frames left)", a.inner().queued());
}

fn dlil_round(mode: PoolMode, wmm: bool, multibuflet: bool, input_thread: bool, seed: u64) -> DlilRound {
    let rx_full = if seed.is_multiple_of(2) { RxFullPolicy::Drop } else { RxFullPolicy::Retry };
    let config = FethConfig { pool_mode: mode, wmm, multibuflet, rx_full, ring_size: 128, ..cfg() };
    let (a, b) = pair(&config).unwrap();
    // Multi-buflet frames up to the largest MTU, so they reach the interface rather than `MtuExceeded`.
    // (A packet holds ceil(max_mtu / buflet) buflets less the headroom: the longest frames stop there.)
    let max_len = if multibuflet { (config.max_mtu as usize).min(a.tx_pool().max_packet_len()) } else { 1400 };
    for h in [a.handle(), b.handle()].iter().filter(|_| multibuflet) {
        h.set_mtu(config.max_mtu).expect("the largest MTU");
    }
    let pools: Vec<Pool> = vec![a.tx_pool().clone(), a.rx_pool().clone(), b.tx_pool().clone(), b.rx_pool().clone()];
    let (ca, cb) = (a.counters().clone(), b.counters().clone());
    let mut a = FaultInjector::new(a, &sender_faults(seed)).unwrap();
    let iface = Interface::new(Box::new(b), 32);
    let h = iface.handle();
    let mut round = DlilRound::default();
    // The round starts with the handler attached, before any traffic (not a fault).
    round.churn.attach_protocol(&h);
    let (s, mut rng) = (Switches::default(), fastrand::Rng::with_seed(seed));
    let iface = std::thread::scope(|scope| {
        let tx = scope.spawn(|| send_and_flush(&mut a, max_len, &s));
        let rx = Receiver::start(scope, iface, input_thread, &pools, &s.stop_rx);
        let end = Instant::now() + Duration::from_secs_f64(round_secs());
        while Instant::now() < end {
            // A random moment: the sleep sets when the next fault comes, it waits for nothing.
            std::thread::sleep(Duration::from_millis(rng.u64(0..10)));
            if rng.bool() {
                round.churn.toggle_filter(&h);
            } else {
                round.churn.toggle_protocol(&h);
            }
        }
        s.stop_tx.store(true, Ordering::Release);
        tx.join().unwrap();
        let drained = wait_until(Duration::from_secs(5), || in_flight(&ca, &cb) == 0);
        assert!(drained, "the receiver took every frame sent ({} in flight)", in_flight(&ca, &cb));
        rx.stop(&s.stop_rx)
    });
    // Detached here, after the traffic: their counters join the round's, their kept frames are freed.
    round.churn.detach_filter(&h);
    round.churn.detach_protocol(&h);
    drop(iface.detach());
    drop(a);
    (round.taken, round.sender, round.port, round.iface) =
        (s.taken.load(Ordering::Relaxed), ca.snapshot(), cb.snapshot(), h.stats());
    let what = format!("{mode:?} wmm={wmm} multibuflet={multibuflet} input_thread={input_thread}");
    check_dlil_round(&round, &what);
    for p in &pools {
        assert_eq!(p.in_use(), 0, "{what}: pool {} has all its buffers back", p.name());
    }
    round
}

/// Conservation at each step, per reason: sender, wire, port to interface, filters, demux, handlers.
fn check_dlil_round(r: &DlilRound, what: &str) {
    let (sa, sb, si, c) = (&r.sender, &r.port, &r.iface, &r.churn);
    assert_eq!(sa.opackets + sa.total_drops(), r.taken, "{what}: sender took = sent + dropped ({sa:?})");
    assert_eq!(sb.ipackets + sb.total_drops(), sa.opackets, "{what}: sent = received + dropped ({sb:?})");
    assert_eq!(si.ipackets, sb.ipackets, "{what}: every frame the port received entered the interface");
    let [filtered, no_protocol, bad] =
        [DropReason::Filtered, DropReason::NoProtocol, DropReason::BadFrame].map(|r| si.dropped(r));
    assert_eq!(si.total_drops(), filtered + no_protocol + bad, "{what}: the interface's own reasons only ({si:?})");
    assert_eq!(filtered, c.filters.dropped, "{what}: the interface and its filters agree on drops");
    let f = &c.filters;
    assert_eq!(
        si.ipackets,
        f.dropped + f.consumed + c.delivered + no_protocol + bad,
        "{what}: every frame was dropped or consumed by a filter, delivered, or dropped at demux by reason"
    );
    let (ft, st) = (&c.filter_tally, &c.sink_tally);
    assert_eq!(f.passed + f.dropped + f.consumed, ft.seen.load(Ordering::Relaxed), "{what}: filter counters");
    assert_eq!(f.consumed, ft.consumed.load(Ordering::Relaxed), "{what}: consumed, as the filters count it");
    assert_eq!(f.consumed, ft.freed.load(Ordering::Relaxed), "{what}: the filters freed all they consumed");
    assert_eq!(c.delivered, st.got.load(Ordering::Relaxed), "{what}: the handlers got what was delivered");
    assert_eq!(st.wrong_type.load(Ordering::Relaxed), 0, "{what}: demux handed the handler only its type");
}

#[test]
fn an_input_layer_soak_counts_every_frame_while_filters_and_protocols_come_and_go() {
    let started = Instant::now();
    let (mut rounds, mut taken, mut faults) = (0u64, 0u64, [0u64; DLIL_FAULTS.len()]);
    let (mut filters, mut delivered, mut received) = (FilterStats::default(), 0u64, 0u64);
    let mut drops = [0u64; DropReason::COUNT];
    for mode in [PoolMode::Global, PoolMode::Private, PoolMode::PrivateSplit] {
        // feth refuses multibuflet with split pools.
        let multibuflet = mode != PoolMode::PrivateSplit;
        for (wmm, multibuflet) in [(false, false), (true, multibuflet)] {
            rounds += 1;
            // The interface polled by a pinned thread of the test, or by its own input thread.
            let input_thread = rounds.is_multiple_of(2);
            let r = dlil_round(mode, wmm, multibuflet, input_thread, 100 + rounds);
            (taken, received) = (taken + r.taken, received + r.iface.ipackets);
            delivered += r.churn.delivered;
            faults.iter_mut().zip(r.churn.faults).for_each(|(t, f)| *t += f);
            add_filter_stats(&mut filters, r.churn.filters);
            for s in [r.sender, r.port, r.iface] {
                drops.iter_mut().zip(s.drops).for_each(|(t, d)| *t += d);
            }
        }
    }
    let faults: Vec<String> = DLIL_FAULTS.iter().zip(faults).map(|(k, n)| format!("{k} {n}")).collect();
    eprintln!(
        "input-layer soak: {:.1} s, {rounds} rounds (half on an input thread); frames taken {taken}, received by the interface {received}, \
         delivered {delivered}, filters passed {} dropped {} consumed {} (all freed); faults: {}; drops: {}; \
         buffers leaked 0",
        started.elapsed().as_secs_f64(),
        filters.passed,
        filters.dropped,
        filters.consumed,
        faults.join(", "),
        drop_figures(&drops)
    );
    let no_protocol = drops[DropReason::NoProtocol as usize];
    assert!(delivered > 0 && filters.dropped > 0 && filters.consumed > 0, "the filter's every verdict happened");
    assert!(no_protocol > 0, "frames landed while no handler was attached");
}
