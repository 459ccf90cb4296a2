//! What the responder's property test and fuzz target run on any frame: a frame it answers becomes a valid
//! reply (from this host's addresses back to the requester's, checksums correct, the same length), and a
//! frame it ignores is left exactly as it was. Built for tests and under `--cfg fuzzing` (see `fuzz/`).

use super::{echo_in_place, Echo};
use crate::wire::{
    ArpOperation, ArpPacket, ArpRepr, EthernetFrame, Icmpv4Message, Icmpv4Packet, Icmpv4Repr, Ipv4Packet,
};
use std::net::Ipv4Addr;

/// The responder's addresses in these checks.
pub const MAC: [u8; 6] = [2, 0, 0, 0, 0, 2];
/// See [`MAC`].
pub const IP: [u8; 4] = [198, 18, 0, 2];

/// Answers `bytes` (a copy) and checks what came out.
pub fn answer_any_frame(bytes: &[u8]) {
    let mut frame = bytes.to_vec();
    let answer = echo_in_place(&mut frame, MAC, IP);
    assert_eq!(frame.len(), bytes.len(), "answered in place");
    if answer == Echo::Ignore {
        assert_eq!(frame, bytes, "an ignored frame is left as it was");
        return;
    }
    let eth = EthernetFrame::new_checked(&frame[..]).expect("an answer is a frame");
    let request = EthernetFrame::new_checked(bytes).expect("so was the request");
    assert_eq!((eth.src_addr(), eth.dst_addr()), (MAC.into(), request.src_addr()), "from us to the requester");
    match answer {
        Echo::ArpReply => check_arp_reply(eth.payload()),
        _ => check_icmp_reply(eth.payload()),
    }
}

fn check_arp_reply(payload: &[u8]) {
    let arp = ArpRepr::parse(&ArpPacket::new_checked(payload).expect("an ARP packet")).expect("a whole ARP reply");
    assert_eq!(arp.operation, ArpOperation::Reply);
    assert_eq!((arp.sender_hardware_addr, arp.sender_protocol_addr), (MAC.into(), Ipv4Addr::from(IP)));
}

fn check_icmp_reply(payload: &[u8]) {
    let ip = Ipv4Packet::new_checked(payload).expect("an IPv4 packet");
    assert!(ip.verify_checksum(), "the IPv4 checksum of a reply is correct");
    assert_eq!(ip.src_addr(), Ipv4Addr::from(IP));
    let icmp = Icmpv4Packet::new_checked(ip.payload()).expect("an ICMP message");
    assert!(icmp.verify_checksum(), "the ICMP checksum of a reply is correct");
    assert!(matches!(Icmpv4Repr::parse(&icmp), Ok(Icmpv4Repr::EchoReply { .. })));
    assert_eq!(icmp.msg_type(), Icmpv4Message::EchoReply);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{ethernet, ipv4, ArpRepr, EtherType, EthernetRepr, IpProtocol, Ipv4Repr};
    use proptest::prelude::*;

    const REQUESTER: [u8; 6] = [2, 0, 0, 0, 0, 1];

    /// An echo request to the responder's address with `data`.
    fn echo_request(data: &[u8]) -> Vec<u8> {
        let icmp = Icmpv4Repr::EchoRequest { ident: 7, seq_no: 1, data };
        let ip = Ipv4Repr {
            src_addr: Ipv4Addr::new(198, 18, 0, 1),
            dst_addr: Ipv4Addr::from(IP),
            protocol: IpProtocol::Icmp,
            payload_len: icmp.buffer_len(),
            ttl: 64,
        };
        let mut bytes = vec![0u8; ethernet::HEADER_LEN + ipv4::HEADER_LEN + icmp.buffer_len()];
        let mut frame = EthernetFrame::new_unchecked(&mut bytes[..]);
        EthernetRepr { src_addr: REQUESTER.into(), dst_addr: MAC.into(), ethertype: EtherType::Ipv4 }.emit(&mut frame);
        let mut packet = Ipv4Packet::new_unchecked(frame.payload_mut());
        ip.emit(&mut packet);
        icmp.emit(&mut Icmpv4Packet::new_unchecked(packet.payload_mut()));
        bytes
    }

    /// An ARP request for the responder's address.
    fn arp_request() -> Vec<u8> {
        let arp = ArpRepr {
            operation: ArpOperation::Request,
            sender_hardware_addr: REQUESTER.into(),
            sender_protocol_addr: Ipv4Addr::new(198, 18, 0, 1),
            target_hardware_addr: [0; 6].into(),
            target_protocol_addr: Ipv4Addr::from(IP),
        };
        let mut bytes = vec![0u8; ethernet::HEADER_LEN + arp.buffer_len()];
        let mut frame = EthernetFrame::new_unchecked(&mut bytes[..]);
        let eth = EthernetRepr { src_addr: REQUESTER.into(), dst_addr: [0xff; 6].into(), ethertype: EtherType::Arp };
        eth.emit(&mut frame);
        arp.emit(&mut ArpPacket::new_unchecked(frame.payload_mut()));
        bytes
    }

    #[test]
    fn requests_are_answered_as_valid_replies() {
        let mut ping = echo_request(b"payload");
        assert_eq!(echo_in_place(&mut ping.clone(), MAC, IP), Echo::IcmpReply);
        answer_any_frame(&ping);
        assert_eq!(echo_in_place(&mut arp_request(), MAC, IP), Echo::ArpReply);
        answer_any_frame(&arp_request());
        ping[20] ^= 1;
        assert_eq!(echo_in_place(&mut ping.clone(), MAC, IP), Echo::Ignore, "a damaged header is ignored");
        // Found by the fuzzer: an echo request with a code other than 0, its checksum right, was answered
        // with that code, a reply no parser accepts. It is malformed, and ignored.
        let found = [
            2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 8, 0, 0x45, 0, 0, 0x28, 0, 1, 0, 0, 0x40, 1, 0xee, 0xac, 198, 18, 0, 1,
            198, 18, 0, 2, 8, 0x93, 0x52, 0, 0, 7, 0, 1,
        ];
        let mut frame = found.to_vec();
        frame.extend_from_slice(b"pktloop-fuzz");
        assert_eq!(echo_in_place(&mut frame.clone(), MAC, IP), Echo::Ignore);
        answer_any_frame(&frame);
    }

    /// Arbitrary bytes, and real requests with one byte changed or cut short (so the deep checks run).
    fn frames() -> impl Strategy<Value = Vec<u8>> {
        let damaged = |base: Vec<u8>| {
            let len = base.len();
            (Just(base), 0..len, any::<u8>(), 1..=len).prop_map(|(mut f, at, byte, keep)| {
                f[at] = byte;
                f.truncate(keep);
                f
            })
        };
        prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..200),
            proptest::collection::vec(any::<u8>(), 0..64).prop_map(|d| echo_request(&d)),
            proptest::collection::vec(any::<u8>(), 0..64).prop_flat_map(move |d| damaged(echo_request(&d))),
            damaged(arp_request()),
        ]
    }

    proptest! {
        #[test]
        fn any_frame_is_answered_validly_or_left_alone(frame in frames()) {
            answer_any_frame(&frame);
        }
    }
}
