//! Across the layers: whole frames built and parsed back, lying length fields, and arbitrary bytes fed to
//! every checked view (no getter may panic once `new_checked` succeeded).

use std::net::Ipv4Addr;

use proptest::prelude::*;

use super::*;

const MAC_A: EthernetAddress = EthernetAddress([2, 0, 0, 0, 0, 1]);
const MAC_B: EthernetAddress = EthernetAddress([2, 0, 0, 0, 0, 2]);
const IP_A: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
const IP_B: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);

/// A UDP/IPv4 frame with `payload`, padded with `pad` zero bytes after the IP packet.
fn udp_frame(payload: &[u8], pad: usize) -> Vec<u8> {
    let udp_len = udp::HEADER_LEN + payload.len();
    let ip_repr = Ipv4Repr { src_addr: IP_A, dst_addr: IP_B, protocol: IpProtocol::Udp, payload_len: udp_len, ttl: 64 };
    let mut bytes = vec![0u8; ethernet::HEADER_LEN + ipv4::HEADER_LEN + udp_len + pad];
    let mut frame = EthernetFrame::new_unchecked(&mut bytes[..]);
    EthernetRepr { src_addr: MAC_A, dst_addr: MAC_B, ethertype: EtherType::Ipv4 }.emit(&mut frame);
    let mut ip = Ipv4Packet::new_unchecked(frame.payload_mut());
    ip_repr.emit(&mut ip);
    let mut udp = UdpPacket::new_unchecked(ip.payload_mut());
    UdpRepr { src_port: 1024, dst_port: 9 }.emit(&mut udp, payload.len());
    udp.payload_mut().copy_from_slice(payload);
    udp.fill_checksum(IP_A, IP_B);
    bytes
}

#[test]
fn udp_frame_round_trips_through_every_layer() {
    let bytes = udp_frame(b"pktloop", 9);
    let frame = EthernetFrame::new_checked(&bytes[..]).unwrap();
    assert_eq!(
        EthernetRepr::parse(&frame),
        Ok(EthernetRepr { src_addr: MAC_A, dst_addr: MAC_B, ethertype: EtherType::Ipv4 })
    );
    let ip = Ipv4Packet::new_checked(frame.payload()).unwrap();
    let ip_repr = Ipv4Repr::parse(&ip).unwrap();
    assert_eq!((ip_repr.src_addr, ip_repr.dst_addr, ip_repr.protocol), (IP_A, IP_B, IpProtocol::Udp));
    assert_eq!(ip_repr.payload_len, 8 + 7);
    let udp = UdpPacket::new_checked(ip.payload()).unwrap();
    assert_eq!(UdpRepr::parse(&udp, IP_A, IP_B), Ok(UdpRepr { src_port: 1024, dst_port: 9 }));
    assert_eq!(udp.payload(), b"pktloop", "the padding is neither IP nor UDP payload");
}

#[test]
fn icmp_echo_round_trips() {
    let data = [0x11u8; 32];
    let echo = Icmpv4Repr::EchoRequest { ident: 7, seq_no: 9, data: &data };
    let ip_repr = Ipv4Repr {
        src_addr: IP_A,
        dst_addr: IP_B,
        protocol: IpProtocol::Icmp,
        payload_len: echo.buffer_len(),
        ttl: 64,
    };
    let mut bytes = vec![0u8; ethernet::HEADER_LEN + ipv4::HEADER_LEN + echo.buffer_len()];
    let mut frame = EthernetFrame::new_unchecked(&mut bytes[..]);
    EthernetRepr { src_addr: MAC_A, dst_addr: MAC_B, ethertype: EtherType::Ipv4 }.emit(&mut frame);
    let mut ip = Ipv4Packet::new_unchecked(frame.payload_mut());
    ip_repr.emit(&mut ip);
    echo.emit(&mut Icmpv4Packet::new_unchecked(ip.payload_mut()));

    let frame = EthernetFrame::new_checked(&bytes[..]).unwrap();
    let ip = Ipv4Packet::new_checked(frame.payload()).unwrap();
    assert_eq!(Ipv4Repr::parse(&ip), Ok(ip_repr));
    let icmp = Icmpv4Packet::new_checked(ip.payload()).unwrap();
    assert_eq!(Icmpv4Repr::parse(&icmp), Ok(echo));
}

#[test]
fn vlan_tagged_frame_demuxes_to_the_inner_packet() {
    let plain = udp_frame(b"x", 0);
    let mut bytes = vec![0u8; plain.len() + vlan::HEADER_LEN];
    bytes[..12].copy_from_slice(&plain[..12]);
    bytes[12 + vlan::HEADER_LEN..].copy_from_slice(&plain[12..]);
    let mut frame = EthernetFrame::new_unchecked(&mut bytes[..]);
    frame.set_ethertype(EtherType::Vlan);
    VlanRepr { pcp: 3, dei: false, vid: 100, ethertype: EtherType::Ipv4 }
        .emit(&mut VlanTag::new_unchecked(frame.payload_mut()));

    let frame = EthernetFrame::new_checked(&bytes[..]).unwrap();
    assert_eq!(frame.ethertype(), EtherType::Vlan);
    let tag = VlanTag::new_checked(frame.payload()).unwrap();
    assert_eq!((tag.vid(), tag.pcp(), tag.ethertype()), (100, 3, EtherType::Ipv4));
    let ip = Ipv4Packet::new_checked(tag.payload()).unwrap();
    assert_eq!(Ipv4Repr::parse(&ip).unwrap().protocol, IpProtocol::Udp);
}

