//! The pool's own tests: placement, bounds, exhaustion, reclamation across threads, shared memory.

use super::*;

fn pool(n: u32, size: u32, cache: u32) -> Pool {
    let mut c = PoolConfig::new("t", n, size);
    c.cache_size = cache;
    c.prefer = Prefer::Normal;
    Pool::new(c).unwrap()
}

/// A new packet's data starts a cache line whatever the headroom (a multiple of 8), the buffers stay
/// inside the mapping, 8-byte aligned and a stride apart, and `memory` says where they are.
#[test]
fn buffers_are_placed_so_that_new_data_starts_a_line() {
    for headroom in [0, 8, 32, 56, 64, 100, 128, 200] {
        let mut c = PoolConfig::new("t", 5, 2048);
        c.headroom = headroom;
        c.prefer = Prefer::Normal;
        let p = Pool::new(c).unwrap();
        let mem = p.memory();
        for i in 0..5 {
            let buf = p.buffer_ptr(i);
            assert_eq!(buf, mem.base.wrapping_add(mem.first + i as usize * mem.stride));
            assert_eq!(buf as usize % 8, 0, "headroom {headroom}: buffer {i} 8-byte aligned");
            let data = buf as usize + headroom as usize;
            assert_eq!(data.is_multiple_of(64), headroom.is_multiple_of(8), "headroom {headroom}: buffer {i}");
        }
        assert!(mem.first + 5 * mem.stride <= mem.len, "headroom {headroom}: every buffer inside");
        let pkts: Vec<_> = (0..5).map(|_| p.alloc().unwrap()).collect();
        for q in &pkts {
            assert_eq!(q.data().as_ptr(), p.buffer_ptr(q.index()).wrapping_add(headroom as usize));
        }
    }
}

#[test]
fn bad_parameters_name_the_knob() {
    let e = Pool::new(PoolConfig::new("t", 0, 2048)).unwrap_err();
    assert_eq!(e.to_string(), "invalid pool-size 0: valid is 1..=16777216");
    let e = Pool::new(PoolConfig::new("t", 8, 32)).unwrap_err();
    assert_eq!(e.to_string(), "invalid buffer-size 32: valid is 64..=1048576");
    let mut c = PoolConfig::new("t", 8, 2048);
    c.cache_size = 513;
    assert!(Pool::new(c).unwrap_err().to_string().contains("cache-size 513"));
}

#[test]
fn every_buffer_can_be_taken_once_and_exhaustion_is_counted() {
    for cache in [0, 32, 256] {
        let p = pool(1000, 256, cache);
        let mut seen = vec![false; 1000];
        let mut all = Vec::new();
        let mut burst = [0u32; 7];
        while p.get_bulk(&mut burst) {
            for &i in &burst {
                assert!(!seen[i as usize], "buffer {i} handed out twice");
                seen[i as usize] = true;
            }
            all.extend_from_slice(&burst);
        }
        let mut one = [0u32; 1];
        while p.get_bulk(&mut one) {
            assert!(!seen[one[0] as usize]);
            seen[one[0] as usize] = true;
            all.push(one[0]);
        }
        assert!(seen.iter().all(|&s| s), "cache {cache}: every buffer handed out");
        assert_eq!(p.in_use(), 1000);
        assert!(p.stats().alloc_failures >= 2);
        for chunk in all.chunks(MAX_BULK) {
            // SAFETY: each index came from get_bulk on p and is put once.
            unsafe { p.put_bulk(chunk) };
        }
        assert_eq!(p.in_use(), 0);
    }
}

// These two watch their own pool through a `Weak` (which also keeps its address from being reused):
// other tests run in parallel and may take a released id at once, so the id's slot proves nothing.

#[test]
fn pool_is_reclaimed_when_idle() {
    let p = pool(64, 256, 32);
    let weak = Arc::downgrade(&p.inner);
    let mut b = [0u32; 8];
    assert!(p.get_bulk(&mut b));
    // SAFETY: returned once.
    unsafe { p.put_bulk(&b) };
    drop(p);
    assert_eq!(weak.strong_count(), 0, "idle pool released by its registry entry and freed");
}

