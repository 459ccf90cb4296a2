//! The Port API every poll-mode driver implements: bursts per queue, link state, counters with drops by
//! reason, and an event stream.
//!
//! A port object is owned by the one lcore that polls it (`&mut self`); what other threads need (counters,
//! link state, events) is reachable through shared handles that never lock on the data path.

mod events;
mod stats;

pub use events::{
    Advisory, AdvisoryDirection, Event, EventBus, EventKind, ExpiryStatus, Subscriber, TxStatus, ADVISORY_VERSION,
};
pub use stats::{bump_owned, DropReason, PortCounters, PortStats};

use crate::packet::Packet;
use arrayvec::ArrayVec;

/// Most packets one burst carries.
pub const MAX_BURST: usize = 512;

/// A burst of packets: a fixed-capacity vector that never allocates.
pub type PacketBurst = ArrayVec<Packet, MAX_BURST>;

/// Link state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LinkState {
    /// Carrier: frames can flow.
    Up,
    /// No carrier.
    Down,
}

/// A poll-mode port.
pub trait Port: Send {
    /// Interface name (`feth0`, `null0`, `tap0`).
    fn name(&self) -> &str;

    /// Ethernet address.
    fn mac(&self) -> [u8; 6];

    /// Current MTU.
    fn mtu(&self) -> u32;

    /// Number of rx queues.
    fn rx_queues(&self) -> usize {
        1
    }

    /// Number of tx queues.
    fn tx_queues(&self) -> usize {
        1
    }

    /// Receives up to `max` packets from rx queue `queue`, appending them to `pkts` (bounded by its room).
    /// Returns how many arrived. A queue the port does not have (`queue >= rx_queues()`) has nothing to
    /// receive: 0, never a panic.
    fn rx_burst(&mut self, queue: usize, pkts: &mut PacketBurst, max: usize) -> usize;

    /// Sends packets from the front of `pkts` on tx queue `queue`. Sent (or dropped-and-counted) packets
    /// are taken; the rest stay in `pkts`, in order, for the caller to retry or free. Returns how many were
    /// taken. A queue the port does not have (`queue >= tx_queues()`) takes nothing. An empty `pkts` is a
    /// poll: a port that holds packets of its own to move on (feth's local tx rings, AF_XDP's frames waiting
    /// in its tx ring or sent and not yet taken back) moves them then, and a layer between the caller and
    /// a port (the input layer's output path) passes it on.
    fn tx_burst(&mut self, queue: usize, pkts: &mut PacketBurst) -> usize;

    /// Link state.
    fn link(&self) -> LinkState;

    /// Counters, readable from any thread while the port runs.
    fn counters(&self) -> &std::sync::Arc<PortCounters>;

    /// A snapshot of the counters.
    fn stats(&self) -> PortStats {
        self.counters().snapshot()
    }

    /// The port's event stream.
    fn events(&self) -> &EventBus;

    /// The pool the caller should allocate packets to send from.
    fn tx_pool(&self) -> &crate::pool::Pool;
}

/// A boxed port is a port: wrappers generic over their port (`capture::Tapped`) take one as they take a
/// driver.
impl<P: Port + ?Sized> Port for Box<P> {
    fn name(&self) -> &str {
        (**self).name()
    }

    fn mac(&self) -> [u8; 6] {
        (**self).mac()
    }

    fn mtu(&self) -> u32 {
        (**self).mtu()
    }

    fn rx_queues(&self) -> usize {
        (**self).rx_queues()
    }

    fn tx_queues(&self) -> usize {
        (**self).tx_queues()
    }

    #[inline]
    fn rx_burst(&mut self, queue: usize, pkts: &mut PacketBurst, max: usize) -> usize {
        (**self).rx_burst(queue, pkts, max)
    }

    #[inline]
    fn tx_burst(&mut self, queue: usize, pkts: &mut PacketBurst) -> usize {
        (**self).tx_burst(queue, pkts)
    }

    fn link(&self) -> LinkState {
        (**self).link()
    }

    fn counters(&self) -> &std::sync::Arc<PortCounters> {
        (**self).counters()
    }

    fn stats(&self) -> PortStats {
        (**self).stats()
    }

    fn events(&self) -> &EventBus {
        (**self).events()
    }

    fn tx_pool(&self) -> &crate::pool::Pool {
        (**self).tx_pool()
    }
}
