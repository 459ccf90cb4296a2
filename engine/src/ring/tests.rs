use super::*;

#[cfg(not(loom))]
mod threaded {
    use super::*;

    #[test]
    fn capacity_must_be_a_power_of_two_in_range() {
        assert_eq!(
            ring::<u32>(1000).unwrap_err().to_string(),
            "invalid ring-size 1000: valid is a power of two in 2..=16777216"
        );
        assert!(ring::<u32>(1).is_err());
        assert!(ring::<u32>(1 << 25).is_err());
        assert!(ring::<u32>(2).is_ok());
    }

    #[test]
    fn slots_start_a_line_pair_whatever_the_heap_gives() {
        // Rings made between allocations of every small size, all kept, land at many heap offsets.
        let mut keep = Vec::new();
        let mut rings = Vec::new();
        for pad in 0..64usize {
            keep.push(vec![0u8; pad + 1]);
            let (p8, c8) = ring::<u64>(1024).unwrap();
            let (p4, c4) = ring::<u32>(64).unwrap();
            assert_eq!(p8.shared.base() as usize % LINE_PAIR, 0);
            assert_eq!(p4.shared.base() as usize % LINE_PAIR, 0);
            rings.push((p8, c8, p4, c4));
            // 24-byte items cannot all start a pair: they start where the array does, and still wrap right.
            let (mut p, mut c) = ring::<[u64; 3]>(4).unwrap();
            assert_eq!(p.shared.first, 0);
            for i in 0..6u64 {
                p.push([i; 3]).unwrap();
                assert_eq!(c.pop(), Some([i; 3]));
            }
        }
    }

    #[test]
    fn push_hands_back_when_full_and_order_is_kept() {
        let (mut p, mut c) = ring::<u32>(4).unwrap();
        for i in 0..4 {
            p.push(i).unwrap();
        }
        assert_eq!(p.push(9), Err(Full(9)));
        assert_eq!(c.pop(), Some(0));
        p.push(4).unwrap();
        let mut out = ArrayVec::<u32, 8>::new();
        assert_eq!(c.pop_burst(&mut out, 8), 4);
        assert_eq!(out.as_slice(), &[1, 2, 3, 4]);
        assert_eq!(c.pop(), None);
    }

    #[test]
    fn burst_moves_what_fits_and_leaves_the_rest_in_order() {
        let (mut p, mut c) = ring::<String>(8).unwrap();
        let mut src: ArrayVec<String, 16> = (0..11).map(|i| i.to_string()).collect();
        assert_eq!(p.push_burst(&mut src), 8);
        let left: Vec<&str> = src.iter().map(|s| s.as_str()).collect();
        assert_eq!(left, ["8", "9", "10"]);
        let mut out = ArrayVec::<String, 4>::new();
        assert_eq!(c.pop_burst(&mut out, 100), 4, "bounded by dst room");
        assert_eq!(out[0], "0");
        assert_eq!(p.push_burst(&mut src), 3);
        assert!(src.is_empty());
    }

    #[test]
    fn bursts_that_wrap_around_the_end_keep_order() {
        let (mut p, mut c) = ring::<u64>(8).unwrap();
        let (mut next_in, mut next_out) = (0u64, 0u64);
        for round in 0..200 {
            let mut src: ArrayVec<u64, 5> = ArrayVec::new();
            for _ in 0..(round % 5) + 1 {
                src.push(next_in);
                next_in += 1;
            }
            let before = src.len();
            let moved = p.push_burst(&mut src);
            assert_eq!(src.len(), before - moved);
            assert!(src.iter().zip(src.iter().skip(1)).all(|(a, b)| b == &(a + 1)), "leftovers stay in order");
            next_in -= src.len() as u64;
            let mut out = ArrayVec::<u64, 8>::new();
            c.pop_burst(&mut out, (round % 3) + 1);
            for v in out {
                assert_eq!(v, next_out);
                next_out += 1;
            }
        }
        let mut rest = [0u64; 8];
        let n = c.pop_slice(&mut rest);
        assert!(rest[..n].iter().all(|&v| {
            let ok = v == next_out;
            next_out += 1;
            ok
        }));
        assert_eq!(next_out, next_in);
    }

    proptest::proptest! {
        /// Bursts and slices of any length, pushed and popped in any order through a small ring, come out as
        /// a queue would give them: every way a run lies against the slot array's end (none, a part, all
        /// past it) and every length against the four-item moves.
        #[test]
        fn bursts_and_slices_behave_as_a_queue(ops in proptest::collection::vec((0usize..4, 0usize..20), 1..120)) {
            let (mut p, mut c) = ring::<u64>(16).unwrap();
            let mut model = std::collections::VecDeque::new();
            let mut next = 0u64;
            for (op, len) in ops {
                let items: Vec<u64> = (next..next + len as u64).collect();
                let room = 16 - model.len();
                let moved = match op {
                    0 => {
                        let mut src: ArrayVec<u64, 20> = items.iter().copied().collect();
                        let moved = p.push_burst(&mut src);
                        proptest::prop_assert_eq!(src.as_slice(), &items[moved..], "what did not fit stays");
                        moved
                    }
                    1 => p.push_slice(&items),
                    2 => {
                        let mut out = ArrayVec::<u64, 20>::new();
                        c.pop_burst(&mut out, len);
                        let want: Vec<u64> = model.drain(..out.len()).collect();
                        proptest::prop_assert_eq!(out.as_slice(), want.as_slice());
                        0
                    }
                    _ => {
                        let mut out = vec![0u64; len];
                        let n = c.pop_slice(&mut out);
                        let want: Vec<u64> = model.drain(..n).collect();
                        proptest::prop_assert_eq!(&out[..n], want.as_slice());
                        0
                    }
                };
                if op < 2 {
                    proptest::prop_assert_eq!(moved, items.len().min(room), "a push fills the room there is");
                }
                model.extend(&items[..moved]);
                next += moved as u64;
                proptest::prop_assert_eq!(c.len(), model.len());
            }
        }
    }

