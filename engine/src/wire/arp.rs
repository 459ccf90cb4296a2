//! ARP (RFC 826) for IPv4 over Ethernet: the fixed 28-byte layout with 6-byte hardware and 4-byte protocol
//! addresses. Other address sizes are [`Error::Malformed`] for this view (its offsets would be wrong); other
//! hardware or protocol types with those sizes are data, which [`Repr::parse`] refuses as unsupported.

use std::net::Ipv4Addr;

use super::ethernet::{read_address, Address};
use super::field::{read_u16, write_u16};
use super::{Error, EtherType, Result};

enum_with_unknown! {
    /// The hardware type field.
    pub enum Hardware(u16) {
        /// Ethernet (1).
        Ethernet = 1,
    }
}

enum_with_unknown! {
    /// The operation field.
    pub enum Operation(u16) {
        /// Who has the target protocol address?
        Request = 1,
        /// The sender has it.
        Reply = 2,
    }
}

mod field {
    use crate::wire::field::Field;

    pub const HTYPE: Field = 0..2;
    pub const PTYPE: Field = 2..4;
    pub const HLEN: usize = 4;
    pub const PLEN: usize = 5;
    pub const OPER: Field = 6..8;
    pub const SHA: Field = 8..14;
    pub const SPA: Field = 14..18;
    pub const THA: Field = 18..24;
    pub const TPA: Field = 24..28;
}

/// Bytes of an Ethernet/IPv4 ARP packet.
pub const PACKET_LEN: usize = field::TPA.end;
/// Hardware address length of Ethernet.
const ETHERNET_LEN: u8 = 6;
/// Protocol address length of IPv4.
const IPV4_LEN: u8 = 4;

/// A read/write view of an Ethernet/IPv4 ARP packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

