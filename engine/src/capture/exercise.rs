//! What the capture's property test and fuzz target run: arbitrary packets (any length, chained over any
//! buflet size) taken by two taps under any snap length, slot count and limit, drained now and then as a
//! writer thread would, and written as pcap or pcapng. Every packet offered is taken, missed (no free slot)
//! or past the limit; what is taken comes out in time order, cut at the snap length with its original
//! length; the file reads back as exactly those frames (interfaces and directions in pcapng, a frame on a
//! port with no interface refused); and every buffer is back in its pool. Built for tests and under
//! `--cfg fuzzing` (see `fuzz/`).

use super::{Capture, CaptureConfig, Direction, Format, Frame, Sink};
use crate::mem::Prefer;
use crate::pool::{Pool, PoolConfig};
use pcap_file::pcap::PcapReader;
use pcap_file::pcapng::blocks::enhanced_packet::EnhancedPacketOption;
use pcap_file::pcapng::{Block, PcapNgReader};
use pcap_file::PcapError;
use std::time::Duration;

/// Bytes of the input that choose the settings; the rest describes packets, four bytes each.
const SETTINGS: usize = 8;
/// Longest packet tried: a jumbo frame, which the smallest buffers tried cannot chain (a packet that no pool
/// here can hold is skipped, not offered).
const MAX_LEN: usize = 9216;

/// The capture's settings and the packets, as read from fuzz bytes.
struct Plan<'a> {
    format: Format,
    config: CaptureConfig,
    buf_size: u32,
    ports: Vec<String>,
    /// Drain after every this many packets (0: only at the end).
    drain_every: usize,
    packets: &'a [u8],
}

impl Plan<'_> {
    fn read(input: &[u8]) -> Option<Plan<'_>> {
        let (s, packets) = (input.get(..SETTINGS)?, &input[SETTINGS..]);
        Some(Plan {
            format: if s[0] & 1 == 0 { Format::PcapNg } else { Format::Pcap },
            config: CaptureConfig {
                slots: 2 << (s[1] % 4),
                snaplen: 14 + usize::from(u16::from_le_bytes([s[2], s[3]])) % (MAX_LEN + 100),
                limit: 1 + u64::from(s[4] % 40),
            },
            buf_size: 64 << (s[5] % 5),
            ports: (0..1 + s[6] % 4).map(|i| format!("port{i}")).collect(),
            drain_every: usize::from(s[7] % 8),
            packets,
        })
    }
}

/// One packet offered: its length, port, direction and tap.
fn record(r: &[u8]) -> (usize, u16, Direction, usize) {
    let len = usize::from(u16::from_le_bytes([r[0], r[1]])) % MAX_LEN;
    let dir = if r[3] & 1 == 0 { Direction::Rx } else { Direction::Tx };
    (len, u16::from(r[2] % 6), dir, usize::from(r[3] >> 1 & 1))
}

/// Runs the capture described by `input` and checks everything it promises.
pub fn capture_any_packets(input: &[u8]) {
    let Some(plan) = Plan::read(input) else { return };
    let mut config = PoolConfig::new("capture-exercise", 256, plan.buf_size);
    (config.max_buflets, config.prefer) = (64, Prefer::Normal);
    let pool = Pool::new(config).expect("a pool of normal pages");
    let mut capture = Capture::new(plan.config).expect("settings in range");
    let mut taps = [capture.tap().expect("a tap"), capture.tap().expect("a tap")];
    let (mut expected, mut drained, mut offered) = (Vec::new(), Vec::new(), 0u64);
    for (i, r) in plan.packets.chunks_exact(4).enumerate() {
        let (len, port, dir, tap) = record(r);
        let bytes: Vec<u8> = (0..len).map(|k| (k as u8).wrapping_mul(7) ^ r[0]).collect();
        // A chain too long for the pool (or no buffer left) is not the capture's business.
        let Ok(pkt) = pool.packet_from(&bytes) else { continue };
        let ts_ns = 1_000 + i as u64;
        offered += 1;
        if taps[tap].packet(&pkt, port, dir, ts_ns) {
            let data = bytes[..len.min(plan.config.snaplen)].to_vec();
            expected.push(Frame { ts_ns, port, dir, orig_len: len as u32, data });
        }
        if plan.drain_every != 0 && i % plan.drain_every == 0 {
            capture.drain(|f| drained.push(f.clone()));
        }
    }
    capture.drain(|f| drained.push(f.clone()));
    assert_eq!(pool.in_use(), 0, "a tap copies: every packet went back to its pool");
    check_taken(&capture, &plan, offered, &expected, &drained);
    check_file(&plan, &drained);
}

