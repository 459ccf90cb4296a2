//! Slices and the packer: layout, ownership, materializing, and every buffer back whatever the order.

use super::*;
use crate::mem::Prefer;
use crate::pool::slice::SLICES_PER_BUFFER;
use crate::pool::PoolConfig;
use proptest::prelude::*;

const HEADROOM: u32 = 32;

fn slice_pool(buffers: u32, buf_size: u32) -> Pool {
    Pool::new(slice_config(buffers, buf_size)).unwrap()
}

/// A pool of `buffers` of `buf_size` on normal pages with [`HEADROOM`], one buflet a packet, slices allowed.
fn slice_config(buffers: u32, buf_size: u32) -> PoolConfig {
    let mut c = PoolConfig::new("slice-test", buffers, buf_size);
    c.headroom = HEADROOM;
    c.cache_size = 16;
    c.prefer = Prefer::Normal;
    c.slices = true;
    c
}

fn packer(pool: &Pool) -> Packer {
    Packer::new(pool.alloc().unwrap()).unwrap()
}

fn frame(seed: u8, len: usize) -> Vec<u8> {
    (0..len).map(|i| seed.wrapping_add(i as u8)).collect()
}

/// Where `p`'s data starts, in bytes from the start of the pool's memory.
fn data_at(pool: &Pool, p: &Packet) -> usize {
    p.data().as_ptr() as usize - pool.buffer_ptr(0) as usize
}

#[test]
fn frames_pack_one_after_another_in_aligned_regions() {
    let pool = slice_pool(8, 4096);
    let mut k = packer(&pool);
    let a = k.pack(&frame(1, 64), true).unwrap();
    let b = k.pack(&frame(2, 60), false).unwrap();
    let c = k.pack(&frame(3, 1), false).unwrap();
    assert_eq!((a.to_vec(), b.to_vec(), c.to_vec()), (frame(1, 64), frame(2, 60), frame(3, 1)));
    // a: region 0..96 (32 + 64); b: 96..192 (32 + 60 = 92, rounded up); c: 192..
    let base = data_at(&pool, &a) - HEADROOM as usize;
    assert_eq!(data_at(&pool, &b) - base, 96 + 32);
    assert_eq!(data_at(&pool, &c) - base, 192 + 32);
    assert_eq!((a.headroom(), a.tailroom(), b.tailroom(), c.tailroom()), (32, 0, 4, 15));
    assert_eq!((a.region_size(), b.region_size()), (96, 96));
    assert_eq!(a.meta().link_header_len, 14, "marked as starting with an Ethernet header");
    assert_eq!(b.meta().link_header_len, 0);
    assert_eq!((a.buflet_count(), pool.in_use()), (1, 1), "three frames, one buffer");
    assert_ne!(a.index(), b.index());
}

#[test]
fn the_buffer_returns_with_the_last_holder_whoever_it_is() {
    let pool = slice_pool(8, 4096);
    let mut k = packer(&pool);
    let a = k.pack(&[1; 100], false).unwrap();
    let b = k.pack(&[2; 100], false).unwrap();
    drop(k);
    assert_eq!(pool.in_use(), 1, "the slices still hold the buffer");
    drop(a);
    assert_eq!(pool.in_use(), 1);
    drop(b);
    assert_eq!(pool.in_use(), 0);

    let mut k = packer(&pool);
    let a = k.pack(&[1; 100], false).unwrap();
    drop(a);
    assert_eq!(pool.in_use(), 1, "the packer still holds it");
    drop(k);
    assert_eq!(pool.in_use(), 0);
}

#[test]
fn the_packer_stops_at_the_buffer_end_and_at_its_slice_count() {
    let pool = slice_pool(8, 1024);
    let mut k = packer(&pool);
    // 32 + 200 = 232 -> 240 per region: four fit in 1024 (960), the fifth does not.
    let got: Vec<Packet> = (0..5).map_while(|i| k.pack(&frame(i, 200), false)).collect();
    assert_eq!(got.len(), 4);
    assert!(k.pack(&[0; 32], false).is_some(), "what still fits goes in");
    drop((got, k));

    let big = slice_pool(2, 64 * 1024);
    let mut k = packer(&big);
    let got: Vec<Packet> = (0..40).map_while(|i| k.pack(&frame(i, 1), false)).collect();
    assert_eq!(got.len(), SLICES_PER_BUFFER as usize, "one descriptor slot per slice");
    assert!(k.pack(&[], false).is_none());
    drop((got, k));
    assert_eq!(big.in_use(), 0);
}

