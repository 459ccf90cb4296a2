//! Every wire view and `Repr::parse` on arbitrary bytes, at every layer a header could start at
//! (`pktloop_engine::wire::exercise`, also run by the proptests in `engine/src/wire/tests.rs`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    pktloop_engine::wire::exercise::read_every_view_at_every_layer(data);
});
