//! Receive-side scaling: the flow hash that picks the rx queue a frame goes to when the receiving interface
//! has `rss` on.
//!
//! The hash is Toeplitz with Microsoft's default 40-byte key, as NICs compute it, over the IPv4 source and
//! destination addresses followed, for TCP and UDP (first fragments and unfragmented datagrams only), by
//! the source and destination ports; behind at most one 802.1Q tag. Frames that are not IPv4 hash their
//! destination and source MACs the same way, so every frame of a flow lands on one queue. The hash is
//! table-driven (one 256-entry table per input byte, built at compile time): at most 12 loads per frame.
//! The queue is `hash * queues >> 32` (a multiply, not a division).
//!
//! The sender steers (it is the one that writes into the peer's rings): `cross_burst` and `cross_queues`
//! run each packet through the tx work of `super::shaper` and into the lane of its flow, one ring per (tx
//! queue, peer rx queue) pair, so every ring keeps one producer and one consumer. Packets of one flow from
//! one tx queue keep their order: they share a lane, and a packet whose lane is full stops the pass (retry
//! policy) before any packet behind it is taken.

use super::config::QUEUES_MAX;
use super::link::TxSide;
use super::shaper::Shaper;
use super::tx::Pass;
use arrayvec::ArrayVec;
use pktloop_engine::port::PacketBurst;
use pktloop_engine::Packet;
use std::collections::VecDeque;

/// Microsoft's default RSS key (also DPDK's and most NICs' default).
pub const DEFAULT_KEY: [u8; 40] = [
    0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3, 0x8f, 0xb0, 0xd0, 0xca, 0x2b,
    0xcb, 0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3, 0x80, 0x30, 0xf2, 0x0c, 0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac,
    0x01, 0xfa,
];

/// Most input bytes hashed: two IPv4 addresses and two ports, or two MACs.
const INPUT_MAX: usize = 12;

/// `TABLES[i][b]`: the Toeplitz contribution of byte value `b` at input position `i`.
static TABLES: [[u32; 256]; INPUT_MAX] = tables(&DEFAULT_KEY);

/// The 32 key bits starting at bit `bit` (most significant first).
const fn key_window(key: &[u8; 40], bit: usize) -> u32 {
    let byte = bit / 8;
    let word = ((key[byte] as u64) << 32)
        | ((key[byte + 1] as u64) << 24)
        | ((key[byte + 2] as u64) << 16)
        | ((key[byte + 3] as u64) << 8)
        | (key[byte + 4] as u64);
    (word >> (8 - bit % 8)) as u32
}

const fn tables(key: &[u8; 40]) -> [[u32; 256]; INPUT_MAX] {
    let mut t = [[0u32; 256]; INPUT_MAX];
    let mut pos = 0;
    while pos < INPUT_MAX {
        let mut value = 0;
        while value < 256 {
            let mut h = 0u32;
            let mut bit = 0;
            while bit < 8 {
                if value & (0x80 >> bit) != 0 {
                    h ^= key_window(key, pos * 8 + bit);
                }
                bit += 1;
            }
            t[pos][value] = h;
            value += 1;
        }
        pos += 1;
    }
    t
}

/// Toeplitz hash of `input` (at most 12 bytes) with the default key.
#[inline]
pub fn toeplitz(input: &[u8]) -> u32 {
    debug_assert!(input.len() <= INPUT_MAX);
    input.iter().zip(&TABLES).fold(0, |h, (&b, t)| h ^ t[usize::from(b)])
}

const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_VLAN: u16 = 0x8100;
const IPPROTO_TCP: u8 = 6;
const IPPROTO_UDP: u8 = 17;

/// The flow hash of an Ethernet frame (see the module docs). Never panics: a short or odd frame hashes
/// what it has (its MACs, or nothing: 0).
#[inline]
pub fn flow_hash(frame: &[u8]) -> u32 {
    let be16 = |at: usize| frame.get(at..at + 2).map(|b| u16::from_be_bytes([b[0], b[1]]));
    let mut l3 = 14;
    let mut ethertype = be16(12);
    if ethertype == Some(ETHERTYPE_VLAN) {
        l3 = 18;
        ethertype = be16(16);
    }
    if ethertype == Some(ETHERTYPE_IPV4) {
        if let Some(h) = ipv4_hash(frame.get(l3..).unwrap_or_default()) {
            return h;
        }
    }
    toeplitz(frame.get(..12).unwrap_or_default())
}

