//! `pktloop latency`: round trips across a feth pair between two pinned cores, in an HDR histogram.
//!
//! Port 0's worker (the pinger) stamps each frame's payload with its send time and sequence number; port
//! 1's worker (the ponger) sends it straight back as it is (testpmd's io mode: it does not touch the frame,
//! only the trailer and FCS a receiver strips are cut). Closed loop: one frame in flight, the
//! next sent when the last returns. Open loop (`--rate`): frames are due every 1/rate seconds whether or not
//! earlier ones came back, and each is stamped with its *intended* send time, so time spent behind schedule
//! counts as latency (coordinated-omission correction by construction). The same run then measures a bare
//! two-ring ping-pong over rtrb between the same cores, the floor any ring-based transport pays.

use crate::capture::Recorder;
use crate::cli::LatencyArgs;
use crate::config::{self, int_in};
use crate::error::AppError;
use crate::frame::{self, UDP_PAYLOAD};
use crate::fwd::worker::Strip;
use crate::{hgrm, ports, svg};
use hdrhistogram::Histogram;
use pktloop_engine::capture::{Direction, Tap};
use pktloop_engine::lcore::{self, LcoreCtx};
use pktloop_engine::packet::free_burst;
use pktloop_engine::port::PacketBurst;
use pktloop_engine::time::now_ns;
use pktloop_engine::Port;
use pktloop_pmd::feth::FethConfig;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::time::Duration;

/// Longest round trip recorded (larger ones saturate): 60 s.
const MAX_NS: u64 = 60_000_000_000;
/// A frame not back after this long is counted lost and the closed loop moves on.
const LOST_AFTER_NS: u64 = 100_000_000;
/// Payload offset of the stamp: sequence number then send time, little-endian u64s.
const SEQ_AT: usize = UDP_PAYLOAD;

/// A checked latency run.
#[derive(Debug, Clone)]
pub struct LatencyPlan {
    /// feth knobs.
    pub feth: FethConfig,
    /// Frame length.
    pub pkt_len: usize,
    /// feth MTU.
    pub mtu: u32,
    /// How long.
    pub duration: Duration,
    /// Open-loop rate in packets per second; 0 = closed loop.
    pub rate: u64,
    /// Measure the rtrb floor too.
    pub peer: bool,
    /// Capture.
    pub pcap: Option<(PathBuf, i64)>,
}

/// One side's histogram and counts.
#[derive(Debug, Clone)]
pub struct Measured {
    /// Round trips, ns.
    pub hist: Histogram<u64>,
    /// Frames sent.
    pub sent: u64,
    /// Frames that came back.
    pub received: u64,
    /// Sends skipped because the pool was empty (open loop only; those intended sends are missing).
    pub send_failures: u64,
    /// Frames given up on (closed loop: not back within 100 ms).
    pub lost: u64,
    /// Pool memory (`hugepage`, `normal`; empty for the rtrb floor).
    pub backing: &'static str,
}

fn new_hist() -> Histogram<u64> {
    // Cannot fail: the bounds are constants within the crate's limits.
    Histogram::new_with_bounds(1, MAX_NS, 3).expect("valid histogram bounds")
}

/// Checks the flags.
pub fn resolve(a: &LatencyArgs) -> Result<LatencyPlan, AppError> {
    let feth = config::feth_config(&a.run.feth)?;
    let duration = config::duration("duration", a.run.duration, 86_400.0)?;
    let mtu = config::mtu(a.run.mtu, &feth)?;
    let pkt_len = config::pkt_len(a.run.pkt_len, mtu)?;
    let rate = int_in("rate", a.rate, 0, 50_000_000, "0 (closed loop) or 1..=50000000 packets per second")? as u64;
    let available = lcore::plan(1).available;
    if available < 2 && !a.run.allow_shared_cores.unwrap_or(false) {
        return Err(AppError::usage(format!(
            "latency needs 2 cores (pinger and ponger) but {available} exist; valid is --allow-shared-cores to run them on one"
        )));
    }
    Ok(LatencyPlan {
        feth,
        pkt_len,
        mtu,
        duration,
        rate,
        peer: !a.no_peer.unwrap_or(false),
        pcap: a.run.pcap.clone().map(|p| (p, a.run.pcap_count)),
    })
}

