//! Arbitrary packets captured and written as pcap or pcapng: everything offered is taken, missed or past the
//! limit, and the file reads back as exactly what was taken (`pktloop_engine::capture::exercise`, also run
//! by the proptests in `engine/src/capture/exercise.rs`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    pktloop_engine::capture::exercise::capture_any_packets(data);
});
