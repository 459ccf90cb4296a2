//! The shared-memory port with both sides in this process (the two-process and crash tests drive the
//! pktloop binary: apps/tests/shm.rs): packets cross both ways in place, multi-buflet ones whole; every
//! buffer comes back to its owner; a closed peer takes the link down and its buffers come back; settings
//! that differ are refused by name.

mod common;

use common::{frame_bytes, id_of};
use pktloop_engine::mem::Prefer;
use pktloop_engine::pool::PoolConfig;
use pktloop_engine::port::{DropReason, EventKind, LinkState};
use pktloop_engine::{PacketBurst, Pool, Port};
use pktloop_pmd::shm::{Role, ShmConfig, ShmError, ShmPort};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// A socket path of this test's own.
fn endpoint() -> PathBuf {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    std::env::temp_dir().join(format!(
        "pktloop-shm-{}-{}.sock",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ))
}

fn pool_config(name: &str) -> PoolConfig {
    let mut c = PoolConfig::new(name, 1024, 2048);
    c.headroom = 128;
    c.max_buflets = 4;
    c.prefer = Prefer::Normal;
    c
}

fn config(path: &PathBuf, role: Role) -> ShmConfig {
    ShmConfig { mtu: 6000, ..ShmConfig::new(path, role) }
}

/// A connected server and client (each has seen its link come up).
fn connected() -> (ShmPort, ShmPort, PathBuf) {
    let path = endpoint();
    let server = ShmPort::open(&config(&path, Role::Server), pool_config("server")).unwrap();
    let client = ShmPort::open(&config(&path, Role::Client), pool_config("client")).unwrap();
    let (mut server, mut client) = (server, client);
    poll_until(&mut [&mut server, &mut client], |p| p.iter().all(|p| p.link() == LinkState::Up));
    (server, client, path)
}

/// Polls every port (receiving and freeing, sending nothing) until `done` holds, for at most 5 s.
fn poll_until(ports: &mut [&mut ShmPort], done: impl Fn(&[&mut ShmPort]) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !done(ports) {
        assert!(Instant::now() < deadline, "condition not reached within 5 s");
        for p in ports.iter_mut() {
            let mut burst = PacketBurst::new();
            p.rx_burst(0, &mut burst, 32);
            p.tx_burst(0, &mut PacketBurst::new());
        }
        std::thread::sleep(Duration::from_micros(200));
    }
}

#[test]
fn frames_cross_both_ways_in_place_and_every_buffer_comes_back() {
    let (mut server, mut client, _path) = connected();
    let (server_pool, client_pool) = (server.tx_pool().clone(), client.tx_pool().clone());
    let lens = [60, 1000, 1518, 2100, 5000];
    let (mut next, mut got, mut back) = (0u64, Vec::new(), 0);
    while got.len() < 3000 {
        let mut burst = PacketBurst::new();
        while burst.len() < 16 && next < 3000 {
            let len = lens[next as usize % lens.len()];
            burst.push(client.tx_pool().packet_from(&frame_bytes(next, len)).unwrap());
            next += 1;
        }
        while !burst.is_empty() {
            client.tx_burst(0, &mut burst);
            let mut inbox = PacketBurst::new();
            server.rx_burst(0, &mut inbox, 64);
            // Echo each back: a packet of the client's buffers, which goes home without a copy.
            for p in &inbox {
                let len = lens[id_of(p) as usize % lens.len()];
                assert_eq!(p.to_vec(), frame_bytes(id_of(p), len), "frame {} arrived whole", id_of(p));
                let first = 2048 - 128;
                let buflets = 1 + len.saturating_sub(first).div_ceil(2048);
                assert_eq!(p.buflet_count(), buflets, "frame {} arrived as the chain it was sent as", id_of(p));
            }
            got.extend(inbox.iter().map(id_of));
            while !inbox.is_empty() {
                server.tx_burst(0, &mut inbox);
            }
            let mut echoed = PacketBurst::new();
            client.rx_burst(0, &mut echoed, 64);
            for p in &echoed {
                assert_eq!(p.pool_id(), client_pool.id(), "frame {} came home in the client's own buffers", id_of(p));
                let len = lens[id_of(p) as usize % lens.len()];
                assert_eq!(p.to_vec(), frame_bytes(id_of(p), len));
            }
            back += echoed.len();
        }
    }
    while back < 3000 {
        let mut echoed = PacketBurst::new();
        back += client.rx_burst(0, &mut echoed, 64);
    }
    assert_eq!(got, (0..3000).collect::<Vec<_>>(), "every frame, in order");
    assert_eq!(client.shm_counters().tx_copied(), 0, "the client's own packets crossed in place");
    assert_eq!(server.shm_counters().tx_copied(), 0, "the echoes went home in the client's buffers");
    // A packet counts as sent once its sender learns the peer took it: idle polls learn that.
    poll_until(&mut [&mut server, &mut client], |p| {
        p.iter().all(|p| p.tx_pool().in_use() == 0 && p.stats().opackets == 3000)
    });
    let (s, c) = (server.stats(), client.stats());
    assert_eq!((c.opackets, s.ipackets, s.opackets), (3000, 3000, 3000));
    let bytes: u64 = (0..3000).map(|id| lens[id % lens.len()] as u64).sum();
    assert_eq!((c.obytes, s.ibytes, s.obytes), (bytes, bytes, bytes), "every frame's bytes, counted once");
    assert_eq!(client.stats().dropped(DropReason::PeerLost), 0);
    drop(client);
    poll_until(&mut [&mut server], |p| p[0].link() == LinkState::Down);
    assert_eq!(client_pool.in_use(), 0);
    assert_eq!(server_pool.in_use(), 0);
    assert_eq!(server.stats().ierrors, 0);
}

