//! # pktloop engine
//!
//! The layers of a poll-mode packet engine, bottom up:
//!
//! - [`mem`]: pool memory from 2 MiB hugepages, or normal pages with THP advice (and which one it was);
//! - [`pool`]: fixed-size buffers, a lock-free shared free list and per-thread caches; pool modes;
//! - [`packet`]: the owning [`Packet`] handle, metadata and multi-buflet chains;
//! - [`ring`]: the lock-free SPSC ring that carries packets between lcores;
//! - [`lcore`]: workers pinned to cores, polling until stopped; [`hot`] marks their poll loops so that an
//!   allocator can count what they allocate (nothing, by design);
//! - [`port`]: the [`Port`] trait drivers implement, counters, drop reasons and events;
//! - [`wire`]: what is in the packets: checked views of Ethernet (802.1Q), ARP, IPv4, ICMP and UDP headers,
//!   and the internet checksum.
//!
//! ```
//! use pktloop_engine::{mem::Prefer, pool::{Pool, PoolConfig}, ring::ring};
//!
//! let mut config = PoolConfig::new("example", 1024, 2048);
//! config.prefer = Prefer::Normal;
//! let pool = Pool::new(config).unwrap();
//! let (mut tx, mut rx) = ring(256).unwrap();
//!
//! let packet = pool.packet_from(b"hello, wire").unwrap();
//! tx.push(packet).unwrap();
//! let got = rx.pop().unwrap();
//! assert_eq!(got.to_vec(), b"hello, wire");
//! drop(got);
//! assert_eq!(pool.in_use(), 0);
//! ```
#![warn(missing_docs)]
// Overviews and hot-path docs link the private modules and functions they rest on: those links resolve in
// the developers' documentation (`cargo doc --document-private-items`, which CI builds with warnings denied).
#![allow(rustdoc::private_intra_doc_links)]

pub(crate) mod barrier;
pub mod capture;
pub mod dlil;
pub mod error;
pub mod hot;
pub mod lcore;
pub mod mem;
mod memfd;
pub mod meta;
pub mod packet;
pub mod pool;
pub mod port;
pub mod prefetch;
pub(crate) mod primitive;
pub mod ring;
pub mod time;
pub mod wire;

pub use error::KnobError;
pub use packet::Packet;
pub use pool::Pool;
pub use port::{PacketBurst, Port};