#[test]
fn a_pool_dropped_with_buffers_out_is_released_when_the_last_returns() {
    // More rounds than there are pool ids: each pool must give its id back once its last packet returns,
    // even though this thread keeps running.
    for round in 0..(MAX_POOLS + 50) {
        let p = pool(8, 256, 4);
        let (id, weak) = (p.id(), Arc::downgrade(&p.inner));
        let pkt = p.alloc().unwrap();
        drop(p);
        assert!(registry::is_registered(id, weak.as_ptr()), "round {round}: kept registered while a packet is out");
        drop(pkt);
        assert_eq!(weak.strong_count(), 0, "round {round}: released and freed with the last packet");
    }
}

/// Several long-lived threads create and drop pools in a loop, well past the number of pool ids, while
/// a long-lived sink thread frees some of every pool's packets before the pool is dropped (so its
/// cache holds buffers of every pool) and some after. Every pool must be released with its last
/// buffer while all those threads still run: a cache never keeps a retired pool.
#[test]
fn retired_pools_come_back_whichever_threads_cached_their_buffers() {
    use crate::Packet;
    use std::sync::mpsc::{channel, Sender};
    const WORKERS: usize = 3;
    const ROUNDS: usize = MAX_POOLS / WORKERS + 200;
    type Batch = (Vec<Packet>, Option<Sender<()>>);
    let (to_sink, sink_rx) = channel::<Batch>();
    let sink = std::thread::spawn(move || {
        for (pkts, ack) in sink_rx {
            drop(pkts);
            if let Some(ack) = ack {
                ack.send(()).unwrap();
            }
        }
    });
    let workers: Vec<_> = (0..WORKERS)
        .map(|_| {
            let to_sink = to_sink.clone();
            std::thread::spawn(move || {
                let (ack_tx, ack_rx) = channel();
                let mut weaks = Vec::with_capacity(ROUNDS);
                for _ in 0..ROUNDS {
                    let p = pool(64, 256, 8);
                    let mut pkts: Vec<Packet> = (0..24).map(|_| p.alloc().unwrap()).collect();
                    to_sink.send((pkts.split_off(16), Some(ack_tx.clone()))).unwrap();
                    ack_rx.recv().unwrap();
                    let late = pkts.split_off(8);
                    drop(pkts);
                    weaks.push(Arc::downgrade(&p.inner));
                    drop(p);
                    to_sink.send((late, None)).unwrap();
                }
                weaks
            })
        })
        .collect();
    let weaks: Vec<_> = workers.into_iter().flat_map(|w| w.join().unwrap()).collect();
    // Everything sent so far has been freed once the sink answers this.
    let (ack_tx, ack_rx) = channel();
    to_sink.send((Vec::new(), Some(ack_tx))).unwrap();
    ack_rx.recv().unwrap();
    let held = weaks.iter().filter(|w| w.strong_count() > 0).count();
    assert_eq!(held, 0, "{held} of {} retired pools still held while the sink thread runs", weaks.len());
    drop(to_sink);
    sink.join().unwrap();
}

/// Two pools over one shared file, as two processes hold them: the owner's and the borrower's view of
/// the same buffers. A buffer lent by the owner becomes the borrower's packet with the same bytes, the
/// freed packet collects in the borrower's pool and is taken back from there; whatever is written into
/// the buffers while they are free corrupts neither pool's free list.
#[test]
fn a_shared_pool_lends_its_buffers_to_a_pool_over_the_same_memory() {
    let config = || {
        let mut c = PoolConfig::new("shared", 256, 2048);
        c.prefer = Prefer::Normal;
        c
    };
    let bytes = 256 * buffer_stride(2048);
    let (region, fd) = Region::shared("t", bytes, Prefer::Normal).unwrap();
    // SAFETY: both ends are this test's, which writes a buffer only through the pool holding it.
    let owner = unsafe { Pool::in_shared_region(config(), region) }.unwrap();
    // SAFETY: as above.
    let borrower = unsafe { Pool::over_lent_buffers(config(), Region::map_peer(fd, bytes).unwrap()) }.unwrap();
    assert_eq!((owner.in_use(), borrower.in_use()), (0, 256));
    assert!(borrower.alloc().is_none(), "nothing to allocate over lent buffers");
    let lent = owner.packet_from(b"crossing").unwrap().into_buffer(&owner).unwrap();
    // The free buffers' bytes are data only: scribble over all of them.
    for i in 0..256 {
        if i != lent.index {
            // SAFETY: the pointer is valid for buf_size bytes; the buffer is free, nobody reads it.
            unsafe { owner.buffer_ptr(i).write_bytes(0xff, 2048) };
        }
    }
    // SAFETY: `lent` is a buffer the borrower was lent (it owns it until it gives it back).
    let p = unsafe { borrower.packet_from_buffer(lent) };
    assert_eq!(p.data(), b"crossing");
    drop(p);
    let mut back = [0u32; 128];
    assert_eq!(borrower.take_free(&mut back), 1);
    assert_eq!(back[0], lent.index);
    // SAFETY: the owner lent this buffer out and takes it back once.
    unsafe { owner.put_bulk(&back[..1]) };
    let all: Vec<_> = (0..256).map(|_| owner.alloc().unwrap()).collect();
    assert!(owner.alloc().is_none());
    drop(all);
    assert_eq!(owner.in_use(), 0);
}

