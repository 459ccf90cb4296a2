//! Frames the tool builds and answers: UDP test frames (txonly, flowgen, io seeds), ARP and ICMP echo
//! (icmpecho). Builders run at setup; the per-packet edits work in place on the first buflet and never
//! allocate. Offsets are named constants, as smoltcp's `wire` module does; short frames are data, not panics.

/// Ethernet header length.
pub const ETH_LEN: usize = 14;
const ETHERTYPE: std::ops::Range<usize> = 12..14;
const ETHERTYPE_IPV4: [u8; 2] = [0x08, 0x00];
const ETHERTYPE_ARP: [u8; 2] = [0x08, 0x06];
const IP: usize = ETH_LEN;
const IP_LEN: usize = 20;
const IP_TOTAL_LEN: std::ops::Range<usize> = IP + 2..IP + 4;
const IP_PROTO: usize = IP + 9;
const IP_CSUM: std::ops::Range<usize> = IP + 10..IP + 12;
const IP_SRC: std::ops::Range<usize> = IP + 12..IP + 16;
const IP_DST: std::ops::Range<usize> = IP + 16..IP + 20;
const L4: usize = IP + IP_LEN;
const UDP_SPORT: std::ops::Range<usize> = L4..L4 + 2;
const UDP_LEN: std::ops::Range<usize> = L4 + 4..L4 + 6;
const ICMP_TYPE: usize = L4;
const ICMP_CSUM: std::ops::Range<usize> = L4 + 2..L4 + 4;
const ICMP_ID: std::ops::Range<usize> = L4 + 4..L4 + 6;
const ICMP_SEQ: std::ops::Range<usize> = L4 + 6..L4 + 8;
/// Bytes of headers in a UDP test frame; its payload starts here.
pub const UDP_PAYLOAD: usize = L4 + 8;
/// Bytes of headers in an ICMP echo frame.
pub const ICMP_PAYLOAD: usize = L4 + 8;
const ARP: usize = ETH_LEN;
const ARP_LEN: usize = 28;

/// Generator's IP (RFC 2544 benchmark range).
pub const IP_A: [u8; 4] = [198, 18, 0, 1];
/// Responder's IP.
pub const IP_B: [u8; 4] = [198, 18, 0, 2];
/// UDP port of test frames (discard).
pub const UDP_PORT: u16 = 9;
/// ICMP echo identifier the generator uses.
pub const ICMP_ID_VALUE: u16 = 0x706b; // "pk"

/// Broadcast MAC.
pub const BROADCAST: [u8; 6] = [0xff; 6];

fn fold(mut sum: u32) -> u16 {
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum as u16
}

/// Internet checksum of `bytes`.
pub fn checksum(bytes: &[u8]) -> u16 {
    let mut sum = 0u32;
    let mut chunks = bytes.chunks_exact(2);
    for c in &mut chunks {
        sum += u32::from(u16::from_be_bytes([c[0], c[1]]));
    }
    if let [last] = chunks.remainder() {
        sum += u32::from(*last) << 8;
    }
    !fold(sum)
}

/// RFC 1624 incremental update: the checksum after one 16-bit word changed from `old` to `new`.
pub fn checksum_update(csum: u16, old: u16, new: u16) -> u16 {
    !fold(u32::from(!csum) + u32::from(!old) + u32::from(new))
}

fn ipv4_header(f: &mut [u8], proto: u8, src: [u8; 4], dst: [u8; 4]) {
    let total = (f.len() - ETH_LEN) as u16;
    f[IP] = 0x45;
    f[IP_TOTAL_LEN].copy_from_slice(&total.to_be_bytes());
    f[IP + 8] = 64;
    f[IP_PROTO] = proto;
    f[IP_SRC].copy_from_slice(&src);
    f[IP_DST].copy_from_slice(&dst);
    let c = checksum(&f[IP..IP + IP_LEN]);
    f[IP_CSUM].copy_from_slice(&c.to_be_bytes());
}

