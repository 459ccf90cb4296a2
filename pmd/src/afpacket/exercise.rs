//! What the AF_PACKET receive walk's property tests and fuzz target run: any bytes as a TPACKET_V3 block,
//! walked a burst at a time as a queue does, into a small pool that runs short of packets and buflets. The
//! walk ends (every call takes a frame or finishes the block), every frame the block header counts comes out
//! once (delivered, bad, no packet or no buffer), a delivered packet has an acceptable length, and every
//! buffer is back in its pool. Built for tests and under `--cfg fuzzing` (see `fuzz/`).

use super::rx::{
    RxDone, RxRing, FIRST_PKT, FRAME_HDR_LEN, LEN, MAC, NEXT_OFFSET, NUM_PKTS, SNAPLEN, STATUS, VLAN_TCI, VLAN_TPID,
};
use pktloop_engine::mem::Prefer;
use pktloop_engine::pool::{Pool, PoolConfig};
use pktloop_engine::port::PacketBurst;

/// Offset of the first frame in blocks made by [`block`], as the kernel lays them out.
const FIRST: usize = 48;
/// Where a frame starts after its header in blocks made by [`block`].
const MAC_AT: usize = 82;

/// A block holding frames of the given lengths and status words (byte i of frame k is k + i), laid out as
/// the kernel does.
pub fn block(frames: &[(usize, u32)]) -> Vec<u8> {
    let size = |len: usize| (MAC_AT + len).next_multiple_of(16);
    let mut b = vec![0u8; FIRST + frames.iter().map(|&(len, _)| size(len)).sum::<usize>() + 64];
    b[NUM_PKTS].copy_from_slice(&(frames.len() as u32).to_ne_bytes());
    b[FIRST_PKT].copy_from_slice(&(FIRST as u32).to_ne_bytes());
    let mut at = FIRST;
    for (k, &(len, status)) in frames.iter().enumerate() {
        let h = &mut b[at..];
        let next = if k + 1 < frames.len() { size(len) as u32 } else { 0 };
        h[NEXT_OFFSET].copy_from_slice(&next.to_ne_bytes());
        h[SNAPLEN].copy_from_slice(&(len as u32).to_ne_bytes());
        h[LEN].copy_from_slice(&(len as u32).to_ne_bytes());
        h[STATUS].copy_from_slice(&status.to_ne_bytes());
        h[MAC].copy_from_slice(&(MAC_AT as u16).to_ne_bytes());
        h[VLAN_TCI].copy_from_slice(&0x0123u32.to_ne_bytes());
        h[VLAN_TPID].copy_from_slice(&0x88a8u16.to_ne_bytes());
        for i in 0..len {
            h[MAC_AT + i] = (k + i) as u8;
        }
        at += size(len);
    }
    b
}

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
        assert_eq!(pkts.len(), total.frames - before.frames, "a packet per frame delivered");
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
