//! The `pktloop` binary end to end: errors, `fwd --json` over ports, modes and pool modes, config files,
//! latency outputs, pcap capture, bench. Runs are 1 s (or less) and serialised: the workers pin to the same
//! cores, and parallel runs would only measure each other.

mod common;

use common::*;
use serde_json::Value;
use std::path::PathBuf;

#[test]
fn every_error_class_exits_2_with_one_line_naming_flag_value_and_range() {
    let cases: &[(&[&str], &[&str])] = &[
        (&["fwd", "--frobnicate"], &["--frobnicate"]),
        (&["fwd", "--mode", "bogus"], &["--mode", "bogus", "possible values", "macswap"]),
        (&["fwd", "--port", "wifi"], &["--port", "wifi", "feth"]),
        (&["fwd", "--port", "afxdp:"], &["--port", "afxdp:", "an interface name", "afxdp:IFNAME[:QUEUES]"]),
        (&["fwd", "--port", "afpacket:eth0:0"], &["--port", "afpacket:eth0:0", "QUEUES in 1..=64"]),
        (&["fwd", "--port", "feth,null", "--topology", "paired"], &["--topology paired", "feth,null", "3 ports"]),
        (&["fwd", "--port", "null,null", "--cores", "1"], &["--cores 1", "null,null", "valid is 2"]),
        (
            &["fwd", "--port", "afpacket:a:2,afxdp:b", "--topology", "paired"],
            &["--port afpacket:a:2,afxdp:b:1", "2 queue(s)", "as many queues"],
        ),
        (&["fwd", "--port", "tap,null", "--topology", "paired", "--tap-queues", "2"], &["tap port with 2", "null"]),
        (
            &["fwd", "--port", "null,afxdp:eth0:2", "--filter", "every=2"],
            &["--port null,afxdp:eth0:2", "queue 0", "afxdp:IFNAME:1"],
        ),
        (&["fwd", "--ring-size", "100"], &["--ring-size", "100", "power of two"]),
        (&["fwd", "--pool-size", "0"], &["--pool-size", "0", "1..=1048576"]),
        (&["fwd", "--tx-headroom", "12"], &["--tx-headroom", "12", "0, 8, 16, 24 or 32"]),
        (&["fwd", "--tx-headroom", "-8"], &["--tx-headroom", "-8", "0, 8, 16, 24 or 32"]),
        (&["fwd", "--trailer-length", "29"], &["--trailer-length", "29", "0..=28"]),
        (&["fwd", "--max-mtu", "1499"], &["--max-mtu", "1499", "1500..=16370"]),
        (&["fwd", "--buflet-size", "1000"], &["--buflet-size", "1000", "power of two"]),
        (&["fwd", "--aggregation-factor", "513"], &["--aggregation-factor", "513", "1..=512"]),
        (&["fwd", "--user-access", "2"], &["--user-access", "2", "0 or 1"]),
        (&["fwd", "--adv-interval-ms", "5"], &["--adv-interval-ms", "5", "10..=2147483647"]),
        (&["fwd", "--tx-drops", "-1"], &["--tx-drops", "-1"]),
        (&["fwd", "--tx-exp-policy", "4"], &["--tx-exp-policy", "4", "3"]),
        (&["fwd", "--tx-completion", "later"], &["--tx-completion", "later", "sync", "async"]),
        (&["fwd", "--fcs=maybe"], &["--fcs", "maybe", "on or off"]),
        (&["fwd", "--multibuflet", "--pool-mode", "split"], &["--multibuflet", "split"]),
        (&["fwd", "--burst", "0"], &["--burst", "0", "1..=512"]),
        (&["fwd", "--burst", "513"], &["--burst", "513", "1..=512"]),
        (&["fwd", "--pkt-len", "59"], &["--pkt-len", "59", "60..=1518"]),
        (&["fwd", "--pkt-len", "1519"], &["--pkt-len", "1519", "60..=1518"]),
        (&["fwd", "--mtu", "70"], &["--mtu", "70", "72..="]),
        (&["fwd", "--duration", "0"], &["--duration", "0", "0.1..="]),
        (&["fwd", "--duration", "soon"], &["--duration", "soon"]),
        (
            &["fwd", "--port", "tap", "--tap-name", "a-name-far-too-long"],
            &["tap-name", "a-name-far-too-long", "1..=15 bytes"],
        ),
        (&["fwd", "--port", "tap", "--tap-queues", "0"], &["--tap-queues", "0", "1..=256"]),
        (&["fwd", "--port", "tap", "--ip", "198.18.0.300/24"], &["--ip", "198.18.0.300/24", "A.B.C.D/0..=32"]),
        (
            &["fwd", "--port", "tap", "--topology", "paired", "--tap-name", "tp0"],
            &["--tap-name", "tp0", "2 TAP ports", "%d"],
        ),
        (&["fwd", "--port", "tap", "--mtu", "2000"], &["mtu", "2000", "68..=1997"]),
        (&["fwd", "--filter", "every=0"], &["--filter", "every=0", "ethertype=0xHHHH"]),
        (&["fwd", "--filter", "vlan=3"], &["--filter", "vlan=3", "src-mac="]),
        (&["fwd", "--input-thread", "999"], &["--input-thread", "999", "a core this process may run on (0"]),
        (&["fwd", "--port", "tap", "--tap-queues", "2", "--filter", "every=2"], &["--tap-queues", "2", "queue 0"]),
        (&["fwd", "--cores", "999"], &["--cores", "999", "--allow-shared-cores"]),
        (&["fwd", "--cores", "0"], &["--cores", "0"]),
        (&["fwd", "--port", "null", "--mode", "icmpecho"], &["icmpecho", "null", "feth or tap"]),
        (&["fwd", "--pcap-count", "0", "--pcap", "/tmp/x.pcap", "--duration", "0.1"], &["--pcap-count", "0"]),
        (&["fwd", "--snaplen", "13", "--pcap", "/tmp/x.pcapng"], &["--snaplen", "13", "14..=262144"]),
        (&["latency", "--snaplen", "300000", "--pcap", "/tmp/x.pcapng"], &["--snaplen", "300000", "14..=262144"]),
        (&["fwd", "--pcap-format", "erf"], &["--pcap-format", "erf", "pcapng", "pcap"]),
        (&["latency", "--rate", "-5"], &["--rate", "-5", "50000000"]),
        (&["latency", "--port", "tap,afxdp:eth0"], &["--port", "latency", "two real interfaces"]),
        (&["latency", "--port", "afxdp:eth0:2,afxdp:eth1"], &["--port", "latency", "one queue"]),
        (&["bench", "--duration", "100"], &["--duration", "100", "0.1..=60"]),
        (&["fwd", "--expiry-us", "-1"], &["--expiry-us", "-1", "0..=10000000"]),
        (&["fwd", "--pool-size", "16"], &["--burst 32", "--pool-size 16", "--burst <= --pool-size"]),
        (&["latency", "--hgrm", "/nonexistent/dir/l.hgrm"], &["--hgrm", "/nonexistent/dir/l.hgrm", "cannot create"]),
        (&["latency", "--plot", "/nonexistent/dir/l.svg"], &["--plot", "/nonexistent/dir/l.svg", "cannot create"]),
        (&["bench", "--out", "/nonexistent/dir/b.json"], &["--out", "/nonexistent/dir/b.json", "cannot create"]),
        (&["fwd", "--pcap", "/nonexistent/dir/f.pcap"], &["--pcap", "/nonexistent/dir/f.pcap", "cannot create"]),
        (&["nosuchcommand"], &["nosuchcommand"]),
        (&[], &["subcommand", "fwd, latency or bench"]),
    ];
    for (args, needles) in cases {
        usage_error(args, needles);
    }
    // More cores than the pair has ports, even when sharing cores is allowed.
    usage_error(
        &["fwd", "--cores", "3", "--allow-shared-cores"],
        &["--cores 3", "valid is 2 (a worker per port queue) or 1"],
    );
    usage_error(&["fwd", "--cores", "1,1"], &["--cores 1,1", "named twice"]);
    usage_error(&["fwd", "--rxq", "2", "--txq", "3"], &["--txq 3", "--rxq 2", "valid is --txq 2"]);
    usage_error(&["fwd", "--rxq", "9"], &["--rxq 9", "1..=8"]);
    usage_error(&["fwd", "--pairs", "65"], &["--pairs 65", "1..=64"]);
    usage_error(&["fwd", "--port", "null", "--rxq", "2"], &["--rxq 2", "--port feth"]);
    // A feth pair's own knobs on ports that are none: the run would go on without them, and its settings
    // would say they were on. Switches turned off ask for nothing.
    for knob in [&["--tx-drops", "2"][..], &["--fcs"], &["--ring-size", "64"], &["--rx-full", "drop"], &["--tso"]] {
        let value = knob.get(1).copied().unwrap_or("on");
        let args = [&["fwd", "--port", "null", "--duration", "0.1"], knob].concat();
        usage_error(&args, &[&format!("invalid {} {value}", knob[0]), "valid with --port feth"]);
    }
    let o = pktloop(&["fwd", "--port", "null", "--fcs=off", "--duration", "0.1"]);
    assert!(o.status.success(), "{}", stderr(&o));
    usage_error(&["latency", "--rxq", "2"], &["--rxq 2", "valid is 1"]);
    usage_error(&["fwd", "--topology", "paired", "--cores", "2", "--allow-shared-cores"], &["--topology paired"]);
}

