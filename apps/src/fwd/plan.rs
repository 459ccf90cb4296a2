//! From flags to a run plan: checked settings, and which worker owns which ports and runs which jobs.

use super::job::{Frames, FwdOp, Generator, Job};
use crate::cli::{FwdArgs, Mode, PortKind, TapIoArg, Topology};
use crate::config::{self, int_in};
use crate::error::AppError;
use crate::filters::FilterSpec;
use crate::frame;
use crate::gen::flows::{FieldRange, FlowCursor, FlowOrder, FlowSpec};
use crate::gen::maker::{test_frame, FrameMaker};
use crate::gen::pace::{Pacer, FCS_LEN, WIRE_OVERHEAD};
use crate::gen::player::Player;
use crate::gen::settings::{GenKind, Traffic};
use crate::gen::{DialHold, Quota, RateDial};
use crate::ports::{DlilPlan, TapPlan};
use crate::portspec::PortSpec;
use pktloop_pmd::feth::config::QSET_CNT_DEFAULT;
use pktloop_pmd::feth::FethConfig;
use std::time::Duration;

/// A checked `fwd` run.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Ports.
    pub port: PortKind,
    /// The ports of a [`PortKind::List`] run, in order (empty for the other kinds).
    pub list: Vec<PortSpec>,
    /// How AF_XDP ports move frames.
    pub xdp: pktloop_pmd::afxdp::XdpWant,
    /// Which side shm ports are.
    pub role: Option<pktloop_pmd::shm::Role>,
    /// Mode.
    pub mode: Mode,
    /// Topology.
    pub topology: Topology,
    /// Workers.
    pub cores: usize,
    /// The cores `--cores` named for them (None: the engine picks).
    pub core_ids: Option<Vec<usize>>,
    /// feth pairs.
    pub pairs: usize,
    /// Packets per burst.
    pub burst: usize,
    /// Seed bursts per stream.
    pub tx_first: usize,
    /// What generators send, how many and how fast.
    pub traffic: Traffic,
    /// Turns the generators' rate while they run (interactive mode).
    pub dial: Option<RateDial>,
    /// Expiry deadline generators set, ns after generation.
    pub expiry_ns: Option<u64>,
    /// Measure busy-poll cycles.
    pub record_cycles: bool,
    /// Longest frame generated (buffers and null rx frames are sized for it).
    pub pkt_len: usize,
    /// feth MTU.
    pub mtu: u32,
    /// How long (at most, when generators stop by themselves).
    pub duration: Duration,
    /// Between live lines.
    pub stats_period: Duration,
    /// feth knobs (pools and rings for null ports too).
    pub feth: FethConfig,
    /// One JSON object instead of tables.
    pub json: bool,
    /// Capture file and cap.
    pub pcap: Option<crate::capture::CaptureSpec>,
    /// TAP port settings (used with `--port tap`).
    pub tap: TapPlan,
    /// Run the ports through the input layer (`--filter`, `--input-thread`); None: ports as they are.
    pub dlil: Option<DlilPlan>,
}

impl Assignment {
    /// How many ports (by run index) run a generator.
    pub fn generator_ports(&self) -> usize {
        let mut ports: Vec<usize> = Vec::new();
        for (owned, jobs) in self.ports.iter().zip(&self.jobs) {
            for job in jobs {
                let local = match job {
                    Job::Generate { port, .. } | Job::Ping { port, .. } => *port,
                    _ => continue,
                };
                ports.push(owned[local]);
            }
        }
        ports.sort_unstable();
        ports.dedup();
        ports.len()
    }
}

/// Which ports (by run index) each worker owns, and its jobs (port numbers local to the worker).
#[derive(Debug)]
pub struct Assignment {
    /// Ports of each worker, by run index.
    pub ports: Vec<Vec<usize>>,
    /// Jobs of each worker.
    pub jobs: Vec<Vec<Job>>,
    /// Ports to create (null: one per worker in loop topology, two in paired).
    pub port_count: usize,
}

