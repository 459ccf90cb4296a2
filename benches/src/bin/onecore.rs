//! The packet paths with both ends on one core, for counting their instructions: callgrind counts them
//! exactly, where the times of the two-core runs (`pathbench`) move 3-8x with the machine's placement.
//! `scripts/bench-instructions.sh` runs each scenario for two round counts under callgrind and divides the
//! difference by the difference in packets, so that setup (pools, pairs, mappings) cancels out.
//!
//! ```text
//! onecore SCENARIO SIDE ROUNDS
//!   txonly64   global | private | split | shm   per round: a burst of 32 frames allocated and written,
//!                                               sent on one port, received on the other, 16 bytes of
//!                                               each read, freed
//!   pingpong   feth | shm                       per round: one frame sent and echoed back
//! ```
//!
//! Prints `SCENARIO SIDE PACKETS packets` once every packet came through as sent and every buffer is back.

use pktloop_benches::pairs::{feth_config, frame, shm_pair};
use pktloop_benches::BURST;
use pktloop_engine::packet::free_burst;
use pktloop_engine::{PacketBurst, Pool, Port};
use pktloop_pmd::feth::pair;

/// `rounds` bursts from `a` to `b`, as txonly -> rxonly does them; the packets that arrived.
fn txonly(a: &mut dyn Port, b: &mut dyn Port, rounds: u64) -> u64 {
    let f = frame(64);
    let pool = a.tx_pool().clone();
    let (mut burst, mut rx) = (PacketBurst::new(), PacketBurst::new());
    let (mut got, mut sum) = (0u64, 0u64);
    for _ in 0..rounds {
        assert!(pool.alloc_frames(&mut burst, BURST, &f), "the pool is never short");
        assert_eq!(a.tx_burst(0, &mut burst), BURST, "the peer's ring has room for a burst");
        got += b.rx_burst(0, &mut rx, BURST) as u64;
        for p in rx.iter() {
            let mut hdr = [0u8; 16];
            p.read(0, &mut hdr).expect("every frame is 64 bytes");
            sum += u64::from(std::hint::black_box(hdr)[12]);
        }
        free_burst(&mut rx);
    }
    assert_eq!((got, sum), (rounds * BURST as u64, 8 * rounds * BURST as u64), "every frame arrived intact");
    got
}

/// One frame of `a`'s pool sent to `b` and echoed back, `rounds` times; the packets moved (two a round).
fn ping_pong(a: &mut dyn Port, b: &mut dyn Port, rounds: u64) -> u64 {
    let f = frame(64);
    let mut burst = PacketBurst::new();
    burst.push(a.tx_pool().packet_from(&f).expect("seed"));
    for _ in 0..rounds {
        assert_eq!(a.tx_burst(0, &mut burst), 1);
        assert_eq!(b.rx_burst(0, &mut burst, BURST), 1);
        assert_eq!(b.tx_burst(0, &mut burst), 1);
        assert_eq!(a.rx_burst(0, &mut burst, BURST), 1);
    }
    assert!(burst.len() == 1 && burst[0].to_vec() == f, "the frame came back intact");
    free_burst(&mut burst);
    2 * rounds
}

/// Runs `run` on the pair `side` names; the packets it moved, once every pool has all its buffers back.
fn on_pair(side: &str, rounds: u64, run: fn(&mut dyn Port, &mut dyn Port, u64) -> u64) -> u64 {
    // Every pool a packet of the run lives in: each side's own, and feth's receive pools.
    let (mut a, mut b, endpoint, pools): (Box<dyn Port>, Box<dyn Port>, _, Vec<Pool>) = if side == "shm" {
        let (a, b, endpoint) = shm_pair();
        let pools = vec![a.tx_pool().clone(), b.tx_pool().clone()];
        (Box::new(a), Box::new(b), Some(endpoint), pools)
    } else {
        let side = if side == "feth" { "global" } else { side };
        let config = feth_config(side).unwrap_or_else(|| usage(&format!("unknown side {side}")));
        let (a, b) = pair(&config).expect("feth pair");
        let pools = vec![a.tx_pool().clone(), a.rx_pool().clone(), b.tx_pool().clone(), b.rx_pool().clone()];
        (Box::new(a), Box::new(b), None, pools)
    };
    let moved = run(&mut *a, &mut *b, rounds);
    assert_eq!(a.stats().total_drops() + b.stats().total_drops(), 0, "nothing dropped");
    drop((a, b, endpoint));
    for p in &pools {
        assert_eq!(p.in_use(), 0, "pool {} has every buffer back", p.name());
    }
    moved
}

fn usage(why: &str) -> ! {
    eprintln!("onecore: {why}\nusage: onecore txonly64|pingpong SIDE ROUNDS");
    std::process::exit(2)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [scenario, side, rounds] = args.as_slice() else { usage("three arguments expected") };
    let rounds: u64 = rounds.parse().unwrap_or_else(|_| usage(&format!("ROUNDS: not a count: {rounds}")));
    let moved = match scenario.as_str() {
        "txonly64" => on_pair(side, rounds, txonly),
        "pingpong" => on_pair(side, rounds, ping_pong),
        other => usage(&format!("unknown scenario {other}")),
    };
    println!("{scenario} {side} {moved} packets");
}
