//! The pairs and frames the packet-path programs (`pathbench`, `onecore`) run on: a feth pair of each
//! pool mode as the scenarios name them, an shm pair with both ends in this process, and the test frame.

use pktloop_engine::pool::{PoolConfig, PoolMode};
use pktloop_engine::port::LinkState;
use pktloop_engine::Port;
use pktloop_pmd::feth::FethConfig;
use pktloop_pmd::shm::{Role, ShmConfig, ShmPort};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// A `len`-byte IPv4-typed Ethernet frame whose bytes count up from 0 (byte 12 reads 8).
pub fn frame(len: usize) -> Vec<u8> {
    let mut f: Vec<u8> = (0..len).map(|i| i as u8).collect();
    f[12..14].copy_from_slice(&[0x08, 0x00]);
    f
}

/// The feth settings a scenario side names (`global`, `global-multi`, `private`, `private-multi`,
/// `split`); `None` for any other name.
pub fn feth_config(side: &str) -> Option<FethConfig> {
    let (mode, multibuflet) = match side {
        "global" => (PoolMode::Global, false),
        "global-multi" => (PoolMode::Global, true),
        "private" => (PoolMode::Private, false),
        "private-multi" => (PoolMode::Private, true),
        "split" => (PoolMode::PrivateSplit, false),
        _ => return None,
    };
    Some(FethConfig { pool_mode: mode, multibuflet, ring_size: 512, ..FethConfig::default() })
}

/// A shared-memory pair with both ends in this process (server, client), up; its endpoint is removed when
/// the [`Endpoint`] is dropped.
///
/// # Panics
/// When the pair cannot be made or does not come up within 5 s.
pub fn shm_pair() -> (ShmPort, ShmPort, Endpoint) {
    let endpoint = Endpoint(std::env::temp_dir().join(format!("pktloop-bench-{}.sock", std::process::id())));
    let pool = |name: &str| PoolConfig::new(name, 4096, 2048);
    let a = ShmPort::open(&ShmConfig::new(&endpoint.0, Role::Server), pool("server")).expect("shm server");
    let b = ShmPort::open(&ShmConfig::new(&endpoint.0, Role::Client), pool("client")).expect("shm client");
    let deadline = Instant::now() + Duration::from_secs(5);
    while a.link() != LinkState::Up || b.link() != LinkState::Up {
        assert!(Instant::now() < deadline, "shm: the pair never came up");
        std::thread::sleep(Duration::from_millis(1));
    }
    (a, b, endpoint)
}

/// An shm pair's socket path, removed on drop.
#[derive(Debug)]
pub struct Endpoint(PathBuf);

impl Drop for Endpoint {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}
