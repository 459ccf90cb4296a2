//! The `pktloop` binary: the library's command line, with the allocator that counts what hot loops allocate
//! and a panic hook that says a panic in one line.
#![deny(unsafe_code)]

use pktloop::args::{parse_all, Parsed};
use std::process::ExitCode;

/// Counts what the workers' poll loops allocate (nothing, by design; every run reports it).
#[global_allocator]
static ALLOC: pktloop_engine::hot::CountingAlloc = pktloop_engine::hot::CountingAlloc;

fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn"))
        .format_timestamp(None)
        .target(env_logger::Target::Stderr)
        .init();
    // A panic is a bug: say so on one line instead of a backtrace.
    std::panic::set_hook(Box::new(|info| {
        let msg = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_default();
        let at = info.location().map(|l| format!(" at {}:{}", l.file(), l.line())).unwrap_or_default();
        eprintln!("pktloop: internal error{at}: {msg}");
    }));
    let result = parse_all(std::env::args_os().collect()).and_then(|parsed| match parsed {
        Parsed::Run(cli, file) => pktloop::run(*cli).map_err(|e| match &file {
            Some(f) => f.attribute(e),
            None => e,
        }),
        Parsed::Shown(text) => {
            // Help and version go to stdout with status 0.
            let _ = text.print();
            Ok(())
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pktloop: {e}");
            ExitCode::from(e.exit_code() as u8)
        }
    }
}
