//! IPv4 header (RFC 791), options included: the header is `ihl * 4` bytes and the payload ends at the total
//! length, not at the end of the buffer (Ethernet pads short frames to 60 bytes).

use std::net::Ipv4Addr;

use super::checksum;
use super::field::{read_u16, write_u16};
use super::{Error, Result};

enum_with_unknown! {
    /// The protocol field: what the payload is.
    pub enum Protocol(u8) {
        /// ICMP.
        Icmp = 1,
        /// IGMP.
        Igmp = 2,
        /// TCP.
        Tcp = 6,
        /// UDP.
        Udp = 17,
    }
}

mod field {
    use crate::wire::field::Field;

    pub const VER_IHL: usize = 0;
    pub const DSCP_ECN: usize = 1;
    pub const LENGTH: Field = 2..4;
    pub const IDENT: Field = 4..6;
    pub const FLG_OFF: Field = 6..8;
    pub const TTL: usize = 8;
    pub const PROTOCOL: usize = 9;
    pub const CHECKSUM: Field = 10..12;
    pub const SRC_ADDR: Field = 12..16;
    pub const DST_ADDR: Field = 16..20;
}

/// Bytes of a header without options (the least `ihl` allows).
pub const HEADER_LEN: usize = field::DST_ADDR.end;
/// Bytes of the longest header (`ihl` 15).
pub const MAX_HEADER_LEN: usize = 60;

const DONT_FRAG: u16 = 0x4000;
const MORE_FRAGS: u16 = 0x2000;
const FRAG_OFFSET: u16 = 0x1fff;

/// A read/write view of an IPv4 packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

