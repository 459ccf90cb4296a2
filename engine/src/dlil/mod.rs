//! The input layer, after XNU's DLIL (`bsd/net/dlil.c`): an [`Interface`] wraps any [`crate::Port`] and
//! owns its paths.
//!
//! - Input: rx burst -> input [`Filter`]s in order (pass, drop, or consume) -> demux by EtherType (the inner
//!   type of 802.1Q frames, [`demux`]) -> the attached [`Protocol`], which gets consecutive packets of its
//!   type as one burst and may answer.
//! - Output: output filters in order -> the port.
//! - Filters and protocols attach and detach through an [`InterfaceHandle`] from any thread while traffic
//!   flows; the data path takes no lock and allocates nothing, and a detach returns only once no packet is
//!   inside the handler (its slot's busy count, as `dlil_detach_filter` waits), handing it back.
//! - The input path runs in the caller's loop ([`Interface::poll`], run to completion) or on a pinned
//!   [`InputThread`]; [`Handoff`] moves its packets to a worker over an SPSC ring.
//! - Counters per interface (drops `Filtered`, `NoProtocol`, `BadFrame`), per filter and per protocol;
//!   events (link on/off relayed from the port, attach/detach, detaching/detached) to subscribers.
//!
//! Built in: the ARP + ICMP echo [`Responder`] and the filters of [`builtin`].
//!
//! ```
//! use pktloop_engine::dlil::{Filter, Interface, Protocol, Verdict};
//! use pktloop_engine::port::PacketBurst;
//! use pktloop_engine::Packet;
//! # use pktloop_engine::{mem::Prefer, pool::{Pool, PoolConfig}};
//! # struct Loop { pool: Pool, queued: PacketBurst, counters: std::sync::Arc<pktloop_engine::port::PortCounters>, events: pktloop_engine::port::EventBus }
//! # impl pktloop_engine::Port for Loop {
//! #     fn name(&self) -> &str { "loop0" }
//! #     fn mac(&self) -> [u8; 6] { [2, 0, 0, 0, 0, 1] }
//! #     fn mtu(&self) -> u32 { 1500 }
//! #     fn rx_burst(&mut self, _: usize, pkts: &mut PacketBurst, max: usize) -> usize {
//! #         let n = self.queued.len().min(max); pkts.extend(self.queued.drain(..n)); n }
//! #     fn tx_burst(&mut self, _: usize, pkts: &mut PacketBurst) -> usize { let n = pkts.len(); pkts.clear(); n }
//! #     fn link(&self) -> pktloop_engine::port::LinkState { pktloop_engine::port::LinkState::Up }
//! #     fn counters(&self) -> &std::sync::Arc<pktloop_engine::port::PortCounters> { &self.counters }
//! #     fn events(&self) -> &pktloop_engine::port::EventBus { &self.events }
//! #     fn tx_pool(&self) -> &Pool { &self.pool }
//! # }
//! # let mut c = PoolConfig::new("doc", 64, 2048); c.prefer = Prefer::Normal;
//! # let pool = Pool::new(c).unwrap();
//! # let mut queued = PacketBurst::new();
//! # for t in [[0x86u8, 0xdd], [0x08, 0x00], [0x08, 0x00]] {
//! #     let mut f = [0u8; 60]; f[12..14].copy_from_slice(&t); queued.push(pool.packet_from(&f).unwrap());
//! # }
//! # let port = Loop { pool, queued, counters: Default::default(), events: Default::default() };
//! struct NoIpv6;
//! impl Filter for NoIpv6 {
//!     fn name(&self) -> &str { "no-ipv6" }
//!     fn input(&mut self, pkt: Packet) -> Verdict {
//!         if pkt.data()[12..14] == [0x86, 0xdd] { Verdict::Drop(pkt) } else { Verdict::Pass(pkt) }
//!     }
//! }
//! struct Count(u64);
//! impl Protocol for Count {
//!     fn name(&self) -> &str { "count" }
//!     fn input(&mut self, pkts: &mut PacketBurst, _replies: &mut PacketBurst) { self.0 += pkts.len() as u64 }
//! }
//! let mut iface = Interface::new(Box::new(port), 32);
//! let handle = iface.handle();
//! let filter = handle.attach_filter(Box::new(NoIpv6));
//! handle.attach_protocol(0x0800, Box::new(Count(0))).unwrap();
//! assert_eq!(iface.poll(), 3);
//! assert_eq!(handle.detach_filter(filter).unwrap().stats.dropped, 1);
//! let (_count, delivered) = handle.detach_protocol(0x0800).unwrap();
//! assert_eq!(delivered, 2);
//! ```

pub mod builtin;
pub mod demux;
#[cfg(any(test, fuzzing))]
pub mod exercise;
mod filter;
mod handle;
mod handoff;
mod input_thread;
mod interface;
mod protocol;
mod responder;
mod shared;
mod slot;

pub use filter::{Filter, FilterCounters, FilterStats, Verdict};
pub use handle::{DetachedFilter, FilterInfo, InterfaceHandle, ProtocolTaken};
pub use handoff::Handoff;
pub use input_thread::InputThread;
pub use interface::Interface;
pub use protocol::{Protocol, ProtocolCounters};
pub use responder::{echo_in_place, Echo, Responder};
pub use shared::FilterId;

/// EtherType of IPv4.
pub const ETHERTYPE_IPV4: u16 = 0x0800;
/// EtherType of ARP.
pub const ETHERTYPE_ARP: u16 = 0x0806;
/// EtherType of IPv6.
pub const ETHERTYPE_IPV6: u16 = 0x86dd;