#[test]
fn buffers_are_an_odd_number_of_cache_lines_apart() {
    assert_eq!(buffer_stride(2048), 33 * 64, "2 KiB buffers: 33 lines, so headers walk every L1 set");
    assert_eq!(buffer_stride(1500), 25 * 64, "already odd: no padding");
    assert_eq!(buffer_stride(96 * 1024), 1537 * 64);
    let p = pool(64, 2048, 0);
    let gaps: Vec<_> = (0..2).map(|i| p.buffer_ptr(i + 1) as usize - p.buffer_ptr(i) as usize).collect();
    assert_eq!(gaps, [33 * 64, 33 * 64]);
}

/// A pool of chunks lays its buffers out a power of two apart from the memory's start, so that none
/// crosses a page, and its packets work as any pool's.
#[test]
fn a_pool_of_chunks_keeps_every_buffer_within_a_page() {
    let mut c = PoolConfig::new("chunks", 64, 1500);
    c.headroom = 256;
    c.prefer = Prefer::Normal;
    c.chunks = true;
    let p = Pool::new(c).unwrap();
    let mem = p.memory();
    assert_eq!((mem.first, mem.stride), (0, 2048));
    for i in 0..64 {
        let at = p.buffer_ptr(i) as usize - mem.base as usize;
        assert_eq!(at, i as usize * 2048);
        assert!(at % 4096 + 1500 <= 4096, "buffer {i} crosses a page");
    }
    let mut packet = p.alloc().unwrap();
    packet.append(&[7; 1000]).unwrap();
    assert_eq!(packet.data(), &[7; 1000][..]);
    drop(packet);
    assert_eq!(p.in_use(), 0);
}

#[test]
fn a_region_too_small_for_the_buffers_is_refused() {
    let (region, _fd) = Region::shared("t", 4096, Prefer::Normal).unwrap();
    // SAFETY: nobody else maps the region.
    let e = unsafe { Pool::in_shared_region(PoolConfig::new("small", 4096, 2048), region) }.unwrap_err();
    assert_eq!(e.to_string(), "pool 'small' needs 8650752 bytes for its buffers, the memory given holds 2097152");
}

#[test]
fn cross_thread_alloc_free_conserves_buffers() {
    let p = pool(4096, 128, 256);
    let (tx, rx) = std::sync::mpsc::sync_channel::<[u32; 32]>(64);
    let p2 = p.clone();
    let consumer = std::thread::spawn(move || {
        let mut n = 0usize;
        while let Ok(b) = rx.recv() {
            // SAFETY: each index came from get_bulk on p (the producer) and is put once here.
            unsafe { p2.put_bulk(&b) };
            n += b.len();
        }
        n
    });
    let mut sent = 0usize;
    let mut b = [0u32; 32];
    while sent < 200_000 {
        if p.get_bulk(&mut b) {
            tx.send(b).unwrap();
            sent += 32;
        } else {
            std::thread::yield_now();
        }
    }
    drop(tx);
    assert_eq!(consumer.join().unwrap(), sent);
    p.flush_thread_cache();
    assert_eq!(p.in_use(), 0);
}
