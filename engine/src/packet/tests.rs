use super::*;
use crate::mem::Prefer;
use crate::pool::PoolConfig;
use proptest::prelude::*;

fn pool(buffers: u32, buf_size: u32, headroom: u32, max_buflets: u16) -> Pool {
    let mut c = PoolConfig::new("pkt-test", buffers, buf_size);
    c.headroom = headroom;
    c.max_buflets = max_buflets;
    c.cache_size = 16;
    c.prefer = Prefer::Normal;
    Pool::new(c).unwrap()
}

#[test]
fn handle_is_eight_bytes() {
    assert_eq!(std::mem::size_of::<Packet>(), 8);
}

#[test]
fn drop_returns_every_buflet() {
    let p = pool(64, 512, 32, 8);
    let pkt = p.packet_from(&[7u8; 3000]).unwrap();
    assert_eq!(pkt.buflet_count(), 6, "480 bytes in the head, then 512 per buflet: 480 + 5 * 512 >= 3000");
    assert_eq!(p.in_use(), 6);
    drop(pkt);
    assert_eq!(p.in_use(), 0);
}

/// A buffer freed while it held shares in reserve for views, then taken again as a new buflet of another
/// packet's chain, holds no share but its own: the chain's free gives it back.
#[test]
fn a_buffer_that_held_a_reserve_is_whole_again_as_a_new_buflet() {
    // Two buffers: the second packet's is the only one left for the chain to take.
    let p = pool(2, 512, 32, 4);
    let mut chained = p.packet_from(&[1u8; 100]).unwrap();
    let mut reserved = p.packet_from(&[2u8; 100]).unwrap();
    reserved.reserve_views(3);
    // Its buffer goes back with its descriptor as it was, and is the one the chain's growth takes.
    drop(reserved);
    assert_eq!(p.in_use(), 1);
    chained.append(&[3u8; 600]).unwrap();
    assert_eq!((chained.buflet_count(), p.in_use()), (2, 2));
    drop(chained);
    assert_eq!(p.in_use(), 0, "every buffer back");
}

#[test]
fn append_beyond_the_chain_limit_fails_and_changes_nothing() {
    let p = pool(64, 512, 0, 2);
    let mut pkt = p.packet_from(&[1u8; 1000]).unwrap();
    assert_eq!(pkt.append(&[2u8; 100]), Err(PacketError::TooLong));
    assert_eq!(pkt.len(), 1000);
    assert_eq!(p.in_use(), 2);
}

#[test]
fn append_when_the_pool_is_empty_is_nomem_and_counted() {
    let p = pool(2, 512, 0, 4);
    let mut a = p.alloc().unwrap();
    let _b = p.alloc().unwrap();
    assert!(p.alloc().is_none());
    assert_eq!(a.append(&[0u8; 600]), Err(PacketError::NoMem));
    assert_eq!(a.len(), 0);
    assert!(p.stats().alloc_failures >= 2);
}

#[test]
fn bulk_alloc_is_all_or_nothing_and_free_burst_returns_everything() {
    let p = pool(100, 256, 0, 1);
    let mut burst = ArrayVec::<Packet, 128>::new();
    assert!(p.alloc_bulk(&mut burst, 90));
    assert!(!p.alloc_bulk(&mut burst, 20), "only 10 left");
    assert_eq!(burst.len(), 90);
    assert_eq!(p.in_use(), 90);
    let failures = p.stats().alloc_failures;
    assert_eq!(p.alloc_up_to(&mut burst, 20), 10, "up to: what is left");
    assert_eq!(p.stats().alloc_failures, failures + 1, "a short pool is one failure per call");
    assert_eq!(p.alloc_up_to(&mut burst, 5), 0);
    assert_eq!(p.stats().alloc_failures, failures + 2);
    free_burst(&mut burst);
    assert_eq!(p.in_use(), 0);
    assert_eq!(p.alloc_up_to(&mut burst, 200), 100, "no more than the burst holds or the pool has");
    free_burst(&mut burst);
    let mut small = ArrayVec::<Packet, 4>::new();
    assert_eq!(p.alloc_up_to(&mut small, 20), 4, "no more than the burst holds");
    free_burst(&mut small);
    assert_eq!(p.in_use(), 0);
}

/// A burst of whole packets of one pool goes back in one pass, straight into the thread's cache; a burst
/// that mixes pools, holds a chain, or is longer than one cache call takes the general path. Either way
/// every buffer comes back once: the pool can hand out all of them again, and no more.
#[test]
fn free_burst_of_simple_packets_returns_each_buffer_once_on_either_path() {
    let (a, b) = (pool(1024, 256, 0, 4), pool(64, 256, 0, 4));
    let mut burst = ArrayVec::<Packet, 1024>::new();
    assert!(a.alloc_bulk(&mut burst, 32));
    free_burst(&mut burst);
    assert_eq!((burst.len(), a.in_use()), (0, 0), "one pool, all simple");
    assert!(a.alloc_bulk(&mut burst, 16) && b.alloc_bulk(&mut burst, 16));
    burst.push(a.packet_from(&[7u8; 600]).unwrap());
    free_burst(&mut burst);
    assert_eq!((a.in_use(), b.in_use()), (0, 0), "two pools and a chain");
    for _ in 0..2 {
        assert!(a.alloc_bulk(&mut burst, 512));
    }
    assert!(burst.len() > crate::pool::MAX_BULK);
    free_burst(&mut burst);
    assert_eq!(a.in_use(), 0, "longer than one cache call");
    assert!(a.alloc_bulk(&mut burst, 512) && a.alloc_bulk(&mut burst, 512));
    assert!(a.alloc().is_none(), "every buffer once, none twice");
    let distinct: std::collections::HashSet<_> = burst
        .iter_mut()
        .map(|p| {
            p.extend(1).unwrap();
            p.data().as_ptr()
        })
        .collect();
    assert_eq!(distinct.len(), 1024, "no buffer handed out twice");
    free_burst(&mut burst);
    assert_eq!(a.in_use(), 0);
}

