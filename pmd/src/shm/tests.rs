//! A hostile peer: a client that completes the handshake honestly, then writes random words into the
//! shared rings (entries with random buffer indices, offsets, lengths and flags, give-backs of buffers it
//! never had or gave back already, and finally random ring indices), while the server sends and receives.
//! The server must count and skip every bad entry, never crash or touch memory outside the mappings, and
//! have every one of its buffers back once the peer is gone.

use super::handshake::{self, Local};
use super::hello::{Agreed, PoolShape, PROTOCOL_VERSION};
use super::layout::{self, Role, DATA_WORDS, RETURN_WORDS};
use super::ring::Producer;
use super::{ShmConfig, ShmPort};
use pktloop_engine::mem::{Prefer, Region};
use pktloop_engine::pool::PoolConfig;
use pktloop_engine::port::{DropReason, LinkState};
use pktloop_engine::{PacketBurst, Pool, Port};
use std::time::{Duration, Instant};

const BUFFERS: u32 = 512;
const RING: u32 = 256;

fn pool_config() -> PoolConfig {
    let mut c = PoolConfig::new("hostile-test", BUFFERS, 2048);
    c.prefer = Prefer::Normal;
    c.max_buflets = 4;
    c
}

/// The hostile client's end: its pool and file, the connection, and the session it got.
fn hostile_client(path: &std::path::Path) -> (std::os::unix::net::UnixStream, super::session::Session, Pool) {
    let (region, file) = Region::shared("hostile", BUFFERS as usize * 2048, Prefer::Normal).unwrap();
    let shape = PoolShape { buffers: BUFFERS, buf_size: 2048, max_buflets: 4, headroom: 0, bytes: region.len() as u64 };
    let pool = Pool::in_shared_region(pool_config(), region).unwrap();
    let local = Local {
        name: "hostile".into(),
        path: path.into(),
        agreed: Agreed { version: PROTOCOL_VERSION, mtu: 1500, ring_size: RING },
        shape,
        pool_file: file,
        max_peer_buffers: 1 << 20,
    };
    let stream = handshake::connect(path).unwrap();
    let session = handshake::as_client(&stream, &local).unwrap();
    (stream, session, pool)
}

/// Polls the server once both ways: sends `send` packets of its own, frees what arrives.
fn poll_server(server: &mut ShmPort, send: usize) {
    let mut burst = PacketBurst::new();
    for _ in 0..send {
        if let Ok(p) = server.tx_pool().packet_from(&[0xab; 100]) {
            burst.push(p);
        }
    }
    server.tx_burst(0, &mut burst);
    drop(burst);
    let mut inbox = PacketBurst::new();
    server.rx_burst(0, &mut inbox, 64);
    for p in &inbox {
        // Reading the whole packet touches every byte the server was told is in it.
        std::hint::black_box(p.to_vec());
    }
}

