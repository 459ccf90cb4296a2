//! A forwarding run's life: [`start`] makes the ports and one worker per planned core, [`watch`] prints the
//! live line until the run is over (its deadline, Ctrl-C, or every generator done and every packet
//! accounted for), [`finish`] stops the workers, tears the ports down and settles where every packet went.

use super::job::{self, OwnedPort, Strip};
use super::plan::{Assignment, Plan};
use super::report::{Accounting, IoSummary, Live, Report};
use super::worker::{Worker, WorkerResult};
use crate::capture::{CaptureSummary, Recorder, Writer};
use crate::cli::PortKind;
use crate::error::AppError;
use crate::ports::{self, PortInfo, PortSet};
use crate::stats::{LcoreCounters, Totals};
use pktloop_engine::capture::Tapped;
use pktloop_engine::dlil::FilterInfo;
use pktloop_engine::lcore::{self, CorePlan, Lcore};
use pktloop_engine::port::PortStats;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn build_ports(plan: &Plan, count: usize) -> Result<PortSet, AppError> {
    // Behind the input layer, frames are demultiplexed by their header: null ports' get a real one.
    let template = plan.dlil.as_ref().map(|_| crate::frame::udp_frame([2, 0, 0, 0, 0, 1], [0xff; 6], plan.pkt_len));
    let null_frames = (plan.pkt_len, template.as_deref());
    match plan.port {
        PortKind::Feth => ports::feth_pairs(&plan.feth, plan.mtu, plan.pairs),
        PortKind::Null => ports::null_ports(0, count, &plan.feth, plan.pkt_len, null_frames.1),
        PortKind::Tap => ports::tap_ports(count, &plan.feth, &plan.tap, plan.mtu),
        PortKind::List => ports::list_ports(&plan.list, &plan.feth, &plan.tap, plan.mtu, null_frames, plan.outside()),
    }
}

/// A run whose workers are polling: what the live loop reads and the report needs.
pub struct Started {
    /// The ports' pools (the ports themselves are with the workers until they stop).
    set: PortSet,
    /// Name, MACs and counters of every port, in run order.
    pub info: Vec<PortInfo>,
    core_plan: CorePlan,
    workers: Workers,
    writer: Option<Writer>,
    /// Generator jobs (txonly, flowgen, replay, pings) over all workers.
    generators: u64,
    /// Hot-section allocations before the workers started (the run reports its own).
    hot_before: u64,
    /// Ports those generators send on.
    gen_ports: usize,
}

/// The running workers, in core-plan order.
struct Workers {
    lcores: Vec<Lcore<WorkerResult>>,
    /// Each worker's counters, read live.
    counters: Vec<Arc<LcoreCounters>>,
}

/// A port not yet given to a worker (taken once it is).
type Slot = Option<Box<dyn pktloop_engine::Port>>;

/// Setup: the ports, the capture, one worker per planned core owning its ports, then the capture writer.
pub fn start(plan: &Plan) -> Result<Started, AppError> {
    // The port count depends only on the port kind and topology.
    let port_count = plan.assign(&|_| ([0; 6], [0; 6])).port_count;
    let mut set = build_ports(plan, port_count)?;
    let mut recorder = match &plan.pcap {
        Some(spec) => {
            let names = set.info.iter().map(|p| p.name.clone()).collect();
            Some(Recorder::new(spec, config_max_frame(plan), names)?)
        }
        None => None,
    };
    if let Some(dlil) = &plan.dlil {
        if let Some(r) = recorder.as_mut() {
            tap_at_the_ports(&mut set, r)?;
        }
        ports::through_input_layer(&mut set, dlil, plan.burst, &lcore::allowed_cores())?;
    }
    let info = set.info.clone();
    let assignment = plan.assign(&|i| (info[i].mac, info[i].peer_mac));
    check_frame_room(plan, &assignment, &set)?;
    let core_plan = match &plan.core_ids {
        Some(ids) => CorePlan { cores: ids.clone(), available: lcore::allowed_cores().len(), warning: None },
        None => lcore::plan(plan.cores),
    };
    let generators = assignment.jobs.iter().flatten().filter(|j| j.generates()).count() as u64;
    // A port's queues are run ports of their own; rates and counts are each port's.
    let per_port = if plan.port == PortKind::Feth { plan.feth.queue_pairs() } else { 1 };
    let gen_ports = assignment.generator_ports().div_ceil(per_port);
    let hot_before = pktloop_engine::hot::hot_allocations();
    let slots: Vec<Slot> = set.ports.drain(..).map(Some).collect();
    // Behind the input layer the ports tap their own frames; the workers tap them otherwise.
    let worker_taps = recorder.as_mut().filter(|_| plan.dlil.is_none());
    let workers = spawn_workers(plan, (slots, &set.pools), &info, assignment, &core_plan, worker_taps)?;
    let writer = match recorder {
        Some(r) => Some(r.start()?),
        None => None,
    };
    Ok(Started { set, info, core_plan, workers, writer, generators, gen_ports, hot_before })
}