/// free_burst walks a run's chains side by side: more chains than one batch, long chains whose buffers
/// overflow the release list many times over, views sharing buffers with their hosts (freed before and
/// after them), simple packets and two pools interleaved. Everything comes back, nothing twice (a double
/// free would show as a count below zero or a panic in the cache).
#[test]
fn free_burst_of_interleaved_chains_views_and_pools_returns_every_buffer_once() {
    let (a, b) = (pool(4096, 64, 0, 64), pool(256, 256, 0, 4));
    let mut burst = ArrayVec::<Packet, 256>::new();
    for k in 0..80 {
        let len = [64 * 64, 100, 64 * 3 + 1][k % 3];
        burst.push(a.packet_from(&vec![k as u8; len]).unwrap());
        let mut host = b.packet_from(&[k as u8; 40]).unwrap();
        let view = host.carve_tail(0).unwrap();
        if k % 2 == 0 {
            burst.push(host);
            burst.push(view);
        } else {
            burst.push(view);
            burst.push(host);
        }
    }
    assert!(a.in_use() > 80 * 20, "long chains: {}", a.in_use());
    free_burst(&mut burst);
    assert!(burst.is_empty());
    assert_eq!((a.in_use(), b.in_use()), (0, 0));
    // Every buffer can be taken again exactly once.
    let mut again = ArrayVec::<Packet, 256>::new();
    assert!(b.alloc_bulk(&mut again, 256));
    assert!(b.alloc().is_none());
    free_burst(&mut again);
}

#[test]
fn headroom_prepend_and_adj() {
    let p = pool(8, 256, 32, 1);
    let mut pkt = p.packet_from(b"payload").unwrap();
    assert_eq!(pkt.headroom(), 32);
    pkt.prepend(4).unwrap().copy_from_slice(b"hdr:");
    assert_eq!(pkt.to_vec(), b"hdr:payload");
    assert_eq!(pkt.headroom(), 28);
    assert_eq!(pkt.prepend(29), Err(PacketError::NoHeadroom));
    pkt.adj(4).unwrap();
    assert_eq!(pkt.to_vec(), b"payload");
}

#[test]
fn carved_views_share_one_buffer_and_free_it_last() {
    let p = pool(8, 4096, 0, 1);
    let mut a = p.packet_from(&[1u8; 100]).unwrap();
    let mut b = a.carve_tail(8).unwrap();
    b.append(&[2u8; 50]).unwrap();
    let mut c = b.carve_tail(0).unwrap();
    c.append(&[3u8; 3000]).unwrap();
    assert_eq!(a.region_size(), 112, "a's region ends 16-aligned after its data");
    assert_eq!(b.headroom(), 8);
    assert_eq!(a.to_vec(), vec![1u8; 100]);
    assert_eq!(b.to_vec(), vec![2u8; 50]);
    assert_eq!(c.to_vec(), vec![3u8; 3000]);
    assert!(a.append(&[0u8; 20]).is_err(), "a cannot grow into b's region");
    assert_eq!(p.in_use(), 3);
    drop(a);
    assert_eq!(p.in_use(), 3, "the shared buffer stays while views use it");
    drop(c);
    assert_eq!(p.in_use(), 2);
    drop(b);
    assert_eq!(p.in_use(), 0);
}

#[test]
fn layout_copy_keeps_offsets_lengths_and_bytes() {
    let src_pool = pool(16, 512, 24, 4);
    let dst_pool = pool(16, 512, 0, 4);
    let data: Vec<u8> = (0..1500u32).map(|i| i as u8).collect();
    let src = src_pool.packet_from(&data).unwrap();
    let dst = src.copy_layout_to(&dst_pool).unwrap();
    let a: Vec<(usize, usize)> = src.buflets().map(|b| (b.offset, b.data.len())).collect();
    let b: Vec<(usize, usize)> = dst.buflets().map(|b| (b.offset, b.data.len())).collect();
    assert_eq!(a, b);
    assert_eq!(dst.headroom(), 24);
    assert_eq!(dst.to_vec(), data);
}

#[test]
fn layout_copy_failures_are_named_and_leak_nothing() {
    let src_pool = pool(16, 512, 0, 4);
    let src = src_pool.packet_from(&[9u8; 1500]).unwrap();
    let tiny = pool(2, 512, 0, 4);
    assert_eq!(src.copy_layout_to(&tiny).unwrap_err(), CopyError::NoMemBuffer);
    assert_eq!(tiny.in_use(), 0);
    let _hold = (tiny.alloc().unwrap(), tiny.alloc().unwrap());
    assert_eq!(src.copy_layout_to(&tiny).unwrap_err(), CopyError::NoMemPacket);
    let single = pool(4, 2048, 0, 1);
    assert_eq!(src.copy_layout_to(&single).unwrap_err(), CopyError::Layout);
}