/// Runs `pktloop latency`.
pub fn main(a: &LatencyArgs) -> Result<(), AppError> {
    let plan = resolve(a)?;
    let json_out = a.run.json.unwrap_or(false);
    let (feth, leaked, pcap_written) = run_feth(&plan)?;
    let peer = if plan.peer && !crate::interrupt::requested() {
        Some(rtrb_pingpong(plan.duration.min(Duration::from_secs(2)))?)
    } else {
        None
    };
    if let Some(path) = &a.hgrm {
        std::fs::write(path, hgrm::percentile_distribution(&feth.hist, 1000.0))
            .map_err(|e| AppError::runtime(format!("cannot write --hgrm {}: {e}", path.display())))?;
    }
    if let Some(path) = &a.plot {
        let mut series = vec![("pktloop feth ping-pong", &feth.hist)];
        if let Some(p) = &peer {
            series.push(("rtrb two-ring ping-pong", &p.hist));
        }
        let title = format!(
            "Round-trip latency, {} B frames, {} ({} pool)",
            plan.pkt_len,
            if plan.rate == 0 { "closed loop".to_owned() } else { format!("open loop at {} pps", plan.rate) },
            plan.feth.pool_mode.as_str()
        );
        std::fs::write(path, svg::percentile_spectrum(&title, &series))
            .map_err(|e| AppError::runtime(format!("cannot write --plot {}: {e}", path.display())))?;
    }
    if json_out {
        println!("{}", to_json(&plan, &feth, peer.as_ref(), pcap_written));
    } else {
        print_table(&plan, &feth, peer.as_ref(), pcap_written);
    }
    if leaked != 0 {
        return Err(AppError::runtime(format!("{leaked} buffers did not return to their pools")));
    }
    if feth.hist.is_empty() {
        return Err(AppError::runtime("no round trip completed"));
    }
    Ok(())
}

/// The percentiles reported, as (label, json key, quantile).
pub const PERCENTILES: [(&str, &str, f64); 5] = [
    ("p50", "p50_ns", 0.5),
    ("p90", "p90_ns", 0.9),
    ("p99", "p99_ns", 0.99),
    ("p99.9", "p999_ns", 0.999),
    ("p99.99", "p9999_ns", 0.9999),
];

/// Percentile figures of a histogram as JSON fields.
pub fn percentiles_json(h: &Histogram<u64>) -> serde_json::Map<String, Value> {
    let mut m = serde_json::Map::new();
    for (_, key, q) in PERCENTILES {
        m.insert(key.to_owned(), json!(h.value_at_quantile(q)));
    }
    m.insert("max_ns".into(), json!(h.max()));
    m.insert("min_ns".into(), json!(h.min()));
    m.insert("mean_ns".into(), json!(h.mean()));
    m.insert("samples".into(), json!(h.len()));
    m
}

fn to_json(plan: &LatencyPlan, m: &Measured, peer: Option<&Measured>, pcap: Option<u64>) -> Value {
    let mut o = percentiles_json(&m.hist);
    o.insert("loop".into(), json!(if plan.rate == 0 { "closed" } else { "open" }));
    o.insert("rate_pps".into(), json!(plan.rate));
    o.insert("pkt_len".into(), json!(plan.pkt_len));
    o.insert("duration_s".into(), json!(plan.duration.as_secs_f64()));
    o.insert("sent".into(), json!(m.sent));
    o.insert("received".into(), json!(m.received));
    o.insert("lost".into(), json!(m.lost));
    o.insert("send_failures".into(), json!(m.send_failures));
    o.insert("pool".into(), json!({"mode": plan.feth.pool_mode.as_str(), "backing": m.backing}));
    if let Some(p) = peer {
        o.insert("peer_rtrb".into(), Value::Object(percentiles_json(&p.hist)));
        let r = m.hist.value_at_quantile(0.5) as f64 / p.hist.value_at_quantile(0.5).max(1) as f64;
        o.insert("p50_ratio_vs_rtrb".into(), json!(r));
    }
    o.insert("pcap_written".into(), json!(pcap));
    Value::Object(o)
}

