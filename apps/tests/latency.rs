//! `pktloop latency` end to end: open-loop send rate asked against achieved, the timeout line per loop, and
//! one unit across the table, `--hgrm` and `--plot`. Runs are short and serialised (the workers pin to the
//! same cores).

mod common;

use common::*;
use serde_json::Value;
use std::process::Output;

/// Runs `pktloop latency` with `args`, without the rtrb peer, on whatever cores there are.
fn latency(args: &[&str]) -> Output {
    pktloop(&[&["latency", "--no-peer", "--allow-shared-cores"][..], args].concat())
}

fn stdout_ok(args: &[&str]) -> String {
    let o = latency(args);
    assert!(o.status.success(), "{args:?}: {}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).unwrap()
}

#[test]
fn open_loop_reports_asked_and_achieved_rate() {
    // No feth pair on a shared machine sends 50 Mpps: the run must say it fell behind. If it fell so far
    // behind that every frame back was due in the warm-up, it records nothing and must say why.
    let o = latency(&["--rate", "50000000", "--duration", "0.3", "--json"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success() || err.contains("no round trip recorded: the open loop fell behind"), "{err}");
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let rate = &v["rate"];
    assert_eq!((rate["asked_pps"].as_u64(), rate["held"].as_bool()), (Some(50_000_000), Some(false)), "{v}");
    assert!(rate["achieved_pps"].as_f64().unwrap() < 49_500_000.0, "{v}");

    let v: Value = serde_json::from_str(&stdout_ok(&["--rate", "1000", "--duration", "0.5", "--json"])).unwrap();
    assert_eq!(v["rate"]["held"].as_bool(), Some(true), "1000 pps is held: {v}");
    assert!(v["timeouts"].is_null(), "open loop has no timeouts: {v}");

    let table = String::from_utf8(latency(&["--rate", "50000000", "--duration", "0.3"]).stdout).unwrap();
    assert!(table.contains("send rate NOT held: asked 50000000 pps, sent "), "{table}");
}

#[test]
fn the_timeout_line_names_the_loop_it_ran() {
    let open = stdout_ok(&["--rate", "1000", "--duration", "0.3"]);
    assert!(open.contains("(open loop: lost, or in flight") && !open.contains("closed loop"), "{open}");
    let closed = stdout_ok(&["--duration", "0.3"]);
    assert!(closed.contains("timeouts 0 (closed loop: not back in 100 ms"), "{closed}");
}

#[test]
fn the_shortest_run_records_round_trips() {
    // The warm-up shrinks with the run: 0.1 s used to record nothing and blame the round trips.
    let v: Value = serde_json::from_str(&stdout_ok(&["--duration", "0.1", "--json"])).unwrap();
    assert!(v["samples"].as_u64().unwrap() > 0, "{v}");
}

/// The p50 and max rows of the table, as printed.
fn table_row<'a>(table: &'a str, label: &str) -> &'a str {
    let line = table.lines().find(|l| l.split_whitespace().next() == Some(label)).unwrap();
    line.split_whitespace().nth(1).unwrap()
}

#[test]
fn table_hgrm_and_plot_share_one_named_unit() {
    let (hgrm, svg) = (tmp("u.hgrm"), tmp("u.svg"));
    let table = stdout_ok(&["--duration", "0.3", "--hgrm", hgrm.to_str().unwrap(), "--plot", svg.to_str().unwrap()]);
    assert!(table.contains("pktloop (µs)"), "{table}");
    let hgrm = std::fs::read_to_string(&hgrm).unwrap();
    assert!(hgrm.trim_end().ends_with("#[Unit    = microseconds]"), "{hgrm}");
    let max = table_row(&table, "max");
    assert!(hgrm.contains(&format!("#[Max     = {max:>12},")), "table max {max} µs, hgrm:\n{hgrm}");
    let plot = std::fs::read_to_string(&svg).unwrap();
    assert!(plot.contains("Round-trip latency (µs"), "{plot}");
    let p50 = table_row(&table, "p50");
    assert!(plot.contains(&format!("(p50 {p50} µs,")), "table p50 {p50} µs, plot:\n{plot}");
}

#[test]
fn a_closed_loop_ping_lost_is_a_timeout_after_100_ms() {
    // Every second frame sent is dropped: each lost ping holds the loop for the timeout, then the next goes.
    let v: Value = serde_json::from_str(&stdout_ok(&["--tx-drops", "2", "--duration", "0.5", "--json"])).unwrap();
    let timeouts = v["timeouts"].as_u64().unwrap();
    // 0.5 s holds at most 5 timeouts of 100 ms (and one in flight at the end is not counted).
    assert!((1..=5).contains(&timeouts), "lost pings are timeouts, at most one per 100 ms: {v}");
}

