//! Port counters: written by the port's lcore with relaxed atomics (once per burst, not per packet), read by
//! anyone for live stats.

use std::sync::atomic::{AtomicU64, Ordering};

/// Why a packet was dropped. Every dropped packet is counted under exactly one reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum DropReason {
    /// No peer (or the peer is detaching).
    NoPeer,
    /// Tx drop injection (`tx_drops`).
    TxDropInjection,
    /// Expired (policy drop, or the packet's own drop action).
    Expired,
    /// The peer's rx ring was full and the port is configured to drop rather than retry.
    RxRingFull,
    /// No packet could be allocated in the receiver's pool.
    NoMemPacket,
    /// No buffer for a later buflet in the receiver's pool.
    NoMemBuffer,
    /// Longer than the MTU allows.
    MtuExceeded,
    /// An interface filter dropped it.
    Filtered,
    /// Still queued when its port was destroyed.
    Detached,
    /// A malformed frame (short, oversize) from outside.
    BadFrame,
    /// No protocol is attached for the frame's EtherType.
    NoProtocol,
    /// In flight when the kernel's I/O ring failed: the buffer is leaked, never reused (the kernel may
    /// still touch it).
    RingFailed,
    /// Dropped on purpose by a fault-injecting wrapper (`pktloop_pmd::fault::FaultInjector`).
    FaultInjected,
    /// Sent to a peer process that went away (crashed or disconnected) before giving its buffer back.
    PeerLost,
    /// A malformed entry in a ring shared with another process (a buffer index out of range or already
    /// given, a length beyond its buffer): skipped, the entry's buffer untouched.
    BadDescriptor,
}

impl DropReason {
    /// Number of reasons.
    pub const COUNT: usize = 15;

    /// Every reason, in counter order.
    pub const ALL: [DropReason; DropReason::COUNT] = [
        DropReason::NoPeer,
        DropReason::TxDropInjection,
        DropReason::Expired,
        DropReason::RxRingFull,
        DropReason::NoMemPacket,
        DropReason::NoMemBuffer,
        DropReason::MtuExceeded,
        DropReason::Filtered,
        DropReason::Detached,
        DropReason::BadFrame,
        DropReason::NoProtocol,
        DropReason::RingFailed,
        DropReason::FaultInjected,
        DropReason::PeerLost,
        DropReason::BadDescriptor,
    ];

    /// snake_case name for tables and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            DropReason::NoPeer => "no_peer",
            DropReason::TxDropInjection => "tx_drop_injection",
            DropReason::Expired => "expired",
            DropReason::RxRingFull => "rx_ring_full",
            DropReason::NoMemPacket => "nomem_packet",
            DropReason::NoMemBuffer => "nomem_buffer",
            DropReason::MtuExceeded => "mtu_exceeded",
            DropReason::Filtered => "filtered",
            DropReason::Detached => "detached",
            DropReason::BadFrame => "bad_frame",
            DropReason::NoProtocol => "no_protocol",
            DropReason::RingFailed => "ring_failed",
            DropReason::FaultInjected => "fault_injected",
            DropReason::PeerLost => "peer_lost",
            DropReason::BadDescriptor => "bad_descriptor",
        }
    }
}

/// Live counters of one port. Aligned to whole cache-line pairs: the counters of a port polled on one core
/// never share a line with another port's (false sharing would cost a cross-core transfer per burst).
#[derive(Debug, Default)]
#[repr(align(128))]
pub struct PortCounters {
    ipackets: AtomicU64,
    ibytes: AtomicU64,
    ierrors: AtomicU64,
    opackets: AtomicU64,
    obytes: AtomicU64,
    oerrors: AtomicU64,
    rx_nombuf: AtomicU64,
    drops: [AtomicU64; DropReason::COUNT],
}

#[inline]
fn bump(c: &AtomicU64, n: u64) {
    if n != 0 {
        c.fetch_add(n, Ordering::Relaxed);
    }
}

/// Adds to a counter only one thread writes: a plain load and store, no locked instruction (which would
/// wait for every earlier store of the burst, its frame writes included, to reach the cache). Adding 0
/// writes nothing. The engine's other single-writer counters (interface filters and protocols) and the
/// drivers' own counters use it too.
#[inline]
pub fn bump_owned(c: &AtomicU64, n: u64) {
    if n != 0 {
        c.store(c.load(Ordering::Relaxed).wrapping_add(n), Ordering::Relaxed);
    }
}

impl PortCounters {
    /// `packets` packets of `bytes` bytes received. Only the lcore that polls the port calls this (the
    /// counters are single-writer; see [`bump_owned`]).
    #[inline]
    pub fn rx(&self, packets: u64, bytes: u64) {
        bump_owned(&self.ipackets, packets);
        bump_owned(&self.ibytes, bytes);
    }

