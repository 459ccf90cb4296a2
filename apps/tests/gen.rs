//! The generator end to end through the binary: counts, rates, size mixes, flows, replay, the live line
//! and the flags' errors. Runs are serialised (their workers pin to the same cores).

mod common;

use common::*;
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::time::Duration;

fn u(v: &Value, path: &str) -> u64 {
    v.pointer(path).and_then(Value::as_u64).unwrap_or_else(|| panic!("{path} missing in {v}"))
}

fn f(v: &Value, path: &str) -> f64 {
    v.pointer(path).and_then(Value::as_f64).unwrap_or_else(|| panic!("{path} missing in {v}"))
}

/// The frames of a pcapng capture going `dir` ([`INBOUND`] or [`OUTBOUND`]), in file order, with their port.
fn frames_going(path: &std::path::Path, dir: u32) -> Vec<(u32, Vec<u8>)> {
    read_pcapng(path).frames.into_iter().filter(|f| f.is(dir)).map(|f| (f.port, f.data)).collect()
}

/// Writes `frames` (with their times) as a classic nanosecond pcap.
fn write_pcap(path: &PathBuf, frames: &[(Duration, Vec<u8>)]) {
    let header = pcap_file::pcap::PcapHeader {
        ts_resolution: pcap_file::TsResolution::NanoSecond,
        ..pcap_file::pcap::PcapHeader::default()
    };
    let mut w = pcap_file::pcap::PcapWriter::with_header(std::fs::File::create(path).unwrap(), header).unwrap();
    for (t, data) in frames {
        w.write_packet(&pcap_file::pcap::PcapPacket::new(*t, data.len() as u32, data)).unwrap();
    }
}

/// A frame of `len` bytes that says `i` in its first payload bytes (an Ethernet header, then i).
fn numbered_frame(i: u32, len: usize) -> Vec<u8> {
    let mut f = vec![0u8; len];
    f[..6].copy_from_slice(&[2, 0, 0, 0, 0, 2]);
    f[6..12].copy_from_slice(&[2, 0, 0, 0, 0, 1]);
    f[12..14].copy_from_slice(&[0x88, 0xb5]);
    f[14..18].copy_from_slice(&i.to_be_bytes());
    for (k, b) in f[18..].iter_mut().enumerate() {
        *b = (k as u32 ^ i) as u8;
    }
    f
}

#[test]
fn a_count_stops_each_generator_and_every_packet_is_accounted_for() {
    for mode in ["txonly", "flowgen"] {
        let v = json(&["fwd", "--mode", mode, "--count", "12345", "--json"]);
        assert_eq!(u(&v, "/accounting/generated"), 12345, "{mode}");
        assert_eq!(u(&v, "/packets"), 12345, "{mode}: every packet received on the peer");
        assert_eq!(u(&v, "/accounting/unaccounted"), 0);
        assert!(f(&v, "/duration_s") < 4.0, "{mode}: the run ended when the count was done, not at 5 s");
    }
    let v = json(&["fwd", "--mode", "icmpecho", "--count", "1000", "--json"]);
    assert_eq!(u(&v, "/packets"), 1000, "every ping answered");
    // Several generator ports (null, one per worker): the count is each one's.
    let v = json(&[
        "fwd",
        "--port",
        "null",
        "--mode",
        "txonly",
        "--cores",
        "2",
        "--count",
        "500",
        "--json",
        "--allow-shared-cores",
    ]);
    assert_eq!(u(&v, "/accounting/generated"), 1000);
}

