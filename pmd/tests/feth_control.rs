//! feth control plane: create, names, MAC, MTU, media, peering errors, link events, up/down, destroy.

mod common;

use common::*;
use pktloop_engine::pool::PoolMode;
use pktloop_engine::port::{Event, EventKind, LinkState, Subscriber};
use pktloop_engine::Port;
use pktloop_pmd::feth::media::{DEFAULT_MEDIA, IFM_ACTIVE, IFM_AVALID, IFM_ETHER};
use pktloop_pmd::feth::{create, destroy_by_name, get_peer, lookup, pair, set_peer, FethConfig, FethError};

fn kinds(sub: &Subscriber) -> Vec<EventKind> {
    sub.drain().into_iter().map(|e: Event| e.kind).collect()
}

#[test]
fn create_names_the_lowest_free_unit_with_apples_defaults() {
    let a = create(&cfg()).unwrap();
    let unit = a.unit();
    assert_eq!(a.name(), format!("feth{unit}"));
    assert_eq!(a.mac(), [0x66, 0x65, 0x74, 0x68, (unit >> 8) as u8, unit as u8]);
    assert_eq!(a.mtu(), 1500);
    let h = a.handle();
    assert!(!h.is_up(), "a new interface is down");
    assert_eq!(a.link(), LinkState::Down);
    assert_eq!(h.peer(), None);
    let media = h.media();
    assert_eq!(media.list, DEFAULT_MEDIA);
    assert_eq!(media.list.len(), 13);
    assert_eq!((media.status, media.current), (IFM_AVALID, IFM_ETHER));
    assert!(!media.is_active());
    assert_eq!(lookup(a.name()).unwrap().unit(), unit);
}

#[test]
fn bad_knobs_fail_create_naming_the_knob() {
    let e = create(&FethConfig { tx_headroom: 4, ..cfg() }).unwrap_err();
    assert_eq!(e.to_string(), "invalid tx-headroom 4: valid is 0, 8, 16, 24 or 32");
    assert_eq!(e.errno(), libc::EINVAL);
    let e = create(&FethConfig { multibuflet: true, pool_mode: PoolMode::PrivateSplit, ..cfg() }).unwrap_err();
    assert!(matches!(&e, FethError::Knob(k) if k.knob == "multibuflet"), "{e}");
}

#[test]
fn set_peer_errors_are_apples() {
    let a = create(&cfg()).unwrap();
    let b = create(&cfg()).unwrap();
    let c = create(&cfg()).unwrap();
    let p = create(&FethConfig { pool_mode: PoolMode::Private, ..cfg() }).unwrap();

    let e = set_peer(a.name(), "feth32000").unwrap_err();
    assert!(matches!(e, FethError::NoSuchPort { .. }));
    assert_eq!(e.errno(), libc::ENXIO);
    let e = set_peer(a.name(), "null0").unwrap_err();
    assert!(matches!(e, FethError::NotFeth { .. }));
    assert_eq!(e.errno(), libc::EINVAL);
    assert!(matches!(set_peer("en0", a.name()).unwrap_err(), FethError::NotFeth { .. }));
    let e = set_peer(a.name(), a.name()).unwrap_err();
    assert!(matches!(e, FethError::SelfPeer { .. }));
    let e = set_peer(a.name(), p.name()).unwrap_err();
    assert!(matches!(e, FethError::PoolModeMismatch { .. }), "{e}");
    assert_eq!(e.errno(), libc::EINVAL);
    assert_eq!(e.to_string(), format!("pool modes differ: {} has global, {} has private", a.name(), p.name()));

    set_peer(a.name(), b.name()).unwrap();
    assert_eq!(get_peer(a.name()).unwrap(), b.name());
    assert_eq!(get_peer(b.name()).unwrap(), a.name());
    for (x, y) in [(a.name(), c.name()), (c.name(), b.name()), (a.name(), b.name())] {
        let e = set_peer(x, y).unwrap_err();
        assert!(matches!(e, FethError::Busy { .. }), "{x} {y}: {e}");
        assert_eq!(e.errno(), libc::EBUSY);
    }
    // An empty name clears the peer; with no peer it is a silent success.
    set_peer(a.name(), "").unwrap();
    assert_eq!(get_peer(a.name()).unwrap(), "");
    assert_eq!(get_peer(b.name()).unwrap(), "");
    set_peer(a.name(), "").unwrap();
    // Destroyed (detaching) interfaces are busy.
    c.handle().destroy();
    assert!(matches!(set_peer(a.name(), c.name()).unwrap_err(), FethError::Busy { .. }));
    assert!(matches!(set_peer(c.name(), a.name()).unwrap_err(), FethError::Busy { .. }));
}