/// Taps every port of `set` at the port itself, as `bpf_tap` in a driver: behind the input layer, frames
/// in are recorded before the interface filters judge them and frames out after, so the capture holds
/// what crossed the port.
fn tap_at_the_ports(set: &mut PortSet, recorder: &mut Recorder) -> Result<(), AppError> {
    let ports: Vec<Box<dyn pktloop_engine::Port>> = set.ports.drain(..).collect();
    for (i, port) in ports.into_iter().enumerate() {
        set.ports.push(Box::new(Tapped::new(port, recorder.tap()?, i as u16)));
    }
    Ok(())
}

/// Frames the run makes must fit the buffers of the ports that send them (the MTU alone allows more than
/// a buffer holds when the headroom or the buflet size leave less room).
fn check_frame_room(plan: &Plan, a: &Assignment, set: &PortSet) -> Result<(), AppError> {
    let (flag, value, need) = match &plan.traffic.replay {
        Some(r) => ("replay", r.path.display().to_string(), r.trace.min_len()),
        None => ("pkt-len", super::settings::sizes_text(&plan.traffic.sizes), plan.pkt_len),
    };
    let senders = a.ports.iter().zip(&a.jobs).flat_map(|(owned, jobs)| {
        jobs.iter().filter_map(|job| match job {
            job::Job::Generate { port, .. } | job::Job::Ping { port, .. } => Some(owned[*port]),
            job::Job::Forward { tx, seed_left, .. } if *seed_left > 0 => Some(owned[*tx]),
            _ => None,
        })
    });
    ports::check_room(set, senders, (flag, &value), need)
}

/// Starts one worker per planned core with the ports and jobs `assignment` gives it, and a capture tap
/// from `recorder` when capturing; returns the workers and their counters.
fn spawn_workers(
    plan: &Plan,
    (mut slots, pools): (Vec<Slot>, &[pktloop_engine::Pool]),
    info: &[PortInfo],
    assignment: Assignment,
    core_plan: &CorePlan,
    mut recorder: Option<&mut Recorder>,
) -> Result<Workers, AppError> {
    let mut lcores = Vec::new();
    let mut counters = Vec::new();
    for (i, (owned, jobs)) in assignment.ports.iter().zip(assignment.jobs).enumerate() {
        let ports = take_ports(&mut slots, owned, info, plan);
        let c = Arc::new(LcoreCounters::default());
        counters.push(c.clone());
        let tap = match recorder.as_deref_mut() {
            Some(r) => Some(r.tap()?),
            None => None,
        };
        let pools = pools.to_vec();
        let w = Worker { ports, jobs, burst: plan.burst, counters: c, tap, record_cycles: plan.record_cycles, pools };
        let l = lcore::spawn(&format!("fwd-{i}"), i, core_plan.cores[i], move |ctx| w.run(ctx))
            .map_err(|e| AppError::runtime(format!("cannot start worker {i}: {e}")))?;
        lcores.push(l);
    }
    Ok(Workers { lcores, counters })
}

/// Moves the ports at run indices `owned` out of `slots`, for the worker that will own them.
fn take_ports(slots: &mut [Slot], owned: &[usize], info: &[PortInfo], plan: &Plan) -> Vec<OwnedPort> {
    owned
        .iter()
        .map(|&g| OwnedPort {
            // Each run index is owned by exactly one worker (plan::assign).
            port: slots[g].take().expect("port assigned twice"),
            index: g as u16,
            mac: info[g].mac,
            peer_mac: info[g].peer_mac,
            strip: strip(plan, g),
        })
        .collect()
}