#[test]
fn only_new_plain_packets_of_slice_pools_are_packed_into() {
    let plain_pool = Pool::new(PoolConfig { slices: false, ..slice_config(8, 4096) }).unwrap();
    assert!(Packer::new(plain_pool.alloc().unwrap()).is_err());
    let pool = slice_pool(8, 4096);
    assert!(Packer::new(pool.packet_from(&[1]).unwrap()).is_err(), "not empty");
    let mut described = pool.alloc().unwrap();
    described.set_headroom(0).unwrap();
    assert!(Packer::new(described).is_err(), "its descriptor is written");
    // 4097 buffers of 512 KiB do not fit a handle: the pool allows no slices.
    assert!(crate::pool::slice::SliceGeometry::for_pool(4097, 512 * 1024).is_none());
    assert_eq!(pool.in_use(), 0);
}

#[test]
fn a_slice_that_needs_a_descriptor_gets_its_slot_and_keeps_its_bytes() {
    let pool = slice_pool(8, 4096);
    let mut k = packer(&pool);
    let mut a = k.pack(&frame(1, 64), true).unwrap();
    let b = k.pack(&frame(2, 64), false).unwrap();
    a.meta_mut().service_class = ServiceClass::Vo;
    assert_eq!((a.meta().service_class, a.meta().link_header_len), (ServiceClass::Vo, 14));
    assert_eq!(a.to_vec(), frame(1, 64));
    // The region's headroom is there to prepend into, and nothing of b's region is reachable.
    a.prepend(4).unwrap().copy_from_slice(&[9; 4]);
    assert_eq!((a.len(), a.headroom(), a.tailroom()), (68, 28, 0));
    assert_eq!(a.append(&[5; 16]), Err(PacketError::TooLong), "the pool chains no buflet");
    a.adj(10).unwrap();
    assert_eq!(a.data()[..], [&frame(1, 64)[6..]].concat()[..]);
    assert_eq!(b.to_vec(), frame(2, 64), "the neighbour is untouched");
    drop((a, b, k));
    assert_eq!(pool.in_use(), 0);
}

#[test]
fn slices_chain_buflets_like_views() {
    let pool = Pool::new(PoolConfig { max_buflets: 4, ..slice_config(16, 1024) }).unwrap();
    let mut k = packer(&pool);
    let mut a = k.pack(&frame(1, 100), false).unwrap();
    a.append(&frame(7, 2000)).unwrap();
    assert_eq!(a.buflet_count(), 3);
    assert_eq!(a.to_vec(), [frame(1, 100), frame(7, 2000)].concat());
    a.truncate(50);
    assert_eq!((a.buflet_count(), pool.in_use()), (1, 1));
    drop((a, k));
    assert_eq!(pool.in_use(), 0);
}

#[test]
fn appends_within_the_region_stay_direct() {
    let pool = slice_pool(8, 4096);
    let mut k = packer(&pool);
    let mut a = k.pack(&frame(1, 60), false).unwrap();
    a.append(&[0xee; 4]).unwrap();
    assert_eq!(a.tailroom(), 0);
    a.truncate(10);
    let b = k.pack(&frame(2, 8), false).unwrap();
    assert_eq!(b.to_vec(), frame(2, 8));
    assert_eq!(a.to_vec(), frame(1, 10));
    assert_eq!(a.tailroom(), 6, "a shortened slice knows only of the 16 bytes its length rounds up to");
    drop((a, b, k));
    assert_eq!(pool.in_use(), 0);
}

