//! Any text as a `--config` file of `fwd` or `latency`, its settings checked: no panic, anything refused is
//! a one-line usage error (`pktloop::exercise`, also run by the proptests in `apps/src/exercise.rs`). The
//! first byte picks the subcommand; the rest is the file.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else { return };
    let Ok(text) = std::str::from_utf8(rest) else { return };
    pktloop::exercise::settle_any_config(pktloop::exercise::SUBCOMMANDS[usize::from(pick % 2)], text);
});
