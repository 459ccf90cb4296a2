//! Makes a generator's frames: UDP test frames whose length comes from a [`SizeSource`] and whose
//! addresses come from a [`FlowCursor`], written straight into fresh pool buffers.

use super::flows::{write_header, FlowCursor, Tuple};
use super::sizes::SizeSource;
use crate::frame::UDP_PAYLOAD;
use pktloop_engine::port::PacketBurst;
use pktloop_engine::Pool;

/// A UDP test frame of `len` bytes (payload bytes counting up) carrying flow `t`'s addresses and ports.
pub fn test_frame(t: &Tuple, len: usize) -> Vec<u8> {
    let mut f = crate::frame::udp_frame(t.src_mac, t.dst_mac, len);
    let mut hdr = [0u8; UDP_PAYLOAD];
    hdr.copy_from_slice(&f[..UDP_PAYLOAD]);
    write_header(&mut hdr, t, f.len());
    f[..UDP_PAYLOAD].copy_from_slice(&hdr);
    f
}

/// One generator's frame factory (made at setup; [`FrameMaker::fill`] never allocates memory).
#[derive(Debug, Clone)]
pub struct FrameMaker {
    /// The longest frame, payload bytes counting up: what slow fills copy from.
    template: Vec<u8>,
    sizes: SizeSource,
    flows: FlowCursor,
    /// One length and one flow: the template's own headers go out unchanged.
    plain: bool,
}

impl FrameMaker {
    /// A maker of frames like `template` (at least as long as the longest size; its headers are what
    /// one-length one-flow frames carry, so they must be the first flow's: see [`test_frame`]).
    pub fn new(template: Vec<u8>, sizes: SizeSource, flows: FlowCursor) -> FrameMaker {
        let plain = flows.is_single() && matches!(&sizes, SizeSource::Cycle { table, .. } if table.len() == 1);
        FrameMaker { template, sizes, flows, plain }
    }

    /// Appends `n` fresh frames to `out` and returns their bytes; None (counted by the pool) when it
    /// cannot supply them all, and nothing is appended then.
    #[inline]
    pub fn fill(&mut self, pool: &Pool, out: &mut PacketBurst, n: usize) -> Option<u64> {
        let len = self.template.len();
        // Fresh buffers that hold the longest frame are grown and get only the headers written, as DPDK's
        // txonly does (the payload is whatever the buffer held); otherwise the whole frame is copied.
        let fast = (pool.buf_size() - pool.headroom()) as usize >= len;
        if fast && self.plain && len < usize::from(u16::MAX) {
            // One length, one flow (txonly's path): the template's headers into each buffer of one bulk
            // allocation, with no call per frame (a frame of 65535 bytes or more has its length in a
            // descriptor: the general path below).
            return pool.alloc_headed(out, n, len, &self.template[..UDP_PAYLOAD]).then_some((len * n) as u64);
        }
        let start = out.len();
        if !pool.alloc_bulk(out, n) {
            return None;
        }
        // The headers' line of each new buffer, last read by the receiving core, and when the longest frame
        // chains buflets the descriptor it writes: fetched owned, together, rather than each write waiting
        // for its own.
        pktloop_engine::Packet::prefetch_appends(&out[start..], len);
        let made = self.fill_each(&mut out[start..], fast);
        if made.is_none() {
            // No room for the frame (a multi-buflet frame larger than the pool allows): give the whole burst
            // back rather than send short frames.
            out.truncate(start);
        }
        made
    }