#[test]
fn a_rate_within_reach_is_held_within_one_percent() {
    // A rate the slowest placement of this machine reaches many times over, so the check is the pacer's.
    let v = json(&[
        "fwd",
        "--port",
        "null",
        "--mode",
        "txonly",
        "--cores",
        "1",
        "--rate",
        "200kpps",
        "--duration",
        "1",
        "--json",
    ]);
    let achieved = f(&v, "/generators/achieved_pps_per_port");
    assert!((achieved - 200_000.0).abs() <= 2_000.0, "achieved {achieved} pps for 200 kpps");
    assert_eq!(v.pointer("/generators/rate_held"), Some(&Value::Bool(true)));
    // Wire rate: 100 Mbit/s of 64-byte frames (68 with their FCS, + preamble and gap) is 100e6 / (88 * 8)
    // frames a second.
    let v = json(&[
        "fwd", "--port", "null", "--mode", "txonly", "--cores", "1", "--rate", "100Mbps", "--count", "50000", "--json",
    ]);
    let asked = f(&v, "/generators/asked_pps_per_port");
    assert!((asked - 100e6 / 704.0).abs() < 1.0, "{asked}");
    let secs = f(&v, "/generators/seconds");
    assert!((secs - 50_000.0 / asked).abs() <= 0.01 * secs, "50000 frames took {secs} s at {asked} pps");
    // A rate out of reach is said to be.
    let v = json(&["fwd", "--mode", "txonly", "--rate", "100000Mpps", "--duration", "0.5", "--json"]);
    assert_eq!(v.pointer("/generators/rate_held"), Some(&Value::Bool(false)));
    // Pings: the ARP requests that find the responder are frames of the run, not pings of the count or
    // the rate, which is measured from the first ping.
    let v = json(&["fwd", "--mode", "icmpecho", "--cores", "1", "--count", "3", "--rate", "100", "--json"]);
    let arp = u(&v, "/generators/arp_requests");
    assert!(arp >= 1, "{v}");
    assert_eq!((u(&v, "/generators/generated"), u(&v, "/accounting/generated")), (3, 3 + arp));
    let secs = f(&v, "/generators/seconds");
    assert!(secs < f(&v, "/duration_s"), "measured from the first ping, not the run's start: {secs} s");
}

#[test]
fn imix_and_size_mixes_keep_their_proportions_and_the_report_gives_mean_and_wire_rates() {
    let pcap = tmp("imix.pcap");
    let v = json(&[
        "fwd",
        "--mode",
        "txonly",
        "--pkt-len",
        "imix",
        "--count",
        "1200",
        "--json",
        "--pcap",
        pcap.to_str().unwrap(),
        "--pcap-count",
        "100000",
    ]);
    assert!((f(&v, "/mean_len") - 4246.0 / 12.0).abs() < 1e-9, "{}", v["mean_len"]);
    let (packets, bytes, secs) = (u(&v, "/packets") as f64, u(&v, "/bytes") as f64, f(&v, "/rate_seconds"));
    assert!((f(&v, "/wire_gbps") - (bytes + 24.0 * packets) * 8.0 / secs / 1e9).abs() < 1e-6);
    let mut by_len: HashMap<usize, usize> = HashMap::new();
    for (port, frame) in frames_going(&pcap, OUTBOUND) {
        assert_eq!(port, 0, "the generator sends on port 0");
        *by_len.entry(frame.len()).or_default() += 1;
    }
    assert_eq!(by_len, HashMap::from([(64, 700), (570, 400), (1518, 100)]), "7:4:1");
    let v = json(&["fwd", "--mode", "txonly", "--pkt-len", "100-200", "--count", "2000", "--json"]);
    let mean = f(&v, "/mean_len");
    assert!((140.0..=160.0).contains(&mean), "uniform 100-200: mean {mean}");
    assert_eq!(v.pointer("/settings/generator/pkt_len"), Some(&Value::from("100-200")));
}

#[test]
fn frames_that_carry_their_fcs_count_it_once_on_the_wire() {
    // feth's --fcs appends the FCS: a 60-byte frame arrives as 64 bytes and takes 84 on the wire, as
    // without it (the FCS was counted again on top, 88).
    let v = json(&["fwd", "--mode", "txonly", "--pkt-len", "60", "--fcs", "--count", "2000", "--json"]);
    let (packets, bytes, secs) = (u(&v, "/packets") as f64, u(&v, "/bytes") as f64, f(&v, "/rate_seconds"));
    assert_eq!(bytes, 64.0 * packets, "the frames arrive with their FCS");
    assert!((f(&v, "/wire_gbps") - 84.0 * packets * 8.0 / secs / 1e9).abs() < 1e-6, "{}", v["wire_gbps"]);
    let o = pktloop(&["fwd", "--mode", "txonly", "--pkt-len", "60", "--fcs", "--count", "2000"]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("on the wire (+20 B each)"), "{text}");
}

