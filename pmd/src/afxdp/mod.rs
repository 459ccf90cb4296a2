//! The AF_XDP port: frames of a real interface (a NIC queue, a veth end) moved through XDP sockets whose
//! UMEM is pktloop's own pool memory, after DPDK's net_af_xdp.
//!
//! - [`AfXdpPort::open`] binds one socket per queue to the interface's queue of the same number; the first
//!   registers the pool's mapping as the UMEM and the others share it. It then loads a five-instruction
//!   XDP program that redirects each queue's frames to its socket (the rest go on to the kernel's stack)
//!   and attaches it through a BPF link, in the driver when it can, generic XDP otherwise; the program
//!   goes away with the port (or with the process).
//! - Received frames become packets in place: the kernel wrote them into pool buffers that the fill ring
//!   lent it, [`RX_HEADROOM`] bytes in (a pool with that headroom makes them plain packets, whose
//!   descriptor is not written). Packets of the pool are sent in place; others are copied into a pool buffer first. Which
//!   mode the kernel gave (zero-copy, copy, generic) is [`AfXdpPort::mode`].
//! - need_wakeup is honoured: a send costs one `sendto` per burst only when the kernel asks for one, and a
//!   receive a `recvfrom` only when the fill ring says so.
//! - Frames too long or short are counted and freed; frames the kernel dropped (rx ring full, no fill
//!   buffer) are read from its statistics and counted. After teardown every buffer is back in the pool.
//!
//! All system calls and shared-memory access are in [`sys`]; [`umem`] keeps the ledger of buffers the
//! kernel holds; [`queue`] moves the bursts of one socket; [`port`] is the port.

mod error;
#[cfg(any(test, fuzzing))]
pub mod exercise;
mod port;
mod queue;
mod sys;
mod umem;

pub use error::AfXdpError;
pub use port::{AfXdpConfig, AfXdpCounters, AfXdpPort, XdpMode, XdpWant, MAX_QUEUES, RING_SIZES};
pub use umem::XDP_HEADROOM as RX_HEADROOM;
