//! Any bytes as an AF_PACKET TPACKET_V3 block, walked as a queue does: the walk ends, every frame the header
//! counts comes out once, every buffer goes back (`pktloop_pmd::afpacket::exercise`, also run by the
//! proptests in `pmd/src/afpacket/exercise.rs`). The first byte picks the burst, the second the longest
//! acceptable frame; the rest is the block.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let [burst, max, block @ ..] = data else { return };
    let max_len = 14 + usize::from(*max) * 16;
    pktloop_pmd::afpacket::exercise::walk_any_block(block, 1 + usize::from(burst % 64), max_len);
});