#[derive(Debug, Clone)]
enum Op {
    Append(Vec<u8>),
    Write(usize, Vec<u8>),
    Read(usize, usize),
    Truncate(usize),
    Copy,
    Prepend(Vec<u8>),
    Adj(usize),
    Meta(u64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..1200).prop_map(Op::Append),
        (0usize..4000, proptest::collection::vec(any::<u8>(), 0..700)).prop_map(|(o, d)| Op::Write(o, d)),
        (0usize..4000, 0usize..1500).prop_map(|(o, l)| Op::Read(o, l)),
        (0usize..4000).prop_map(Op::Truncate),
        Just(Op::Copy),
        proptest::collection::vec(any::<u8>(), 0..80).prop_map(Op::Prepend),
        (0usize..600).prop_map(Op::Adj),
        any::<u64>().prop_map(Op::Meta),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Reads, writes, appends, truncations, layout copies, prepends, front trims and metadata writes across
    /// buflet boundaries behave exactly like a plain `Vec<u8>` (whether the packet is still plain or has a
    /// descriptor), and every buffer comes back at the end.
    #[test]
    fn multi_buflet_packet_matches_a_vec(headroom in 0u32..64, ops in proptest::collection::vec(op(), 1..24)) {
        let p = pool(256, 512, headroom, 8);
        let other = pool(256, 512, 0, 8);
        let mut pkt = p.alloc().unwrap();
        let mut model: Vec<u8> = Vec::new();
        let mut meta = PacketMeta::default();
        for op in ops {
            // The head buflet's data starts after its headroom; the other seven buflets are whole.
            let limit = 8 * 512 - pkt.headroom();
            match op {
                Op::Append(d) => {
                    let r = pkt.append(&d);
                    if model.len() + d.len() <= limit {
                        prop_assert_eq!(r, Ok(()));
                        model.extend_from_slice(&d);
                    } else {
                        prop_assert_eq!(r, Err(PacketError::TooLong));
                    }
                }
                Op::Write(o, d) => {
                    let r = pkt.write(o, &d);
                    if o + d.len() <= model.len() {
                        prop_assert!(r.is_ok());
                        model[o..o + d.len()].copy_from_slice(&d);
                    } else {
                        prop_assert!(r.is_err());
                    }
                }
                Op::Read(o, l) => {
                    let mut buf = vec![0u8; l];
                    let r = pkt.read(o, &mut buf);
                    if o + l <= model.len() {
                        prop_assert!(r.is_ok());
                        prop_assert_eq!(&buf[..], &model[o..o + l]);
                    } else {
                        prop_assert!(r.is_err());
                    }
                }
                Op::Truncate(n) => {
                    pkt.truncate(n);
                    model.truncate(n);
                }
                Op::Copy => {
                    let copy = pkt.copy_layout_to(&other).unwrap();
                    prop_assert_eq!(copy.to_vec(), model.clone());
                    prop_assert_eq!(copy.buflet_count(), pkt.buflet_count());
                }
                Op::Prepend(d) => {
                    let room = pkt.headroom();
                    match pkt.prepend(d.len()) {
                        Ok(front) => {
                            prop_assert!(d.len() <= room);
                            front.copy_from_slice(&d);
                            model.splice(0..0, d);
                        }
                        Err(e) => {
                            prop_assert!(d.len() > room);
                            prop_assert_eq!(e, PacketError::NoHeadroom);
                        }
                    }
                }
                Op::Adj(n) => {
                    let first = pkt.buflets().next().map_or(0, |b| b.data.len());
                    let r = pkt.adj(n);
                    prop_assert_eq!(r.is_ok(), n <= first);
                    if r.is_ok() {
                        model.drain(..n);
                    }
                }
                Op::Meta(id) => {
                    pkt.meta_mut().packet_id = id;
                    meta.packet_id = id;
                }
            }
            prop_assert_eq!(pkt.meta().packet_id, meta.packet_id);
            prop_assert_eq!(pkt.len(), model.len());
            prop_assert_eq!(pkt.to_vec(), model.clone());
            let chained: usize = pkt.buflets().map(|b| b.data.len()).sum();
            prop_assert_eq!(chained, model.len());
            prop_assert_eq!(p.in_use(), pkt.buflet_count());
        }
        drop(pkt);
        prop_assert_eq!(p.in_use(), 0);
        prop_assert_eq!(other.in_use(), 0);
    }
}

#[test]
fn long_packets_keep_their_length_past_the_handle_cache() {
    let p = pool(64, 2048, 0, 40);
    let mut pkt = p.packet_from(&vec![5u8; 70_000]).unwrap();
    assert_eq!(pkt.len(), 70_000);
    pkt.truncate(65_535);
    assert_eq!(pkt.len(), 65_535);
    pkt.truncate(100);
    assert_eq!(pkt.len(), 100);
    assert_eq!(pkt.to_vec(), vec![5u8; 100]);
}

#[test]
fn simple_packets_lose_the_fast_free_once_chained_or_shared() {
    let p = pool(16, 512, 0, 4);
    let mut a = p.packet_from(&[1u8; 100]).unwrap();
    assert_ne!(a.tag() & SIMPLE, 0);
    let view = a.carve_tail(0).unwrap();
    assert_eq!(a.tag() & SIMPLE, 0, "a's buffer is shared with the view now");
    assert_eq!(view.tag() & SIMPLE, 0);
    drop(a);
    assert_eq!(p.in_use(), 2, "the buffer stays while the view lives");
    drop(view);
    let mut b = p.packet_from(&[2u8; 100]).unwrap();
    b.append(&[3u8; 500]).unwrap();
    assert_eq!(b.tag() & SIMPLE, 0);
    assert_eq!(b.pool_id(), p.id());
    let mut burst = ArrayVec::<Packet, 4>::new();
    burst.push(b);
    burst.push(p.packet_from(b"x").unwrap());
    free_burst(&mut burst);
    assert_eq!(p.in_use(), 0);
}

#[test]
fn metadata_reads_as_default_until_written_and_is_reset_on_reuse() {
    assert_eq!(DEFAULT_META, PacketMeta::default());
    let p = pool(4, 256, 0, 1);
    let mut a = p.alloc().unwrap();
    assert_eq!(*a.meta(), PacketMeta::default());
    a.meta_mut().packet_id = 42;
    a.meta_mut().service_class = ServiceClass::Vo;
    assert_eq!((a.meta().packet_id, a.meta().service_class), (42, ServiceClass::Vo));
    let idx = a.index();
    drop(a);
    let b = p.alloc().unwrap();
    assert_eq!(b.index(), idx, "the cache hands the same buffer back");
    assert_eq!(*b.meta(), PacketMeta::default(), "a reused descriptor starts with fresh metadata");
    let mut b = b;
    b.meta_mut().link_header_len = 14;
    assert_eq!(b.meta().packet_id, 0, "the first write starts from defaults, not the previous packet's");
    assert_eq!(b.meta().service_class, ServiceClass::Be);
    let mut c = p.packet_from(&[1u8; 10]).unwrap();
    c.meta_mut().packet_id = 7;
    let view = c.carve_tail(0).unwrap();
    assert_eq!(*view.meta(), PacketMeta::default());
    let copy = c.copy_layout_to(&p).unwrap();
    assert_eq!(*copy.meta(), PacketMeta::default(), "layout copies leave metadata at its defaults");
}