/// What a receiver on run port `index` cuts off before sending on: feth's trailer and FCS on feth ports;
/// nothing on the others (null, TAP and real interfaces hand over bare frames).
fn strip(plan: &Plan, index: usize) -> Strip {
    let feth = match plan.port {
        PortKind::Feth => true,
        PortKind::List => plan.spec_of(index) == Some(&crate::portspec::PortSpec::Feth),
        PortKind::Null | PortKind::Tap => false,
    };
    match feth {
        true => Strip { trailer: plan.feth.trailer_length as usize, fcs: plan.feth.fcs },
        false => Strip::default(),
    }
}

/// What the live loop measured.
pub struct Watched {
    /// When the workers were let run (setup done).
    pub start: Instant,
    /// Mpps of each interval (`--stats-period` each).
    pub intervals: Vec<f64>,
    /// The run ended because unfinished generators made nothing for a long time.
    pub stalled: bool,
    /// The run was stopped before its end: Ctrl-C, or `stop` at the prompt.
    pub stopped: bool,
}

/// How long nothing may move after the generators finished before the run is over: every packet has
/// then been delivered or dropped under a reason.
const SETTLE: Duration = Duration::from_millis(50);
/// How long nothing may move while a peer process has yet to take packets from a shared-memory port
/// before the run is over anyway: the peer is slow (descheduled), not gone, so its takes are waited for;
/// what it still has not taken when the port closes is counted as lost with it.
const PEER_PATIENCE: Duration = Duration::from_secs(2);
/// How long unfinished generators may make nothing before the run stops with a warning.
const STALL: Duration = Duration::from_secs(10);
/// How often a run whose generators stop by themselves looks whether they have.
const DONE_CHECK: Duration = Duration::from_millis(10);

/// Run: a live line every `--stats-period`, until the deadline, Ctrl-C, or (with a count) until every
/// generator has finished and every packet is delivered or accounted for.
pub fn watch(plan: &Plan, started: &Started, live: Option<&Live>) -> Watched {
    let start = Instant::now();
    let end = start + plan.duration;
    let finite = plan.traffic.finite() && started.generators > 0;
    let mut prev = (Totals::default(), vec![PortStats::default(); started.info.len()], start);
    let mut next_line = start + plan.stats_period;
    let mut intervals = Vec::new();
    let mut settle = Settle::default();
    let stall_limit = stall_limit(plan);
    let (mut stalled, mut stopped) = (false, false);
    loop {
        let wake = if finite { next_line.min(Instant::now() + DONE_CHECK) } else { next_line };
        let interrupted = crate::interrupt::sleep_until(wake.min(end));
        let now = Instant::now();
        let totals = Totals::of(&started.workers.counters);
        let stats = snapshot(&started.info);
        let awaiting: u64 = started.info.iter().filter_map(|p| p.io.as_ref()).map(|t| t.counters.awaiting_peer()).sum();
        let stall = finite && stall_limit.is_some_and(|q| settle.stalled(started.generators, &totals, now, q));
        stalled |= stall;
        stopped |= interrupted;
        let over = now >= end
            || interrupted
            || stall
            || (finite && settle.done(started.generators, &totals, &stats, awaiting, now));
        if now >= next_line || over {
            let secs = (now - prev.2).as_secs_f64();
            if secs > 0.0 {
                intervals.push((totals.packets - prev.0.packets) as f64 / secs / 1e6);
            }
            if let Some(l) = live {
                l.line(now - start, (&prev.0, &totals), (&prev.1, &stats), &started.info, secs);
            }
            prev = (totals, stats, now);
            // On the period's own grid (a late line does not push the next ones later).
            while next_line <= now {
                next_line += plan.stats_period;
            }
        }
        if over {
            break;
        }
    }
    Watched { start, intervals, stalled, stopped }
}

