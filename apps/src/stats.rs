//! Per-lcore counters (one writer each, cache-padded, read by the main thread once a second), the live
//! line, and cycle counting.

use crossbeam_utils::CachePadded;
use pktloop_engine::port::{DropReason, PortStats};
use std::sync::atomic::{AtomicU64, Ordering};

/// What one lcore counts. Written only by its lcore (load + store, no locked instruction), once per burst.
#[derive(Debug, Default)]
pub struct LcoreCounters {
    /// Packets this lcore completed (forwarded, received, or answered: the run's figure of merit).
    pub packets: CachePadded<AtomicU64>,
    /// Bytes of those packets.
    pub bytes: CachePadded<AtomicU64>,
    /// Packets allocated by the application (seeds, generators, pings, ARP requests).
    pub generated: CachePadded<AtomicU64>,
    /// Of those, the ARP requests icmpecho's pinger sent to resolve its peer: frames of the run, not pings
    /// (the generators' rate and count leave them out).
    pub arp_requests: CachePadded<AtomicU64>,
    /// Received packets the application freed instead of sending on (rxonly, ping replies, ignored).
    pub consumed: CachePadded<AtomicU64>,
    /// Requests icmpecho answered in place (the reply is the request, turned around).
    pub answered: CachePadded<AtomicU64>,
    /// Generator allocations the pool could not satisfy (bursts retried later).
    pub nombuf: CachePadded<AtomicU64>,
    /// Frames the mode could not process (too short) and freed.
    pub bad_frame: CachePadded<AtomicU64>,
    /// Frames icmpecho was not asked about (freed).
    pub ignored: CachePadded<AtomicU64>,
    /// Cycles the lcore ran (measured once at start and once at stop).
    pub cycles: CachePadded<AtomicU64>,
    /// Cycles of polls that moved packets (only with --record-core-cycles).
    pub busy_cycles: CachePadded<AtomicU64>,
    /// Replayed frames skipped: longer than the port allows.
    pub too_long: CachePadded<AtomicU64>,
    /// Replayed frames skipped: shorter than an Ethernet header.
    pub too_short: CachePadded<AtomicU64>,
    /// Generators of this lcore that made their last packet (--count, a finite --replay).
    pub gens_done: CachePadded<AtomicU64>,
    /// Frame bytes of the packets generated.
    pub gen_bytes: CachePadded<AtomicU64>,
    /// Engine time of the first packet generated (0: none yet).
    pub gen_first_ns: CachePadded<AtomicU64>,
    /// Engine time the last generator of this lcore finished (0: not yet).
    pub gen_last_ns: CachePadded<AtomicU64>,
}

/// Sets a time stamp only its owner writes.
#[inline]
pub fn set(c: &AtomicU64, v: u64) {
    c.store(v, Ordering::Relaxed);
}

/// Seconds from the first packet any lcore generated to the moment the last generator finished (None
/// until every lcore that generated has finished).
pub fn generation_secs(lcores: &[std::sync::Arc<LcoreCounters>]) -> Option<f64> {
    let started: Vec<&LcoreCounters> = lcores.iter().map(|l| &**l).filter(|l| get(&l.gen_first_ns) != 0).collect();
    let first = started.iter().map(|l| get(&l.gen_first_ns)).min()?;
    let last = started.iter().map(|l| get(&l.gen_last_ns)).try_fold(0, |m, t| (t != 0).then_some(m.max(t)))?;
    Some(last.saturating_sub(first) as f64 / 1e9)
}

/// Adds `n` to a counter only its owner writes.
#[inline]
pub fn add(c: &AtomicU64, n: u64) {
    if n != 0 {
        c.store(c.load(Ordering::Relaxed).wrapping_add(n), Ordering::Relaxed);
    }
}

/// Reads a counter.
#[inline]
pub fn get(c: &AtomicU64) -> u64 {
    c.load(Ordering::Relaxed)
}

/// Sums of all lcores' counters at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    /// Packets completed.
    pub packets: u64,
    /// Bytes completed.
    pub bytes: u64,
    /// Generated.
    pub generated: u64,
    /// ARP requests among them.
    pub arp_requests: u64,
    /// Consumed.
    pub consumed: u64,
    /// Answered (icmpecho).
    pub answered: u64,
    /// Generator allocation failures.
    pub nombuf: u64,
    /// Frames too short for the mode.
    pub bad_frame: u64,
    /// Frames icmpecho ignored.
    pub ignored: u64,
    /// Worker cycles.
    pub cycles: u64,
    /// Busy-poll cycles.
    pub busy_cycles: u64,
    /// Replayed frames skipped as too long for the port.
    pub too_long: u64,
    /// Replayed frames skipped as shorter than an Ethernet header.
    pub too_short: u64,
    /// Generators that made their last packet.
    pub gens_done: u64,
    /// Bytes the generators made (frame bytes).
    pub gen_bytes: u64,
}

impl Totals {
    /// Sums `lcores`.
    pub fn of(lcores: &[std::sync::Arc<LcoreCounters>]) -> Totals {
        let mut t = Totals::default();
        for l in lcores {
            t.packets += get(&l.packets);
            t.bytes += get(&l.bytes);
            t.generated += get(&l.generated);
            t.arp_requests += get(&l.arp_requests);
            t.consumed += get(&l.consumed);
            t.answered += get(&l.answered);
            t.nombuf += get(&l.nombuf);
            t.bad_frame += get(&l.bad_frame);
            t.ignored += get(&l.ignored);
            t.cycles += get(&l.cycles);
            t.busy_cycles += get(&l.busy_cycles);
            t.too_long += get(&l.too_long);
            t.too_short += get(&l.too_short);
            t.gens_done += get(&l.gens_done);
            t.gen_bytes += get(&l.gen_bytes);
        }
        t
    }