    #[test]
    fn bursts_of_owned_items_across_the_end_lose_and_duplicate_nothing() {
        let tracker = std::sync::Arc::new(());
        let (mut p, mut c) = ring::<std::sync::Arc<()>>(8).unwrap();
        for round in 0..64 {
            let mut src: ArrayVec<std::sync::Arc<()>, 7> = (0..round % 7 + 1).map(|_| tracker.clone()).collect();
            p.push_burst(&mut src);
            drop(src);
            let mut out = ArrayVec::<std::sync::Arc<()>, 8>::new();
            c.pop_burst(&mut out, round % 5 + 1);
        }
        assert_eq!(std::sync::Arc::strong_count(&tracker), 1 + c.len(), "one count per item still in the ring");
        drop((p, c));
        assert_eq!(std::sync::Arc::strong_count(&tracker), 1);
    }

    #[test]
    fn items_left_in_the_ring_are_dropped_with_it() {
        let tracker = std::sync::Arc::new(());
        let (mut p, c) = ring::<std::sync::Arc<()>>(8).unwrap();
        for _ in 0..5 {
            p.push(tracker.clone()).unwrap();
        }
        assert_eq!(std::sync::Arc::strong_count(&tracker), 6);
        drop(p);
        drop(c);
        assert_eq!(std::sync::Arc::strong_count(&tracker), 1);
    }

    #[test]
    fn two_threads_transfer_every_item_in_order() {
        const N: u64 = 2_000_000;
        let (mut p, mut c) = ring::<u64>(256).unwrap();
        let producer = std::thread::spawn(move || {
            let mut next = 0u64;
            let mut burst = ArrayVec::<u64, 32>::new();
            while next < N {
                while !burst.is_full() && next < N {
                    burst.push(next);
                    next += 1;
                }
                p.push_burst(&mut burst);
            }
            while !burst.is_empty() {
                p.push_burst(&mut burst);
            }
        });
        let mut expect = 0u64;
        let mut out = ArrayVec::<u64, 32>::new();
        while expect < N {
            c.pop_burst(&mut out, 32);
            for v in out.drain(..) {
                assert_eq!(v, expect);
                expect += 1;
            }
        }
        producer.join().unwrap();
        assert!(c.is_empty());
    }

    #[test]
    fn slice_api_round_trips_across_threads() {
        let (mut p, mut c) = ring::<u32>(64).unwrap();
        let t = std::thread::spawn(move || {
            let data: Vec<u32> = (0..100_000).collect();
            let mut off = 0;
            while off < data.len() {
                off += p.push_slice(&data[off..(off + 32).min(data.len())]);
            }
        });
        let mut got = Vec::new();
        let mut buf = [0u32; 32];
        while got.len() < 100_000 {
            let n = c.pop_slice(&mut buf);
            got.extend_from_slice(&buf[..n]);
        }
        t.join().unwrap();
        assert!(got.iter().enumerate().all(|(i, &v)| v == i as u32));
    }
}

#[cfg(loom)]
mod model {
    use super::*;
    use loom::thread;

    /// Every interleaving of a producer pushing 3 items (singly and in a burst) into a 2-slot ring and a
    /// consumer popping them: each arrives once, in order, and nothing is read before it was written.
    #[test]
    fn loom_spsc_ring_delivers_in_order() {
        loom::model(|| {
            let (mut p, mut c) = ring::<u32>(2).unwrap();
            let t = thread::spawn(move || {
                let mut burst = ArrayVec::<u32, 3>::new();
                burst.push(0);
                burst.push(1);
                burst.push(2);
                while !burst.is_empty() {
                    if p.push_burst(&mut burst) == 0 {
                        thread::yield_now();
                    }
                }
            });
            let mut got = Vec::new();
            while got.len() < 3 {
                let mut out = ArrayVec::<u32, 2>::new();
                if c.pop_burst(&mut out, 2) == 0 {
                    thread::yield_now();
                }
                got.extend(out);
            }
            t.join().unwrap();
            assert_eq!(got, [0, 1, 2]);
        });
    }

    /// Dropping the ring with items inside drops them exactly once, whichever half goes last.
    #[test]
    fn loom_ring_drop_releases_items() {
        loom::model(|| {
            let item = loom::sync::Arc::new(());
            let (mut p, c) = ring::<loom::sync::Arc<()>>(2).unwrap();
            p.push(item.clone()).unwrap();
            let t = thread::spawn(move || drop(c));
            drop(p);
            t.join().unwrap();
            assert_eq!(loom::sync::Arc::strong_count(&item), 1);
        });
    }
}
