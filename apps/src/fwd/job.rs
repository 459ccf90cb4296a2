//! What a worker is given to run: the ports it owns ([`OwnedPort`]) and its jobs ([`Job`]: forwarding
//! with an [`FwdOp`], generating with a [`Generator`], receiving, icmpecho), and what receivers [`Strip`]
//! off frames before sending them on. [`super::plan`] builds these, [`super::worker`] owns them and
//! [`super::modes`] polls them; this module imports neither.

use crate::gen::maker::FrameMaker;
use crate::gen::player::Player;
use crate::gen::Quota;
use pktloop_engine::packet::PacketFlags;
use pktloop_engine::{Packet, Port};

/// Per-packet work of the forwarding modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FwdOp {
    /// As received.
    Io,
    /// Source MAC := tx port's, destination := its peer's.
    Mac,
    /// Swap MACs.
    MacSwap,
}

/// Where a generator's frames come from.
#[derive(Debug, Clone)]
pub enum Frames {
    /// UDP test frames (txonly, flowgen).
    Made(FrameMaker),
    /// A capture's frames (`--replay`).
    Replayed(Player),
}

/// A generator: its frames, how many and how fast, and what it marks on them.
#[derive(Debug, Clone)]
pub struct Generator {
    /// What it sends.
    pub frames: Frames,
    /// `--count` and `--rate`.
    pub quota: Quota,
    /// Count generated frames as completed (null ports, where tx is the sink).
    pub completes: bool,
    /// Cycle frames through the four WMM access classes (VO, VI, BE, BK), for feth's 4 -> 1 rings.
    pub wmm_classes: bool,
    /// Give each frame an expiry deadline this long after it is made (one clock read per burst).
    pub expiry_ns: Option<u64>,
}

/// One job of a worker. Port numbers index the worker's own ports.
#[derive(Debug)]
pub enum Job {
    /// rx on `rx`, apply `op`, tx on `tx` (seeded with `seed_left` bursts first).
    Forward {
        /// Stream's rx port.
        rx: usize,
        /// Stream's tx port.
        tx: usize,
        /// Queue pair used on both ports (rx queue `queue` to tx queue `queue`).
        queue: usize,
        /// Per-packet work.
        op: FwdOp,
        /// Seed bursts still to send (testpmd's tx_first).
        seed_left: usize,
        /// Makes the seed frames.
        seed: FrameMaker,
    },
    /// Generate on `port` (txonly, flowgen).
    Generate {
        /// Port.
        port: usize,
        /// Its tx queue.
        queue: usize,
        /// What to send.
        gen: Generator,
    },
    /// rx on `port` and free (rxonly).
    Receive {
        /// Port.
        port: usize,
        /// Its rx queue.
        queue: usize,
    },
    /// Answer ARP and ICMP echo requests on `port`.
    Echo {
        /// Port.
        port: usize,
        /// Queue pair answered on.
        queue: usize,
        /// Address answered for.
        ip: [u8; 4],
        /// Count answered requests as the run's packets (when no pinger of ours counts the replies).
        counted: bool,
    },
    /// Resolve the peer by ARP on `port`, then ping it as fast as replies come back.
    Ping {
        /// Port.
        port: usize,
        /// Echo request frame (its destination MAC is set once ARP resolves).
        template: Vec<u8>,
        /// ARP request frame.
        arp: Vec<u8>,
        /// Peer IP.
        peer_ip: [u8; 4],
        /// `--count` and `--rate` of the pings.
        quota: Quota,
    },
}

impl Job {
    /// Whether the job makes packets of its own that `--count` and `--rate` govern.
    pub fn generates(&self) -> bool {
        matches!(self, Job::Generate { .. } | Job::Ping { .. })
    }
}

/// A port a worker owns, with what the modes need to know about it.
pub struct OwnedPort {
    /// The port.
    pub port: Box<dyn Port>,
    /// Index in the run's port list (for capture and tables).
    pub index: u16,
    /// Its MAC.
    pub mac: [u8; 6],
    /// The MAC of the station its tx reaches (the feth peer; a made-up one for null).
    pub peer_mac: [u8; 6],
    /// What its received frames carry beyond the frame (feth's trailer and FCS), cut before sending on.
    pub strip: Strip,
}

impl std::fmt::Debug for OwnedPort {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OwnedPort").field("name", &self.port.name()).field("index", &self.index).finish()
    }
}

/// What a receiver strips before sending a frame on (as a NIC strips the CRC): the trailer the sender's
/// feth appends, and the FCS when the packet is flagged as carrying one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Strip {
    /// Trailer length (feth `trailer-length`).
    pub trailer: usize,
    /// feth `fcs` is on.
    pub fcs: bool,
}

impl Strip {
    /// Anything to do.
    #[inline]
    pub fn any(self) -> bool {
        self.fcs || self.trailer > 0
    }

    /// Cuts trailer and FCS off every packet of `pkts`.
    #[inline]
    pub fn apply(self, pkts: &mut [Packet]) {
        if !self.any() {
            return;
        }
        for p in pkts {
            // Only what the packet says it carries: a trailer or FCS that did not fit was left off, and the
            // frame's own last bytes are not to be cut in their place.
            let flags = p.meta().flags;
            let fcs = if flags.contains(PacketFlags::FCS) { 4 } else { 0 };
            let trailer = if flags.contains(PacketFlags::TRAILER) { self.trailer } else { 0 };
            let cut = trailer + fcs;
            if cut > 0 && p.len() > cut {
                let keep = p.len() - cut;
                p.truncate(keep);
                p.meta_mut().flags.remove(PacketFlags::FCS | PacketFlags::TRAILER);
            }
        }
    }
}