/// A UDP/IPv4 test frame of `len` bytes (at least 60), payload bytes counting up.
pub fn udp_frame(src_mac: [u8; 6], dst_mac: [u8; 6], len: usize) -> Vec<u8> {
    let len = len.max(60);
    let mut f: Vec<u8> = (0..len).map(|i| i as u8).collect();
    f[0..6].copy_from_slice(&dst_mac);
    f[6..12].copy_from_slice(&src_mac);
    f[ETHERTYPE].copy_from_slice(&ETHERTYPE_IPV4);
    f[IP..UDP_PAYLOAD].fill(0);
    ipv4_header(&mut f, 17, IP_A, IP_B);
    f[UDP_SPORT].copy_from_slice(&UDP_PORT.to_be_bytes());
    f[L4 + 2..L4 + 4].copy_from_slice(&UDP_PORT.to_be_bytes());
    f[UDP_LEN].copy_from_slice(&((len - L4) as u16).to_be_bytes());
    f
}

/// Rewrites a UDP test frame's headers (`hdr`, the first [`UDP_PAYLOAD`] bytes) for flow `flow`: source IP
/// 198.18.(1 + flow / 256).(flow % 256) and UDP source port 1024 + flow, IP checksum recomputed.
#[inline]
pub fn flowgen_header(hdr: &mut [u8; UDP_PAYLOAD], flow: u16) {
    let [hi, lo] = flow.to_be_bytes();
    hdr[IP_SRC].copy_from_slice(&[198, 18, hi.wrapping_add(1), lo]);
    hdr[UDP_SPORT].copy_from_slice(&1024u16.wrapping_add(flow).to_be_bytes());
    hdr[IP_CSUM].fill(0);
    let c = checksum(&hdr[IP..IP + IP_LEN]);
    hdr[IP_CSUM].copy_from_slice(&c.to_be_bytes());
}

/// An ARP request (who has `target_ip`? tell `sender_ip`), broadcast, padded to 60 bytes.
pub fn arp_request(sender_mac: [u8; 6], sender_ip: [u8; 4], target_ip: [u8; 4]) -> Vec<u8> {
    let mut f = vec![0u8; 60];
    f[0..6].copy_from_slice(&BROADCAST);
    f[6..12].copy_from_slice(&sender_mac);
    f[ETHERTYPE].copy_from_slice(&ETHERTYPE_ARP);
    f[ARP..ARP + 8].copy_from_slice(&[0, 1, 8, 0, 6, 4, 0, 1]);
    f[ARP + 8..ARP + 14].copy_from_slice(&sender_mac);
    f[ARP + 14..ARP + 18].copy_from_slice(&sender_ip);
    f[ARP + 24..ARP + 28].copy_from_slice(&target_ip);
    f
}

/// An ICMP echo request of `len` bytes (at least 60) from A to B, sequence 0; see [`set_icmp_seq`].
pub fn icmp_echo_request(src_mac: [u8; 6], dst_mac: [u8; 6], len: usize) -> Vec<u8> {
    let len = len.max(60);
    let mut f: Vec<u8> = (0..len).map(|i| i as u8).collect();
    f[0..6].copy_from_slice(&dst_mac);
    f[6..12].copy_from_slice(&src_mac);
    f[ETHERTYPE].copy_from_slice(&ETHERTYPE_IPV4);
    f[IP..ICMP_PAYLOAD].fill(0);
    ipv4_header(&mut f, 1, IP_A, IP_B);
    f[ICMP_TYPE] = 8;
    f[ICMP_ID].copy_from_slice(&ICMP_ID_VALUE.to_be_bytes());
    let c = checksum(&f[L4..]);
    f[ICMP_CSUM].copy_from_slice(&c.to_be_bytes());
    f
}

