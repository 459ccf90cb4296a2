//! Any argument list, parsed and its settings checked: no panic, anything refused is a one-line usage error
//! (`pktloop::exercise`, also run by the proptests in `apps/src/exercise.rs`). The first byte picks the
//! subcommand (or none); the rest are the arguments, split at NUL bytes, not necessarily UTF-8.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else { return };
    let subcommand = pktloop::exercise::SUBCOMMANDS.get(usize::from(pick % 4));
    let mut args: Vec<OsString> = subcommand.map(OsString::from).into_iter().collect();
    if !rest.is_empty() {
        args.extend(rest.split(|&b| b == 0).map(|a| OsString::from_vec(a.to_vec())));
    }
    pktloop::exercise::settle_any_command_line(args);
});