#[test]
fn help_and_version_succeed() {
    let o = pktloop(&["fwd", "--help"]);
    assert!(o.status.success());
    let help = String::from_utf8(o.stdout).unwrap();
    for flag in [
        "--port",
        "--mode",
        "--topology",
        "--cores",
        "--burst",
        "--ring-size",
        "--pool-size",
        "--pool-mode",
        "--pkt-len",
        "--duration",
        "--json",
        "--pcap",
        "--multibuflet",
        "--wmm",
        "--fcs",
        "--hwcsum",
        "--tx-headroom",
        "--trailer-length",
        "--max-mtu",
        "--buflet-size",
        "--aggregation-factor",
        "--user-access",
        "--adv-interval-ms",
        "--tx-drops",
        "--tx-exp-policy",
        "--tx-completion",
        "--config",
        "--tx-first",
        "--tap-name",
        "--tap-queues",
        "--tap-io",
        "--ip",
    ] {
        assert!(help.contains(flag), "help lacks {flag}");
    }
    assert!(help.contains("On TAP ports"), "help says what the modes do on TAP ports");
    assert!(pktloop(&["--version"]).status.success());
}

fn check_run(v: &Value, mode: &str, port: &str) {
    assert_eq!(v["mode"], mode, "{v}");
    assert_eq!(v["port"], port, "{v}");
    let packets = v["packets"].as_u64().unwrap();
    assert!(packets > 0, "no packets: {v}");
    assert!(v["mpps"].as_f64().unwrap() > 0.0 && v["gbps"].as_f64().unwrap() > 0.0, "{v}");
    let secs = v["duration_s"].as_f64().unwrap();
    assert!((0.9..3.0).contains(&secs), "duration {secs}");
    assert!(v["cores"].as_u64().unwrap() >= 1);
    let by_reason: u64 = v["drops"].as_object().unwrap().values().map(|d| d.as_u64().unwrap()).sum();
    assert_eq!(by_reason, v["drops_total"].as_u64().unwrap());
    let a = &v["accounting"];
    assert_eq!(a["unaccounted"], 0, "every packet accounted for: {v}");
    let at_teardown: u64 =
        a["in_flight_dropped_by_reason"].as_object().unwrap().values().map(|d| d.as_u64().unwrap()).sum();
    assert_eq!(at_teardown, a["in_flight_at_stop"].as_u64().unwrap(), "in flight at stop, each under its reason: {v}");
    assert_eq!(a["buffers_leaked"], 0, "every buffer back in its pool: {v}");
    assert!(["hugepage", "normal", "mixed"].contains(&v["pool"]["backing"].as_str().unwrap()));
    assert!(v["ports"].as_array().unwrap().iter().all(|p| p["name"].is_string()));
}

