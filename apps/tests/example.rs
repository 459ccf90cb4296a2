//! CI runs the embedding example's code: `examples/loopback.rs` compiled into this test.

#[allow(dead_code)]
#[path = "../examples/loopback.rs"]
mod loopback;

#[test]
fn loopback_example_answers_every_frame_and_leaks_nothing() {
    let (answered, received, leaked) = loopback::run_loopback();
    assert_eq!((answered, received, leaked), (10_000, 10_000, 0));
}

#[allow(dead_code)]
#[path = "../examples/filters.rs"]
mod filters;

#[test]
fn filters_example_accounts_for_every_frame_while_a_filter_comes_and_goes() {
    let o = filters::run_filters();
    assert_eq!(o.sent, 3 * 20_000);
    assert_eq!(o.ipv6_dropped, 20_000, "every IPv6 frame");
    assert!(o.host_dropped > 0 && o.host_dropped < 20_000, "host 7 filtered only while attached: {o:?}");
    assert!(o.nth_dropped > 0, "the second filter worked once attached: {o:?}");
    assert_eq!(o.counted + o.host_dropped + o.nth_dropped, 2 * 20_000, "IPv4 frames counted or dropped: {o:?}");
    assert_eq!(o.leaked, 0);
}
