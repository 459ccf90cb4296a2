//! pool benchmarks (being written).
fn main() {}
