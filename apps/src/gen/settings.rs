//! The generator flags, checked into [`Traffic`]: every error names the flag, the value and what is valid.

use super::flows::{self, FieldRange, FlowOrder, FlowSpec};
use super::pace::Rate;
use super::player::Timing;
use super::replay::{Trace, MIN_FRAME};
use super::sizes::SizeSpec;
use crate::cli::{FlowOrderArg, GenArgs, ReplayTimingArg};
use crate::error::AppError;
use std::path::PathBuf;
use std::sync::Arc;

/// Source IPs of flowgen's flows when no range is given: 198.18.1.0 upwards (inside the benchmark range),
/// or upwards from a single `--src-ip`.
const FLOWGEN_SRC_IP: FieldRange = FieldRange { lo: 0xc612_0100, span: 0xff00 };
/// Flows flowgen cycles through when no range is given.
const FLOWGEN_DEFAULT_FLOWS: u64 = 64;
/// The source addresses flowgen varies when no field is ranged: upwards from `--src-ip` or 198.18.1.0,
/// never past 255.255.255.255.
fn unranged_src_ip(given: Option<FieldRange>) -> FieldRange {
    match given {
        Some(g) => FieldRange { lo: g.lo, span: FLOWGEN_SRC_IP.span.min((1 << 32) - g.lo) },
        None => FLOWGEN_SRC_IP,
    }
}

/// Largest `--count`.
const MAX_COUNT: i64 = 1_000_000_000_000;

/// A capture to replay.
#[derive(Debug, Clone)]
pub struct ReplayPlan {
    /// Where it came from.
    pub path: PathBuf,
    /// Its frames.
    pub trace: Arc<Trace>,
    /// Passes (0: until the run ends).
    pub loops: u64,
    /// When its frames go.
    pub timing: Timing,
    /// The mean length of the frames it sends (those the port takes).
    pub mean_len: f64,
    /// The longest frame it sends.
    pub longest: usize,
}

/// What the run's generators send, checked.
#[derive(Debug, Clone)]
pub struct Traffic {
    /// Frame lengths (unused by a replay).
    pub sizes: SizeSpec,
    /// Header fields the user gave (None: the port's own default).
    pub fields: GivenFields,
    /// Flows each generator cycles through (1 unless flowgen).
    pub flows: u64,
    /// Their order.
    pub order: FlowOrder,
    /// Rate of each generator port.
    pub rate: Option<Rate>,
    /// Packets each generator port makes.
    pub count: Option<u64>,
    /// A capture to send instead of test frames.
    pub replay: Option<ReplayPlan>,
}

/// The header fields given on the command line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GivenFields {
    /// `--src-mac`.
    pub src_mac: Option<FieldRange>,
    /// `--dst-mac`.
    pub dst_mac: Option<FieldRange>,
    /// `--src-ip`.
    pub src_ip: Option<FieldRange>,
    /// `--dst-ip`.
    pub dst_ip: Option<FieldRange>,
    /// `--src-port`.
    pub src_port: Option<FieldRange>,
    /// `--dst-port`.
    pub dst_port: Option<FieldRange>,
}

