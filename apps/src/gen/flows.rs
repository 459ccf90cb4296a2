//! The flows a generator sends: source and destination MAC, IPv4 address and UDP port, each one value or a
//! range (`--src-ip 198.18.1.0-198.18.1.255`), combined like an odometer (source port turns fastest, then
//! source IP, destination port, destination IP, source MAC, destination MAC), taken in sequence or at
//! random. Flow `k` is always the same tuple, so a receiver or a hash can tell the flows apart.

use crate::frame::{ETH_LEN, UDP_PAYLOAD};
use pktloop_engine::wire::{ipv4, EthernetFrame, Ipv4Packet, UdpPacket};
use std::net::Ipv4Addr;

/// One header field: `lo` and the `span` values `lo..lo + span` it takes (span 1: fixed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldRange {
    /// First value.
    pub lo: u64,
    /// How many values.
    pub span: u64,
}

impl FieldRange {
    /// One value.
    pub fn one(v: u64) -> FieldRange {
        FieldRange { lo: v, span: 1 }
    }

    /// Parses `V` or `V1-V2` with `value` parsing one end.
    ///
    /// # Errors
    /// An end `value` refuses, or an empty range.
    pub fn parse(text: &str, value: impl Fn(&str) -> Option<u64>) -> Result<FieldRange, String> {
        // One value first: a MAC written with dashes (02-00-00-00-00-01) is not a range.
        if let Some(v) = value(text.trim()) {
            return Ok(FieldRange::one(v));
        }
        let end = |s: &str| value(s.trim()).ok_or_else(|| format!("`{}` is not a valid value", s.trim()));
        let (lo, hi) = match text.split_once('-') {
            Some((a, b)) => (end(a)?, end(b)?),
            None => (end(text)?, end(text)?),
        };
        if lo > hi {
            return Err(format!("the range {text} is empty"));
        }
        Ok(FieldRange { lo, span: hi - lo + 1 })
    }
}

/// Parses a MAC address (`02:00:00:00:00:01`, or with dashes) as a 48-bit number.
pub fn mac_value(s: &str) -> Option<u64> {
    let dashed = !s.contains(':');
    let parts: Vec<&str> = s.split(if dashed { '-' } else { ':' }).collect();
    if parts.len() != 6 {
        return None;
    }
    parts.iter().try_fold(0u64, |acc, p| {
        (p.len() == 2).then(|| u8::from_str_radix(p, 16).ok()).flatten().map(|b| acc << 8 | u64::from(b))
    })
}

/// Parses an IPv4 address as a number.
pub fn ip_value(s: &str) -> Option<u64> {
    s.parse::<Ipv4Addr>().ok().map(|a| u64::from(u32::from(a)))
}

/// Parses a UDP port.
pub fn port_value(s: &str) -> Option<u64> {
    s.parse::<u16>().ok().map(u64::from)
}

/// The six fields, in odometer order (fastest first).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlowSpec {
    /// UDP source port.
    pub src_port: FieldRange,
    /// IPv4 source.
    pub src_ip: FieldRange,
    /// UDP destination port.
    pub dst_port: FieldRange,
    /// IPv4 destination.
    pub dst_ip: FieldRange,
    /// Ethernet source.
    pub src_mac: FieldRange,
    /// Ethernet destination.
    pub dst_mac: FieldRange,
}

/// One flow's header values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Tuple {
    /// Ethernet source.
    pub src_mac: [u8; 6],
    /// Ethernet destination.
    pub dst_mac: [u8; 6],
    /// IPv4 source.
    pub src_ip: [u8; 4],
    /// IPv4 destination.
    pub dst_ip: [u8; 4],
    /// UDP source port.
    pub src_port: u16,
    /// UDP destination port.
    pub dst_port: u16,
}

impl FlowSpec {
    fn fields(&self) -> [FieldRange; 6] {
        [self.src_port, self.src_ip, self.dst_port, self.dst_ip, self.src_mac, self.dst_mac]
    }

    /// Flow `k`'s tuple (`k` below the count of distinct tuples the ranges give).
    pub fn tuple(&self, mut k: u64) -> Tuple {
        let mut v = [0u64; 6];
        for (out, f) in v.iter_mut().zip(self.fields()) {
            // Fixed fields (the usual case) cost no division.
            *out = if f.span == 1 { f.lo } else { f.lo + k % f.span };
            if f.span > 1 {
                k /= f.span;
            }
        }
        let mac = |x: u64| {
            let b = x.to_be_bytes();
            [b[2], b[3], b[4], b[5], b[6], b[7]]
        };
        Tuple {
            src_port: v[0] as u16,
            src_ip: (v[1] as u32).to_be_bytes(),
            dst_port: v[2] as u16,
            dst_ip: (v[3] as u32).to_be_bytes(),
            src_mac: mac(v[4]),
            dst_mac: mac(v[5]),
        }
    }
}

/// In which order flows are sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlowOrder {
    /// 0, 1, 2, ... and around.
    Sequential,
    /// Uniformly at random (seeded, so runs repeat).
    Random,
}

impl FlowOrder {
    /// As `--flow-order` spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            FlowOrder::Sequential => "sequential",
            FlowOrder::Random => "random",
        }
    }
}

/// Hands out the flow of each frame a generator makes.
#[derive(Debug, Clone)]
pub struct FlowCursor {
    spec: FlowSpec,
    count: u64,
    next: u64,
    order: FlowOrder,
    rng: fastrand::Rng,
}

impl FlowCursor {
    /// A cursor over the first `count` flows of `spec`.
    pub fn new(spec: FlowSpec, count: u64, order: FlowOrder, seed: u64) -> FlowCursor {
        FlowCursor { spec, count: count.max(1), next: 0, order, rng: fastrand::Rng::with_seed(seed) }
    }

