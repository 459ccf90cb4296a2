//! `pktloop bench`: SPEC's standard scenarios that exist so far, each for a short fixed time, peers measured
//! in the same run. One table on stdout, all figures in a JSON file.
//!
//! These are throughput and latency snapshots on whatever machine runs them (shared machines give noisy
//! figures); the criterion benches in `benches/` are the careful measurements.

use crate::cli::{BenchArgs, Mode, PortKind, Topology};
use crate::error::AppError;
use crate::fwd::plan::Plan;
use crate::latency;
use pktloop_engine::lcore;
use pktloop_engine::mem::Prefer;
use pktloop_engine::packet::free_burst;
use pktloop_engine::pool::PoolMode;
use pktloop_engine::port::PacketBurst;
use pktloop_engine::ring::ring;
use pktloop_pmd::feth::FethConfig;
use pktloop_pmd::pools::{PortPoolSpec, PortPools};
use serde_json::{json, Value};
use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One result row.
#[derive(Debug, Clone)]
struct Row {
    name: String,
    value: f64,
    unit: &'static str,
    peer: Option<(String, f64)>,
    note: String,
}

impl Row {
    fn to_json(&self) -> Value {
        json!({
            "scenario": self.name,
            "value": self.value,
            "unit": self.unit,
            "peer": self.peer.as_ref().map(|(n, v)| json!({"name": n, "value": v})),
            "ratio_vs_peer": self.peer.as_ref().map(|(_, v)| self.value / v),
            "note": self.note,
        })
    }
}

