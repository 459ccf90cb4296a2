//! Attached protocols (XNU's `ifnet_attach_protocol`): handlers that receive, as whole bursts, the inbound
//! packets whose link-layer type is theirs, and may answer on the same interface.

use crate::port::{bump_owned, PacketBurst};
use std::sync::atomic::{AtomicU64, Ordering};

/// A protocol handler for one EtherType. Called from the interface's data path only (one thread at a
/// time), so it takes `&mut self`; handed back by `detach_protocol` once no packet is inside it.
pub trait Protocol: Send {
    /// Name for tables and events.
    fn name(&self) -> &str;

    /// A burst of consecutive inbound packets of this protocol (dlil hands chains up, not single
    /// packets). The handler takes what it keeps out of `pkts`; what it leaves there is freed by the
    /// interface. Packets it pushes to `replies` are sent on the same interface, through the output
    /// filters; `replies` has room for at least `pkts.len()` packets.
    fn input(&mut self, pkts: &mut PacketBurst, replies: &mut PacketBurst);
}

impl std::fmt::Debug for dyn Protocol {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A protocol's counter: packets delivered to it.
#[derive(Debug, Default)]
pub struct ProtocolCounters {
    delivered: AtomicU64,
}

impl ProtocolCounters {
    /// `n` more packets delivered (one writer: the data path).
    pub(crate) fn add(&self, n: u64) {
        bump_owned(&self.delivered, n);
    }

    /// Packets delivered so far.
    pub fn delivered(&self) -> u64 {
        self.delivered.load(Ordering::Relaxed)
    }
}
