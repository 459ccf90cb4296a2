//! What `fwd` prints: a live line per second, then testpmd's `show port stats` per port and a summary, or
//! one JSON object.

use super::plan::Plan;
use super::settings::pps_text;
use crate::capture::CaptureSummary;
use crate::gen::pace::WIRE_OVERHEAD;
use crate::gen::player::Timing;
use crate::ports::ShmSummary;
use crate::stats::{cycles_per_packet, drops_json, drops_of, drops_text, no_room_warnings, thousands, Totals};
use pktloop_engine::dlil::FilterInfo;
use pktloop_engine::port::{DropReason, PortStats};
use pktloop_pmd::feth::FethStats;
use serde_json::{json, Map, Value};
use std::io::{IsTerminal, Write};
use std::time::Duration;

/// The figures of a finished run.
#[derive(Debug, Clone)]
pub struct Report {
    /// Seconds the workers ran.
    pub secs: f64,
    /// Seconds the rates are over: the generators' span when they stopped by themselves (--count, a
    /// finite --replay), so that start-up and the wait for the last frames do not dilute them; else
    /// [`Report::secs`].
    pub rate_secs: f64,
    /// Lcore counters at the end.
    pub totals: Totals,
    /// Port name and final counters.
    pub ports: Vec<(String, PortStats)>,
    /// Port MACs, in port order.
    pub macs: Vec<[u8; 6]>,
    /// Mpps of each reporting interval (about a second each).
    pub intervals: Vec<f64>,
    /// Pool memory: hugepage, normal or mixed.
    pub backing: &'static str,
    /// Core of each worker.
    pub cores: Vec<usize>,
    /// Whether each worker was pinned.
    pub pinned: Vec<bool>,
    /// Buffers not back in their pools after teardown (0 unless something leaked).
    pub leaked: usize,
    /// Where every packet went.
    pub accounting: Accounting,
    /// Capture results.
    pub capture: Option<CaptureSummary>,
    /// Why the capture failed, if it did (the run itself is reported all the same).
    pub capture_error: Option<String>,
    /// Set when workers share cores.
    pub core_warning: Option<String>,
    /// What each port that talks to the kernel did (None for other ports), in port order.
    pub io: Vec<Option<IoSummary>>,
    /// Each port's interface filters and their counters (None: the port was not behind the input layer).
    pub filters: Vec<Option<Vec<FilterInfo>>>,
    /// Each feth port's own counters (None for other ports), in port order.
    pub feth: Vec<Option<FethStats>>,
    /// Seconds the generators made packets (until the last one finished, or the whole run).
    pub gen_secs: f64,
    /// Ports that ran generators.
    pub gen_ports: usize,
    /// Generator jobs (a port's queues each run one), each with its own pacer.
    pub gen_jobs: u64,
    /// The run ended because unfinished generators made nothing for a long time.
    pub stalled: bool,
    /// The run was stopped before its end (Ctrl-C, or `stop` at the prompt).
    pub stopped: bool,
    /// Allocations inside the workers' poll loops (0: the hot path allocated nothing).
    pub hot_allocations: u64,
}

/// What the generators were asked and what they did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GenOutcome {
    /// Packets per second asked of each generator port (None: as fast as possible).
    pub asked_pps: Option<f64>,
    /// Packets per second each generator port made, on average.
    pub achieved_pps: f64,
    /// Whether the asked rate was held: within 1%, or within one frame of those due (see [`Report::generators`]).
    pub held: Option<bool>,
}

impl Report {
    /// The generators' outcome (None when the run had none).
    pub fn generators(&self, plan: &Plan) -> Option<GenOutcome> {
        if self.gen_ports == 0 {
            return None;
        }
        // N packets paced at a rate span N - 1 intervals (each generator's first goes at once).
        let intervals = self.totals.generator_frames().saturating_sub(self.gen_jobs) as f64;
        let achieved_pps = intervals / self.gen_secs.max(f64::MIN_POSITIVE) / self.gen_ports as f64;
        let asked_pps = plan.traffic.rate.map(|r| r.pps(plan.traffic.mean_len()));
        // Held: within 1%, or, at rates so low that a run holds a few frames, within one frame of those due:
        // a run of t seconds at a per port has floor(a * t) + 1 due (the first at once), and where its clock
        // started against the generator's decides whether the last of them fell inside it.
        let frames = self.totals.generator_frames() as f64 / self.gen_ports as f64;
        // A run stopped before its generators made a frame says nothing about the rate.
        let held = asked_pps.filter(|_| frames > 0.0).map(|a| {
            let due = (a * self.gen_secs).floor() + 1.0;
            (achieved_pps - a).abs() <= a * 0.01 || (due - 1.0..=due).contains(&frames)
        });
        Some(GenOutcome { asked_pps, achieved_pps, held })
    }
}

