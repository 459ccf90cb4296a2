//! `pktloop latency`: round trips across a feth pair between two pinned cores (or two real interfaces,
//! `--port afpacket:X,afxdp:Y`, or another process over shared memory, `--port shm:PATH`), in an HDR
//! histogram.
//!
//! Port 0's worker (the pinger) stamps each frame's payload with its send time and sequence number; port
//! 1's worker, or the other process, (the ponger) sends it straight back as it is (testpmd's io mode: it does not touch the frame,
//! only the trailer and FCS a receiver strips are cut). Closed loop: one frame in flight, the
//! next sent when the last returns. Open loop (`--rate`): frames are due every 1/rate seconds whether or not
//! earlier ones came back, and each is stamped with its *intended* send time, so time spent behind schedule
//! counts as latency (coordinated-omission correction by construction). The same run then measures a bare
//! two-ring ping-pong over rtrb between the same cores, the floor any ring-based transport pays.

mod pinger;
mod pingpong;
mod ponger;
mod thread;

pub use pingpong::rtrb_pingpong;
use pingpong::run_pingpong;

use crate::cli::LatencyArgs;
use crate::config;
use crate::error::AppError;
use crate::output::{self, LateOutput};
use crate::portspec::PortSpec;
use crate::{hgrm, svg};
use hdrhistogram::Histogram;
use pktloop_engine::lcore;
use pktloop_engine::port::DropReason;
use pktloop_pmd::feth::FethConfig;
use serde_json::{json, Value};
use std::time::Duration;

/// The valid values of `pktloop latency --rate`, as its check says them.
const RATE_VALID: &str = "0 (closed loop), or 1..=50000000 packets per second as a rate (250000, 250kpps, 1Mpps, \
                          1Gbps)";

/// Longest round trip recorded (larger ones saturate): 60 s.
const MAX_NS: u64 = 60_000_000_000;

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
    pub pcap: Option<crate::capture::CaptureSpec>,
    /// Two real-interface ports (pinger's, ponger's); None: a feth pair.
    pub wire: Option<Vec<PortSpec>>,
    /// How AF_XDP ports move frames.
    pub xdp: pktloop_pmd::afxdp::XdpWant,
    /// Which side a shm port is: the server pings, the client (in another process) pongs.
    pub role: Option<pktloop_pmd::shm::Role>,
}

impl LatencyPlan {
    /// What the frames cross, for the table and the JSON.
    pub fn path(&self) -> String {
        match &self.wire {
            None => "a feth pair".to_owned(),
            Some(list) => {
                let name = |p: &PortSpec| match p {
                    PortSpec::AfPacket { ifname, .. } | PortSpec::AfXdp { ifname, .. } => {
                        format!("{ifname} ({})", p.kind())
                    }
                    PortSpec::Shm { path } => format!("shm {path} (the ponger in another process)"),
                    other => other.kind().to_owned(),
                };
                list.iter().map(name).collect::<Vec<_>>().join(" and ")
            }
        }
    }
}

/// The ports a latency run uses: a feth pair, or two real interfaces (one queue each).
fn wire_pair(a: &LatencyArgs) -> Result<Option<Vec<PortSpec>>, AppError> {
    if a.port.single_kind() == Some(&PortSpec::Feth) {
        return Ok(None);
    }
    let real = |p: &PortSpec| matches!(p, PortSpec::AfPacket { queues: 1, .. } | PortSpec::AfXdp { queues: 1, .. });
    match a.port.0.as_slice() {
        [ping, pong] if real(ping) && real(pong) => Ok(Some(a.port.0.clone())),
        [PortSpec::Shm { .. }] => Ok(Some(a.port.0.clone())),
        _ => Err(AppError::usage(
            "invalid --port for latency: valid is feth, two real interfaces joined by a wire, one queue \
             each (afpacket:IFNAME or afxdp:IFNAME, comma-separated: the pinger's, then the ponger's), or \
             shm:PATH (the server pings, the client in another process pongs)",
        )),
    }
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
    pub timeouts: u64,
    /// Frames received that were not the pinger's (a real interface hears its neighbours), ignored.
    pub foreign: u64,
    /// How long the pinger ran, ns: what the achieved send rate is over.
    pub elapsed_ns: u64,
    /// Pool memory (`hugepage`, `normal`; empty for the rtrb floor).
    pub backing: &'static str,
    /// Allocations inside the pinger's and ponger's loops (0: their hot path allocated nothing).
    pub hot_allocations: u64,
    /// Frames the ports dropped, by reason (indexed by `DropReason as usize`), teardown included: injected
    /// drops, frames in flight when the ports went away.
    pub drops: [u64; DropReason::COUNT],
    /// Frames the feth ports sent on without the FCS and without the trailer asked for (no room).
    pub no_room: (u64, u64),
}

