//! What the AF_PACKET receive walk's property tests and fuzz target run: any bytes as a TPACKET_V3 block,
//! walked a burst at a time as a queue does, into a small pool that runs short of packets and buflets. The
//! walk ends (every call takes a frame or finishes the block), every frame the block header counts comes out
//! once (delivered, bad, no packet or no buffer), a delivered packet has an acceptable length, and every
//! buffer is back in its pool. Built for tests and under `--cfg fuzzing` (see `fuzz/`).

use super::rx::{RxDone, RxRing, FIRST_PKT, FRAME_HDR_LEN, NUM_PKTS};
use pktloop_engine::mem::Prefer;
use pktloop_engine::pool::{Pool, PoolConfig};
use pktloop_engine::port::PacketBurst;

/// Walks `block` `burst` frames at a time (1..=64) taking frames of 14..=`max_len` bytes, and checks it.
pub fn walk_any_block(block: &[u8], burst: usize, max_len: usize) {
    let mut config = PoolConfig::new("afpacket-exercise", 16, 256);
    (config.max_buflets, config.prefer) = (8, Prefer::Normal);
    let pool = Pool::new(config).expect("a pool of normal pages");
    let limits = 14..=max_len;
    // A block too short for its header holds no frame that can be found.
    let whole_header = block.len() >= NUM_PKTS.end.max(FIRST_PKT.end);
    let count = if whole_header { u32::from_ne_bytes(block[NUM_PKTS].try_into().unwrap()) } else { 0 };
    let (mut ring, mut total, mut held) = (RxRing::new(1), RxDone::default(), Vec::new());
    let most_calls = block.len() / FRAME_HDR_LEN + 2;
    for call in 1.. {
        assert!(call <= most_calls, "each call takes a frame it can find, or ends the block");
        let (before, mut pkts, mut budget) = (total, PacketBurst::new(), burst);
        let finished = ring.take_frames(block, &pool, &mut pkts, &mut budget, &limits, &mut total);
        let bytes: usize = pkts.iter().map(|p| p.len()).sum();
        assert_eq!(bytes as u64, total.bytes - before.bytes, "the bytes delivered");
        assert!(pkts.iter().all(|p| limits.contains(&p.len())), "a delivered frame has an acceptable length");
        // Holding every other burst for a while runs the pool short of packets and buflets.
        if call % 2 == 1 {
            held.extend(pkts.drain(..));
        } else {
            held.clear();
        }
        if finished {
            break;
        }
    }
    let outcomes = total.frames as u64 + total.bad + total.no_packet + total.no_buffer;
    assert_eq!(outcomes, u64::from(count), "every frame the header counts comes out once");
    drop(held);
    assert_eq!(pool.in_use(), 0, "every buffer back in its pool");
}

#[cfg(test)]
mod tests {
    use super::super::rx::{block, FIRST, NEXT_OFFSET};
    use super::*;
    use proptest::prelude::*;

    /// A frame's length and its status word (VLAN bits or not).
    fn frame() -> impl Strategy<Value = (usize, u32)> {
        let vlan = libc::TP_STATUS_VLAN_VALID;
        let status = prop_oneof![Just(0), Just(vlan), Just(vlan | libc::TP_STATUS_VLAN_TPID_VALID)];
        (0usize..2100, status)
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        #[test]
        fn blocks_the_kernel_could_write_then_damaged_are_walked_whole(
            frames in proptest::collection::vec(frame(), 0..12),
            damage in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..8),
            burst in 1usize..=64,
            max_len in 14usize..=2100,
        ) {
            let mut b = block(&frames);
            let len = b.len();
            for (at, byte) in damage {
                b[at.index(len)] = byte;
            }
            walk_any_block(&b, burst, max_len);
        }

        #[test]
        fn any_bytes_as_a_block_are_walked_whole(
            b in proptest::collection::vec(any::<u8>(), 0..600),
            burst in 1usize..=64,
        ) {
            walk_any_block(&b, burst, 1518);
        }
    }

    #[test]
    fn a_frame_that_points_back_at_itself_ends_the_walk() {
        let mut b = block(&[(60, 0), (60, 0), (60, 0)]);
        b[NUM_PKTS].copy_from_slice(&u32::MAX.to_ne_bytes());
        b[FIRST + NEXT_OFFSET.start..FIRST + NEXT_OFFSET.end].copy_from_slice(&0u32.to_ne_bytes());
        walk_any_block(&b, 32, 1518);
    }
}