/// How a port that talks to the kernel (TAP, AF_XDP, AF_PACKET) moved its frames.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IoSummary {
    /// `tap`, `afxdp` or `afpacket`.
    pub driver: &'static str,
    /// How frames moved (`io_uring`, `readv/writev`, `zero-copy`, `copy`, `generic`, `tpacket_v3`).
    pub io: &'static str,
    /// Queue pairs.
    pub queues: usize,
    /// System calls made to receive.
    pub rx_syscalls: u64,
    /// System calls made to send.
    pub tx_syscalls: u64,
    /// Frames the kernel dropped before the port saw them (DPDK's imissed).
    pub missed: u64,
    /// A shared-memory port's own counters.
    pub shm: Option<ShmSummary>,
}

impl IoSummary {
    /// System calls per frame, each way (None without frames).
    fn per_frame(&self, s: &PortStats) -> (Option<f64>, Option<f64>) {
        let per = |calls: u64, frames: u64| (frames > 0).then(|| calls as f64 / frames as f64);
        (per(self.rx_syscalls, s.ipackets), per(self.tx_syscalls, s.opackets))
    }
}

fn per_frame_text(v: Option<f64>) -> String {
    v.map_or("n/a".to_owned(), |v| format!("{v:.3}"))
}

/// What the user should know about a finished run (also in the JSON object).
pub fn warnings(plan: &Plan, r: &Report) -> Vec<String> {
    let mut w: Vec<String> = r.core_warning.iter().cloned().collect();
    let forwarding = matches!(plan.mode, crate::cli::Mode::Io | crate::cli::Mode::Mac | crate::cli::Mode::Macswap);
    if forwarding && plan.port == crate::cli::PortKind::Feth && r.totals.nombuf > 0 {
        w.push(format!(
            "the pool ({} packets) could not hold every seed (--tx-first {} x --burst {} per stream): forwarded the {} that fit",
            plan.feth.pool_packets, plan.tx_first, plan.burst, r.totals.generated
        ));
    }
    if let Some(core) = plan.dlil.as_ref().and_then(|d| d.input_core) {
        let available = pktloop_engine::lcore::plan(1).available;
        if r.cores.len() + r.ports.len() > available {
            w.push(format!(
                "the input threads (from core {core}) share {available} cores with {} workers: busy-polling \
                 threads on one core take turns, and figures drop by orders of magnitude",
                r.cores.len()
            ));
        }
    }
    if r.stalled {
        w.push(format!(
            "the generators had not finished (--count {}) but made nothing for 10 s: the run was stopped ({} \
             generated; the pool found empty {} times)",
            plan.traffic.count.map_or("-".to_owned(), |c| c.to_string()),
            r.totals.generated,
            r.totals.nombuf
        ));
    }
    w.extend(count_short(plan, r));
    if r.totals.packets == 0 {
        w.push("no packet completed in the run".to_owned());
    }
    w.extend(skipped(r));
    if let Some(cut) = plan.traffic.replay.as_ref().map(|p| p.trace.truncated).filter(|&n| n > 0) {
        w.push(format!("{cut} frames of the capture were cut short by it (its snap length): they go out as captured"));
    }
    let no_room = |f: fn(&FethStats) -> u64| r.feth.iter().flatten().map(f).sum::<u64>();
    w.extend(no_room_warnings(no_room(|f| f.fcs_failed), no_room(|f| f.trailer_failed), &plan.feth));
    w
}

impl Report {
    /// The rates of the plan's figure of merit over the run, each frame taking `wire_overhead` bytes on
    /// the wire beyond its length ([`Plan::wire_overhead`]).
    pub fn rates(&self, wire_overhead: usize) -> Rates {
        Rates::of(self.totals.packets, self.totals.bytes, self.rate_secs, wire_overhead)
    }

    /// Million packets per second (of the plan's figure of merit).
    pub fn mpps(&self) -> f64 {
        self.rates(WIRE_OVERHEAD).mpps
    }

