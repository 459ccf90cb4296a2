//! Frames the tool builds and answers: UDP test frames (txonly, flowgen, io seeds), ARP and ICMP echo
//! (icmpecho). Builders run at setup; the per-packet edits work in place on the first buflet and never
//! allocate. The formats are [`pktloop_engine::wire`]'s checked views: what a frame declares is checked
//! before it is read, and short or lying frames are data (`false`, [`Echo::Ignore`], [`Reply::Other`]), not
//! panics.

use std::net::Ipv4Addr;

use pktloop_engine::wire::{
    ethernet, icmpv4, ipv4, udp, ArpOperation, ArpPacket, ArpRepr, EtherType, EthernetAddress, EthernetFrame,
    EthernetRepr, Icmpv4Message, Icmpv4Packet, Icmpv4Repr, IpProtocol, Ipv4Packet, Ipv4Repr, UdpPacket, UdpRepr,
};

// The internet checksum stays part of this module's API; outside tests the binary only uses the update.
#[allow(unused_imports)]
pub use pktloop_engine::wire::checksum::{checksum, update as checksum_update};

/// Ethernet header length.
pub const ETH_LEN: usize = ethernet::HEADER_LEN;
/// Where the IPv4 header starts in an untagged frame.
const IP: usize = ETH_LEN;
/// Where the UDP or ICMP header starts in the frames built here (IPv4 header without options).
const L4: usize = IP + ipv4::HEADER_LEN;
/// Bytes of headers in a UDP test frame; its payload starts here.
pub const UDP_PAYLOAD: usize = L4 + udp::HEADER_LEN;
/// Bytes of headers in an ICMP echo frame.
pub const ICMP_PAYLOAD: usize = L4 + icmpv4::HEADER_LEN;
/// Shortest frame built (Ethernet's minimum without FCS).
const MIN_FRAME: usize = 60;
/// Longest frame built: an IPv4 total length of 65535.
const MAX_FRAME: usize = ETH_LEN + u16::MAX as usize;
/// TTL of the packets built here.
const TTL: u8 = 64;

/// Generator's IP (RFC 2544 benchmark range).
pub const IP_A: [u8; 4] = [198, 18, 0, 1];
/// Responder's IP.
pub const IP_B: [u8; 4] = [198, 18, 0, 2];
/// UDP port of test frames (discard).
pub const UDP_PORT: u16 = 9;
/// ICMP echo identifier the generator uses.
pub const ICMP_ID_VALUE: u16 = 0x706b; // "pk"

/// Broadcast MAC.
pub const BROADCAST: [u8; 6] = EthernetAddress::BROADCAST.0;

/// A frame of `len` bytes whose bytes count up (byte `i` is `i as u8`), with an Ethernet header for IPv4 and
/// a 20-byte IPv4 header for `protocol` from A to B, covering the rest of the frame.
fn ipv4_frame(src_mac: [u8; 6], dst_mac: [u8; 6], protocol: IpProtocol, len: usize) -> Vec<u8> {
    let mut f: Vec<u8> = (0..len).map(|i| i as u8).collect();
    let mut eth = EthernetFrame::new_unchecked(&mut f[..]);
    EthernetRepr { src_addr: src_mac.into(), dst_addr: dst_mac.into(), ethertype: EtherType::Ipv4 }.emit(&mut eth);
    let ip = Ipv4Repr { src_addr: IP_A.into(), dst_addr: IP_B.into(), protocol, payload_len: len - L4, ttl: TTL };
    ip.emit(&mut Ipv4Packet::new_unchecked(eth.payload_mut()));
    f
}

/// A UDP/IPv4 test frame of `len` bytes (at least 60, at most 14 + 65535), payload bytes counting up, no UDP
/// checksum.
pub fn udp_frame(src_mac: [u8; 6], dst_mac: [u8; 6], len: usize) -> Vec<u8> {
    let len = len.clamp(MIN_FRAME, MAX_FRAME);
    let mut f = ipv4_frame(src_mac, dst_mac, IpProtocol::Udp, len);
    let mut udp = UdpPacket::new_unchecked(&mut f[L4..]);
    UdpRepr { src_port: UDP_PORT, dst_port: UDP_PORT }.emit(&mut udp, len - UDP_PAYLOAD);
    f
}

