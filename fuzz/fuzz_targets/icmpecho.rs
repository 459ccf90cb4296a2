//! The icmpecho responder on arbitrary frames: an answer is a valid reply, anything else is left as it was
//! (`pktloop_engine::dlil::exercise`, also run by the proptests in `engine/src/dlil/exercise.rs`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    pktloop_engine::dlil::exercise::answer_any_frame(data);
});