/// The first round trips of a run are not recorded (caches, page faults, the ponger's first spin): 100 ms,
/// or a fifth of a shorter run, so the shortest `--duration` (0.1 s) still records some.
fn warmup_ns(duration: Duration) -> u64 {
    (duration.as_nanos() / 5).min(100_000_000) as u64
}

/// The pinger's send rate: what `--rate` asked (None in closed loop) against what it managed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SendRate {
    /// `--rate`, packets per second; None in closed loop.
    pub asked: Option<u64>,
    /// Frames sent per second of the pinger's run.
    pub achieved: f64,
    /// Open loop: whether every frame due was sent, within 1%.
    pub held: Option<bool>,
}

impl SendRate {
    fn of(rate: u64, m: &Measured) -> Self {
        let secs = m.elapsed_ns.max(1) as f64 / 1e9;
        let achieved = m.sent as f64 / secs;
        if rate == 0 {
            return SendRate { asked: None, achieved, held: None };
        }
        // The schedule's first frame is due at once, so a run of t seconds has t * rate + 1 frames due.
        let due = (u128::from(m.elapsed_ns) * u128::from(rate) / 1_000_000_000 + 1) as f64;
        SendRate { asked: Some(rate), achieved, held: Some(m.sent as f64 >= 0.99 * due) }
    }
}

fn new_hist() -> Histogram<u64> {
    // Cannot fail: the bounds are constants within the crate's limits.
    Histogram::new_with_bounds(1, MAX_NS, 3).expect("valid histogram bounds")
}

/// `--rate` in packets per second for frames of `pkt_len` bytes (0: closed loop), as fwd's `--rate` is
/// written.
fn open_loop_rate(text: Option<&str>, pkt_len: usize) -> Result<u64, AppError> {
    // 0, with a unit or not (0pps, 0.0), is the closed loop.
    let zero = |t: &str| t.trim().trim_end_matches(|c: char| c.is_ascii_alphabetic()).trim().parse() == Ok(0.0);
    let Some(text) = text.filter(|t| !zero(t)) else { return Ok(0) };
    let bad = |why: &str| AppError::usage(format!("invalid --rate {text}: {why}; valid is {RATE_VALID}"));
    let pps = crate::gen::pace::Rate::parse(text).map_err(|why| bad(&why))?.pps(pkt_len as f64).round();
    if !(1.0..=50_000_000.0).contains(&pps) {
        return Err(bad(&format!("{pps} packets per second")));
    }
    Ok(pps as u64)
}

/// Refuses flags typed on the command line that would change nothing in this run, as fwd does: knobs
/// that need another (TSO's buflet size, logical links' sets), an AF_XDP mode without an AF_XDP port, and
/// the pinger's settings on a ponger for another process.
fn check_flags_apply(a: &LatencyArgs) -> Result<(), AppError> {
    let afxdp = a.port.0.iter().any(|p| matches!(p, crate::portspec::PortSpec::AfXdp { .. }));
    let ponger = a.run.role == Some(crate::cli::RoleArg::Client);
    let pinger_only = "the client is the ponger, which sends each frame back; valid on the server (the pinger)";
    let path = |p: &Option<std::path::PathBuf>| p.as_ref().map(|p| p.display().to_string());
    let mut unused = config::needing_another(&a.run.feth, a.run.xdp_mode, afxdp).to_vec();
    unused.extend(config::feth_pair_only(&a.run.feth, a.port.single_kind() == Some(&crate::portspec::PortSpec::Feth)));
    unused.extend([
        ("rate", a.rate.clone().filter(|_| ponger), pinger_only),
        ("hgrm", path(&a.hgrm).filter(|_| ponger), pinger_only),
        ("plot", path(&a.plot).filter(|_| ponger), pinger_only),
        ("no-peer", a.no_peer.filter(|_| ponger).map(|v| v.to_string()), pinger_only),
        ("pcap", path(&a.run.pcap).filter(|_| ponger), pinger_only),
    ]);
    match a.run.first_typed(&unused) {
        Some((flag, value, why)) => Err(AppError::usage(format!("invalid --{flag} {value} in this run: {why}"))),
        None => Ok(()),
    }
}