/// Receives from `port` until `n` packets came, for at most 5 s; their bytes, in order.
fn receive_bytes(port: &mut ShmPort, n: usize) -> Vec<Vec<u8>> {
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut got = Vec::new();
    while got.len() < n {
        assert!(Instant::now() < deadline, "{} of {n} packets within 5 s", got.len());
        let mut inbox = PacketBurst::new();
        port.rx_burst(0, &mut inbox, 32);
        got.extend(inbox.iter().map(|p| p.to_vec()));
    }
    got
}

/// A connected server and client with `ring` slots per ring and MTU `mtu`.
fn connected_with(ring: u32, mtu: u32) -> (ShmPort, ShmPort) {
    let path = endpoint();
    let config = |role| ShmConfig { ring_size: ring, mtu, ..ShmConfig::new(&path, role) };
    let mut server = ShmPort::open(&config(Role::Server), pool_config("server")).unwrap();
    let mut client = ShmPort::open(&config(Role::Client), pool_config("client")).unwrap();
    poll_until(&mut [&mut server, &mut client], |p| p.iter().all(|p| p.link() == LinkState::Up));
    (server, client)
}

/// A frame of `id` whose data no longer starts at the pool's headroom (4 bytes taken off its front): it
/// crosses in two slots, the second saying where the data starts.
fn moved_frame(pool: &Pool, id: u64) -> pktloop_engine::Packet {
    let mut p = pool.packet_from(&frame_bytes(id, 100)).unwrap();
    p.adj(4).unwrap();
    p
}

#[test]
fn plain_frames_and_frames_that_need_more_than_one_slot_cross_in_one_burst_in_order() {
    // The plain frames at the front of a burst go out one slot each with no per-packet call, up to the
    // first that is not plain or is too long for the MTU; the general path takes the rest. Here a plain
    // frame too long (dropped and counted) ends the plain run; frames whose data moved (two slots each)
    // and plain frames with metadata written follow. Every frame but the long one arrives, in order.
    let (mut server, mut client) = connected_with(1024, 1000);
    let pool = client.tx_pool().clone();
    const LONG: u64 = 3;
    let mut burst = PacketBurst::new();
    for id in 0..24u64 {
        let mut p = match id {
            4 | 10 => moved_frame(&pool, id),
            LONG => pool.packet_from(&frame_bytes(id, 1200)).unwrap(),
            _ => pool.packet_from(&frame_bytes(id, 64 + id as usize)).unwrap(),
        };
        if id % 5 == 1 {
            p.meta_mut().packet_id = id;
        }
        burst.push(p);
    }
    let sent: Vec<Vec<u8>> = burst.iter().filter(|p| p.len() != 1200).map(|p| p.to_vec()).collect();
    assert_eq!(client.tx_burst(0, &mut burst), 24, "every frame taken, the long one as a drop");
    assert_eq!(client.stats().dropped(DropReason::MtuExceeded), 1);
    assert_eq!(receive_bytes(&mut server, 23), sent, "every frame but the long one, whole and in order");
    poll_until(&mut [&mut server, &mut client], |p| p.iter().all(|p| p.tx_pool().in_use() == 0));
    assert_eq!(client.stats().opackets, 23);
}