#[test]
fn fwd_through_the_input_layer_counts_filter_drops_and_accounts_for_every_packet() {
    for extra in
        [&["--filter", "every=7", "--filter", "ethertype=0x86dd"][..], &["--input-thread", "0", "--filter", "every=7"]]
    {
        let mut args = vec!["fwd", "--json", "--duration", "1", "--mode", "txonly"];
        args.extend_from_slice(extra);
        let v = json(&args);
        check_run(&v, "txonly", "feth");
        let receiver = &v["ports"][1];
        let every7 = &receiver["filters"][0];
        assert_eq!(every7["name"], "drop-every-7", "{v}");
        let (passed, dropped) = (every7["passed"].as_u64().unwrap(), every7["dropped"].as_u64().unwrap());
        assert!(dropped > 0 && (passed + dropped) / 7 == dropped, "every 7th of {} dropped: {v}", passed + dropped);
        assert!(v["drops"]["filtered"].as_u64().unwrap() >= dropped, "{v}");
        assert_eq!(v["accounting"]["unaccounted"], 0, "{v}");
        assert_eq!(v["accounting"]["buffers_leaked"], 0, "{v}");
        assert_eq!(v["hot_path_allocations"], 0, "the workers and the input thread allocate nothing: {v}");
    }
}

/// Null ports named in a list make real headers behind the input layer as a null port run does: their
/// frames are demultiplexed, not all dropped as of no protocol.
#[test]
fn null_ports_of_a_list_behind_the_input_layer_are_forwarded() {
    let v = json(&["fwd", "--json", "--duration", "0.3", "--port", "null,null", "--filter", "every=1000000"]);
    assert_eq!(v["drops"]["no_protocol"], 0, "{v}");
    assert!(v["ports"][0]["tx_packets"].as_u64().unwrap() > 0, "{v}");
    assert_eq!(v["accounting"]["unaccounted"], 0, "{v}");
}

