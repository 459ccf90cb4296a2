//! # pktloop poll-mode drivers
//!
//! Drivers implementing [`pktloop_engine::Port`]:
//! - [`feth`]: Apple's feth crossed pair, where one port's tx rings are its peer's rx rings;
//! - [`null`]: DPDK net_null's analogue, the framework's cost floor;
//! - [`tap`]: a Linux TAP interface, frames exchanged with the kernel's network stack;
//! - [`afpacket`]: an existing Linux interface through packet sockets with memory-mapped rings;
//! - [`afxdp`]: a real interface through XDP sockets over pktloop's own pool memory;
//! - [`shm`]: a crossed pair between two processes over shared memory, which survives either side's crash;
//!
//! [`fault`], a wrapper that injects faults into any of them; and [`pools`], the pools a port allocates
//! from by pool mode and driver geometry.
#![warn(missing_docs)]
// Overviews and hot-path docs link the private modules and functions they rest on: those links resolve in
// the developers' documentation (`cargo doc --document-private-items`, which CI builds with warnings denied).
#![allow(rustdoc::private_intra_doc_links)]

pub mod afpacket;
pub mod afxdp;
pub mod fault;
pub mod feth;
pub mod netdev;
pub mod null;
pub mod pools;
pub mod shm;
pub mod tap;
