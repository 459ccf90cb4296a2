//! What the AF_XDP UMEM's property test and fuzz target run: receive descriptors of any address and length
//! handed back against a UMEM that lent some of its buffers to the kernel. A descriptor inside a buffer the
//! kernel holds gives that buffer back once, as a packet of exactly the frame when the frame lies inside it;
//! any other descriptor (a buffer given back already, never lent, out of the UMEM, any high bits) gives
//! nothing; and at teardown every buffer is back in its pool. Built for tests and under `--cfg fuzzing`
//! (see `fuzz/`).

use super::umem::Umem;
use pktloop_engine::mem::Prefer;
use pktloop_engine::pool::{Pool, PoolConfig};

/// Buffers in the exercise's pool, and their size (a power of two: aligned chunks).
const BUFFERS: u32 = 32;
const BUF_SIZE: u32 = 2048;
/// Bytes per descriptor in the input: a selector, eight of address, two of length.
const DESC: usize = 11;

/// Lends `input[0] % 33` buffers, then hands back the descriptors the rest describes, and checks each.
pub fn return_any_descriptors(input: &[u8]) {
    let Some((&lend, descs)) = input.split_first() else { return };
    let mut config = PoolConfig::new("afxdp-exercise", BUFFERS, BUF_SIZE);
    config.prefer = Prefer::Normal;
    let (mut umem, spec) = Umem::new(Pool::new(config).expect("a pool of normal pages"));
    let mut lent = Vec::new();
    umem.lend_fresh(usize::from(lend) % (BUFFERS as usize + 1), |_, addr| lent.push(addr));
    let mut held = vec![true; lent.len()];
    let mut packets = Vec::new();
    for d in descs.chunks_exact(DESC) {
        let raw = u64::from_le_bytes(d[1..9].try_into().unwrap());
        let len = u32::from(u16::from_le_bytes([d[9], d[10]]));
        // Even selectors aim inside a lent buffer (its start plus an offset within the chunk), odd ones
        // anywhere at all.
        let aimed = (d[0] % 2 == 0 && !lent.is_empty()).then(|| usize::from(d[0] / 2) % lent.len());
        let addr = aimed.map_or(raw, |i| lent[i] + raw % spec.chunk as u64);
        let before = umem.lent_count();
        let back = umem.take_back(addr, len);
        if let Some(i) = aimed {
            assert_eq!(back.is_some(), held[i], "a lent buffer comes back once, then never again");
        }
        assert_eq!(umem.lent_count(), before - usize::from(back.is_some()), "the ledger counts it");
        let Some(back) = back else { continue };
        // Lent addresses are chunk starts: the buffer that came back is the one whose start it is.
        let i = lent.iter().position(|&a| a / spec.chunk as u64 == u64::from(back.index()));
        let i = i.expect("only a lent buffer comes back");
        assert!(held[i], "a buffer comes back once");
        held[i] = false;
        assert_eq!(back.len(), len);
        let fits = addr % spec.chunk as u64 + u64::from(len) <= u64::from(BUF_SIZE);
        match umem.packet(back) {
            Some(p) => {
                assert!(fits || aimed.is_none(), "a frame outside its buffer is no packet");
                assert_eq!(p.len(), len as usize, "the packet is the frame");
                packets.push(p);
            }
            None => assert!(!fits || aimed.is_none(), "a frame inside its buffer is a packet"),
        }
    }
    assert_eq!(held.iter().filter(|&&h| h).count(), umem.lent_count(), "the rest are still the kernel's");
    drop(packets);
    // SAFETY: no kernel socket was ever made over this UMEM: nothing but this code touches its buffers.
    unsafe { umem.reclaim_all() };
    assert_eq!(umem.pool().in_use(), 0, "every buffer back in its pool");
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        #[test]
        fn any_descriptors_give_back_each_lent_buffer_at_most_once(
            lend in any::<u8>(),
            descs in proptest::collection::vec(proptest::collection::vec(any::<u8>(), DESC), 0..64),
        ) {
            let mut input = vec![lend];
            input.extend(descs.concat());
            return_any_descriptors(&input);
        }
    }
}