#[test]
fn free_burst_gives_back_runs_of_slices_of_several_buffers_and_plain_packets() {
    let pool = slice_pool(16, 2048);
    let mut burst: ArrayVec<Packet, 64> = ArrayVec::new();
    for round in 0..3u8 {
        let mut k = packer(&pool);
        for i in 0..10 {
            burst.push(k.pack(&frame(round * 10 + i, 64), false).unwrap());
        }
        burst.push(pool.packet_from(&[round; 64]).unwrap());
    }
    assert_eq!(pool.in_use(), 6);
    free_burst(&mut burst);
    assert_eq!(pool.in_use(), 0);
}

#[test]
fn slices_freed_on_another_thread_while_the_packer_lets_go() {
    let pool = slice_pool(64, 8192);
    for round in 0..500u32 {
        let mut k = packer(&pool);
        let mut burst: ArrayVec<Packet, 32> = ArrayVec::new();
        for i in 0..(round % 32) {
            burst.push(k.pack(&frame(i as u8, 64), false).unwrap());
        }
        let t = std::thread::spawn(move || free_burst(&mut burst));
        drop(k);
        t.join().unwrap();
    }
    pool.flush_thread_cache();
    assert_eq!(pool.in_use(), 0);
}

/// What can be done to a slice, applied to it and to a model of its bytes.
#[derive(Debug, Clone)]
enum Op {
    Append(usize),
    Truncate(usize),
    Prepend(usize),
    Adj(usize),
    Meta,
    Write(usize, u8),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0usize..40).prop_map(Op::Append),
        (0usize..200).prop_map(Op::Truncate),
        (0usize..40).prop_map(Op::Prepend),
        (0usize..40).prop_map(Op::Adj),
        Just(Op::Meta),
        ((0usize..200), any::<u8>()).prop_map(|(o, b)| Op::Write(o, b)),
    ]
}

proptest! {
    /// Slices packed side by side and changed at random keep their bytes, never touch a neighbour's, and
    /// give every buffer back.
    #[test]
    fn slices_behave_like_their_bytes(lens in prop::collection::vec(0usize..150, 1..20),
                                      ops in prop::collection::vec((0usize..20, op()), 0..60)) {
        let pool = slice_pool(8, 4096);
        let mut k = packer(&pool);
        let mut slices = Vec::new();
        let mut model: Vec<Vec<u8>> = Vec::new();
        for (i, &len) in lens.iter().enumerate() {
            let Some(s) = k.pack(&frame(i as u8, len), false) else { break };
            slices.push(s);
            model.push(frame(i as u8, len));
        }
        for (who, op) in ops {
            let i = who % slices.len();
            let (s, m) = (&mut slices[i], &mut model[i]);
            match op {
                Op::Append(n) => if s.append(&vec![0xab; n]).is_ok() { m.extend(std::iter::repeat_n(0xab, n)) },
                Op::Truncate(n) => { s.truncate(n); m.truncate(n) }
                Op::Prepend(n) => if let Ok(front) = s.prepend(n) {
                    front.fill(0xcd);
                    m.splice(0..0, std::iter::repeat_n(0xcd, n));
                },
                Op::Adj(n) => if s.adj(n).is_ok() { m.drain(..n); },
                Op::Meta => s.meta_mut().packet_id = i as u64,
                Op::Write(o, b) => if s.write(o, &[b]).is_ok() { m[o] = b },
            }
        }
        for (s, m) in slices.iter().zip(&model) {
            prop_assert_eq!(&s.to_vec(), m);
        }
        drop((slices, k));
        prop_assert_eq!(pool.in_use(), 0);
    }
}

#[test]
fn a_full_buffer_takes_not_even_an_empty_frame() {
    // No headroom and 1 KiB: two 512-byte frames fill it, and a region starting at its end would not fit
    // the handle (it would name the next buffer).
    let pool = Pool::new(PoolConfig { headroom: 0, ..slice_config(4, 1024) }).unwrap();
    let mut k = packer(&pool);
    let a = k.pack(&[1; 512], false).unwrap();
    let b = k.pack(&[2; 512], false).unwrap();
    assert!(k.pack(&[], false).is_none());
    let other = pool.alloc().unwrap();
    drop((a, b, k));
    assert_eq!(pool.in_use(), 1, "only the other buffer is out");
    drop(other);
    assert_eq!(pool.in_use(), 0);
}