/// An ARP request (who has `target_ip`? tell `sender_ip`), broadcast, padded to 60 bytes.
pub fn arp_request(sender_mac: [u8; 6], sender_ip: [u8; 4], target_ip: [u8; 4]) -> Vec<u8> {
    let mut f = vec![0u8; MIN_FRAME];
    let mut eth = EthernetFrame::new_unchecked(&mut f[..]);
    EthernetRepr { src_addr: sender_mac.into(), dst_addr: EthernetAddress::BROADCAST, ethertype: EtherType::Arp }
        .emit(&mut eth);
    let arp = ArpRepr {
        operation: ArpOperation::Request,
        sender_hardware_addr: sender_mac.into(),
        sender_protocol_addr: sender_ip.into(),
        target_hardware_addr: EthernetAddress::default(),
        target_protocol_addr: target_ip.into(),
    };
    arp.emit(&mut ArpPacket::new_unchecked(eth.payload_mut()));
    f
}

/// An ICMP echo request of `len` bytes (at least 60, at most 14 + 65535) from A to B, sequence 0, data bytes
/// counting up; see [`set_icmp_seq`].
pub fn icmp_echo_request(src_mac: [u8; 6], dst_mac: [u8; 6], len: usize) -> Vec<u8> {
    let len = len.clamp(MIN_FRAME, MAX_FRAME);
    let mut f = ipv4_frame(src_mac, dst_mac, IpProtocol::Icmp, len);
    let data: Vec<u8> = (ICMP_PAYLOAD..len).map(|i| i as u8).collect();
    let echo = Icmpv4Repr::EchoRequest { ident: ICMP_ID_VALUE, seq_no: 0, data: &data };
    echo.emit(&mut Icmpv4Packet::new_unchecked(&mut f[L4..]));
    f
}

/// Sets the sequence number of an echo request built by [`icmp_echo_request`] (whose sequence is 0),
/// updating the checksum incrementally. `hdr` is the frame, or at least its first [`ICMP_PAYLOAD`] bytes
/// (shorter: left as it is).
#[inline]
pub fn set_icmp_seq(hdr: &mut [u8], template_csum: u16, seq: u16) {
    // The frames built here have a 20-byte IPv4 header: the ICMP header is at a fixed place.
    let Some(icmp) = hdr.get_mut(L4..ICMP_PAYLOAD) else { return };
    let mut icmp = Icmpv4Packet::new_unchecked(icmp);
    icmp.set_echo_seq_no(seq);
    icmp.set_checksum(checksum_update(template_csum, 0, seq));
}

/// The checksum field of an ICMP/IPv4 frame; 0 if `f` is not one.
pub fn icmp_csum(f: &[u8]) -> u16 {
    let Ok(eth) = EthernetFrame::new_checked(f) else { return 0 };
    if eth.ethertype() != EtherType::Ipv4 {
        return 0;
    }
    match Ipv4Packet::new_checked(eth.payload()) {
        Ok(ip) if ip.protocol() == IpProtocol::Icmp => {
            Icmpv4Packet::new_checked(ip.payload()).map_or(0, |icmp| icmp.checksum())
        }
        _ => 0,
    }
}

/// Destination MAC := `dst`, source MAC := `src` (testpmd's mac mode). False if `f` is shorter than an
/// Ethernet header.
#[inline]
pub fn set_macs(f: &mut [u8], src: [u8; 6], dst: [u8; 6]) -> bool {
    let Ok(mut eth) = EthernetFrame::new_checked(f) else { return false };
    eth.set_dst_addr(dst.into());
    eth.set_src_addr(src.into());
    true
}

/// Swaps source and destination MAC (testpmd's macswap mode). False if `f` is shorter than an Ethernet
/// header.
#[inline]
pub fn swap_macs(f: &mut [u8]) -> bool {
    let Ok(mut eth) = EthernetFrame::new_checked(f) else { return false };
    eth.swap_addrs();
    true
}