#[inline]
fn read_ipv4(data: &[u8]) -> Ipv4Addr {
    Ipv4Addr::new(data[0], data[1], data[2], data[3])
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// A view of `buffer` without checks; getters panic if it is shorter than [`PACKET_LEN`].
    #[inline]
    pub const fn new_unchecked(buffer: T) -> Packet<T> {
        Packet { buffer }
    }

    /// A view of `buffer`, or an error if it is too short or its address lengths are not 6 and 4.
    #[inline]
    pub fn new_checked(buffer: T) -> Result<Packet<T>> {
        let packet = Self::new_unchecked(buffer);
        packet.check_len()?;
        Ok(packet)
    }

    /// Checks that no getter can panic and that the layout is Ethernet/IPv4's: [`Error::Truncated`] if the
    /// buffer is shorter than [`PACKET_LEN`], [`Error::Malformed`] if the address lengths are not 6 and 4.
    /// Bytes after the packet (Ethernet padding) are allowed.
    #[inline]
    pub fn check_len(&self) -> Result<()> {
        let data = self.buffer.as_ref();
        if data.len() < PACKET_LEN {
            return Err(Error::Truncated);
        }
        if data[field::HLEN] != ETHERNET_LEN || data[field::PLEN] != IPV4_LEN {
            return Err(Error::Malformed);
        }
        Ok(())
    }

    /// The buffer back.
    #[inline]
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The hardware type.
    #[inline]
    pub fn hardware_type(&self) -> Hardware {
        Hardware::from(read_u16(self.buffer.as_ref(), field::HTYPE))
    }

    /// The protocol type (an EtherType).
    #[inline]
    pub fn protocol_type(&self) -> EtherType {
        EtherType::from(read_u16(self.buffer.as_ref(), field::PTYPE))
    }

    /// The hardware address length (6 in a checked view).
    #[inline]
    pub fn hardware_len(&self) -> u8 {
        self.buffer.as_ref()[field::HLEN]
    }

    /// The protocol address length (4 in a checked view).
    #[inline]
    pub fn protocol_len(&self) -> u8 {
        self.buffer.as_ref()[field::PLEN]
    }

    /// The operation.
    #[inline]
    pub fn operation(&self) -> Operation {
        Operation::from(read_u16(self.buffer.as_ref(), field::OPER))
    }

    /// The sender's hardware address.
    #[inline]
    pub fn sender_hardware_addr(&self) -> Address {
        read_address(&self.buffer.as_ref()[field::SHA])
    }

    /// The sender's protocol address.
    #[inline]
    pub fn sender_protocol_addr(&self) -> Ipv4Addr {
        read_ipv4(&self.buffer.as_ref()[field::SPA])
    }

    /// The target's hardware address (zero in a request).
    #[inline]
    pub fn target_hardware_addr(&self) -> Address {
        read_address(&self.buffer.as_ref()[field::THA])
    }

    /// The target's protocol address.
    #[inline]
    pub fn target_protocol_addr(&self) -> Ipv4Addr {
        read_ipv4(&self.buffer.as_ref()[field::TPA])
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Sets the hardware type.
    #[inline]
    pub fn set_hardware_type(&mut self, value: Hardware) {
        write_u16(self.buffer.as_mut(), field::HTYPE, u16::from(value));
    }

    /// Sets the protocol type.
    #[inline]
    pub fn set_protocol_type(&mut self, value: EtherType) {
        write_u16(self.buffer.as_mut(), field::PTYPE, u16::from(value));
    }

    /// Sets the hardware address length (this view's layout needs 6).
    #[inline]
    pub fn set_hardware_len(&mut self, value: u8) {
        self.buffer.as_mut()[field::HLEN] = value;
    }

    /// Sets the protocol address length (this view's layout needs 4).
    #[inline]
    pub fn set_protocol_len(&mut self, value: u8) {
        self.buffer.as_mut()[field::PLEN] = value;
    }

    /// Sets the operation.
    #[inline]
    pub fn set_operation(&mut self, value: Operation) {
        write_u16(self.buffer.as_mut(), field::OPER, u16::from(value));
    }

    /// Sets the sender's hardware address.
    #[inline]
    pub fn set_sender_hardware_addr(&mut self, value: Address) {
        self.buffer.as_mut()[field::SHA].copy_from_slice(&value.0);
    }

    /// Sets the sender's protocol address.
    #[inline]
    pub fn set_sender_protocol_addr(&mut self, value: Ipv4Addr) {
        self.buffer.as_mut()[field::SPA].copy_from_slice(&value.octets());
    }

    /// Sets the target's hardware address.
    #[inline]
    pub fn set_target_hardware_addr(&mut self, value: Address) {
        self.buffer.as_mut()[field::THA].copy_from_slice(&value.0);
    }

    /// Sets the target's protocol address.
    #[inline]
    pub fn set_target_protocol_addr(&mut self, value: Ipv4Addr) {
        self.buffer.as_mut()[field::TPA].copy_from_slice(&value.octets());
    }
}

impl<T: AsRef<[u8]>> AsRef<[u8]> for Packet<T> {
    fn as_ref(&self) -> &[u8] {
        self.buffer.as_ref()
    }
}

/// An Ethernet/IPv4 ARP packet as values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repr {
    /// Request, reply, or another operation (kept as data).
    pub operation: Operation,
    /// Sender's hardware address.
    pub sender_hardware_addr: Address,
    /// Sender's protocol address.
    pub sender_protocol_addr: Ipv4Addr,
    /// Target's hardware address.
    pub target_hardware_addr: Address,
    /// Target's protocol address.
    pub target_protocol_addr: Ipv4Addr,
}

impl Repr {
    /// Reads `packet`: checks its length and layout, and [`Error::Unsupported`] unless it is for IPv4 over
    /// Ethernet.
    pub fn parse<T: AsRef<[u8]>>(packet: &Packet<T>) -> Result<Repr> {
        packet.check_len()?;
        if packet.hardware_type() != Hardware::Ethernet || packet.protocol_type() != EtherType::Ipv4 {
            return Err(Error::Unsupported);
        }
        Ok(Repr {
            operation: packet.operation(),
            sender_hardware_addr: packet.sender_hardware_addr(),
            sender_protocol_addr: packet.sender_protocol_addr(),
            target_hardware_addr: packet.target_hardware_addr(),
            target_protocol_addr: packet.target_protocol_addr(),
        })
    }

