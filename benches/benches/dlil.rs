//! The input layer's cost per packet (engine `dlil`), against bare `rx_burst` on the same port in the same
//! run: a null port hands out bursts of 32 fresh 64-byte IPv4 frames; the bare side receives and frees them,
//! the layered sides run the interface's input path (demux by EtherType, one protocol that frees them) with
//! no filter and with three filters that pass everything. The difference is the layer's cost.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use pktloop_benches::dlil_sides::{layered, null_port, BURST};
use pktloop_engine::packet::free_burst;
use pktloop_engine::port::{PacketBurst, Port};
use std::hint::black_box;
use std::sync::atomic::Ordering;

fn input_layer(c: &mut Criterion) {
    let (mut bare, bare_pool) = null_port("bare0");
    let (mut plain, plain_pool, plain_seen) = layered("dlil0", 0);
    let (mut filtered, filtered_pool, filtered_seen) = layered("dlil1", 3);
    let mut burst = PacketBurst::new();

    // Correctness before timing: every packet reaches the protocol, nothing is dropped, all buffers return.
    assert_eq!(plain.poll(), BURST);
    assert_eq!(filtered.poll(), BURST);
    assert_eq!((plain_seen.load(Ordering::Relaxed), filtered_seen.load(Ordering::Relaxed)), (32, 32));
    assert_eq!(plain.handle().stats().total_drops() + filtered.handle().stats().total_drops(), 0);
    assert_eq!(plain_pool.in_use() + filtered_pool.in_use(), 0);

    let mut g = c.benchmark_group("dlil");
    g.throughput(Throughput::Elements(BURST as u64));
    g.bench_function("bare rx_burst + free, burst 32", |b| {
        b.iter(|| {
            let n = bare.rx_burst(0, &mut burst, BURST);
            free_burst(&mut burst);
            black_box(n)
        })
    });
    g.bench_function("interface, 1 protocol", |b| b.iter(|| black_box(plain.poll())));
    g.bench_function("interface, 3 pass filters + 1 protocol", |b| b.iter(|| black_box(filtered.poll())));
    g.finish();
    assert_eq!(bare_pool.in_use() + plain_pool.in_use() + filtered_pool.in_use(), 0);
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(std::time::Duration::from_millis(500))
        .measurement_time(std::time::Duration::from_secs(2))
        .sample_size(20);
    targets = input_layer
}
criterion_main!(benches);
