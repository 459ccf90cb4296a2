//! Frames of any length arriving on a TAP queue (a seqpacket socket standing in for the tun fd), read with
//! io_uring or readv: each comes out once, whole when acceptable, counted bad when not, every buffer back
//! (`pktloop_pmd::tap::exercise`, also run by the proptests in `pmd/src/tap/exercise.rs`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    pktloop_pmd::tap::exercise::receive_any_frames(data);
});