/// Tells when a run whose generators stop by themselves is over.
#[derive(Default)]
struct Settle {
    /// What moved, summed, and since when it has not changed.
    last: (u64, Option<Instant>),
    /// Packets generated, and since when that has not changed.
    generated: (u64, Option<Instant>),
}

impl Settle {
    /// Whether all `generators` are done and nothing has moved for [`SETTLE`], or for [`PEER_PATIENCE`]
    /// while a peer process has yet to take `awaiting` packets.
    fn done(&mut self, generators: u64, t: &Totals, ports: &[PortStats], awaiting: u64, now: Instant) -> bool {
        if t.gens_done < generators {
            return false;
        }
        let moved = t.packets
            + t.consumed
            + ports.iter().map(|p| p.ipackets + p.opackets + p.ierrors + p.total_drops()).sum::<u64>();
        unchanged_for(&mut self.last, moved, now, if awaiting == 0 { SETTLE } else { PEER_PATIENCE })
    }

    /// Whether the generators, not all done, have made nothing for `quiet` (a count that can never be
    /// reached: the run ends with a warning instead of running to its day-long cap).
    fn stalled(&mut self, generators: u64, t: &Totals, now: Instant, quiet: Duration) -> bool {
        t.gens_done < generators && unchanged_for(&mut self.generated, t.generated, now, quiet)
    }
}

/// Whether `value` has stayed what `seen` last recorded for `quiet`; records it when it changed.
fn unchanged_for(seen: &mut (u64, Option<Instant>), value: u64, now: Instant, quiet: Duration) -> bool {
    match *seen {
        (v, Some(since)) if v == value => now - since >= quiet,
        _ => {
            *seen = (value, Some(now));
            false
        }
    }
}

/// How long generators that have not finished may make nothing before the run gives up on them: 10 s, or
/// three packet intervals at a slow `--rate`; never for a replay at recorded timing (its gaps are the
/// capture's).
fn stall_limit(plan: &Plan) -> Option<Duration> {
    let t = &plan.traffic;
    if t.replay.as_ref().is_some_and(|r| r.timing == crate::gen::player::Timing::Recorded) {
        return None;
    }
    let interval = t.rate.map_or(0.0, |r| 1.0 / r.pps(t.mean_len()));
    Some(Duration::from_secs_f64((3.0 * interval).clamp(STALL.as_secs_f64(), 86_400.0)))
}

/// Report: stops and joins the workers, takes the final counters and the capture, tears the ports down and
/// settles where every packet went.
pub fn finish(plan: &Plan, started: Started, watched: Watched, live: Option<&Live>) -> Result<Report, AppError> {
    let Started {
        set,
        info,
        core_plan,
        workers: Workers { lcores, counters },
        writer,
        gen_ports,
        generators,
        hot_before,
    } = started;
    for l in &lcores {
        l.stop();
    }
    let secs = watched.start.elapsed().as_secs_f64();
    let results = join(lcores)?;
    if let Some(l) = live {
        l.finish();
    }
    let totals = Totals::of(&counters);
    let port_stats = snapshot(&info);
    // Read before teardown: detaching an interface takes its filters back.
    let filters: Vec<Option<Vec<FilterInfo>>> = info.iter().map(|p| p.iface.as_ref().map(|h| h.filters())).collect();
    let feth = info.iter().map(|p| p.feth.as_ref().and_then(|(h, q)| h.queue_feth_stats(*q))).collect();
    // A failed capture does not lose the run: its report and accounting are printed, then the error.
    let (capture, capture_error): (Option<CaptureSummary>, Option<String>) = match writer.map(Writer::finish) {
        Some(Ok(c)) => (Some(c), None),
        Some(Err(e)) => (None, Some(e.to_string())),
        None => (None, None),
    };
    let backing = set.backing();
    let pinned: Vec<bool> = results.iter().map(|r| r.pinned).collect();
    let stranded: u64 = results.iter().map(|r| r.stranded).sum();
    let leaked = teardown(results, &set);
    let after = snapshot(&info);
    let outside: Vec<bool> = (0..info.len()).map(|i| plan.faces_outside(i)).collect();
    let accounting = Accounting::settle(&outside, &totals, &port_stats, &after, stranded);
    let gen_secs = crate::stats::generation_secs(&counters);
    let finished = plan.traffic.finite() && !watched.stalled && totals.gens_done == generators;
    Ok(Report {
        secs,
        rate_secs: gen_secs.filter(|_| finished).and_then(|s| generators_span(s, &totals, generators)).unwrap_or(secs),
        totals,
        ports: info.iter().map(|p| p.name.clone()).zip(port_stats).collect(),
        macs: info.iter().map(|p| p.mac).collect(),
        intervals: watched.intervals,
        backing,
        cores: core_plan.cores,
        pinned,
        leaked,
        accounting,
        capture,
        capture_error,
        core_warning: core_plan.warning,
        io: info.iter().map(io_summary).collect(),
        filters,
        feth,
        gen_secs: gen_secs.unwrap_or(secs),
        gen_ports,
        gen_jobs: generators,
        stalled: watched.stalled,
        stopped: watched.stopped,
        hot_allocations: pktloop_engine::hot::hot_allocations() - hot_before,
    })
}