fn check_taken(capture: &Capture, plan: &Plan<'_>, offered: u64, expected: &[Frame], drained: &[Frame]) {
    let taken = expected.len() as u64;
    assert_eq!(capture.taken(), taken, "the count of frames taken");
    assert!(taken <= plan.config.limit, "never more than the limit");
    assert!(taken + capture.missed() <= offered, "each packet is taken, missed, or past the limit");
    if taken < plan.config.limit {
        assert_eq!(taken + capture.missed(), offered, "under the limit, a packet not taken was missed");
    }
    assert_eq!(drained, expected, "frames come out whole (to the snap length), in time order");
}

/// Writes `frames` in the plan's format and reads the file back.
fn check_file(plan: &Plan<'_>, frames: &[Frame]) {
    let snaplen = plan.config.snaplen as u32;
    let mut sink = Sink::new(plan.format, Vec::new(), snaplen, &plan.ports).expect("headers into a Vec");
    let mut written = Vec::new();
    for f in frames {
        match sink.write(f) {
            Ok(()) => written.push(f),
            Err(PcapError::InvalidInterfaceId(id)) => {
                assert_eq!(plan.format, Format::PcapNg, "only pcapng has interfaces");
                assert!(usize::try_from(id).unwrap() >= plan.ports.len(), "only a port with no interface is refused");
            }
            Err(e) => panic!("writing into a Vec failed: {e}"),
        }
    }
    assert_eq!(sink.written(), written.len() as u64);
    let bytes = sink.into_inner();
    let read = match plan.format {
        Format::Pcap => read_pcap(&bytes, snaplen),
        Format::PcapNg => read_pcapng(&bytes, &plan.ports),
    };
    assert_eq!(read.len(), written.len(), "the file holds every frame written");
    for (r, f) in read.iter().zip(&written) {
        assert_eq!((&r.data, r.orig_len), (&f.data, f.orig_len), "a frame reads back as written");
        if plan.format == Format::PcapNg {
            assert_eq!((r.port, r.dir), (f.port, f.dir), "interface and direction");
        }
    }
    for (pair, frames) in read.windows(2).zip(written.windows(2)) {
        let gap = Duration::from_nanos(frames[1].ts_ns - frames[0].ts_ns);
        assert_eq!(Duration::from_nanos(pair[1].ts_ns - pair[0].ts_ns), gap, "nanosecond timestamps");
    }
}

fn read_pcap(bytes: &[u8], snaplen: u32) -> Vec<Frame> {
    let mut reader = PcapReader::new(bytes).expect("a pcap header");
    assert_eq!(reader.header().snaplen, snaplen);
    let mut out = Vec::new();
    // Raw records: pcap-file's checked ones refuse a frame cut at the snap length (original length above it).
    while let Some(p) = reader.next_raw_packet() {
        let p = p.expect("a whole record");
        assert!(p.ts_frac < 1_000_000_000, "nanoseconds, under a second");
        let ts_ns = u64::from(p.ts_sec) * 1_000_000_000 + u64::from(p.ts_frac);
        out.push(Frame { ts_ns, port: 0, dir: Direction::Rx, orig_len: p.orig_len, data: p.data.into_owned() });
    }
    out
}

fn read_pcapng(bytes: &[u8], ports: &[String]) -> Vec<Frame> {
    let mut reader = PcapNgReader::new(bytes).expect("a section header");
    let mut out = Vec::new();
    while let Some(block) = reader.next_block() {
        let Block::EnhancedPacket(p) = block.expect("a whole block") else { continue };
        // The direction bits of `epb_flags`: 10 is outbound.
        let outbound = p.options.contains(&EnhancedPacketOption::Flags(0b10));
        out.push(Frame {
            ts_ns: p.timestamp.as_nanos() as u64,
            port: p.interface_id as u16,
            dir: if outbound { Direction::Tx } else { Direction::Rx },
            orig_len: p.original_len,
            data: p.data.into_owned(),
        });
    }
    assert_eq!(reader.interfaces().len(), ports.len(), "an interface per port");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

        #[test]
        fn any_packets_are_captured_and_written_as_they_were(input in proptest::collection::vec(any::<u8>(), 0..400)) {
            capture_any_packets(&input);
        }
    }

    #[test]
    fn a_plan_that_cuts_chains_drains_often_and_fills_the_slots_holds_too() {
        // pcapng, 2 slots, snaplen 14 + 100, limit 30, 64-byte buffers, 4 ports, drain every 3 packets.
        let mut input = vec![0, 0, 100, 0, 29, 0, 3, 3];
        for i in 0..40u8 {
            input.extend([i.wrapping_mul(37), i % 3, i, i]);
        }
        capture_any_packets(&input);
    }
}
