//! The frames of the TAP soak: pktloop's requests to the kernel, and what the kernel's frames are.

use pktloop_engine::wire::{
    ArpOperation, ArpPacket, ArpRepr, EtherType, EthernetFrame, EthernetRepr, Icmpv4Packet, Icmpv4Repr, IpProtocol,
    Ipv4Packet, Ipv4Repr,
};
use std::net::Ipv4Addr;

/// pktloop's station behind the TAP port, and the kernel's address on it (benchmark range only).
pub const STATION_IP: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
pub const KERNEL_IP: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
/// The ICMP identifier of the soak's echo requests.
const ECHO_IDENT: u16 = 0x706b;

/// Request `n`: every fourth an ARP request for the kernel's address (which also teaches the kernel the
/// station's), the others ICMP echo requests with sequence number `n`.
pub fn tap_request(n: u64, station: [u8; 6], kernel: [u8; 6]) -> Vec<u8> {
    let (ethertype, dst) = if n.is_multiple_of(4) { (EtherType::Arp, [0xff; 6]) } else { (EtherType::Ipv4, kernel) };
    let data = n.to_le_bytes();
    let icmp = Icmpv4Repr::EchoRequest { ident: ECHO_IDENT, seq_no: n as u16, data: &data };
    let mut f = vec![0u8; 60.max(14 + 20 + icmp.buffer_len())];
    let mut eth = EthernetFrame::new_unchecked(&mut f[..]);
    EthernetRepr { src_addr: station.into(), dst_addr: dst.into(), ethertype }.emit(&mut eth);
    if ethertype == EtherType::Arp {
        let arp = ArpRepr {
            operation: ArpOperation::Request,
            sender_hardware_addr: station.into(),
            sender_protocol_addr: STATION_IP,
            target_hardware_addr: [0; 6].into(),
            target_protocol_addr: KERNEL_IP,
        };
        arp.emit(&mut ArpPacket::new_unchecked(eth.payload_mut()));
        return f;
    }
    let mut ip = Ipv4Packet::new_unchecked(eth.payload_mut());
    let ip_repr = Ipv4Repr {
        src_addr: STATION_IP,
        dst_addr: KERNEL_IP,
        protocol: IpProtocol::Icmp,
        payload_len: icmp.buffer_len(),
        ttl: 64,
    };
    ip_repr.emit(&mut ip);
    icmp.emit(&mut Icmpv4Packet::new_unchecked(&mut ip.payload_mut()[..icmp.buffer_len()]));
    f
}

/// What the kernel sent the station.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FromKernel {
    EchoReply,
    ArpReply,
    Other,
}

/// Reads a frame from the kernel (checked views: a malformed frame is `Other`, never a panic).
pub fn from_kernel(f: &[u8]) -> FromKernel {
    let Ok(eth) = EthernetFrame::new_checked(f) else { return FromKernel::Other };
    match eth.ethertype() {
        EtherType::Arp => {
            let arp = ArpPacket::new_checked(eth.payload()).and_then(|p| ArpRepr::parse(&p));
            match arp {
                Ok(a) if a.operation == ArpOperation::Reply && a.target_protocol_addr == STATION_IP => {
                    FromKernel::ArpReply
                }
                _ => FromKernel::Other,
            }
        }
        EtherType::Ipv4 => {
            let ip = Ipv4Packet::new_checked(eth.payload());
            let icmp = ip.and_then(|ip| Icmpv4Packet::new_checked(ip.payload()));
            match icmp.and_then(|p| Icmpv4Repr::parse(&p)) {
                Ok(Icmpv4Repr::EchoReply { ident: ECHO_IDENT, .. }) => FromKernel::EchoReply,
                _ => FromKernel::Other,
            }
        }
        _ => FromKernel::Other,
    }
}