    /// Drops by reason over all ports.
    pub fn drops(&self) -> [u64; DropReason::COUNT] {
        drops_of(self.ports.iter().map(|(_, s)| *s))
    }
}

/// Where every packet of a run went, settled after teardown.
///
/// A feth pair creates no packets of its own, so everything the application generated was consumed by it,
/// dropped under a reason (packets still in flight at stop are dropped as `detached` when the ports are
/// destroyed) or left in a worker's burst buffer: `generated = consumed + drops + left`. Null ports create
/// frames on rx and sink them on tx: `generated + rx = consumed + tx + drops + left`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Accounting {
    /// Packets the application allocated.
    pub generated: u64,
    /// Received packets it freed.
    pub consumed: u64,
    /// Sent, over all ports (during the run).
    pub sent: u64,
    /// Received, over all ports (during the run).
    pub received: u64,
    /// Drops during the run, all reasons.
    pub dropped: u64,
    /// Packets in flight at stop, dropped when the ports were destroyed.
    pub in_flight_at_stop: u64,
    /// Those by drop reason (`detached` most often): the ports' figures, read at stop, do not hold them.
    pub in_flight_by_reason: [u64; DropReason::COUNT],
    /// Packets left in workers' burst buffers at stop (freed).
    pub left_in_workers: u64,
    /// Frames that came in from outside the run (null rx, the kernel, a peer process): received or bad.
    pub from_outside: u64,
    /// Frames sent outside the run.
    pub to_outside: u64,
    /// What the equation above misses: 0 unless a packet went unaccounted.
    pub unaccounted: i64,
}

impl Accounting {
    /// Settles a run: `run` is the port counters at stop, `after` after teardown; `outside[i]` says whether
    /// port i exchanges frames with the world outside the run (null, TAP and real interfaces: frames in are
    /// counted received or bad, frames out sent), or only with the run's own ports (feth).
    pub fn settle(outside: &[bool], t: &Totals, run: &[PortStats], after: &[PortStats], left: u64) -> Accounting {
        let sum = |s: &[PortStats], f: fn(&PortStats) -> u64| s.iter().map(f).sum::<u64>();
        let dropped = sum(run, PortStats::total_drops);
        let dropped_after = sum(after, PortStats::total_drops);
        let (at_stop, at_end) = (drops_of(run.iter().copied()), drops_of(after.iter().copied()));
        let (sent, received) = (sum(run, |s| s.opackets), sum(run, |s| s.ipackets));
        let out = i128::from(t.consumed) + i128::from(dropped_after) + i128::from(left);
        let outer = |s: &[PortStats], f: fn(&PortStats) -> u64| {
            s.iter().zip(outside).filter(|(_, &o)| o).map(|(s, _)| f(s)).sum::<u64>()
        };
        let (came_in, went_out) = (outer(after, |s| s.ipackets + s.ierrors), outer(after, |s| s.opackets));
        let unaccounted = i128::from(t.generated) + i128::from(came_in) - out - i128::from(went_out);
        Accounting {
            generated: t.generated,
            consumed: t.consumed,
            sent,
            received,
            dropped,
            in_flight_at_stop: dropped_after - dropped,
            in_flight_by_reason: std::array::from_fn(|i| at_end[i].saturating_sub(at_stop[i])),
            left_in_workers: left,
            from_outside: came_in,
            to_outside: went_out,
            unaccounted: unaccounted as i64,
        }
    }
}

/// Packet and bit rates of a count of packets and their frame bytes over some seconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rates {
    /// Million packets per second.
    pub mpps: f64,
    /// Gigabits per second of frame bytes.
    pub gbps: f64,
    /// Gigabits per second on the wire: each frame with its FCS, preamble and gap ([`Plan::wire_overhead`]).
    pub wire_gbps: f64,
    /// Mean frame length in bytes (0 without packets).
    pub mean_len: f64,
}

impl Rates {
    /// The rates of `packets` packets of `bytes` frame bytes in `secs` seconds, each frame taking
    /// `wire_overhead` bytes on the wire beyond its length.
    pub fn of(packets: u64, bytes: u64, secs: f64, wire_overhead: usize) -> Rates {
        let secs = secs.max(f64::MIN_POSITIVE);
        Rates {
            mpps: packets as f64 / secs / 1e6,
            gbps: bytes as f64 * 8.0 / secs / 1e9,
            wire_gbps: (bytes + wire_overhead as u64 * packets) as f64 * 8.0 / secs / 1e9,
            mean_len: if packets == 0 { 0.0 } else { bytes as f64 / packets as f64 },
        }
    }
}