#[test]
fn a_slice_index_is_unique_and_survives_getting_a_descriptor() {
    let pool = slice_pool(64, 4096);
    let plain: Vec<Packet> = (0..40).map(|_| pool.alloc().unwrap()).collect();
    let mut k = packer(&pool);
    let mut slices: Vec<Packet> = (0..32).map(|i| k.pack(&frame(i, 20), false).unwrap()).collect();
    let before: Vec<u32> = slices.iter().map(Packet::index).collect();
    let mut all: Vec<u32> = before.iter().copied().chain(plain.iter().map(Packet::index)).collect();
    all.sort_unstable();
    all.dedup();
    assert_eq!(all.len(), 72, "no two live packets share an index");
    slices.iter_mut().for_each(|s| s.meta_mut().packet_id = 7);
    assert_eq!(slices.iter().map(Packet::index).collect::<Vec<_>>(), before);
    drop((slices, plain, k));
    assert_eq!(pool.in_use(), 0);
}

#[test]
fn free_burst_gives_back_a_burst_of_slices_only_buffer_by_buffer() {
    let pool = slice_pool(16, 2048);
    let mut burst: ArrayVec<Packet, 160> = ArrayVec::new();
    let mut packers = Vec::new();
    for round in 0..4u8 {
        let mut k = packer(&pool);
        for i in 0..20 {
            burst.push(k.pack(&frame(round * 20 + i, 64), false).unwrap());
        }
        packers.push(k);
    }
    // Interleaved: runs of one buffer are short, and a buffer comes back only with its last share.
    burst.swap(0, 79);
    burst.swap(10, 45);
    drop(packers);
    assert_eq!(pool.in_use(), 4);
    free_burst(&mut burst);
    assert!(burst.is_empty());
    assert_eq!(pool.in_use(), 0);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    /// A burst of frames of any length (empty ones often), plain or slices themselves, packed whole at once
    /// with or without headroom: exactly the frames before the first one past the limit (or the first that
    /// fits no empty buffer) are packed, in order, byte for byte (the whole-line copies of short frames
    /// spoil no neighbour), each slice its own (metadata written to each stays its own), their bytes are
    /// summed, and every buffer is back afterwards.
    #[test]
    fn a_packed_burst_holds_every_frame_intact_up_to_the_first_refused(
        lens in proptest::collection::vec(prop_oneof![0usize..1100, Just(0usize), Just(1024usize)], 1..40),
        limit in 0usize..1100,
        sliced in any::<bool>(),
        headroom in prop_oneof![Just(0u32), Just(HEADROOM)],
    ) {
        let config = |buf_size| PoolConfig { headroom, ..slice_config(64, buf_size) };
        let (from, to) = (Pool::new(config(2048)).unwrap(), Pool::new(config(1024)).unwrap());
        let seed = |k: usize| (k as u8).wrapping_mul(37);
        let frames: Vec<Vec<u8>> = lens.iter().enumerate().map(|(k, &len)| frame(seed(k), len)).collect();
        let mut src = ArrayVec::<Packet, 64>::new();
        let mut source_packer = None;
        for f in &frames {
            let p = if sliced && f.len() <= 512 {
                from.pack_frame(f, &mut source_packer, false).unwrap()
            } else {
                from.packet_from(f).unwrap()
            };
            src.push(p);
        }
        drop(source_packer);
        let room = 1024 - headroom as usize;
        let want = lens.iter().take_while(|&&len| len <= limit && len <= room).count();
        let mut out = ArrayVec::<Packet, 64>::new();
        let mut packer = None;
        let direct = src.iter().all(Packet::is_direct);
        let (packed, bytes) = to.pack_plain_burst(&src, &mut packer, &mut out, true, limit);
        let want = if direct { want } else { 0 };
        prop_assert_eq!((packed, out.len()), (want, want));
        prop_assert_eq!(bytes, lens[..want].iter().sum::<usize>());
        for (k, s) in out.iter().enumerate() {
            prop_assert_eq!(s.data(), &frames[k][..], "frame {}", k);
            prop_assert_eq!(s.meta().link_header_len, 14);
        }
        for (k, s) in out.iter_mut().enumerate() {
            s.meta_mut().packet_id = k as u64;
        }
        for (k, s) in out.iter().enumerate() {
            prop_assert_eq!(s.meta().packet_id, k as u64, "slice {} shares its slot", k);
            prop_assert_eq!(s.data(), &frames[k][..], "frame {} after its metadata", k);
        }
        drop((src, out, packer));
        prop_assert_eq!((from.in_use(), to.in_use()), (0, 0));
    }
}