fn print_table(plan: &LatencyPlan, m: &Measured, peer: Option<&Measured>, pcap: Option<u64>) {
    let mode = if plan.rate == 0 {
        "closed loop".to_owned()
    } else {
        format!("open loop at {} pps, coordinated-omission corrected", plan.rate)
    };
    println!(
        "round-trip latency across a feth pair, {} B frames, {mode}, {} pool ({} memory), {:.1} s",
        plan.pkt_len,
        plan.feth.pool_mode.as_str(),
        m.backing,
        plan.duration.as_secs_f64()
    );
    let peer_h = peer.map(|p| &p.hist);
    println!("  {:<8} {:>14} {:>18}", "", "feth (ns)", if peer_h.is_some() { "rtrb rings (ns)" } else { "" });
    for (label, _, q) in PERCENTILES {
        let p = peer_h.map(|h| h.value_at_quantile(q).to_string()).unwrap_or_default();
        println!("  {label:<8} {:>14} {p:>18}", m.hist.value_at_quantile(q));
    }
    let p = peer_h.map(|h| h.max().to_string()).unwrap_or_default();
    println!("  {:<8} {:>14} {p:>18}", "max", m.hist.max());
    let p = peer_h.map(|h| h.len().to_string()).unwrap_or_default();
    println!("  {:<8} {:>14} {p:>18}", "samples", m.hist.len());
    println!("  sent {}, received {}, lost {}, send failures {}", m.sent, m.received, m.lost, m.send_failures);
    if let Some(h) = peer_h {
        let r = m.hist.value_at_quantile(0.5) as f64 / h.value_at_quantile(0.5).max(1) as f64;
        println!("  p50 feth / p50 rtrb = {r:.2}");
    }
    if let Some(n) = pcap {
        println!("  pcap: {n} frames written");
    }
}

/// The feth ping-pong alone (no capture), for `bench`.
///
/// # Errors
/// As the run; leaked buffers are an error.
pub fn measure(plan: &LatencyPlan) -> Result<Measured, AppError> {
    let (m, leaked, _) = run_feth(plan)?;
    if leaked != 0 {
        return Err(AppError::runtime(format!("latency: {leaked} buffers leaked")));
    }
    Ok(m)
}

/// Runs the feth ping-pong; returns the pinger's figures, buffers leaked, and pcap frames written.
fn run_feth(plan: &LatencyPlan) -> Result<(Measured, usize, Option<u64>), AppError> {
    let mut set = ports::feth_pair(&plan.feth, plan.mtu)?;
    let mut recorder = match &plan.pcap {
        Some((path, count)) => {
            Some(Recorder::new(path, *count, config::max_frame(plan.mtu) + plan.feth.trailer_length as usize + 4)?)
        }
        None => None,
    };
    let mut taps = Vec::new();
    for _ in 0..2 {
        taps.push(match recorder.as_mut() {
            Some(r) => Some(r.tap()?),
            None => None,
        });
    }
    let pong_tap = taps.pop().flatten();
    let ping_tap = taps.pop().flatten();
    let ponger_port = set.ports.pop().ok_or_else(|| AppError::runtime("feth pair without a second port"))?;
    let pinger_port = set.ports.pop().ok_or_else(|| AppError::runtime("feth pair without a first port"))?;
    let template = frame::udp_frame(set.info[0].mac, set.info[1].mac, plan.pkt_len);
    let cores = lcore::plan(2);
    let strip = Strip { trailer: plan.feth.trailer_length as usize, fcs: plan.feth.fcs };
    let pong = lcore::spawn("pong", 1, cores.cores[1], move |ctx| ponger(ctx, ponger_port, pong_tap, strip))
        .map_err(|e| AppError::runtime(format!("cannot start the ponger: {e}")))?;
    let writer = match recorder {
        Some(r) => Some(r.start()?),
        None => None,
    };
    let (rate, duration) = (plan.rate, plan.duration);
    let hist = new_hist();
    let ping =
        lcore::spawn("ping", 0, cores.cores[0], move |ctx| pinger(ctx, pinger_port, template, rate, hist, ping_tap))
            .map_err(|e| AppError::runtime(format!("cannot start the pinger: {e}")))?;
    crate::interrupt::sleep_until(std::time::Instant::now() + duration);
    ping.stop();
    let ((measured, pinger_port), _) = ping.join().map_err(|_| AppError::runtime("the pinger panicked"))?;
    let (ponger_port, _) = pong.join().map_err(|_| AppError::runtime("the ponger panicked"))?;
    let written = match writer {
        Some(w) => Some(w.finish()?.written),
        None => None,
    };
    drop((pinger_port, ponger_port));
    let measured = Measured { backing: set.backing(), ..measured };
    Ok((measured, set.in_use(), written))
}