/// A pool of Ethernet frames makes packets whose link-header length reads 14 however they are made, with
/// no descriptor written, until their metadata is; other pools' read 0.
#[test]
fn an_ethernet_pool_makes_packets_marked_as_ethernet_frames() {
    let mut c = PoolConfig::new("eth-test", 16, 256);
    c.max_buflets = 4;
    c.prefer = Prefer::Normal;
    let eth = Pool::new(PoolConfig { ethernet: true, ..c.clone() }).unwrap();
    let plain = Pool::new(c).unwrap();
    let mut burst = crate::PacketBurst::new();
    assert!(eth.alloc_bulk(&mut burst, 2));
    assert!(eth.alloc_frames(&mut burst, 1, &[5u8; 60]));
    assert!(eth.alloc_frames(&mut burst, 1, &[6u8; 600]), "a chained frame");
    burst.push(eth.alloc().unwrap());
    burst.push(eth.packet_from(&[7u8; 60]).unwrap());
    burst.push(plain.packet_from(&[8u8; 600]).unwrap().copy_layout_to(&eth).unwrap());
    for p in &burst {
        assert_eq!(p.meta().link_header_len, 14, "{p:?}");
        assert_eq!(p.tag() & META, 0, "nothing written");
    }
    let mut written = burst.pop().unwrap();
    written.meta_mut().packet_id = 3;
    assert_eq!((written.meta().link_header_len, written.meta().packet_id), (14, 3), "kept when written");
    assert_eq!(plain.packet_from(&[9u8; 60]).unwrap().meta().link_header_len, 0);
}

#[test]
fn an_ethernet_link_header_is_a_handle_flag_until_the_metadata_is_written() {
    let p = pool(4, 256, 0, 1);
    let mut a = p.packet_from(&[7u8; 60]).unwrap();
    a.set_link_header_len(14);
    assert_eq!(a.tag() & META, 0, "no descriptor write");
    assert_eq!(*a.meta(), PacketMeta { link_header_len: 14, ..PacketMeta::default() });
    a.meta_mut().packet_id = 9;
    assert_eq!((a.meta().link_header_len, a.meta().packet_id), (14, 9), "the first write keeps the header");
    a.set_link_header_len(0);
    assert_eq!(a.meta().link_header_len, 0, "written metadata takes any length");
    let mut b = p.packet_from(&[7u8; 60]).unwrap();
    b.set_link_header_len(20);
    assert_eq!(b.meta().link_header_len, 20, "other lengths are written");
    let mut c = p.packet_from(&[7u8; 60]).unwrap();
    c.set_link_header_len(14);
    let copy = c.copy_layout_to(&p).unwrap();
    assert_eq!(*copy.meta(), PacketMeta::default(), "the flag is metadata: copies leave it behind");
    drop((a, b, c, copy));
    let d = p.alloc().unwrap();
    assert_eq!(*d.meta(), PacketMeta::default(), "a reused buffer does not inherit it");
}

/// The race a review found in chain release: a packet whose head buffer is shared with a view gives up its
/// share; before it goes on down its chain, the view's holder frees the buffer (the last share) and it is
/// reused at once as the head of a new chained packet. The release must still follow the old chain (read
/// before the share was given up), not the new packet's. The hook forces that interleaving on one thread.
#[test]
fn a_chain_whose_shared_head_is_freed_and_reused_mid_release_frees_only_its_own_buflets() {
    use crate::pool::buflet::AFTER_SHARE_RELEASED;
    use std::cell::RefCell;
    use std::rc::Rc;

    let p = pool(16, 256, 0, 4);
    let mut host = p.packet_from(&[1u8; 40]).unwrap();
    let view = host.carve_tail(0).unwrap();
    host.append(&[2u8; 300]).unwrap();
    assert_eq!(host.buflet_count(), 3, "8 bytes fit the carved head, 292 need two more buflets");
    let head = host.index();
    let reused: Rc<RefCell<Option<Packet>>> = Rc::default();
    let (p2, slot) = (p.clone(), reused.clone());
    AFTER_SHARE_RELEASED.with(|h| {
        *h.borrow_mut() = Some(Box::new(move || {
            drop(view);
            // The view's own buffer comes back last (top of the LIFO cache): take it first, so that the
            // shared buffer becomes the head of the next packet.
            let view_buffer = p2.alloc().unwrap();
            let q = p2.packet_from(&[3u8; 600]).unwrap();
            drop(view_buffer);
            assert_eq!(q.index(), head, "the freed head is reused at once, with buflets after it");
            *slot.borrow_mut() = Some(q);
        }))
    });
    drop(host);
    let q = reused.borrow_mut().take().expect("the hook ran");
    assert_eq!(q.buflet_count(), 3);
    // Take every buffer left and scribble on it: none may belong to `q`, and all must be there.
    let mut others = Vec::new();
    while let Ok(o) = p.packet_from(&[0xee; 256]) {
        others.push(o);
    }
    assert!(q.to_vec() == vec![3u8; 600], "a buflet of the new packet was freed under it");
    assert_eq!(others.len(), 16 - 3, "the old chain's own buflets all came back");
    drop(others);
    drop(q);
    assert_eq!(p.in_use(), 0);
}

/// Views carved with shares reserved up front (split packing) account exactly like views that add a share
/// each: whatever order the host, the views and the last tail (still holding unused shares) are freed in,
/// every buffer comes back once.
#[test]
fn reserved_view_shares_are_all_given_back_whatever_the_free_order() {
    for order in 0..4 {
        let p = pool(32, 4096, 0, 1);
        let mut host = p.alloc().unwrap();
        host.reserve_views(3);
        host.append(&[9u8; 100]).unwrap();
        let mut pkts = Vec::new();
        let mut tail = host.carve_tail(8).unwrap();
        pkts.push(host);
        for i in 0..5u8 {
            tail.append(&[i; 50]).unwrap();
            let next = tail.carve_tail(8).unwrap();
            pkts.push(std::mem::replace(&mut tail, next));
        }
        assert_eq!(p.in_use(), 7, "one buffer of data, six view descriptors (five views and the tail)");
        for (i, v) in pkts.iter().enumerate().skip(1) {
            assert_eq!(v.to_vec(), vec![i as u8 - 1; 50]);
        }
        match order {
            0 => drop((pkts, tail)),
            1 => drop((tail, pkts)),
            2 => {
                pkts.reverse();
                drop((pkts, tail));
            }
            _ => {
                let host = pkts.remove(0);
                drop((tail, pkts, host));
            }
        }
        assert_eq!(p.in_use(), 0, "free order {order}: every buffer back");
        let all: Vec<Packet> = (0..32).map(|_| p.alloc().unwrap()).collect();
        assert!(p.alloc().is_none(), "free order {order}: the shared buffer came back exactly once");
        drop(all);
    }
}