/// The seconds `totals`' packets took when the `jobs` generators ended the run after `span` seconds from
/// their first frame to their last: the span covers the intervals between frames, one fewer per job than
/// the frames, so it is scaled to as many intervals as frames. None when some job made fewer than two
/// frames (no interval to measure).
fn generators_span(span: f64, totals: &Totals, jobs: u64) -> Option<f64> {
    let frames = totals.generator_frames();
    (span > 0.0 && frames >= 2 * jobs).then(|| span * frames as f64 / (frames - jobs) as f64)
}

/// What a port that talks to the kernel did, for the report.
fn io_summary(p: &PortInfo) -> Option<IoSummary> {
    p.io.as_ref().map(|t| {
        let (rx_syscalls, tx_syscalls) = t.counters.syscalls();
        IoSummary {
            driver: t.driver,
            io: t.io,
            queues: t.queues,
            rx_syscalls,
            tx_syscalls,
            missed: t.counters.missed(),
            shm: t.counters.shm_summary(),
        }
    })
}

/// Waits for every (stopped) worker, in order.
fn join(lcores: Vec<Lcore<WorkerResult>>) -> Result<Vec<WorkerResult>, AppError> {
    let mut results = Vec::new();
    for l in lcores {
        let (r, _pinned) = l.join().map_err(|_| AppError::runtime("a worker panicked"))?;
        results.push(r);
    }
    Ok(results)
}

/// Teardown: dropping the ports frees whatever is still in their rings. Returns the buffers that did not
/// come back to the pools (0 unless something leaked).
fn teardown(results: Vec<WorkerResult>, set: &PortSet) -> usize {
    let ports: Vec<OwnedPort> = results.into_iter().flat_map(|r| r.ports).collect();
    drop(ports);
    set.in_use()
}

/// Every port's counters now, in run order; a port behind the input layer adds its interface's drops
/// (filtered, no protocol, bad frames, handoff overflow, left at detach) to its own. Not its input errors:
/// those are frames the port counted received already (a frame too short for its VLAN tag), which the
/// accounting would count coming in twice.
pub fn snapshot(info: &[PortInfo]) -> Vec<PortStats> {
    info.iter()
        .map(|p| {
            let mut s = p.counters.snapshot();
            if let Some(h) = &p.iface {
                let i = h.stats();
                s.drops.iter_mut().zip(i.drops).for_each(|(d, x)| *d += x);
            }
            s
        })
        .collect()
}

/// The largest frame the ports can hand the capture: MTU + header + trailer + FCS.
fn config_max_frame(plan: &Plan) -> usize {
    super::plan::max_frame_of(plan) + plan.feth.trailer_length as usize + 4
}

#[cfg(test)]
mod tests {
    #[test]
    fn unfinished_generators_that_make_nothing_stall_and_finished_ones_settle() {
        let (t0, quiet) = (Instant::now(), Duration::from_secs(10));
        let mut s = Settle::default();
        let mut t = Totals { generated: 5, ..Totals::default() };
        assert!(!s.stalled(1, &t, t0, quiet));
        assert!(!s.stalled(1, &t, t0 + Duration::from_secs(9), quiet));
        assert!(s.stalled(1, &t, t0 + Duration::from_secs(10), quiet));
        t.generated = 6;
        assert!(!s.stalled(1, &t, t0 + Duration::from_secs(11), quiet), "progress restarts the clock");
        t.gens_done = 1;
        assert!(!s.stalled(1, &t, t0 + Duration::from_secs(60), quiet), "finished generators never stall");
        assert!(!s.done(1, &t, &[], 0, t0));
        assert!(s.done(1, &t, &[], 0, t0 + SETTLE));
    }