/// Addresses and, for an unfragmented (or first-fragment) TCP or UDP datagram, ports; None if the IPv4
/// header is not all there.
fn ipv4_hash(ip: &[u8]) -> Option<u32> {
    let ihl = usize::from(*ip.first()? & 0x0f) * 4;
    if ihl < 20 || ip.len() < ihl {
        return None;
    }
    let mut input = [0u8; INPUT_MAX];
    input[..8].copy_from_slice(&ip[12..20]);
    let fragment_offset = u16::from_be_bytes([ip[6], ip[7]]) & 0x1fff;
    let transport = matches!(ip[9], IPPROTO_TCP | IPPROTO_UDP) && fragment_offset == 0;
    match ip.get(ihl..ihl + 4).filter(|_| transport) {
        Some(ports) => {
            input[8..].copy_from_slice(ports);
            Some(toeplitz(&input))
        }
        None => Some(toeplitz(&input[..8])),
    }
}

/// The flow hash of `p`'s headers (in its first buflet).
#[inline]
pub fn packet_hash(p: &Packet) -> u32 {
    flow_hash(p.data())
}

/// Which of `queues` queues a hash picks: `hash * queues / 2^32`, spread as evenly as the hash is.
#[inline]
pub fn queue_of(hash: u32, queues: usize) -> usize {
    ((u64::from(hash) * queues as u64) >> 32) as usize
}

/// Packets staged per lane before one ring push.
const STAGE: usize = 32;

/// One steered pass's state: per lane, the ring slots known free and not yet promised, and the packets
/// staged for one burst push (so a lane's consumer index is looked at only when its known room runs out,
/// and its producer index is published once per stage, not per packet).
struct Lanes {
    room: [usize; QUEUES_MAX],
    stage: [ArrayVec<Packet, STAGE>; QUEUES_MAX],
}

impl Lanes {
    fn new() -> Lanes {
        Lanes { room: [0; QUEUES_MAX], stage: std::array::from_fn(|_| ArrayVec::new()) }
    }

    /// One packet: its lane's slot, the tx work, its hash in the metadata, staged. Hands the packet back
    /// when its lane is full and the policy is to retry.
    #[inline]
    fn step(&mut self, shaper: &mut Shaper, tx: &mut TxSide, p: Packet, pass: &mut Pass) -> Option<Packet> {
        let hash = packet_hash(&p);
        let lane = queue_of(hash, tx.lanes()).min(QUEUES_MAX - 1);
        if !self.reserve(tx, lane) {
            return shaper.lane_full(p, pass);
        }
        match shaper.process(p, &tx.peer, pass) {
            Some(mut d) => {
                d.meta_mut().rss_hash = hash;
                self.put(tx, lane, d);
            }
            // Dropped on the way: its slot is free again.
            None => self.room[lane] += 1,
        }
        None
    }

    /// Promises a slot of `lane`'s ring, looking at the consumer's position only when the room last seen
    /// is used up (after pushing what is staged, so the room then seen is all free). False when full.
    #[inline]
    fn reserve(&mut self, tx: &mut TxSide, lane: usize) -> bool {
        if self.room[lane] == 0 {
            self.flush(tx, lane);
            self.room[lane] = tx.lane(lane).producer.slots_for(STAGE);
            if self.room[lane] == 0 {
                return false;
            }
        }
        self.room[lane] -= 1;
        true
    }

    #[inline]
    fn put(&mut self, tx: &mut TxSide, lane: usize, p: Packet) {
        if self.stage[lane].is_full() {
            self.flush(tx, lane);
        }
        self.stage[lane].push(p);
    }

    fn flush(&mut self, tx: &mut TxSide, lane: usize) {
        let stage = &mut self.stage[lane];
        if !stage.is_empty() {
            let pushed = tx.lane(lane).producer.push_burst(stage);
            debug_assert!(stage.is_empty(), "slots were promised for {pushed} packets");
        }
    }

    /// Pushes every lane's stage: the pass is over.
    fn finish(mut self, tx: &mut TxSide) {
        for lane in 0..tx.lanes().min(QUEUES_MAX) {
            self.flush(tx, lane);
        }
    }
}

impl Drop for Lanes {
    fn drop(&mut self) {
        let staged = self.stage.iter().any(|s| !s.is_empty());
        debug_assert!(!staged || std::thread::panicking(), "a steered pass ended with packets staged");
    }
}

/// Steers packets from the front of `pkts` into `tx`'s lanes. What stays (retry policy: from the first
/// packet whose lane is full on) stays in `pkts`, in order.
pub(crate) fn cross_burst(shaper: &mut Shaper, tx: &mut TxSide, pkts: &mut PacketBurst, pass: &mut Pass) {
    let mut lanes = Lanes::new();
    let mut left = PacketBurst::new();
    {
        let mut it = pkts.drain(..);
        while let Some(p) = it.next() {
            if let Some(kept) = lanes.step(shaper, tx, p, pass) {
                left.push(kept);
                left.extend(it);
                break;
            }
        }
    }
    lanes.finish(tx);
    pkts.extend(left);
}