#[test]
fn max_packet_len_is_exactly_what_a_packet_can_hold() {
    for (headroom, buflets) in [(0u32, 1u16), (32, 1), (32, 4)] {
        let p = pool(16, 512, headroom, buflets);
        let max = p.max_packet_len();
        assert!(p.packet_from(&vec![7u8; max]).is_ok(), "{max} fits ({headroom}, {buflets})");
        assert!(p.packet_from(&vec![7u8; max + 1]).is_err(), "{} does not", max + 1);
        let mut one = p.alloc().unwrap();
        assert!(one.extend_chained(max).is_ok());
    }
}

/// A burst of `lens.len()` plain packets of `pool`, packet `k` holding `lens[k]` bytes of `k * 31 + i`.
fn plain_burst(pool: &Pool, lens: &[usize]) -> ArrayVec<Packet, 64> {
    let mut b = ArrayVec::new();
    for (k, &len) in lens.iter().enumerate() {
        let mut p = pool.alloc().unwrap();
        p.append(&(0..len).map(|i| (k * 31 + i) as u8).collect::<Vec<_>>()).unwrap();
        b.push(p);
    }
    b
}

#[test]
fn a_plain_burst_is_copied_whole_into_another_pool() {
    let (from, to) = (pool(64, 512, 32, 1), pool(64, 512, 32, 1));
    let src = plain_burst(&from, &[60, 0, 480, 1, 64]);
    let mut out = ArrayVec::<Packet, 64>::new();
    out.push(to.alloc().unwrap());
    assert_eq!(to.copy_plain_burst(&src, &mut out, true, 480), Some(60 + 480 + 1 + 64));
    assert_eq!(out.len(), 6, "appended after what `out` held");
    for (s, c) in src.iter().zip(&out[1..]) {
        assert_eq!(c.pool_id(), to.id());
        assert_eq!((c.to_vec(), c.headroom(), c.buflet_count()), (s.to_vec(), 32, 1));
        assert_eq!(c.meta(), &PacketMeta { link_header_len: 14, ..PacketMeta::default() });
    }
    assert_eq!((from.in_use(), to.in_use()), (5, 6));
    let mut copy = out.pop().unwrap();
    copy.append(&[9; 8]).unwrap();
    assert_eq!(copy.len(), 72, "a copy is an ordinary packet");
    assert_eq!(to.copy_plain_burst(&src[..1], &mut out, false, 60), Some(60));
    assert_eq!(out.last().unwrap().meta().link_header_len, 0, "no link header unless asked");
    drop((src, out, copy));
    assert_eq!((from.in_use(), to.in_use(), to.stats().alloc_failures), (0, 0, 0));
}

#[test]
fn a_moved_burst_frees_its_first_k_sources_and_keeps_the_rest() {
    let (from, to) = (pool(64, 512, 32, 1), pool(64, 512, 32, 1));
    let mut src = plain_burst(&from, &[60, 61, 62, 63]);
    let want: Vec<Vec<u8>> = src.iter().map(Packet::to_vec).collect();
    let mut out = ArrayVec::<Packet, 64>::new();
    assert_eq!(to.move_plain_burst(&mut src, 3, &mut out, true, 61), None, "a frame past the limit");
    assert_eq!((src.len(), from.in_use(), to.in_use()), (4, 4, 0), "refused untouched");
    assert_eq!(to.move_plain_burst(&mut src, 5, &mut out, true, 64), None, "more than the burst holds");
    assert_eq!(to.move_plain_burst(&mut src, 3, &mut out, true, 62), Some(60 + 61 + 62));
    assert_eq!(out.iter().map(Packet::to_vec).collect::<Vec<_>>(), want[..3]);
    assert_eq!((src.len(), src[0].to_vec()), (1, want[3].clone()), "the rest kept, in place");
    assert_eq!((from.in_use(), to.in_use()), (1, 3), "the three sources back in their pool");
}

