//! What the input-layer soak's fault thread attaches and detaches: an input filter that judges frames by
//! the id they carry, a protocol handler that counts what demux hands it, and the churn that keeps track of
//! both and of what the interface counted for them.

use pktloop_engine::dlil::demux::ethertype;
use pktloop_engine::dlil::{Filter, FilterId, FilterStats, InterfaceHandle, Protocol, Verdict};
use pktloop_engine::{Packet, PacketBurst};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// The EtherType the input-layer soak sends (IEEE local experimental) and its handler is attached for.
pub const SOAK_ETHERTYPE: u16 = 0x88b5;

/// What the input layer's fault thread does, and how often it did it.
pub const DLIL_FAULTS: [&str; 4] = ["filter attached", "filter detached", "protocol attached", "protocol detached"];

/// Frames a filter keeps (consumed) before it frees them: enough to hold buffers across bursts, few
/// enough that the sender's pool does not run dry.
const KEEP: usize = 16;

/// What a round's filters saw, consumed and freed, added by each filter when it is dropped (after it
/// freed what it kept), so it is whole once every filter is detached and dropped.
#[derive(Debug, Default)]
pub struct FilterTally {
    pub seen: AtomicU64,
    pub consumed: AtomicU64,
    pub freed: AtomicU64,
}

/// An input filter with a rule on the id a frame carries: id % 8 == 3 dropped, id % 8 == 5 consumed
/// (kept, then freed by the filter itself), the rest passed. A frame cut too short to carry an id passes
/// (the fault injector truncates some).
struct ById {
    tally: Arc<FilterTally>,
    seen: u64,
    consumed: u64,
    freed: u64,
    kept: Vec<Packet>,
}

impl ById {
    fn new(tally: &Arc<FilterTally>) -> ById {
        // Room for every kept frame made here, at attach: the data path never allocates.
        ById { tally: tally.clone(), seen: 0, consumed: 0, freed: 0, kept: Vec::with_capacity(KEEP) }
    }

    fn release(&mut self) {
        self.freed += self.kept.len() as u64;
        self.kept.clear();
    }
}

impl Filter for ById {
    fn name(&self) -> &str {
        "soak-by-id"
    }

    fn input(&mut self, pkt: Packet) -> Verdict {
        self.seen += 1;
        let mut id = [0u8; 8];
        match pkt.read(14, &mut id).map(|()| u64::from_le_bytes(id) % 8) {
            Ok(3) => Verdict::Drop(pkt),
            Ok(5) => {
                if self.kept.len() == KEEP {
                    self.release();
                }
                self.kept.push(pkt);
                self.consumed += 1;
                Verdict::Consumed
            }
            _ => Verdict::Pass(pkt),
        }
    }
}

impl Drop for ById {
    fn drop(&mut self) {
        self.release();
        let t = &self.tally;
        t.seen.fetch_add(self.seen, Ordering::Relaxed);
        t.consumed.fetch_add(self.consumed, Ordering::Relaxed);
        t.freed.fetch_add(self.freed, Ordering::Relaxed);
    }
}

/// What a round's protocol handlers got, added by each when it is dropped.
#[derive(Debug, Default)]
pub struct SinkTally {
    pub got: AtomicU64,
    pub wrong_type: AtomicU64,
}

/// The protocol handler for the soak's EtherType: counts what it gets (and frames of another type, which
/// demux must never hand it) and leaves them for the interface to free.
struct Sink {
    tally: Arc<SinkTally>,
    got: u64,
    wrong_type: u64,
}

impl Protocol for Sink {
    fn name(&self) -> &str {
        "soak-sink"
    }

    fn input(&mut self, pkts: &mut PacketBurst, _replies: &mut PacketBurst) {
        self.got += pkts.len() as u64;
        self.wrong_type += pkts.iter().filter(|p| ethertype(p.data()) != Ok(SOAK_ETHERTYPE)).count() as u64;
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        self.tally.got.fetch_add(self.got, Ordering::Relaxed);
        self.tally.wrong_type.fetch_add(self.wrong_type, Ordering::Relaxed);
    }
}

pub fn add_filter_stats(sum: &mut FilterStats, s: FilterStats) {
    (sum.passed, sum.dropped, sum.consumed) =
        (sum.passed + s.passed, sum.dropped + s.dropped, sum.consumed + s.consumed);
}

/// The fault thread's handlers on one interface: what is attached, and what the interface counted for
/// those detached (their counters are final only once detached).
#[derive(Default)]
pub struct Churn {
    filter: Option<FilterId>,
    protocol: bool,
    /// The detached filters' counters, summed.
    pub filters: FilterStats,
    /// Frames the interface delivered to the detached handlers.
    pub delivered: u64,
    pub faults: [u64; DLIL_FAULTS.len()],
    pub filter_tally: Arc<FilterTally>,
    pub sink_tally: Arc<SinkTally>,
}

impl Churn {
    /// Attaches the filter if it is not attached, else detaches it; counts the fault.
    pub fn toggle_filter(&mut self, h: &InterfaceHandle) {
        if self.filter.is_some() {
            self.detach_filter(h);
            self.faults[1] += 1;
        } else {
            self.filter = Some(h.attach_filter(Box::new(ById::new(&self.filter_tally))));
            self.faults[0] += 1;
        }
    }

    /// Attaches the protocol handler if it is not attached, else detaches it; counts the fault.
    pub fn toggle_protocol(&mut self, h: &InterfaceHandle) {
        if self.protocol {
            self.detach_protocol(h);
            self.faults[3] += 1;
        } else {
            self.attach_protocol(h);
            self.faults[2] += 1;
        }
    }

    pub fn attach_protocol(&mut self, h: &InterfaceHandle) {
        let sink = Sink { tally: self.sink_tally.clone(), got: 0, wrong_type: 0 };
        h.attach_protocol(SOAK_ETHERTYPE, Box::new(sink)).expect("no handler for it is attached");
        self.protocol = true;
    }

    pub fn detach_filter(&mut self, h: &InterfaceHandle) {
        if let Some(id) = self.filter.take() {
            // Dropping the filter frees what it kept.
            let d = h.detach_filter(id).expect("attached by us");
            add_filter_stats(&mut self.filters, d.stats);
        }
    }

    pub fn detach_protocol(&mut self, h: &InterfaceHandle) {
        if std::mem::take(&mut self.protocol) {
            let (_sink, delivered) = h.detach_protocol(SOAK_ETHERTYPE).expect("attached by us");
            self.delivered += delivered;
        }
    }
}