/// Behind the input layer the capture taps each port where bpf_tap would, at the port: frames out after
/// the output filters, frames in before the input filters, so it agrees with the ports' counters.
#[test]
fn behind_the_input_layer_the_capture_records_what_crossed_each_port() {
    for extra in [&[][..], &["--input-thread", "0", "--allow-shared-cores"]] {
        let pcap = tmp("filtered.pcapng");
        let mut args = vec!["fwd", "--mode", "txonly", "--count", "100", "--filter", "every=2", "--json", "--pcap"];
        args.push(pcap.to_str().unwrap());
        args.extend_from_slice(extra);
        let v = json(&args);
        let c = read_pcapng(&pcap);
        let count = |port: u32, dir: u32| c.frames.iter().filter(|f| f.port == port && f.is(dir)).count() as u64;
        let (sent, received) =
            (v["ports"][0]["tx_packets"].as_u64().unwrap(), v["ports"][1]["rx_packets"].as_u64().unwrap());
        assert_eq!((sent, received), (50, 50), "the output filter drops every second of 100: {v}");
        assert_eq!((count(0, OUTBOUND), count(1, INBOUND)), (sent, received), "{extra:?}");
        assert_eq!(c.frames.len(), 100, "nothing else: {extra:?}");
    }
}

#[test]
fn fwd_json_over_modes_ports_and_pool_modes() {
    let runs: &[(&[&str], &str, &str, &str)] = &[
        (&[], "io", "feth", "global"),
        (&["--mode", "macswap", "--pool-mode", "private"], "macswap", "feth", "private"),
        (&["--mode", "mac", "--pool-mode", "split", "--cores", "1"], "mac", "feth", "split"),
        (&["--mode", "txonly", "--pool-mode", "split"], "txonly", "feth", "split"),
        (&["--mode", "rxonly", "--multibuflet", "--pkt-len", "1500"], "rxonly", "feth", "global"),
        (&["--mode", "flowgen", "--flows", "16"], "flowgen", "feth", "global"),
        (&["--mode", "icmpecho", "--fcs", "--trailer-length", "4"], "icmpecho", "feth", "global"),
        (&["--mode", "io", "--tx-first", "8", "--wmm", "--fcs", "--pool-mode", "private"], "io", "feth", "private"),
        // Seeds outnumber the crossing rings: forwarding must keep moving, not deadlock on two full rings.
        (&["--ring-size", "2", "--tx-first", "4"], "io", "feth", "global"),
        (&["--port", "null"], "io", "null", "global"),
        (&["--port", "null", "--mode", "txonly", "--topology", "paired"], "txonly", "null", "global"),
        (
            &["--port", "null", "--mode", "macswap", "--pool-mode", "private", "--record-core-cycles"],
            "macswap",
            "null",
            "private",
        ),
    ];
    for (extra, mode, port, pool) in runs {
        let mut args = vec!["fwd", "--json", "--duration", "1"];
        args.extend_from_slice(extra);
        let v = json(&args);
        check_run(&v, mode, port);
        assert_eq!(v["pool"]["mode"], *pool);
        if *port == "feth" {
            assert_eq!(v["drops_total"], 0, "no drops without drop injection: {v}");
        }
        if extra.contains(&"--record-core-cycles") && cfg!(target_arch = "x86_64") {
            let busy = v["busy_cycles_per_packet"].as_f64().unwrap();
            let total = v["cycles_per_packet"]["value"].as_f64().unwrap();
            assert!(busy > 0.0 && busy <= total * 1.01, "busy {busy} within total {total}");
        }
        if *mode == "icmpecho" {
            assert!(v["icmpecho"]["answered"].as_u64().unwrap() >= v["packets"].as_u64().unwrap());
        }
    }
}