/// Runs the suite.
pub fn main(a: &BenchArgs) -> Result<(), AppError> {
    let secs = crate::config::duration("duration", a.duration, 60.0)?;
    let prefer = crate::config::prefer(a.memory);
    let available = lcore::plan(1).available;
    let shared = a.allow_shared_cores.unwrap_or(false);
    if available < 2 && !shared {
        return Err(AppError::usage(format!(
            "bench runs two-core scenarios but {available} core exists; valid is --allow-shared-cores to share it"
        )));
    }
    // Ctrl-C skips the scenarios not yet run; the JSON keeps those that ran.
    let mut out_file = crate::config::create_output("out", &a.out)?;
    let want = |name: &str| !crate::interrupt::requested() && a.filter.as_deref().is_none_or(|f| name.contains(f));
    let mut rows: Vec<Row> = Vec::new();
    let mut emit = |r: Row| {
        if rows.is_empty() {
            // The header comes with the first row: a selection that runs nothing prints only its error.
            println!("{:<44} {:>12} {:<6} {:<40} {:>7}  note", "scenario", "value", "unit", "peer (same run)", "ratio");
        }
        print_row(&r);
        rows.push(r);
    };

    if want("ring transfer") {
        let ours = ring_transfer(secs, RingKind::Pktloop)?;
        let rtrb = ring_transfer(secs, RingKind::Rtrb)?;
        let xb = ring_transfer(secs, RingKind::Crossbeam)?;
        emit(Row {
            name: "ring transfer 2 cores, bursts of 32".into(),
            value: ours,
            unit: "Mop/s",
            peer: Some(("rtrb (chunks)".into(), rtrb)),
            note: "u64 items moved producer -> consumer".into(),
        });
        emit(Row {
            name: "ring transfer 2 cores, bursts of 32".into(),
            value: ours,
            unit: "Mop/s",
            peer: Some(("crossbeam ArrayQueue (one at a time)".into(), xb)),
            note: "crossbeam has no burst API".into(),
        });
    }
    if want("pool alloc/free") {
        emit(Row {
            name: "pool alloc/free bulk 32, 1 core".into(),
            value: pool_alloc_free(secs, prefer)?,
            unit: "Mpkt/s",
            peer: None,
            note: "alloc_bulk(32) + free_burst, thread cache on".into(),
        });
    }
    let fwd_plan = |port: PortKind, mode: Mode, cores: usize, pkt_len: usize, pool: PoolMode, multi: bool| Plan {
        feth: FethConfig { pool_mode: pool, multibuflet: multi, prefer, ..FethConfig::default() },
        port,
        mode,
        topology: Topology::Loop,
        cores: cores.min(available.max(1)).max(1),
        burst: 32,
        tx_first: 1,
        traffic: crate::gen::settings::Traffic::fixed(pkt_len),
        pairs: 1,
        core_ids: None,
        dial: None,
        expiry_ns: None,
        record_cycles: false,
        pkt_len,
        mtu: 1500,
        duration: secs,
        stats_period: Duration::from_secs(1),
        json: true,
        pcap: None,
        tap: crate::ports::TapPlan::default(),
        list: Vec::new(),
        xdp: Default::default(),
        role: None,
        dlil: None,
    };
    let mut fwd_row = |name: String, plan: Plan, note: &str| -> Result<(), AppError> {
        if !want(&name) {
            return Ok(());
        }
        let r = crate::fwd::run(&plan, None)?;
        if r.leaked != 0 {
            return Err(AppError::runtime(format!("{name}: {} buffers leaked", r.leaked)));
        }
        let drops: u64 = r.drops().iter().sum();
        emit(Row {
            name,
            value: r.mpps(),
            unit: "Mpps",
            peer: None,
            note: format!("{note}; {} memory; drops {drops}", r.backing),
        });
        Ok(())
    };
    fwd_row(
        "feth io-fwd 64B, 2 cores, tx_first 1".into(),
        fwd_plan(PortKind::Feth, Mode::Io, 2, 64, PoolMode::Global, false),
        "testpmd io + start tx_first over crossed rings",
    )?;
    for (len, multi) in [(64, false), (1518, false), (1518, true)] {
        for pool in [PoolMode::Global, PoolMode::Private, PoolMode::PrivateSplit] {
            if multi && pool == PoolMode::PrivateSplit {
                continue; // refused by feth, as Apple refuses it
            }
            let name =
                format!("feth txonly->rxonly {len}B {}{}", pool.as_str(), if multi { " multibuflet" } else { "" });
            fwd_row(name, fwd_plan(PortKind::Feth, Mode::Txonly, 2, len, pool, multi), "packets received")?;
        }
    }
    let mut wmm = fwd_plan(PortKind::Feth, Mode::Txonly, 2, 64, PoolMode::Global, false);
    wmm.feth.wmm = true;
    fwd_row("feth WMM 4->1 txonly->rxonly 64B global".into(), wmm, "generator cycles VO, VI, BE, BK")?;
    fwd_row(
        "null io-fwd 64B, 1 core".into(),
        fwd_plan(PortKind::Null, Mode::Io, 1, 64, PoolMode::Global, false),
        "the framework's cost floor",
    )?;
    for workers in 1..=available.clamp(1, pktloop_pmd::feth::QUEUES_MAX) {
        let name = format!("scaling txonly->rxonly 64B, {workers} worker(s)");
        if !want(&name) {
            continue;
        }
        let mut plan = fwd_plan(PortKind::Feth, Mode::Txonly, workers, 64, PoolMode::Global, false);
        plan.feth.queues = workers;
        plan.feth.pool_packets *= workers as u32;
        let r = crate::fwd::run(&plan, None)?;
        let cpp = crate::stats::cycles_per_packet(&r.totals, workers, r.secs);
        emit(Row {
            name,
            value: r.mpps(),
            unit: "Mpps",
            peer: None,
            note: format!(
                "one feth queue pair per worker (generate on one port's queue, receive on the other's); per worker \
                 {:.1} Mpps, {:.1} core cycles per packet",
                r.mpps() / workers as f64,
                cpp.map_or(0.0, |c| c.value)
            ),
        });
    }
    if want("latency") {
        let lp = latency::LatencyPlan {
            feth: FethConfig { prefer, ..FethConfig::default() },
            pkt_len: 64,
            mtu: 1500,
            duration: secs,
            rate: 0,
            peer: true,
            pcap: None,
            wire: None,
            xdp: Default::default(),
            role: None,
        };
        let feth = latency::measure(&lp)?;
        let rtrb = latency::rtrb_pingpong(secs)?;
        for (label, q) in [("p50", 0.5), ("p99.9", 0.999)] {
            emit(Row {
                name: format!("latency ping-pong 64B {label} round trip"),
                value: feth.hist.value_at_quantile(q) as f64,
                unit: "ns",
                peer: Some(("rtrb two-ring ping-pong".into(), rtrb.hist.value_at_quantile(q) as f64)),
                note: format!("{} samples closed loop", feth.hist.len()),
            });
        }
    }

    if rows.is_empty() && !crate::interrupt::requested() {
        // Nothing ran: an empty table and file would look like a result.
        drop(out_file);
        let _ = std::fs::remove_file(&a.out);
        return Err(AppError::usage(format!(
            "invalid --filter {}: no scenario's name contains it; valid is a part of a name `pktloop bench` prints \
             (ring, pool, feth, null, scaling, latency, ...)",
            a.filter.as_deref().unwrap_or_default()
        )));
    }
    let out = json!({
        "duration_s_per_scenario": secs.as_secs_f64(),
        "cores_available": available,
        "results": rows.iter().map(Row::to_json).collect::<Vec<_>>(),
    });
    let text = serde_json::to_string_pretty(&out).map_err(|e| AppError::runtime(e.to_string()))?;
    out_file
        .write_all((text + "\n").as_bytes())
        .map_err(|e| AppError::runtime(format!("cannot write --out {}: {e}", a.out.display())))?;
    println!("wrote {}", a.out.display());
    Ok(())
}

fn print_row(r: &Row) {
    let (peer, ratio) = match &r.peer {
        Some((n, v)) => (format!("{n}: {v:.3}"), format!("{:.2}", r.value / v)),
        None => (String::new(), String::new()),
    };
    println!("{:<44} {:>12.3} {:<6} {:<40} {:>7}  {}", r.name, r.value, r.unit, peer, ratio, r.note);
}

#[derive(Debug, Clone, Copy)]
enum RingKind {
    Pktloop,
    Rtrb,
    Crossbeam,
}