/// How one address or port flag's values are read, and what it takes, for its error.
type FieldValue = (fn(&str) -> Option<u64>, &'static str);

/// The address and port flags, in the order of [`GivenFields::all`].
const FIELD_FLAGS: [&str; 6] = ["src-mac", "dst-mac", "src-ip", "dst-ip", "src-port", "dst-port"];

impl GivenFields {
    fn parse(g: &GenArgs) -> Result<GivenFields, AppError> {
        let mac = "XX:XX:XX:XX:XX:XX (or XX-XX-XX-XX-XX-XX) or a range XX:XX:XX:XX:XX:XX-XX:XX:XX:XX:XX:XX";
        let ip = "an IPv4 address A.B.C.D or a range A.B.C.D-A.B.C.D";
        let port = "0..=65535 or a range P-P";
        let values: [FieldValue; 6] = [
            (flows::mac_value, mac),
            (flows::mac_value, mac),
            (flows::ip_value, ip),
            (flows::ip_value, ip),
            (flows::port_value, port),
            (flows::port_value, port),
        ];
        let mut parsed = [None; 6];
        for (i, text) in GivenFields::texts(g).into_iter().enumerate() {
            let (value, valid) = values[i];
            parsed[i] = text
                .map(|text| {
                    FieldRange::parse(text, value).map_err(|why| {
                        AppError::usage(format!("invalid --{} {text}: {why}; valid is {valid}", FIELD_FLAGS[i]))
                    })
                })
                .transpose()?;
        }
        let [src_mac, dst_mac, src_ip, dst_ip, src_port, dst_port] = parsed;
        Ok(GivenFields { src_mac, dst_mac, src_ip, dst_ip, src_port, dst_port })
    }

    /// The address and port flags' values as given, in the order of [`FIELD_FLAGS`].
    fn texts(g: &GenArgs) -> [Option<&str>; 6] {
        [&g.src_mac, &g.dst_mac, &g.src_ip, &g.dst_ip, &g.src_port, &g.dst_port].map(|t| t.as_deref())
    }

    /// The address and port flags as given (`--src-ip 198.18.0.1`), in the order of [`GivenFields::all`].
    fn given_texts(g: &GenArgs) -> [Option<String>; 6] {
        let texts = GivenFields::texts(g);
        std::array::from_fn(|i| texts[i].map(|t| format!("--{} {t}", FIELD_FLAGS[i])))
    }

    /// The first address or port flag given, with its value.
    fn first_given(g: &GenArgs) -> Option<String> {
        GivenFields::given_texts(g).into_iter().flatten().next()
    }

    /// The first address or port flag given a range of more than one value, with its value.
    fn first_ranged(&self, g: &GenArgs) -> Option<String> {
        let texts = GivenFields::given_texts(g);
        self.all().iter().zip(texts).find(|(f, _)| f.is_some_and(|f| f.span > 1)).and_then(|(_, t)| t)
    }

    fn ranged(&self) -> bool {
        self.all().iter().flatten().any(|f| f.span > 1)
    }

    fn all(&self) -> [Option<FieldRange>; 6] {
        [self.src_mac, self.dst_mac, self.src_ip, self.dst_ip, self.src_port, self.dst_port]
    }
}

/// What kind of generator the mode runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GenKind {
    /// txonly: one flow.
    Single,
    /// flowgen: flows spread.
    Spread,
    /// icmpecho pings (sizes, rate and count only).
    Ping,
    /// No generator in this run.
    None,
}

impl Traffic {
    /// Checks the generator flags for a run whose generators are `kind`, frames `min_len..=max_len` long.
    ///
    /// # Errors
    /// The first bad flag or combination, one line.
    pub fn resolve(
        g: &GenArgs,
        pkt_len: Option<&str>,
        kind: GenKind,
        lens: (usize, usize),
    ) -> Result<Traffic, AppError> {
        let sizes = sizes(pkt_len, lens, kind)?;
        let fields = GivenFields::parse(g)?;
        if kind == GenKind::None {
            if let Some(given) = generator_flag(g) {
                return Err(AppError::usage(format!(
                    "invalid {given} with this mode: it sets a generator and this run has none; valid with --mode \
                     txonly, flowgen or icmpecho (and rxonly on a feth pair)"
                )));
            }
        }
        if kind == GenKind::Ping {
            let given = [flows_flag(g), flow_order_flag(g), GivenFields::first_given(g)];
            if let Some(given) = given.into_iter().flatten().next() {
                return Err(AppError::usage(format!(
                    "invalid {given} with --mode icmpecho: pings go from the port's own addresses to the \
                     responder's; valid with --mode txonly or flowgen"
                )));
            }
        }
        let flows = flow_count(g, &fields, kind)?;
        let replay = replay(g, pkt_len, kind, g.rate.is_some(), lens.1)?;
        let mean_len = replay.as_ref().map_or(sizes.mean(), |r| r.mean_len);
        let rate = g
            .rate
            .as_deref()
            .map(|r| checked_rate(r, mean_len).map_err(|why| bad("rate", r, &why, RATE_VALID)))
            .transpose()?;
        let count =
            g.count.map(|c| crate::config::int_in("count", c, 1, MAX_COUNT, "1..=1000000000000")).transpose()?;
        let order = flow_order(g.flow_order);
        Ok(Traffic { sizes, fields, flows, order, rate, count: count.map(|c| c as u64), replay })
    }