#[test]
fn arp_in_a_padded_frame() {
    let repr = ArpRepr {
        operation: ArpOperation::Request,
        sender_hardware_addr: MAC_A,
        sender_protocol_addr: IP_A,
        target_hardware_addr: EthernetAddress::default(),
        target_protocol_addr: IP_B,
    };
    let mut bytes = [0u8; 60];
    let mut frame = EthernetFrame::new_unchecked(&mut bytes[..]);
    EthernetRepr { src_addr: MAC_A, dst_addr: EthernetAddress::BROADCAST, ethertype: EtherType::Arp }.emit(&mut frame);
    repr.emit(&mut ArpPacket::new_unchecked(frame.payload_mut()));
    let frame = EthernetFrame::new_checked(&bytes[..]).unwrap();
    assert!(frame.dst_addr().is_broadcast());
    assert_eq!(ArpRepr::parse(&ArpPacket::new_checked(frame.payload()).unwrap()), Ok(repr));
}

#[test]
fn lying_lengths_are_errors_not_panics() {
    let bytes = udp_frame(b"0123456789", 0);
    let ip_at = ethernet::HEADER_LEN;
    let udp_at = ip_at + ipv4::HEADER_LEN;

    // IPv4 total length one byte beyond the buffer, and far beyond.
    for lie in [bytes.len() - ip_at + 1, 0xffff] {
        let mut b = bytes.clone();
        Ipv4Packet::new_unchecked(&mut b[ip_at..]).set_total_len(lie as u16);
        assert_eq!(Ipv4Packet::new_checked(&b[ip_at..]).unwrap_err(), Error::Truncated, "total_len {lie}");
    }

    // UDP length beyond the IP payload, though not beyond the frame (the frame is padded): the IP view ends the
    // UDP view at the total length, so this is caught.
    let mut b = udp_frame(b"0123456789", 20);
    let udp_len = UdpPacket::new_unchecked(&b[udp_at..]).len();
    UdpPacket::new_unchecked(&mut b[udp_at..]).set_len(udp_len + 1);
    let ip = Ipv4Packet::new_checked(&b[ip_at..]).unwrap();
    assert_eq!(UdpPacket::new_checked(ip.payload()).unwrap_err(), Error::Truncated);
    assert!(UdpPacket::new_checked(&b[udp_at..]).is_ok(), "only the IP bound catches it");

    // UDP length shorter than its header.
    let mut b = bytes.clone();
    UdpPacket::new_unchecked(&mut b[udp_at..]).set_len(4);
    let ip = Ipv4Packet::new_checked(&b[ip_at..]).unwrap();
    assert_eq!(UdpPacket::new_checked(ip.payload()).unwrap_err(), Error::Malformed);

    // IPv4 total length shorter than the header; header longer than the buffer.
    let mut b = bytes.clone();
    Ipv4Packet::new_unchecked(&mut b[ip_at..]).set_total_len(12);
    assert_eq!(Ipv4Packet::new_checked(&b[ip_at..]).unwrap_err(), Error::Malformed);
    let short = &bytes[ip_at..ip_at + 24];
    let mut b = short.to_vec();
    Ipv4Packet::new_unchecked(&mut b[..]).set_header_len(28);
    assert_eq!(Ipv4Packet::new_checked(&b[..]).unwrap_err(), Error::Truncated);
}

#[test]
fn unchecked_checksum_helpers_do_not_panic_on_lies() {
    // A header-only IPv4 view whose IHL claims 60 bytes: verify says false, fill covers what is there.
    let mut header = [0u8; 20];
    header[0] = 0x4f;
    let mut ip = Ipv4Packet::new_unchecked(&mut header[..]);
    assert!(!ip.verify_checksum());
    ip.fill_checksum();
    // A UDP view whose length claims more than the buffer.
    let mut udp = [0u8; 8];
    udp[4..6].copy_from_slice(&100u16.to_be_bytes());
    udp[6] = 1;
    let mut udp = UdpPacket::new_unchecked(&mut udp[..]);
    assert!(!udp.verify_checksum(IP_A, IP_B));
    udp.fill_checksum(IP_A, IP_B);
}

/// Arbitrary bytes, and bytes that start as a real header so the deeper checks are reached too.
fn frames() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..200),
        // An IPv4-looking start (version 4, random IHL and lengths).
        (proptest::collection::vec(any::<u8>(), 0..200), 0u8..16).prop_map(|(mut v, ihl)| {
            if let Some(b) = v.first_mut() {
                *b = 0x40 | ihl;
            }
            v
        }),
        // A valid frame with some bytes overwritten.
        (0usize..64, 0usize..20, proptest::collection::vec((0usize..200, any::<u8>()), 0..4)).prop_map(
            |(payload, pad, edits)| {
                let mut v = udp_frame(&vec![0x5a; payload], pad);
                for (at, byte) in edits {
                    let at = at % v.len();
                    v[at] = byte;
                }
                v
            }
        ),
    ]
}

proptest! {
    #[test]
    fn no_view_panics_on_any_bytes(bytes in frames()) {
        super::exercise::read_every_view_at_every_layer(&bytes);
    }
}
