//! Findings of the hostile test pass (issue 14), each pinned by a test that failed before its fix. Runs
//! are serialised (their workers pin to the same cores).

mod common;

use common::*;
use serde_json::Value;

fn mpps(args: &[&str]) -> f64 {
    let o = pktloop(args);
    assert!(o.status.success(), "{args:?}: {}", String::from_utf8_lossy(&o.stderr));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["accounting"]["unaccounted"], 0, "{args:?}");
    v["mpps"].as_f64().unwrap()
}

#[test]
fn no_pool_mode_stalls_a_generator_behind_wmm_rings() {
    // Before: private and split pools with WMM moved about 0.02 Mpps (0.1% of the run without WMM): the
    // generator, its pool empty, never polled the port whose WMM rings held every buffer. WMM's own cost
    // (four rings and a class per packet) is well under a factor of ten.
    for mode in ["txonly", "rxonly"] {
        for pool in ["global", "private", "split"] {
            let base = ["fwd", "--mode", mode, "--pool-mode", pool, "--duration", "0.5", "--json"];
            let plain = mpps(&base);
            let wmm = mpps(&[&base[..], &["--wmm"]].concat());
            assert!(wmm >= plain / 10.0, "{mode} {pool}: {wmm:.2} Mpps with WMM, {plain:.2} without");
        }
    }
}

#[test]
fn frame_lengths_that_no_buffer_holds_are_refused_with_the_real_range() {
    let big = ["--mtu", "2048", "--max-mtu", "2048", "--pkt-len", "2017"];
    for extra in [
        &["--mode", "txonly"][..],
        &["--mode", "io"],
        &["--mode", "txonly", "--pool-mode", "private"],
        &["--mode", "txonly", "--pool-mode", "split"],
        &["--mode", "txonly", "--multibuflet"],
    ] {
        usage_error(&[&["fwd"][..], &big, extra].concat(), &["--pkt-len 2017", "at most 2016 B", "60..=2016"]);
    }
    usage_error(&[&["latency"][..], &big].concat(), &["--pkt-len 2017", "at most 2016 B"]);
}

#[test]
fn settings_that_could_never_deliver_are_refused_naming_the_flags_the_user_gave() {
    usage_error(
        &["fwd", "--pool-size", "1048576", "--max-mtu", "9000", "--multibuflet"],
        &["--pool-size 1048576", "--max-mtu 9000", "--multibuflet", "valid is --pool-size <= 932067"],
    );
    let split = ["--pool-mode", "split", "--aggregation-factor", "1", "--pkt-len", "1518"];
    usage_error(&[&["fwd", "--mode", "txonly"][..], &split].concat(), &["--aggregation-factor 1", ">= 2", "992 B"]);
    usage_error(&[&["latency"][..], &split].concat(), &["--aggregation-factor 1"]);
    usage_error(&["fwd", "--tx-first", "65"], &["--tx-first 65", "1..=64"]);
}

#[test]
fn numbers_beyond_their_type_and_non_settings_in_files_get_the_one_line_message() {
    usage_error(
        &["fwd", "--burst", "99999999999999999999"],
        &["invalid --burst 99999999999999999999: valid is 1..=512"],
    );
    usage_error(
        &["fwd", "--ring-size", "-99999999999999999999"],
        &["--ring-size -99999999999999999999", "2..=16777216"],
    );
    let huge = tmp("huge.toml");
    std::fs::write(&huge, "pkt-len = 1e30\n").unwrap();
    usage_error(&["fwd", "--config", huge.to_str().unwrap()], &["--pkt-len 1e30", "valid is"]);
    let help = tmp("help.toml");
    std::fs::write(&help, "help = true\n").unwrap();
    usage_error(&["fwd", "--config", help.to_str().unwrap()], &["key `help` is not a setting"]);
    usage_error(&["bench", "--filter", "no-such-scenario"], &["--filter no-such-scenario", "no scenario"]);
    // A refused run leaves the results of the last one as they were (the file was emptied, then removed).
    let kept = tmp("kept-bench.json");
    std::fs::write(&kept, "{\"last\": 1}\n").unwrap();
    usage_error(&["bench", "--filter", "tpyo", "--out", kept.to_str().unwrap()], &["--filter tpyo"]);
    assert_eq!(std::fs::read_to_string(&kept).unwrap(), "{\"last\": 1}\n");
}