    /// `packets` packets of `bytes` bytes sent. Only the lcore that polls the port calls this.
    #[inline]
    pub fn tx(&self, packets: u64, bytes: u64) {
        bump_owned(&self.opackets, packets);
        bump_owned(&self.obytes, bytes);
    }

    /// Receive errors (bad frames).
    #[inline]
    pub fn rx_error(&self, n: u64) {
        bump(&self.ierrors, n);
    }

    /// Transmit errors.
    #[inline]
    pub fn tx_error(&self, n: u64) {
        bump(&self.oerrors, n);
    }

    /// Receive allocation failures (testpmd's RX-nombuf).
    #[inline]
    pub fn rx_nombuf(&self, n: u64) {
        bump(&self.rx_nombuf, n);
    }

    /// `n` packets dropped for `reason`.
    #[inline]
    pub fn drop(&self, reason: DropReason, n: u64) {
        bump(&self.drops[reason as usize], n);
    }

    /// `n` frames that came in and were dropped for `reason` before they were received: receive errors as
    /// well as drops, so that what came in (received and errors) meets what went (delivered and dropped).
    #[inline]
    pub fn rx_dropped(&self, reason: DropReason, n: u64) {
        self.rx_error(n);
        self.drop(reason, n);
    }

    /// A consistent-enough copy (each counter is exact; they are read one after another).
    pub fn snapshot(&self) -> PortStats {
        let l = |c: &AtomicU64| c.load(Ordering::Relaxed);
        PortStats {
            ipackets: l(&self.ipackets),
            ibytes: l(&self.ibytes),
            ierrors: l(&self.ierrors),
            opackets: l(&self.opackets),
            obytes: l(&self.obytes),
            oerrors: l(&self.oerrors),
            rx_nombuf: l(&self.rx_nombuf),
            drops: std::array::from_fn(|i| l(&self.drops[i])),
        }
    }
}

/// A snapshot of a port's counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PortStats {
    /// Packets received.
    pub ipackets: u64,
    /// Bytes received.
    pub ibytes: u64,
    /// Receive errors.
    pub ierrors: u64,
    /// Packets sent (delivered to the wire or the peer).
    pub opackets: u64,
    /// Bytes sent.
    pub obytes: u64,
    /// Transmit errors.
    pub oerrors: u64,
    /// Receive allocation failures.
    pub rx_nombuf: u64,
    /// Drops by reason, indexed by `DropReason as usize`.
    pub drops: [u64; DropReason::COUNT],
}

impl PortStats {
    /// Drops for one reason.
    pub fn dropped(&self, reason: DropReason) -> u64 {
        self.drops[reason as usize]
    }

    /// All drops.
    pub fn total_drops(&self) -> u64 {
        self.drops.iter().sum()
    }

    /// Drops by name, zero ones included.
    pub fn drops_by_name(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        DropReason::ALL.iter().map(|&r| (r.as_str(), self.dropped(r)))
    }

    /// Counter-wise difference `self - earlier` (for per-interval rates).
    pub fn since(&self, earlier: &PortStats) -> PortStats {
        PortStats {
            ipackets: self.ipackets - earlier.ipackets,
            ibytes: self.ibytes - earlier.ibytes,
            ierrors: self.ierrors - earlier.ierrors,
            opackets: self.opackets - earlier.opackets,
            obytes: self.obytes - earlier.obytes,
            oerrors: self.oerrors - earlier.oerrors,
            rx_nombuf: self.rx_nombuf - earlier.rx_nombuf,
            drops: std::array::from_fn(|i| self.drops[i] - earlier.drops[i]),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_accumulate_per_reason_and_diff_between_snapshots() {
        let c = PortCounters::default();
        c.rx(32, 2048);
        c.tx(30, 1920);
        c.drop(DropReason::NoPeer, 2);
        let first = c.snapshot();
        c.drop(DropReason::RxRingFull, 5);
        c.rx_nombuf(7);
        let second = c.snapshot();
        assert_eq!((first.ipackets, first.ibytes, first.opackets, first.obytes), (32, 2048, 30, 1920));
        assert_eq!(second.total_drops(), 7);
        let d = second.since(&first);
        assert_eq!(
            (d.ipackets, d.dropped(DropReason::RxRingFull), d.dropped(DropReason::NoPeer), d.rx_nombuf),
            (0, 5, 0, 7)
        );
        let names: Vec<_> = second.drops_by_name().filter(|&(_, n)| n > 0).collect();
        assert_eq!(names, [("no_peer", 2), ("rx_ring_full", 5)]);
        assert_eq!(DropReason::ALL.len(), DropReason::COUNT);
        assert!(DropReason::ALL.iter().enumerate().all(|(i, &r)| r as usize == i));
        let mut names: Vec<_> = DropReason::ALL.iter().map(|r| r.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), DropReason::COUNT, "one name per reason");
        assert_eq!(DropReason::ALL[DropReason::COUNT - 1].as_str(), "bad_descriptor");
    }
}