    #[test]
    fn a_peer_yet_to_take_packets_is_waited_for_then_given_up_on() {
        let t0 = Instant::now();
        let mut s = Settle::default();
        let t = Totals { generated: 5, gens_done: 1, ..Totals::default() };
        assert!(!s.done(1, &t, &[], 3, t0));
        assert!(!s.done(1, &t, &[], 3, t0 + SETTLE), "the peer may only be slow");
        assert!(!s.done(1, &t, &[], 3, t0 + PEER_PATIENCE / 2));
        assert!(s.done(1, &t, &[], 3, t0 + PEER_PATIENCE), "or gone: its packets are then counted lost");
        // The peer takes them: what moved changes, and the usual settling time applies from then.
        let mut s = Settle::default();
        assert!(!s.done(1, &t, &[], 3, t0));
        let took = PortStats { opackets: 3, ..PortStats::default() };
        assert!(!s.done(1, &t, std::slice::from_ref(&took), 0, t0 + SETTLE), "it moved just now");
        assert!(s.done(1, &t, std::slice::from_ref(&took), 0, t0 + 2 * SETTLE));
    }

    use super::super::plan;
    use super::*;
    use clap::Parser;

    fn plan(args: &[&str]) -> Plan {
        let cli = crate::cli::Cli::try_parse_from([&["pktloop", "fwd"], args].concat()).unwrap();
        let crate::cli::Command::Fwd(a) = cli.command else { unreachable!("parsed fwd") };
        plan::resolve(&a).unwrap()
    }

    #[test]
    fn a_frame_the_input_layer_finds_bad_counts_as_received_once_and_dropped_once() {
        use pktloop_engine::port::DropReason;
        use pktloop_engine::Port;
        let config =
            pktloop_pmd::feth::FethConfig { prefer: pktloop_engine::mem::Prefer::Normal, ..Default::default() };
        let (mut a, b) = pktloop_pmd::feth::pair(&config).unwrap();
        let counters = b.counters().clone();
        let mut iface = pktloop_engine::dlil::Interface::new(Box::new(b), 32);
        // 16 bytes of EtherType 0x8100: too short for the VLAN tag it announces.
        let mut short = [0u8; 16];
        short[12..14].copy_from_slice(&[0x81, 0x00]);
        let mut burst = pktloop_engine::PacketBurst::new();
        burst.push(a.tx_pool().packet_from(&short).unwrap());
        assert_eq!(a.tx_burst(0, &mut burst), 1);
        iface.poll();
        let info = PortInfo {
            name: "feth1".into(),
            mac: [0; 6],
            peer_mac: [0; 6],
            counters,
            io: None,
            iface: Some(iface.handle()),
            feth: None,
        };
        let s = &snapshot(std::slice::from_ref(&info))[0];
        assert_eq!((s.ipackets, s.ierrors), (1, 0), "in once");
        assert_eq!((s.dropped(DropReason::BadFrame), s.total_drops()), (1, 1), "and out once");
        assert_eq!(iface.handle().stats().ierrors, 1, "the interface's own count keeps it");
        drop(iface.detach());
    }

    #[test]
    fn only_feth_ports_strip_feth_trailers_even_in_a_list() {
        let p = plan(&["--port", "null,feth,tap", "--trailer-length", "8", "--fcs", "--allow-shared-cores"]);
        let feth = Strip { trailer: 8, fcs: true };
        let got: Vec<Strip> = (0..4).map(|i| strip(&p, i)).collect();
        assert_eq!(got, [Strip::default(), feth, feth, Strip::default()]);
        let p = plan(&["--trailer-length", "8"]);
        assert_eq!(strip(&p, 1), Strip { trailer: 8, fcs: false });
    }
}