#[test]
fn a_burst_that_is_not_plain_alike_or_does_not_fit_is_refused_untouched() {
    let from = pool(64, 512, 32, 4);
    let other = pool(64, 512, 32, 1);
    let to = pool(64, 512, 32, 1);
    let mut out = ArrayVec::<Packet, 64>::new();
    let refused = |src: &[Packet], to: &Pool, out: &mut ArrayVec<Packet, 64>| {
        let before = to.in_use();
        let ok = to.copy_plain_burst(src, out, true, usize::MAX).is_some();
        assert_eq!(to.in_use(), before, "nothing allocated");
        !ok && out.is_empty()
    };
    let mut meta = plain_burst(&from, &[60, 60]);
    meta[1].meta_mut().packet_id = 7;
    assert!(refused(&meta, &to, &mut out), "metadata written");
    let mut moved = plain_burst(&from, &[60, 60]);
    moved[0].adj(2).unwrap();
    assert!(refused(&moved, &to, &mut out), "data moved off the headroom");
    let chained = plain_burst(&from, &[60, 900]);
    assert!(refused(&chained, &to, &mut out), "several buflets");
    let mut mixed = plain_burst(&from, &[60]);
    mixed.push(other.alloc().unwrap());
    assert!(refused(&mixed, &to, &mut out), "two pools");
    let src = plain_burst(&from, &[60]);
    assert!(refused(&src, &pool(64, 512, 16, 1), &mut out), "another headroom");
    let big = plain_burst(&pool(64, 2048, 32, 1), &[1000]);
    assert!(refused(&big, &to, &mut out), "longer than a buffer of `to`");
    assert!(refused(&[], &to, &mut out), "empty");
    let mut full = ArrayVec::<Packet, 1>::new();
    full.push(other.alloc().unwrap());
    assert_eq!(to.copy_plain_burst(&src, &mut full, true, usize::MAX), None, "no room in `out`");
    assert_eq!(to.copy_plain_burst(&src, &mut out, true, 59), None, "longer than the caller's limit");
    assert_eq!(to.in_use(), 0);
    assert_eq!(to.copy_plain_burst(&src, &mut out, true, 60), Some(60), "as long as the caller's limit");
    out.clear();
    assert_eq!(to.in_use(), 0);
    let short = pool(1, 512, 32, 1);
    let two = plain_burst(&from, &[60, 60]);
    assert!(refused(&two, &short, &mut out), "the pool cannot supply the burst");
    assert_eq!(short.stats().alloc_failures, 0, "not counted: the caller goes on one at a time");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Bursts of frames of any length, each left plain or given metadata, moved data or a second buflet:
    /// the burst copy takes exactly the bursts whose every frame is still plain with no metadata and fits
    /// a buffer, copies them byte for byte, and nothing leaks either way.
    #[test]
    fn the_burst_copy_takes_exactly_the_plain_bursts_and_copies_them_intact(
        frames in proptest::collection::vec((0usize..700, 0u8..8), 1..40),
    ) {
        let (from, to) = (pool(128, 512, 32, 4), pool(128, 512, 32, 1));
        let mut src = ArrayVec::<Packet, 64>::new();
        let mut expect_taken = true;
        for (k, &(len, kind)) in frames.iter().enumerate() {
            let mut p = from.packet_from(&(0..len).map(|i| (i * 7 + k) as u8).collect::<Vec<_>>()).unwrap();
            match kind {
                0 => p.meta_mut().packet_id = k as u64,
                1 if len > 0 => p.adj(1).unwrap(),
                2 => p.set_link_header_len(14),
                _ => {}
            }
            expect_taken &= p.buflet_count() == 1 && kind != 0 && !(kind == 1 && len > 0);
            src.push(p);
        }
        let mut out = ArrayVec::<Packet, 64>::new();
        let copied = to.copy_plain_burst(&src, &mut out, true, usize::MAX);
        let taken = copied.is_some();
        prop_assert_eq!(copied.unwrap_or(0), if taken { src.iter().map(Packet::len).sum() } else { 0 });
        prop_assert_eq!(taken, expect_taken);
        prop_assert_eq!(out.len(), if taken { src.len() } else { 0 });
        for (s, c) in src.iter().zip(&out) {
            prop_assert_eq!(c.to_vec(), s.to_vec());
            prop_assert_eq!((c.headroom(), c.meta().link_header_len), (32, 14));
        }
        drop((src, out));
        prop_assert_eq!((from.in_use(), to.in_use()), (0, 0));
    }
}

#[test]
fn a_burst_of_frames_holds_a_copy_each_and_is_all_or_nothing() {
    let p = pool(8, 512, 32, 4);
    let frame: Vec<u8> = (0..100u8).collect();
    let mut out = ArrayVec::<Packet, 64>::new();
    out.push(p.alloc().unwrap());
    assert!(p.alloc_frames(&mut out, 3, &frame));
    assert_eq!(out.len(), 4, "appended after what `out` held");
    for q in &out[1..] {
        assert_eq!((q.to_vec(), q.headroom(), q.buflet_count()), (frame.clone(), 32, 1));
        assert_eq!(q.meta(), &PacketMeta::default());
    }
    assert!(!p.alloc_frames(&mut out, 5, &frame), "four buffers left");
    assert_eq!((out.len(), p.in_use(), p.stats().alloc_failures), (4, 4, 1), "nothing taken, counted");
    let long: Vec<u8> = (0..1200).map(|i| i as u8).collect();
    assert!(p.alloc_frames(&mut out, 1, &long), "a frame longer than a buffer chains buflets");
    assert_eq!((out[4].to_vec(), out[4].buflet_count()), (long.clone(), 3));
    out.truncate(1);
    let too_long = vec![7u8; 2100];
    assert!(!p.alloc_frames(&mut out, 2, &too_long), "no packet of the pool holds it");
    assert_eq!((out.len(), p.in_use(), p.stats().alloc_failures), (1, 1, 1), "nothing taken, uncounted");
    out.clear();
    assert_eq!(p.in_use(), 0);
}

#[test]
fn a_plain_burst_is_lent_whole_or_not_at_all() {
    let (p, other) = (pool(8, 512, 32, 1), pool(8, 512, 32, 1));
    let mut pkts = ArrayVec::<Packet, 64>::new();
    assert!(p.alloc_frames(&mut pkts, 3, &[7; 60]));
    pkts.push(other.packet_from(&[8; 61]).unwrap());
    let collect = |bufs: PlainBuffers<'_>| bufs.collect::<Vec<LentBuffer>>();
    let never = |_: PlainBuffers<'_>| -> Vec<LentBuffer> { unreachable!("a refused burst is not lent") };
    assert!(p.lend_plain_burst(&mut pkts, 4, never).is_none(), "the fourth is another pool's");
    assert!(p.lend_plain_burst(&mut pkts, 5, never).is_none(), "more than the burst holds");
    pkts[1].adj(2).unwrap();
    assert!(p.lend_plain_burst(&mut pkts, 3, never).is_none(), "the second's data is no longer at the headroom");
    drop(pkts.remove(1));
    pkts.insert(1, p.packet_from(&[7; 60]).unwrap());
    assert_eq!(pkts.len(), 4, "refused: nothing taken");
    let lent = p.lend_plain_burst(&mut pkts, 3, |bufs| {
        assert_eq!(bufs.len(), 3);
        assert_eq!(bufs.clone().count(), 3, "a clone goes over them again");
        collect(bufs)
    });
    let lent = lent.expect("three plain buffers of the pool");
    assert_eq!(pkts.len(), 1, "the rest stays");
    assert!(lent.iter().all(|b| (b.offset, b.len) == (32, 60)));
    assert!(lent[0].index != lent[1].index && lent[1].index != lent[2].index && lent[0].index != lent[2].index);
    assert_eq!(p.in_use(), 3, "the buffers are the holder's");
    // SAFETY: the three buffers were just lent out of their packets, with 60 bytes at the headroom.
    let back: Vec<Packet> = lent.iter().map(|&b| unsafe { p.packet_from_buffer(b) }).collect();
    assert!(back.iter().all(|q| q.to_vec() == [7; 60]));
    drop((back, pkts));
    assert_eq!((p.in_use(), other.in_use()), (0, 0));
}