    /// Whether every frame is the same flow (headers need no per-frame rewrite).
    pub fn is_single(&self) -> bool {
        self.count == 1
    }

    /// The next frame's flow.
    #[inline]
    pub fn next_tuple(&mut self) -> Tuple {
        let k = match self.order {
            FlowOrder::Sequential => {
                let k = self.next;
                self.next = if k + 1 == self.count { 0 } else { k + 1 };
                k
            }
            FlowOrder::Random => self.rng.u64(..self.count),
        };
        self.spec.tuple(k)
    }
}

/// Writes `t` and the lengths of a `len`-byte frame into a UDP test frame's headers `hdr`, with the IPv4
/// checksum recomputed (the UDP checksum stays 0: none, as IPv4 allows and DPDK's txonly sends).
#[inline]
pub fn write_header(hdr: &mut [u8; UDP_PAYLOAD], t: &Tuple, len: usize) {
    let mut eth = EthernetFrame::new_unchecked(&mut hdr[..]);
    eth.set_dst_addr(t.dst_mac.into());
    eth.set_src_addr(t.src_mac.into());
    let (ip, udp) = hdr[ETH_LEN..].split_at_mut(ipv4::HEADER_LEN);
    let mut ip = Ipv4Packet::new_unchecked(ip);
    ip.set_src_addr(t.src_ip.into());
    ip.set_dst_addr(t.dst_ip.into());
    ip.set_total_len((len - ETH_LEN) as u16);
    ip.fill_checksum();
    let mut udp = UdpPacket::new_unchecked(udp);
    udp.set_src_port(t.src_port);
    udp.set_dst_port(t.dst_port);
    udp.set_len((len - ETH_LEN - ipv4::HEADER_LEN) as u16);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame;

    fn spec() -> FlowSpec {
        FlowSpec {
            src_port: FieldRange::parse("1000-1001", port_value).unwrap(),
            src_ip: FieldRange::parse("198.18.1.254-198.18.2.1", ip_value).unwrap(),
            dst_port: FieldRange::one(9),
            dst_ip: FieldRange::one(ip_value("198.18.0.2").unwrap()),
            src_mac: FieldRange::one(mac_value("02:00:00:00:00:01").unwrap()),
            dst_mac: FieldRange::parse("02:00:00:00:00:fe-02:00:00:00:01:00", mac_value).unwrap(),
        }
    }

    #[test]
    fn ranges_parse_and_combine_like_an_odometer() {
        let s = spec();
        assert_eq!(s.tuple(0).src_port, 1000);
        assert_eq!(s.tuple(1).src_port, 1001);
        assert_eq!((s.tuple(2).src_port, s.tuple(2).src_ip), (1000, [198, 18, 1, 255]));
        assert_eq!(s.tuple(4).src_ip, [198, 18, 2, 0], "carries across the octet");
        assert_eq!(s.tuple(8).dst_mac, [2, 0, 0, 0, 0, 0xff]);
        assert_eq!(s.tuple(16).dst_mac, [2, 0, 0, 0, 1, 0]);
        let all: std::collections::HashSet<_> = (0..24).map(|k| s.tuple(k)).collect();
        assert_eq!(all.len(), 24);
        for bad in ["1.2.3.4-1.2.3.3", "1.2.3", "x-1.2.3.4"] {
            assert!(FieldRange::parse(bad, ip_value).is_err(), "{bad}");
        }
        assert!(FieldRange::parse("02:00:00:00:00:1", mac_value).is_err());
        let dashed = FieldRange::parse("02-00-00-00-00-fe", mac_value);
        assert_eq!(dashed, Ok(FieldRange::one(0x0200_0000_00fe)), "a MAC written with dashes is one value");
        assert!(FieldRange::parse("02-00-00:00:00:fe", mac_value).is_err(), "not both separators");
        assert!(FieldRange::parse("65536", port_value).is_err());
    }

    #[test]
    fn random_order_stays_within_the_count_and_reaches_every_flow() {
        let mut c = FlowCursor::new(spec(), 5, FlowOrder::Random, 3);
        let seen: std::collections::HashSet<_> = (0..500).map(|_| c.next_tuple()).collect();
        assert_eq!(seen, (0..5).map(|k| spec().tuple(k)).collect());
        let mut c = FlowCursor::new(spec(), 3, FlowOrder::Sequential, 3);
        let order: Vec<_> = (0..4).map(|_| c.next_tuple().src_ip[3]).collect();
        assert_eq!(order, [254, 254, 255, 254]);
    }

    #[test]
    fn written_headers_parse_back_with_a_valid_checksum() {
        let mut f = frame::udp_frame([1; 6], [2; 6], 200);
        let mut hdr = [0u8; UDP_PAYLOAD];
        hdr.copy_from_slice(&f[..UDP_PAYLOAD]);
        let t = spec().tuple(7);
        write_header(&mut hdr, &t, 100);
        f.truncate(100);
        f[..UDP_PAYLOAD].copy_from_slice(&hdr);
        let eth = EthernetFrame::new_checked(&f[..]).unwrap();
        assert_eq!(eth.src_addr().0, t.src_mac);
        let ip = Ipv4Packet::new_checked(eth.payload()).unwrap();
        assert!(ip.verify_checksum());
        assert_eq!((ip.src_addr().octets(), ip.total_len()), (t.src_ip, 86));
        let udp = UdpPacket::new_checked(ip.payload()).unwrap();
        assert_eq!((udp.src_port(), udp.len()), (t.src_port, 66));
    }
}