#[test]
fn a_failed_capture_names_its_error_and_the_run_is_still_reported() {
    if !std::path::Path::new("/dev/full").exists() {
        eprintln!("skipped: no /dev/full here");
        return;
    }
    let o = pktloop(&["fwd", "--pcap", "/dev/full", "--duration", "0.3"]);
    let (out, err) = (String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("No space left on device"), "{err}");
    assert!(out.contains("accounting: generated") && out.contains("unaccounted 0"), "{out}");
}

/// latency as fwd: an output that cannot be written loses nothing else. The report is printed and the
/// other outputs written, then the error; an output named twice, or that cannot be made, is refused before
/// the run and leaves the files already there as they were.
#[test]
fn latency_reports_its_run_when_an_output_fails_and_refuses_outputs_that_collide() {
    if !std::path::Path::new("/dev/full").exists() {
        eprintln!("skipped: no /dev/full here");
        return;
    }
    let hgrm = tmp("kept.hgrm");
    let o = pktloop(&[
        "latency",
        "--duration",
        "0.2",
        "--no-peer",
        "--pcap",
        "/dev/full",
        "--hgrm",
        hgrm.to_str().unwrap(),
    ]);
    let (out, err) = (String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("No space left on device"), "{err}");
    assert!(out.contains("samples"), "the table is printed: {out}");
    let written = std::fs::read_to_string(&hgrm).unwrap();
    assert!(written.contains("Percentile") && written.contains("#[Mean"), "the hgrm is written: {written}");
    let o = pktloop(&["latency", "--duration", "0.2", "--no-peer", "--hgrm", "/dev/full", "--json"]);
    assert_eq!(o.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("the JSON report is printed");
    assert!(v["samples"].as_u64().unwrap() > 0, "{v}");
    std::fs::write(&hgrm, "an earlier run's").unwrap();
    usage_error(
        &["latency", "--hgrm", hgrm.to_str().unwrap(), "--plot", "/nonexistent/dir/p.svg"],
        &["--plot /nonexistent/dir/p.svg", "cannot create it"],
    );
    assert_eq!(std::fs::read_to_string(&hgrm).unwrap(), "an earlier run's", "refused before the run: untouched");
    usage_error(
        &["latency", "--hgrm", hgrm.to_str().unwrap(), "--plot", hgrm.to_str().unwrap()],
        &["--plot", "--hgrm writes that file too"],
    );
    assert_eq!(std::fs::read_to_string(&hgrm).unwrap(), "an earlier run's");
}

#[test]
fn the_shared_cores_warning_is_logged_once() {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) + 1;
    if cores > 8 {
        eprintln!("skipped: more workers than cores needs more than 8 feth queues on this machine");
        return;
    }
    let n = cores.to_string();
    let o = pktloop(&["fwd", "--cores", &n, "--rxq", &n, "--allow-shared-cores", "--duration", "0.2"]);
    assert!(o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.matches("workers share cores").count(), 1, "{err}");
}

#[test]
fn the_poll_loops_allocate_nothing_once_running() {
    // The binary's allocator counts what is allocated inside the workers' and the latency loops' hot
    // sections; every run reports it. A matrix of what those loops do: every mode, pool mode, WMM,
    // multi-buflet, queues with RSS, null ports, the input layer, pacing, sizes and flows, capture.
    let cases: &[&[&str]] = &[
        &["--mode", "io"],
        &["--mode", "mac", "--cores", "1"],
        &["--mode", "macswap", "--topology", "paired", "--cores", "1"],
        &["--mode", "txonly", "--pkt-len", "imix"],
        &["--mode", "rxonly", "--pool-mode", "private", "--wmm"],
        &["--mode", "flowgen", "--pool-mode", "split", "--flow-order", "random"],
        &["--mode", "icmpecho"],
        &["--mode", "io", "--multibuflet", "--fcs", "--trailer-length", "8"],
        &["--mode", "flowgen", "--rxq", "2", "--rss", "--cores", "2", "--rate", "1Mpps"],
        &["--port", "null", "--mode", "io", "--filter", "every=5"],
        &["--mode", "txonly", "--expiry-us", "0", "--tx-exp-policy", "1", "--tx-drops", "3"],
        &["--mode", "txonly", "--count", "100000", "--pcap", "/dev/null"],
    ];
    for case in cases {
        let v = json(&[&["fwd", "--duration", "0.3", "--json"][..], case].concat());
        assert_eq!(v["hot_path_allocations"], 0, "fwd {case:?}");
        assert_eq!(v["accounting"]["unaccounted"], 0, "fwd {case:?}");
    }
    for case in [&["--rate", "0"][..], &["--rate", "100000"]] {
        let v = json(&[&["latency", "--duration", "0.3", "--no-peer", "--json"][..], case].concat());
        assert_eq!(v["hot_path_allocations"], 0, "latency {case:?}");
        assert!(v["received"].as_u64().unwrap() > 0, "latency {case:?}");
    }
}