/// A frame that ends at its buffer's very end leaves no region to start there: the next frame, even an empty
/// one, goes into a new buffer (a region starting at the end would not fit the handle, and its slice would
/// take another's slot), one at a time and in a burst alike.
#[test]
fn nothing_is_packed_at_a_full_buffers_end() {
    let pool = Pool::new(PoolConfig { headroom: 0, ..slice_config(8, 1024) }).unwrap();
    let src = Pool::new(PoolConfig { headroom: 0, ..slice_config(8, 2048) }).unwrap();
    let frames = [frame(1, 1024), frame(2, 0), frame(3, 0)];
    let burst: ArrayVec<Packet, 8> = frames.iter().map(|f| src.packet_from(f).unwrap()).collect();
    let (mut packer, mut out) = (None, ArrayVec::<Packet, 8>::new());
    assert_eq!(pool.pack_plain_burst(&burst, &mut packer, &mut out, false, usize::MAX), (3, 1024));
    let mut single = None;
    out.extend(frames.iter().map(|f| pool.pack_frame(f, &mut single, false).unwrap()));
    let buffers: Vec<usize> = out.iter().map(|s| data_at(&pool, s) / 1024).collect();
    assert!(buffers[0] != buffers[1] && buffers[3] != buffers[4], "a new buffer after the full one: {buffers:?}");
    for (k, s) in out.iter_mut().enumerate() {
        s.meta_mut().packet_id = k as u64;
    }
    for (k, s) in out.iter().enumerate() {
        assert_eq!((s.meta().packet_id, s.data()), (k as u64, &frames[k % 3][..]), "slice {k} is its own");
    }
    drop((out, packer, single, burst));
    assert_eq!((pool.in_use(), src.in_use()), (0, 0));
}

/// The race a second review found: a materialized slice's release gives up its share of the packed buffer,
/// which may be the last thing its thread holds of the pool; when the other slice's holder then frees the
/// buffer and every handle of the pool is gone, the pool is retired and freed. The release must read
/// nothing of the pool after its share (it read whether the slot has a buffer of its own after: a read of
/// freed memory, which AddressSanitizer reports on the old code). The hook forces that interleaving; the
/// pool is made on a thread that has exited, so that no thread cache keeps its allocation, and the only
/// other reference to it is a weak one the hook drops itself.
#[test]
fn a_slice_released_as_its_pool_is_retired_reads_nothing_after_its_share() {
    use crate::pool::buflet::AFTER_HOST_SHARE_RELEASED;
    let (first, second, pool) = std::thread::spawn(|| {
        let pool = slice_pool(8, 4096);
        let mut k = packer(&pool);
        let mut first = k.pack(&frame(1, 64), true).unwrap();
        let second = k.pack(&frame(2, 64), false).unwrap();
        drop(k);
        first.meta_mut().packet_id = 1;
        (first, second, pool)
    })
    .join()
    .unwrap();
    assert!(!first.is_slice(), "materialized: a slot descriptor holding a share of the packed buffer");
    let (id, inner, in_hook): (u16, *const _, _) = (pool.id(), pool.inner(), pool.weak());
    let mut last = Some((pool, second));
    AFTER_HOST_SHARE_RELEASED.with(|h| {
        *h.borrow_mut() = Some(Box::new(move || {
            // The handle first: the pool is then retired, and the buffer goes back past any cache.
            let (pool, second) = last.take().unwrap();
            drop(pool);
            drop(second);
            assert_eq!(in_hook.strong_count(), 0, "retired within the release, after its share");
        }))
    });
    drop(first);
    assert!(AFTER_HOST_SHARE_RELEASED.with(|h| h.borrow().is_none()), "the hook ran");
    assert!(!crate::pool::registry::is_registered(id, inner));
}