/// Checks the flags.
pub fn resolve(a: &LatencyArgs) -> Result<LatencyPlan, AppError> {
    check_flags_apply(a)?;
    let feth = config::feth_config(&a.run.feth)?;
    let duration = config::duration("duration", a.run.duration.unwrap_or(5.0), 86_400.0)?;
    if feth.queue_pairs() > 1 {
        let valid = if feth.llink_cnt > 0 { config::one_queue_pair(&feth) } else { "1" };
        return Err(AppError::usage(format!(
            "invalid {} with latency: one ping-pong crosses one queue pair; valid is {valid}",
            config::queue_flags(&feth)
        )));
    }
    if feth.low_latency && !a.run.from_file("low-latency") {
        return Err(AppError::usage(
            "invalid --low-latency with latency: its one queue pair is no logical link's second set; valid is off",
        ));
    }
    if feth.tx_exp_policy != 0 && !a.run.from_file("tx-exp-policy") {
        return Err(AppError::usage(format!(
            "invalid --tx-exp-policy {} with latency: the pinger's frames carry no expiry deadline; valid is 0",
            feth.tx_exp_policy
        )));
    }
    let mtu = config::mtu(a.run.mtu, &feth)?;
    let on_feth = a.port.single_kind() == Some(&crate::portspec::PortSpec::Feth);
    let pkt_len = config::pkt_len(a.run.pkt_len.as_deref(), mtu, on_feth.then_some(&feth))?;
    if on_feth {
        config::check_split_room(&feth, pkt_len)?;
    }
    let rate = open_loop_rate(a.rate.as_deref(), pkt_len)?;
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
        pcap: crate::capture::CaptureSpec::from_args(&a.run)?,
        role: crate::portspec::shm_role(&a.port.0, a.run.role.map(crate::cli::RoleArg::role))
            .map_err(AppError::usage)?,
        wire: wire_pair(a)?,
        xdp: a.run.xdp_mode.map(crate::cli::XdpModeArg::want).unwrap_or_default(),
    })
}

/// Runs `pktloop latency`.
pub fn main(a: &LatencyArgs) -> Result<(), AppError> {
    let plan = resolve(a)?;
    if plan.role == Some(pktloop_pmd::shm::Role::Client) {
        return pingpong::pong_for_another_process(&plan, a.run.json.unwrap_or(false));
    }
    let json_out = a.run.json.unwrap_or(false);
    let outputs = [
        ("hgrm", a.hgrm.as_deref()),
        ("plot", a.plot.as_deref()),
        ("pcap", plan.pcap.as_ref().map(|c| c.path.as_path())),
    ];
    output::distinct(&outputs)?;
    let hgrm_out = a.hgrm.as_deref().map(|p| LateOutput::open("hgrm", p)).transpose()?;
    let plot_out = a.plot.as_deref().map(|p| LateOutput::open("plot", p)).transpose()?;
    let (feth, leaked, pcap_written) = run_pingpong(&plan)?;
    let rate = SendRate::of(plan.rate, &feth);
    let peer = if plan.peer && !crate::interrupt::requested() {
        Some(rtrb_pingpong(plan.duration.min(Duration::from_secs(2)))?)
    } else {
        None
    };
    // A file that cannot be written loses nothing else: the report is printed, then the first error. A run
    // with no sample writes neither (it fails, saying why: see `outcome`), and leaves them as they were.
    let mut failed = pcap_written.as_ref().err().cloned();
    let sampled = !feth.hist.is_empty();
    let hgrm_written = hgrm_out.filter(|_| sampled).map(|out| {
        let shown = out.path().display().to_string();
        out.write(hgrm::percentile_distribution(&feth.hist).as_bytes())
            .map_err(|e| AppError::runtime(format!("cannot write --hgrm {shown}: {e}")))
    });
    failed = failed.or(hgrm_written.and_then(Result::err));
    let plot_written = plot_out.filter(|_| sampled).map(|out| {
        let label = format!("pktloop ping-pong across {}", plan.path());
        let mut series = vec![(label.as_str(), &feth.hist)];
        if let Some(p) = &peer {
            series.push(("rtrb two-ring ping-pong", &p.hist));
        }
        let title = format!(
            "Round-trip latency, {} B frames, {} ({} pool)",
            plan.pkt_len,
            if plan.rate == 0 { "closed loop".to_owned() } else { format!("open loop at {} pps", plan.rate) },
            plan.feth.pool_mode.as_str()
        );
        let shown = out.path().display().to_string();
        out.write(svg::percentile_spectrum(&title, &series).as_bytes())
            .map_err(|e| AppError::runtime(format!("cannot write --plot {shown}: {e}")))
    });
    failed = failed.or(plot_written.and_then(Result::err));
    let pcap_written = pcap_written.ok().flatten();
    if json_out {
        println!("{}", to_json(&plan, &feth, &rate, peer.as_ref(), pcap_written));
    } else {
        print_table(&plan, &feth, &rate, peer.as_ref(), pcap_written);
    }
    if let Some(e) = failed {
        return Err(e);
    }
    if leaked != 0 {
        return Err(AppError::runtime(format!("{leaked} buffers did not return to their pools")));
    }
    outcome(&feth, &rate, warmup_ns(plan.duration))
}