#[test]
fn a_feth_pair_in_a_port_list_sends_to_itself_in_the_modes_that_do_not_forward() {
    // Before: in a list each feth port ran the mode's own job, so in txonly both ends generated, nothing
    // received, and the pair stalled once its rings filled (a few hundred frames); in rxonly both received
    // and nothing ever reached them. Now the pair's first port generates (pings) and its second receives
    // (answers), as `--port feth` alone does.
    for (list, feth0) in [("feth,null", 0), ("null,feth", 1)] {
        for mode in ["txonly", "rxonly", "flowgen", "icmpecho"] {
            let args = ["fwd", "--port", list, "--mode", mode, "--duration", "0.3", "--allow-shared-cores", "--json"];
            let v = json(&args);
            assert_eq!(v["accounting"]["unaccounted"], 0, "{args:?}");
            let port = |i: usize, key: &str| v["ports"][i][key].as_u64().unwrap();
            assert_eq!(v["ports"][feth0]["name"], "feth0", "{args:?}");
            let (sent, received) = (port(feth0, "tx_packets"), port(feth0 + 1, "rx_packets"));
            // Not a rate (debug builds are slow): what one end sent, the other took, all but those in flight
            // (at most the pair's pool, 2048 buffers).
            assert!(
                received > 0 && sent - received <= 2048,
                "{args:?}: feth1 received {received} of the {sent} feth0 sent"
            );
            if mode != "icmpecho" {
                assert_eq!(port(feth0 + 1, "tx_packets"), 0, "{args:?}: the receiving end sends nothing");
            }
        }
    }
}

#[test]
fn the_prompt_with_json_keeps_stdout_for_the_json_alone() {
    // Before: `-i --json` wrote the prompt and its answers on stdout, between the reports' JSON.
    use std::io::Write;
    let _guard = serial();
    let mut child = spawn_piped(&["fwd", "-i", "--json", "--mode", "txonly"]);
    let mut stdin = child.stdin.take().unwrap();
    for (line, wait_ms) in [("start", 300), ("show port stats", 0), ("set rate 1Mpps", 100), ("stop", 0), ("quit", 0)] {
        writeln!(stdin, "{line}").unwrap();
        std::thread::sleep(std::time::Duration::from_millis(wait_ms));
    }
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let v: Value = serde_json::from_slice(&out.stdout).expect("stdout is one JSON report");
    assert_eq!(v["accounting"]["unaccounted"], 0);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("pktloop> started: mode txonly") && err.contains("rate: 1.000 Mpps"), "{err}");
}

#[test]
fn latency_help_offers_only_what_a_ping_pong_takes() {
    // Before: latency's help offered fwd's --count and --replay in --duration, size mixes in --pkt-len, the
    // queue flags it refuses, and no shm port; --tx-exp-policy was taken and did nothing.
    let o = pktloop(&["latency", "--help"]);
    let help = String::from_utf8_lossy(&o.stdout);
    let offered = |flag: &str| help.lines().any(|l| l.trim_start().starts_with(flag));
    for flag in ["--rxq", "--txq", "--rss", "--tx-exp-policy"] {
        assert!(!offered(flag), "latency --help offers {flag}:\n{help}");
    }
    assert!(!help.contains("--count") && !help.contains("imix"), "{help}");
    assert!(help.contains("shm:PATH"), "{help}");
    usage_error(&["latency", "--tx-exp-policy", "1"], &["--tx-exp-policy 1", "no expiry deadline", "valid is 0"]);
    usage_error(&["latency", "--rxq", "2", "--txq", "2"], &["--rxq 2", "valid is 1"]);
}

