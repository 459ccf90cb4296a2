//! The input layer's benchmark sides, shared by the criterion bench (`benches/dlil.rs`) and `dlilbench`: a
//! null port handing out bursts of fresh 64-byte IPv4 frames, the interface over it with a protocol that
//! frees what it gets, filters that pass everything, and [`layer_cost`], the layer's cost per packet over
//! bare `rx_burst` with the two sides interleaved in short blocks on one pinned thread.

use pktloop_engine::dlil::{Filter, Interface, Protocol, Verdict, ETHERTYPE_IPV4};
use pktloop_engine::mem::Prefer;
use pktloop_engine::packet::free_burst;
use pktloop_engine::pool::{Pool, PoolConfig};
use pktloop_engine::port::{PacketBurst, Port};
use pktloop_engine::Packet;
use pktloop_pmd::null::NullPort;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// Packets per burst.
pub const BURST: usize = 32;

/// A null port named `name` over a pool of its own (8192 buffers of 2 KiB, hugepages when reserved) whose
/// bursts are 64-byte IPv4 frames.
pub fn null_port(name: &str) -> (NullPort, Pool) {
    let mut c = PoolConfig::new(name, 8192, 2048);
    c.headroom = 128;
    c.prefer = Prefer::Hugepage;
    let pool = Pool::new(c).expect("pool");
    let mut frame = [0u8; 64];
    frame[12..14].copy_from_slice(&ETHERTYPE_IPV4.to_be_bytes());
    let port = NullPort::new(name, pool.clone(), 64).expect("port").with_template(&frame);
    (port, pool)
}

/// The interface over [`null_port`] with `filters` [`PassAll`] filters and a [`Sink`] for IPv4, and the
/// sink's count.
pub fn layered(name: &str, filters: usize) -> (Interface, Pool, Arc<AtomicU64>) {
    let (port, pool) = null_port(name);
    let iface = Interface::new(Box::new(port), BURST);
    let h = iface.handle();
    for _ in 0..filters {
        h.attach_filter(Box::new(PassAll(0)));
    }
    let seen = Arc::new(AtomicU64::new(0));
    h.attach_protocol(ETHERTYPE_IPV4, Box::new(Sink(seen.clone()))).expect("free");
    (iface, pool, seen)
}

/// A protocol that frees what it is given, counting it.
#[derive(Debug)]
pub struct Sink(pub Arc<AtomicU64>);

impl Protocol for Sink {
    fn name(&self) -> &str {
        "sink"
    }

    fn input(&mut self, pkts: &mut PacketBurst, _replies: &mut PacketBurst) {
        self.0.store(self.0.load(Ordering::Relaxed) + pkts.len() as u64, Ordering::Relaxed);
        free_burst(pkts);
    }
}

/// A filter that passes everything, counting it (the least a filter does).
#[derive(Debug)]
pub struct PassAll(pub u64);

impl Filter for PassAll {
    fn name(&self) -> &str {
        "pass"
    }

    fn input(&mut self, pkt: Packet) -> Verdict {
        self.0 += 1;
        Verdict::Pass(pkt)
    }
}

/// What [`layer_cost`] measured, in ns per burst of [`BURST`].
#[derive(Debug, Clone, Copy)]
pub struct LayerCost {
    /// The fastest block of bare `rx_burst` + free.
    pub best_bare: f64,
    /// The fastest block of the interface's `poll`.
    pub best_layer: f64,
    /// The median over block pairs of layer minus bare.
    pub median_extra: f64,
}

impl LayerCost {
    /// The layer's cost per packet over bare, best block against best block.
    pub fn per_packet(&self) -> f64 {
        (self.best_layer - self.best_bare) / BURST as f64
    }
}

/// Bursts per timed block: long enough that reading the clock is noise (about 0.2-1 ms), short enough that
/// a change of the machine's placement falls on both sides alike.
const BLOCK: u32 = 2048;

/// The input layer (`filters` pass filters and one protocol) against bare `rx_burst` + free on a port of the
/// same kind, on the calling thread: `blocks` blocks of each, interleaved (bare first in even pairs, layer
/// first in odd ones). Checks that both sides moved full bursts, every packet reached the protocol and every
/// buffer came back.
pub fn layer_cost(filters: usize, blocks: usize) -> LayerCost {
    let (mut bare, bare_pool) = null_port("bare0");
    let (mut iface, pool, seen) = layered("dlil0", filters);
    let mut burst = PacketBurst::new();
    let mut bare_received = 0u64;
    let mut bare_block = || {
        let t = Instant::now();
        for _ in 0..BLOCK {
            bare_received += bare.rx_burst(0, &mut burst, BURST) as u64;
            free_burst(&mut burst);
        }
        t.elapsed().as_nanos() as f64 / f64::from(BLOCK)
    };
    let mut layer_block = || {
        let t = Instant::now();
        for _ in 0..BLOCK {
            iface.poll();
        }
        t.elapsed().as_nanos() as f64 / f64::from(BLOCK)
    };
    let mut pairs = Vec::with_capacity(blocks);
    for i in 0..blocks {
        pairs.push(if i % 2 == 0 {
            let b = bare_block();
            (b, layer_block())
        } else {
            let l = layer_block();
            (bare_block(), l)
        });
    }
    let expected = (blocks as u64) * u64::from(BLOCK) * BURST as u64;
    assert_eq!(seen.load(Ordering::Relaxed), expected, "every packet reached the protocol");
    assert_eq!(bare_received, expected, "the bare side received full bursts too");
    assert_eq!(iface.handle().stats().total_drops(), 0, "nothing dropped");
    assert_eq!(bare_pool.in_use() + pool.in_use(), 0, "every buffer back");
    let mut extra: Vec<f64> = pairs.iter().map(|(b, l)| l - b).collect();
    extra.sort_by(f64::total_cmp);
    LayerCost {
        best_bare: pairs.iter().map(|p| p.0).fold(f64::INFINITY, f64::min),
        best_layer: pairs.iter().map(|p| p.1).fold(f64::INFINITY, f64::min),
        median_extra: extra[extra.len() / 2],
    }
}
