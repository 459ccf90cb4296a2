//! The built-in ARP and ICMP echo responder for one IPv4 address: [`echo_in_place`] answers a frame in
//! place, and [`Responder`] is it as a protocol handler (attach it for ARP and for IPv4), answering through
//! the interface's output path. `pktloop fwd --mode icmpecho` answers with the same function.

use super::protocol::Protocol;
use crate::port::PacketBurst;
use crate::wire::checksum::update as checksum_update;
use crate::wire::{
    ArpOperation, ArpPacket, ArpRepr, EtherType, EthernetAddress, EthernetFrame, Icmpv4Message, Icmpv4Packet,
    IpProtocol, Ipv4Packet,
};
use std::net::Ipv4Addr;

/// What the icmpecho responder did with a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Echo {
    /// Turned into an ARP reply in place.
    ArpReply,
    /// Turned into an ICMP echo reply in place.
    IcmpReply,
    /// Not for us (other type, other address, too short, malformed, bad checksum, a fragment): to be freed
    /// and counted as ignored.
    Ignore,
}

/// The icmpecho responder: answers ARP requests for `my_ip` and ICMP echo requests to `my_ip`, in place.
///
/// Echo requests must have a correct IPv4 header checksum and ICMP checksum; IPv4 options are allowed, and
/// bytes after the IP total length (the padding to 60 bytes a kernel adds) are left alone and not summed.
/// The reply's checksums are updated incrementally: the IP header's does not change (addresses swapped), the
/// ICMP one for the type.
#[inline]
pub fn echo_in_place(f: &mut [u8], my_mac: [u8; 6], my_ip: [u8; 4]) -> Echo {
    let Ok(mut eth) = EthernetFrame::new_checked(f) else { return Echo::Ignore };
    match eth.ethertype() {
        EtherType::Arp => {
            if !arp_reply_in_place(eth.payload_mut(), my_mac.into(), my_ip.into()) {
                return Echo::Ignore;
            }
            let requester = eth.src_addr();
            eth.set_dst_addr(requester);
            eth.set_src_addr(my_mac.into());
            Echo::ArpReply
        }
        EtherType::Ipv4 => {
            if !icmp_reply_in_place(eth.payload_mut(), my_ip.into()) {
                return Echo::Ignore;
            }
            // From us to the requester, whatever address the request was sent to (broadcast included).
            let requester = eth.src_addr();
            eth.set_dst_addr(requester);
            eth.set_src_addr(my_mac.into());
            Echo::IcmpReply
        }
        _ => Echo::Ignore,
    }
}

/// Turns an ARP request for `my_ip` (the Ethernet payload `arp`) into the reply; false if it is not one.
#[inline]
fn arp_reply_in_place(arp: &mut [u8], my_mac: EthernetAddress, my_ip: Ipv4Addr) -> bool {
    let Ok(mut arp) = ArpPacket::new_checked(arp) else { return false };
    let Ok(request) = ArpRepr::parse(&arp) else { return false };
    if request.operation != ArpOperation::Request || request.target_protocol_addr != my_ip {
        return false;
    }
    let reply = ArpRepr {
        operation: ArpOperation::Reply,
        sender_hardware_addr: my_mac,
        sender_protocol_addr: my_ip,
        target_hardware_addr: request.sender_hardware_addr,
        target_protocol_addr: request.sender_protocol_addr,
    };
    reply.emit(&mut arp);
    true
}

/// Turns an ICMP echo request to `my_ip` (the Ethernet payload `ip`) into the reply, Ethernet header aside;
/// false if it is not a valid one.
#[inline]
fn icmp_reply_in_place(ip: &mut [u8], my_ip: Ipv4Addr) -> bool {
    let Ok(mut ip) = Ipv4Packet::new_checked(ip) else { return false };
    // Cheap tests first, the checksums last.
    if ip.protocol() != IpProtocol::Icmp || ip.dst_addr() != my_ip || ip.is_fragment() || !ip.verify_checksum() {
        return false;
    }
    // The ICMP message ends at the IP total length, not at the end of the frame.
    let Ok(mut icmp) = Icmpv4Packet::new_checked(ip.payload_mut()) else { return false };
    // An echo request has code 0 (RFC 792); one with another is malformed, and its reply would be too.
    if icmp.msg_type() != Icmpv4Message::EchoRequest || icmp.msg_code() != 0 || !icmp.verify_checksum() {
        return false;
    }
    let code = icmp.msg_code();
    let csum = checksum_update(
        icmp.checksum(),
        u16::from_be_bytes([Icmpv4Message::EchoRequest.into(), code]),
        u16::from_be_bytes([Icmpv4Message::EchoReply.into(), code]),
    );
    icmp.set_msg_type(Icmpv4Message::EchoReply);
    icmp.set_checksum(csum);
    ip.swap_addrs();
    true
}

/// The responder as a protocol handler: answers what is for it, frees the rest (counted as ignored).
#[derive(Debug, Clone)]
pub struct Responder {
    mac: [u8; 6],
    ip: [u8; 4],
    answered: u64,
    ignored: u64,
}

impl Responder {
    /// Answers ARP and echo requests for `ip`, as station `mac`.
    pub fn new(mac: [u8; 6], ip: [u8; 4]) -> Responder {
        Responder { mac, ip, answered: 0, ignored: 0 }
    }

    /// Requests answered.
    pub fn answered(&self) -> u64 {
        self.answered
    }

    /// Frames that were not requests for it (or found no room among the replies).
    pub fn ignored(&self) -> u64 {
        self.ignored
    }
}

impl Protocol for Responder {
    fn name(&self) -> &str {
        "arp-icmp-echo-responder"
    }

    fn input(&mut self, pkts: &mut PacketBurst, replies: &mut PacketBurst) {
        for mut pkt in pkts.drain(..) {
            if echo_in_place(pkt.data_mut(), self.mac, self.ip) == Echo::Ignore || replies.is_full() {
                self.ignored += 1;
                continue;
            }
            self.answered += 1;
            replies.push(pkt);
        }
    }
}