/// Checks every setting; errors name the flag, the value and what is allowed.
pub fn resolve(a: &FwdArgs) -> Result<Plan, AppError> {
    let feth = config::feth_config(&a.run.feth)?;
    let burst = int_in("burst", a.burst, 1, 512, "1..=512")? as usize;
    let tx_first = int_in("tx-first", a.tx_first.unwrap_or(1), 1, 64, "1..=64")? as usize;
    let expiry_ns = match a.expiry_us {
        Some(us) => Some(int_in("expiry-us", us, 0, 10_000_000, "0..=10000000 microseconds")? as u64 * 1000),
        None => None,
    };
    let mtu = config::mtu(a.run.mtu, &feth)?;
    let port = port_kind(a);
    let kind = gen_kind(a.mode, port, a.port.0.contains(&PortSpec::Feth));
    let traffic = Traffic::resolve(&a.gen, a.run.pkt_len.as_deref(), kind, (60, frame_limit(port, mtu, &feth)))?;
    let pkt_len = match &traffic.replay {
        Some(r) => r.longest.max(60),
        None => traffic.sizes.bounds().1,
    };
    if port == PortKind::Feth || a.port.0.contains(&PortSpec::Feth) {
        config::check_split_room(&feth, pkt_len)?;
    }
    let duration = match a.run.duration {
        Some(d) => config::duration("duration", d, 86_400.0)?,
        None if traffic.finite() => Duration::from_secs(86_400),
        None => Duration::from_secs(5),
    };
    let topology = a.topology.unwrap_or(Topology::Loop);
    let per_worker = if topology == Topology::Paired { 2 } else { 1 };
    let pairs = int_in("pairs", a.pairs.unwrap_or(1), 1, 64, "1..=64")? as usize;
    check_feth_scaling(a, port, pairs, &feth)?;
    let (cores, core_ids) = workers(a, port, per_worker, (pairs * feth.queue_pairs(), &feth))?;
    check_combinations(a, port, topology, (cores, pairs * feth.queue_pairs()), burst, feth.pool_packets)?;
    let list = if port == PortKind::List { a.port.0.clone() } else { Vec::new() };
    let tap_ports = match port {
        PortKind::Tap => cores * per_worker,
        _ => list.iter().filter(|p| **p == PortSpec::Tap).count(),
    };
    let tap = tap_plan(a, tap_ports)?;
    // After every value's own range, so that a value out of range is said as such first.
    check_flags_apply(a, port, kind)?;
    if topology == Topology::Paired {
        check_pairs(a, &list, &tap)?;
    }
    let dlil = dlil_plan(a)?;
    if dlil.is_some() {
        check_single_queues(a, &list, &tap, tap_ports)?;
    }
    let role = crate::portspec::shm_role(&list, a.run.role.map(crate::cli::RoleArg::role)).map_err(AppError::usage)?;
    let core_ids = core_ids.or_else(|| crate::cores::for_shm_client(role, cores));
    Ok(Plan {
        port,
        role,
        list,
        xdp: a.run.xdp_mode.map(crate::cli::XdpModeArg::want).unwrap_or_default(),
        mode: a.mode,
        topology,
        cores,
        burst,
        tx_first,
        traffic,
        dial: None,
        pairs,
        core_ids,
        expiry_ns,
        record_cycles: a.record_core_cycles.unwrap_or(false),
        pkt_len,
        mtu,
        duration,
        stats_period: config::duration("stats-period", a.stats_period.unwrap_or(1.0), 3600.0)?,
        feth,
        json: a.run.json.unwrap_or(false),
        pcap: crate::capture::CaptureSpec::from_args(&a.run)?,
        tap,
        dlil,
    })
}

