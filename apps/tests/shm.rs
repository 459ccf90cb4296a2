//! Two processes over a shared-memory pair: the pktloop binary on one or both sides. Counts agree end to
//! end; a client killed with SIGKILL at random moments, twenty times, costs the server nothing (the link
//! goes down within 100 ms, every buffer comes back, every packet sent is delivered or counted as lost
//! with the peer) and the next client picks up where it left.

mod common;

use common::{serial, stderr, tmp};
use pktloop_engine::mem::Prefer;
use pktloop_engine::pool::PoolConfig;
use pktloop_engine::port::{DropReason, LinkState};
use pktloop_engine::{PacketBurst, Port};
use pktloop_pmd::shm::{Role, ShmConfig, ShmPort};
use serde_json::Value;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Starts `pktloop args`, its JSON report on stdout.
fn spawn(args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_pktloop"))
        .args(args)
        .env("PKTLOOP_NO_HUGEPAGES", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start pktloop")
}

/// Waits for a run to end and reads its one JSON line.
fn report(child: Child) -> Value {
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "run failed: {}", stderr(&out));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", stderr(&out)))
}

fn wait_for_endpoint(path: &Path) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !path.exists() {
        assert!(Instant::now() < deadline, "the server never made its endpoint");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// An in-process server at a fresh endpoint named after `name`, its pool's buffers with `headroom`; and the
/// `--port` value that reaches it.
fn server_in_process(name: &str, headroom: u32) -> (ShmPort, String) {
    let path = tmp(&format!("{name}.sock"));
    let mut pool = PoolConfig::new(name, 2048, 2048);
    pool.headroom = headroom;
    pool.prefer = Prefer::Normal;
    let server = ShmPort::open(&ShmConfig::new(&path, Role::Server), pool).unwrap();
    (server, format!("shm:{}", path.display()))
}

fn port(v: &Value) -> &Value {
    &v["ports"][0]
}

#[test]
fn txonly_in_one_process_and_rxonly_in_another_agree_on_every_packet() {
    let _guard = serial();
    let path = tmp("agree.sock");
    let endpoint = format!("shm:{}", path.display());
    let server =
        spawn(&["fwd", "--mode", "rxonly", "--port", &endpoint, "--role", "server", "--duration", "8", "--json"]);
    wait_for_endpoint(&path);
    let client =
        spawn(&["fwd", "--mode", "txonly", "--port", &endpoint, "--role", "client", "--count", "300000", "--json"]);
    let (client, server) = (report(client), report(server));
    assert_eq!(port(&client)["tx_packets"], 300_000, "{client}");
    assert_eq!(port(&server)["rx_packets"], 300_000, "{server}");
    assert_eq!(port(&client)["shm"]["tx_copied"], 0, "the client's frames crossed in its own buffers");
    assert_eq!(port(&server)["rx_errors"], 0);
    for side in [&client, &server] {
        assert_eq!(side["accounting"]["buffers_leaked"], 0, "{side}");
        assert_eq!(side["accounting"]["unaccounted"], 0, "{side}");
        assert_eq!(port(side)["drops"]["peer_lost"], 0, "{side}");
        assert_eq!(side["hot_path_allocations"], 0, "connecting is control work; the loops allocate nothing");
    }
}

/// A peer slow to take the last packets (here: not polling at all for a second) is waited for, so the
/// sender's report counts them as sent, not as lost with the peer; a run once ended 50 ms after the last
/// packet moved, whether or not the peer had taken it.
#[test]
fn a_count_run_waits_for_a_slow_peer_to_take_its_last_packets() {
    let _guard = serial();
    let (mut server, endpoint) = server_in_process("slow", 0);
    let client =
        spawn(&["fwd", "--mode", "txonly", "--port", &endpoint, "--role", "client", "--count", "200", "--json"]);
    std::thread::sleep(Duration::from_secs(1));
    let (mut got, mut inbox) = (0, PacketBurst::new());
    let deadline = Instant::now() + Duration::from_secs(5);
    while got < 200 && Instant::now() < deadline {
        got += server.rx_burst(0, &mut inbox, 32);
        inbox.clear();
    }
    let client = report(client);
    assert_eq!(got, 200, "the server received every packet");
    assert_eq!(port(&client)["tx_packets"], 200, "{client}");
    assert_eq!(port(&client)["drops"]["peer_lost"], 0, "{client}");
    assert_eq!(client["accounting"]["unaccounted"], 0, "{client}");
}

/// What the in-process server's polling thread saw.
#[derive(Default)]
struct Seen {
    /// When the link went down, each time.
    downs: Vec<Instant>,
    /// Packets the server's port took to send.
    taken: u64,
}

/// Polls `server` until `stop`: sends its own packets as fast as the ring takes them, frees what arrives,
/// records link changes and how many packets the port took.
fn serve(mut server: ShmPort, stop: Arc<AtomicBool>, seen: Arc<Mutex<Seen>>) -> ShmPort {
    let mut link = server.link();
    let mut out = PacketBurst::new();
    while !stop.load(Ordering::Relaxed) {
        if out.is_empty() {
            server.tx_pool().alloc_bulk(&mut out, 32);
            for p in out.iter_mut() {
                p.append(&[0x5a; 64]).unwrap();
            }
        }
        let taken = server.tx_burst(0, &mut out);
        seen.lock().unwrap().taken += taken as u64;
        let mut inbox = PacketBurst::new();
        server.rx_burst(0, &mut inbox, 32);
        let now = server.link();
        if now != link {
            if now == LinkState::Down {
                seen.lock().unwrap().downs.push(Instant::now());
            }
            link = now;
        }
    }
    drop(out);
    server
}

#[test]
fn a_server_survives_twenty_clients_killed_at_random_moments() {
    let _guard = serial();
    let (server, endpoint) = server_in_process("kill", 128);
    let (counters, shm, server_pool) =
        (server.counters().clone(), server.shm_counters().clone(), server.tx_pool().clone());

    let (stop, seen) = (Arc::new(AtomicBool::new(false)), Arc::new(Mutex::new(Seen::default())));
    let poller = {
        let (stop, seen) = (stop.clone(), seen.clone());
        std::thread::spawn(move || serve(server, stop, seen))
    };
    let mut rng = fastrand::Rng::with_seed(20);
    let (mut killed_connected, mut worst) = (0, Duration::ZERO);
    for round in 0..20 {
        let sessions = shm.sessions();
        let mut client = spawn(&["fwd", "--mode", "io", "--port", &endpoint, "--role", "client", "--duration", "60"]);
        // Any moment: before the connection, during it, or well into the traffic.
        std::thread::sleep(Duration::from_millis(rng.u64(0..400)));
        let connected = shm.sessions() > sessions;
        let downs_before = seen.lock().unwrap().downs.len();
        client.kill().unwrap();
        let killed_at = Instant::now();
        client.wait().unwrap();
        if !connected {
            continue;
        }
        killed_connected += 1;
        let deadline = killed_at + Duration::from_secs(2);
        let down = loop {
            if let Some(&t) = seen.lock().unwrap().downs.get(downs_before) {
                break t;
            }
            assert!(Instant::now() < deadline, "round {round}: the link never went down");
            std::thread::sleep(Duration::from_millis(1));
        };
        let took = down.saturating_duration_since(killed_at);
        worst = worst.max(took);
        assert!(took <= Duration::from_millis(100), "round {round}: link down {took:?} after the kill");
    }
    // Traffic resumes with the next client.
    let last =
        spawn(&["fwd", "--mode", "rxonly", "--port", &endpoint, "--role", "client", "--duration", "1", "--json"]);
    let last = report(last);
    stop.store(true, Ordering::Relaxed);
    let mut server = poller.join().unwrap();
    // Let the server see the last client go and take its buffers back.
    let deadline = Instant::now() + Duration::from_secs(2);
    while server.link() == LinkState::Up || server_pool.in_use() > 0 {
        assert!(Instant::now() < deadline, "the server never took everything back: {} out", server_pool.in_use());
        let mut inbox = PacketBurst::new();
        server.rx_burst(0, &mut inbox, 32);
    }
    let s = counters.snapshot();
    let (taken, lost, no_peer) =
        (seen.lock().unwrap().taken, s.dropped(DropReason::PeerLost), s.dropped(DropReason::NoPeer));
    eprintln!(
        "20 clients, {killed_connected} killed while connected (link down at worst {worst:?} after the kill); \
         server port took {taken} = sent {} + lost with the peer {lost} + no peer {no_peer}; the last client \
         received {}",
        s.opackets,
        port(&last)["rx_packets"]
    );
    assert!(killed_connected >= 10, "most kills land while connected ({killed_connected} of 20)");
    assert_eq!(server_pool.in_use(), 0, "every server buffer back");
    assert_eq!(taken, s.opackets + lost + no_peer, "every packet taken: received by a peer, or dropped by reason");
    assert!(port(&last)["rx_packets"].as_u64().unwrap() > 0, "traffic resumed: {last}");
    assert_eq!(s.ierrors, 0, "a killed peer leaves nothing malformed");
}

#[test]
fn the_pktloop_server_reports_every_buffer_back_after_its_clients_were_killed() {
    let _guard = serial();
    let path = tmp("cli-kill.sock");
    let endpoint = format!("shm:{}", path.display());
    let server =
        spawn(&["fwd", "--mode", "txonly", "--port", &endpoint, "--role", "server", "--duration", "5", "--json"]);
    wait_for_endpoint(&path);
    for delay in [150, 300, 450] {
        let mut client =
            spawn(&["fwd", "--mode", "rxonly", "--port", &endpoint, "--role", "client", "--duration", "60"]);
        std::thread::sleep(Duration::from_millis(delay));
        client.kill().unwrap();
        client.wait().unwrap();
    }
    let server = report(server);
    let p = port(&server);
    assert_eq!(server["accounting"]["buffers_leaked"], 0, "{server}");
    assert_eq!(server["accounting"]["unaccounted"], 0, "{server}");
    assert_eq!(p["shm"]["sessions"], 3, "{server}");
    assert!(p["tx_packets"].as_u64().unwrap() > 0, "{server}");
    assert!(p["drops"]["peer_lost"].as_u64().unwrap() > 0, "clients killed with packets on the ring: {server}");
}

#[test]
fn role_and_port_mistakes_are_one_line_usage_errors() {
    let path = tmp("mistakes.sock");
    let endpoint = format!("shm:{}", path.display());
    common::usage_error(&["fwd", "--port", &endpoint, "--duration", "1"], &["--port shm:PATH needs --role"]);
    common::usage_error(
        &["fwd", "--role", "server", "--duration", "1"],
        &["--role server", "applies to shm ports only"],
    );
    common::usage_error(&["fwd", "--port", &endpoint, "--role", "client", "--duration", "1"], &["no shm server at"]);
    common::usage_error(&["fwd", "--port", "shm:", "--duration", "1"], &["a socket path after the colon"]);
}

#[test]
fn a_client_with_another_mtu_is_refused_naming_the_setting_and_both_values() {
    let _guard = serial();
    let path = tmp("mtu.sock");
    let endpoint = format!("shm:{}", path.display());
    let mut server = spawn(&["fwd", "--mode", "rxonly", "--port", &endpoint, "--role", "server", "--duration", "5"]);
    wait_for_endpoint(&path);
    let out = Command::new(env!("CARGO_BIN_EXE_pktloop"))
        .args(["fwd", "--port", &endpoint, "--role", "client", "--mtu", "9000", "--max-mtu", "9000", "--duration", "1"])
        .env("PKTLOOP_NO_HUGEPAGES", "1")
        .output()
        .unwrap();
    server.kill().unwrap();
    server.wait().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("mtu differs (server 1500, client 9000)"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
}