    /// Bytes this emits.
    #[inline]
    pub const fn buffer_len(&self) -> usize {
        PACKET_LEN
    }

    /// Writes the whole packet (types, lengths, operation, addresses) into `packet`.
    ///
    /// # Panics
    /// If the buffer is shorter than [`PACKET_LEN`].
    #[inline]
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, packet: &mut Packet<T>) {
        packet.set_hardware_type(Hardware::Ethernet);
        packet.set_protocol_type(EtherType::Ipv4);
        packet.set_hardware_len(ETHERNET_LEN);
        packet.set_protocol_len(IPV4_LEN);
        packet.set_operation(self.operation);
        packet.set_sender_hardware_addr(self.sender_hardware_addr);
        packet.set_sender_protocol_addr(self.sender_protocol_addr);
        packet.set_target_hardware_addr(self.target_hardware_addr);
        packet.set_target_protocol_addr(self.target_protocol_addr);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Who has 198.18.0.2? Tell 198.18.0.1 (02:00:00:00:00:01).
    const REQUEST: [u8; 28] =
        [0, 1, 8, 0, 6, 4, 0, 1, 2, 0, 0, 0, 0, 1, 198, 18, 0, 1, 0, 0, 0, 0, 0, 0, 198, 18, 0, 2];

    fn request_repr() -> Repr {
        Repr {
            operation: Operation::Request,
            sender_hardware_addr: Address([2, 0, 0, 0, 0, 1]),
            sender_protocol_addr: Ipv4Addr::new(198, 18, 0, 1),
            target_hardware_addr: Address([0; 6]),
            target_protocol_addr: Ipv4Addr::new(198, 18, 0, 2),
        }
    }

    #[test]
    fn parse_fields() {
        let packet = Packet::new_checked(&REQUEST[..]).unwrap();
        assert_eq!(packet.hardware_type(), Hardware::Ethernet);
        assert_eq!(packet.protocol_type(), EtherType::Ipv4);
        assert_eq!((packet.hardware_len(), packet.protocol_len()), (6, 4));
        assert_eq!(packet.operation(), Operation::Request);
        assert_eq!(Repr::parse(&packet), Ok(request_repr()));
    }

    #[test]
    fn build_round_trips() {
        let mut bytes = [0xa5u8; 28];
        request_repr().emit(&mut Packet::new_unchecked(&mut bytes[..]));
        assert_eq!(bytes, REQUEST);
        let reply = Repr { operation: Operation::Reply, ..request_repr() };
        reply.emit(&mut Packet::new_unchecked(&mut bytes[..]));
        assert_eq!(Repr::parse(&Packet::new_checked(&bytes[..]).unwrap()), Ok(reply));
    }

    #[test]
    fn bad_inputs_are_errors() {
        assert_eq!(Packet::new_checked(&REQUEST[..27]).unwrap_err(), Error::Truncated);
        let mut bytes = REQUEST;
        bytes[4] = 8; // hardware addresses of 8 bytes: other offsets
        assert_eq!(Packet::new_checked(&bytes[..]).unwrap_err(), Error::Malformed);
        let mut bytes = REQUEST;
        bytes[1] = 6; // IEEE 802 hardware type: a valid view, not a supported Repr
        let packet = Packet::new_checked(&bytes[..]).unwrap();
        assert_eq!(packet.hardware_type(), Hardware::Unknown(6));
        assert_eq!(Repr::parse(&packet), Err(Error::Unsupported));
        let mut bytes = REQUEST;
        bytes[7] = 9;
        assert_eq!(Packet::new_checked(&bytes[..]).unwrap().operation(), Operation::Unknown(9));
    }

    #[test]
    fn padding_after_the_packet_is_allowed() {
        let mut bytes = [0u8; 46];
        bytes[..28].copy_from_slice(&REQUEST);
        assert_eq!(Repr::parse(&Packet::new_checked(&bytes[..]).unwrap()), Ok(request_repr()));
    }
}