/// Refuses flags that would change nothing in this run, as `--rate` without a generator is: whoever gives
/// one expects it to act.
fn check_flags_apply(a: &FwdArgs, port: PortKind, kind: GenKind) -> Result<(), AppError> {
    let listed = |pick: fn(&PortSpec) -> bool| a.port.0.iter().any(pick);
    let tap = port == PortKind::Tap || listed(|p| *p == PortSpec::Tap);
    let afxdp = listed(|p| matches!(p, PortSpec::AfXdp { .. }));
    // Ports whose icmpecho answers for --ip: every kind but feth and null.
    let outside = tap || afxdp || listed(|p| matches!(p, PortSpec::AfPacket { .. } | PortSpec::Shm { .. }));
    let forwards = matches!(a.mode, Mode::Io | Mode::Mac | Mode::Macswap);
    let for_tap = "valid with a TAP port (--port tap)";
    let f = &a.run.feth;
    let (links, sets) = (f.llink_cnt.unwrap_or(0), f.qset_cnt.unwrap_or(i64::from(QSET_CNT_DEFAULT)));
    let mut unused = vec![
        (
            "expiry-us",
            a.expiry_us.map(|v| v.to_string()).filter(|_| matches!(kind, GenKind::None | GenKind::Ping)),
            "it sets the deadline of generated frames and this run generates none (pings carry no deadline); \
             valid with --mode txonly or flowgen (and rxonly on a feth pair)",
        ),
        (
            "tx-first",
            a.tx_first.map(|v| v.to_string()).filter(|_| !forwards),
            "it seeds forwarding; valid with --mode io, mac or macswap",
        ),
        ("tap-name", a.tap.tap_name.clone().filter(|_| !tap), for_tap),
        ("tap-queues", a.tap.tap_queues.map(|v| v.to_string()).filter(|_| !tap), for_tap),
        ("tap-io", a.tap.tap_io.and_then(|v| crate::cli::choice_name(&v)).filter(|_| !tap), for_tap),
        (
            "ip",
            a.tap.ip.clone().filter(|_| !outside),
            "it is the address icmpecho answers for on TAP, real-interface and shm ports; valid with --port tap, \
             afpacket, afxdp or shm",
        ),
        (
            "duration",
            a.run.duration.map(|v| v.to_string()).filter(|_| a.interactive.unwrap_or(false)),
            "at the prompt (-i), start and stop decide how long a run lasts; valid without -i",
        ),
        (
            "low-latency",
            f.low_latency.filter(|&on| on && (links < 2 || sets < 2)).map(|_| "on".to_owned()),
            "the low-latency set is the second set of every logical link but the first; valid with --llink-cnt 2 \
             or more and --qset-cnt 2 or more",
        ),
    ];
    unused.extend(config::needing_another(f, a.run.xdp_mode, afxdp));
    unused.extend(config::feth_pair_only(f, listed(|p| *p == PortSpec::Feth)));
    match a.run.first_typed(&unused) {
        Some((flag, value, why)) => Err(AppError::usage(format!("invalid --{flag} {value} in this run: {why}"))),
        None => Ok(()),
    }
}

/// Seconds of packets a generator's token bucket holds.
const PACE_DEPTH_S: f64 = 0.01;

/// What generators `mode` runs on `port`s (`feth_pair`: a feth pair among them, alone or in a list, which
/// sends to itself in rxonly and icmpecho too).
fn gen_kind(mode: Mode, port: PortKind, feth_pair: bool) -> GenKind {
    match (mode, feth_pair || port == PortKind::Feth) {
        (Mode::Txonly, _) | (Mode::Rxonly, true) => GenKind::Single,
        (Mode::Flowgen, _) => GenKind::Spread,
        (Mode::Icmpecho, true) => GenKind::Ping,
        _ => GenKind::None,
    }
}

/// The longest frame the plan's ports take.
pub fn max_frame_of(plan: &Plan) -> usize {
    frame_limit(plan.port, plan.mtu, &plan.feth)
}

/// The longest frame `port`s take at `mtu`: with `--tso`, a feth pair's TSO frames; other ports (null,
/// TAP, real interfaces, lists) have no TSO and keep to the MTU.
fn frame_limit(port: PortKind, mtu: u32, feth: &FethConfig) -> usize {
    config::max_frame_with(mtu, (port == PortKind::Feth).then_some(feth))
}

/// The kind of ports `--port` asks for.
fn port_kind(a: &FwdArgs) -> PortKind {
    match a.port.single_kind() {
        Some(PortSpec::Feth) => PortKind::Feth,
        Some(PortSpec::Null) => PortKind::Null,
        Some(_) => PortKind::Tap,
        None => PortKind::List,
    }
}

