//! Every numeric knob of the library API just beyond its bounds, through the calls that create things
//! (`feth::pair`, `Pool::new`, `ring`, `NullPort::new`, `Capture::new`, `ShmPort::open`,
//! `FaultInjector::new`): refused with a
//! `KnobError` naming the knob, the value given and the valid range, with nothing created (no interface
//! registered, no socket file bound); and at its bounds, taken. The command line's and config files' side
//! of the same promise is `apps/tests/bounds.rs`.
//!
//! One test in this binary, so that no other test's interfaces are in the registry while it looks.

use pktloop_engine::capture::{Capture, CaptureConfig};
use pktloop_engine::mem::Prefer;
use pktloop_engine::pool::{Pool, PoolConfig, PoolError};
use pktloop_engine::KnobError;
use pktloop_pmd::fault::{FaultConfig, FaultInjector, Rate};
use pktloop_pmd::feth::{self, FethConfig, FethError};
use pktloop_pmd::null::NullPort;
use pktloop_pmd::shm::{Role, ShmConfig, ShmError, ShmPort};

/// A knob: its name, how to set it, the values just beyond each bound (None: the type has no room there),
/// the bounds themselves, and the range its message states.
struct Knob<C> {
    name: &'static str,
    set: fn(&mut C, i64),
    beyond: [Option<i64>; 2],
    at: [i64; 2],
    valid: &'static str,
}

const fn knob<C>(
    name: &'static str,
    set: fn(&mut C, i64),
    beyond: [Option<i64>; 2],
    at: [i64; 2],
    valid: &'static str,
) -> Knob<C> {
    Knob { name, set, beyond, at, valid }
}

fn feth_knobs() -> Vec<Knob<FethConfig>> {
    vec![
        knob("tx-headroom", |c, v| c.tx_headroom = v as u32, [None, Some(40)], [0, 32], "0, 8, 16, 24 or 32"),
        knob("trailer-length", |c, v| c.trailer_length = v as u32, [None, Some(29)], [0, 28], "0..=28"),
        knob("max-mtu", |c, v| c.max_mtu = v as u32, [Some(1499), Some(16371)], [1500, 16370], "1500..=16370"),
        knob(
            "buflet-size",
            |c, v| c.buflet_size = v as u32,
            [Some(256), Some(65536)],
            [512, 1024], // less than max-mtu, 2048 here: the largest a pair can take
            "a power of two in 512..=32768",
        ),
        knob("aggregation-factor", |c, v| c.aggregation_factor = v as u32, [Some(0), Some(513)], [1, 512], "1..=512"),
        knob("user-access", |c, v| c.user_access = v as u32, [None, Some(2)], [0, 1], "0 or 1"),
        knob(
            "adv-interval-ms",
            |c, v| c.adv_interval_ms = v as u32,
            [Some(9), Some(1 << 31)],
            [10, (1 << 31) - 1],
            "0 (off) or 10..=2147483647",
        ),
        knob(
            "tx-drops",
            |c, v| c.tx_drops = v as u32,
            [None, Some(1 << 31)],
            [0, (1 << 31) - 1],
            "0 (off)..=2147483647",
        ),
        knob(
            "tx-exp-policy",
            |c, v| c.tx_exp_policy = v as u32,
            [None, Some(4)],
            [0, 3],
            "0 (none), 1 (drop and notify), 2 (notify only) or 3 (the packet's own action)",
        ),
        knob(
            "ring-size",
            |c, v| c.ring_size = v as usize,
            [Some(1), Some(1 << 25)],
            [2, 1 << 24],
            "a power of two in 2..=16777216",
        ),
        knob(
            "pool-size",
            |c, v| c.pool_packets = v as u32,
            [Some(0), Some((1 << 20) + 1)],
            [1, 1 << 20],
            "1..=1048576",
        ),
        knob("queues", |c, v| c.queues = v as usize, [Some(0), Some(9)], [1, 8], "1..=8"),
        knob(
            "tso-buf-size",
            |c, v| c.tso_buf_size = v as u32,
            [Some(256), Some(65536)],
            [512, 32768],
            "a power of two in 512..=32768",
        ),
        knob("llink-cnt", |c, v| c.llink_cnt = v as u32, [None, Some(17)], [0, 16], "0 (off)..=16"),
        knob("qset-cnt", |c, v| c.qset_cnt = v as u32, [Some(0), Some(17)], [1, 16], "1..=16"),
    ]
}

