//! feth: Apple's crossed-over Ethernet pair in native (Skywalk) mode, as a poll-mode driver.
//!
//! Two interfaces are peers: what one sends, the other receives. Layers, bottom up:
//! - [`config`]: every knob of the reference's section 6 with its default, range and error;
//! - `link`: one direction of a peering, an SPSC ring of packet handles with a leave protocol that accounts
//!   for every packet left in it, and a port's links over their life (posted to the interface's mailbox,
//!   adopted, polled, retired once finished, left);
//! - [`control`]: the registry and the control plane (create, destroy, peer, MTU, up/down, media, stall);
//! - `tx`: what the tx path's two halves share (per-pass tallies, completions);
//! - `shaper`: the per-packet tx work (checks, expiry, drop injection, crossing by pool mode, FCS) and the
//!   rx-full policy;
//! - [`rss`]: the flow hash (Toeplitz) and the steered crossing, when the receiver spreads by flow;
//! - [`port`]: [`FethQueue`], one queue pair: the [`pktloop_engine::Port`] an lcore polls, doing the
//!   crossing work on tx;
//! - `queues`: [`Feth`], an interface's queue pairs as one port, or split into its [`FethQueue`]s.
//!
//! ```
//! use pktloop_engine::{mem::Prefer, Port, PacketBurst};
//! use pktloop_pmd::feth::{pair, FethConfig};
//!
//! let config = FethConfig { prefer: Prefer::Normal, pool_packets: 256, ..FethConfig::default() };
//! let (mut a, mut b) = pair(&config).unwrap();
//! let mut burst = PacketBurst::new();
//! burst.push(a.tx_pool().packet_from(&[0xab; 60]).unwrap());
//! assert_eq!(a.tx_burst(0, &mut burst), 1);
//! assert_eq!(b.rx_burst(0, &mut burst, 32), 1);
//! assert_eq!(burst[0].to_vec(), [0xab; 60]);
//! assert_eq!((a.stats().opackets, b.stats().ipackets), (1, 1));
//! ```
//!
//! Several queue pairs, one lcore per queue: split both ports and give worker i queue i of each. Dropping
//! any queue destroys its interface, so workers hand their queues back and they are dropped together.
//!
//! ```
//! use pktloop_engine::{mem::Prefer, Port, PacketBurst};
//! use pktloop_pmd::feth::{pair, FethConfig};
//!
//! // Each thread caches buffers (as DPDK lcores do): the pool holds enough for every queue's cache.
//! let config = FethConfig { queues: 4, prefer: Prefer::Normal, pool_packets: 4096, ..FethConfig::default() };
//! let (a, b) = pair(&config).unwrap();
//! let (ha, hb) = (a.handle(), b.handle());
//! let queues = std::thread::scope(|s| {
//!     let workers: Vec<_> = (a.split_queues().into_iter().zip(b.split_queues()))
//!         .map(|(mut tx, mut rx)| {
//!             s.spawn(move || {
//!                 let mut burst = PacketBurst::new();
//!                 burst.push(tx.tx_pool().packet_from(&[tx.index() as u8; 60]).unwrap());
//!                 assert_eq!(tx.tx_burst(0, &mut burst), 1);
//!                 assert_eq!(rx.rx_burst(0, &mut burst, 32), 1, "tx queue i lands on rx queue i");
//!                 assert_eq!(burst[0].data()[0], rx.index() as u8);
//!                 (tx, rx)
//!             })
//!         })
//!         .collect();
//!     workers.into_iter().map(|w| w.join().unwrap()).collect::<Vec<_>>()
//! });
//! assert_eq!((ha.stats().opackets, hb.stats().ipackets), (4, 4));
//! drop(queues);
//! ```
//!
//! # Design
//!
//! - **Ownership.** Each [`Feth`] is owned by the one lcore that polls it (`&mut self` on the data path).
//!   Everything other threads need lives in a shared `Arc` per interface: counters, events, link state,
//!   and the control state behind a mutex. Control operations ([`FethHandle`], [`set_peer`], ...) change it
//!   and bump a generation counter; the lcore checks the generation with one relaxed load per poll and
//!   takes the mutex only when it changed (never in steady state), to pick up new crossing rings, MTU,
//!   stall or detaching.
//! - **Queues.** With `queues` = N (1..=8) an interface has N queue pairs, and each is a whole port of its
//!   own, a [`FethQueue`]: its crossing rings, local tx rings, counter blocks, completions and mailbox.
//!   Queues share nothing written on the data path (per-queue counter blocks on their own cache lines,
//!   summed on read by [`FethHandle::stats`] and [`Feth`]'s `stats`), so a [`Feth`] can be owned whole by
//!   one lcore (`rx_burst(q, ..)` / `tx_burst(q, ..)` pick the queue; a queue that does not exist moves
//!   nothing, as a bad queue always did here) or [`Feth::split_queues`] into one port per queue, each
//!   owned by its own lcore, with no lock anywhere. Dropping any queue destroys the interface; the other
//!   queues notice at their next poll, like any other destroy. Drop injection and completions are per
//!   queue; advisories come from queue 0, with the interface's totals.
//! - **Logical links.** With `llink-cnt` = L (1..=16) and `qset-cnt` = S (1..=16), Apple's logical-link
//!   mode, the interface has L x S queue pairs, queue `l * S + s` being queue set s of link l (a [`Qset`]:
//!   the first set of a link is its default; with `low-latency`, the second set of every link but the
//!   first is a low-latency one), each WMM (4 tx rings into 1 rx ring) or one tx and one rx ring as the
//!   `wmm` knob says. Tx queue (l, s) crosses to the peer's rx queue (l, s), so peers must have the same
//!   links ([`FethError::LinkLayoutMismatch`] otherwise). `queues` and `rss` stay at their defaults.
//! - **Flags.** Broadcast, multicast and simplex from create, up and running while up
//!   ([`FethHandle::if_flags`], [`flags`]); `user-access` marks the pools as mappable by user space and
//!   does nothing else, as Apple's ([`FethHandle::user_access`]).
//! - **Offloads.** `hwcsum`, `lro` and `tso` are advertised as Apple's are ([`FethHandle::offloads`]);
//!   `hwcsum` marks received checksums verified, and with `tso` (global pools only) the buflets are
//!   `tso-buf-size` bytes and frames up to that size plus an Ethernet header cross whole, unsegmented.
//! - **Steering.** Without `rss`, tx queue i of one interface crosses into rx queue `i % N'` of its peer
//!   (N' the peer's queues): queue i to queue i on a pair made alike. With `rss` on the receiver, the
//!   sender's tx queue i has one ring into each of the peer's rx queues (at most 64 rings per direction)
//!   and puts each frame in the one its flow hash picks ([`rss`]: Toeplitz, Microsoft's key, IPv4
//!   addresses and TCP/UDP ports, else MACs), recording the hash in `PacketMeta::rss_hash`; an rx queue
//!   polls its rings in turn, starting one further each burst. Every ring has one producer and one
//!   consumer, so the link protocol (and its loom model) is unchanged.
//! - **Crossing.** `set_peer` creates one engine SPSC ring per direction (per queue, or per pair of queues
//!   when steering); the sender's `tx_burst` does the
//!   crossing work (Apple's `feth_nx_sync_tx` -> `feth_rx_submit`) and the receiver's `rx_burst` pops. When
//!   a side goes away, whoever leaves last drains the ring, so packets left in it are counted (`Detached`)
//!   and their buffers return; there is no use-after-free because each end owns its half of the ring.
//! - **Fast path** (global pools, no WMM/FCS/trailer/hwcsum/drop injection/expiry policy): packets go
//!   straight from the caller's burst into the ring; lengths come from the handles, so no descriptor is
//!   read; counters are updated once per burst; no allocation, lock, syscall or clock read.
//!
//! # Behaviour choices (where Apple's driver loses packets silently, has a bug, or leaves it open)
//!
//! - Full peer rx ring: back-pressure (packets stay in the caller's burst, or in the sender's own tx
//!   rings in WMM/stall mode, and are retried on the next poll), or with [`RxFullPolicy::Drop`] a drop
//!   counted as `RxRingFull`.
//! - No peer: packets are dropped and counted as `NoPeer` (Apple keeps them in the tx ring, invisible to a
//!   poll-mode caller). A destroyed port drops what it is given as `Detached`. A port that is down takes
//!   nothing (`tx_burst` returns 0).
//! - Frames longer than MTU + [`port::FRAME_OVERHEAD`] (Ethernet header and a VLAN tag or FCS) are dropped
//!   as `MtuExceeded`; with `tso`, only those longer than that or TSO's MTU plus an Ethernet header,
//!   whichever is more.
//! - The FCS flag is set when the FCS was appended; a trailer or FCS that does not fit is left off and
//!   counted in [`FethStats`]. Advisories report bytes, not packets.
//! - Tx completion: statuses are reported for dropped packets (`RetryFailed`) and for packets copied into
//!   the peer (`Success`, private and split modes); a zero-copy move completes nothing, as in Apple's driver.
//!   Sync mode queues them on the port ([`Feth::take_completions`]); async mode publishes `TxStatus` events.
//! - Private copies carry headroom, link-header length (14) and service class only, as Apple's; global
//!   moves carry all metadata. Split packing starts a fresh aggregation buffer per tx pass.
//! - Expiry, drop injection, advisories and completions are driven by the port's own polls: a port that
//!   nobody polls does nothing. [`Feth::poll`] is a poll without a burst.