#[test]
fn frames_beyond_the_room_on_the_ring_stay_with_the_caller() {
    let (mut server, mut client) = connected_with(64, 1500);
    let pool = client.tx_pool().clone();
    let plain = |ids: std::ops::Range<u64>| ids.map(|id| pool.packet_from(&frame_bytes(id, 64)).unwrap());
    let mut burst: PacketBurst = plain(0..40).collect();
    assert_eq!(client.tx_burst(0, &mut burst), 40);
    let mut more: PacketBurst = plain(40..64).collect();
    assert_eq!(client.tx_burst(0, &mut more), 24, "as many as the ring has slots left");
    let mut full: PacketBurst = plain(64..80).collect();
    assert_eq!(client.tx_burst(0, &mut full), 0, "a full ring takes nothing, and the burst stays");
    assert_eq!(full.len(), 16);
    assert_eq!(receive_bytes(&mut server, 64), (0..64).map(|id| frame_bytes(id, 64)).collect::<Vec<_>>());

    // 24 slots free: plain frames, then one that takes two slots, then plain ones again. The plain run
    // takes 20; the general path may count only on the 4 slots left (it reckons two per packet), so it
    // takes the moved frame and one more, and the rest waits.
    let mut mixed: PacketBurst = plain(100..140).collect();
    assert_eq!(client.tx_burst(0, &mut mixed), 40);
    let mut tail: PacketBurst = plain(200..220).collect();
    tail.push(moved_frame(&pool, 220));
    tail.extend(plain(221..226));
    let expected: Vec<Vec<u8>> = tail.iter().take(22).map(|p| p.to_vec()).collect();
    assert_eq!(client.tx_burst(0, &mut tail), 22);
    assert_eq!(tail.len(), 4, "the rest stays with the caller");
    let got = receive_bytes(&mut server, 62);
    assert_eq!(got[..40], (100..140).map(|id| frame_bytes(id, 64)).collect::<Vec<_>>()[..]);
    assert_eq!(got[40..], expected[..], "nothing the peer had not read was written over");
    assert_eq!(client.tx_burst(0, &mut tail), 4, "room again once the peer took them");
}

#[test]
fn a_packet_of_another_pool_is_copied_into_the_port_pool() {
    let (mut server, mut client, _path) = connected();
    let mut c = PoolConfig::new("elsewhere", 16, 2048);
    c.prefer = Prefer::Normal;
    let elsewhere = Pool::new(c).unwrap();
    let mut burst = PacketBurst::new();
    burst.push(elsewhere.packet_from(&frame_bytes(7, 300)).unwrap());
    assert_eq!(client.tx_burst(0, &mut burst), 1);
    assert_eq!(elsewhere.in_use(), 0, "the original was freed once copied");
    let mut inbox = PacketBurst::new();
    server.rx_burst(0, &mut inbox, 8);
    assert_eq!(inbox.len(), 1);
    assert_eq!(inbox[0].to_vec(), frame_bytes(7, 300));
    assert_eq!(client.shm_counters().tx_copied(), 1);
    // One queue pair: another queue receives nothing and takes nothing.
    burst.push(elsewhere.packet_from(&frame_bytes(8, 64)).unwrap());
    assert_eq!(client.tx_burst(1, &mut burst), 0);
    assert_eq!(burst.len(), 1, "the packet stays with the caller");
    assert_eq!(client.tx_burst(0, &mut burst), 1);
    inbox.clear();
    assert_eq!(server.rx_burst(1, &mut inbox, 8), 0, "waiting on queue 0, not on queue 1");
    assert_eq!(server.rx_burst(0, &mut inbox, 8), 1);
}