#[inline]
fn read_ipv4(data: &[u8], at: usize) -> Ipv4Addr {
    Ipv4Addr::new(data[at], data[at + 1], data[at + 2], data[at + 3])
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// A view of `buffer` without checks. Header getters panic if it is shorter than [`HEADER_LEN`];
    /// `options` and `payload` if the header's lengths exceed it. A header-only buffer (a template's first 20
    /// bytes) is fine for the fixed fields and [`Packet::fill_checksum`].
    #[inline]
    pub const fn new_unchecked(buffer: T) -> Packet<T> {
        Packet { buffer }
    }

    /// A view of `buffer`, or an error as [`Packet::check_len`] says.
    #[inline]
    pub fn new_checked(buffer: T) -> Result<Packet<T>> {
        let packet = Self::new_unchecked(buffer);
        packet.check_len()?;
        Ok(packet)
    }

    /// Checks that no getter can panic and the header is consistent:
    ///
    /// - [`Error::Truncated`] if the buffer is shorter than 20 bytes, than the header length, or than the
    ///   total length;
    /// - [`Error::Malformed`] if the version is not 4, `ihl` is below 5, or the total length is shorter than
    ///   the header.
    ///
    /// Bytes after the total length (link-layer padding) are allowed and are not payload.
    #[inline]
    pub fn check_len(&self) -> Result<()> {
        let data = self.buffer.as_ref();
        if data.len() < HEADER_LEN {
            return Err(Error::Truncated);
        }
        if self.version() != 4 {
            return Err(Error::Malformed);
        }
        let header_len = self.header_len();
        if header_len < HEADER_LEN {
            return Err(Error::Malformed);
        }
        if header_len > data.len() {
            return Err(Error::Truncated);
        }
        let total_len = usize::from(self.total_len());
        if total_len < header_len {
            return Err(Error::Malformed);
        }
        if total_len > data.len() {
            return Err(Error::Truncated);
        }
        Ok(())
    }

    /// The buffer back.
    #[inline]
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The version (4 in a checked view).
    #[inline]
    pub fn version(&self) -> u8 {
        self.buffer.as_ref()[field::VER_IHL] >> 4
    }

    /// The header length in bytes, options included (`ihl * 4`, 20..=60 in a checked view).
    #[inline]
    pub fn header_len(&self) -> usize {
        usize::from(self.buffer.as_ref()[field::VER_IHL] & 0x0f) * 4
    }

    /// The differentiated services code point.
    #[inline]
    pub fn dscp(&self) -> u8 {
        self.buffer.as_ref()[field::DSCP_ECN] >> 2
    }

    /// The explicit congestion notification bits.
    #[inline]
    pub fn ecn(&self) -> u8 {
        self.buffer.as_ref()[field::DSCP_ECN] & 0x03
    }

    /// The total length: header and payload, not link-layer padding.
    #[inline]
    pub fn total_len(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::LENGTH)
    }

    /// The identification field.
    #[inline]
    pub fn ident(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::IDENT)
    }

    /// The don't-fragment flag.
    #[inline]
    pub fn dont_frag(&self) -> bool {
        read_u16(self.buffer.as_ref(), field::FLG_OFF) & DONT_FRAG != 0
    }

    /// The more-fragments flag.
    #[inline]
    pub fn more_frags(&self) -> bool {
        read_u16(self.buffer.as_ref(), field::FLG_OFF) & MORE_FRAGS != 0
    }

    /// The fragment offset, in bytes.
    #[inline]
    pub fn frag_offset(&self) -> u16 {
        (read_u16(self.buffer.as_ref(), field::FLG_OFF) & FRAG_OFFSET) << 3
    }

    /// Whether this is a fragment (more fragments follow, or it is not the first).
    #[inline]
    pub fn is_fragment(&self) -> bool {
        read_u16(self.buffer.as_ref(), field::FLG_OFF) & (MORE_FRAGS | FRAG_OFFSET) != 0
    }

    /// The time to live.
    #[inline]
    pub fn ttl(&self) -> u8 {
        self.buffer.as_ref()[field::TTL]
    }

    /// The protocol of the payload.
    #[inline]
    pub fn protocol(&self) -> Protocol {
        Protocol::from(self.buffer.as_ref()[field::PROTOCOL])
    }

    /// The header checksum field.
    #[inline]
    pub fn checksum(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::CHECKSUM)
    }

    /// The source address.
    #[inline]
    pub fn src_addr(&self) -> Ipv4Addr {
        read_ipv4(self.buffer.as_ref(), field::SRC_ADDR.start)
    }

    /// The destination address.
    #[inline]
    pub fn dst_addr(&self) -> Ipv4Addr {
        read_ipv4(self.buffer.as_ref(), field::DST_ADDR.start)
    }

    /// Whether the header checksum is correct (over the whole header, options included). False, not a panic,
    /// on an unchecked view whose header is longer than the buffer.
    #[inline]
    pub fn verify_checksum(&self) -> bool {
        let data = self.buffer.as_ref();
        match self.header_len() {
            // The usual header, as a fixed-size sum the compiler unrolls.
            HEADER_LEN => data.get(..HEADER_LEN).is_some_and(|header| checksum::checksum(header) == 0),
            header_len => data.get(..header_len).is_some_and(|header| checksum::checksum(header) == 0),
        }
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Packet<&'a T> {
    /// The options: the header after its first 20 bytes.
    #[inline]
    pub fn options(&self) -> &'a [u8] {
        &self.buffer.as_ref()[HEADER_LEN..self.header_len()]
    }

    /// The payload: from the end of the header to the total length.
    #[inline]
    pub fn payload(&self) -> &'a [u8] {
        &self.buffer.as_ref()[self.header_len()..usize::from(self.total_len())]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Sets the version (its low 4 bits).
    #[inline]
    pub fn set_version(&mut self, value: u8) {
        let data = self.buffer.as_mut();
        data[field::VER_IHL] = (data[field::VER_IHL] & 0x0f) | (value << 4);
    }

    /// Sets the header length in bytes (a multiple of 4, 20..=60; stored as `value / 4`).
    #[inline]
    pub fn set_header_len(&mut self, value: usize) {
        let data = self.buffer.as_mut();
        data[field::VER_IHL] = (data[field::VER_IHL] & 0xf0) | ((value / 4) as u8 & 0x0f);
    }

    /// Sets the differentiated services code point (its low 6 bits).
    #[inline]
    pub fn set_dscp(&mut self, value: u8) {
        let data = self.buffer.as_mut();
        data[field::DSCP_ECN] = (data[field::DSCP_ECN] & 0x03) | (value << 2);
    }

    /// Sets the explicit congestion notification bits (the low 2 bits of `value`).
    #[inline]
    pub fn set_ecn(&mut self, value: u8) {
        let data = self.buffer.as_mut();
        data[field::DSCP_ECN] = (data[field::DSCP_ECN] & !0x03) | (value & 0x03);
    }

    /// Sets the total length.
    #[inline]
    pub fn set_total_len(&mut self, value: u16) {
        write_u16(self.buffer.as_mut(), field::LENGTH, value);
    }

    /// Sets the identification field.
    #[inline]
    pub fn set_ident(&mut self, value: u16) {
        write_u16(self.buffer.as_mut(), field::IDENT, value);
    }

    /// Clears the flags and the fragment offset.
    #[inline]
    pub fn clear_flags(&mut self) {
        write_u16(self.buffer.as_mut(), field::FLG_OFF, 0);
    }

    #[inline]
    fn set_flag(&mut self, bit: u16, value: bool) {
        let raw = read_u16(self.buffer.as_ref(), field::FLG_OFF);
        write_u16(self.buffer.as_mut(), field::FLG_OFF, if value { raw | bit } else { raw & !bit });
    }

    /// Sets the don't-fragment flag.
    #[inline]
    pub fn set_dont_frag(&mut self, value: bool) {
        self.set_flag(DONT_FRAG, value);
    }

    /// Sets the more-fragments flag.
    #[inline]
    pub fn set_more_frags(&mut self, value: bool) {
        self.set_flag(MORE_FRAGS, value);
    }

    /// Sets the fragment offset, in bytes (a multiple of 8).
    #[inline]
    pub fn set_frag_offset(&mut self, value: u16) {
        let raw = read_u16(self.buffer.as_ref(), field::FLG_OFF);
        write_u16(self.buffer.as_mut(), field::FLG_OFF, (raw & !FRAG_OFFSET) | (value >> 3));
    }

    /// Sets the time to live.
    #[inline]
    pub fn set_ttl(&mut self, value: u8) {
        self.buffer.as_mut()[field::TTL] = value;
    }

    /// Sets the protocol.
    #[inline]
    pub fn set_protocol(&mut self, value: Protocol) {
        self.buffer.as_mut()[field::PROTOCOL] = value.into();
    }

    /// Sets the header checksum field.
    #[inline]
    pub fn set_checksum(&mut self, value: u16) {
        write_u16(self.buffer.as_mut(), field::CHECKSUM, value);
    }

    /// Sets the source address.
    #[inline]
    pub fn set_src_addr(&mut self, value: Ipv4Addr) {
        self.buffer.as_mut()[field::SRC_ADDR].copy_from_slice(&value.octets());
    }

    /// Sets the destination address.
    #[inline]
    pub fn set_dst_addr(&mut self, value: Ipv4Addr) {
        self.buffer.as_mut()[field::DST_ADDR].copy_from_slice(&value.octets());
    }

    /// Swaps source and destination address. The header checksum stays valid (a sum does not depend on the
    /// order of its words), so it is not touched.
    #[inline]
    pub fn swap_addrs(&mut self) {
        let (src, dst) = self.buffer.as_mut()[field::SRC_ADDR.start..field::DST_ADDR.end].split_at_mut(4);
        src.swap_with_slice(dst);
    }

    /// Computes and sets the header checksum (over the header, options included; on an unchecked view whose
    /// header is longer than the buffer, over the bytes there are).
    #[inline]
    pub fn fill_checksum(&mut self) {
        self.set_checksum(0);
        let header_len = self.header_len();
        let data = self.buffer.as_ref();
        let csum = if header_len == HEADER_LEN {
            // The usual header, as a fixed-size sum the compiler unrolls.
            checksum::checksum(&data[..HEADER_LEN])
        } else {
            checksum::checksum(&data[..header_len.min(data.len())])
        };
        self.set_checksum(csum);
    }

    /// The options, writable.
    #[inline]
    pub fn options_mut(&mut self) -> &mut [u8] {
        let header_len = self.header_len();
        &mut self.buffer.as_mut()[HEADER_LEN..header_len]
    }

    /// The payload (to the total length), writable.
    #[inline]
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let range = self.header_len()..usize::from(self.total_len());
        &mut self.buffer.as_mut()[range]
    }
}