#[inline]
fn tap_burst(tap: &mut Option<Tap>, pkts: &[pktloop_engine::Packet], port: u16, dir: Direction, ts: u64) {
    if let Some(t) = tap {
        t.burst(pkts, port, dir, ts);
    }
}

fn ponger(ctx: &LcoreCtx, mut port: Box<dyn Port>, mut tap: Option<Tap>, strip: Strip) -> Box<dyn Port> {
    let mut burst: Box<PacketBurst> = Box::default();
    while ctx.running() {
        if burst.is_empty() {
            if port.rx_burst(0, &mut burst, 32) == 0 {
                continue;
            }
            let now = if tap.is_some() { now_ns() } else { 0 };
            tap_burst(&mut tap, &burst, 1, Direction::Rx, now);
            strip.apply(&mut burst);
            tap_burst(&mut tap, &burst, 1, Direction::Tx, now);
        }
        port.tx_burst(0, &mut burst);
    }
    free_burst(&mut burst);
    port
}

/// Builds one stamped frame into `out`; false when the pool is empty.
#[inline]
fn stamped(port: &dyn Port, out: &mut PacketBurst, template: &[u8], seq: u64, ts: u64) -> bool {
    let Some(mut p) = port.tx_pool().alloc() else { return false };
    if p.append(template).is_err() {
        return false;
    }
    let mut stamp = [0u8; 16];
    stamp[..8].copy_from_slice(&seq.to_le_bytes());
    stamp[8..].copy_from_slice(&ts.to_le_bytes());
    // Cannot fail: frames are at least 60 bytes, the stamp ends at byte 58.
    let _ = p.write(SEQ_AT, &stamp);
    out.push(p);
    true
}

#[inline]
fn stamp_of(p: &pktloop_engine::Packet) -> Option<(u64, u64)> {
    let mut b = [0u8; 16];
    p.read(SEQ_AT, &mut b).ok()?;
    let seq = u64::from_le_bytes(b[..8].try_into().ok()?);
    let ts = u64::from_le_bytes(b[8..].try_into().ok()?);
    Some((seq, ts))
}

