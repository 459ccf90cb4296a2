//! The AF_PACKET port, after DPDK's net_af_packet: pktloop on an existing Linux interface (a NIC, a veth
//! end, a bridge port) through packet sockets whose rings are mapped into this process, so that frames
//! move without a system call per frame.
//!
//! - [`AfPacketPort::open`] binds to the interface by name (it must exist and be up) with one packet socket
//!   per queue; with several queues the sockets form one `PACKET_FANOUT` group that shares the received
//!   frames by flow hash (rx queue i and tx queue i are socket i). Each socket ignores the frames sent out
//!   of the interface (its own included) and, by default, sends past the qdisc.
//! - Receive walks a TPACKET_V3 block ring with no system call at all: the kernel hands over a block when
//!   it is full or [`AfPacketConfig::block_timeout_ms`] after its first frame, and each frame is copied into
//!   a packet of the pool (chained over buflets when longer than one; a VLAN tag the kernel took out is put
//!   back). Transmit copies each packet into a frame of a mapped tx ring and sends the burst with one
//!   `sendto`.
//! - Bad frames from the wire (truncated, shorter than an Ethernet header, longer than MTU + 18 or than a
//!   packet of the pool holds) are counted as `ierrors` and
//!   [`DropReason::BadFrame`](pktloop_engine::port::DropReason) and dropped; an empty pool counts
//!   `rx_nombuf` and `ierrors` and drops the frame (the ring must keep moving); what the kernel dropped
//!   because the ring was full is read from the sockets every few thousand polls
//!   ([`AfPacketCounters::kernel_drops`]: missed, never the port's). Frames too long to send and frames the kernel refuses count as `oerrors` and
//!   `BadFrame`; frames on a down interface, or one up without a carrier (whose device drops them), as
//!   `NoPeer`.
//! - The port keeps no packet between calls (receive copies out of the ring, transmit copies in): when it
//!   is dropped its rings are unmapped, its sockets closed, and every buffer is already back in the pool.
//!
//! All system calls of the packet sockets, and the memory shared with the kernel, are in `sys`; the
//! interface's ioctls (index, flags, MTU, MAC, its name again after a rename) go through
//! [`crate::netdev::NetDev`]; `rx` walks the rx ring, `tx` fills the tx ring; `port` is the port.

mod error;
#[cfg(any(test, fuzzing))]
pub mod exercise;
mod port;
mod rx;
mod sys;
mod tx;

pub use error::AfPacketError;
pub use port::{
    AfPacketConfig, AfPacketCounters, AfPacketPort, RingGeometry, DEFAULT_BLOCK_TIMEOUT_MS, DEFAULT_RX_BLOCKS,
    DEFAULT_RX_BLOCK_SIZE, DEFAULT_TX_FRAMES, MAX_QUEUES,
};

/// Whether this process can open packet sockets here, and if not, why (for tests and tools that skip).
pub fn unavailable() -> Option<AfPacketError> {
    port::packet_socket().err()
}