#[test]
fn a_port_list_needing_more_workers_than_cores_is_refused_unless_shared() {
    // Before: only a feth pair's runs were refused; a list ran with a warning.
    // The cores this process may run on, as pktloop counts them (its affinity, not a cgroup quota).
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let allowed = status.lines().find_map(|l| l.strip_prefix("Cpus_allowed_list:")).unwrap().trim();
    let cores: usize = allowed
        .split(',')
        .map(|r| match r.split_once('-') {
            Some((a, b)) => b.parse::<usize>().unwrap() - a.parse::<usize>().unwrap() + 1,
            None => 1,
        })
        .sum();
    let list = vec!["null"; cores + 1].join(",");
    usage_error(
        &["fwd", "--port", &list, "--duration", "0.1"],
        &[&format!("{} workers", cores + 1), "--allow-shared-cores"],
    );
    let v = json(&["fwd", "--port", &list, "--duration", "0.1", "--allow-shared-cores", "--json"]);
    assert_eq!(v["accounting"]["unaccounted"], 0);
}

#[test]
fn a_low_rate_is_shown_in_its_own_unit_and_judged_by_the_frames_due() {
    // Before: 10 pps read "made 0.000 Mpps ... asked 0.000 Mpps", and 10 frames in a 1 s run at 10 pps
    // (11 due at most: the first at once) were judged NOT reached, as N frames span N - 1 intervals.
    let o = pktloop(&["fwd", "--mode", "txonly", "--rate", "10", "--duration", "1"]);
    let table = String::from_utf8_lossy(&o.stdout);
    let line = table.lines().find(|l| l.contains("generators:")).unwrap_or_default();
    assert!(line.contains("asked 10.0 pps: held") && line.contains(" frames)"), "{table}");
    let v = json(&["fwd", "--mode", "txonly", "--rate", "10", "--duration", "1", "--json"]);
    // The frames due over the generators' own time (the first at once), give or take the one at its end.
    let (generated, secs) =
        (v["generators"]["generated"].as_f64().unwrap(), v["generators"]["seconds"].as_f64().unwrap());
    let due = (10.0 * secs).floor() + 1.0;
    assert!((generated - due).abs() <= 1.0, "{generated} frames where {due} were due: {v}");
    assert_eq!(v["generators"]["rate_held"], true, "{v}");
}

#[test]
fn flags_that_would_change_nothing_in_the_run_are_refused() {
    // Before: each was taken and ignored (as --rate without a generator never was).
    let cases: &[(&[&str], &[&str])] = &[
        (&["--mode", "io", "--expiry-us", "0"], &["--expiry-us 0", "generates none"]),
        (&["--mode", "icmpecho", "--expiry-us", "5"], &["--expiry-us 5", "pings carry no deadline"]),
        (&["--mode", "txonly", "--tx-first", "5"], &["--tx-first 5", "io, mac or macswap"]),
        (&["--tap-name", "x"], &["--tap-name x", "--port tap"]),
        (&["--tap-queues", "2"], &["--tap-queues 2", "--port tap"]),
        (&["--tap-io", "readv"], &["--tap-io readv", "--port tap"]),
        (&["--ip", "198.18.0.2/24"], &["--ip 198.18.0.2/24", "afpacket, afxdp or shm"]),
        (&["--xdp-mode", "copy"], &["--xdp-mode copy", "afxdp"]),
        (&["--pcap-count", "5"], &["--pcap-count 5 without --pcap"]),
        (&["--pcap-format", "pcap"], &["--pcap-format pcap without --pcap"]),
        (&["--snaplen", "64"], &["--snaplen 64 without --pcap"]),
    ];
    for (args, needles) in cases {
        usage_error(&[&["fwd"][..], args].concat(), needles);
    }
    usage_error(&["latency", "--snaplen", "64"], &["--snaplen 64 without --pcap"]);
    usage_error(&["fwd", "-i", "--duration", "1"], &["--duration 1", "start and stop"]);
    // Where they act, they are taken.
    for args in [&["--mode", "txonly", "--expiry-us", "5"][..], &["--mode", "io", "--tx-first", "3"]] {
        let v = json(&[&["fwd", "--duration", "0.2", "--json"][..], args].concat());
        assert_eq!(v["accounting"]["unaccounted"], 0, "{args:?}");
    }
}

