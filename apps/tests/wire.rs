//! `pktloop fwd --port afpacket:IFNAME` and `--port afxdp:IFNAME` against the kernel: the system's own ping
//! answered by icmpecho on each kind, and pktloop's txonly on one end of a veth pair counted by pktloop's
//! rxonly on the other (AF_PACKET to AF_XDP and back), both checked against the kernel's interface
//! counters. Each test makes two namespaces joined by a veth pair (deleted however the test ends). They
//! need root, iproute2 and ping, and print why they skipped where those are missing.

#[path = "../../pmd/tests/kernel/mod.rs"]
mod kernel;

use kernel::{Netns, Wire};
use serde_json::Value;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Runs are serialised: their workers pin to the same cores.
static SERIAL: Mutex<()> = Mutex::new(());

/// Starts `pktloop fwd --json` with `args` inside namespace `ns`.
fn start(ns: &Netns, args: &[&str]) -> Child {
    Command::new("ip")
        .args(["netns", "exec", &ns.name, env!("CARGO_BIN_EXE_pktloop"), "fwd", "--json"])
        .args(args)
        .env("PKTLOOP_NO_HUGEPAGES", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start pktloop")
}

/// Waits for a run's end (sending Ctrl-C first when `interrupt`) and returns its JSON report.
fn finish(child: Child, interrupt: bool) -> Value {
    if interrupt {
        Command::new("kill").args(["-INT", &child.id().to_string()]).status().expect("kill");
    }
    let out = child.wait_with_output().expect("pktloop ends");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "pktloop failed: {err}");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {err}"));
    // The ports' rx and tx inside the poll loops allocate nothing (the binary's allocator counts it).
    if let Some(n) = report.get("hot_path_allocations") {
        assert_eq!(n, 0, "allocations in the poll loops: {report}");
    }
    report
}

