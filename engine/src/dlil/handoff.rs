//! Handing received packets to another thread: a protocol handler that pushes each chain it is given onto
//! an SPSC ring (no lock, no allocation), for a worker to pop while the input path runs on its own
//! [`super::InputThread`] (dlil's input thread handing `mbuf` chains to the protocol's thread).

use super::protocol::Protocol;
use crate::packet::{free_burst, Packet};
use crate::port::{DropReason, PacketBurst, PortCounters};
use crate::ring::Producer;
use std::sync::Arc;

/// A protocol handler that moves its packets onto a ring. Packets the ring has no room for are freed and
/// counted as `RxRingFull` drops in `drops` (the interface's counters, usually).
#[derive(Debug)]
pub struct Handoff {
    name: String,
    ring: Producer<Packet>,
    drops: Arc<PortCounters>,
}

impl Handoff {
    /// Hands packets to whoever holds the consumer of `ring`, counting overflow in `drops`.
    pub fn new(name: &str, ring: Producer<Packet>, drops: Arc<PortCounters>) -> Handoff {
        Handoff { name: name.to_owned(), ring, drops }
    }
}

impl Protocol for Handoff {
    fn name(&self) -> &str {
        &self.name
    }

    fn input(&mut self, pkts: &mut PacketBurst, _replies: &mut PacketBurst) {
        self.ring.push_burst(pkts);
        if !pkts.is_empty() {
            PortCounters::drop(&self.drops, DropReason::RxRingFull, pkts.len() as u64);
            free_burst(pkts);
        }
    }
}
