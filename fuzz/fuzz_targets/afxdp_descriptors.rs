//! Receive descriptors of any address and length handed back to an AF_XDP UMEM: a lent buffer comes back
//! once (a packet of exactly the frame when it lies inside the buffer), anything else gives nothing, every
//! buffer back at teardown (`pktloop_pmd::afxdp::exercise`, also run by the proptests in
//! `pmd/src/afxdp/exercise.rs`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    pktloop_pmd::afxdp::exercise::return_any_descriptors(data);
});