pub mod config;
pub mod control;
mod error;
pub mod flags;
mod link;
pub mod media;
pub mod port;
mod queues;
pub mod rss;
mod shaper;
mod stats;
mod tx;

pub use config::{
    ExpiryPolicy, FethConfig, Offloads, Qset, RxFullPolicy, TxCompletion, QUEUES_MAX, TX_EXP_POLICY_VALID,
    TX_HEADROOM_VALID, USER_ACCESS_VALID,
};
pub use control::{destroy_by_name, get_peer, lookup, set_peer, FethHandle};
pub use error::FethError;
pub use media::MediaStatus;
pub use port::{Completion, FethQueue};
pub use queues::Feth;
pub use stats::{FethCounters, FethStats};

/// Creates one interface `feth<unit>` (lowest free unit) with `config`: MTU 1500, down, no peer.
///
/// # Errors
/// A knob out of range, no free unit, or pools that could not be made.
pub fn create(config: &FethConfig) -> Result<Feth, FethError> {
    Ok(Feth::new(control::create_iface(config)?))
}

/// Creates two interfaces with `config`, peers them and brings both up: a ready crossed pair.
///
/// # Errors
/// As [`create`].
pub fn pair(config: &FethConfig) -> Result<(Feth, Feth), FethError> {
    let a = create(config)?;
    let b = create(config)?;
    let (ha, hb) = (a.handle(), b.handle());
    ha.set_peer_handle(&hb)?;
    ha.set_up(true);
    hb.set_up(true);
    Ok((a, b))
}
