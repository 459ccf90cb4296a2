//! The `pktloop` command: `fwd` (testpmd-class forwarding), `latency` (HDR ping-pong), `bench` (the standard
//! scenarios).
//!
//! Layers, top down:
//! - [`args`] (the command line and `--config FILE` parsed into a [`cli::Cli`], clap's errors said in one line),
//!   [`cli`] (clap derive: every flag) and [`config`] (`--config FILE.toml` folded in as flags, range checks
//!   that turn flags into a `FethConfig`), [`error`] (one-line errors, exit status 2 or 1);
//! - [`fwd`]: [`fwd::plan`] decides which worker owns which port and runs which job, [`fwd::worker`] holds the
//!   poll loops (io, mac, macswap, txonly, rxonly, flowgen, icmpecho), [`fwd::report`] the live line, the
//!   testpmd-style table, the JSON object and the packet accounting;
//! - [`latency`] (pinger and ponger across a feth pair, two real interfaces or two processes over shm, the
//!   rtrb floor), [`hgrm`] and [`svg`] (its outputs), [`output`] (files written when a run ends);
//! - [`bench`](mod@bench): the standard scenarios in one run;
//! - [`ports`] (feth pairs, null and TAP ports, lists mixing them with AF_PACKET, AF_XDP and shm ports),
//!   [`frame`] (UDP, ARP and ICMP frames), [`capture`] (the pcap
//!   writer thread behind the engine's capture taps), [`stats`] (per-lcore counters, cycles).
//!
//! ```text
//! $ pktloop fwd --duration 2 --json
//! {"mode":"io","port":"feth","mpps":...,"drops":{"no_peer":0,...},"pool":{"mode":"global","backing":"normal"},...}
//! ```
//!
//! Every error is one line on stderr: status 2 for bad flags, values, config files and combinations, 1 for
//! a run that failed. No input on the command line or in a config file makes it panic.
#![deny(unsafe_code)]
// Overviews and hot-path docs link the private modules and functions they rest on: those links resolve in
// the developers' documentation (`cargo doc --document-private-items`, which CI builds with warnings denied).
#![allow(rustdoc::private_intra_doc_links)]

pub mod args;
mod bench;
mod capture;
pub mod cli;
mod config;
mod cores;
pub mod error;
mod files;
mod filters;
mod frame;
mod fwd;
mod gen;
mod hgrm;
mod ifport;
mod interrupt;
mod latency;
mod output;
mod ports;
mod portspec;
mod stats;
mod svg;

#[cfg(any(test, fuzzing))]
pub mod exercise;

use cli::{Cli, Command};
use error::AppError;

/// Runs a parsed command line.
///
/// # Errors
/// A bad setting (status 2) or a failed run (status 1), worded for the user.
pub fn run(cli: Cli) -> Result<(), AppError> {
    interrupt::install();
    match cli.command {
        Command::Fwd(a) => fwd::main(&a),
        Command::Latency(a) => latency::main(&a),
        Command::Bench(a) => bench::main(&a),
    }
}