/// The icmpecho responder lives in the engine's input layer, where it is also an attachable protocol.
pub use pktloop_engine::dlil::{echo_in_place, Echo};

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
    let Ok(eth) = EthernetFrame::new_checked(f) else { return Reply::Other };
    match eth.ethertype() {
        EtherType::Arp => match ArpPacket::new_checked(eth.payload()) {
            Ok(arp)
                if arp.operation() == ArpOperation::Reply && arp.sender_protocol_addr() == Ipv4Addr::from(peer_ip) =>
            {
                Reply::Arp(arp.sender_hardware_addr().0)
            }
            _ => Reply::Other,
        },
        EtherType::Ipv4 => {
            let Ok(ip) = Ipv4Packet::new_checked(eth.payload()) else { return Reply::Other };
            if ip.protocol() != IpProtocol::Icmp {
                return Reply::Other;
            }
            match Icmpv4Packet::new_checked(ip.payload()) {
                Ok(icmp) if icmp.msg_type() == Icmpv4Message::EchoReply && icmp.echo_ident() == ICMP_ID_VALUE => {
                    Reply::Echo
                }
                _ => Reply::Other,
            }
        }
        _ => Reply::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: [u8; 6] = [2, 0, 0, 0, 0, 1];
    const B: [u8; 6] = [2, 0, 0, 0, 0, 2];

    fn ip(f: &[u8]) -> Ipv4Packet<&[u8]> {
        Ipv4Packet::new_checked(&f[IP..]).unwrap()
    }

    /// The ICMP message of frame `f`, to the IP total length.
    fn icmp_bytes(f: &[u8]) -> &[u8] {
        ip(f).payload()
    }

    #[test]
    fn udp_frames_have_valid_ip_checksums_and_lengths() {
        let f = udp_frame(A, B, 64);
        assert_eq!(f.len(), 64);
        assert_eq!(checksum(&f[IP..L4]), 0);
        assert_eq!(UdpPacket::new_checked(ip(&f).payload()).unwrap().len(), 64 - 34);
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
        assert_eq!(checksum(&ping[IP..L4]), 0);
        assert_eq!((&ping[0..6], ip(&ping).dst_addr()), (&A[..], Ipv4Addr::from(IP_A)));
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

    #[test]
    fn requests_with_bad_checksums_are_ignored() {
        let good = icmp_echo_request(A, B, 100);

        let mut bad_ip = good.clone();
        bad_ip[IP + 8] -= 1; // TTL changed, IP checksum not
        assert_eq!(echo_in_place(&mut bad_ip, B, IP_B), Echo::Ignore);

        let mut bad_icmp = good.clone();
        *bad_icmp.last_mut().unwrap() ^= 0xff; // data changed, ICMP checksum not
        assert_eq!(echo_in_place(&mut bad_icmp, B, IP_B), Echo::Ignore);
        assert_eq!(bad_icmp[..L4], good[..L4], "an ignored frame is left as it was");

        let mut fragment = good.clone();
        let mut p = Ipv4Packet::new_checked(&mut fragment[IP..]).unwrap();
        p.set_more_frags(true);
        p.fill_checksum();
        assert_eq!(echo_in_place(&mut fragment, B, IP_B), Echo::Ignore);

        let mut not_mine = good.clone();
        assert_eq!(echo_in_place(&mut not_mine, B, IP_A), Echo::Ignore);
        let mut arp_not_mine = arp_request(A, IP_A, [198, 18, 0, 99]);
        assert_eq!(echo_in_place(&mut arp_not_mine, B, IP_B), Echo::Ignore);

        let mut good = good;
        assert_eq!(echo_in_place(&mut good, B, IP_B), Echo::IcmpReply);
    }

    #[test]
    fn requests_with_ip_options_are_answered() {
        // The 100-byte request with 8 bytes of IPv4 options (NOPs, then end of list) after the fixed header.
        let plain = icmp_echo_request(A, B, 100);
        let mut f = Vec::with_capacity(108);
        f.extend_from_slice(&plain[..L4]);
        f.extend_from_slice(&[1, 1, 1, 1, 1, 1, 1, 0]);
        f.extend_from_slice(&plain[L4..]);
        let mut p = Ipv4Packet::new_unchecked(&mut f[IP..]);
        p.set_header_len(28);
        p.set_total_len(p.total_len() + 8);
        p.fill_checksum();
        assert_eq!(icmp_csum(&f), icmp_csum(&plain), "the options are not part of the ICMP message");

        assert_eq!(echo_in_place(&mut f, B, IP_B), Echo::IcmpReply);
        let p = ip(&f);
        assert!(p.verify_checksum());
        assert_eq!(p.options(), &[1, 1, 1, 1, 1, 1, 1, 0]);
        assert_eq!((p.src_addr(), p.dst_addr()), (Ipv4Addr::from(IP_B), Ipv4Addr::from(IP_A)));
        let icmp = Icmpv4Packet::new_checked(p.payload()).unwrap();
        assert_eq!(icmp.msg_type(), Icmpv4Message::EchoReply);
        assert!(icmp.verify_checksum());
        assert_eq!(classify_reply(&f, IP_B), Reply::Echo);
    }

    #[test]
    fn padded_requests_are_answered_with_a_correct_checksum() {
        // A kernel's ping with 4 bytes of data: 46 bytes of frame, padded to 60 with bytes that are not zero
        // (so summing them would show).
        let data = [0xde, 0xad, 0xbe, 0xef];
        let echo = Icmpv4Repr::EchoRequest { ident: 0x1234, seq_no: 3, data: &data };
        let mut f = vec![0xa5u8; 60];
        let mut eth = EthernetFrame::new_unchecked(&mut f[..]);
        EthernetRepr { src_addr: A.into(), dst_addr: B.into(), ethertype: EtherType::Ipv4 }.emit(&mut eth);
        let ip_repr = Ipv4Repr {
            src_addr: IP_A.into(),
            dst_addr: IP_B.into(),
            protocol: IpProtocol::Icmp,
            payload_len: echo.buffer_len(),
            ttl: 64,
        };
        let mut p = Ipv4Packet::new_unchecked(eth.payload_mut());
        ip_repr.emit(&mut p);
        echo.emit(&mut Icmpv4Packet::new_unchecked(p.payload_mut()));
        assert_eq!(ip(&f).total_len(), 32);

        assert_eq!(echo_in_place(&mut f, B, IP_B), Echo::IcmpReply);
        assert_eq!(f.len(), 60);
        assert_eq!(&f[46..], &[0xa5; 14], "the padding is left alone");
        let message = icmp_bytes(&f);
        assert_eq!(message.len(), 12);
        assert_eq!(checksum(message), 0, "the checksum covers total_len - header_len bytes");
        let reply = Icmpv4Repr::parse(&Icmpv4Packet::new_checked(message).unwrap()).unwrap();
        assert_eq!(reply, Icmpv4Repr::EchoReply { ident: 0x1234, seq_no: 3, data: &data });
        assert!(ip(&f).verify_checksum());
    }

    #[test]
    fn short_and_lying_frames_are_data() {
        let ping = icmp_echo_request(A, B, 60);
        for cut in 0..ping.len() {
            let mut f = ping[..cut].to_vec();
            assert_eq!(echo_in_place(&mut f, B, IP_B), Echo::Ignore, "cut at {cut}");
            assert_eq!(classify_reply(&f, IP_B), Reply::Other);
            assert_eq!(icmp_csum(&f), 0);
            set_icmp_seq(&mut f, 0, 1);
        }
        let mut lying = ping.clone();
        Ipv4Packet::new_unchecked(&mut lying[IP..]).set_total_len(1500);
        assert_eq!(echo_in_place(&mut lying, B, IP_B), Echo::Ignore);
    }

    #[test]
    fn lengths_are_clamped() {
        assert_eq!(udp_frame(A, B, 0).len(), 60);
        assert_eq!(icmp_echo_request(A, B, 10).len(), 60);
        let big = udp_frame(A, B, usize::MAX);
        assert_eq!(big.len(), 14 + 65535);
        assert_eq!(ip(&big).total_len(), 65535);
    }
}