#[test]
fn flows_cover_the_ranges_with_valid_checksums() {
    let pcap = tmp("flows.pcap");
    let v = json(&[
        "fwd",
        "--mode",
        "flowgen",
        "--src-ip",
        "198.18.1.1-198.18.1.10",
        "--dst-port",
        "5000-5001",
        "--count",
        "200",
        "--json",
        "--pcap",
        pcap.to_str().unwrap(),
        "--pcap-count",
        "100000",
    ]);
    assert_eq!(u(&v, "/settings/generator/flows"), 20);
    let mut flows = HashSet::new();
    for (_, frame) in frames_going(&pcap, OUTBOUND) {
        let ip = &frame[14..34];
        let sum = ip.chunks(2).map(|w| u32::from(u16::from_be_bytes([w[0], w[1]]))).sum::<u32>();
        assert_eq!((sum & 0xffff) + (sum >> 16), 0xffff, "IPv4 checksum");
        flows.insert((ip[12..16].to_vec(), u16::from_be_bytes([frame[36], frame[37]])));
    }
    assert_eq!(flows.len(), 20);
    assert!(flows.iter().all(|(ip, port)| ip[..3] == [198, 18, 1] && (1..=10).contains(&ip[3]) && *port >= 5000));
    let v = json(&["fwd", "--mode", "flowgen", "--flows", "5", "--flow-order", "random", "--count", "100", "--json"]);
    assert_eq!(v.pointer("/settings/generator/flow_order"), Some(&Value::from("random")));
    assert_eq!(v.pointer("/settings/generator/src_ip/first"), Some(&Value::from("198.18.1.0")), "{v}");
    assert_eq!(u(&v, "/packets"), 100);
}

#[test]
fn replay_sends_the_capture_byte_for_byte_looping_and_counts_frames_too_long() {
    let input = tmp("in.pcap");
    let frames: Vec<(Duration, Vec<u8>)> = (0..300u32)
        .map(|i| (Duration::from_micros(u64::from(i)), numbered_frame(i, 60 + (i as usize * 7) % 1400)))
        .collect();
    write_pcap(&input, &frames);
    let out = tmp("out.pcap");
    let v = json(&[
        "fwd",
        "--mode",
        "txonly",
        "--replay",
        input.to_str().unwrap(),
        "--replay-timing",
        "asap",
        "--replay-loops",
        "2",
        "--json",
        "--pcap",
        out.to_str().unwrap(),
        "--pcap-count",
        "100000",
    ]);
    assert_eq!(u(&v, "/packets"), 600, "two passes received");
    assert_eq!(u(&v, "/accounting/unaccounted"), 0);
    let received: Vec<Vec<u8>> = frames_going(&out, INBOUND)
        .into_iter()
        .map(|(port, f)| {
            assert_eq!(port, 1);
            f
        })
        .collect();
    let want: Vec<Vec<u8>> = frames.iter().chain(&frames).map(|(_, d)| d.clone()).collect();
    assert_eq!(received.len(), want.len(), "both passes received");
    assert!(received == want, "received frames differ from the capture, in bytes or in order");
    // An MTU of 500 leaves out every frame longer than 518 B, counted, not fatal.
    let too_long = frames.iter().filter(|(_, d)| d.len() > 518).count() as u64;
    let v = json(&["fwd", "--mode", "txonly", "--replay", input.to_str().unwrap(), "--mtu", "500", "--json"]);
    assert_eq!(u(&v, "/generators/too_long_skipped"), too_long);
    assert_eq!(u(&v, "/packets"), 300 - too_long);
}