fn pinger(
    ctx: &LcoreCtx,
    mut port: Box<dyn Port>,
    template: Vec<u8>,
    rate: u64,
    mut hist: Histogram<u64>,
    mut tap: Option<Tap>,
) -> (Measured, Box<dyn Port>) {
    let mut tx: Box<PacketBurst> = Box::default();
    let mut rx: Box<PacketBurst> = Box::default();
    let (mut sent, mut received, mut send_failures, mut lost) = (0u64, 0u64, 0u64, 0u64);
    // Warm-up: caches, page faults, the ponger's first spin; not recorded.
    let warm_until = now_ns() + 100_000_000;
    let interval = 1_000_000_000u64.checked_div(rate).unwrap_or(0);
    let mut next_due = now_ns();
    let mut waiting_since: Option<u64> = None;
    let mut seq = 0u64;
    while ctx.running() {
        let now = now_ns();
        if rate == 0 {
            match waiting_since {
                Some(t) if now - t < LOST_AFTER_NS => {}
                Some(_) => {
                    lost += 1;
                    waiting_since = None;
                }
                None => {}
            }
            if waiting_since.is_none() && tx.is_empty() {
                seq += 1;
                if stamped(port.as_ref(), &mut tx, &template, seq, now) {
                    waiting_since = Some(now);
                } else {
                    send_failures += 1;
                }
                tap_burst(&mut tap, &tx, 0, Direction::Tx, now);
            }
        } else {
            // Everything due by now goes out, each stamped with its intended time.
            let mut k = 0;
            let before = tx.len();
            while next_due <= now && k < 32 && !tx.is_full() {
                seq += 1;
                if !stamped(port.as_ref(), &mut tx, &template, seq, next_due) {
                    send_failures += 1;
                }
                next_due += interval;
                k += 1;
            }
            tap_burst(&mut tap, &tx[before..], 0, Direction::Tx, now);
        }
        if !tx.is_empty() {
            let before = tx.len();
            port.tx_burst(0, &mut tx);
            sent += (before - tx.len()) as u64;
        }
        if port.rx_burst(0, &mut rx, 32) > 0 {
            let now = now_ns();
            tap_burst(&mut tap, &rx, 0, Direction::Rx, now);
            for p in rx.iter() {
                if let Some((s, ts)) = stamp_of(p) {
                    received += 1;
                    if rate == 0 && s == seq {
                        waiting_since = None;
                    }
                    if ts >= warm_until {
                        hist.saturating_record(now.saturating_sub(ts).max(1));
                    }
                }
            }
            free_burst(&mut rx);
        }
    }
    free_burst(&mut tx);
    (Measured { hist, sent, received, send_failures, lost, backing: "" }, port)
}

/// The floor: a closed-loop ping-pong of timestamps over two rtrb rings between two pinned threads.
pub fn rtrb_pingpong(duration: Duration) -> Result<Measured, AppError> {
    let (mut to_b, mut from_a) = rtrb::RingBuffer::<u64>::new(64);
    let (mut to_a, mut from_b) = rtrb::RingBuffer::<u64>::new(64);
    let cores = lcore::plan(2);
    let echo = lcore::spawn("rtrb-pong", 1, cores.cores[1], move |ctx| {
        while ctx.running() {
            if let Ok(v) = from_a.pop() {
                while to_a.push(v).is_err() && ctx.running() {}
            }
        }
    })
    .map_err(|e| AppError::runtime(format!("cannot start the rtrb ponger: {e}")))?;
    let hist = new_hist();
    let ping = lcore::spawn("rtrb-ping", 0, cores.cores[0], move |ctx| {
        let mut hist = hist;
        let warm_until = now_ns() + 100_000_000;
        let (mut sent, mut received) = (0u64, 0u64);
        'outer: while ctx.running() {
            let t = now_ns();
            if to_b.push(t).is_err() {
                continue;
            }
            sent += 1;
            loop {
                if let Ok(v) = from_b.pop() {
                    let now = now_ns();
                    received += 1;
                    if v >= warm_until {
                        hist.saturating_record(now.saturating_sub(v).max(1));
                    }
                    break;
                }
                if !ctx.running() {
                    break 'outer;
                }
            }
        }
        Measured { hist, sent, received, send_failures: 0, lost: 0, backing: "" }
    })
    .map_err(|e| AppError::runtime(format!("cannot start the rtrb pinger: {e}")))?;
    crate::interrupt::sleep_until(std::time::Instant::now() + duration);
    ping.stop();
    let (m, _) = ping.join().map_err(|_| AppError::runtime("the rtrb pinger panicked"))?;
    echo.join().map_err(|_| AppError::runtime("the rtrb ponger panicked"))?;
    Ok(m)
}