#[test]
fn a_lend_that_panics_takes_nothing() {
    let p = pool(8, 512, 32, 1);
    let mut pkts = ArrayVec::<Packet, 64>::new();
    assert!(p.alloc_frames(&mut pkts, 3, &[7; 60]));
    let lent = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        p.lend_plain_burst(&mut pkts, 2, |_| panic!("the caller's records fail"))
    }));
    assert!(lent.is_err());
    assert_eq!((pkts.len(), p.in_use()), (3, 3), "the packets stay, and own their buffers");
    drop(pkts);
    assert_eq!(p.in_use(), 0);
}

#[test]
fn a_plain_run_stops_at_the_first_packet_that_is_not_a_short_plain_one() {
    let (p, other) = (pool(8, 512, 32, 1), pool(8, 512, 32, 1));
    let mut pkts = ArrayVec::<Packet, 64>::new();
    assert_eq!(p.plain_run(&pkts, 1500), 0);
    assert!(p.alloc_frames(&mut pkts, 3, &[7; 60]));
    assert_eq!((p.plain_run(&pkts, 1500), p.plain_run(&pkts, 60)), (3, 3), "all of them, at the limit");
    assert_eq!(p.plain_run(&pkts, 59), 0, "longer than the limit");
    assert_eq!(other.plain_run(&pkts, 1500), 0, "another pool's");
    pkts[1].adj(2).unwrap();
    assert_eq!(p.plain_run(&pkts, 1500), 1, "the second's data is no longer at the headroom");
    drop(pkts.remove(1));
    pkts.push(other.packet_from(&[8; 61]).unwrap());
    assert!(p.alloc_frames(&mut pkts, 1, &[9; 40]));
    assert_eq!(p.plain_run(&pkts, 1500), 2, "up to the other pool's, not past it");
    drop(pkts);
    assert_eq!((p.in_use(), other.in_use()), (0, 0));
}

#[test]
fn a_headed_burst_starts_with_the_head_and_is_as_long_as_asked() {
    // Buffers of 512 bytes after a headroom of 32: 480 bytes of room.
    let p = pool(8, 512, 32, 4);
    let head: Vec<u8> = (1..=42u8).collect();
    let mut out = ArrayVec::<Packet, 64>::new();
    for len in [42, 64, 480] {
        assert!(p.alloc_headed(&mut out, 2, len, &head));
        for q in out.drain(..) {
            assert_eq!((q.len(), q.headroom(), q.buflet_count()), (len, 32, 1));
            let bytes = q.to_vec();
            assert_eq!(&bytes[..42], &head[..], "{len} bytes: the head first");
            assert!(bytes[42..len.min(64)].iter().all(|&b| b == 0), "{len} bytes: zeros to the line's end");
            assert_eq!(q.meta(), &PacketMeta::default());
        }
    }
    let mut small = ArrayVec::<Packet, 1>::new();
    assert!(!p.alloc_headed(&mut small, 2, 64, &head), "more than `out` has room for");
    let long_head = vec![5u8; 100];
    assert!(p.alloc_headed(&mut out, 1, 300, &long_head), "a head longer than a line is copied");
    assert_eq!((&out[0].to_vec()[..100], out[0].len()), (&long_head[..], 300));
    out.clear();
    assert!(!p.alloc_headed(&mut out, 1, 41, &head), "a head longer than the packet");
    assert!(!p.alloc_headed(&mut out, 1, 481, &head), "longer than a buffer's room");
    assert_eq!((p.in_use(), p.stats().alloc_failures), (0, 0), "refused: nothing taken, uncounted");
    assert!(!p.alloc_headed(&mut out, 9, 64, &head), "eight buffers in the pool");
    assert_eq!((out.len(), p.in_use(), p.stats().alloc_failures), (0, 0, 1), "nothing taken, counted");
}

#[test]
fn a_head_in_buffers_of_less_than_a_line_is_copied_alone() {
    // 96-byte buffers after a headroom of 64: 32 bytes of room, less than the line a short head is
    // otherwise written as; the buffer after each must keep its bytes.
    let p = pool(4, 96, 64, 1);
    let mut out = ArrayVec::<Packet, 8>::new();
    assert!(p.alloc_frames(&mut out, 4, &[0xee; 32]));
    out.clear();
    assert!(p.alloc_headed(&mut out, 4, 32, &[7; 20]));
    for q in &out {
        assert_eq!(&q.to_vec()[..20], &[7; 20], "the head");
        assert_eq!(&q.to_vec()[20..], &[0xee; 12], "the rest as the buffer held it");
    }
}

#[test]
fn a_length_a_handle_cannot_say_is_refused_uncounted() {
    let p = pool(2, 1 << 17, 32, 1);
    let mut out = ArrayVec::<Packet, 4>::new();
    assert!(!p.alloc_headed(&mut out, 1, 65535, &[1; 42]));
    assert_eq!((p.in_use(), p.stats().alloc_failures), (0, 0));
    assert!(p.alloc_headed(&mut out, 1, 65534, &[1; 42]));
    assert_eq!(out[0].len(), 65534);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Frames longer than a buffer, made as a burst: each packet is the chain a new packet's append of the
    /// frame makes (the same buflets' windows, length, headroom and metadata), and it goes on like one
    /// (appended to, prepended to, cut short, freed).
    #[test]
    fn a_burst_of_chained_frames_is_what_appends_make(len in 481usize..=2016, n in 1usize..=8) {
        let p = pool(64, 512, 32, 4);
        // Every descriptor left as other packets leave them (windows moved, chains cut, metadata written),
        // so that a field the burst did not write would show.
        let used: Vec<Packet> = (0..16)
            .map(|k| {
                let mut q = p.alloc().unwrap();
                q.append(&vec![k as u8; 1500]).unwrap();
                q.meta_mut().packet_id = 9;
                q.adj(3 + k).unwrap();
                q.truncate(700 - 7 * k);
                q
            })
            .collect();
        drop(used);
        let frame: Vec<u8> = (0..len).map(|i| (i * 7) as u8).collect();
        let mut burst = ArrayVec::<Packet, 64>::new();
        prop_assert!(p.alloc_frames(&mut burst, n, &frame));
        let mut appended = p.alloc().unwrap();
        appended.append(&frame).unwrap();
        let layout = |q: &Packet| q.buflets().map(|b| (b.offset, b.data.len())).collect::<Vec<_>>();
        for q in &burst {
            prop_assert_eq!(q.to_vec(), frame.clone());
            prop_assert_eq!(layout(q), layout(&appended));
            prop_assert_eq!((q.len(), q.headroom(), q.buflet_count()), (len, 32, appended.buflet_count()));
            prop_assert_eq!(q.meta(), appended.meta());
        }
        let mut q = burst.pop().unwrap();
        q.prepend(4).unwrap().copy_from_slice(&[1, 2, 3, 4]);
        q.truncate(len);
        prop_assert_eq!(&q.to_vec()[4..], &frame[..len - 4]);
        drop((burst, q, appended));
        prop_assert_eq!(p.in_use(), 0);
    }
}