impl<T: AsRef<[u8]>> AsRef<[u8]> for Packet<T> {
    fn as_ref(&self) -> &[u8] {
        self.buffer.as_ref()
    }
}

/// An IPv4 header as values: what a builder sets. Options, DSCP/ECN and the identification are not kept
/// ([`Repr::emit`] writes a 20-byte header with them zero).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repr {
    /// Source address.
    pub src_addr: Ipv4Addr,
    /// Destination address.
    pub dst_addr: Ipv4Addr,
    /// Protocol of the payload.
    pub protocol: Protocol,
    /// Bytes of payload (total length minus header).
    pub payload_len: usize,
    /// Time to live.
    pub ttl: u8,
}

impl Repr {
    /// Reads `packet`: checks its lengths, then [`Error::Checksum`] if the header checksum is wrong and
    /// [`Error::Unsupported`] if it is a fragment. Options are skipped.
    pub fn parse<T: AsRef<[u8]>>(packet: &Packet<T>) -> Result<Repr> {
        packet.check_len()?;
        if !packet.verify_checksum() {
            return Err(Error::Checksum);
        }
        if packet.is_fragment() {
            return Err(Error::Unsupported);
        }
        Ok(Repr {
            src_addr: packet.src_addr(),
            dst_addr: packet.dst_addr(),
            protocol: packet.protocol(),
            payload_len: usize::from(packet.total_len()) - packet.header_len(),
            ttl: packet.ttl(),
        })
    }