/// Sets the sequence number of an echo request built by [`icmp_echo_request`] (whose sequence is 0),
/// updating the checksum incrementally. `hdr` is the frame's first [`ICMP_PAYLOAD`] bytes.
#[inline]
pub fn set_icmp_seq(hdr: &mut [u8], template_csum: u16, seq: u16) {
    hdr[ICMP_SEQ].copy_from_slice(&seq.to_be_bytes());
    let c = checksum_update(template_csum, 0, seq);
    hdr[ICMP_CSUM].copy_from_slice(&c.to_be_bytes());
}

/// The checksum field of an ICMP frame.
pub fn icmp_csum(f: &[u8]) -> u16 {
    u16::from_be_bytes([f[ICMP_CSUM.start], f[ICMP_CSUM.start + 1]])
}

/// Destination MAC := `dst`, source MAC := `src` (testpmd's mac mode).
#[inline]
pub fn set_macs(f: &mut [u8], src: [u8; 6], dst: [u8; 6]) -> bool {
    if f.len() < ETH_LEN {
        return false;
    }
    f[0..6].copy_from_slice(&dst);
    f[6..12].copy_from_slice(&src);
    true
}

/// Swaps source and destination MAC (testpmd's macswap mode).
#[inline]
pub fn swap_macs(f: &mut [u8]) -> bool {
    if f.len() < ETH_LEN {
        return false;
    }
    let (dst, rest) = f.split_at_mut(6);
    dst.swap_with_slice(&mut rest[..6]);
    true
}

/// What the icmpecho responder did with a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Echo {
    /// Turned into an ARP reply in place.
    ArpReply,
    /// Turned into an ICMP echo reply in place.
    IcmpReply,
    /// Not for us (other type, other address, or too short): to be freed and counted as ignored.
    Ignore,
}

/// The icmpecho responder: answers ARP requests for `my_ip` and ICMP echo requests to `my_ip`, in place.
#[inline]
pub fn echo_in_place(f: &mut [u8], my_mac: [u8; 6], my_ip: [u8; 4]) -> Echo {
    if f.len() < ETH_LEN + ARP_LEN {
        return Echo::Ignore;
    }
    let ethertype = [f[12], f[13]];
    if ethertype == ETHERTYPE_ARP {
        if f[ARP + 6..ARP + 8] != [0, 1] || f[ARP + 24..ARP + 28] != my_ip {
            return Echo::Ignore;
        }
        let mut sender = [0u8; 10];
        sender.copy_from_slice(&f[ARP + 8..ARP + 18]);
        f.copy_within(6..12, 0);
        f[6..12].copy_from_slice(&my_mac);
        f[ARP + 7] = 2;
        f[ARP + 8..ARP + 14].copy_from_slice(&my_mac);
        f[ARP + 14..ARP + 18].copy_from_slice(&my_ip);
        f[ARP + 18..ARP + 28].copy_from_slice(&sender);
        return Echo::ArpReply;
    }
    if ethertype != ETHERTYPE_IPV4 || f.len() < ICMP_PAYLOAD || f[IP] != 0x45 || f[IP_PROTO] != 1 {
        return Echo::Ignore;
    }
    if f[IP_DST] != my_ip || f[ICMP_TYPE] != 8 {
        return Echo::Ignore;
    }
    swap_macs(f);
    let mut src = [0u8; 4];
    src.copy_from_slice(&f[IP_SRC]);
    f.copy_within(IP_DST, IP_SRC.start);
    f[IP_DST].copy_from_slice(&src);
    f[ICMP_TYPE] = 0;
    let c = checksum_update(icmp_csum(f), 0x0800, 0x0000);
    f[ICMP_CSUM].copy_from_slice(&c.to_be_bytes());
    Echo::IcmpReply
}

/// What the icmpecho generator received.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply {
    /// An ARP reply from `ip`, giving its MAC.
    Arp([u8; 6]),
    /// An echo reply to our identifier.
    Echo,
    /// Anything else.
    Other,
}