    /// The frames the generators made: what they were asked for, without the ARP requests a pinger sent
    /// to find its peer.
    pub fn generator_frames(&self) -> u64 {
        self.generated.saturating_sub(self.arp_requests)
    }
}

/// The CPU's cycle counter where there is one (x86_64 `rdtsc`), else `None`.
#[inline]
pub fn cycles_now() -> Option<u64> {
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY: rdtsc has no preconditions on x86_64 (every x86_64 CPU has it); it only reads a counter.
        #[allow(unsafe_code)]
        let t = unsafe { core::arch::x86_64::_rdtsc() };
        Some(t)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        None
    }
}

/// How cycles per packet were obtained.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CyclesPerPacket {
    /// The figure.
    pub value: f64,
    /// `rdtsc` (measured) or `estimate` (wall time x nominal frequency).
    pub method: &'static str,
    /// Counter frequency in GHz over the run (measured against the wall clock) or nominal.
    pub ghz: f64,
}

/// Cycles per packet over the run: all worker cycles (idle polls included) over packets completed. Without
/// a cycle counter, estimated from worker time x the nominal frequency in /proc/cpuinfo.
pub fn cycles_per_packet(t: &Totals, workers: usize, secs: f64) -> Option<CyclesPerPacket> {
    if t.packets == 0 || secs <= 0.0 {
        return None;
    }
    if t.cycles > 0 {
        let ghz = t.cycles as f64 / (workers.max(1) as f64 * secs) / 1e9;
        return Some(CyclesPerPacket { value: t.cycles as f64 / t.packets as f64, method: "rdtsc", ghz });
    }
    let mhz = std::fs::read_to_string("/proc/cpuinfo").ok().and_then(|s| {
        s.lines().find(|l| l.starts_with("cpu MHz")).and_then(|l| l.split(':').nth(1)?.trim().parse::<f64>().ok())
    })?;
    let cycles = mhz * 1e6 * secs * workers as f64;
    Some(CyclesPerPacket { value: cycles / t.packets as f64, method: "estimate", ghz: mhz / 1e3 })
}

/// Formats a packet count with thousands separators.
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Drops by reason (indexed by `DropReason as usize`) summed over ports' counters.
pub fn drops_of(stats: impl IntoIterator<Item = PortStats>) -> [u64; DropReason::COUNT] {
    let mut d = [0u64; DropReason::COUNT];
    for s in stats {
        d.iter_mut().zip(s.drops).for_each(|(d, n)| *d += n);
    }
    d
}

/// Warnings for frames that crossed a feth pair without the FCS or trailer asked for, given how many of each
/// the ports counted: the receiving buffer had no room left after the frame. Names the knob that sizes that
/// buffer: the aggregation buffer split pools pack into, TSO's buflet, or the max-MTU buffer.
pub fn no_room_warnings(fcs_failed: u64, trailer_failed: u64, feth: &pktloop_pmd::feth::FethConfig) -> Vec<String> {
    let sized_by = match (feth.pool_mode, feth.tso) {
        (pktloop_engine::pool::PoolMode::PrivateSplit, _) => "--aggregation-factor",
        (_, true) => "--tso-buf-size",
        _ => "--max-mtu",
    };
    [("FCS", fcs_failed), ("trailer", trailer_failed)]
        .into_iter()
        .filter(|&(_, n)| n > 0)
        .map(|(what, n)| {
            format!(
                "{n} frames crossed without their feth {what}: the receiving buffer had no room left for it after \
                 the frame (see {sized_by} and --pkt-len)"
            )
        })
        .collect()
}

/// Drops by reason as a JSON object: every reason's name, zero ones included.
pub fn drops_json(d: &[u64; DropReason::COUNT]) -> serde_json::Value {
    DropReason::ALL.iter().map(|&r| (r.as_str().to_owned(), serde_json::json!(d[r as usize]))).collect()
}

/// Drops with their reasons, counted by `DropReason as usize`: `0`, or `5 (tx_drop_injection 2,
/// rx_ring_full 3)` (the reasons that counted any, in counter order).
pub fn drops_text(d: &[u64; DropReason::COUNT]) -> String {
    let total: u64 = d.iter().sum();
    let named: Vec<String> = DropReason::ALL
        .iter()
        .filter(|r| d[**r as usize] > 0)
        .map(|r| format!("{} {}", r.as_str(), d[*r as usize]))
        .collect();
    if named.is_empty() {
        total.to_string()
    } else {
        format!("{total} ({})", named.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn totals_sum_lcores_and_cycles_per_packet_divides() {
        let a = Arc::new(LcoreCounters::default());
        let b = Arc::new(LcoreCounters::default());
        add(&a.packets, 10);
        add(&b.packets, 30);
        add(&a.cycles, 4000);
        let t = Totals::of(&[a, b]);
        assert_eq!(t.packets, 40);
        let c = cycles_per_packet(&t, 2, 1.0).unwrap();
        assert_eq!((c.value, c.method), (100.0, "rdtsc"));
        assert!(cycles_per_packet(&Totals::default(), 1, 1.0).is_none());
    }

    #[test]
    fn thousands_groups_digits() {
        assert_eq!(thousands(1234567), "1,234,567");
        assert_eq!(thousands(12), "12");
        assert_eq!(thousands(0), "0");
    }

    #[test]
    fn cycle_counter_moves_forward_where_present() {
        if let (Some(a), Some(b)) = (cycles_now(), cycles_now()) {
            assert!(b >= a);
        }
    }
}