    /// Frames of one length, one flow, as fast as they go, until stopped.
    pub fn fixed(len: usize) -> Traffic {
        Traffic {
            sizes: SizeSpec::Fixed(len),
            fields: GivenFields::default(),
            flows: 1,
            order: FlowOrder::Sequential,
            rate: None,
            count: None,
            replay: None,
        }
    }

    /// The flows of a generator on a port with MAC `mac` whose frames reach `peer`.
    pub fn flow_spec(&self, mac: [u8; 6], peer: [u8; 6]) -> FlowSpec {
        let mac_of = |m: [u8; 6]| FieldRange::one(m.iter().fold(0u64, |a, b| a << 8 | u64::from(*b)));
        let ip = |a: [u8; 4]| FieldRange::one(u64::from(u32::from_be_bytes(a)));
        let port = FieldRange::one(u64::from(crate::frame::UDP_PORT));
        let f = &self.fields;
        // flowgen without ranges varies the source address, upwards from --src-ip or 198.18.1.0.
        let src_ip = match (f.src_ip, self.flows > 1 && !f.ranged()) {
            (given, true) => unranged_src_ip(given),
            (given, false) => given.unwrap_or(ip(crate::frame::IP_A)),
        };
        FlowSpec {
            src_port: f.src_port.unwrap_or(port),
            src_ip,
            dst_port: f.dst_port.unwrap_or(port),
            dst_ip: f.dst_ip.unwrap_or(ip(crate::frame::IP_B)),
            src_mac: f.src_mac.unwrap_or(mac_of(mac)),
            dst_mac: f.dst_mac.unwrap_or(mac_of(peer)),
        }
    }

    /// Mean frame length sent (a replay's frames that the port takes).
    pub fn mean_len(&self) -> f64 {
        match &self.replay {
            Some(r) => r.mean_len,
            None => self.sizes.mean(),
        }
    }

    /// Whether every generator stops by itself (a count, or a replay with a number of passes).
    pub fn finite(&self) -> bool {
        self.count.is_some() || self.replay.as_ref().is_some_and(|r| r.loops > 0)
    }
}

/// What `--rate` (and the prompt's `set rate`) takes.
pub const RATE_VALID: &str = "a positive number of packets per second (250000, 250kpps, 1.5Mpps) or bits per second \
                          on the wire (100Mbps, 10Gbps), at most 1000000 Mpps per generator port";

/// The most packets per second a generator port may be asked for: far beyond any port (a pair of cores
/// moves a few hundred Mpps; `--rate 100000Mpps` is how a run asks for a pacer that never waits), so that
/// a rate past it is a typo, not a goal.
const MAX_RATE_PPS: f64 = 1e12;

/// A rate's text parsed and bounded, for frames of `mean_len` bytes on average; the error says why not
/// (what is valid is [`RATE_VALID`]).
pub fn checked_rate(text: &str, mean_len: f64) -> Result<Rate, String> {
    let rate = Rate::parse(text)?;
    if rate.pps(mean_len) > MAX_RATE_PPS {
        return Err("more than any port moves".to_owned());
    }
    Ok(rate)
}

fn bad(flag: &str, value: &str, why: &str, valid: &str) -> AppError {
    AppError::usage(format!("invalid --{flag} {value}: {why}; valid is {valid}"))
}

/// `--pkt-len` checked against the ports' `lo..=hi` (one length for pings).
fn sizes(pkt_len: Option<&str>, (lo, hi): (usize, usize), kind: GenKind) -> Result<SizeSpec, AppError> {
    let text = pkt_len.unwrap_or("64");
    // The examples are lengths of this range (imix's 1518 needs an MTU of 1500 or more).
    let valid = match kind {
        GenKind::Ping => format!("one length {lo}..={hi} (icmpecho pings are all one length)"),
        _ => format!(
            "lengths {lo}..={hi}: one ({lo}), a range ({lo}-{hi}), a weighted list ({lo}:7,{hi}:1){}",
            if hi >= 1518 { " or imix" } else { "" }
        ),
    };
    let spec = SizeSpec::parse(text).map_err(|why| bad("pkt-len", text, &why, &valid))?;
    if kind == GenKind::Ping && !spec.is_fixed() {
        return Err(bad("pkt-len", text, "a mix of lengths", &valid));
    }
    spec.check(lo, hi).map_err(|len| bad("pkt-len", text, &format!("{len} is out of range"), &valid))?;
    Ok(spec)
}

