//! `pktloop fwd --port tap` against the kernel: the system's own ping answered by icmpecho, frames sent
//! into a namespace, frames from it counted. Each test moves pktloop's TAP interface into a namespace of
//! its own (deleted however the test ends). They need root, /dev/net/tun and iproute2 (and ping), and
//! print why they skipped where those are missing.

#[path = "../../pmd/tests/kernel/mod.rs"]
mod kernel;

use kernel::Netns;
use serde_json::Value;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Runs are serialised: their workers pin to the same cores.
static SERIAL: Mutex<()> = Mutex::new(());

/// Starts `pktloop fwd --port tap --json` with a TAP interface of a unique name and `args`; returns the
/// process and the interface name once the interface exists.
fn start(args: &[&str]) -> (Child, String) {
    let name = format!("pkt{}", kernel::tag());
    let child = Command::new(env!("CARGO_BIN_EXE_pktloop"))
        .args(["fwd", "--port", "tap", "--tap-name", &name, "--json"])
        .args(args)
        .env("PKTLOOP_NO_HUGEPAGES", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start pktloop");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !std::path::Path::new(&format!("/sys/class/net/{name}")).exists() {
        assert!(Instant::now() < deadline, "{name} never appeared");
        std::thread::sleep(Duration::from_millis(10));
    }
    (child, name)
}

/// Ends the run early (Ctrl-C) and returns its JSON report.
fn finish(child: Child) -> Value {
    let pid = child.id().to_string();
    Command::new("kill").args(["-INT", &pid]).status().expect("kill");
    let out = child.wait_with_output().expect("pktloop ends");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "pktloop failed: {err}");
    // No allocation check here (tests/wire.rs makes it for TAP ports too): these runs move the interface
    // into another namespace while it runs, and the port then looks up its name and control socket again,
    // a control-path recovery that allocates inside the worker by design.
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {err}"))
}

fn has(cmd: &str) -> bool {
    Command::new("sh").args(["-c", &format!("command -v {cmd}")]).output().is_ok_and(|o| o.status.success())
}

#[test]
fn the_systems_ping_gets_five_replies_and_pktloops_counters_agree() {
    require_kernel!();
    if !has("ping") {
        eprintln!("skipped: ping (iputils-ping) is not installed");
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let (child, name) = start(&["--mode", "icmpecho", "--ip", "198.18.0.2/24", "--duration", "30"]);
    let ns = Netns::new();
    ns.adopt(&name, "198.18.0.1/24");
    let ping = ns.try_exec(&["ping", "-c", "5", "-i", "0.2", "-W", "2", "198.18.0.2"]);
    let report = finish(child);
    let text = String::from_utf8_lossy(&ping.stdout);
    assert!(text.contains("5 packets transmitted, 5 received"), "{text}");
    let port = &report["ports"][0];
    // In: one ARP request and five echo requests (plus whatever the interface heard before it moved,
    // which icmpecho ignores); out: one ARP reply and five echo replies.
    assert_eq!(report["icmpecho"]["answered"], 6, "{report}");
    assert_eq!(port["tx_packets"], 6, "{report}");
    let ignored = report["icmpecho"]["ignored"].as_u64().unwrap();
    assert_eq!(port["rx_packets"].as_u64().unwrap(), 6 + ignored, "{report}");
    assert_eq!(report["accounting"]["unaccounted"], 0, "{report}");
    assert_eq!(report["accounting"]["buffers_leaked"], 0, "{report}");
    assert_eq!(port["tap"]["io"], "io_uring", "{report}");
    assert_eq!(report["hot_path_allocations"], 0, "the TAP port's rx and tx allocate nothing: {report}");
}

#[test]
fn txonly_frames_reach_the_namespace_and_rxonly_counts_its_frames() {
    require_kernel!();
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    for io in ["io-uring", "readv"] {
        let (child, name) = start(&["--mode", "txonly", "--tap-io", io, "--duration", "30"]);
        let ns = Netns::new();
        ns.adopt(&name, "198.18.0.1/24");
        let deadline = Instant::now() + Duration::from_secs(5);
        while ns.stat(&name, "rx_packets") < 10_000 {
            assert!(Instant::now() < deadline, "the kernel saw too few frames");
            std::thread::sleep(Duration::from_millis(20));
        }
        let report = finish(child);
        let port = &report["ports"][0];
        assert!(port["tx_packets"].as_u64().unwrap() >= 10_000, "{report}");
        assert_eq!(report["accounting"]["unaccounted"], 0, "{report}");
        let expected = if io == "readv" { "readv/writev" } else { "io_uring" };
        assert_eq!(port["tap"]["io"], expected);
        assert_eq!(report["hot_path_allocations"], 0, "{io}: the TAP port's tx allocates nothing: {report}");
    }

    let (child, name) = start(&["--mode", "rxonly", "--duration", "30"]);
    let ns = Netns::new();
    ns.adopt(&name, "198.18.0.1/24");
    let frame = |i: u8| [vec![0xff; 6], vec![2, 0, 0, 0, 0, i], vec![0x88, 0xb5], vec![i; 46]].concat();
    ns.inject(&name, &(0..50).map(frame).collect::<Vec<_>>());
    std::thread::sleep(Duration::from_millis(200));
    let report = finish(child);
    let received = report["ports"][0]["rx_packets"].as_u64().unwrap();
    assert!(received >= 50, "{report}");
    assert_eq!(report["packets"].as_u64().unwrap(), received, "{report}");
    assert_eq!(report["hot_path_allocations"], 0, "the TAP port's rx allocates nothing: {report}");
}

#[test]
fn without_cap_net_admin_the_error_says_what_is_missing_and_exits_2() {
    require_kernel!();
    if !has("setpriv") {
        eprintln!("skipped: setpriv (util-linux) is not installed");
        return;
    }
    let out = Command::new("setpriv")
        .args(["--bounding-set=-net_admin", "--inh-caps=-net_admin", env!("CARGO_BIN_EXE_pktloop")])
        .args(["fwd", "--port", "tap", "--duration", "1"])
        .env("PKTLOOP_NO_HUGEPAGES", "1")
        .output()
        .expect("setpriv");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("CAP_NET_ADMIN") && err.contains("setcap cap_net_admin+ep"), "{err}");
}
