//! Pools of feth pairs made and dropped in a loop, from long-lived threads, come back whole: their memory and
//! pool ids are released with their last buffer, whichever threads cached those buffers. This file is its
//! own test binary (its own process), so that at the end it can prove no pool id is still held by taking
//! every id at once.

use pktloop_engine::mem::Prefer;
use pktloop_engine::pool::{PoolConfig, PoolMode, MAX_POOLS};
use pktloop_engine::{Packet, PacketBurst, Pool, Port};
use pktloop_pmd::feth::{pair, FethConfig};
use std::sync::mpsc::{channel, Sender};

/// Threads creating and dropping pairs; each private pair uses two pools.
const WORKERS: usize = 3;
/// Pairs per worker: together well past the number of pool ids.
const ROUNDS: usize = MAX_POOLS / WORKERS + 100;

/// Packets a sink thread frees, and whom to tell once it did.
type Batch = (Vec<Packet>, Option<Sender<()>>);

/// One pair's life: a burst crosses it; some of the received packets are freed by the sink thread before
/// the pair goes (so the sink's cache holds buffers of this pair's pools), some after, and the rest here.
fn one_pair(config: &FethConfig, to_sink: &Sender<Batch>, ack: &(Sender<()>, std::sync::mpsc::Receiver<()>)) {
    let (mut a, mut b) = pair(config).expect("feth pair");
    let mut burst = PacketBurst::new();
    assert!(a.tx_pool().alloc_bulk(&mut burst, 16));
    burst.iter_mut().for_each(|p| p.append(&[0x5a; 64]).expect("frame fits"));
    assert_eq!(a.tx_burst(0, &mut burst), 16);
    assert_eq!(b.rx_burst(0, &mut burst, 32), 16);
    let mut got: Vec<Packet> = burst.drain(..).collect();
    to_sink.send((got.split_off(8), Some(ack.0.clone()))).expect("sink alive");
    ack.1.recv().expect("sink answers");
    let late = got.split_off(4);
    drop(got);
    drop((a, b));
    to_sink.send((late, None)).expect("sink alive");
}

#[test]
fn pairs_made_and_dropped_in_a_loop_on_long_lived_threads_give_back_every_pool() {
    let config = FethConfig {
        prefer: Prefer::Normal,
        pool_mode: PoolMode::Private,
        pool_packets: 64,
        ring_size: 32,
        ..FethConfig::default()
    };
    let (to_sink, sink_rx) = channel::<Batch>();
    let sink = std::thread::spawn(move || {
        for (pkts, ack) in sink_rx {
            drop(pkts);
            if let Some(ack) = ack {
                ack.send(()).expect("worker waits");
            }
        }
    });
    let workers: Vec<_> = (0..WORKERS)
        .map(|_| {
            let (to_sink, config) = (to_sink.clone(), config.clone());
            std::thread::spawn(move || {
                let ack = channel();
                for _ in 0..ROUNDS {
                    one_pair(&config, &to_sink, &ack);
                }
            })
        })
        .collect();
    for w in workers {
        w.join().expect("worker");
    }
    // Everything sent so far has been freed once the sink answers this; it keeps running meanwhile.
    let ack = channel();
    to_sink.send((Vec::new(), Some(ack.0))).expect("sink alive");
    ack.1.recv().expect("sink answers");

    // Every pool id is free again: all of them can be taken at once, while the sink thread still runs.
    let mut all = Vec::with_capacity(MAX_POOLS);
    for i in 0..MAX_POOLS {
        let mut c = PoolConfig::new("probe", 1, 64);
        c.prefer = Prefer::Normal;
        match Pool::new(c) {
            Ok(p) => all.push(p),
            Err(e) => panic!("pool {i} of {MAX_POOLS}: {e} (a retired pool is still held)"),
        }
    }
    drop(all);
    drop(to_sink);
    sink.join().expect("sink");
}