    /// Bytes of the header this emits.
    #[inline]
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// Writes a 20-byte header with total length `20 + payload_len` and its checksum into `packet`; the
    /// payload is not touched.
    ///
    /// # Panics
    /// If the buffer is shorter than [`HEADER_LEN`]. A `payload_len` above `65535 - 20` is a bug (debug
    /// builds assert; release builds write the length modulo 2^16).
    #[inline]
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, packet: &mut Packet<T>) {
        debug_assert!(self.payload_len <= usize::from(u16::MAX) - HEADER_LEN, "IPv4 payload too long");
        packet.set_version(4);
        packet.set_header_len(HEADER_LEN);
        packet.buffer.as_mut()[field::DSCP_ECN] = 0;
        packet.set_total_len((HEADER_LEN + self.payload_len) as u16);
        packet.set_ident(0);
        packet.clear_flags();
        packet.set_ttl(self.ttl);
        packet.set_protocol(self.protocol);
        packet.set_src_addr(self.src_addr);
        packet.set_dst_addr(self.dst_addr);
        packet.fill_checksum();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // 192.168.0.1 -> 192.168.0.199, UDP, total length 28 (8 bytes of payload), DF, TTL 64.
    const PACKET: [u8; 28] = [
        0x45, 0x00, 0x00, 0x1c, 0x12, 0x34, 0x40, 0x00, 0x40, 0x11, 0x00, 0x00, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8,
        0x00, 0xc7, 1, 2, 3, 4, 5, 6, 7, 8,
    ];

    fn packet() -> [u8; 28] {
        let mut bytes = PACKET;
        Packet::new_unchecked(&mut bytes[..]).fill_checksum();
        bytes
    }

    #[test]
    fn parse_fields() {
        let bytes = packet();
        let p = Packet::new_checked(&bytes[..]).unwrap();
        assert_eq!((p.version(), p.header_len(), p.total_len()), (4, 20, 28));
        assert_eq!((p.dscp(), p.ecn(), p.ident(), p.ttl()), (0, 0, 0x1234, 64));
        assert!(p.dont_frag() && !p.more_frags() && !p.is_fragment());
        assert_eq!(p.frag_offset(), 0);
        assert_eq!(p.protocol(), Protocol::Udp);
        assert_eq!(p.src_addr(), Ipv4Addr::new(192, 168, 0, 1));
        assert_eq!(p.dst_addr(), Ipv4Addr::new(192, 168, 0, 199));
        assert_eq!(p.options(), &[] as &[u8]);
        assert_eq!(p.payload(), &[1, 2, 3, 4, 5, 6, 7, 8]);
        assert!(p.verify_checksum());
    }

    #[test]
    fn checksum_known_value() {
        // The same header with total length 0x73 and ident 0 has the well-known checksum b861.
        let mut bytes = [0u8; 20];
        bytes.copy_from_slice(&PACKET[..20]);
        bytes[2..6].copy_from_slice(&[0x00, 0x73, 0x00, 0x00]);
        let mut p = Packet::new_unchecked(&mut bytes[..]);
        p.fill_checksum();
        assert_eq!(p.checksum(), 0xb861);
        assert!(p.verify_checksum());
        p.set_ttl(63);
        assert!(!p.verify_checksum());
    }

    #[test]
    fn build_round_trips() {
        let repr = Repr {
            src_addr: Ipv4Addr::new(198, 18, 0, 1),
            dst_addr: Ipv4Addr::new(198, 18, 0, 2),
            protocol: Protocol::Icmp,
            payload_len: 8,
            ttl: 64,
        };
        let mut bytes = [0xa5u8; 30];
        let mut p = Packet::new_unchecked(&mut bytes[..]);
        repr.emit(&mut p);
        p.payload_mut().copy_from_slice(&[9; 8]);
        assert_eq!(&bytes[..10], &[0x45, 0, 0, 28, 0, 0, 0, 0, 64, 1]);
        assert_eq!(&bytes[12..20], &[198, 18, 0, 1, 198, 18, 0, 2]);
        assert_eq!(checksum::checksum(&bytes[..20]), 0);
        let p = Packet::new_checked(&bytes[..]).unwrap();
        assert_eq!(p.payload(), &[9; 8], "the two bytes of padding are not payload");
        assert_eq!(Repr::parse(&p), Ok(repr));
    }

    #[test]
    fn options_are_honoured() {
        // ihl 6: four bytes of options (NOP NOP NOP EOL), then the payload.
        let mut bytes = [0u8; 32];
        bytes[..20].copy_from_slice(&PACKET[..20]);
        bytes[20..24].copy_from_slice(&[1, 1, 1, 0]);
        bytes[24..32].copy_from_slice(&PACKET[20..]);
        let mut p = Packet::new_unchecked(&mut bytes[..]);
        p.set_header_len(24);
        p.set_total_len(32);
        p.fill_checksum();
        let p = Packet::new_checked(&bytes[..]).unwrap();
        assert_eq!(p.header_len(), 24);
        assert_eq!(p.options(), &[1, 1, 1, 0]);
        assert_eq!(p.payload(), &PACKET[20..]);
        assert!(p.verify_checksum());
        assert_eq!(Repr::parse(&p).unwrap().payload_len, 8);
    }

    #[test]
    fn malformed_and_truncated_are_errors() {
        let bytes = packet();
        assert_eq!(Packet::new_checked(&bytes[..19]).unwrap_err(), Error::Truncated);
        assert_eq!(Packet::new_checked(&bytes[..27]).unwrap_err(), Error::Truncated, "total length beyond buffer");

        let edit = |f: &dyn Fn(&mut Packet<&mut [u8]>)| {
            let mut b = packet();
            f(&mut Packet::new_unchecked(&mut b[..]));
            Packet::new_checked(&b[..]).map(|_| ())
        };
        assert_eq!(edit(&|p| p.set_version(6)), Err(Error::Malformed));
        assert_eq!(edit(&|p| p.set_header_len(16)), Err(Error::Malformed));
        assert_eq!(edit(&|p| p.set_header_len(0)), Err(Error::Malformed));
        assert_eq!(edit(&|p| p.set_header_len(60)), Err(Error::Truncated));
        assert_eq!(edit(&|p| p.set_total_len(19)), Err(Error::Malformed));
        assert_eq!(edit(&|p| p.set_total_len(29)), Err(Error::Truncated));
        assert_eq!(edit(&|p| p.set_total_len(0xffff)), Err(Error::Truncated));
        assert_eq!(edit(&|p| p.set_total_len(20)), Ok(()));
    }

    #[test]
    fn parse_rejects_bad_checksums_and_fragments() {
        let mut bytes = packet();
        bytes[8] = 1; // TTL changed, checksum not
        assert_eq!(Repr::parse(&Packet::new_checked(&bytes[..]).unwrap()), Err(Error::Checksum));
        let mut bytes = packet();
        let mut p = Packet::new_unchecked(&mut bytes[..]);
        p.set_frag_offset(1480);
        p.fill_checksum();
        assert_eq!(p.frag_offset(), 1480);
        assert_eq!(Repr::parse(&p), Err(Error::Unsupported));
    }

    #[test]
    fn swap_keeps_the_checksum() {
        let mut bytes = packet();
        let mut p = Packet::new_checked(&mut bytes[..]).unwrap();
        p.swap_addrs();
        assert_eq!(p.src_addr(), Ipv4Addr::new(192, 168, 0, 199));
        assert_eq!(p.dst_addr(), Ipv4Addr::new(192, 168, 0, 1));
        assert!(p.verify_checksum());
    }

    #[test]
    fn setters() {
        let mut bytes = packet();
        let mut p = Packet::new_checked(&mut bytes[..]).unwrap();
        p.set_dscp(46);
        p.set_ecn(1);
        p.set_dont_frag(false);
        p.set_more_frags(true);
        p.set_ident(7);
        assert_eq!((p.dscp(), p.ecn(), p.dont_frag(), p.more_frags(), p.ident()), (46, 1, false, true, 7));
        assert!(p.is_fragment());
        p.set_protocol(Protocol::from(200));
        assert_eq!(p.protocol(), Protocol::Unknown(200));
        assert_eq!(u8::from(p.protocol()), 200);
    }
}
