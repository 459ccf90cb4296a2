//! null io-fwd on one core: rx a burst of 32 fresh frames from a null port, tx them to a second null port
//! (which frees them). This is the framework's cost floor (DPDK: testpmd io-fwd over net_null). The pool
//! alone (alloc_bulk + free_burst of the same frames) is measured beside it, so the port layer's own cost
//! is the difference.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use pktloop_engine::mem::Prefer;
use pktloop_engine::packet::free_burst;
use pktloop_engine::pool::{Pool, PoolConfig};
use pktloop_engine::port::{PacketBurst, Port};
use pktloop_pmd::null::NullPort;
use std::hint::black_box;

const BURST: usize = 32;

fn pool() -> Pool {
    let mut c = PoolConfig::new("null-bench", 8192, 2048);
    c.headroom = 128;
    c.prefer = Prefer::Hugepage;
    Pool::new(c).expect("pool")
}

fn null_io_fwd(c: &mut Criterion) {
    let pool = pool();
    let mut rx = NullPort::new("null0", pool.clone(), 64).expect("port");
    let mut tx = NullPort::new("null1", pool.clone(), 64).expect("port");
    let mut burst = PacketBurst::new();

    // Correctness before timing: a full burst arrives with the right size and everything goes back.
    assert_eq!(rx.rx_burst(0, &mut burst, BURST), BURST);
    assert!(burst.iter().all(|p| p.len() == 64));
    assert_eq!(tx.tx_burst(0, &mut burst), BURST);
    assert_eq!(pool.in_use(), 0);

    let mut g = c.benchmark_group("null");
    g.throughput(Throughput::Elements(BURST as u64));
    g.bench_function("io-fwd 64B burst 32", |b| {
        b.iter(|| {
            let n = rx.rx_burst(0, &mut burst, BURST);
            let sent = tx.tx_burst(0, &mut burst);
            black_box((n, sent));
        })
    });
    g.bench_function("pool floor: alloc_bulk + free_burst 32", |b| {
        b.iter(|| {
            assert!(pool.alloc_bulk(&mut burst, BURST));
            free_burst(black_box(&mut burst));
        })
    });
    g.finish();
    assert_eq!(pool.in_use(), 0);
    eprintln!("pool backing: {}", pool.backing());
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(std::time::Duration::from_millis(500))
        .measurement_time(std::time::Duration::from_secs(2))
        .sample_size(20);
    targets = null_io_fwd
}
criterion_main!(benches);
