//! What the wire views' property tests and fuzz targets run on arbitrary bytes: every view that accepts
//! them, every getter, every `Repr::parse`. Nothing may panic once `new_checked` succeeded, and a view
//! never claims more bytes than it was given. Built for tests and under `--cfg fuzzing` (cargo-fuzz sets
//! it; see `fuzz/`).

use super::*;
use std::net::Ipv4Addr;

/// Addresses UDP checksums are verified against.
const SRC: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
const DST: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);

/// Reads `bytes` through every view, and again from every offset a header could start at in a frame.
pub fn read_every_view_at_every_layer(bytes: &[u8]) {
    read_every_view(bytes);
    for at in [ethernet::HEADER_LEN, ethernet::HEADER_LEN + ipv4::HEADER_LEN] {
        if let Some(rest) = bytes.get(at..) {
            read_every_view(rest);
        }
    }
}

/// Calls every getter of every view that accepts `bytes`, and every `Repr::parse`.
pub fn read_every_view(bytes: &[u8]) {
    if let Ok(frame) = EthernetFrame::new_checked(bytes) {
        let _ = (frame.dst_addr(), frame.src_addr(), frame.ethertype(), frame.payload());
        let _ = EthernetRepr::parse(&frame);
    }
    if let Ok(tag) = VlanTag::new_checked(bytes) {
        let _ = (tag.tci(), tag.pcp(), tag.dei(), tag.vid(), tag.ethertype(), tag.payload());
        let _ = VlanRepr::parse(&tag);
    }
    if let Ok(arp) = ArpPacket::new_checked(bytes) {
        let _ = (arp.hardware_type(), arp.protocol_type(), arp.hardware_len(), arp.protocol_len(), arp.operation());
        let _ = (arp.sender_hardware_addr(), arp.sender_protocol_addr());
        let _ = (arp.target_hardware_addr(), arp.target_protocol_addr());
        let _ = ArpRepr::parse(&arp);
    }
    if let Ok(ip) = Ipv4Packet::new_checked(bytes) {
        let _ = (ip.version(), ip.header_len(), ip.dscp(), ip.ecn(), ip.total_len(), ip.ident());
        let _ = (ip.dont_frag(), ip.more_frags(), ip.frag_offset(), ip.is_fragment(), ip.ttl(), ip.protocol());
        let _ = (ip.checksum(), ip.src_addr(), ip.dst_addr(), ip.verify_checksum(), ip.options(), ip.payload());
        assert!(ip.payload().len() + ip.header_len() <= bytes.len());
        let _ = Ipv4Repr::parse(&ip);
    }
    if let Ok(icmp) = Icmpv4Packet::new_checked(bytes) {
        let _ = (icmp.msg_type(), icmp.msg_code(), icmp.checksum(), icmp.echo_ident(), icmp.echo_seq_no());
        let _ = (icmp.verify_checksum(), icmp.data());
        let _ = Icmpv4Repr::parse(&icmp);
    }
    if let Ok(udp) = UdpPacket::new_checked(bytes) {
        let _ = (udp.src_port(), udp.dst_port(), udp.len(), udp.checksum(), udp.payload());
        let _ = udp.verify_checksum(SRC, DST);
        let _ = UdpRepr::parse(&udp, SRC, DST);
    }
    // Reprs check lengths themselves, so unchecked views are fine to hand them.
    let _ = EthernetRepr::parse(&EthernetFrame::new_unchecked(bytes));
    let _ = VlanRepr::parse(&VlanTag::new_unchecked(bytes));
    let _ = ArpRepr::parse(&ArpPacket::new_unchecked(bytes));
    let _ = Ipv4Repr::parse(&Ipv4Packet::new_unchecked(bytes));
    let _ = Icmpv4Repr::parse(&Icmpv4Packet::new_unchecked(bytes));
    let _ = UdpRepr::parse(&UdpPacket::new_unchecked(bytes), SRC, DST);
}
