//! feth benchmarks (being written).
fn main() {}