/// The live line: redrawn in place on a terminal, one plain line per second otherwise. Goes to stdout, or
/// to stderr when stdout carries JSON.
#[derive(Debug)]
pub struct Live {
    to_stderr: bool,
    tty: bool,
    /// Bytes each frame takes on the wire beyond its length ([`Plan::wire_overhead`]).
    wire_overhead: usize,
}

impl Live {
    /// A live printer for `plan`'s run (whose stdout is JSON or not).
    pub fn new(plan: &Plan) -> Live {
        let json = plan.json;
        let tty = if json { std::io::stderr().is_terminal() } else { std::io::stdout().is_terminal() };
        Live { to_stderr: json, tty, wire_overhead: plan.wire_overhead() }
    }

    fn emit(&self, s: &str) {
        let line = if self.tty { format!("\r{s}\x1b[K") } else { format!("{s}\n") };
        if self.to_stderr {
            let _ = std::io::stderr().write_all(line.as_bytes());
        } else {
            let mut out = std::io::stdout();
            let _ = out.write_all(line.as_bytes());
            let _ = out.flush();
        }
    }

    /// One interval's line: the run's figure with its mean frame size and bit rates (frame bytes, and on
    /// the wire with its FCS, preamble and gap, [`Plan::wire_overhead`]), then each port's rx and tx,
    /// then the drops.
    pub fn line(
        &self,
        at: Duration,
        (t0, t1): (&Totals, &Totals),
        (p0, p1): (&[PortStats], &[PortStats]),
        ports: &[crate::ports::PortInfo],
        secs: f64,
    ) {
        if secs <= 0.0 {
            return;
        }
        let mut d = [0u64; DropReason::COUNT];
        let mut per_port = Vec::with_capacity(ports.len());
        for ((a, b), info) in p0.iter().zip(p1).zip(ports) {
            let s = b.since(a);
            d.iter_mut().zip(s.drops).for_each(|(d, v)| *d += v);
            let rate = |n: u64| n as f64 / secs / 1e6;
            per_port.push(format!("{} rx {:.3} tx {:.3}", info.name, rate(s.ipackets), rate(s.opackets)));
        }
        let rate = Rates::of(t1.packets - t0.packets, t1.bytes - t0.bytes, secs, self.wire_overhead);
        self.emit(&format!(
            "[{:>5.1}s] {:>8.3} Mpps {:>7.3} Gbit/s ({:.3} on the wire, mean {:.0} B) | {} Mpps | drops {}",
            at.as_secs_f64(),
            rate.mpps,
            rate.gbps,
            rate.wire_gbps,
            rate.mean_len,
            per_port.join(", "),
            drops_text(&d)
        ));
    }

    /// Ends the in-place line.
    pub fn finish(&self) {
        if self.tty {
            if self.to_stderr {
                let _ = writeln!(std::io::stderr());
            } else {
                println!();
            }
        }
    }
}

/// Prints the final per-port table (testpmd's `show port stats`) and the summary.
pub fn print_table(plan: &Plan, r: &Report) {
    let mut out = String::new();
    for (i, (name, s)) in r.ports.iter().enumerate() {
        let bar = format!("  ######################## NIC statistics for port {name:<8} ########################");
        out += &format!("\n{bar}\n");
        if let Some(m) = r.macs.get(i) {
            out += &format!("  MAC: {}\n", m.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":"));
        }
        out += &io_lines(r, i, s);
        out += &feth_line(plan, r, i);
        out += &counter_lines(r, i, s);
        out += &format!("  {}\n", "#".repeat(bar.len() - 2));
    }
    out += &setup_lines(plan, r);
    out += &rate_lines(plan, r);
    out += &cycles_lines(plan, r);
    out += &accounting_lines(plan, r);
    if let Some(c) = &r.capture {
        out += &capture_line(plan, c);
    }
    for w in warnings(plan, r) {
        out += &format!("  warning: {w}\n");
    }
    print!("{out}");
}