#[test]
fn tx_drop_injection_is_counted_by_reason() {
    let v = json(&["fwd", "--json", "--duration", "1", "--mode", "txonly", "--tx-drops", "10"]);
    check_run(&v, "txonly", "feth");
    let drops = v["drops"]["tx_drop_injection"].as_u64().unwrap();
    let sent = v["accounting"]["sent"].as_u64().unwrap();
    assert!(drops > 0);
    // Every 10th packet handed to the port is dropped.
    let handed = sent + drops;
    assert!(drops.abs_diff(handed / 10) <= 1, "drops {drops} of {handed}");

    // Expiry policy 1 drops frames whose deadline passed (generators set one with --expiry-us).
    let v = json(&["fwd", "--json", "--duration", "1", "--mode", "txonly", "--tx-exp-policy", "1", "--expiry-us", "0"]);
    assert!(v["drops"]["expired"].as_u64().unwrap() > 0, "{v}");
    assert_eq!(v["drops_total"], v["drops"]["expired"]);
    assert_eq!(v["accounting"]["unaccounted"], 0);
    assert_eq!(v["accounting"]["buffers_leaked"], 0);
}

/// A list flag on the command line replaces the config file's list, as every other flag does; the JSON
/// gives filters as the flag takes them.
#[test]
fn a_filter_on_the_command_line_replaces_the_config_files_filters() {
    let file = tmp("filters.toml");
    std::fs::write(&file, "filter = [\"every=2\", \"ethertype=0x86dd\"]\nduration = 0.2\n").unwrap();
    let v = json(&["fwd", "--config", file.to_str().unwrap(), "--json"]);
    assert_eq!(v["settings"]["filters"], serde_json::json!(["every=2", "ethertype=0x86dd"]), "{v}");
    let v = json(&["fwd", "--config", file.to_str().unwrap(), "--filter", "every=5", "--json"]);
    assert_eq!(v["settings"]["filters"], serde_json::json!(["every=5"]), "{v}");
}