/// Short frames go in as the line they start where the room holds one (the rest of the line zeros), and by
/// their length where it does not; either way each packet holds exactly the frame and no neighbour's byte
/// changes.
#[test]
fn short_frames_are_written_whole_and_spoil_no_neighbour() {
    for (buf_size, headroom) in [(512, 32), (64, 8)] {
        let p = pool(8, buf_size, headroom, 1);
        let mut guards = ArrayVec::<Packet, 8>::new();
        let room = (buf_size - headroom) as usize;
        for len in [0usize, 1, 63.min(room), 64.min(room)] {
            let frame: Vec<u8> = (0..len).map(|i| i as u8 ^ 0x5a).collect();
            // Every other buffer of the pool is a packet of 0xee over the whole buffer, around the new ones.
            let mut out = ArrayVec::<Packet, 8>::new();
            while p.in_use() < 6 {
                let mut g = p.alloc().unwrap();
                g.append(&vec![0xee; room]).unwrap();
                g.prepend(headroom as usize).unwrap().fill(0xee);
                guards.push(g);
            }
            assert!(p.alloc_frames(&mut out, 2, &frame), "{buf_size} {len}");
            for q in &out {
                assert_eq!((q.to_vec(), q.len(), q.headroom()), (frame.clone(), len, headroom as usize));
            }
            assert!(
                guards.iter().all(|g| g.to_vec().iter().all(|&b| b == 0xee)),
                "{buf_size} {len}: neighbours intact"
            );
            guards.clear();
        }
        assert_eq!(p.in_use(), 0);
    }
}

#[test]
fn a_move_into_a_pool_that_cannot_supply_it_takes_nothing() {
    let (from, to) = (pool(8, 512, 32, 1), pool(2, 512, 32, 1));
    let mut src = plain_burst(&from, &[60, 61, 62]);
    let mut out = ArrayVec::<Packet, 64>::new();
    assert_eq!(to.move_plain_burst(&mut src, 3, &mut out, true, usize::MAX), None);
    assert_eq!((src.len(), out.len(), from.in_use(), to.in_use()), (3, 0, 3, 0), "sources untouched");
    assert_eq!(to.stats().alloc_failures, 0, "not counted: the caller goes on one at a time");
}

#[test]
fn a_burst_of_chains_larger_than_one_bulk_is_made_one_packet_at_a_time() {
    let p = pool(1024, 512, 32, 4);
    let frame: Vec<u8> = (0..1500).map(|i| i as u8).collect();
    let mut out = ArrayVec::<Packet, 256>::new();
    assert!(p.alloc_frames(&mut out, 200, &frame), "600 buflets, more than one bulk takes");
    assert!(out.iter().all(|q| q.to_vec() == frame && q.buflet_count() == 3));
    assert_eq!(p.in_use(), 600);
    out.clear();
    assert_eq!((p.in_use(), p.stats().alloc_failures), (0, 0));
}

#[test]
fn headrooms_past_the_region_are_refused_however_large() {
    // Before: the headroom was added to the region's start, so a value near `usize::MAX` wrapped to a small
    // sum, passed the check, and set the data start before the region (writes then went past the buffer).
    let p = pool(8, 2048, 0, 1);
    let mut host = p.packet_from(&[1u8; 100]).unwrap();
    let mut view = host.carve_tail(0).unwrap();
    let start = 112; // the host's 100 bytes, rounded up to 16
    for huge in [usize::MAX, usize::MAX - start + 1, usize::MAX - 111, 1 << 32, (1 << 32) - start] {
        assert_eq!(view.set_headroom(huge), Err(PacketError::NoHeadroom), "headroom {huge}");
        assert!(view.carve_tail(huge).is_none(), "carve with headroom {huge}");
        assert!(view.headroom() <= 2048 - start, "headroom {huge}");
    }
    assert_eq!(view.set_headroom(2048 - start), Ok(()), "the whole region is a valid headroom");
    assert_eq!(view.set_headroom(2048 - start + 1), Err(PacketError::NoHeadroom));
    assert!(host.carve_tail(usize::MAX).is_none());
    drop((host, view));
    assert_eq!(p.in_use(), 0);
}

/// Run in a child process by [`a_share_count_that_would_wrap_aborts`]: views carved one from another, each
/// reserving the most shares it can, until the buffer's count passes half its range.
fn share_until_abort() {
    let p = pool(33_000, 2048, 0, 1);
    let mut tail = p.packet_from(&[1u8; 16]).unwrap();
    let mut held = Vec::new();
    // 32,770 reserves of 65,535 shares pass 2^31; 65,537 would wrap the count to 1.
    for _ in 0..32_770 {
        let next = tail.carve_tail(0).expect("an empty view carves again");
        let mut carved = std::mem::replace(&mut tail, next);
        carved.reserve_views(u16::MAX);
        held.push(carved);
    }
}

#[test]
fn a_share_count_that_would_wrap_aborts() {
    // Before: the count wrapped silently, and a host dropped with the count back at 1 went to the pool while
    // its views still used the buffer. Now, as `Arc`'s count does, it aborts the process.
    const CHILD: &str = "PKTLOOP_SHARE_WRAP_CHILD";
    if std::env::var_os(CHILD).is_some() {
        share_until_abort();
        return;
    }
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "packet::tests::a_share_count_that_would_wrap_aborts", "--test-threads", "1"])
        .env(CHILD, "1")
        .output()
        .unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(out.status.signal(), Some(libc::SIGABRT), "{:?}: {}", out.status, String::from_utf8_lossy(&out.stdout));
}