/// The first generator flag given, with its value.
fn generator_flag(g: &GenArgs) -> Option<String> {
    let given = [
        g.rate.as_ref().map(|r| format!("--rate {r}")),
        g.count.map(|c| format!("--count {c}")),
        flows_flag(g),
        flow_order_flag(g),
        GivenFields::first_given(g),
        g.replay.as_ref().map(|p| format!("--replay {}", p.display())),
    ];
    given.into_iter().flatten().next()
}

fn flows_flag(g: &GenArgs) -> Option<String> {
    g.flows.map(|n| format!("--flows {n}"))
}

fn flow_order_flag(g: &GenArgs) -> Option<String> {
    g.flow_order.map(|o| format!("--flow-order {}", flow_order(Some(o)).as_str()))
}

fn flow_order(arg: Option<FlowOrderArg>) -> FlowOrder {
    match arg {
        Some(FlowOrderArg::Random) => FlowOrder::Random,
        _ => FlowOrder::Sequential,
    }
}

/// Flows per generator: 1 for txonly and pings; for flowgen `--flows` or what the ranges give.
fn flow_count(g: &GenArgs, fields: &GivenFields, kind: GenKind) -> Result<u64, AppError> {
    let ranged = fields.all().iter().flatten().fold(1u64, |n, f| n.saturating_mul(f.span));
    if kind != GenKind::Spread {
        if let Some(given) = fields.first_ranged(g) {
            return Err(AppError::usage(format!(
                "invalid {given} with this mode: a range makes flows and this mode sends one flow; valid is one \
                 value, or --mode flowgen"
            )));
        }
        if let Some(n) = g.flows.filter(|n| *n != 1) {
            return Err(AppError::usage(format!("invalid --flows {n} with this mode: it sends one flow; valid is 1")));
        }
        if let Some(given) = flow_order_flag(g) {
            return Err(AppError::usage(format!(
                "invalid {given} with this mode: it sends one flow, in no order; valid with --mode flowgen"
            )));
        }
        return Ok(1);
    }
    let most = if ranged > 1 { ranged } else { unranged_src_ip(fields.src_ip).span };
    match g.flows {
        None if ranged > 1 => Ok(ranged.min(1 << 40)),
        None => Ok(FLOWGEN_DEFAULT_FLOWS.min(most)),
        Some(n) if n >= 1 && (n as u64) <= most => Ok(n as u64),
        Some(n) => Err(AppError::usage(format!(
            "invalid --flows {n}: valid is 1..={most} (the distinct flows the address and port ranges give)"
        ))),
    }
}

/// `--replay` and its settings.
fn replay(
    g: &GenArgs,
    pkt_len: Option<&str>,
    kind: GenKind,
    paced: bool,
    max_len: usize,
) -> Result<Option<ReplayPlan>, AppError> {
    let Some(path) = &g.replay else {
        if g.replay_loops.is_some() || g.replay_timing.is_some() {
            return Err(AppError::usage(
                "invalid --replay-loops or --replay-timing without --replay: valid with --replay FILE",
            ));
        }
        return Ok(None);
    };
    let shown = path.display();
    if kind != GenKind::Single {
        return Err(AppError::usage(format!("invalid --replay {shown} with this mode: valid with --mode txonly")));
    }
    let other =
        [pkt_len.map(|l| format!("--pkt-len {l}")), flows_flag(g), flow_order_flag(g), GivenFields::first_given(g)];
    if let Some(given) = other.into_iter().flatten().next() {
        return Err(AppError::usage(format!(
            "invalid --replay {shown} with {given}: the capture gives the frames; valid is --replay without \
             --pkt-len, --flows, --flow-order or address flags"
        )));
    }
    let timing = match (g.replay_timing, paced) {
        (Some(ReplayTimingArg::Recorded), true) => {
            return Err(AppError::usage(
                "invalid --replay-timing recorded with --rate: a rate replaces the recorded timing; valid is \
                 --replay-timing asap, or no --rate",
            ))
        }
        (Some(ReplayTimingArg::Asap), _) | (None, true) => Timing::Asap,
        (Some(ReplayTimingArg::Recorded) | None, false) => Timing::Recorded,
    };
    let loops = crate::config::int_in(
        "replay-loops",
        g.replay_loops.unwrap_or(1),
        0,
        1_000_000,
        "0 (until the run ends)..=1000000",
    )?;
    let trace = Trace::load(path).map_err(|why| AppError::usage(format!("invalid --replay {shown}: {why}")))?;
    let (mean_len, longest) = frames_sent(&trace, &shown.to_string(), max_len)?;
    Ok(Some(ReplayPlan { path: path.clone(), trace: Arc::new(trace), loops: loops as u64, timing, mean_len, longest }))
}