/// Workers: `--cores`, checked against the cores this process may use and what the ports allow (feth: one
/// worker per port queue, or one per queue pair owning both ports' queue; a list one per port or pair of
/// ports). Returns the count and, when `--cores` named them, the cores.
fn workers(
    a: &FwdArgs,
    port: PortKind,
    per_worker: usize,
    (feth_units, feth): (usize, &FethConfig),
) -> Result<(usize, Option<Vec<usize>>), AppError> {
    let product = config::queue_product(feth);
    let allowed = pktloop_engine::lcore::allowed_cores();
    let available = allowed.len();
    let default_cores = match port {
        PortKind::Feth if 2 * feth_units <= available => 2 * feth_units,
        PortKind::Feth => feth_units,
        PortKind::List => list_workers(a, per_worker)?,
        _ => 1,
    };
    let shared_ok = a.run.allow_shared_cores.unwrap_or(false);
    let Some(text) = &a.cores else {
        if port == PortKind::Feth && default_cores > available && !shared_ok {
            return Err(AppError::usage(format!(
                "invalid --pairs {} with {}: {default_cores} queue pairs need as many workers and this process \
                 may run on {available} cores; valid is --pairs x {product} <= {available}, or \
                 --allow-shared-cores",
                a.pairs.unwrap_or(1),
                config::queue_flags(feth)
            )));
        }
        if port == PortKind::List && default_cores > available && !shared_ok {
            return Err(AppError::usage(format!(
                "invalid --port {}: a list of {} ports runs {default_cores} workers (one per port, or per two with \
                 --topology paired) and this process may run on {available} cores; valid is at most {available} \
                 workers, or --allow-shared-cores",
                list_text(a),
                a.port.port_count()
            )));
        }
        return Ok((default_cores, None));
    };
    let cores = crate::cores::Cores::parse(text, &allowed)?;
    let n = cores.count();
    if port == PortKind::List && n as usize != default_cores {
        return Err(AppError::usage(format!(
            "invalid --cores {text} with --port {}: a list of {} ports runs one worker per port (loop) or per two \
             (paired); valid is {default_cores} workers",
            list_text(a),
            a.port.port_count()
        )));
    }
    if n < 1 || (n as usize > available && !shared_ok) {
        return Err(AppError::usage(format!(
            "invalid --cores {text}: valid is 1..={available} workers (cores this process may run on; \
             --allow-shared-cores lets workers share them)"
        )));
    }
    let n = int_in("cores", n, 1, 256, "1..=256")? as usize;
    if port == PortKind::Feth && n != feth_units && n != 2 * feth_units {
        return Err(AppError::usage(format!(
            "invalid --cores {text} with {feth_units} feth queue pair(s) (--pairs x {product}): valid is {} (a \
             worker per port queue) or {feth_units} (a worker per queue pair, owning both ports' queue)",
            2 * feth_units
        )));
    }
    Ok((
        n,
        match cores {
            crate::cores::Cores::Ids(ids) => Some(ids),
            crate::cores::Cores::Count(_) => None,
        },
    ))
}

/// Several feth pairs and queues are made by `--port feth` only.
fn check_feth_scaling(a: &FwdArgs, port: PortKind, pairs: usize, feth: &FethConfig) -> Result<(), AppError> {
    let queues = feth.queue_pairs();
    if a.mode == Mode::Icmpecho && feth.rss && queues > 1 {
        return Err(AppError::usage(format!(
            "invalid --rss with --mode icmpecho and --rxq {queues}: ARP replies carry no IPv4 flow, so RSS steers \
             them all to one queue and only that queue's pinger could resolve its peer; valid is --rss off or \
             --rxq 1"
        )));
    }
    if a.gen.replay.is_some() && queues > 1 {
        return Err(AppError::usage(format!(
            "invalid --replay with {}: a capture is replayed in order on one queue; valid is {} (use --pairs to \
             replay it on several pairs)",
            config::queue_flags(feth),
            config::one_queue_pair(feth)
        )));
    }
    if port != PortKind::Feth && pairs > 1 {
        return Err(AppError::usage(format!(
            "invalid --pairs {pairs} with --port {}: valid with --port feth",
            list_text(a)
        )));
    }
    if port != PortKind::Feth && queues > 1 {
        return Err(AppError::usage(format!(
            "invalid {} with --port {}: valid with --port feth (TAP has --tap-queues, real interfaces \
             IFNAME:QUEUES)",
            config::queue_flags(feth),
            list_text(a)
        )));
    }
    Ok(())
}

/// Settings that are each valid but not together.
fn check_combinations(
    a: &FwdArgs,
    port: PortKind,
    topology: Topology,
    (cores, feth_units): (usize, usize),
    burst: usize,
    pool_packets: u32,
) -> Result<(), AppError> {
    if burst as u64 > u64::from(pool_packets) {
        return Err(AppError::usage(format!(
            "invalid --burst {burst} with --pool-size {pool_packets}: a burst is allocated all at once; valid is \
             --burst <= --pool-size"
        )));
    }
    let forwarding = matches!(a.mode, Mode::Io | Mode::Mac | Mode::Macswap);
    if port == PortKind::Feth && forwarding && topology == Topology::Paired && cores == 2 * feth_units {
        return Err(AppError::usage(format!(
            "invalid --topology paired with --cores {cores} on feth pairs: paired streams cross both ports, \
             which one worker must own; valid is --topology loop (a worker per port queue) or --cores {feth_units}"
        )));
    }
    if port == PortKind::Null && a.mode == Mode::Icmpecho {
        return Err(AppError::usage(
            "invalid --mode icmpecho with --port null: a null port has no peer to answer; valid is --port feth or tap",
        ));
    }
    Ok(())
}