/// Why a run recorded no round trip, told apart: nothing sent, nothing back, or everything back fell in the
/// warm-up (in open loop because the pinger fell so far behind that every frame it sent was due then).
fn outcome(m: &Measured, rate: &SendRate, warm_ns: u64) -> Result<(), AppError> {
    if !m.hist.is_empty() {
        return Ok(());
    }
    let warm_ms = warm_ns / 1_000_000;
    let why = if m.sent == 0 {
        format!("the pinger sent no frame ({} sends found its pool empty)", m.send_failures)
    } else if m.received == 0 {
        format!("none of the {} frames sent came back", m.sent)
    } else if let (Some(asked), Some(false)) = (rate.asked, rate.held) {
        format!(
            "the open loop fell behind (asked {asked} pps, sent {:.0} pps), so the {} frames back were all due in \
             the {warm_ms} ms warm-up; valid is a --rate the pinger can hold",
            rate.achieved, m.received
        )
    } else {
        format!("the {} frames back were all sent in the {warm_ms} ms warm-up", m.received)
    };
    Err(AppError::runtime(format!("no round trip recorded: {why}")))
}

/// The percentiles reported, as (label, json key, quantile).
pub const PERCENTILES: [(&str, &str, f64); 5] = [
    ("p50", "p50_ns", 0.5),
    ("p90", "p90_ns", 0.9),
    ("p99", "p99_ns", 0.99),
    ("p99.9", "p999_ns", 0.999),
    ("p99.99", "p9999_ns", 0.9999),
];

/// Percentile figures of a histogram as JSON fields: null when it recorded nothing (0 would read as a
/// round trip of no time).
pub fn percentiles_json(h: &Histogram<u64>) -> serde_json::Map<String, Value> {
    let figure = |v: Value| if h.is_empty() { Value::Null } else { v };
    let mut m = serde_json::Map::new();
    for (_, key, q) in PERCENTILES {
        m.insert(key.to_owned(), figure(json!(h.value_at_quantile(q))));
    }
    m.insert("max_ns".into(), figure(json!(h.max())));
    m.insert("min_ns".into(), figure(json!(h.min())));
    m.insert("mean_ns".into(), figure(json!(h.mean())));
    m.insert("samples".into(), json!(h.len()));
    m
}

