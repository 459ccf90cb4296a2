//! CI runs the embedding example's code: `examples/loopback.rs` compiled into this test.

#[allow(dead_code)]
#[path = "../examples/loopback.rs"]
mod loopback;

#[test]
fn loopback_example_answers_every_frame_and_leaks_nothing() {
    let (answered, received, leaked) = loopback::run_loopback();
    assert_eq!((answered, received, leaked), (10_000, 10_000, 0));
}