/// The input layer polls queue 0 only: every port behind it must have one queue.
fn check_single_queues(a: &FwdArgs, list: &[PortSpec], tap: &TapPlan, tap_ports: usize) -> Result<(), AppError> {
    if tap_ports > 0 && tap.queues > 1 {
        return Err(AppError::usage(format!(
            "invalid --tap-queues {} with --filter or --input-thread: the input layer polls queue 0 only; valid is 1",
            tap.queues
        )));
    }
    if let Some(multi) = list.iter().find(|p| **p != PortSpec::Tap && queues_of(p, tap) > 1) {
        return Err(AppError::usage(format!(
            "invalid --port {} with --filter or --input-thread: the input layer polls queue 0 only; valid is \
             {}:IFNAME:1",
            list_text(a),
            multi.kind()
        )));
    }
    Ok(())
}

/// The valid values of `--input-thread`: the cores this process may run on (`allowed`).
pub fn input_cores(allowed: &[usize]) -> String {
    let ids: Vec<String> = allowed.iter().map(usize::to_string).collect();
    format!("a core this process may run on ({})", ids.join(", "))
}

/// The input layer, checked: None when neither `--filter` nor `--input-thread` is given.
fn dlil_plan(a: &FwdArgs) -> Result<Option<DlilPlan>, AppError> {
    let filters = a.filters.iter().map(|f| FilterSpec::parse(f)).collect::<Result<Vec<_>, _>>()?;
    let input_core = match a.input_thread {
        None => None,
        Some(c) => {
            let allowed = pktloop_engine::lcore::allowed_cores();
            if !usize::try_from(c).is_ok_and(|c| allowed.contains(&c)) {
                return Err(AppError::usage(format!("invalid --input-thread {c}: valid is {}", input_cores(&allowed))));
            }
            Some(c as usize)
        }
    };
    Ok((!filters.is_empty() || input_core.is_some()).then_some(DlilPlan { filters, input_core }))
}

/// The TAP settings, checked; `ports` is how many TAP ports the run makes (a fixed name serves one).
fn tap_plan(a: &FwdArgs, ports: usize) -> Result<TapPlan, AppError> {
    let name = a.tap.tap_name.clone().unwrap_or_else(|| pktloop_pmd::tap::DEFAULT_NAME.to_owned());
    if ports > 1 && !name.contains("%d") {
        return Err(AppError::usage(format!(
            "invalid --tap-name {name}: this run makes {ports} TAP ports; valid is a name with %d (pktloop%d)"
        )));
    }
    let max = pktloop_pmd::tap::MAX_QUEUES as i64;
    let queues = int_in("tap-queues", a.tap.tap_queues.unwrap_or(1), 1, max, "1..=256")? as usize;
    let (ip, prefix) = config::ipv4_cidr("ip", a.tap.ip.as_deref().unwrap_or("198.18.0.2/24"))?;
    let io_uring = a.tap.tap_io.unwrap_or(TapIoArg::IoUring) == TapIoArg::IoUring;
    Ok(TapPlan { name, queues, io_uring, ip, prefix })
}

/// Workers of a list run: one per port (loop) or per two ports (paired).
fn list_workers(a: &FwdArgs, per_worker: usize) -> Result<usize, AppError> {
    let ports = a.port.port_count();
    if !ports.is_multiple_of(per_worker) {
        return Err(AppError::usage(format!(
            "invalid --topology paired with --port {}: {ports} ports do not pair up; valid is an even number of \
             ports (a feth entry counts two)",
            list_text(a)
        )));
    }
    Ok(ports / per_worker)
}

/// Paired ports forward queue i to queue i of each other: both must have as many queues.
fn check_pairs(a: &FwdArgs, list: &[PortSpec], tap: &TapPlan) -> Result<(), AppError> {
    let per_port: Vec<(&PortSpec, usize)> =
        list.iter().flat_map(|p| std::iter::repeat_n((p, queues_of(p, tap)), p.port_count())).collect();
    for pair in per_port.chunks(2) {
        if let [(x, qx), (y, qy)] = pair {
            if qx != qy {
                return Err(AppError::usage(format!(
                    "invalid --port {} with --topology paired: a {} port with {qx} queue(s) is paired with a {} \
                     port with {qy}; valid is paired ports with as many queues each (queue i forwards to queue i)",
                    list_text(a),
                    x.kind(),
                    y.kind()
                )));
            }
        }
    }
    Ok(())
}