fn to_json(plan: &LatencyPlan, m: &Measured, rate: &SendRate, peer: Option<&Measured>, pcap: Option<u64>) -> Value {
    let mut o = percentiles_json(&m.hist);
    o.insert("loop".into(), json!(if plan.rate == 0 { "closed" } else { "open" }));
    o.insert("path".into(), json!(plan.path()));
    o.insert("rate_pps".into(), json!(plan.rate));
    o.insert("pkt_len".into(), json!(plan.pkt_len));
    o.insert("duration_s".into(), json!(plan.duration.as_secs_f64()));
    o.insert("sent".into(), json!(m.sent));
    o.insert("received".into(), json!(m.received));
    o.insert("rate".into(), json!({"asked_pps": rate.asked, "achieved_pps": rate.achieved, "held": rate.held}));
    // Timeouts are a closed-loop event (the next frame is sent); open loop never waits, so it has none.
    o.insert("timeouts".into(), if plan.rate == 0 { json!(m.timeouts) } else { Value::Null });
    o.insert("not_back".into(), json!(m.sent.saturating_sub(m.received)));
    o.insert("foreign".into(), json!(m.foreign));
    o.insert("send_failures".into(), json!(m.send_failures));
    o.insert("drops".into(), crate::stats::drops_json(&m.drops));
    let dropped: u64 = m.drops.iter().sum();
    o.insert("drops_total".into(), json!(dropped));
    // Frames neither back nor dropped by a port of this process: 0 on a feth pair; across shm or real
    // interfaces, frames lost in the peer process or the kernel, or still in flight there at the end.
    o.insert("unaccounted".into(), json!(m.sent as i64 - m.received as i64 - dropped as i64));
    o.insert("hot_path_allocations".into(), json!(m.hot_allocations));
    o.insert("pool".into(), json!({"mode": plan.feth.pool_mode.as_str(), "backing": m.backing}));
    // The knobs in force, as fwd's settings give them (those of feth pairs; other ports take their pools').
    o.insert("settings".into(), json!({"feth": crate::fwd::settings::feth_knobs(&plan.feth, plan.mtu)}));
    if let Some(p) = peer {
        o.insert("peer_rtrb".into(), Value::Object(percentiles_json(&p.hist)));
        let r = m.hist.value_at_quantile(0.5) as f64 / p.hist.value_at_quantile(0.5).max(1) as f64;
        o.insert("p50_ratio_vs_rtrb".into(), json!(r));
    }
    o.insert("pcap_written".into(), json!(pcap));
    o.insert("warnings".into(), json!(crate::stats::no_room_warnings(m.no_room.0, m.no_room.1, &plan.feth)));
    Value::Object(o)
}

fn print_table(plan: &LatencyPlan, m: &Measured, rate: &SendRate, peer: Option<&Measured>, pcap: Option<u64>) {
    let mode = if plan.rate == 0 {
        "closed loop".to_owned()
    } else {
        format!("open loop at {} pps, coordinated-omission corrected", plan.rate)
    };
    println!(
        "round-trip latency across {}, {} B frames, {mode}, {} pool ({} memory), {:.1} s",
        plan.path(),
        plan.pkt_len,
        plan.feth.pool_mode.as_str(),
        m.backing,
        plan.duration.as_secs_f64()
    );
    println!("  knobs: {}", crate::fwd::settings::knobs_text(&plan.feth, plan.mtu));
    print_percentiles(&m.hist, peer.map(|p| &p.hist));
    println!("  {}", rate_line(rate));
    println!("  {}", counts_line(plan.rate, m));
    if let Some(n) = pcap {
        let format = plan.pcap.as_ref().map_or("pcap", |s| s.format.name());
        println!("  {format}: {n} frames written");
    }
    for w in crate::stats::no_room_warnings(m.no_room.0, m.no_room.1, &plan.feth) {
        println!("  warning: {w}");
    }
}

/// The percentile rows, in the unit `--hgrm` and `--plot` use too.
fn print_percentiles(h: &Histogram<u64>, peer: Option<&Histogram<u64>>) {
    let unit = hgrm::UNIT;
    let peer_head = if peer.is_some() { format!("rtrb rings ({unit})") } else { String::new() };
    println!("  {:<8} {:>14} {peer_head:>18}", "", format!("pktloop ({unit})"));
    // A histogram that recorded nothing has no figures: a dash, not a round trip of no time.
    let figure = |h: &Histogram<u64>, f: &dyn Fn(&Histogram<u64>) -> f64| match h.is_empty() {
        true => "-".to_owned(),
        false => hgrm::in_unit(f(h)).to_string(),
    };
    let row = |label: &str, f: &dyn Fn(&Histogram<u64>) -> f64| {
        let p = peer.map(|p| figure(p, f)).unwrap_or_default();
        println!("  {label:<8} {:>14} {p:>18}", figure(h, f));
    };
    for (label, _, q) in PERCENTILES {
        row(label, &|h| h.value_at_quantile(q) as f64);
    }
    row("max", &|h| h.max() as f64);
    let p = peer.map(|p| p.len().to_string()).unwrap_or_default();
    println!("  {:<8} {:>14} {p:>18}", "samples", h.len());
    if let Some(p) = peer {
        let r = h.value_at_quantile(0.5) as f64 / p.value_at_quantile(0.5).max(1) as f64;
        println!("  p50 pktloop / p50 rtrb = {r:.2}");
    }
}