/// Waits until a port of `kind` has opened on `ifname` in `ns`: the XDP program is attached (afxdp), or
/// a packet socket exists in the namespace (afpacket).
fn wait_open(ns: &Netns, kind: &str, ifname: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let ready = if kind == "afxdp" {
            let out = ns.try_exec(&["ip", "link", "show", "dev", ifname]);
            String::from_utf8_lossy(&out.stdout).contains("xdp")
        } else {
            let out = ns.try_exec(&["cat", "/proc/net/packet"]);
            String::from_utf8_lossy(&out.stdout).lines().count() > 1
        };
        if ready {
            return;
        }
        assert!(Instant::now() < deadline, "pktloop's {kind} port on {ifname} never opened");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn has(cmd: &str) -> bool {
    Command::new("sh").args(["-c", &format!("command -v {cmd}")]).output().is_ok_and(|o| o.status.success())
}

#[test]
fn the_systems_ping_gets_five_replies_from_icmpecho_on_each_kind() {
    require_kernel!();
    if !has("ping") {
        eprintln!("skipped: ping (iputils-ping) is not installed");
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    for kind in ["afpacket", "afxdp"] {
        let w = Wire::new();
        let port = format!("{kind}:{}", w.b);
        let child =
            start(&w.ns_b, &["--port", &port, "--mode", "icmpecho", "--ip", "198.18.0.2/24", "--duration", "30"]);
        wait_open(&w.ns_b, kind, &w.b);
        let ping = w.ns_a.try_exec(&["ping", "-c", "5", "-i", "0.2", "-W", "2", "198.18.0.2"]);
        let report = finish(child, true);
        let text = String::from_utf8_lossy(&ping.stdout);
        assert!(text.contains("5 packets transmitted, 5 received"), "{kind}: {text}");
        let port = &report["ports"][0];
        // Out: one ARP reply and five echo replies (the kernel may ask ARP again: at least six).
        assert!(report["icmpecho"]["answered"].as_u64().unwrap() >= 6, "{kind}: {report}");
        assert_eq!(port["tx_packets"], report["icmpecho"]["answered"], "{kind}: {report}");
        assert_eq!(report["accounting"]["unaccounted"], 0, "{kind}: {report}");
        assert_eq!(report["accounting"]["buffers_leaked"], 0, "{kind}: {report}");
        assert!(port[kind]["io"].is_string(), "{kind}: the report says how frames moved: {report}");
    }
}

#[test]
fn xdp_mode_picks_how_frames_move_and_a_mode_the_interface_lacks_is_a_usage_error() {
    require_kernel!();
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let w = Wire::new();
    let port = format!("afxdp:{}", w.b);
    for (mode, io) in [("auto", "copy"), ("copy", "copy"), ("generic", "generic")] {
        let r = finish(
            start(&w.ns_b, &["--port", &port, "--xdp-mode", mode, "--mode", "txonly", "--duration", "0.5"]),
            false,
        );
        assert_eq!(r["ports"][0]["afxdp"]["io"], io, "--xdp-mode {mode}: {r}");
        assert!(r["packets"].as_u64().unwrap() > 0, "--xdp-mode {mode}: {r}");
    }
    // TSO sizes a feth pair's buflets, not the AF_XDP port's buffers beside it in a list (16 KiB ones
    // are no UMEM chunk the kernel takes).
    let list = format!("feth,{port}");
    let r = finish(start(&w.ns_b, &["--port", &list, "--tso", "--allow-shared-cores", "--duration", "0.3"]), false);
    assert!(r["ports"][2]["afxdp"]["io"].is_string(), "{r}");
    let out = Command::new("ip")
        .args(["netns", "exec", &w.ns_b.name, env!("CARGO_BIN_EXE_pktloop"), "fwd", "--port", &port])
        .args(["--xdp-mode", "zero-copy", "--duration", "0.5"])
        .env("PKTLOOP_NO_HUGEPAGES", "1")
        .output()
        .expect("pktloop");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("refused AF_XDP zero-copy") && err.contains("--xdp-mode auto"), "{err}");
}

/// pktloop txonly on `from` (in the sender's namespace) for a second, pktloop rxonly on `to`: every frame
/// sent is received or counted as missed, and both agree with the kernel's counters of the two ends.
fn txonly_to_rxonly(w: &Wire, sender: (&str, &str, &Netns), receiver: (&str, &str, &Netns)) {
    let (tx_kind, tx_if, tx_ns) = sender;
    let (rx_kind, rx_if, rx_ns) = receiver;
    let rx_port = format!("{rx_kind}:{rx_if}");
    let rx = start(rx_ns, &["--port", &rx_port, "--mode", "rxonly", "--duration", "30"]);
    wait_open(rx_ns, rx_kind, rx_if);
    let (tx_before, rx_before) = (tx_ns.stat(tx_if, "tx_packets"), rx_ns.stat(rx_if, "rx_packets"));
    let tx_port = format!("{tx_kind}:{tx_if}");
    let sent = finish(start(tx_ns, &["--port", &tx_port, "--mode", "txonly", "--duration", "1"]), false);
    std::thread::sleep(Duration::from_millis(300));
    let received = finish(rx, true);
    let case = format!("{tx_kind} -> {rx_kind}");
    let sent_n = sent["ports"][0]["tx_packets"].as_u64().unwrap();
    let got = received["ports"][0]["rx_packets"].as_u64().unwrap();
    let missed = received["ports"][0][rx_kind]["missed"].as_u64().unwrap();
    assert!(sent_n > 1000, "{case}: {sent}");
    assert_eq!(tx_ns.stat(tx_if, "tx_packets") - tx_before, sent_n, "{case}: the kernel sent what pktloop did");
    assert_eq!(rx_ns.stat(rx_if, "rx_packets") - rx_before, sent_n, "{case}: and the other end's kernel got them");
    assert_eq!(got + missed, sent_n, "{case}: each received by pktloop or counted missed: {received}");
    assert_eq!(received["packets"].as_u64().unwrap(), got, "{case}: {received}");
    for r in [&sent, &received] {
        assert_eq!(r["accounting"]["unaccounted"], 0, "{case}: {r}");
        assert_eq!(r["accounting"]["buffers_leaked"], 0, "{case}: {r}");
    }
    let _ = w;
}

#[test]
fn txonly_on_one_end_is_counted_by_rxonly_on_the_other_and_by_the_kernel() {
    require_kernel!();
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let w = Wire::new();
    txonly_to_rxonly(&w, ("afpacket", &w.a, &w.ns_a), ("afxdp", &w.b, &w.ns_b));
    txonly_to_rxonly(&w, ("afxdp", &w.b, &w.ns_b), ("afpacket", &w.a, &w.ns_a));
}

#[test]
fn a_missing_or_down_interface_is_a_one_line_usage_error() {
    require_kernel!();
    let w = Wire::new();
    w.ns_b.exec(&["ip", "link", "set", "dev", &w.b, "down"]);
    for kind in ["afpacket", "afxdp"] {
        for (ifname, says) in [("nosuchif0", "no interface"), (w.b.as_str(), "is down")] {
            let port = format!("{kind}:{ifname}");
            let out = Command::new("ip")
                .args(["netns", "exec", &w.ns_b.name, env!("CARGO_BIN_EXE_pktloop"), "fwd", "--port", &port])
                .env("PKTLOOP_NO_HUGEPAGES", "1")
                .output()
                .expect("pktloop");
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{port}: {err}");
            assert_eq!(err.lines().count(), 1, "{port}: {err}");
            assert!(err.contains(says) && err.contains(&format!("invalid --port {port}:1: ")), "{port}: {err}");
        }
    }
}

#[test]
fn every_mode_runs_on_real_interfaces_mixed_with_feth_null_and_tap_and_accounts_for_every_packet() {
    require_kernel!();
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let w = Wire::new();
    // Paired: the real interface and a TAP port share a worker, the feth pair another; then a real
    // interface and a null port.
    let lists = [format!("afxdp:{},tap,feth", w.b), format!("afpacket:{},null", w.b)];
    for list in &lists {
        for mode in ["io", "mac", "macswap", "txonly", "rxonly", "flowgen", "icmpecho"] {
            let args = ["--port", list, "--topology", "paired", "--mode", mode, "--duration", "1"];
            let r = finish(start(&w.ns_b, &args), false);
            let case = format!("--port {list} --mode {mode}");
            assert_eq!(r["accounting"]["unaccounted"], 0, "{case}: {r}");
            assert_eq!(r["accounting"]["buffers_leaked"], 0, "{case}: {r}");
            let ports = r["ports"].as_array().unwrap();
            assert_eq!(ports.len(), if list.starts_with("afxdp") { 4 } else { 2 }, "{case}: {r}");
            // Frames flow wherever something makes them: generators, the feth pair's seeds, null rx.
            if !matches!(mode, "rxonly" | "icmpecho") {
                assert!(r["packets"].as_u64().unwrap() > 0, "{case}: nothing moved: {r}");
            }
        }
    }
}

#[test]
fn without_the_capabilities_the_error_names_the_missing_one_and_exits_2() {
    require_kernel!();
    if !has("setpriv") {
        eprintln!("skipped: setpriv (util-linux) is not installed");
        return;
    }
    let w = Wire::new();
    // AF_PACKET needs CAP_NET_RAW; AF_XDP needs it for its sockets and CAP_BPF (or CAP_SYS_ADMIN) for its
    // program.
    let cases = [
        ("afpacket", "-net_raw", "CAP_NET_RAW"),
        ("afxdp", "-net_raw", "CAP_NET_RAW"),
        ("afxdp", "-bpf,-sys_admin", "CAP_BPF"),
    ];
    for (kind, drop, says) in cases {
        let port = format!("{kind}:{}", w.b);
        let out = Command::new("ip")
            .args(["netns", "exec", &w.ns_b.name, "setpriv", &format!("--bounding-set={drop}")])
            .args([&format!("--inh-caps={drop}"), env!("CARGO_BIN_EXE_pktloop"), "fwd", "--port", &port])
            .env("PKTLOOP_NO_HUGEPAGES", "1")
            .output()
            .expect("setpriv");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{port} without {drop}: {err}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains(says) && err.contains("setcap"), "{port} without {drop}: {err}");
    }
}