/// A port's line on how its frames move to and from the kernel or its peer process, if it has one.
fn io_lines(r: &Report, i: usize, s: &PortStats) -> String {
    let mut out = String::new();
    if let Some(Some(t)) = r.io.get(i) {
        let (rx, tx) = t.per_frame(s);
        out += &format!(
            "  {}: {} queue(s), frames move with {}; system calls per frame: rx {}, tx {}{}\n",
            t.driver.to_uppercase(),
            t.queues,
            t.io,
            per_frame_text(rx),
            per_frame_text(tx),
            if matches!(t.driver, "tap" | "shm") {
                String::new()
            } else {
                format!("; missed by the kernel {}", t.missed)
            }
        );
    }
    if let Some(Some(shm)) = r.io.get(i).map(|t| t.as_ref().and_then(|t| t.shm)) {
        out += &format!(
            "  Peer: {} connection(s); copied to send {}, refused give-backs {}, corrupt rings {}\n",
            shm.sessions, shm.tx_copied, shm.bad_returns, shm.corrupt_rings
        );
    }
    out
}

/// A feth port's own counters, when a knob that they count is on: what it copied, the FCS and trailers it
/// appended or had no room for, expiry notifications and advisories. (Completions the sync queue could not
/// keep are in the JSON only: fwd never drains that queue, so with copies they always overflow.)
fn feth_line(plan: &Plan, r: &Report, i: usize) -> String {
    let Some(Some(f)) = r.feth.get(i) else { return String::new() };
    let k = &plan.feth;
    if !(k.fcs || k.trailer_length > 0 || k.tx_exp_policy != 0 || k.adv_interval_ms != 0) {
        return String::new();
    }
    format!(
        "  feth: copied {}, FCS appended {} (no room: {}), trailer no room {}, expiry notifications {}, \
         advisories {}\n",
        f.copies, f.fcs_appended, f.fcs_failed, f.trailer_failed, f.expired_notified, f.advisories
    )
}

/// A port's counters, drops, filters and average rates.
fn counter_lines(r: &Report, i: usize, s: &PortStats) -> String {
    let mut out = String::new();
    out += &format!("  RX-packets: {:<14} RX-errors: {:<10} RX-bytes:  {}\n", s.ipackets, s.ierrors, s.ibytes);
    out += &format!("  RX-nombuf:  {:<14}\n", s.rx_nombuf);
    out += &format!("  TX-packets: {:<14} TX-errors: {:<10} TX-bytes:  {}\n", s.opackets, s.oerrors, s.obytes);
    let mut d = [0u64; DropReason::COUNT];
    d.copy_from_slice(&s.drops);
    out += &format!("  Drops:      {}\n", drops_text(&d));
    for f in r.filters.get(i).into_iter().flatten().flatten() {
        out += &format!(
            "  Filter {}: passed {}, dropped {}, consumed {}\n",
            f.name, f.stats.passed, f.stats.dropped, f.stats.consumed
        );
    }
    out += &format!(
        "  Rx-pps: {:>14.0}          Tx-pps: {:>14.0}   (average over {:.2} s)\n",
        s.ipackets as f64 / r.rate_secs,
        s.opackets as f64 / r.rate_secs,
        r.rate_secs
    );
    out
}

/// What ran: mode, ports, topology, pool, cores and the settings.
fn setup_lines(plan: &Plan, r: &Report) -> String {
    let mut out = String::new();
    out += &format!(
        "\n  mode {} on {} ports ({}), topology {}, burst {}, pool {} ({} memory)\n",
        format!("{:?}", plan.mode).to_lowercase(),
        format!("{:?}", plan.port).to_lowercase(),
        r.ports.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>().join(", "),
        format!("{:?}", plan.topology).to_lowercase(),
        plan.burst,
        plan.feth.pool_mode.as_str(),
        r.backing
    );
    out += &format!(
        "  workers on cores {:?} (pinned: {})\n",
        r.cores,
        if r.pinned.iter().all(|p| *p) { "yes" } else { "no" }
    );
    out += &super::settings::lines(plan);
    out
}

/// What the rates are over: the run, or the generators' span in a run they ended.
fn rate_span(r: &Report) -> String {
    if r.rate_secs == r.secs {
        format!("{:.2} s", r.secs)
    } else {
        format!("the generators' {:.4} s (of a {:.2} s run)", r.rate_secs, r.secs)
    }
}