/// Asked against achieved send rate.
fn rate_line(rate: &SendRate) -> String {
    match (rate.asked, rate.held) {
        (Some(asked), Some(true)) => format!("send rate held: asked {asked} pps, sent {:.0} pps", rate.achieved),
        (Some(asked), _) => format!(
            "send rate NOT held: asked {asked} pps, sent {:.0} pps; the pinger fell behind, so the figures above \
             include time spent behind schedule",
            rate.achieved
        ),
        (None, _) => format!("send rate {:.0} pps (closed loop: one frame in flight)", rate.achieved),
    }
}

/// Frame counts, with what "not back" means in this loop.
fn counts_line(rate: u64, m: &Measured) -> String {
    let lost = if rate == 0 {
        format!("timeouts {} (closed loop: not back in 100 ms, the next was sent)", m.timeouts)
    } else {
        let n = m.sent.saturating_sub(m.received);
        format!("not back {n} (open loop: lost, or in flight when the run stopped)")
    };
    format!(
        "sent {}, received {}, {lost}, drops {}, send failures {}, foreign frames ignored {}",
        m.sent,
        m.received,
        crate::stats::drops_text(&m.drops),
        m.send_failures,
        m.foreign
    )
}

/// The feth ping-pong alone (no capture), for `bench`.
///
/// # Errors
/// As the run; leaked buffers are an error.
pub fn measure(plan: &LatencyPlan) -> Result<Measured, AppError> {
    let (m, leaked, _) = run_pingpong(plan)?;
    if leaked != 0 {
        return Err(AppError::runtime(format!("latency: {leaked} buffers leaked")));
    }
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn measured(sent: u64, received: u64, recorded: u64, elapsed_ns: u64) -> Measured {
        let mut hist = new_hist();
        for _ in 0..recorded {
            hist.record(1000).unwrap();
        }
        let (send_failures, timeouts, foreign) = (0, 0, 0);
        let drops = [0; DropReason::COUNT];
        Measured {
            hist,
            sent,
            received,
            send_failures,
            timeouts,
            foreign,
            elapsed_ns,
            backing: "",
            hot_allocations: 0,
            drops,
            no_room: (0, 0),
        }
    }

    #[test]
    fn rate_held_within_one_percent_of_the_frames_due() {
        // 1 s at 1000 pps: 1001 frames due (the first at once).
        let held = |sent| SendRate::of(1000, &measured(sent, 0, 0, 1_000_000_000)).held;
        assert_eq!((held(1001), held(991), held(990)), (Some(true), Some(true), Some(false)));
        let closed = SendRate::of(0, &measured(500, 500, 0, 1_000_000_000));
        assert_eq!(closed, SendRate { asked: None, achieved: 500.0, held: None });
    }

    #[test]
    fn an_empty_histogram_says_why() {
        let warm = 100_000_000;
        let why = |m: &Measured, rate| outcome(m, &SendRate::of(rate, m), warm).unwrap_err().to_string();
        assert!(why(&measured(0, 0, 0, 1), 0).contains("sent no frame"));
        assert!(why(&measured(7, 0, 0, 1), 0).contains("none of the 7 frames sent came back"));
        let behind = why(&measured(1000, 1000, 0, 1_000_000_000), 50_000_000);
        assert!(behind.contains("fell behind (asked 50000000 pps, sent 1000 pps)"), "{behind}");
        assert!(why(&measured(9, 9, 0, 1_000_000_000), 0).contains("all sent in the 100 ms warm-up"));
        assert!(outcome(&measured(9, 9, 1, 1), &SendRate::of(0, &measured(9, 9, 1, 1)), warm).is_ok());
    }

    #[test]
    fn warm_up_leaves_the_shortest_run_something_to_record() {
        assert_eq!(warmup_ns(Duration::from_millis(100)), 20_000_000);
        assert_eq!(warmup_ns(Duration::from_secs(5)), 100_000_000);
    }

    #[test]
    fn timeouts_are_named_for_the_loop_they_happen_in() {
        let m = Measured { timeouts: 3, ..measured(10, 8, 0, 1) };
        assert!(counts_line(0, &m).contains("timeouts 3 (closed loop"));
        let open = counts_line(1000, &m);
        assert!(open.contains("not back 2 (open loop") && !open.contains("closed"), "{open}");
    }
}
