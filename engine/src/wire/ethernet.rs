//! Ethernet II: destination and source address, EtherType, payload. An 802.1Q tag (EtherType
//! [`EtherType::Vlan`]) is read with [`super::vlan::Tag`] over the frame's payload.

use core::fmt;

use super::field::{read_u16, write_u16};
use super::{Error, Result};

enum_with_unknown! {
    /// The EtherType field: what the payload is.
    pub enum EtherType(u16) {
        /// IPv4.
        Ipv4 = 0x0800,
        /// ARP.
        Arp = 0x0806,
        /// An 802.1Q VLAN tag (C-tag) follows.
        Vlan = 0x8100,
        /// IPv6.
        Ipv6 = 0x86dd,
        /// An 802.1ad service tag (S-tag, QinQ) follows.
        QinQ = 0x88a8,
    }
}

impl fmt::Display for EtherType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            EtherType::Ipv4 => f.write_str("IPv4"),
            EtherType::Arp => f.write_str("ARP"),
            EtherType::Vlan => f.write_str("802.1Q"),
            EtherType::Ipv6 => f.write_str("IPv6"),
            EtherType::QinQ => f.write_str("802.1ad"),
            EtherType::Unknown(raw) => write!(f, "0x{raw:04x}"),
        }
    }
}

/// A six-byte Ethernet (MAC) address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Address(pub [u8; 6]);

impl Address {
    /// The broadcast address, `ff:ff:ff:ff:ff:ff`.
    pub const BROADCAST: Address = Address([0xff; 6]);

    /// The address as bytes, first on the wire first.
    #[inline]
    pub const fn as_bytes(&self) -> &[u8; 6] {
        &self.0
    }

    /// Whether this is the broadcast address.
    #[inline]
    pub fn is_broadcast(&self) -> bool {
        *self == Self::BROADCAST
    }

    /// Whether the group (multicast) bit is set; the broadcast address is multicast too.
    #[inline]
    pub const fn is_multicast(&self) -> bool {
        self.0[0] & 0x01 != 0
    }

    /// Whether this is an individual (unicast) address.
    #[inline]
    pub const fn is_unicast(&self) -> bool {
        !self.is_multicast()
    }

    /// Whether the locally administered bit is set.
    #[inline]
    pub const fn is_local(&self) -> bool {
        self.0[0] & 0x02 != 0
    }
}

impl From<[u8; 6]> for Address {
    #[inline]
    fn from(bytes: [u8; 6]) -> Address {
        Address(bytes)
    }
}

impl From<Address> for [u8; 6] {
    #[inline]
    fn from(address: Address) -> [u8; 6] {
        address.0
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d, e, g] = self.0;
        write!(f, "{a:02x}:{b:02x}:{c:02x}:{d:02x}:{e:02x}:{g:02x}")
    }
}

mod field {
    use crate::wire::field::{Field, Rest};

    pub const DESTINATION: Field = 0..6;
    pub const SOURCE: Field = 6..12;
    pub const ETHERTYPE: Field = 12..14;
    pub const PAYLOAD: Rest = 14..;
}

/// Bytes of an Ethernet II header.
pub const HEADER_LEN: usize = field::PAYLOAD.start;

/// Reads a fixed 6-byte address field.
#[inline]
pub(crate) fn read_address(bytes: &[u8]) -> Address {
    let mut a = [0u8; 6];
    a.copy_from_slice(bytes);
    Address(a)
}

/// A read/write view of an Ethernet II frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Frame<T> {
    /// A view of `buffer` without checks; getters panic if it is shorter than [`HEADER_LEN`].
    #[inline]
    pub const fn new_unchecked(buffer: T) -> Frame<T> {
        Frame { buffer }
    }

    /// A view of `buffer`, or [`Error::Truncated`] if it is shorter than the header.
    #[inline]
    pub fn new_checked(buffer: T) -> Result<Frame<T>> {
        let frame = Self::new_unchecked(buffer);
        frame.check_len()?;
        Ok(frame)
    }

    /// Checks that no getter can panic: the buffer holds the header.
    #[inline]
    pub fn check_len(&self) -> Result<()> {
        if self.buffer.as_ref().len() < HEADER_LEN {
            Err(Error::Truncated)
        } else {
            Ok(())
        }
    }

    /// The buffer back.
    #[inline]
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// Bytes of a frame with `payload_len` bytes of payload.
    #[inline]
    pub const fn buffer_len(payload_len: usize) -> usize {
        HEADER_LEN + payload_len
    }

    /// The destination address.
    #[inline]
    pub fn dst_addr(&self) -> Address {
        read_address(&self.buffer.as_ref()[field::DESTINATION])
    }

    /// The source address.
    #[inline]
    pub fn src_addr(&self) -> Address {
        read_address(&self.buffer.as_ref()[field::SOURCE])
    }

    /// The EtherType; [`EtherType::Vlan`] when an 802.1Q tag follows (read it with [`super::vlan::Tag`]).
    #[inline]
    pub fn ethertype(&self) -> EtherType {
        let data = self.buffer.as_ref();
        EtherType::from(read_u16(data, field::ETHERTYPE))
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Frame<&'a T> {
    /// The payload: everything after the header (trailing padding included: Ethernet has no length field).
    #[inline]
    pub fn payload(&self) -> &'a [u8] {
        &self.buffer.as_ref()[field::PAYLOAD]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Frame<T> {
    /// Sets the destination address.
    #[inline]
    pub fn set_dst_addr(&mut self, value: Address) {
        self.buffer.as_mut()[field::DESTINATION].copy_from_slice(&value.0);
    }

    /// Sets the source address.
    #[inline]
    pub fn set_src_addr(&mut self, value: Address) {
        self.buffer.as_mut()[field::SOURCE].copy_from_slice(&value.0);
    }

    /// Swaps source and destination address in place.
    #[inline]
    pub fn swap_addrs(&mut self) {
        let (dst, rest) = self.buffer.as_mut()[..field::SOURCE.end].split_at_mut(field::SOURCE.start);
        dst.swap_with_slice(rest);
    }

    /// Sets the EtherType.
    #[inline]
    pub fn set_ethertype(&mut self, value: EtherType) {
        write_u16(self.buffer.as_mut(), field::ETHERTYPE, u16::from(value));
    }

    /// The payload, writable.
    #[inline]
    pub fn payload_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[field::PAYLOAD]
    }
}

