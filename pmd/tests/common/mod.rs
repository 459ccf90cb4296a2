//! Helpers shared by the feth integration tests (`mod common;` in each test file, not a test binary of its own).
#![allow(dead_code)]

use pktloop_engine::mem::Prefer;
use pktloop_engine::port::DropReason;
use pktloop_engine::{PacketBurst, Pool, Port};
use pktloop_pmd::feth::{Feth, FethConfig};
use std::sync::atomic::{AtomicU32, Ordering};

/// Small pools on normal pages. Each call gets its own pool size (256 + a counter), so that global-mode
/// pairs of concurrently running tests do not share a global pool and `in_use` checks stay exact.
pub fn cfg() -> FethConfig {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let pool_packets = 256 + NEXT.fetch_add(1, Ordering::Relaxed) % 1024;
    FethConfig { prefer: Prefer::Normal, pool_packets, ring_size: 256, ..FethConfig::default() }
}

/// A burst of `n` frames of `len` (>= 8) bytes from `pool` with ids `first_id..`: the id is in the packet's
/// metadata and in the frame's first 8 bytes (copies into another pool do not carry the metadata id).
pub fn frames(pool: &Pool, n: usize, len: usize, first_id: u64) -> PacketBurst {
    let mut b = PacketBurst::new();
    for k in 0..n {
        let id = first_id + k as u64;
        let mut p = pool.packet_from(&frame_bytes(id, len)).expect("pool has room");
        p.meta_mut().packet_id = id;
        b.push(p);
    }
    b
}

/// Expected bytes of frame `id`: the id (little-endian) then `(id * 7 + i) as u8`.
pub fn frame_bytes(id: u64, len: usize) -> Vec<u8> {
    let mut v: Vec<u8> = (0..len).map(|i| (id as usize * 7 + i) as u8).collect();
    v[..8].copy_from_slice(&id.to_le_bytes());
    v
}

/// The id a frame carries in its first 8 bytes.
pub fn id_of(p: &pktloop_engine::Packet) -> u64 {
    let mut id = [0u8; 8];
    p.read(0, &mut id).expect("frame of at least 8 bytes");
    u64::from_le_bytes(id)
}

/// Receives everything waiting on `port` (polling a few times).
pub fn rx_all(port: &mut Feth) -> PacketBurst {
    let mut b = PacketBurst::new();
    for _ in 0..4 {
        while b.len() < 512 && port.rx_burst(0, &mut b, 512) != 0 {}
    }
    b
}

/// Sum of drops over every reason.
pub fn drops(port: &impl Port) -> u64 {
    port.stats().total_drops()
}

/// Drops of one reason.
pub fn dropped(port: &impl Port, r: DropReason) -> u64 {
    port.stats().dropped(r)
}
