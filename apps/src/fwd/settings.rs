//! Every setting that shaped a run, echoed in the report and the JSON object: the mode and ports, what
//! the generators sent (sizes, flows, rate, count, replay), and every feth knob in force.

use super::plan::Plan;
use crate::gen::flows::FieldRange;
use crate::gen::pace::Rate;
use crate::gen::sizes::SizeSpec;
use pktloop_pmd::feth::FethConfig;
use serde_json::{json, Value};

/// `--pkt-len` as a user would write it.
pub fn sizes_text(s: &SizeSpec) -> String {
    match s {
        SizeSpec::Fixed(l) => l.to_string(),
        SizeSpec::Range(lo, hi) => format!("{lo}-{hi}"),
        SizeSpec::Weighted(list) if list == &crate::gen::sizes::IMIX => "imix".to_owned(),
        SizeSpec::Weighted(list) => list.iter().map(|(l, w)| format!("{l}:{w}")).collect::<Vec<_>>().join(","),
    }
}

/// A packet rate in the unit that shows it: Mpps, kpps, or pps for the slowest.
pub fn pps_text(pps: f64) -> String {
    match pps {
        p if p >= 1e6 => format!("{:.3} Mpps", p / 1e6),
        p if p >= 1e3 => format!("{:.3} kpps", p / 1e3),
        p => format!("{p:.1} pps"),
    }
}

/// `--rate` in words.
pub fn rate_text(r: Rate) -> String {
    match r {
        Rate::Pps(p) => pps_text(p),
        Rate::Bps(b) => format!("{:.3} Gbit/s on the wire", b / 1e9),
    }
}

/// The feth knobs `f` (and the MTU), by flag name.
pub fn feth_knobs(f: &FethConfig, mtu: u32) -> Value {
    json!({
        "pool-mode": f.pool_mode.as_str(), "pool-size": f.pool_packets, "ring-size": f.ring_size,
        "memory": format!("{:?}", f.prefer).to_lowercase(), "multibuflet": f.multibuflet, "wmm": f.wmm,
        "fcs": f.fcs, "hwcsum": f.hwcsum, "tx-headroom": f.tx_headroom, "trailer-length": f.trailer_length,
        "max-mtu": f.max_mtu, "buflet-size": f.buflet_size, "aggregation-factor": f.aggregation_factor,
        "user-access": f.user_access, "adv-interval-ms": f.adv_interval_ms, "tx-drops": f.tx_drops,
        "tx-exp-policy": f.tx_exp_policy, "tx-completion": f.tx_completion.as_str(), "rx-full": f.rx_full.as_str(),
        "rxq": f.queues, "txq": f.queues, "rss": f.rss, "mtu": mtu, "lro": f.lro, "tso": f.tso,
        "tso-buf-size": f.tso_buf_size, "llink-cnt": f.llink_cnt, "qset-cnt": f.qset_cnt, "low-latency": f.low_latency,
    })
}

