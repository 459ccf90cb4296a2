use pktloop_engine::mem::Prefer;
use pktloop_engine::pool::PoolConfig;
use pktloop_engine::{PacketBurst, Port};
use pktloop_pmd::shm::{Role, ShmConfig, ShmPort};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn main() {
    let path = "/tmp/shm-probe.sock";
    let _ = std::fs::remove_file(path);
    let pool = |n: &str| {
        let mut c = PoolConfig::new(n, 4096, 2048);
        c.headroom = 128;
        c.prefer = Prefer::Normal;
        c
    };
    let mut server = ShmPort::open(&ShmConfig::new(path, Role::Server), pool("s")).unwrap();
    let mut client = ShmPort::open(&ShmConfig::new(path, Role::Client), pool("c")).unwrap();
    while server.link() != pktloop_engine::port::LinkState::Up {
        let mut b = PacketBurst::new();
        server.rx_burst(0, &mut b, 32);
    }
    let stop = Arc::new(AtomicBool::new(false));
    let s2 = stop.clone();
    let t = std::thread::spawn(move || {
        core_affinity::set_for_current(core_affinity::CoreId { id: 0 });
        let mut n = 0u64;
        let mut inbox = PacketBurst::new();
        while !s2.load(Ordering::Relaxed) {
            n += server.rx_burst(0, &mut inbox, 32) as u64;
            pktloop_engine::packet::free_burst(&mut inbox);
        }
        n
    });
    core_affinity::set_for_current(core_affinity::CoreId { id: 1 });
    let light = std::env::args().nth(1).as_deref() == Some("light");
    let start = Instant::now();
    let mut sent = 0u64;
    let mut burst = PacketBurst::new();
    while start.elapsed() < Duration::from_secs(2) {
        for _ in 0..64 {
            if burst.is_empty() {
                client.tx_pool().alloc_bulk(&mut burst, 32);
                if !light {
                    for p in burst.iter_mut() {
                        p.extend(60).unwrap();
                    }
                }
            }
            sent += client.tx_burst(0, &mut burst) as u64;
        }
    }
    stop.store(true, Ordering::Relaxed);
    let n = t.join().unwrap();
    println!("{:.1} Mpps sent, {:.1} received", sent as f64 / 2e6, n as f64 / 2e6);
}