/// The mean and longest length of the frames of `trace` a port taking frames up to `max_len` sends; those
/// it skips (too long, shorter than an Ethernet header) are warned about.
///
/// # Errors
/// The port takes none of them.
fn frames_sent(trace: &Trace, shown: &str, max_len: usize) -> Result<(f64, usize), AppError> {
    let sent = MIN_FRAME..=max_len;
    let Some(mean_len) = trace.mean_len_of(&sent) else {
        return Err(AppError::usage(format!(
            "invalid --replay {shown}: none of its {} frames fits the port (lengths {} B to {} B); valid is a \
             capture with frames of {MIN_FRAME}..={max_len} B (an Ethernet header up to mtu + 18), or a larger \
             --mtu",
            trace.len(),
            trace.min_len(),
            trace.max_len()
        )));
    };
    let (too_short, too_long) = trace.outside(&sent);
    if too_long > 0 {
        log::warn!(
            "--replay {shown}: {too_long} frames are longer than the port allows ({max_len} B): counted and skipped"
        );
    }
    if too_short > 0 {
        log::warn!(
            "--replay {shown}: {too_short} frames are shorter than an Ethernet header ({MIN_FRAME} B): counted and \
             skipped"
        );
    }
    Ok((mean_len, trace.max_len_of(&sent)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn distinct(t: &Traffic) -> usize {
        let spec = t.flow_spec([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2]);
        (0..t.flows).map(|k| spec.tuple(k)).collect::<std::collections::HashSet<_>>().len()
    }

    #[test]
    fn flowgen_without_ranges_still_sends_distinct_flows() {
        let lens = (60, 1518);
        let g = GenArgs { dst_port: Some("5000".into()), flows: Some(10), ..GenArgs::default() };
        let t = Traffic::resolve(&g, None, GenKind::Spread, lens).unwrap();
        assert_eq!((t.flows, distinct(&t)), (10, 10));
        let g = GenArgs { src_ip: Some("10.0.0.250".into()), ..GenArgs::default() };
        let t = Traffic::resolve(&g, None, GenKind::Spread, lens).unwrap();
        assert_eq!((t.flows, distinct(&t)), (64, 64));
        assert_eq!(t.flow_spec([0; 6], [0; 6]).tuple(10).src_ip, [10, 0, 1, 4], "upwards from --src-ip");
        let g = GenArgs { src_port: Some("1-3".into()), dst_port: Some("7-8".into()), ..GenArgs::default() };
        let t = Traffic::resolve(&g, None, GenKind::Spread, lens).unwrap();
        assert_eq!((t.flows, distinct(&t)), (6, 6), "the ranges' product");
        let t = Traffic::resolve(&GenArgs::default(), None, GenKind::Single, lens).unwrap();
        assert_eq!((t.flows, distinct(&t)), (1, 1));
        let g = GenArgs { src_ip: Some("255.255.255.250".into()), ..GenArgs::default() };
        let t = Traffic::resolve(&g, None, GenKind::Spread, lens).unwrap();
        assert_eq!((t.flows, distinct(&t)), (6, 6), "never past 255.255.255.255");
        let g = GenArgs { src_ip: Some("255.255.255.250".into()), flows: Some(7), ..GenArgs::default() };
        assert!(Traffic::resolve(&g, None, GenKind::Spread, lens).unwrap_err().to_string().contains("1..=6"));
    }
}