/// Classifies a frame the icmpecho generator received.
#[inline]
pub fn classify_reply(f: &[u8], peer_ip: [u8; 4]) -> Reply {
    if f.len() >= ETH_LEN + ARP_LEN && f[ETHERTYPE] == ETHERTYPE_ARP {
        if f[ARP + 6..ARP + 8] == [0, 2] && f[ARP + 14..ARP + 18] == peer_ip {
            let mut mac = [0u8; 6];
            mac.copy_from_slice(&f[ARP + 8..ARP + 14]);
            return Reply::Arp(mac);
        }
        return Reply::Other;
    }
    if f.len() >= ICMP_PAYLOAD
        && f[ETHERTYPE] == ETHERTYPE_IPV4
        && f[IP_PROTO] == 1
        && f[ICMP_TYPE] == 0
        && f[ICMP_ID] == ICMP_ID_VALUE.to_be_bytes()
    {
        return Reply::Echo;
    }
    Reply::Other
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: [u8; 6] = [2, 0, 0, 0, 0, 1];
    const B: [u8; 6] = [2, 0, 0, 0, 0, 2];

    #[test]
    fn udp_frames_have_valid_ip_checksums_and_lengths() {
        let f = udp_frame(A, B, 64);
        assert_eq!(f.len(), 64);
        assert_eq!(checksum(&f[IP..IP + IP_LEN]), 0);
        assert_eq!(u16::from_be_bytes([f[UDP_LEN.start], f[UDP_LEN.start + 1]]), 64 - 34);
        let mut hdr = [0u8; UDP_PAYLOAD];
        hdr.copy_from_slice(&f[..UDP_PAYLOAD]);
        flowgen_header(&mut hdr, 300);
        assert_eq!(&hdr[IP_SRC], &[198, 18, 2, 44]);
        assert_eq!(checksum(&hdr[IP..IP + IP_LEN]), 0);
    }

    #[test]
    fn arp_and_echo_are_answered_and_recognised() {
        let mut arp = arp_request(A, IP_A, IP_B);
        assert_eq!(echo_in_place(&mut arp, B, IP_B), Echo::ArpReply);
        assert_eq!(classify_reply(&arp, IP_B), Reply::Arp(B));
        assert_eq!(&arp[0..6], &A);

        let mut ping = icmp_echo_request(A, B, 100);
        let csum = icmp_csum(&ping);
        set_icmp_seq(&mut ping, csum, 7);
        assert_eq!(checksum(&ping[L4..]), 0, "incremental seq update keeps the checksum valid");
        assert_eq!(echo_in_place(&mut ping, B, IP_B), Echo::IcmpReply);
        assert_eq!(checksum(&ping[L4..]), 0, "reply checksum valid");
        assert_eq!(checksum(&ping[IP..IP + IP_LEN]), 0);
        assert_eq!((&ping[0..6], &ping[IP_DST]), (&A[..], &IP_A[..]));
        assert_eq!(classify_reply(&ping, IP_B), Reply::Echo);

        let mut other = udp_frame(A, B, 60);
        assert_eq!(echo_in_place(&mut other, B, IP_B), Echo::Ignore);
        assert_eq!(echo_in_place(&mut [0u8; 10], B, IP_B), Echo::Ignore);
        assert_eq!(classify_reply(&[0u8; 3], IP_B), Reply::Other);
    }

    #[test]
    fn mac_edits() {
        let mut f = udp_frame(A, B, 60);
        assert!(swap_macs(&mut f));
        assert_eq!((&f[0..6], &f[6..12]), (&A[..], &B[..]));
        assert!(set_macs(&mut f, B, [9; 6]));
        assert_eq!((&f[0..6], &f[6..12]), (&[9u8; 6][..], &B[..]));
        assert!(!swap_macs(&mut [0u8; 5]));
    }
}