#[test]
fn the_server_takes_back_what_a_departed_client_held_and_counts_what_it_never_took() {
    let (mut server, client, path) = connected();
    let events = server.events().subscribe();
    let mut burst = PacketBurst::new();
    for id in 0..40 {
        burst.push(server.tx_pool().packet_from(&frame_bytes(id, 200)).unwrap());
    }
    assert_eq!(server.tx_burst(0, &mut burst), 40);
    assert_eq!(server.tx_pool().in_use(), 40, "lent to the client");
    // The client never polls: it leaves with all 40 still on the ring (its close waits for nothing it
    // could take, as it takes nothing).
    drop(client);
    poll_until(&mut [&mut server], |p| p[0].link() == LinkState::Down && p[0].tx_pool().in_use() == 0);
    assert_eq!(server.stats().dropped(DropReason::PeerLost), 40);
    assert_eq!(server.stats().opackets, 0, "a packet counts as sent when the peer takes it");
    let kinds: Vec<_> = std::iter::from_fn(|| events.poll()).map(|e| e.kind).collect();
    assert!(kinds.contains(&EventKind::LinkDown), "{kinds:?}");
    // The endpoint takes the next client.
    let mut again = ShmPort::open(&config(&path, Role::Client), pool_config("again")).unwrap();
    poll_until(&mut [&mut server, &mut again], |p| p[0].shm_counters().sessions() == 2 && p[1].link() == LinkState::Up);
}

#[test]
fn settings_that_differ_are_refused_naming_the_setting_and_both_values() {
    let path = endpoint();
    let _server = ShmPort::open(&config(&path, Role::Server), pool_config("server")).unwrap();
    let other = ShmConfig { mtu: 1500, ..config(&path, Role::Client) };
    let e = ShmPort::open(&other, pool_config("client")).unwrap_err();
    assert!(e.is_usage());
    assert_eq!(e.to_string(), "shm peer refused: mtu differs (server 6000, client 1500); give both sides the same");
    let other = ShmConfig { ring_size: 256, ..config(&path, Role::Client) };
    let e = ShmPort::open(&other, pool_config("client")).unwrap_err();
    assert!(e.to_string().contains("ring-size differs (server 1024, client 256)"), "{e}");
}

#[test]
fn a_peer_pool_larger_than_the_other_side_maps_is_refused() {
    let path = endpoint();
    let server = ShmConfig { max_peer_buffers: 512, ..config(&path, Role::Server) };
    let _server = ShmPort::open(&server, pool_config("server")).unwrap();
    let e = ShmPort::open(&config(&path, Role::Client), pool_config("client")).unwrap_err();
    assert!(e.is_usage());
    assert_eq!(
        e.to_string(),
        "shm peer refused: the client's pool of 1024 buffers is more than its peer maps (max-peer-buffers 512); \
         give it fewer buffers or raise the peer's limit"
    );
    let path = endpoint();
    let _server = ShmPort::open(&config(&path, Role::Server), pool_config("server")).unwrap();
    let client = ShmConfig { max_peer_buffers: 1000, ..config(&path, Role::Client) };
    let e = ShmPort::open(&client, pool_config("client")).unwrap_err();
    assert!(e.to_string().contains("the server's pool of 1024 buffers"), "{e}");
}

#[test]
fn no_server_a_taken_endpoint_and_bad_knobs_are_usage_errors() {
    let path = endpoint();
    let e = ShmPort::open(&config(&path, Role::Client), pool_config("client")).unwrap_err();
    assert!(matches!(e, ShmError::NoServer { .. }) && e.is_usage(), "{e}");
    let _server = ShmPort::open(&config(&path, Role::Server), pool_config("server")).unwrap();
    let e = ShmPort::open(&config(&path, Role::Server), pool_config("server2")).unwrap_err();
    assert!(matches!(e, ShmError::InUse { .. }), "{e}");
    let bad = ShmConfig { ring_size: 1000, ..config(&endpoint(), Role::Server) };
    let e = ShmPort::open(&bad, pool_config("bad")).unwrap_err();
    assert_eq!(e.to_string(), "invalid ring-size 1000: valid is a power of two in 64..=16384");
}

#[test]
fn a_stale_endpoint_of_a_dead_server_is_replaced() {
    let path = endpoint();
    drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
    assert!(path.exists(), "a socket file nobody listens on");
    let mut server = ShmPort::open(&config(&path, Role::Server), pool_config("server")).unwrap();
    let mut client = ShmPort::open(&config(&path, Role::Client), pool_config("client")).unwrap();
    poll_until(&mut [&mut server, &mut client], |p| p.iter().all(|p| p.link() == LinkState::Up));
}