#[test]
fn every_frame_sent_is_back_or_dropped_under_a_named_reason() {
    // Before: the drops were in no table and no JSON (injected drops, frames in flight at the end), and a
    // run that recorded nothing printed percentiles of 0 ns.
    for args in
        [&["--tx-drops", "3", "--rate", "100000"][..], &["--rate", "200000"], &["--tx-drops", "5", "--rate", "50000"]]
    {
        let v: Value =
            serde_json::from_str(&stdout_ok(&[&["--duration", "0.3", "--json"][..], args].concat())).unwrap();
        let (sent, received, dropped) =
            (v["sent"].as_u64().unwrap(), v["received"].as_u64().unwrap(), v["drops_total"].as_u64().unwrap());
        assert_eq!(v["unaccounted"], 0, "{args:?}: {v}");
        assert_eq!(sent, received + dropped, "{args:?}: {v}");
        if args.contains(&"--tx-drops") {
            assert!(v["drops"]["tx_drop_injection"].as_u64().unwrap() > 0, "{args:?}: {v}");
        }
    }
    let o = latency(&["--tx-drops", "1", "--duration", "0.3", "--json"]);
    assert_eq!(o.status.code(), Some(1), "nothing came back");
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(v["p50_ns"].is_null() && v["max_ns"].is_null() && v["samples"] == 0, "{v}");
    let o = latency(&["--tx-drops", "1", "--duration", "0.3"]);
    let table = String::from_utf8_lossy(&o.stdout);
    assert!(table.contains(", drops ") && table.contains("(tx_drop_injection "), "{table}");
    assert!(!table.contains("0.000"), "no round trip of no time: {table}");
}

#[test]
fn frames_that_crossed_without_their_fcs_or_trailer_are_warned_about() {
    // Before: latency said nothing, where fwd warned, when no frame had room for the FCS and trailer asked for.
    let args = ["latency", "--no-peer", "--fcs", "--trailer-length", "28", "--mtu", "2030", "--pkt-len", "2016"];
    let v = json(&[&args[..], &["--duration", "0.3", "--json"]].concat());
    let warnings = v["warnings"].to_string();
    assert!(warnings.contains("without their feth FCS") && warnings.contains("without their feth trailer"), "{v}");
    let fit = json(&["latency", "--no-peer", "--fcs", "--trailer-length", "28", "--duration", "0.3", "--json"]);
    assert_eq!(fit["warnings"], serde_json::json!([]), "64 B frames leave room for both");
}

/// latency refuses, as fwd does, flags typed where they would change nothing: knobs missing the one they
/// need, an AF_XDP mode without an AF_XDP port, and the pinger's settings on the ponger of another process.
#[test]
fn flags_that_would_change_nothing_are_refused() {
    let cases: &[(&[&str], &[&str])] = &[
        (&["latency", "--tso-buf-size", "1024"], &["--tso-buf-size 1024", "valid with --tso"]),
        (&["latency", "--qset-cnt", "2"], &["--qset-cnt 2", "--llink-cnt"]),
        (&["latency", "--xdp-mode", "copy"], &["--xdp-mode copy", "AF_XDP port"]),
        (
            &["latency", "--port", "shm:/tmp/pktloop-none.sock", "--role", "client", "--rate", "1000"],
            &["--rate 1000", "ponger"],
        ),
        (&["latency", "--role", "client"], &["--role client", "shm ports only"]),
    ];
    for (args, needles) in cases {
        usage_error(args, needles);
    }
    // 0 with a unit is the closed loop too.
    let out = stdout_ok(&["--rate", "0pps", "--duration", "0.2"]);
    assert!(out.contains("closed loop"), "{out}");
}

/// A run that records no round trip fails saying why, and writes no histogram or plot of nothing.
#[test]
fn a_run_with_no_sample_writes_no_plot() {
    let plot = tmp("nothing.svg");
    let _ = std::fs::remove_file(&plot);
    let o = latency(&["--tx-drops", "1", "--plot", plot.to_str().unwrap(), "--duration", "0.2", "--no-peer"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("no round trip recorded"), "{}", stderr(&o));
    assert!(!plot.exists(), "no plot of no samples");
}

/// The feth knobs in force are in the table and the JSON, as fwd gives them.
#[test]
fn the_knobs_in_force_are_reported() {
    let out = stdout_ok(&["--wmm", "--duration", "0.2"]);
    assert!(out.contains("knobs: ") && out.contains("wmm true"), "{out}");
    let v: Value = serde_json::from_str(&stdout_ok(&["--fcs", "--duration", "0.2", "--json"])).unwrap();
    assert_eq!(
        (v["settings"]["feth"]["fcs"].as_bool(), v["settings"]["feth"]["wmm"].as_bool()),
        (Some(true), Some(false))
    );
}
