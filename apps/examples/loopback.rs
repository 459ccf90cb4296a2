//! Embedding pktloop: an appliance uses a feth pair as an in-process loopback. Its "wire" side writes
//! frames into one port; its "service" side, on another thread, reads them from the peer, answers each, and
//! the answers come back. Everything is accounted for and every buffer returns to its pool.
//!
//! Run: `cargo run --release -p pktloop --example loopback`

use pktloop_engine::mem::Prefer;
use pktloop_engine::packet::free_burst;
use pktloop_engine::{PacketBurst, Port};
use pktloop_pmd::feth::{pair, FethConfig};

/// Frames the appliance exchanges.
const FRAMES: usize = 10_000;

/// Sends `FRAMES` frames from one port of a fresh feth pair, answers them on the other port (on its own
/// thread), and returns (frames answered, answers received, buffers still out after teardown).
pub fn run_loopback() -> (usize, usize, usize) {
    let config = FethConfig { prefer: Prefer::Normal, pool_packets: 512, ..FethConfig::default() };
    let (mut wire, mut service) = pair(&config).expect("feth pair");
    let pool = wire.tx_pool().clone();

    // The service side: echo every frame back with its first byte turned into a reply marker.
    let server = std::thread::spawn(move || {
        let mut burst = PacketBurst::new();
        let mut answered = 0;
        while answered < FRAMES {
            if service.rx_burst(0, &mut burst, 32) == 0 {
                std::thread::yield_now();
            }
            for p in burst.iter_mut() {
                p.data_mut()[0] = b'R';
            }
            answered += burst.len();
            while !burst.is_empty() {
                service.tx_burst(0, &mut burst);
            }
        }
        answered
    });

    // The wire side: send requests in bursts, collect answers until all came back.
    let (mut sent, mut received) = (0, 0);
    let mut out = PacketBurst::new();
    let mut back = PacketBurst::new();
    while received < FRAMES {
        while sent < FRAMES && out.len() < 32 {
            let Ok(p) = pool.packet_from(format!("Qrequest {sent:05}").as_bytes()) else { break };
            out.push(p);
            sent += 1;
        }
        wire.tx_burst(0, &mut out);
        wire.rx_burst(0, &mut back, 32);
        received += back.iter().filter(|p| p.data()[0] == b'R').count();
        free_burst(&mut back);
    }
    let answered = server.join().expect("service thread");
    drop(wire);
    (answered, received, pool.in_use())
}

fn main() {
    let (answered, received, leaked) = run_loopback();
    println!("loopback: {answered} frames answered, {received} answers received, {leaked} buffers leaked");
    assert_eq!((answered, received, leaked), (FRAMES, FRAMES, 0));
}
