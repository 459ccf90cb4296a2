//! `pktloop fwd`: testpmd-class forwarding. [`plan`] checks the flags and decides who owns which port,
//! [`worker`] holds the poll loops, [`report`] prints the live line, the final table and the JSON object.

pub mod modes;
pub mod plan;
pub mod report;
pub mod worker;

use crate::capture::{CaptureSummary, Recorder};
use crate::cli::{FwdArgs, PortKind};
use crate::error::AppError;
use crate::ports::{self, PortSet};
use crate::stats::{LcoreCounters, Totals};
use pktloop_engine::lcore;
use pktloop_engine::port::PortStats;
use plan::Plan;
use report::{Accounting, Live, Report};
use std::sync::Arc;
use std::time::{Duration, Instant};
use worker::{OwnedPort, Strip, Worker};

/// Runs `pktloop fwd` with parsed flags.
///
/// # Errors
/// Bad settings (usage) or a failed run.
pub fn main(args: &FwdArgs) -> Result<(), AppError> {
    let plan = plan::resolve(args)?;
    let live = Live::new(plan.json);
    let r = run(&plan, Some(&live))?;
    if plan.json {
        println!("{}", report::json(&plan, &r));
    } else {
        report::print_table(&plan, &r);
    }
    if r.leaked != 0 {
        return Err(AppError::runtime(format!("{} buffers did not return to their pools", r.leaked)));
    }
    Ok(())
}

fn build_ports(plan: &Plan, count: usize) -> Result<PortSet, AppError> {
    match plan.port {
        PortKind::Feth => ports::feth_pair(&plan.feth, plan.mtu),
        _ => ports::null_ports(count, &plan.feth, plan.pkt_len),
    }
}

/// Runs a plan; `live` prints a line per second.
///
/// # Errors
/// Ports or workers could not be set up, a worker panicked, or the capture file failed.
pub fn run(plan: &Plan, live: Option<&Live>) -> Result<Report, AppError> {
    // The port count depends only on the port kind and topology.
    let port_count = plan.assign(&|_| ([0; 6], [0; 6])).port_count;
    let mut set = build_ports(plan, port_count)?;
    let info = set.info.clone();
    let assignment = plan.assign(&|i| (info[i].mac, info[i].peer_mac));
    let core_plan = lcore::plan(plan.cores);
    if let Some(w) = &core_plan.warning {
        log::warn!("{w}");
    }
    let mut recorder = match &plan.pcap {
        Some((path, count)) => Some(Recorder::new(path, *count, config_max_frame(plan))?),
        None => None,
    };

    let mut slots: Vec<Option<Box<dyn pktloop_engine::Port>>> = set.ports.drain(..).map(Some).collect();
    let mut lcores = Vec::new();
    let mut counters = Vec::new();
    for (i, (owned, jobs)) in assignment.ports.iter().zip(assignment.jobs).enumerate() {
        let ports: Vec<OwnedPort> = owned
            .iter()
            .map(|&g| OwnedPort {
                // Each run index is owned by exactly one worker (plan::assign).
                port: slots[g].take().expect("port assigned twice"),
                index: g as u16,
                mac: info[g].mac,
                peer_mac: info[g].peer_mac,
            })
            .collect();
        let c = Arc::new(LcoreCounters::default());
        counters.push(c.clone());
        let tap = match recorder.as_mut() {
            Some(r) => Some(r.tap()?),
            None => None,
        };
        let strip = match plan.port {
            PortKind::Feth => Strip { trailer: plan.feth.trailer_length as usize, fcs: plan.feth.fcs },
            _ => Strip::default(),
        };
        let w = Worker {
            ports,
            jobs,
            burst: plan.burst,
            pkt_len: plan.pkt_len,
            counters: c,
            tap,
            strip,
            record_cycles: plan.record_cycles,
        };
        let core = core_plan.cores[i];
        let l = lcore::spawn(&format!("fwd-{i}"), i, core, move |ctx| w.run(ctx))
            .map_err(|e| AppError::runtime(format!("cannot start worker {i}: {e}")))?;
        lcores.push(l);
    }
    let writer = match recorder {
        Some(r) => Some(r.start()?),
        None => None,
    };

    let start = Instant::now();
    let end = start + plan.duration;
    let mut prev = (Totals::default(), vec![PortStats::default(); info.len()], start);
    let mut tick = 1u32;
    let mut intervals = Vec::new();
    loop {
        let next = (start + Duration::from_secs(u64::from(tick))).min(end);
        let interrupted = crate::interrupt::sleep_until(next);
        let now = Instant::now();
        let totals = Totals::of(&counters);
        let stats: Vec<PortStats> = info.iter().map(|p| p.counters.snapshot()).collect();
        let secs = (now - prev.2).as_secs_f64();
        if secs > 0.0 {
            intervals.push((totals.packets - prev.0.packets) as f64 / secs / 1e6);
        }
        if let Some(l) = live {
            l.line(now - start, &prev.0, &totals, &prev.1, &stats, secs);
        }
        prev = (totals, stats, now);
        if now >= end || interrupted {
            break;
        }
        tick += 1;
    }
    for l in &lcores {
        l.stop();
    }
    let secs = start.elapsed().as_secs_f64();
    let mut results = Vec::new();
    for l in lcores {
        let (r, _pinned) = l.join().map_err(|_| AppError::runtime("a worker panicked"))?;
        results.push(r);
    }
    if let Some(l) = live {
        l.finish();
    }
    let totals = Totals::of(&counters);
    let port_stats: Vec<PortStats> = info.iter().map(|p| p.counters.snapshot()).collect();
    let capture: Option<CaptureSummary> = match writer {
        Some(w) => Some(w.finish()?),
        None => None,
    };
    let backing = set.backing();
    let pinned: Vec<bool> = results.iter().map(|r| r.pinned).collect();
    let stranded: u64 = results.iter().map(|r| r.stranded).sum();
    // Teardown: dropping the ports frees whatever is still in their rings.
    let ports: Vec<OwnedPort> = results.into_iter().flat_map(|r| r.ports).collect();
    drop(ports);
    let leaked = set.in_use();
    let after: Vec<PortStats> = info.iter().map(|p| p.counters.snapshot()).collect();
    let accounting = Accounting::settle(plan.port, &totals, &port_stats, &after, stranded);
    Ok(Report {
        secs,
        totals,
        ports: info.iter().map(|p| p.name.clone()).zip(port_stats).collect(),
        macs: info.iter().map(|p| p.mac).collect(),
        intervals,
        backing,
        cores: core_plan.cores.clone(),
        pinned,
        leaked,
        accounting,
        capture,
        core_warning: core_plan.warning,
    })
}

/// The largest frame the ports can hand the capture: MTU + header + trailer + FCS.
fn config_max_frame(plan: &Plan) -> usize {
    crate::config::max_frame(plan.mtu) + plan.feth.trailer_length as usize + 4
}