#[test]
fn peering_posts_link_events_to_both_sides_self_first() {
    let a = create(&cfg()).unwrap();
    let b = create(&cfg()).unwrap();
    let (sa, sb) = (a.events().subscribe(), b.events().subscribe());
    // Each event names the port it concerns.
    let both = [a.events().subscribe(), b.events().subscribe()];
    a.handle().set_peer(b.name()).unwrap();
    assert_eq!(kinds(&sa), [EventKind::LinkUp]);
    assert_eq!(kinds(&sb), [EventKind::LinkUp]);
    assert_eq!((a.link(), b.link()), (LinkState::Up, LinkState::Up));
    let ev: Vec<Event> = both.iter().flat_map(|s| s.drain()).collect();
    assert_eq!(ev.iter().map(|e| e.port).collect::<Vec<_>>(), [a.unit(), b.unit()]);
    assert!(a.handle().media().is_active());
    assert_eq!(a.handle().media().status, IFM_AVALID | IFM_ACTIVE);

    b.handle().clear_peer();
    assert_eq!(kinds(&sa), [EventKind::LinkDown]);
    assert_eq!(kinds(&sb), [EventKind::LinkDown]);
    assert_eq!((a.link(), b.link()), (LinkState::Down, LinkState::Down));
    assert!(!a.handle().media().is_active());
    b.handle().clear_peer();
    assert!(sa.drain().is_empty() && sb.drain().is_empty(), "clearing no peer posts nothing");
}

#[test]
fn mtu_is_bounded_by_72_and_max_mtu() {
    let a = create(&FethConfig { max_mtu: 9000, buflet_size: 2048, ..cfg() }).unwrap();
    let h = a.handle();
    for bad in [0, 71, 9001] {
        let e = h.set_mtu(bad).unwrap_err();
        assert_eq!(e.to_string(), format!("invalid mtu {bad}: valid is 72..=9000"));
        assert_eq!(e.errno(), libc::EINVAL);
    }
    assert_eq!(a.mtu(), 1500, "a rejected MTU changes nothing");
    for ok in [72, 9000, 1500] {
        h.set_mtu(ok).unwrap();
        assert_eq!((a.mtu(), h.mtu()), (ok, ok));
    }
}

#[test]
fn media_list_is_at_most_27_words() {
    let a = create(&cfg()).unwrap();
    let h = a.handle();
    let e = h.set_media(&[IFM_ETHER; 28]).unwrap_err();
    assert_eq!(e.to_string(), "invalid media-list length 28: valid is 0..=27");
    assert_eq!(h.media().list, DEFAULT_MEDIA);
    h.set_media(&[IFM_ETHER; 27]).unwrap();
    assert_eq!(h.media().list.len(), 27);
    h.set_media(&[]).unwrap();
    assert!(h.media().list.is_empty());
}