/// Steers packets from the local tx rings (VO first in WMM mode) into `tx`'s lanes; a ring stops at its
/// first packet whose lane is full (retry policy), the next ring goes on. Returns how many were taken
/// (sent or dropped).
pub(crate) fn cross_queues(
    shaper: &mut Shaper,
    tx: &mut TxSide,
    queues: &mut [VecDeque<Packet>],
    pass: &mut Pass,
) -> usize {
    let mut lanes = Lanes::new();
    let mut taken = 0;
    for q in queues {
        while let Some(p) = q.pop_front() {
            if let Some(kept) = lanes.step(shaper, tx, p, pass) {
                q.push_front(kept);
                break;
            }
            taken += 1;
        }
    }
    lanes.finish(tx);
    taken
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A frame of `ethertype` whose IPv4 header (if any) carries `src`, `dst`, `proto` and ports.
    fn frame(src: [u8; 4], dst: [u8; 4], proto: u8, sport: u16, dport: u16) -> Vec<u8> {
        let mut f = vec![0u8; 14 + 20 + 8];
        f[..6].copy_from_slice(&[2, 0, 0, 0, 0, 1]);
        f[6..12].copy_from_slice(&[2, 0, 0, 0, 0, 2]);
        f[12..14].copy_from_slice(&ETHERTYPE_IPV4.to_be_bytes());
        f[14] = 0x45;
        f[14 + 9] = proto;
        f[14 + 12..14 + 16].copy_from_slice(&src);
        f[14 + 16..14 + 20].copy_from_slice(&dst);
        f[34..36].copy_from_slice(&sport.to_be_bytes());
        f[36..38].copy_from_slice(&dport.to_be_bytes());
        f
    }

    /// Microsoft's "Verifying the RSS hash calculation" vectors (IPv4, with and without TCP ports).
    #[test]
    fn matches_microsofts_verification_vectors() {
        let cases = [
            ([66, 9, 149, 187], 2794, [161, 142, 100, 80], 1766, 0x323e8fc2, 0x51ccc178),
            ([199, 92, 111, 2], 14230, [65, 69, 140, 83], 4739, 0xd718262a, 0xc626b0ea),
            ([24, 19, 198, 95], 12898, [12, 22, 207, 184], 38024, 0xd2d0a5de, 0x5c2b394a),
            ([38, 27, 205, 30], 48228, [209, 142, 163, 6], 2217, 0x82989176, 0xafc7327f),
            ([153, 39, 163, 191], 44251, [202, 188, 127, 2], 1303, 0x5d1809c5, 0x10e828a2),
        ];
        for (src, sport, dst, dport, addrs, with_ports) in cases {
            assert_eq!(flow_hash(&frame(src, dst, IPPROTO_TCP, sport, dport)), with_ports, "{src:?}");
            assert_eq!(flow_hash(&frame(src, dst, 1, sport, dport)), addrs, "{src:?} icmp: addresses only");
        }
    }

    #[test]
    fn vlan_fragments_and_odd_frames() {
        let plain = frame([10, 0, 0, 1], [10, 0, 0, 2], IPPROTO_UDP, 1000, 2000);
        let mut tagged = plain[..12].to_vec();
        tagged.extend_from_slice(&[0x81, 0x00, 0x00, 0x05]);
        tagged.extend_from_slice(&plain[12..]);
        assert_eq!(flow_hash(&tagged), flow_hash(&plain), "the tag is skipped");
        let mut later = plain.clone();
        later[14 + 7] = 1; // fragment offset 8: no ports in this one
        let addrs = flow_hash(&frame([10, 0, 0, 1], [10, 0, 0, 2], 1, 0, 0));
        assert_eq!(flow_hash(&later), addrs);
        let mut arp = plain.clone();
        arp[12..14].copy_from_slice(&[0x08, 0x06]);
        assert_eq!(flow_hash(&arp), toeplitz(&plain[..12]), "not IPv4: the MACs");
        let mut bad_ihl = plain.clone();
        bad_ihl[14] = 0x44;
        assert_eq!(flow_hash(&bad_ihl), toeplitz(&plain[..12]));
        for n in 0..plain.len() {
            flow_hash(&plain[..n]); // never panics
        }
        assert_eq!(flow_hash(&[]), 0);
    }

    #[test]
    fn queue_of_covers_every_queue_evenly() {
        for queues in 1..=8 {
            let mut seen = vec![0u32; queues];
            for i in 0..4096u32 {
                seen[queue_of(i.wrapping_mul(0x9e37_79b9), queues)] += 1;
            }
            assert!(seen.iter().all(|&n| n.abs_diff(4096 / queues as u32) < 64), "{queues}: {seen:?}");
        }
        assert_eq!(queue_of(u32::MAX, 8), 7);
    }
}