fn wait_link(server: &mut ShmPort, want: LinkState) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while server.link() != want {
        assert!(Instant::now() < deadline, "link never became {want:?}");
        poll_server(server, 0);
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn random_words_in_the_rings_are_counted_and_skipped_and_cost_the_server_nothing() {
    let path = std::env::temp_dir().join(format!("pktloop-shm-hostile-{}.sock", std::process::id()));
    let config = ShmConfig { ring_size: RING, ..ShmConfig::new(&path, Role::Server) };
    let mut server = ShmPort::open(&config, pool_config()).unwrap();
    let mut rng = fastrand::Rng::with_seed(0x5eed);
    for round in 0..4 {
        let (stream, mut session, _pool) = hostile_client(&path);
        wait_link(&mut server, LinkState::Up);
        // SAFETY: the channel is mapped while `session` lives, and holds the rings of RING slots.
        let rings = unsafe { layout::rings(session.channel_base(), RING, Role::Client) };
        // SAFETY: the test plays the client, whose session never produces on these rings meanwhile.
        let (mut data, mut give_back) =
            unsafe { (Producer::<DATA_WORDS>::new(rings.tx), Producer::<RETURN_WORDS>::new(rings.give_back)) };
        for _ in 0..2000 {
            poll_server(&mut server, rng.usize(0..8));
            let n = rng.u32(0..=data.space(u32::MAX).unwrap_or(0).min(16));
            for k in 0..n {
                let index = if rng.bool() { rng.u32(0..BUFFERS + 8) } else { rng.u32(..) };
                // A length with any of the two flags (more buflets, offset in the next slot), or anything.
                let word = if rng.bool() { rng.u32(0..2200) | rng.u32(0..4) << 30 } else { rng.u32(..) };
                data.write(k, [index, word]);
            }
            data.publish(n);
            let n = rng.u32(0..=give_back.space(u32::MAX).unwrap_or(0).min(8));
            for k in 0..n {
                give_back.write(k, [if rng.bool() { rng.u32(0..BUFFERS) } else { rng.u32(..) }]);
            }
            give_back.publish(n);
        }
        if round % 2 == 1 {
            // Then anything at all, ring indices included.
            let base = session.channel_base().cast::<u32>();
            for w in 0..layout::channel_bytes(RING) / 4 {
                // SAFETY: inside the channel mapping (channel_bytes long); the server reads these words
                // only as atomics, and this test is the only writer.
                unsafe { base.add(w).write_volatile(rng.u32(..)) };
            }
            for _ in 0..100 {
                poll_server(&mut server, 4);
            }
        }
        drop((stream, session));
        wait_link(&mut server, LinkState::Down);
        assert_eq!(server.tx_pool().in_use(), 0, "round {round}: every server buffer back after the peer left");
    }
    let (stats, shm) = (server.stats(), server.shm_counters());
    eprintln!(
        "hostile peer: {} packets taken, {} bad entries, {} bad give-backs, {} corrupt rings, {} lost with the peer",
        stats.ipackets,
        stats.dropped(DropReason::BadDescriptor),
        shm.bad_returns(),
        shm.corrupt_rings(),
        stats.dropped(DropReason::PeerLost)
    );
    assert!(stats.ierrors > 0 && stats.ierrors == stats.dropped(DropReason::BadDescriptor));
    assert!(shm.bad_returns() > 0, "give-backs of buffers never lent were refused");
    assert!(shm.corrupt_rings() > 0, "random ring indices were seen as such");
    assert!(stats.ipackets > 0, "entries that happened to be valid were taken");
}

/// One-buffer entries at the usual offset, the peer's or going home (what `Session::take_plain` reads with
/// no chain): each check of the general path holds there too.
#[test]
fn plain_entries_out_of_range_named_twice_too_long_or_never_lent_are_counted_and_skipped() {
    let path = std::env::temp_dir().join(format!("pktloop-shm-plain-{}.sock", std::process::id()));
    let config = ShmConfig { ring_size: RING, ..ShmConfig::new(&path, Role::Server) };
    let mut server = ShmPort::open(&config, pool_config()).unwrap();
    let (stream, mut session, _pool) = hostile_client(&path);
    wait_link(&mut server, LinkState::Up);
    // SAFETY: the channel is mapped while `session` lives, and holds the rings of RING slots.
    let rings = unsafe { layout::rings(session.channel_base(), RING, Role::Client) };
    // SAFETY: the test plays the client, whose session never produces on this ring meanwhile.
    let mut data = unsafe { Producer::<DATA_WORDS>::new(rings.tx) };
    // [buffer, length]: the client's buffers hold 2048 bytes from offset 0; the MTU allows 1518-byte frames.
    let entries = [
        [1, 64],           // taken
        [1, 64],           // the same buffer again: bad
        [BUFFERS + 3, 64], // no such buffer: bad
        [2, 2049],         // past the buffer's end: bad
        [3, 1600],         // fits the buffer, longer than a frame: dropped as such
        [4, 60],           // taken
        [5, 64 | 1 << 29], // "home", a server buffer the server never lent: bad
    ];
    for (k, e) in entries.iter().enumerate() {
        data.write(k as u32, *e);
    }
    data.publish(entries.len() as u32);
    let mut inbox = PacketBurst::new();
    let deadline = Instant::now() + Duration::from_secs(5);
    while inbox.len() < 2 && Instant::now() < deadline {
        server.rx_burst(0, &mut inbox, 64);
    }
    let lens: Vec<usize> = inbox.iter().map(|p| p.len()).collect();
    assert_eq!(lens, [64, 60], "the two good entries arrive, in order");
    let stats = server.stats();
    assert_eq!((stats.ipackets, stats.ierrors), (2, 4));
    assert_eq!(stats.dropped(DropReason::BadDescriptor), 4);
    assert_eq!(stats.dropped(DropReason::MtuExceeded), 1);
    drop(inbox);
    drop((stream, session));
    wait_link(&mut server, LinkState::Down);
    assert_eq!(server.tx_pool().in_use(), 0, "every server buffer back after the peer left");
}