#[test]
fn flags_are_broadcast_multicast_simplex_and_up_and_running_while_up() {
    use pktloop_pmd::feth::flags::{IFF_BROADCAST, IFF_MULTICAST, IFF_RUNNING, IFF_SIMPLEX, IFF_UP};
    let a = create(&cfg()).unwrap();
    let h = a.handle();
    assert_eq!(h.if_flags(), IFF_BROADCAST | IFF_MULTICAST | IFF_SIMPLEX, "created down");
    h.set_up(true);
    assert_eq!(h.if_flags(), IFF_BROADCAST | IFF_MULTICAST | IFF_SIMPLEX | IFF_UP | IFF_RUNNING);
    h.set_up(false);
    assert_eq!(h.if_flags() & (IFF_UP | IFF_RUNNING), 0, "down clears running");
    assert!(!h.user_access());
    assert!(create(&FethConfig { user_access: 1, ..cfg() }).unwrap().handle().user_access());
}

#[test]
fn down_port_takes_nothing_and_up_sends_again() {
    let (mut a, mut b) = pair(&cfg()).unwrap();
    a.handle().set_up(false);
    let mut burst = frames(a.tx_pool(), 4, 64, 0);
    assert_eq!(a.tx_burst(0, &mut burst), 0);
    assert_eq!(burst.len(), 4, "packets stay with the caller");
    a.handle().set_up(true);
    assert_eq!(a.tx_burst(0, &mut burst), 4);
    assert_eq!(rx_all(&mut b).len(), 4);
    assert_eq!(drops(&a), 0);
}

#[test]
fn destroy_clears_the_peer_and_a_second_destroy_is_a_no_op() {
    let (mut a, b) = pair(&cfg()).unwrap();
    let sa = a.events().subscribe();
    let sb = b.events().subscribe();
    let name = b.name().to_owned();
    destroy_by_name(&name).unwrap();
    assert!(b.handle().is_detaching());
    assert_eq!(kinds(&sb), [EventKind::LinkDown]);
    assert_eq!(kinds(&sa), [EventKind::LinkDown]);
    assert_eq!(a.handle().peer(), None);
    destroy_by_name(&name).unwrap();
    b.handle().destroy();
    assert!(sa.drain().is_empty() && sb.drain().is_empty(), "second destroy posts nothing");
    assert!(!b.handle().is_up(), "a detaching port cannot come up");
    b.handle().set_up(true);
    assert!(!b.handle().is_up());
    // a has no peer now: what it sends is dropped and counted.
    let mut burst = frames(a.tx_pool(), 3, 64, 0);
    assert_eq!(a.tx_burst(0, &mut burst), 3);
    assert_eq!(dropped(&a, pktloop_engine::port::DropReason::NoPeer), 3);
    // The interface (and its name) is gone with its port.
    assert!(lookup(&name).is_ok(), "a detaching interface still exists while its port lives");
    drop(b);
    // Tests run in parallel and units are reused lowest first, so another test may have taken the name
    // since; b's interface (detaching) is gone either way.
    match lookup(&name) {
        Err(e) => assert!(matches!(e, FethError::NoSuchPort { .. }), "{e:?}"),
        Ok(other) => assert!(!other.is_detaching(), "the detaching interface outlived its port"),
    }
}

#[test]
fn repeering_with_another_interface_works() {
    let a = create(&cfg()).unwrap();
    let b = create(&cfg()).unwrap();
    let c = create(&cfg()).unwrap();
    let (mut a, mut b, mut c) = (a, b, c);
    for h in [a.handle(), b.handle(), c.handle()] {
        h.set_up(true);
    }
    a.handle().set_peer(b.name()).unwrap();
    let mut burst = frames(a.tx_pool(), 5, 64, 0);
    assert_eq!(a.tx_burst(0, &mut burst), 5);
    a.handle().clear_peer();
    a.handle().set_peer(c.name()).unwrap();
    let mut burst = frames(a.tx_pool(), 7, 64, 10);
    assert_eq!(a.tx_burst(0, &mut burst), 7);
    // What was sent before the change is still in b's rx ring; the rest went to c.
    assert_eq!(rx_all(&mut b).len(), 5);
    let got = rx_all(&mut c);
    assert_eq!(got.len(), 7);
    assert_eq!(got[0].to_vec(), frame_bytes(10, 64));
    assert_eq!(drops(&a) + drops(&b) + drops(&c), 0);
}