#[test]
fn config_file_sets_everything_and_flags_override_it() {
    let cfg = tmp("run.toml");
    std::fs::write(&cfg, "mode = \"macswap\"\npool-mode = \"private\"\npkt-len = 128\nduration = 1\nfcs = true\n")
        .unwrap();
    let path = cfg.to_str().unwrap();
    let v = json(&["fwd", "--config", path, "--json", "--mode", "mac"]);
    check_run(&v, "mac", "feth");
    assert_eq!((v["pool"]["mode"].as_str(), v["pkt_len"].as_u64()), (Some("private"), Some(128)));
    // A flag turns a file's switch off.
    let v = json(&["fwd", "--config", path, "--json", "--fcs=off", "--mode", "txonly"]);
    check_run(&v, "txonly", "feth");

    let bad: &[(&str, &[&str])] = &[
        ("mode = \"macswap\nx", &["bad1.toml", "line 1"]),
        ("frobnicate = 3\n", &["bad2.toml", "--frobnicate"]),
        ("mode = \"warp\"\n", &["bad3.toml", "warp", "possible values"]),
        ("ring-size = 1000\n", &["bad4.toml", "--ring-size", "1000", "power of two"]),
        ("cores = [1, 2]\n", &["bad5.toml", "cores", "string, number or boolean"]),
        ("[section]\nmode = \"io\"\n", &["bad6.toml", "section"]),
        ("tx-headroom = 40\n", &["bad7.toml", "--tx-headroom", "40"]),
    ];
    for (i, (text, needles)) in bad.iter().enumerate() {
        let f = tmp(&format!("bad{}.toml", i + 1));
        std::fs::write(&f, text).unwrap();
        usage_error(&["fwd", "--config", f.to_str().unwrap()], needles);
    }
    usage_error(&["fwd", "--config", "/nonexistent/pktloop.toml"], &["--config", "/nonexistent/pktloop.toml"]);
    // A device that never ends, or bytes that are not text: said, not read forever.
    usage_error(&["fwd", "--config", "/dev/zero"], &["--config /dev/zero", "at most 1048576"]);
    let f = tmp("latin1.toml");
    std::fs::write(&f, b"mode = \"io\xe9\"\n").unwrap();
    usage_error(&["fwd", "--config", f.to_str().unwrap()], &["latin1.toml", "not UTF-8"]);
}

fn percentiles_rise(v: &Value) {
    let keys = ["p50_ns", "p90_ns", "p99_ns", "p999_ns", "p9999_ns", "max_ns"];
    let vals: Vec<u64> = keys.iter().map(|k| v[k].as_u64().unwrap_or_else(|| panic!("{k} in {v}"))).collect();
    assert!(vals[0] > 0, "{v}");
    assert!(vals.windows(2).all(|w| w[0] <= w[1]), "percentiles rise: {vals:?}");
}

#[test]
fn latency_json_hgrm_and_svg() {
    let (hgrm, svg) = (tmp("lat.hgrm"), tmp("lat.svg"));
    let v = json(&[
        "latency",
        "--duration",
        "1",
        "--json",
        "--hgrm",
        hgrm.to_str().unwrap(),
        "--plot",
        svg.to_str().unwrap(),
    ]);
    percentiles_rise(&v);
    let samples = v["samples"].as_u64().unwrap();
    assert!(samples > 100, "{v}");
    percentiles_rise(&v["peer_rtrb"]);
    assert!(v["p50_ratio_vs_rtrb"].as_f64().unwrap() > 0.0);

    let text = std::fs::read_to_string(&hgrm).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0].split_whitespace().collect::<Vec<_>>(),
        ["Value", "Percentile", "TotalCount", "1/(1-Percentile)"]
    );
    assert!(text.contains("#[Mean    =") && text.contains("#[Buckets ="));
    let total: u64 = text
        .lines()
        .find(|l| l.starts_with("#[Max"))
        .and_then(|l| l.split('=').nth(2))
        .and_then(|s| s.trim().trim_end_matches(']').trim().parse().ok())
        .unwrap();
    assert_eq!(total, samples, "hgrm total count is the sample count");
    let last_row = lines.iter().rev().find(|l| !l.starts_with('#')).unwrap();
    let cols: Vec<f64> = last_row.split_whitespace().map(|c| c.parse().unwrap()).collect();
    assert_eq!((cols[1], cols[2] as u64), (1.0, samples));

    let plot = std::fs::read_to_string(&svg).unwrap();
    assert!(plot.starts_with("<svg") && plot.trim_end().ends_with("</svg>"));
    assert_eq!(plot.matches("<svg").count(), 1);
    assert!(plot.contains(">99.9%</text>") && plot.contains("Round-trip latency"));
    assert_eq!(plot.matches("<polyline").count(), 3, "axes + feth + rtrb");

    // Open loop at a fixed rate, no peer.
    let v = json(&["latency", "--duration", "1", "--json", "--rate", "20000", "--no-peer"]);
    percentiles_rise(&v);
    assert_eq!((v["loop"].as_str(), v["rate_pps"].as_u64()), (Some("open"), Some(20000)));
    assert!(v.get("peer_rtrb").is_none());
    let sent = v["sent"].as_u64().unwrap();
    assert!((10_000..=21_000).contains(&sent), "about 20000 sent at 20000 pps for 1 s: {sent}");
}