/// Million u64 items per second moved across two pinned threads in bursts of 32.
fn ring_transfer(secs: Duration, kind: RingKind) -> Result<f64, AppError> {
    const CAP: usize = 1024;
    const BURST: usize = 32;
    let moved = Arc::new(AtomicU64::new(0));
    let go = Arc::new(AtomicBool::new(false));
    let cores = lcore::plan(2);
    let spawn_err = |e: std::io::Error| AppError::runtime(format!("cannot start a bench thread: {e}"));
    let (prod, cons) = match kind {
        RingKind::Pktloop => {
            let (mut p, mut c) = ring::<u64>(CAP)?;
            let m = moved.clone();
            let g = go.clone();
            let cons = lcore::spawn("ring-c", 1, cores.cores[1], move |ctx| {
                let mut buf = [0u64; BURST];
                let mut n = 0u64;
                while !g.load(Ordering::Acquire) {}
                while ctx.running() {
                    n += c.pop_slice(&mut buf) as u64;
                }
                m.store(n, Ordering::Relaxed);
            })
            .map_err(spawn_err)?;
            let g = go.clone();
            let prod = lcore::spawn("ring-p", 0, cores.cores[0], move |ctx| {
                let buf = [7u64; BURST];
                while !g.load(Ordering::Acquire) {}
                while ctx.running() {
                    p.push_slice(&buf);
                }
            })
            .map_err(spawn_err)?;
            (prod, cons)
        }
        RingKind::Rtrb => {
            let (mut p, mut c) = rtrb::RingBuffer::<u64>::new(CAP);
            let m = moved.clone();
            let g = go.clone();
            let cons = lcore::spawn("rtrb-c", 1, cores.cores[1], move |ctx| {
                let mut buf = [0u64; BURST];
                let mut n = 0u64;
                while !g.load(Ordering::Acquire) {}
                while ctx.running() {
                    n += c.pop_partial_slice(&mut buf).0.len() as u64;
                }
                m.store(n, Ordering::Relaxed);
            })
            .map_err(spawn_err)?;
            let g = go.clone();
            let prod = lcore::spawn("rtrb-p", 0, cores.cores[0], move |ctx| {
                let buf = [7u64; BURST];
                while !g.load(Ordering::Acquire) {}
                while ctx.running() {
                    let _ = p.push_partial_slice(&buf);
                }
            })
            .map_err(spawn_err)?;
            (prod, cons)
        }
        RingKind::Crossbeam => {
            let q = Arc::new(crossbeam_queue::ArrayQueue::<u64>::new(CAP));
            let (qc, m, g) = (q.clone(), moved.clone(), go.clone());
            let cons = lcore::spawn("xb-c", 1, cores.cores[1], move |ctx| {
                let mut n = 0u64;
                while !g.load(Ordering::Acquire) {}
                while ctx.running() {
                    for _ in 0..BURST {
                        if qc.pop().is_none() {
                            break;
                        }
                        n += 1;
                    }
                }
                m.store(n, Ordering::Relaxed);
            })
            .map_err(spawn_err)?;
            let g = go.clone();
            let prod = lcore::spawn("xb-p", 0, cores.cores[0], move |ctx| {
                while !g.load(Ordering::Acquire) {}
                while ctx.running() {
                    for _ in 0..BURST {
                        if q.push(7).is_err() {
                            break;
                        }
                    }
                }
            })
            .map_err(spawn_err)?;
            (prod, cons)
        }
    };
    go.store(true, Ordering::Release);
    let start = Instant::now();
    crate::interrupt::sleep_until(Instant::now() + secs);
    cons.stop();
    let elapsed = start.elapsed().as_secs_f64();
    cons.join().map_err(|_| AppError::runtime("ring consumer panicked"))?;
    prod.join().map_err(|_| AppError::runtime("ring producer panicked"))?;
    Ok(moved.load(Ordering::Relaxed) as f64 / elapsed / 1e6)
}

/// Million packets per second through alloc_bulk(32) + free_burst on one thread.
fn pool_alloc_free(secs: Duration, prefer: Prefer) -> Result<f64, AppError> {
    let spec = PortPoolSpec { prefer, ..Default::default() };
    let pools = PortPools::create("bench-pool", &spec).map_err(|e| AppError::runtime(e.to_string()))?;
    let pool = pools.tx.clone();
    let core = lcore::plan(1).cores[0];
    let w = lcore::spawn("pool", 0, core, move |ctx| {
        let mut burst: Box<PacketBurst> = Box::default();
        let mut n = 0u64;
        let start = Instant::now();
        while ctx.running() {
            for _ in 0..64 {
                if pool.alloc_bulk(&mut burst, 32) {
                    n += 32;
                }
                free_burst(&mut burst);
            }
        }
        (n, start.elapsed().as_secs_f64())
    })
    .map_err(|e| AppError::runtime(format!("cannot start a bench thread: {e}")))?;
    crate::interrupt::sleep_until(Instant::now() + secs);
    let ((n, elapsed), _) = w.join().map_err(|_| AppError::runtime("pool bench panicked"))?;
    if pools.in_use() != 0 {
        return Err(AppError::runtime("pool bench leaked buffers"));
    }
    Ok(n as f64 / elapsed / 1e6)
}