/// What the generators send. A replay's frames are the capture's: the made frames' length, flows and
/// addresses are then null.
pub fn generator(plan: &Plan) -> Value {
    let t = &plan.traffic;
    let made = t.replay.is_none();
    let spec = t.flow_spec([0; 6], [0; 6]);
    let ip = |v: u64| std::net::Ipv4Addr::from(v as u32).to_string();
    let mac = |v: u64| {
        let b = v.to_be_bytes();
        b[2..].iter().map(|x| format!("{x:02x}")).collect::<Vec<_>>().join(":")
    };
    let range = |f: FieldRange, show: &dyn Fn(u64) -> Value| {
        made.then(|| json!({"first": show(f.lo), "last": show(f.lo + f.span - 1), "count": f.span}))
    };
    let (ip, mac, port) = (&|v| Value::from(ip(v)), &|v| Value::from(mac(v)), &|v: u64| Value::from(v));
    json!({
        "pkt_len": made.then(|| sizes_text(&t.sizes)),
        "mean_len": t.mean_len(),
        "rate": t.rate.map(|r| match r { Rate::Pps(p) => json!({"pps": p}), Rate::Bps(b) => json!({"wire_bps": b}) }),
        "count": t.count,
        "flows": made.then_some(t.flows),
        "flow_order": made.then(|| t.order.as_str()),
        "src_ip": range(spec.src_ip, ip), "dst_ip": range(spec.dst_ip, ip),
        "src_port": range(spec.src_port, port), "dst_port": range(spec.dst_port, port),
        "src_mac": t.fields.src_mac.and_then(|f| range(f, mac)), "dst_mac": t.fields.dst_mac.and_then(|f| range(f, mac)),
        "replay": t.replay.as_ref().map(|r| json!({
            "file": r.path.display().to_string(), "frames": r.trace.len(), "loops": r.loops,
            "timing": format!("{:?}", r.timing).to_lowercase(),
        })),
    })
}

/// The whole echo, for `--json`.
pub fn json(plan: &Plan) -> Value {
    json!({
        "mode": format!("{:?}", plan.mode).to_lowercase(),
        "port": format!("{:?}", plan.port).to_lowercase(),
        "topology": format!("{:?}", plan.topology).to_lowercase(),
        "cores": plan.cores,
        "core_ids": plan.core_ids,
        "pairs": plan.pairs,
        "burst": plan.burst,
        "tx_first": plan.tx_first,
        "duration_s": plan.duration.as_secs_f64(),
        "stats_period_s": plan.stats_period.as_secs_f64(),
        "expiry_us": plan.expiry_ns.map(|n| n / 1000),
        "generator": generator(plan),
        "feth": feth_knobs(&plan.feth, plan.mtu),
        "tap": {"name": plan.tap.name, "queues": plan.tap.queues, "io_uring": plan.tap.io_uring,
                "ip": std::net::Ipv4Addr::from(plan.tap.ip).to_string(), "prefix": plan.tap.prefix},
        "xdp_mode": format!("{:?}", plan.xdp).to_lowercase(),
        "shm_role": plan.role.map(pktloop_pmd::shm::Role::as_str),
        "filters": plan.dlil.as_ref().map(|d| d.filters.iter().map(ToString::to_string).collect::<Vec<_>>()),
        "input_thread": plan.dlil.as_ref().and_then(|d| d.input_core),
    })
}

/// The echo as table lines.
pub fn lines(plan: &Plan) -> String {
    let t = &plan.traffic;
    let mut out = format!("  frames: --pkt-len {} (mean {:.1} B)", sizes_text(&t.sizes), t.mean_len());
    if let Some(r) = &t.replay {
        let passes = if r.loops == 0 { "until the run ends".to_owned() } else { format!("{} pass(es)", r.loops) };
        out = format!(
            "  frames: replay of {} ({} frames, {passes}, {} timing)",
            r.path.display(),
            r.trace.len(),
            format!("{:?}", r.timing).to_lowercase()
        );
    }
    if t.flows > 1 {
        out += &format!(", {} flows in {} order", t.flows, t.order.as_str());
    }
    if let Some(r) = t.rate {
        out += &format!(", rate {} per generator port", rate_text(r));
    }
    if let Some(c) = t.count {
        out += &format!(", count {c} per generator port");
    }
    out += &format!("\n  pairs {}, knobs: {}\n", plan.pairs, knobs_text(&plan.feth, plan.mtu));
    out
}

/// The feth knobs `f` (and the MTU) as `flag value` pairs, for a table.
pub fn knobs_text(f: &FethConfig, mtu: u32) -> String {
    let knobs = feth_knobs(f, mtu);
    let all: Vec<String> = knobs
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| format!("{k} {}", v.as_str().map_or(v.to_string(), str::to_owned)))
        .collect();
    all.join(", ")
}
