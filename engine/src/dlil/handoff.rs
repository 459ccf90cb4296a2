//! Handing received packets to another thread: a protocol handler that pushes each chain it is given onto
//! an SPSC ring (no lock, no allocation), for a worker to pop while the input path runs on its own
//! [`super::InputThread`] (dlil's input thread handing `mbuf` chains to the protocol's thread).

use super::protocol::Protocol;
use crate::packet::Packet;
use crate::port::PacketBurst;
use crate::ring::Producer;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// A protocol handler that moves its packets onto a ring. Packets the ring has no room for are freed and
/// counted ([`Handoff::overflow`]).
#[derive(Debug)]
pub struct Handoff {
    name: String,
    ring: Producer<Packet>,
    overflow: Arc<AtomicU64>,
}

impl Handoff {
    /// Hands packets to whoever holds the consumer of `ring`.
    pub fn new(name: &str, ring: Producer<Packet>) -> Handoff {
        Handoff { name: name.to_owned(), ring, overflow: Arc::default() }
    }

    /// Packets dropped because the ring was full (readable from any thread).
    pub fn overflow(&self) -> Arc<AtomicU64> {
        self.overflow.clone()
    }
}

impl Protocol for Handoff {
    fn name(&self) -> &str {
        &self.name
    }

    fn input(&mut self, pkts: &mut PacketBurst, _replies: &mut PacketBurst) {
        self.ring.push_burst(pkts);
        if !pkts.is_empty() {
            // One writer: the data path.
            let n = self.overflow.load(Ordering::Relaxed) + pkts.len() as u64;
            self.overflow.store(n, Ordering::Relaxed);
        }
    }
}