/// The run's rate, and what the generators made.
fn rate_lines(plan: &Plan, r: &Report) -> String {
    let (t, mut out) = (&r.totals, String::new());
    let overhead = plan.wire_overhead();
    let rates = r.rates(overhead);
    out += &format!(
        "  {} {} in {}: {:.3} Mpps, {:.3} Gbit/s of frames, {:.3} Gbit/s on the wire (+{} B each), mean {:.1} B\n",
        thousands(t.packets),
        plan.counted_as(),
        rate_span(r),
        rates.mpps,
        rates.gbps,
        rates.wire_gbps,
        overhead,
        rates.mean_len
    );
    if let Some(g) = r.generators(plan) {
        out += &generator_line(plan, &g, r);
    }
    out
}

/// Cycles per packet, over the run and (`--record-core-cycles`) over the polls that moved packets.
fn cycles_lines(plan: &Plan, r: &Report) -> String {
    let (t, mut out) = (&r.totals, String::new());
    match cycles_per_packet(t, r.cores.len(), r.secs) {
        Some(c) if c.method == "rdtsc" => {
            out += &format!(
                "  cycles/packet: {:.1} (rdtsc over the run, all worker cycles incl. idle polls; TSC {:.2} GHz)\n",
                c.value, c.ghz
            )
        }
        Some(c) => {
            out += &format!("  cycles/packet: {:.1} (estimate: worker time x nominal {:.2} GHz)\n", c.value, c.ghz)
        }
        None => out += "  cycles/packet: n/a (no packets)\n",
    }
    if plan.record_cycles && t.packets > 0 {
        out += &format!(
            "  busy cycles/packet: {:.1} (rdtsc around polls that moved packets, --record-core-cycles)\n",
            t.busy_cycles as f64 / t.packets as f64
        );
    }
    out
}

/// Where every packet went, and what was left behind.
fn accounting_lines(plan: &Plan, r: &Report) -> String {
    let (t, mut out) = (&r.totals, String::new());
    let a = &r.accounting;
    out += &format!(
        "  accounting: generated {} = consumed {} + dropped {} + in flight at stop {} + left in workers {}{}; \
         unaccounted {}\n",
        a.generated,
        a.consumed,
        a.dropped,
        a.in_flight_at_stop,
        a.left_in_workers,
        match plan.port {
            crate::cli::PortKind::Null => format!(" (+ null rx {} - null tx {})", a.from_outside, a.to_outside),
            crate::cli::PortKind::Tap => {
                format!(" (+ frames from the kernel {} - frames to it {})", a.from_outside, a.to_outside)
            }
            crate::cli::PortKind::List => {
                format!(" (+ frames from outside {} - frames to it {})", a.from_outside, a.to_outside)
            }
            crate::cli::PortKind::Feth => String::new(),
        },
        a.unaccounted
    );
    if a.in_flight_at_stop > 0 {
        out += &format!("  in flight at stop, dropped at teardown: {}\n", drops_text(&a.in_flight_by_reason));
    }
    out += &format!(
        "  sent {}, received {}, generator found the pool empty {} times, frames too short to rewrite (mac, macswap) {}, icmpecho answered {} ignored {}\n",
        a.sent, a.received, t.nombuf, t.bad_frame, t.answered, t.ignored
    );
    out += &format!("  buffers leaked after teardown: {}\n", r.leaked);
    out += &format!("  allocations in the workers' poll loops: {} (counted by the allocator)\n", r.hot_allocations);
    out
}

/// The generators' line: what each port made, against what was asked.
fn generator_line(plan: &Plan, g: &GenOutcome, r: &Report) -> String {
    // A few frames say more than their rate (one frame is a rate of 0: no interval between two).
    let frames = r.totals.generator_frames() / r.gen_ports.max(1) as u64;
    let few = match frames {
        1 => " (1 frame)".to_owned(),
        2..1000 => format!(" ({frames} frames)"),
        _ => String::new(),
    };
    let made = format!(
        "  generators: {} port(s) made {}{few} each over {:.2} s",
        r.gen_ports,
        pps_text(g.achieved_pps),
        r.gen_secs
    );
    let pct = |a: f64| g.achieved_pps / a * 100.0;
    let verdict = match (g.asked_pps, g.held) {
        (Some(a), Some(true)) => format!("; asked {}: held within 1% (or one frame)", pps_text(a)),
        (Some(a), None) => format!("; asked {}: not measured (no frame made)", pps_text(a)),
        (Some(a), _) if g.achieved_pps > a && plan.dial.is_some() => {
            format!("; asked {} at the end: the rate was changed during the run", pps_text(a))
        }
        (Some(a), _) if g.achieved_pps > a => {
            format!("; asked {}: EXCEEDED ({:.1}% of it)", pps_text(a), pct(a))
        }
        (Some(a), _) => format!(
            "; asked {}: NOT reached ({:.1}% of it; the machine or the receiver could not keep up)",
            pps_text(a),
            pct(a)
        ),
        (None, _) if plan.traffic.replay.as_ref().is_some_and(|p| p.timing == Timing::Recorded) => {
            " (at the capture's timing)".to_owned()
        }
        (None, _) => " (as fast as the ports took them)".to_owned(),
    };
    format!("{made}{verdict}\n")
}

