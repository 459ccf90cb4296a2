//! A fault-injecting wrapper allocates nothing per burst: a counting global allocator watches every fault
//! on at once, over a null port and a feth pair, once the ports are running.

use pktloop_engine::hot::{hot_allocations, CountingAlloc, HotSection};
use pktloop_engine::mem::Prefer;
use pktloop_engine::pool::PoolConfig;
use pktloop_engine::{PacketBurst, Pool, Port};
use pktloop_pmd::fault::{FaultConfig, FaultInjector, Rate};
use pktloop_pmd::feth::{pair, FethConfig};
use pktloop_pmd::null::NullPort;

/// Counts what the hot sections below allocate (the test harness's threads allocate too, outside them).
#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

fn every_fault() -> FaultConfig {
    let mut c = FaultConfig { seed: 42, ..FaultConfig::default() };
    c.rx.drop = Rate::PerMillion(50_000);
    c.rx.corrupt = Rate::PerMillion(50_000);
    c.rx.truncate = Rate::PerMillion(50_000);
    c.rx.delay = Rate::EveryNth(4);
    c.rx.delay_polls = 2;
    c.tx.drop = Rate::PerMillion(50_000);
    c.tx.corrupt = Rate::PerMillion(50_000);
    c.tx.truncate = Rate::PerMillion(50_000);
    c.tx.reject = Rate::EveryNth(7);
    c
}

/// Polls `rx` then sends what it got on `tx`, `rounds` times; what a refusal leaves is retried next round.
fn forward(rx: &mut impl Port, tx: &mut impl Port, burst: &mut PacketBurst, rounds: usize) {
    for _ in 0..rounds {
        rx.rx_burst(0, burst, 32);
        tx.tx_burst(0, burst);
    }
}

#[test]
fn bursts_through_a_wrapper_allocate_nothing() {
    let mut c = PoolConfig::new("fault-alloc", 1024, 2048);
    c.prefer = Prefer::Normal;
    let pool = Pool::new(c).unwrap();
    let mut null = FaultInjector::new(NullPort::new("null9", pool.clone(), 64).unwrap(), &every_fault()).unwrap();
    let config = FethConfig { prefer: Prefer::Normal, pool_packets: 1024, ..FethConfig::default() };
    let (a, mut b) = pair(&config).unwrap();
    let mut a = FaultInjector::new(a, &every_fault()).unwrap();
    let mut burst = PacketBurst::new();
    {
        let _hot = HotSection::enter();
        let probe: Box<[u8]> = Box::new([0u8; 8]);
        drop(probe);
    }
    assert!(hot_allocations() > 0, "the counter sees an allocation inside a section");
    // Warm up: per-thread pool caches and the feth port's first-poll setup allocate once.
    forward(&mut null, &mut a, &mut burst, 100);
    forward(&mut b, &mut null, &mut burst, 100);
    let before = hot_allocations();
    let hot = HotSection::enter();
    for _ in 0..10 {
        forward(&mut null, &mut a, &mut burst, 100);
        forward(&mut b, &mut null, &mut burst, 100);
    }
    drop(hot);
    assert_eq!(hot_allocations() - before, 0);
    let (fa, fn_) = (a.fault_stats(), null.fault_stats());
    assert!(fa.tx_dropped > 0 && fa.tx_rejected > 0 && fn_.rx_delayed > 0 && fn_.tx_corrupted > 0);
    drop((burst, null, a, b));
    assert_eq!(pool.in_use(), 0);
}
