//! feth: Apple's crossed-over Ethernet pair in native (Skywalk) mode, as a poll-mode driver.
//!
//! Two interfaces are peers: what one sends, the other receives. Layers, bottom up:
//! - [`config`]: every knob of the reference's section 6 with its default, range and error;
//! - `link`: one direction of a peering, an SPSC ring of packet handles with a leave protocol that accounts
//!   for every packet left in it;
//! - [`control`]: the registry and the control plane (create, destroy, peer, MTU, up/down, media, stall);
//! - [`port`]: [`Feth`], the [`pktloop_engine::Port`] the lcore polls, doing the crossing work on tx.
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
//! Differences from Apple's driver, where it loses packets silently or has a bug: a full peer rx ring is
//! back-pressure (or a counted drop, [`RxFullPolicy`]); sending without a peer drops and counts (`NoPeer`);
//! the FCS flag is set when the FCS was appended; advisories report bytes, not packets.

pub mod config;
pub mod control;
mod error;
mod link;
pub mod media;
pub mod port;
mod stats;

pub use config::{ExpiryPolicy, FethConfig, RxFullPolicy, TxCompletion};
pub use control::{destroy_by_name, get_peer, lookup, set_peer, FethHandle};
pub use error::FethError;
pub use media::MediaStatus;
pub use port::{Completion, Feth};
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