/// A `--count` the generators did not reach (a run that stalled says so on its own).
fn count_short(plan: &Plan, r: &Report) -> Option<String> {
    let per_port = plan.traffic.count?;
    let asked = per_port * r.gen_ports as u64;
    let made = r.totals.generator_frames();
    if made >= asked || r.stalled {
        return None;
    }
    let why = match &plan.traffic.replay {
        Some(p) if p.loops > 0 => format!("the replay's {} pass(es) hold fewer, or the run ended first", p.loops),
        _ if r.stopped => "the run was stopped first (Ctrl-C, or stop at the prompt)".to_owned(),
        _ => "the run ended first (--duration)".to_owned(),
    };
    Some(format!("the generators made {made} of the {asked} frames asked (--count {per_port} per port): {why}"))
}

/// The replayed frames skipped, if any: too long for the port, or too short to be Ethernet frames.
fn skipped(r: &Report) -> Option<String> {
    let (long, short) = (r.totals.too_long, r.totals.too_short);
    let what = match (long, short) {
        (0, 0) => return None,
        (n, 0) => format!("{n} longer than the port allows"),
        (0, n) => format!("{n} shorter than an Ethernet header"),
        (l, s) => format!("{l} longer than the port allows, {s} shorter than an Ethernet header"),
    };
    Some(format!("{} replayed frames were skipped: {what}", long + short))
}

/// The run as one JSON object.
pub fn json(plan: &Plan, r: &Report) -> Value {
    let drops = r.drops();
    let by_reason = drops_json(&drops);
    let ports: Vec<Value> = r.ports.iter().enumerate().map(|(i, (name, s))| port_json(r, i, name, s)).collect();
    let t = &r.totals;
    let rates = r.rates(plan.wire_overhead());
    let cpp = cycles_per_packet(t, r.cores.len(), r.secs);
    let a = &r.accounting;
    json!({
        "mode": format!("{:?}", plan.mode).to_lowercase(),
        "port": format!("{:?}", plan.port).to_lowercase(),
        "topology": format!("{:?}", plan.topology).to_lowercase(),
        "ports": ports,
        "cores": r.cores.len(),
        "core_ids": r.cores,
        "pinned": r.pinned.iter().all(|p| *p),
        "burst": plan.burst,
        "pkt_len": plan.pkt_len,
        // A replay's lengths are the capture's, whatever --pkt-len says.
        "pkt_len_spec": match plan.traffic.replay {
            Some(_) => "replay".to_owned(),
            None => super::settings::sizes_text(&plan.traffic.sizes),
        },
        "duration_s": r.secs,
        "rate_seconds": r.rate_secs,
        "packets": t.packets,
        "bytes": t.bytes,
        "counted_as": plan.counted_as(),
        "mpps": rates.mpps,
        "mpps_per_interval": r.intervals,
        "gbps": rates.gbps,
        "wire_gbps": rates.wire_gbps,
        "mean_len": rates.mean_len,
        "generators": r.generators(plan).map(|g| json!({
            "ports": r.gen_ports, "seconds": r.gen_secs, "generated": t.generator_frames(),
            "arp_requests": t.arp_requests, "too_long_skipped": t.too_long,
            "too_short_skipped": t.too_short,
            "asked_pps_per_port": g.asked_pps, "achieved_pps_per_port": g.achieved_pps, "rate_held": g.held,
        })),
        "settings": super::settings::json(plan),
        "drops": by_reason,
        "drops_total": drops.iter().sum::<u64>(),
        "pool": {
            "mode": plan.feth.pool_mode.as_str(),
            "backing": r.backing,
            "packets": plan.feth.pool_packets,
            "multibuflet": plan.feth.multibuflet,
        },
        "accounting": {
            "generated": a.generated, "consumed": a.consumed, "sent": a.sent, "received": a.received,
            "dropped": a.dropped, "in_flight_at_stop": a.in_flight_at_stop,
            "in_flight_dropped_by_reason": drops_json(&a.in_flight_by_reason), "left_in_workers": a.left_in_workers,
            "from_outside": a.from_outside, "to_outside": a.to_outside, "unaccounted": a.unaccounted,
            "buffers_leaked": r.leaked,
        },
        "hot_path_allocations": r.hot_allocations,
        "generator_pool_empty": t.nombuf,
        // Frames mac and macswap could not rewrite (the ports' bad_frame drops are under drops).
        "bad_frames": t.bad_frame,
        "icmpecho": {"answered": t.answered, "ignored": t.ignored},
        "cycles_per_packet": cpp.map(|c| json!({"value": c.value, "method": c.method, "ghz": c.ghz})),
        "busy_cycles_per_packet": (plan.record_cycles && t.packets > 0)
            .then(|| t.busy_cycles as f64 / t.packets as f64),
        "pcap": r.capture.map(|c| json!({
            "format": c.format.name(), "snaplen": c.snaplen, "written": c.written, "missed": c.missed, "late": c.late,
        })),
        "warnings": warnings(plan, r),
    })
}