struct Frame {
    data: Vec<u8>,
}

/// Checks a feth txonly capture: port 0 (feth0) only sends, port 1 (feth1) only receives, in time order.
fn txonly_directions_and_order(c: &PcapNg) {
    assert_eq!(c.names, ["feth0", "feth1"]);
    assert!(c.frames.iter().any(|f| f.port == 0) && c.frames.iter().any(|f| f.port == 1), "both ports");
    for f in &c.frames {
        let want = if f.port == 0 { OUTBOUND } else { INBOUND };
        assert_eq!(f.flags, Some(want), "port {}: tx outbound on port 0, rx inbound on port 1", f.port);
    }
    assert!(c.frames.windows(2).all(|w| w[0].ts <= w[1].ts), "frames in time order across workers");
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap();
    let first = c.frames[0].ts;
    assert!(first <= now && now - first < std::time::Duration::from_secs(600), "wall-clock timestamps");
}

#[test]
fn pcapng_names_the_ports_flags_directions_and_keeps_time_order() {
    let path = tmp("txonly.pcapng");
    let p = path.to_str().unwrap();
    let v = json(&["fwd", "--json", "--mode", "txonly", "--duration", "0.3", "--pcap", p]);
    assert_eq!((v["pcap"]["format"].as_str(), v["pcap"]["late"].as_u64()), (Some("pcapng"), Some(0)));
    let c = read_pcapng(&path);
    assert_eq!(v["pcap"]["written"].as_u64(), Some(c.frames.len() as u64));
    txonly_directions_and_order(&c);
    assert!(c.frames.iter().all(|f| f.data.len() == 64 && f.orig_len == 64), "whole 64 B frames");

    // Cut to --snaplen, the original length kept; the table names the format.
    let o =
        pktloop(&["fwd", "--mode", "txonly", "--duration", "0.3", "--pkt-len", "300", "--snaplen", "100", "--pcap", p]);
    assert!(o.status.success(), "{}", stderr(&o));
    let table = String::from_utf8(o.stdout).unwrap();
    let line = table.lines().find(|l| l.trim_start().starts_with("pcapng: ")).unwrap_or_default();
    assert!(line.contains(&format!(" frames written to {p} (snaplen 100;")), "{table}");
    let c = read_pcapng(&path);
    assert_eq!(c.snaplens, [100, 100]);
    txonly_directions_and_order(&c);
    assert!(c.frames.iter().all(|f| f.data.len() == 100 && f.orig_len == 300), "cut to 100 of 300");
}

fn read_pcap(path: &PathBuf) -> Vec<Frame> {
    let f = std::fs::File::open(path).unwrap();
    let mut r = pcap_file::pcap::PcapReader::new(f).unwrap();
    assert_eq!(r.header().datalink, pcap_file::DataLink::ETHERNET);
    let mut out = Vec::new();
    while let Some(p) = r.next_packet() {
        let p = p.unwrap();
        assert_eq!(p.orig_len as usize, p.data.len(), "whole frames");
        out.push(Frame { data: p.data.into_owned() });
    }
    out
}