/// Frames a port cannot carry (runts, frames past the MTU) are counted, warned about and left out of a
/// bit rate's pacing: the rate asked is held on the frames that go.
#[test]
fn replay_skips_runts_and_frames_too_long_and_paces_a_bit_rate_on_the_frames_sent() {
    let input = tmp("mixed.pcap");
    let mut frames: Vec<(Duration, Vec<u8>)> = Vec::new();
    for i in 0..30u32 {
        let len = [100, 3000, 60][i as usize % 3];
        frames.push((Duration::from_micros(u64::from(i)), numbered_frame(i, len)));
    }
    for (k, len) in [0usize, 3, 13].into_iter().enumerate() {
        frames.push((Duration::from_micros(40 + k as u64), vec![0xee; len]));
    }
    write_pcap(&input, &frames);
    let o = pktloop(&[
        "fwd",
        "--mode",
        "txonly",
        "--cores",
        "1",
        "--replay",
        input.to_str().unwrap(),
        "--replay-loops",
        "0",
        "--rate",
        "10Mbps",
        "--duration",
        "0.5",
        "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("3 frames are shorter than an Ethernet header (14 B)"), "{}", stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let asked = f(&v, "/generators/asked_pps_per_port");
    let sent_mean = 80.0;
    assert!((asked - 10e6 / ((sent_mean + 24.0) * 8.0)).abs() < 1e-6, "asked {asked} pps");
    assert_eq!(f(&v, "/settings/generator/mean_len"), sent_mean);
    let settings = &v["settings"]["generator"];
    assert!(settings["pkt_len"].is_null() && settings["flows"].is_null() && settings["src_ip"].is_null(), "{settings}");
    assert_eq!(u(&v, "/pkt_len"), 100, "the longest frame sent, not the 3000 B one skipped");
    assert_eq!(v["generators"]["rate_held"], Value::Bool(true), "{v}");
    let (long, short) = (u(&v, "/generators/too_long_skipped"), u(&v, "/generators/too_short_skipped"));
    assert!(long >= 10 && short >= 3, "each pass skips 10 frames too long and 3 runts: {long} {short}");
    assert_eq!(u(&v, "/accounting/unaccounted"), 0);
    let warnings = v["warnings"].as_array().unwrap();
    assert!(
        warnings
            .iter()
            .any(|w| w.as_str().unwrap().contains(&format!("{long} longer than the port allows, {short} shorter"))),
        "{warnings:?}"
    );
}

#[test]
fn replay_at_recorded_timing_takes_as_long_as_the_capture() {
    let input = tmp("slow.pcap");
    let frames: Vec<(Duration, Vec<u8>)> =
        (0..5u32).map(|i| (Duration::from_millis(1000 + 100 * u64::from(i)), numbered_frame(i, 64))).collect();
    write_pcap(&input, &frames);
    let v = json(&["fwd", "--mode", "txonly", "--replay", input.to_str().unwrap(), "--json"]);
    let secs = f(&v, "/generators/seconds");
    assert!((0.4..0.45).contains(&secs), "5 frames 100 ms apart went out over {secs} s");
    assert_eq!(u(&v, "/packets"), 5);
    let v = json(&["fwd", "--mode", "txonly", "--replay", input.to_str().unwrap(), "--rate", "1000", "--json"]);
    let secs = f(&v, "/generators/seconds");
    assert!(secs < 0.05, "at 1000 pps, 5 frames take 4 ms, not the recorded 400 ({secs} s)");
}

#[test]
fn the_live_line_comes_every_stats_period_with_each_port_and_direction() {
    let o = pktloop(&["fwd", "--mode", "txonly", "--duration", "1", "--stats-period", "0.25"]);
    assert!(o.status.success());
    let out = String::from_utf8_lossy(&o.stdout);
    let lines: Vec<&str> = out.lines().filter(|l| l.starts_with('[')).collect();
    assert_eq!(lines.len(), 4, "{out}");
    assert!(lines[0].contains("feth0 rx 0.000 tx") && lines[0].contains("feth1 rx"), "{}", lines[0]);
    assert!(lines[0].contains("on the wire") && lines[0].contains("mean 64 B"), "{}", lines[0]);
    let o = pktloop(&["fwd", "--duration", "0.3"]);
    assert!(String::from_utf8_lossy(&o.stdout).contains("both directions added"));
}

#[test]
fn generator_flags_are_checked_with_one_line_naming_flag_value_and_range() {
    let missing = tmp("missing.pcap");
    let cases: &[(&[&str], &[&str])] = &[
        (&["fwd", "--mode", "txonly", "--rate", "fast"], &["--rate fast", "valid is", "Mpps"]),
        (&["fwd", "--mode", "txonly", "--rate", "0"], &["--rate 0", "positive"]),
        (&["fwd", "--mode", "txonly", "--count", "0"], &["--count 0", "1..=1000000000000"]),
        (&["fwd", "--mode", "txonly", "--pkt-len", "40-100"], &["--pkt-len 40-100", "40", "60..=1518"]),
        (&["fwd", "--mode", "txonly", "--pkt-len", "64:0"], &["--pkt-len 64:0", "weight"]),
        (&["fwd", "--mode", "flowgen", "--src-ip", "1.2.3"], &["--src-ip 1.2.3", "A.B.C.D"]),
        (&["fwd", "--mode", "flowgen", "--src-port", "9-1"], &["--src-port 9-1", "empty"]),
        (&["fwd", "--mode", "flowgen", "--src-port", "1-4", "--flows", "5"], &["--flows 5", "1..=4"]),
        (
            &["fwd", "--mode", "txonly", "--src-ip", "1.1.1.1-1.1.1.2"],
            &["--src-ip 1.1.1.1-1.1.1.2", "range", "flowgen"],
        ),
        (&["fwd", "--mode", "io", "--rate", "1000"], &["--rate 1000", "txonly"]),
        (&["fwd", "--mode", "io", "--dst-port", "7"], &["--dst-port 7", "txonly"]),
        (&["fwd", "--mode", "txonly", "--flow-order", "random"], &["--flow-order random", "flowgen"]),
        (&["fwd", "--mode", "flowgen", "--dst-mac", "02-00-00-00-00-01-x"], &["--dst-mac 02-00", "XX-XX"]),
        (&["fwd", "--mode", "icmpecho", "--pkt-len", "1519"], &["--pkt-len 1519", "one length 60..=1518"]),
        (&["fwd", "--mode", "txonly", "--replay", missing.to_str().unwrap()], &["--replay", "cannot read it"]),
        (&["fwd", "--mode", "txonly", "--replay-loops", "2"], &["--replay-loops", "--replay FILE"]),
        (&["fwd", "--mode", "txonly", "--stats-period", "0"], &["--stats-period 0", "0.1..=3600"]),
        (&["fwd", "--mode", "icmpecho", "--pkt-len", "imix"], &["--pkt-len imix", "one length"]),
        (&["latency", "--pkt-len", "64-128"], &["--pkt-len 64-128", "one length"]),
    ];
    for (args, needles) in cases {
        usage_error(args, needles);
    }
}

#[test]
fn the_interactive_prompt_is_scripted_through_a_pipe() {
    use std::io::Write;
    let _guard = serial();
    let mut child = spawn_piped(&["fwd", "-i", "--mode", "txonly"]);
    let mut stdin = child.stdin.take().unwrap();
    let mut say = |line: &str, wait_ms: u64| {
        writeln!(stdin, "{line}").unwrap();
        std::thread::sleep(Duration::from_millis(wait_ms));
    };
    say("show port stats", 0);
    say("start", 300);
    say("set rate 10kpps", 100);
    say("clear stats", 1000);
    say("show port stats", 0);
    say("set rate fast", 0);
    say("set rate 1e20", 0);
    say("frobnicate", 0);
    say("stop", 0);
    say("quit", 0);
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.split("pktloop> ").map(str::trim).collect();
    assert_eq!(lines[1], "not started", "{text}");
    assert!(lines[2].starts_with("started: mode txonly on feth0, feth1"), "{text}");
    assert_eq!(lines[3], "rate: 10.000 kpps per generator port");
    assert_eq!(lines[4], "stats cleared");
    // About a second at 10 kpps since the counters were cleared (the rate turned while running).
    let sent: u64 = lines[5].split("TX-packets ").nth(1).and_then(|t| t.split(' ').next()).unwrap().parse().unwrap();
    assert!((9_000..=11_500).contains(&sent), "{sent} sent in about a second at 10 kpps: {}", lines[5]);
    assert!(lines[6].starts_with("invalid rate fast"), "{}", lines[6]);
    assert!(lines[7].starts_with("invalid rate 1e20: more than any port moves"), "bounded as --rate is: {}", lines[7]);
    assert!(lines[8].starts_with("unknown command `frobnicate`"));
    assert!(lines[9].contains("NIC statistics for port feth0") && lines[9].contains("unaccounted 0"), "{}", lines[9]);
}

#[test]
fn queues_and_pairs_give_every_worker_its_own_queue_and_rss_spreads_flows() {
    let names = |v: &Value| -> Vec<String> {
        v["ports"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap().to_owned()).collect()
    };
    // Two queue pairs, a worker per queue pair: each generator queue makes its half of the port's count.
    let v = json(&["fwd", "--mode", "txonly", "--rxq", "2", "--cores", "2", "--count", "1000", "--json"]);
    assert_eq!(names(&v), ["feth0q0", "feth1q0", "feth0q1", "feth1q1"]);
    assert_eq!(u(&v, "/accounting/generated"), 1000);
    for q in [1, 3] {
        assert_eq!(u(&v, &format!("/ports/{q}/rx_packets")), 500, "receiving queue {q}");
    }
    // Two pairs: each pair's port 0 generates its own count.
    let v = json(&["fwd", "--mode", "txonly", "--pairs", "2", "--cores", "2", "--count", "1000", "--json"]);
    assert_eq!(names(&v).len(), 4);
    assert_eq!(u(&v, "/accounting/generated"), 2000);
    assert_eq!(u(&v, "/generators/ports"), 2);
    // RSS: one sending queue's flows land on every receiving queue.
    let v = json(&[
        "fwd",
        "--mode",
        "flowgen",
        "--rxq",
        "4",
        "--rss",
        "--cores",
        "4",
        "--allow-shared-cores",
        "--src-port",
        "1-64",
        "--count",
        "4000",
        "--json",
    ]);
    let received: Vec<u64> = (0..4).map(|q| u(&v, &format!("/ports/{}/rx_packets", 2 * q + 1))).collect();
    assert_eq!(received.iter().sum::<u64>(), 4000);
    assert!(received.iter().all(|r| *r > 0), "every queue receives: {received:?}");
    assert_eq!(u(&v, "/accounting/unaccounted"), 0);
}

#[test]
fn txonly_frames_carry_the_addresses_asked_for() {
    let pcap = tmp("addr.pcap");
    json(&[
        "fwd",
        "--mode",
        "txonly",
        "--src-ip",
        "10.1.2.3",
        "--dst-ip",
        "10.9.8.7",
        "--src-port",
        "4000",
        "--dst-port",
        "5555",
        "--src-mac",
        "02:aa:bb:cc:dd:ee",
        "--count",
        "5",
        "--json",
        "--pcap",
        pcap.to_str().unwrap(),
    ]);
    let sent = frames_going(&pcap, OUTBOUND);
    assert_eq!(sent.len(), 5);
    for (_, f) in sent {
        assert_eq!(f[6..12], [0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0xee]);
        assert_eq!((&f[26..30], &f[30..34]), (&[10, 1, 2, 3][..], &[10, 9, 8, 7][..]));
        assert_eq!((u16::from_be_bytes([f[34], f[35]]), u16::from_be_bytes([f[36], f[37]])), (4000, 5555));
    }
}

#[test]
fn rate_verdicts_count_intervals_and_physical_ports() {
    // 50 packets at 1000 pps span 49 intervals: held, not "exceeded".
    let v = json(&["fwd", "--mode", "txonly", "--rate", "1000", "--count", "50", "--json"]);
    assert_eq!(v.pointer("/generators/rate_held"), Some(&Value::Bool(true)), "{}", v["generators"]);
    // Two queues share one port's rate: one port, held. (A low rate: each queue's bucket then holds 64 ms,
    // so two busy workers on two cores keep it even when something else takes a core for a while.)
    let v =
        json(&["fwd", "--mode", "txonly", "--rate", "1000", "--count", "1000", "--rxq", "2", "--cores", "2", "--json"]);
    assert_eq!(u(&v, "/generators/ports"), 1);
    assert_eq!(v.pointer("/generators/rate_held"), Some(&Value::Bool(true)), "{}", v["generators"]);
}

#[test]
fn frames_that_cannot_fit_are_refused_at_start_or_counted_never_sent_short() {
    usage_error(
        &["fwd", "--mode", "txonly", "--pkt-len", "2020", "--mtu", "2048", "--max-mtu", "2048", "--count", "10"],
        &["--pkt-len 2020", "holds at most 2016 B"],
    );
    usage_error(
        &["fwd", "--mode", "io", "--pkt-len", "2020", "--mtu", "2048", "--max-mtu", "2048"],
        &["--pkt-len 2020", "2016"],
    );
    let input = tmp("big.pcap");
    let lens = [2060usize, 2000, 1600];
    let frames: Vec<(Duration, Vec<u8>)> =
        lens.iter().enumerate().map(|(i, l)| (Duration::from_micros(i as u64), numbered_frame(i as u32, *l))).collect();
    write_pcap(&input, &frames);
    let out = tmp("big-out.pcap");
    let v = json(&[
        "fwd",
        "--mode",
        "txonly",
        "--replay",
        input.to_str().unwrap(),
        "--mtu",
        "2048",
        "--max-mtu",
        "2048",
        "--replay-timing",
        "asap",
        "--json",
        "--pcap",
        out.to_str().unwrap(),
    ]);
    assert_eq!(u(&v, "/generators/too_long_skipped"), 1, "2060 B fits the MTU but not a 2016 B buffer");
    let got: Vec<usize> = frames_going(&out, INBOUND).iter().map(|(_, f)| f.len()).collect();
    assert_eq!(got, [2000, 1600]);
    // A capture none of whose frames fits is refused, whatever the loops.
    let long = tmp("long.pcap");
    write_pcap(&long, &[(Duration::ZERO, numbered_frame(0, 2000))]);
    usage_error(
        &["fwd", "--mode", "txonly", "--replay", long.to_str().unwrap(), "--replay-loops", "0", "--count", "10"],
        &["--replay", "none of its 1 frames fits"],
    );
}

#[test]
fn combinations_that_could_never_finish_or_spread_are_refused_and_rss_spreads_forwarding() {
    usage_error(
        &["fwd", "--mode", "icmpecho", "--rxq", "2", "--rss", "--cores", "2", "--count", "10"],
        &["--rss", "icmpecho", "--rxq 1"],
    );
    usage_error(&["fwd", "--mode", "icmpecho", "--src-ip", "10.0.0.1"], &["--src-ip 10.0.0.1", "icmpecho"]);
    let pcap = tmp("one.pcap");
    write_pcap(&pcap, &[(Duration::ZERO, numbered_frame(0, 64))]);
    usage_error(
        &["fwd", "--mode", "txonly", "--replay", pcap.to_str().unwrap(), "--dst-port", "5"],
        &["--replay", "with --dst-port 5", "the capture gives the frames"],
    );
    usage_error(
        &["fwd", "--mode", "txonly", "--replay", pcap.to_str().unwrap(), "--rxq", "2", "--cores", "2"],
        &["--replay", "--rxq 2", "valid is --rxq 1"],
    );
    let v = json(&["fwd", "--mode", "io", "--rxq", "2", "--rss", "--cores", "2", "--duration", "0.5", "--json"]);
    for q in 0..4 {
        assert!(u(&v, &format!("/ports/{q}/rx_packets")) > 0, "queue port {q} receives: {}", v["ports"]);
    }
}

#[test]
fn ctrl_c_at_the_prompt_stops_the_run_and_prints_its_report() {
    let _guard = serial();
    let mut child = spawn_piped(&["fwd", "-i", "--mode", "txonly"]);
    let mut stdin = child.stdin.take().unwrap();
    std::io::Write::write_all(&mut stdin, b"start\n").unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let kill = std::process::Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(kill.success());
    // stdin stays open: only Ctrl-C can end the session here.
    let start = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        assert!(start.elapsed() < Duration::from_secs(10), "the prompt ignored Ctrl-C");
        std::thread::sleep(Duration::from_millis(50));
    }
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("unaccounted 0") && text.contains("buffers leaked after teardown: 0"), "{text}");
}