/// Port `i`'s counters, drops, filters and rates, and how its frames move (its driver's own counters).
fn port_json(r: &Report, i: usize, name: &str, s: &PortStats) -> Value {
    let mut d = Map::new();
    for (k, v) in s.drops_by_name() {
        d.insert(k.to_owned(), json!(v));
    }
    let mut port = json!({
        "name": name, "rx_packets": s.ipackets, "rx_bytes": s.ibytes, "rx_errors": s.ierrors,
        "rx_nombuf": s.rx_nombuf, "tx_packets": s.opackets, "tx_bytes": s.obytes, "tx_errors": s.oerrors,
        "drops": d, "rx_pps": s.ipackets as f64 / r.rate_secs, "tx_pps": s.opackets as f64 / r.rate_secs,
        "filters": r.filters.get(i).cloned().flatten().map(|fs| fs.iter().map(|f| json!({
            "name": f.name, "passed": f.stats.passed, "dropped": f.stats.dropped, "consumed": f.stats.consumed,
        })).collect::<Vec<_>>()),
    });
    if let Some(Some(f)) = r.feth.get(i) {
        port["feth"] = json!({
            "copies": f.copies, "fcs_appended": f.fcs_appended, "fcs_failed": f.fcs_failed,
            "trailer_failed": f.trailer_failed, "expired_notified": f.expired_notified, "advisories": f.advisories,
            "completions_lost": f.completions_lost,
        });
    }
    if let Some(Some(t)) = r.io.get(i) {
        let (rx, tx) = t.per_frame(s);
        // A shm port makes no system call per frame and the kernel drops nothing of it: its own counters
        // instead.
        port[t.driver] = match t.shm {
            Some(shm) => json!({"io": t.io, "sessions": shm.sessions, "tx_copied": shm.tx_copied,
                "bad_returns": shm.bad_returns, "corrupt_rings": shm.corrupt_rings}),
            None => json!({"io": t.io, "queues": t.queues, "rx_syscalls": t.rx_syscalls,
                "tx_syscalls": t.tx_syscalls, "rx_syscalls_per_frame": rx, "tx_syscalls_per_frame": tx,
                "missed": t.missed}),
        };
    }
    port
}

/// The capture's line: format, file, snap length, and what did not make it (or not in order).
fn capture_line(plan: &Plan, c: &CaptureSummary) -> String {
    let path = plan.pcap.as_ref().map(|s| s.path.display().to_string()).unwrap_or_default();
    let late = match c.late {
        0 => String::new(),
        n => format!(", {n} written out of time order: a worker stalled"),
    };
    format!(
        "  {}: {} frames written to {path} (snaplen {}; {} missed: writer behind{late})\n",
        c.format.name(),
        c.written,
        c.snaplen,
        c.missed
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drops_text_names_nonzero_reasons() {
        let mut d = [0u64; DropReason::COUNT];
        assert_eq!(drops_text(&d), "0");
        d[DropReason::RxRingFull as usize] = 3;
        d[DropReason::TxDropInjection as usize] = 2;
        assert_eq!(drops_text(&d), "5 (tx_drop_injection 2, rx_ring_full 3)");
    }
}
