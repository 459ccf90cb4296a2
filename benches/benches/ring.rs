//! ring benchmarks (being written).
fn main() {}