/// `--port`'s value as the user wrote it (for messages).
fn list_text(a: &FwdArgs) -> String {
    let text = |p: &PortSpec| match p {
        PortSpec::AfPacket { ifname, queues } | PortSpec::AfXdp { ifname, queues } => {
            format!("{}:{ifname}:{queues}", p.kind())
        }
        PortSpec::Shm { path } => format!("shm:{path}"),
        other => other.kind().to_owned(),
    };
    a.port.0.iter().map(text).collect::<Vec<_>>().join(",")
}

/// Queue pairs a port of `spec` has.
pub fn queues_of(spec: &PortSpec, tap: &TapPlan) -> usize {
    match spec {
        PortSpec::Tap => tap.queues,
        PortSpec::AfPacket { queues, .. } | PortSpec::AfXdp { queues, .. } => *queues,
        PortSpec::Feth | PortSpec::Null | PortSpec::Shm { .. } => 1,
    }
}

impl Plan {
    /// Knobs of the ports that reach outside the process.
    pub fn outside(&self) -> crate::ports::Outside {
        crate::ports::Outside { xdp: self.xdp, role: self.role }
    }

    /// The spec of run port `index` in a list run.
    pub fn spec_of(&self, index: usize) -> Option<&PortSpec> {
        self.place_of(index).map(|(spec, _)| spec)
    }

    /// The spec of run port `index` in a list run, and which of that spec's ports it is (0, or 1 for a
    /// feth pair's second port).
    fn place_of(&self, index: usize) -> Option<(&PortSpec, usize)> {
        let mut first = 0;
        for spec in &self.list {
            if index < first + spec.port_count() {
                return Some((spec, index - first));
            }
            first += spec.port_count();
        }
        None
    }

    /// Whether run port `index` exchanges frames with the world outside the run (for the accounting).
    pub fn faces_outside(&self, index: usize) -> bool {
        match self.port {
            PortKind::Feth => false,
            PortKind::Null | PortKind::Tap => true,
            PortKind::List => self.spec_of(index).is_some_and(PortSpec::faces_outside),
        }
    }

    /// Bytes each counted frame takes on the wire beyond its length: [`WIRE_OVERHEAD`], less the FCS when
    /// the frames carry theirs already (`--fcs` on ports that are all feth pairs, which append it). In a
    /// list mixing feth pairs with other ports under `--fcs`, the feth frames' FCS is counted twice: a
    /// per-frame look would cost the hot path for a figure of a test setup.
    pub fn wire_overhead(&self) -> usize {
        let all_feth = match self.port {
            PortKind::Feth => true,
            PortKind::List => self.list.iter().all(|p| *p == PortSpec::Feth),
            PortKind::Null | PortKind::Tap => false,
        };
        if self.feth.fcs && all_feth {
            WIRE_OVERHEAD - FCS_LEN
        } else {
            WIRE_OVERHEAD
        }
    }