#[test]
fn pcap_holds_whole_tx_and_rx_frames_with_trailer_and_fcs() {
    let pcap = tmp("fwd.pcapng");
    let p = pcap.to_str().unwrap();
    // One worker generates on port 0 then receives on port 1 in each poll, so both directions reach the cap.
    let args = "fwd --json --duration 1 --cores 1 --mode txonly --multibuflet --pkt-len 1200 --fcs --trailer-length 4";
    let mut args: Vec<&str> = args.split(' ').collect();
    args.extend(["--pcap", p, "--pcap-count", "200"]);
    let v = json(&args);
    check_run(&v, "txonly", "feth");
    assert_eq!(v["pcap"]["written"], 200);
    let frames: Vec<Frame> = read_pcapng(&pcap)
        .frames
        .into_iter()
        .map(|f| {
            assert_eq!(f.orig_len as usize, f.data.len(), "whole frames");
            Frame { data: f.data }
        })
        .collect();
    assert_eq!(frames.len(), 200);
    let tx: Vec<&Frame> = frames.iter().filter(|f| f.data.len() == 1200).collect();
    let rx: Vec<&Frame> = frames.iter().filter(|f| f.data.len() == 1200 + 4 + 4).collect();
    assert!(!tx.is_empty() && !rx.is_empty(), "both directions captured");
    assert_eq!(tx.len() + rx.len(), 200);
    for f in &rx {
        let n = f.data.len();
        assert_eq!(&f.data[n - 8..n - 4], b"trai", "trailer before the FCS");
        let crc = crc32fast::hash(&f.data[..n - 4]);
        assert_eq!(f.data[n - 4..], crc.to_le_bytes(), "FCS over frame and trailer");
        assert_eq!(&f.data[12..14], &[0x08, 0x00], "an IPv4 frame");
    }
    // Multi-buflet frames (1200 B over 512 B buflets) are whole: the UDP length field matches.
    assert!(tx.iter().all(|f| u16::from_be_bytes([f.data[38], f.data[39]]) == 1200 - 34));

    // Classic pcap on request.
    let lat = tmp("lat.pcap");
    let v = json(&[
        "latency",
        "--json",
        "--duration",
        "1",
        "--no-peer",
        "--pcap",
        lat.to_str().unwrap(),
        "--pcap-format",
        "pcap",
        "--pcap-count",
        "40",
    ]);
    assert_eq!(v["pcap_written"], 40);
    assert_eq!(read_pcap(&lat).len(), 40);
}

#[test]
fn bench_writes_its_table_and_json() {
    let out = tmp("bench.json");
    let o = pktloop(&["bench", "--duration", "0.3", "--filter", "null io-fwd", "--out", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let table = String::from_utf8(o.stdout).unwrap();
    assert!(table.contains("null io-fwd 64B"), "{table}");
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    let results = v["results"].as_array().unwrap();
    assert_eq!(results.len(), 1);
    assert_eq!(results[0]["unit"], "Mpps");
    assert!(results[0]["value"].as_f64().unwrap() > 0.0);
}

#[test]
fn bench_measures_tap_throughput_in_a_namespace_of_its_own_or_says_why_not() {
    let out = tmp("bench-tap.json");
    let o = pktloop(&["bench", "--duration", "0.3", "--filter", "tap", "--out", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    let (results, skipped) = (v["results"].as_array().unwrap(), v["skipped"].as_array().unwrap());
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0 && std::path::Path::new("/dev/net/tun").exists();
    if root {
        assert_eq!((results.len(), skipped.len()), (1, 0), "{v}");
        assert_eq!(results[0]["scenario"], "tap txonly->kernel 64B, 1 core");
        assert!(results[0]["value"].as_f64().unwrap() > 0.0, "{v}");
        assert!(
            !String::from_utf8_lossy(
                &std::process::Command::new("ip").arg("link").output().map(|o| o.stdout).unwrap_or_default()
            )
            .contains("pktloop"),
            "no TAP interface left in this namespace"
        );
    } else {
        println!("not root: the TAP row must be skipped with its reason");
        assert_eq!((results.len(), skipped.len()), (0, 1), "{v}");
        assert!(stderr(&o).contains("skipped"), "{}", stderr(&o));
    }
}