fn pool_knobs() -> Vec<Knob<PoolConfig>> {
    vec![
        // The most buffers, of the smallest size: a GiB, made and freed.
        knob(
            "pool-size",
            |c, v| (c.buffers, c.buf_size) = (v as u32, 64),
            [Some(0), Some((1 << 24) + 1)],
            [1, 1 << 24],
            "1..=16777216",
        ),
        knob("headroom", |c, v| c.headroom = v as u32, [None, Some(2048)], [0, 2047], "less than the buffer size"),
        knob(
            "buffer-size",
            |c, v| c.buf_size = v as u32,
            [Some(63), Some((1 << 20) + 1)],
            [64, 1 << 20],
            "64..=1048576",
        ),
        knob("max-buflets", |c, v| c.max_buflets = v as u16, [Some(0), Some(65)], [1, 64], "1..=64"),
        knob("cache-size", |c, v| c.cache_size = v as u32, [None, Some(513)], [0, 512], "0..=512"),
    ]
}

fn capture_knobs() -> Vec<Knob<CaptureConfig>> {
    vec![
        knob(
            "pcap-slots",
            |c, v| c.slots = v as usize,
            [Some(1), Some(1 << 17)],
            [2, 1 << 16],
            "a power of two in 2..=65536",
        ),
        knob("pcap-snaplen", |c, v| c.snaplen = v as usize, [Some(13), Some(262_145)], [14, 262_144], "14..=262144"),
        knob("pcap-count", |c, v| c.limit = v as u64, [Some(0), None], [1, 1 << 40], "1 or more"),
    ]
}

fn shm_knobs() -> Vec<Knob<ShmConfig>> {
    vec![
        knob("mtu", |c, v| c.mtu = v as u32, [Some(67), Some(65536)], [68, 65535], "68..=65535"),
        knob(
            "ring-size",
            |c, v| c.ring_size = v as u32,
            [Some(32), Some(32768)],
            [64, 16384],
            "a power of two in 64..=16384",
        ),
        knob(
            "max-peer-buffers",
            |c, v| c.max_peer_buffers = v as u32,
            [Some(0), Some((1 << 24) + 1)],
            [1, 1 << 24],
            "1..=16777216",
        ),
    ]
}

fn fault_knobs() -> Vec<Knob<FaultConfig>> {
    vec![
        knob(
            "rx-drop-ppm",
            |c, v| c.rx.drop = Rate::PerMillion(v as u32),
            [None, Some(1_000_001)],
            [0, 1_000_000],
            "0..=1000000 (parts per million)",
        ),
        knob(
            "tx-reject-every",
            |c, v| c.tx.reject = Rate::EveryNth(v as u32),
            [Some(0), None],
            [1, u32::MAX as i64],
            "1..=4294967295 (every n-th frame)",
        ),
        knob(
            "rx-delay-polls",
            |c, v| c.rx.delay_polls = v as u32,
            [Some(0), Some((1 << 20) + 1)],
            [1, 1 << 20],
            "1..=1048576",
        ),
        knob(
            "rx-delay-capacity",
            |c, v| c.rx.delay_capacity = v as u32,
            [Some(0), Some((1 << 16) + 1)],
            [1, 1 << 16],
            "1..=65536",
        ),
        knob(
            "tx-corrupt-ppm",
            |c, v| c.tx.corrupt = Rate::PerMillion(v as u32),
            [None, Some(1_000_001)],
            [0, 1_000_000],
            "0..=1000000 (parts per million)",
        ),
    ]
}

/// Tries every knob of `knobs` beyond and at its bounds on `base`: `make` creates the thing (a refusal
/// as its `KnobError`), `nothing_left` says whether a refusal left anything behind.
fn try_knobs<C: Clone>(
    what: &str,
    base: &C,
    knobs: &[Knob<C>],
    make: impl Fn(&C) -> Result<(), Option<KnobError>>,
    nothing_left: impl Fn() -> bool,
) {
    for k in knobs {
        for value in k.beyond.into_iter().flatten() {
            let mut c = base.clone();
            (k.set)(&mut c, value);
            let e =
                make(&c).err().flatten().unwrap_or_else(|| panic!("{what} {} {value} is refused as a knob", k.name));
            assert_eq!((e.knob, e.value), (k.name, value), "{what}: the knob and the value given");
            assert_eq!(e.valid, k.valid, "{what} {} {value}: the range stated", k.name);
            assert!(e.to_string().starts_with(&format!("invalid {} {value}: valid is", k.name)), "{e}");
            assert!(nothing_left(), "{what} {} {value}: a refusal left something behind", k.name);
        }
        for value in k.at {
            let mut c = base.clone();
            (k.set)(&mut c, value);
            assert!(make(&c).is_ok(), "{what} {} {value} (a bound) is taken", k.name);
        }
    }
}