    /// Each frame its own length and flow.
    #[inline]
    fn fill_each(&mut self, pkts: &mut [pktloop_engine::Packet], fast: bool) -> Option<u64> {
        let mut hdr = [0u8; UDP_PAYLOAD];
        hdr.copy_from_slice(&self.template[..UDP_PAYLOAD]);
        let mut bytes = 0u64;
        for p in pkts.iter_mut() {
            let len = self.sizes.next_len();
            if !self.plain {
                write_header(&mut hdr, &self.flows.next_tuple(), len);
            }
            let ok = if fast {
                p.extend(len).is_ok() && p.write(0, &hdr).is_ok()
            } else {
                p.append(&self.template[..len]).is_ok() && p.write(0, &hdr).is_ok()
            };
            if !ok {
                return None;
            }
            bytes += len as u64;
        }
        Some(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame;
    use crate::gen::flows::{FieldRange, FlowOrder, FlowSpec};
    use crate::gen::sizes::SizeSpec;
    use pktloop_engine::mem::Prefer;
    use pktloop_engine::pool::PoolConfig;
    use pktloop_engine::wire::{EthernetFrame, Ipv4Packet};

    fn flows(n: u64) -> FlowCursor {
        let one = FieldRange::one;
        let spec = FlowSpec {
            src_port: FieldRange { lo: 1000, span: n },
            src_ip: one(0xc612_0001),
            dst_port: one(9),
            dst_ip: one(0xc612_0002),
            src_mac: one(1),
            dst_mac: one(2),
        };
        FlowCursor::new(spec, n, FlowOrder::Sequential, 1)
    }

    #[test]
    fn frames_get_their_lengths_and_flows_with_valid_headers_fast_or_copied() {
        // 2048-byte buffers take the fast fill, 512-byte ones chain copies.
        for buf_size in [2048u32, 512] {
            let cfg = PoolConfig { max_buflets: 4, prefer: Prefer::Normal, ..PoolConfig::new("t", 64, buf_size) };
            let pool = Pool::new(cfg).unwrap();
            let sizes = SizeSpec::parse("60:1,1000:1").unwrap().source(1);
            let mut m = FrameMaker::new(frame::udp_frame([1; 6], [2; 6], 1000), sizes, flows(3));
            let mut out = PacketBurst::new();
            assert_eq!(m.fill(&pool, &mut out, 8), Some(4 * 60 + 4 * 1000));
            let lens: Vec<usize> = out.iter().map(|p| p.len()).collect();
            assert_eq!(lens.iter().filter(|l| **l == 60).count(), 4, "{lens:?}");
            for p in &out {
                let bytes = p.to_vec();
                let ip = Ipv4Packet::new_checked(EthernetFrame::new_checked(&bytes[..]).unwrap().payload()).unwrap();
                assert!(ip.verify_checksum());
                assert_eq!(usize::from(ip.total_len()), p.len() - 14);
            }
            let ports: Vec<u8> = out.iter().map(|p| p.data()[35]).collect();
            assert_eq!(ports[..4], [0xe8, 0xe9, 0xea, 0xe8], "source ports 1000, 1001, 1002, 1000");
        }
    }

    #[test]
    fn one_length_one_flow_frames_are_the_templates_headers_at_that_length() {
        let cfg = PoolConfig { prefer: Prefer::Normal, ..PoolConfig::new("t", 8, 2048) };
        let pool = Pool::new(cfg).unwrap();
        let template = test_frame(&flows(1).next_tuple(), 64);
        let mut m = FrameMaker::new(template.clone(), SizeSpec::parse("64").unwrap().source(1), flows(1));
        let mut out = PacketBurst::new();
        assert_eq!(m.fill(&pool, &mut out, 5), Some(5 * 64));
        for p in &out {
            assert_eq!(p.len(), 64);
            assert_eq!(&p.data()[..UDP_PAYLOAD], &template[..UDP_PAYLOAD], "the template's headers");
            let bytes = p.to_vec();
            let ip = Ipv4Packet::new_checked(EthernetFrame::new_checked(&bytes[..]).unwrap().payload()).unwrap();
            assert!(ip.verify_checksum());
        }
        assert_eq!(m.fill(&pool, &mut out, 4), None, "three buffers left");
        assert_eq!((out.len(), pool.stats().alloc_failures), (5, 1), "nothing appended, counted");
    }

    #[test]
    fn a_frame_whose_length_a_handle_cannot_say_takes_the_general_path() {
        let cfg = PoolConfig { prefer: Prefer::Normal, ..PoolConfig::new("t", 4, 1 << 17) };
        let pool = Pool::new(cfg).unwrap();
        let template = test_frame(&flows(1).next_tuple(), 65535);
        let mut m = FrameMaker::new(template.clone(), SizeSpec::parse("65535").unwrap().source(1), flows(1));
        let mut out = PacketBurst::new();
        assert_eq!(m.fill(&pool, &mut out, 2), Some(2 * 65535));
        assert!(out.iter().all(|p| p.len() == 65535 && p.data()[..UDP_PAYLOAD] == template[..UDP_PAYLOAD]));
    }
}
