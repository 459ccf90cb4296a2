//! The `pktloop` command.
fn main() {}