#[test]
fn sigterm_ends_a_run_early_with_its_report_as_ctrl_c_does() {
    // Before: `timeout 10 pktloop fwd` (SIGTERM) killed the run with no report; only Ctrl-C printed one.
    let _guard = serial();
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_pktloop"))
        .args(["fwd", "--duration", "60", "--json"])
        .env("PKTLOOP_NO_HUGEPAGES", "1")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(700));
    let kill = std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(kill.success());
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).expect("the run's report");
    assert_eq!(v["accounting"]["unaccounted"], 0);
    assert!(v["duration_s"].as_f64().unwrap() < 30.0, "ended early: {v}");
}

#[test]
fn bench_filters_in_either_case_and_names_each_result_once() {
    // Before: `--filter wmm` found nothing (only `WMM` did), and the ring's two peers gave two results of
    // one name in the JSON.
    let out = tmp("bench.json");
    let o = pktloop(&["bench", "--filter", "wmm", "--duration", "0.1", "--out", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert!(v["results"][0]["scenario"].as_str().unwrap().contains("WMM"), "{v}");
    let o = pktloop(&["bench", "--filter", "ring transfer", "--duration", "0.1", "--out", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    let names: Vec<&str> = v["results"].as_array().unwrap().iter().map(|r| r["scenario"].as_str().unwrap()).collect();
    let mut unique = names.clone();
    unique.sort_unstable();
    unique.dedup();
    assert!(names.len() >= 2 && unique.len() == names.len(), "{names:?}");
}

#[test]
fn rates_are_written_alike_in_fwd_and_latency_and_bounded_in_both() {
    // Before: latency took only a bare integer (`--rate 1Mpps` was refused), and fwd took any rate at all.
    let v = json(&["latency", "--rate", "200kpps", "--duration", "0.3", "--no-peer", "--allow-shared-cores", "--json"]);
    assert_eq!(v["rate_pps"], 200_000, "{v}");
    usage_error(&["latency", "--rate", "1Gpps"], &["--rate 1Gpps", "1..=50000000"]);
    usage_error(&["latency", "--rate", "fast"], &["--rate fast", "250kpps"]);
    usage_error(&["fwd", "--mode", "txonly", "--rate", "1e20"], &["--rate 1e20", "at most 1000000 Mpps"]);
}

#[test]
fn a_length_error_gives_examples_inside_the_valid_range() {
    // Before: `--mtu 72 --pkt-len 91` said valid is 60..=90, "a range (64-1518)", and offered imix.
    usage_error(&["fwd", "--mtu", "72", "--pkt-len", "91"], &["--pkt-len 91", "60..=90", "a range (60-90)"]);
    let o = pktloop(&["fwd", "--mtu", "72", "--pkt-len", "91"]);
    assert!(!String::from_utf8_lossy(&o.stderr).contains("imix"));
}

#[test]
fn a_config_file_may_hold_settings_this_run_has_no_use_for() {
    // A file shared between kinds of run: what it sets that this run cannot use is left alone, where the
    // same flags typed on the command line are refused.
    let file = tmp("shared.toml");
    std::fs::write(&file, "tx-first = 4\npcap-count = 50\nsnaplen = 128\n").unwrap();
    let v = json(&["fwd", "--config", file.to_str().unwrap(), "--mode", "txonly", "--duration", "0.2", "--json"]);
    assert_eq!(v["accounting"]["unaccounted"], 0);
    usage_error(&["fwd", "--mode", "txonly", "--tx-first", "4"], &["--tx-first 4"]);
}

#[test]
fn a_feth_pair_in_a_list_takes_the_generator_flags_its_generator_uses() {
    // rxonly and icmpecho generate on a list's feth pair (as on `--port feth`), so --rate and --count act.
    let v = json(&[
        "fwd",
        "--port",
        "feth,null",
        "--mode",
        "rxonly",
        "--rate",
        "10kpps",
        "--duration",
        "0.3",
        "--allow-shared-cores",
        "--json",
    ]);
    // Taken and acting (whether a worker sharing a core holds it is the machine's business).
    assert_eq!(v["generators"]["asked_pps_per_port"], 10000.0, "{v}");
    assert!(v["generators"]["generated"].as_u64().unwrap() > 0, "{v}");
    usage_error(&["fwd", "--port", "null,null", "--mode", "rxonly", "--rate", "10kpps"], &["--rate", "has none"]);
}

#[test]
fn forwarders_cut_only_the_trailer_a_frame_carries() {
    // Before: a frame that filled its buffer crossed without its trailer (it did not fit), and the
    // forwarder cut 28 bytes of the frame itself in its place: 1468 B in, 1440 B out. With room for it,
    // the trailer and FCS are cut and the frame goes on whole.
    for (flags, len, received) in [
        (&["--max-mtu", "1500", "--pkt-len", "1468", "--trailer-length", "28"][..], 1468, 1468),
        (&["--pkt-len", "1000", "--trailer-length", "28", "--fcs"], 1000, 1032),
    ] {
        let v = json(&[&["fwd", "--mode", "macswap", "--duration", "0.3", "--json"][..], flags].concat());
        for p in v["ports"].as_array().unwrap() {
            let per = |bytes: &str, packets: &str| p[bytes].as_u64().unwrap() / p[packets].as_u64().unwrap().max(1);
            assert_eq!(per("tx_bytes", "tx_packets"), len, "{flags:?}: {} sends frames whole", p["name"]);
            assert_eq!(per("rx_bytes", "rx_packets"), received, "{flags:?}: {} receives", p["name"]);
        }
        assert_eq!(v["accounting"]["unaccounted"], 0);
    }
}

#[test]
fn feths_own_counters_and_frames_that_crossed_without_their_fcs_are_reported() {
    // Before: a run asking for an FCS and a trailer that never fitted said nothing, and expiry
    // notifications and advisories were counted nowhere a user could see.
    let v = json(&[
        "fwd",
        "--mode",
        "txonly",
        "--max-mtu",
        "1500",
        "--pkt-len",
        "1468",
        "--fcs",
        "--trailer-length",
        "8",
        "--duration",
        "0.3",
        "--json",
    ]);
    let sender = &v["ports"][0]["feth"];
    assert!(sender["fcs_failed"].as_u64().unwrap() > 0 && sender["trailer_failed"].as_u64().unwrap() > 0, "{sender}");
    assert_eq!(sender["fcs_appended"], 0);
    let warnings = v["warnings"].to_string();
    assert!(warnings.contains("crossed without their feth FCS") && warnings.contains("feth trailer"), "{warnings}");
    let v = json(&[
        "fwd",
        "--mode",
        "txonly",
        "--tx-exp-policy",
        "2",
        "--expiry-us",
        "0",
        "--adv-interval-ms",
        "10",
        "--duration",
        "0.3",
        "--json",
    ]);
    let sender = &v["ports"][0]["feth"];
    assert!(sender["expired_notified"].as_u64().unwrap() > 0, "{sender}");
    assert!(sender["advisories"].as_u64().unwrap() > 0, "{sender}");
    let o = pktloop(&["fwd", "--mode", "txonly", "--fcs", "--duration", "0.3"]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("  feth: copied 0, FCS appended "), "{text}");
}

#[test]
fn the_accounting_of_runs_with_outside_ports_prints_its_outside_terms() {
    // Before: the null and outside terms were named, "(+ null rx - null tx)", and never given.
    let v = json(&[
        "fwd",
        "--port",
        "feth,null",
        "--mode",
        "txonly",
        "--allow-shared-cores",
        "--duration",
        "0.3",
        "--json",
    ]);
    let a = &v["accounting"];
    let n = |k: &str| a[k].as_u64().unwrap_or_else(|| panic!("{k} in {a}"));
    assert!(n("to_outside") > 0, "the null port's generator sent out: {a}");
    let came = n("generated") + n("from_outside");
    let went = n("consumed") + n("dropped") + n("in_flight_at_stop") + n("left_in_workers") + n("to_outside");
    assert_eq!((came, a["unaccounted"].as_i64().unwrap()), (went, 0), "{a}");
    let o = pktloop(&["fwd", "--port", "null", "--duration", "0.3"]);
    let text = String::from_utf8_lossy(&o.stdout);
    let line = text.lines().find(|l| l.contains("accounting:")).unwrap();
    assert!(line.contains("(+ null rx ") && line.contains(" - null tx "), "{line}");
    assert!(line.split("null rx ").nth(1).unwrap().starts_with(|c: char| c.is_ascii_digit()), "{line}");
}