#[test]
fn a_count_stopped_at_the_prompt_is_said_to_be_stopped_not_out_of_time() {
    let _guard = serial();
    let mut child = spawn_piped(&["fwd", "-i", "--mode", "txonly", "--count", "1000000000", "--rate", "1000"]);
    let mut stdin = child.stdin.take().unwrap();
    std::io::Write::write_all(&mut stdin, b"start\n").unwrap();
    std::thread::sleep(Duration::from_millis(200));
    std::io::Write::write_all(&mut stdin, b"stop\nquit\n").unwrap();
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("per port): the run was stopped first"), "no --duration was given: {text}");
}

#[test]
fn frames_a_capture_cut_short_are_a_warning_of_the_report_and_its_json() {
    let input = tmp("snapped.pcap");
    let header = pcap_file::pcap::PcapHeader {
        ts_resolution: pcap_file::TsResolution::NanoSecond,
        ..pcap_file::pcap::PcapHeader::default()
    };
    let mut w = pcap_file::pcap::PcapWriter::with_header(std::fs::File::create(&input).unwrap(), header).unwrap();
    for i in 0..4u32 {
        // Frames 1 and 3 were 1000 bytes on the wire, 96 captured (`tcpdump -s 96`).
        let (data, orig) = (numbered_frame(i, 96), if i % 2 == 1 { 1000 } else { 96 });
        w.write_packet(&pcap_file::pcap::PcapPacket::new(Duration::from_micros(u64::from(i)), orig, &data)).unwrap();
    }
    drop(w);
    let v = json(&["fwd", "--mode", "txonly", "--replay", input.to_str().unwrap(), "--json"]);
    let warnings = v["warnings"].as_array().unwrap();
    assert!(warnings.iter().any(|w| w.as_str().unwrap().starts_with("2 frames of the capture were cut short")), "{v}");
    assert_eq!(u(&v, "/generators/generated"), 4, "they go out as captured");
}