impl<T: AsRef<[u8]>> AsRef<[u8]> for Frame<T> {
    fn as_ref(&self) -> &[u8] {
        self.buffer.as_ref()
    }
}

/// An Ethernet II header as values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repr {
    /// Source address.
    pub src_addr: Address,
    /// Destination address.
    pub dst_addr: Address,
    /// What the payload is.
    pub ethertype: EtherType,
}

impl Repr {
    /// Reads the header of `frame`, checking its length first.
    pub fn parse<T: AsRef<[u8]>>(frame: &Frame<T>) -> Result<Repr> {
        frame.check_len()?;
        Ok(Repr { src_addr: frame.src_addr(), dst_addr: frame.dst_addr(), ethertype: frame.ethertype() })
    }

    /// Bytes of the header this emits.
    #[inline]
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// Writes the header into `frame`.
    ///
    /// # Panics
    /// If the frame's buffer is shorter than [`HEADER_LEN`].
    #[inline]
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, frame: &mut Frame<T>) {
        frame.set_dst_addr(self.dst_addr);
        frame.set_src_addr(self.src_addr);
        frame.set_ethertype(self.ethertype);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FRAME: [u8; 18] = [1, 2, 3, 4, 5, 6, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x08, 0x06, 0xaa, 0xbb, 0xcc, 0xdd];

    #[test]
    fn parse_fields() {
        let frame = Frame::new_checked(&FRAME[..]).unwrap();
        assert_eq!(frame.dst_addr(), Address([1, 2, 3, 4, 5, 6]));
        assert_eq!(frame.src_addr(), Address([0x11, 0x12, 0x13, 0x14, 0x15, 0x16]));
        assert_eq!(frame.ethertype(), EtherType::Arp);
        assert_eq!(frame.payload(), &[0xaa, 0xbb, 0xcc, 0xdd]);
    }

    #[test]
    fn build_round_trips() {
        let repr = Repr {
            src_addr: Address([0x11, 0x12, 0x13, 0x14, 0x15, 0x16]),
            dst_addr: Address([1, 2, 3, 4, 5, 6]),
            ethertype: EtherType::Arp,
        };
        let mut bytes = [0u8; 18];
        let mut frame = Frame::new_unchecked(&mut bytes[..]);
        repr.emit(&mut frame);
        frame.payload_mut().copy_from_slice(&[0xaa, 0xbb, 0xcc, 0xdd]);
        assert_eq!(bytes, FRAME);
        assert_eq!(Repr::parse(&Frame::new_checked(&bytes[..]).unwrap()), Ok(repr));
    }

    #[test]
    fn swap_addrs() {
        let mut bytes = FRAME;
        Frame::new_checked(&mut bytes[..]).unwrap().swap_addrs();
        assert_eq!(&bytes[0..6], &FRAME[6..12]);
        assert_eq!(&bytes[6..12], &FRAME[0..6]);
        assert_eq!(&bytes[12..], &FRAME[12..]);
    }

    #[test]
    fn short_frames_are_truncated() {
        assert_eq!(Frame::new_checked(&FRAME[..13]).unwrap_err(), Error::Truncated);
        assert_eq!(Frame::new_checked(&[][..]).unwrap_err(), Error::Truncated);
        assert_eq!(Frame::new_checked(&FRAME[..14]).unwrap().payload(), &[] as &[u8]);
    }

    #[test]
    fn ethertypes_are_data() {
        assert_eq!(EtherType::from(0x88b5), EtherType::Unknown(0x88b5));
        assert_eq!(u16::from(EtherType::Unknown(0x88b5)), 0x88b5);
        assert_eq!(EtherType::from(0x8100), EtherType::Vlan);
        assert_eq!(u16::from(EtherType::Ipv6), 0x86dd);
        assert_eq!(EtherType::Unknown(0x1234).to_string(), "0x1234");
    }

    #[test]
    fn address_kinds() {
        assert!(Address::BROADCAST.is_broadcast() && Address::BROADCAST.is_multicast());
        assert!(!Address::BROADCAST.is_unicast());
        let mcast = Address([0x01, 0x00, 0x5e, 0, 0, 1]);
        assert!(mcast.is_multicast() && !mcast.is_broadcast());
        let local = Address([2, 0, 0, 0, 0, 1]);
        assert!(local.is_unicast() && local.is_local());
        assert_eq!(local.to_string(), "02:00:00:00:00:01");
    }
}
