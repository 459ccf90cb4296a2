//! A hostile peer: a client that completes the handshake honestly, then writes random words into the
//! shared rings (entries with random buffer indices, offsets, lengths and flags, give-backs of buffers it
//! never had or gave back already, and finally random ring indices), while the server sends and receives.
//! The server must count and skip every bad entry, never crash or touch memory outside the mappings, and
//! have every one of its buffers back once the peer is gone.

use super::handshake::{self, Local};
use super::hello::{Agreed, PoolShape, PROTOCOL_VERSION};
use super::layout::{self, Role, DATA_WORDS, RETURN_WORDS};
use super::ring::{Consumer, Producer};
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
    // SAFETY: the test writes into the ring and its words, not into buffers a packet of this pool holds.
    let pool = unsafe { Pool::in_shared_region(pool_config(), region) }.unwrap();
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

/// Waits until the server has seen its peer leave and, polling as its worker would, taken back every
/// buffer: the link goes down as the control thread sees the socket close, and the port ends the session
/// at its next poll after that.
fn wait_peer_gone(server: &mut ShmPort) {
    wait_link(server, LinkState::Down);
    let deadline = Instant::now() + Duration::from_secs(5);
    while server.tx_pool().in_use() != 0 && Instant::now() < deadline {
        poll_server(server, 0);
        std::thread::sleep(Duration::from_millis(1));
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
        wait_peer_gone(&mut server);
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

/// One-buffer entries at the usual offset, the peer's or coming home (what `Session::take_plain` reads
/// with no chain): each check of the general path holds there too, a refused entry takes no buffer, and
/// only what was taken is given back.
#[test]
fn plain_entries_out_of_range_named_twice_too_long_or_never_lent_are_counted_and_skipped() {
    const HOME: u32 = 1 << 29;
    let path = std::env::temp_dir().join(format!("pktloop-shm-plain-{}.sock", std::process::id()));
    let config = ShmConfig { ring_size: RING, ..ShmConfig::new(&path, Role::Server) };
    let mut server = ShmPort::open(&config, pool_config()).unwrap();
    let (stream, mut session, _pool) = hostile_client(&path);
    wait_link(&mut server, LinkState::Up);
    // SAFETY: the channel is mapped while `session` lives, and holds the rings of RING slots.
    let rings = unsafe { layout::rings(session.channel_base(), RING, Role::Client) };
    // SAFETY: the test plays the client, whose session never touches these rings meanwhile.
    let (mut data, mut from_server, mut returns) = unsafe {
        (
            Producer::<DATA_WORDS>::new(rings.tx),
            Consumer::<DATA_WORDS>::new(rings.rx),
            Consumer::<RETURN_WORDS>::new(rings.returns),
        )
    };
    // The client's buffers hold 2048 bytes from offset 0; the MTU allows 1518-byte frames.
    let peers = [
        [1, 64],           // taken
        [1, 64],           // the same buffer again: bad
        [BUFFERS + 3, 64], // no such buffer: bad
        [2, 2049],         // past the buffer's end: bad
        [3, 1600],         // fits the buffer, longer than a frame: dropped as such
        [4, 60],           // taken
        [5, 64 | HOME],    // a server buffer the server never lent, after a run of the peer's: bad
    ];
    let mut inbox = PacketBurst::new();
    publish_and_receive(&mut server, &mut data, &peers, &mut inbox, 2);
    assert_eq!(inbox.iter().map(|p| p.len()).collect::<Vec<_>>(), [64, 60], "the good entries, in order");

    // Two server buffers lent to the client, then a run that starts with entries coming home.
    let lent = lend_two(&mut server, &mut from_server);
    let homes = [
        [lent[0], 64 | HOME],   // taken: home again
        [lent[0], 64 | HOME],   // home twice: bad
        [7777, 64 | HOME],      // no such buffer: bad
        [lent[1], 3000 | HOME], // past the buffer's end: bad (and it stays lent)
        [6, 64],                // one of the peer's after the home run: taken
    ];
    publish_and_receive(&mut server, &mut data, &homes, &mut inbox, 4);
    assert_eq!(inbox[2].pool_id(), server.tx_pool().id(), "home in the server's own pool");
    assert_eq!(inbox[3].pool_id(), inbox[0].pool_id(), "the peer's buffer in the peer's pool");
    let stats = server.stats();
    assert_eq!((stats.ipackets, stats.ierrors), (4, 7));
    assert_eq!(stats.dropped(DropReason::BadDescriptor), 7);
    assert_eq!(stats.dropped(DropReason::MtuExceeded), 1);

    // Freed, the client buffers the server took go back, each once; refused ones were never taken.
    drop(inbox);
    let mut given = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(5);
    while given.len() < 4 && Instant::now() < deadline {
        poll_server(&mut server, 0);
        let n = returns.ready(1).unwrap();
        given.extend((0..n).map(|k| returns.read(k)[0]));
        returns.release(n);
    }
    given.sort_unstable();
    assert_eq!(given, [1, 3, 4, 6], "given back: what was taken, the frame dropped for its length too");
    drop((stream, session));
    wait_peer_gone(&mut server);
    assert_eq!(server.tx_pool().in_use(), 0, "every server buffer back after the peer left");
}

/// Writes `entries` on the client's data ring and receives on the server until `inbox` holds `want`.
fn publish_and_receive(
    server: &mut ShmPort,
    data: &mut Producer<DATA_WORDS>,
    entries: &[[u32; 2]],
    inbox: &mut PacketBurst,
    want: usize,
) {
    for (k, e) in entries.iter().enumerate() {
        data.write(k as u32, *e);
    }
    data.publish(entries.len() as u32);
    let deadline = Instant::now() + Duration::from_secs(5);
    while inbox.len() < want && Instant::now() < deadline {
        server.rx_burst(0, inbox, 64);
    }
    assert_eq!(inbox.len(), want, "the good entries arrived");
}

/// Has the server send two frames and takes them off its data ring: the indices of the two buffers it lent.
fn lend_two(server: &mut ShmPort, from_server: &mut Consumer<DATA_WORDS>) -> [u32; 2] {
    let mut burst = PacketBurst::new();
    for _ in 0..2 {
        burst.push(server.tx_pool().packet_from(&[0xcd; 64]).unwrap());
    }
    assert_eq!(server.tx_burst(0, &mut burst), 2);
    assert_eq!(from_server.ready(2), Ok(2));
    let lent = [from_server.read(0)[0], from_server.read(1)[0]];
    from_server.release(2);
    lent
}