    /// How figures are counted, in words, for the table.
    pub fn counted_as(&self) -> &'static str {
        match (self.port, self.mode) {
            (PortKind::Feth, Mode::Io | Mode::Mac | Mode::Macswap) => {
                "packets received and forwarded, both directions added"
            }
            (_, Mode::Io | Mode::Mac | Mode::Macswap) if self.topology == Topology::Paired => {
                "packets received and forwarded, both directions added"
            }
            (_, Mode::Io | Mode::Mac | Mode::Macswap) => "packets received and forwarded, all ports added",
            (PortKind::Feth, Mode::Txonly | Mode::Rxonly | Mode::Flowgen) => "packets received on the peer",
            (_, Mode::Rxonly) => "packets received",
            (_, Mode::Txonly | Mode::Flowgen) => "packets sent",
            (PortKind::Tap | PortKind::List, Mode::Icmpecho) => "ARP and echo requests answered",
            (_, Mode::Icmpecho) => "echo replies received",
        }
    }

    fn op(&self) -> Option<FwdOp> {
        match self.mode {
            Mode::Io => Some(FwdOp::Io),
            Mode::Mac => Some(FwdOp::Mac),
            Mode::Macswap => Some(FwdOp::MacSwap),
            _ => None,
        }
    }

    /// Ports per worker and jobs. `macs[i]` / `peers[i]` are port i's MAC and the MAC its tx reaches.
    pub fn assign(&self, macs: &dyn Fn(usize) -> ([u8; 6], [u8; 6])) -> Assignment {
        match self.port {
            PortKind::Feth => self.assign_feth(macs),
            _ => self.assign_per_worker(macs),
        }
    }

    /// A generator on run port `port` (queue `queue` of `queues`, which share its rate and count) to the
    /// station its tx reaches.
    fn generator(
        &self,
        macs: &dyn Fn(usize) -> ([u8; 6], [u8; 6]),
        port: usize,
        (queue, queues): (usize, usize),
        completes: bool,
    ) -> Generator {
        let t = &self.traffic;
        let (mac, peer) = macs(port);
        let seed = (port * 64 + queue) as u64;
        let frames = match &t.replay {
            Some(r) => Frames::Replayed(Player::new(r.trace.clone(), r.timing, r.loops, max_frame_of(self))),
            None => {
                let spec = t.flow_spec(mac, peer);
                let template = test_frame(&spec.tuple(0), self.pkt_len);
                let flows = FlowCursor::new(spec, t.flows, t.order, seed);
                Frames::Made(FrameMaker::new(template, t.sizes.source(seed), flows))
            }
        };
        Generator {
            frames,
            quota: self.quota((queue, queues)),
            completes,
            wmm_classes: self.feth.wmm && self.port == PortKind::Feth,
            expiry_ns: self.expiry_ns,
        }
    }

    /// The count and rate of queue `queue` of a generator port with `queues` queues (they share the port's).
    fn quota(&self, (queue, queues): (usize, usize)) -> Quota {
        let t = &self.traffic;
        let q = queues.max(1) as u64;
        let count = t.count.map(|c| c / q + u64::from((queue as u64) < c % q));
        let pacer = t.rate.map(|r| {
            let pps = r.pps(t.mean_len()) / q as f64;
            // The bucket holds 10 ms of packets (at least a burst): a worker preempted for less than that
            // catches up, so the run's mean holds the rate on a busy machine.
            Pacer::new(pps, ((pps * PACE_DEPTH_S) as usize).max(self.burst))
        });
        let quota = Quota::new(count, pacer);
        match &self.dial {
            Some(d) => quota.with_dial(DialHold::new(d.clone(), queues, PACE_DEPTH_S, self.burst)),
            None => quota,
        }
    }

    /// A forwarding job from local port `rx` to local port `tx` (run index `global_tx`) on queue pair `queue`.
    fn forward(
        &self,
        macs: &dyn Fn(usize) -> ([u8; 6], [u8; 6]),
        (rx, tx, global_tx): (usize, usize, usize),
        queue: usize,
        seeds: usize,
    ) -> Job {
        let (mac, peer) = macs(global_tx);
        let spec = self.traffic.flow_spec(mac, peer);
        // With RSS the seeds are several flows (source ports 1024 up), so forwarded traffic lands on every
        // queue; otherwise one flow.
        let (spec, flows) = match self.feth.rss {
            true => (FlowSpec { src_port: FieldRange { lo: 1024, span: 64 }, ..spec }, 64),
            false => (spec, 1),
        };
        let cursor = FlowCursor::new(spec, flows, FlowOrder::Sequential, global_tx as u64);
        let sizes = self.traffic.sizes.source(global_tx as u64);
        let seed = FrameMaker::new(test_frame(&spec.tuple(0), self.pkt_len), sizes, cursor);
        Job::Forward { rx, tx, queue, op: self.op().unwrap_or(FwdOp::Io), seed_left: seeds, seed }
    }

    /// The job of a feth pair's port `g` (run index; `end` 0 for the pair's first port, 1 for the second)
    /// in the modes that do not forward, polled as the worker's local port `local`: the first port
    /// generates (or pings), the second receives (or answers), so that what one sends the other takes.
    fn feth_end_job(
        &self,
        macs: &dyn Fn(usize) -> ([u8; 6], [u8; 6]),
        (g, end): (usize, usize),
        local: usize,
        share: (usize, usize),
    ) -> Job {
        match (self.mode, end) {
            (Mode::Icmpecho, 0) => {
                let (mac, _) = macs(g);
                Job::Ping {
                    port: local,
                    template: frame::icmp_echo_request(mac, frame::BROADCAST, self.pkt_len),
                    arp: frame::arp_request(mac, frame::IP_A, frame::IP_B),
                    peer_ip: frame::IP_B,
                    quota: self.quota(share),
                }
            }
            (Mode::Icmpecho, _) => Job::Echo { port: local, queue: 0, ip: frame::IP_B, counted: false },
            (_, 0) => Job::Generate { port: local, queue: 0, gen: self.generator(macs, g, share, false) },
            _ => Job::Receive { port: local, queue: 0 },
        }
    }

    /// The feth pair: one worker per port, or one worker for both.
    fn assign_feth(&self, macs: &dyn Fn(usize) -> ([u8; 6], [u8; 6])) -> Assignment {
        // Run ports 2u and 2u+1 are queue u % queues of pair u / queues: they cross each other.
        let queues = self.feth.queue_pairs();
        let units = self.pairs * queues;
        let share = |u: usize| (u % queues, queues);
        // The job of run port `g` (the generator side when even), polled as the worker's local port `local`.
        let jobs_for = |g: usize, local: usize| -> Job {
            match self.mode {
                Mode::Io | Mode::Mac | Mode::Macswap => self.forward(macs, (local, local, g), 0, self.tx_first),
                _ => self.feth_end_job(macs, (g, g % 2), local, share(g / 2)),
            }
        };
        let mut a = Assignment { ports: Vec::new(), jobs: Vec::new(), port_count: 2 * units };
        for u in 0..units {
            let (p, q) = (2 * u, 2 * u + 1);
            if self.cores == 2 * units {
                a.ports.extend([vec![p], vec![q]]);
                a.jobs.extend([vec![jobs_for(p, 0)], vec![jobs_for(q, 0)]]);
                continue;
            }
            a.ports.push(vec![p, q]);
            a.jobs.push(if self.op().is_some() && self.topology == Topology::Paired {
                vec![self.forward(macs, (0, 1, q), 0, self.tx_first), self.forward(macs, (1, 0, p), 0, self.tx_first)]
            } else {
                vec![jobs_for(p, 0), jobs_for(q, 1)]
            });
        }
        a
    }

    /// null and TAP ports and lists: each worker owns one port (loop) or two (paired) and runs a job per
    /// port and queue.
    fn assign_per_worker(&self, macs: &dyn Fn(usize) -> ([u8; 6], [u8; 6])) -> Assignment {
        let per = if self.topology == Topology::Paired { 2 } else { 1 };
        let mut ports = Vec::new();
        let mut jobs = Vec::new();
        for i in 0..self.cores {
            ports.push((0..per).map(|k| i * per + k).collect());
            let mut mine = Vec::new();
            for k in 0..per {
                let g = i * per + k;
                let tx_local = if per == 2 { 1 - k } else { k };
                let queues = match (self.port, self.spec_of(g)) {
                    (PortKind::Tap, _) => self.tap.queues,
                    (_, Some(spec)) => queues_of(spec, &self.tap),
                    _ => 1,
                };
                let feth_end = match self.place_of(g) {
                    Some((PortSpec::Feth, end)) => Some(end),
                    _ => None,
                };
                for queue in 0..queues {
                    mine.push(match self.mode {
                        // A feth pair in a list sends to itself, as the pair does alone.
                        Mode::Txonly | Mode::Rxonly | Mode::Flowgen | Mode::Icmpecho if feth_end.is_some() => {
                            let end = feth_end.unwrap_or_default();
                            self.feth_end_job(macs, (g, end), k, (0, 1))
                        }
                        Mode::Txonly | Mode::Flowgen => {
                            Job::Generate { port: k, queue, gen: self.generator(macs, g, (queue, queues), true) }
                        }
                        Mode::Rxonly => Job::Receive { port: k, queue },
                        Mode::Icmpecho => Job::Echo { port: k, queue, ip: self.tap.ip, counted: true },
                        // Null rx makes its own frames, TAP and real interfaces bring the world's: nothing to
                        // seed but a feth port of a list, whose frames only ever come from its peer.
                        _ => {
                            let seeds = if self.spec_of(g) == Some(&PortSpec::Feth) { self.tx_first } else { 0 };
                            self.forward(macs, (k, tx_local, i * per + tx_local), queue, seeds)
                        }
                    });
                }
            }
            jobs.push(mine);
        }
        Assignment { ports, jobs, port_count: self.cores * per }
    }
}