#[test]
fn latency_runs_across_a_veth_pair_with_either_kind_at_either_end() {
    require_kernel!();
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    // Both ends in one namespace: the pinger on one, the ponger on the other.
    let ns = Netns::new();
    let t = kernel::tag();
    let (x, y) = (format!("lx{t}"), format!("ly{t}"));
    kernel::veth_pair(&x, &ns, &y, &ns);
    for (ping, pong) in [("afxdp", "afpacket"), ("afpacket", "afxdp"), ("afxdp", "afxdp")] {
        let ports = format!("{ping}:{x},{pong}:{y}");
        let out = Command::new("ip")
            .args(["netns", "exec", &ns.name, env!("CARGO_BIN_EXE_pktloop"), "latency", "--port", &ports])
            .args(["--duration", "1", "--no-peer", "--json"])
            .env("PKTLOOP_NO_HUGEPAGES", "1")
            .output()
            .expect("pktloop latency");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{ports}: {err}");
        let r: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {err}"));
        let received = r["received"].as_u64().unwrap();
        assert!(received > 100, "{ports}: round trips completed: {r}");
        assert!(r["p50_ns"].as_u64().unwrap() > 0, "{r}");
        assert!(r["path"].as_str().unwrap().contains(&x), "{r}");
        assert!(r["foreign"].is_u64(), "frames not the pinger's are counted: {r}");
        let (sent, timeouts) = (r["sent"].as_u64().unwrap(), r["timeouts"].as_u64().unwrap());
        assert!(received + timeouts <= sent && sent <= received + timeouts + 1, "{ports}: at most one in flight: {r}");
    }
}
