//! What the AF_XDP UMEM's property test and fuzz target run: receive descriptors of any address and length
//! handed back against a UMEM that lent some of its buffers to the kernel. A descriptor inside a buffer the
//! kernel holds gives that buffer back once, as a packet of exactly the frame (its offset and length) when
//! the frame lies inside it; any other descriptor (a buffer given back already, never lent, out of the
//! UMEM) gives nothing; and at teardown every buffer is back in its pool. Built for tests and under `--cfg fuzzing`
//! (see `fuzz/`).

use super::umem::Umem;
use pktloop_engine::mem::Prefer;
use pktloop_engine::pool::{Pool, PoolConfig};
use pktloop_engine::Packet;

/// Buffers in the exercise's pool, and their size (a power of two: aligned chunks).
const BUFFERS: u32 = 32;
const BUF_SIZE: u32 = 2048;
/// Bytes per descriptor in the input: a selector, eight of address, two of length.
const DESC: usize = 11;

/// Where in the UMEM an rx descriptor's address points: in unaligned mode (which the kernel may use) the
/// top 16 bits carry an offset added to the low 48, so every address is read that way.
fn umem_offset(addr: u64) -> u64 {
    (addr & ((1 << 48) - 1)) + (addr >> 48)
}

/// The UMEM, its lent buffers' addresses, and which of them the kernel still holds.
struct Lender {
    umem: Umem,
    /// Where buffer 0 starts in the UMEM (the pool places it for its headroom).
    first: u64,
    chunk: u64,
    lent: Vec<u64>,
    held: Vec<bool>,
}

/// Lends `input[0] % 128 % 33` buffers of a pool with a headroom of 0 or, when `input[0]`'s top bit is
/// set, 32 (buffer 0 then starts 32 bytes into the UMEM), then hands back the descriptors the rest
/// describes, and checks each.
pub fn return_any_descriptors(input: &[u8]) {
    let Some((&first_byte, descs)) = input.split_first() else { return };
    let (lend, headroom) = (first_byte & 0x7f, if first_byte & 0x80 != 0 { 32 } else { 0 });
    let mut config = PoolConfig::new("afxdp-exercise", BUFFERS, BUF_SIZE);
    config.prefer = Prefer::Normal;
    config.headroom = headroom;
    let pool = Pool::new(config).expect("a pool of normal pages");
    let first = pool.memory().first as u64;
    let (mut umem, spec) = Umem::new(pool);
    let mut lent = Vec::new();
    umem.lend_fresh(usize::from(lend) % (BUFFERS as usize + 1), |_, addr| lent.push(addr));
    let held = vec![true; lent.len()];
    let mut l = Lender { umem, first, chunk: u64::from(spec.chunk), lent, held };
    let packets: Vec<Packet> = descs.chunks_exact(DESC).filter_map(|d| hand_back(&mut l, d)).collect();
    assert_eq!(l.held.iter().filter(|&&h| h).count(), l.umem.lent_count(), "the rest are still the kernel's");
    drop(packets);
    // SAFETY: no kernel socket was ever made over this UMEM: nothing but this code touches its buffers.
    unsafe { l.umem.reclaim_all() };
    assert_eq!(l.umem.pool().in_use(), 0, "every buffer back in its pool");
}

/// Hands back the descriptor `d` describes and checks what came of it; the packet, if one.
fn hand_back(l: &mut Lender, d: &[u8]) -> Option<Packet> {
    let raw = u64::from_le_bytes(d[1..9].try_into().unwrap());
    let len = u32::from(u16::from_le_bytes([d[9], d[10]]));
    // Even selectors aim inside a lent buffer (its start plus an offset within the chunk), odd ones anywhere.
    let aimed = (d[0].is_multiple_of(2) && !l.lent.is_empty()).then(|| usize::from(d[0] / 2) % l.lent.len());
    let addr = aimed.map_or(raw, |i| l.lent[i] + raw % l.chunk);
    let at = umem_offset(addr);
    let before = l.umem.lent_count();
    let back = l.umem.take_back(addr, len);
    assert_eq!(l.umem.lent_count(), before - usize::from(back.is_some()), "the ledger counts it");
    // Lent addresses are chunk starts: a buffer the kernel holds is the one whose start is below `at`.
    let named = l.lent.iter().position(|&a| a <= at && at < a + l.chunk);
    assert_eq!(back.is_some(), named.is_some_and(|i| l.held[i]), "a held buffer comes back, once; nothing else");
    let back = back?;
    l.held[named.expect("it was named")] = false;
    // Inside a buffer, so at or past buffer 0's start.
    let offset = (at - l.first) % l.chunk;
    let fits = offset + u64::from(len) <= u64::from(BUF_SIZE);
    let p = l.umem.packet(back);
    assert_eq!(p.is_some(), fits, "a packet exactly when the frame lies inside its buffer");
    let p = p?;
    assert_eq!((p.headroom() as u64, p.len()), (offset, len as usize), "the packet is the frame");
    Some(p)
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