fn normal_pool(buffers: u32) -> PoolConfig {
    let mut c = PoolConfig::new("bounds", buffers, 2048);
    c.prefer = Prefer::Normal;
    c
}

fn feth_pair(c: &FethConfig) -> Result<(), Option<KnobError>> {
    match feth::pair(c) {
        Ok(_) => Ok(()),
        Err(FethError::Knob(e)) => Err(Some(e)),
        Err(_) => Err(None),
    }
}

/// No feth interface at all: a refused pair made neither of its two, and nothing else here makes any.
fn no_feth_interface() -> bool {
    (0..4).all(|unit| matches!(feth::lookup(&format!("feth{unit}")), Err(FethError::NoSuchPort { .. })))
}

fn try_feth() {
    let base = FethConfig { prefer: Prefer::Normal, pool_packets: 256, ring_size: 64, ..FethConfig::default() };
    // At a bound, only the knob moves: the others stay where a pair is cheap to make.
    let knobs = feth_knobs();
    let make = |c: &FethConfig| {
        // The largest rings, pools and queue counts at once would take gigabytes: a bound that size is
        // checked by validation, which is what `pair` runs first.
        let big = c.ring_size > 1 << 16 || c.pool_packets > 1 << 16;
        // (A pair at the largest sizes is gigabytes; validation is the first thing `pair` runs.)
        if big {
            c.validate().map_err(Some)
        } else {
            feth_pair(c)
        }
    };
    try_knobs("feth", &base, &knobs, make, no_feth_interface);
    assert!(no_feth_interface(), "every pair made at a bound is gone with its ports");
}

fn try_pool() {
    let make = |c: &PoolConfig| match Pool::new(c.clone()) {
        Ok(_) => Ok(()),
        Err(PoolError::Knob(e)) => Err(Some(e)),
        Err(_) => Err(None),
    };
    try_knobs("pool", &normal_pool(64), &pool_knobs(), make, || true);
}

fn ring_knobs() -> Vec<Knob<usize>> {
    vec![knob(
        "ring-size",
        |c, v| *c = v as usize,
        [Some(1), Some(1 << 25)],
        [2, 1 << 24],
        "a power of two in 2..=16777216",
    )]
}

fn null_knobs() -> Vec<Knob<usize>> {
    let valid = "1..=the pool's buffer size less its headroom";
    vec![knob("pkt-len", |c, v| *c = v as usize, [Some(0), Some(2049)], [1, 2048], valid)]
}

fn try_ring_and_null() {
    let ring = |&n: &usize| pktloop_engine::ring::ring::<u64>(n).map(drop).map_err(Some);
    try_knobs("ring", &64, &ring_knobs(), ring, || true);
    let null =
        |&len: &usize| NullPort::new("bounds", Pool::new(normal_pool(8)).expect("a pool"), len).map(drop).map_err(Some);
    try_knobs("null port", &60, &null_knobs(), null, || true);
}

fn try_capture() {
    let base = CaptureConfig { slots: 64, snaplen: 2048, limit: 100 };
    try_knobs("capture", &base, &capture_knobs(), |c| Capture::new(*c).map(drop).map_err(Some), || true);
}

fn try_shm() {
    let path = std::env::temp_dir().join(format!("pktloop-bounds-{}.sock", std::process::id()));
    let base = ShmConfig::new(&path, Role::Server);
    let make = |c: &ShmConfig| match ShmPort::open(c, normal_pool(64)) {
        Ok(_) => Ok(()),
        Err(ShmError::Knob(e)) => Err(Some(e)),
        Err(_) => Err(None),
    };
    try_knobs("shm", &base, &shm_knobs(), make, || !path.exists());
    let _ = std::fs::remove_file(&path);
}

fn try_fault() {
    let make = |c: &FaultConfig| {
        let null = NullPort::new("bounds", Pool::new(normal_pool(8)).expect("a pool"), 60).expect("a null port");
        FaultInjector::new(null, c).map(drop).map_err(Some)
    };
    try_knobs("fault", &FaultConfig::default(), &fault_knobs(), make, || true);
}

#[test]
fn every_library_knob_just_beyond_its_bounds_is_refused_by_name_and_taken_at_them() {
    try_feth();
    try_pool();
    try_capture();
    try_shm();
    try_fault();
    try_ring_and_null();
}
