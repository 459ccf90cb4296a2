//! UDP (RFC 768): ports, length, checksum over the IPv4 pseudo-header and the datagram. The payload ends at
//! the UDP length, not at the end of the buffer. Over IPv4 a checksum of 0 means "none".

use std::net::Ipv4Addr;

use super::checksum;
use super::field::{read_u16, write_u16};
use super::ipv4::Protocol;
use super::{Error, Result};

mod field {
    use crate::wire::field::Field;

    pub const SRC_PORT: Field = 0..2;
    pub const DST_PORT: Field = 2..4;
    pub const LENGTH: Field = 4..6;
    pub const CHECKSUM: Field = 6..8;
}

/// Bytes of the header.
pub const HEADER_LEN: usize = field::CHECKSUM.end;

/// A read/write view of a UDP datagram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// A view of `buffer` without checks. Header getters panic if it is shorter than [`HEADER_LEN`],
    /// `payload` if the length field exceeds it; a header-only buffer is fine for the ports.
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

    /// Checks that no getter can panic: [`Error::Truncated`] if the buffer is shorter than the header or than
    /// the length field, [`Error::Malformed`] if the length field is shorter than the header. Bytes after the
    /// length are allowed and are not payload.
    #[inline]
    pub fn check_len(&self) -> Result<()> {
        let data = self.buffer.as_ref();
        if data.len() < HEADER_LEN {
            return Err(Error::Truncated);
        }
        let len = usize::from(self.len());
        if len < HEADER_LEN {
            return Err(Error::Malformed);
        }
        if len > data.len() {
            return Err(Error::Truncated);
        }
        Ok(())
    }

    /// The buffer back.
    #[inline]
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The source port.
    #[inline]
    pub fn src_port(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::SRC_PORT)
    }

    /// The destination port.
    #[inline]
    pub fn dst_port(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::DST_PORT)
    }

    /// The length field: header and payload.
    #[inline]
    #[allow(clippy::len_without_is_empty)] // a header field, not a collection
    pub fn len(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::LENGTH)
    }

    /// The checksum field (0: none).
    #[inline]
    pub fn checksum(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::CHECKSUM)
    }

    /// Whether the checksum is correct for a datagram from `src` to `dst`; true when there is none (0). False,
    /// not a panic, on an unchecked view whose length field exceeds the buffer.
    #[inline]
    pub fn verify_checksum(&self, src: Ipv4Addr, dst: Ipv4Addr) -> bool {
        if self.checksum() == 0 {
            return true;
        }
        let len = self.len();
        let Some(datagram) = self.buffer.as_ref().get(..usize::from(len)) else { return false };
        let pseudo = checksum::pseudo_header_v4(src, dst, Protocol::Udp, len);
        checksum::combine(&[pseudo, checksum::sum(datagram)]) == 0xffff
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Packet<&'a T> {
    /// The payload: from the end of the header to the length field.
    #[inline]
    pub fn payload(&self) -> &'a [u8] {
        &self.buffer.as_ref()[HEADER_LEN..usize::from(self.len())]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Sets the source port.
    #[inline]
    pub fn set_src_port(&mut self, value: u16) {
        write_u16(self.buffer.as_mut(), field::SRC_PORT, value);
    }

    /// Sets the destination port.
    #[inline]
    pub fn set_dst_port(&mut self, value: u16) {
        write_u16(self.buffer.as_mut(), field::DST_PORT, value);
    }

    /// Sets the length field.
    #[inline]
    pub fn set_len(&mut self, value: u16) {
        write_u16(self.buffer.as_mut(), field::LENGTH, value);
    }

    /// Sets the checksum field (0: none).
    #[inline]
    pub fn set_checksum(&mut self, value: u16) {
        write_u16(self.buffer.as_mut(), field::CHECKSUM, value);
    }

    /// Computes and sets the checksum for a datagram from `src` to `dst`, over the length field's bytes (a
    /// computed 0 is sent as `0xffff`, since 0 means none). On an unchecked view whose length exceeds the
    /// buffer, over the bytes there are.
    #[inline]
    pub fn fill_checksum(&mut self, src: Ipv4Addr, dst: Ipv4Addr) {
        self.set_checksum(0);
        let len = self.len();
        let data = self.buffer.as_ref();
        let datagram = &data[..usize::from(len).min(data.len())];
        let pseudo = checksum::pseudo_header_v4(src, dst, Protocol::Udp, len);
        let csum = !checksum::combine(&[pseudo, checksum::sum(datagram)]);
        self.set_checksum(if csum == 0 { 0xffff } else { csum });
    }

    /// The payload (to the length field), writable.
    #[inline]
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let end = usize::from(self.len());
        &mut self.buffer.as_mut()[HEADER_LEN..end]
    }
}

impl<T: AsRef<[u8]>> AsRef<[u8]> for Packet<T> {
    fn as_ref(&self) -> &[u8] {
        self.buffer.as_ref()
    }
}

/// A UDP header as values; the payload stays in the packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repr {
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
}

impl Repr {
    /// Reads `packet`, a datagram from `src` to `dst`: checks its lengths, then [`Error::Checksum`] if it has
    /// a checksum and it is wrong.
    pub fn parse<T: AsRef<[u8]>>(packet: &Packet<T>, src: Ipv4Addr, dst: Ipv4Addr) -> Result<Repr> {
        packet.check_len()?;
        if !packet.verify_checksum(src, dst) {
            return Err(Error::Checksum);
        }
        Ok(Repr { src_port: packet.src_port(), dst_port: packet.dst_port() })
    }

    /// Bytes of a datagram with `payload_len` bytes of payload.
    #[inline]
    pub const fn buffer_len(&self, payload_len: usize) -> usize {
        HEADER_LEN + payload_len
    }

    /// Writes the header for `payload_len` bytes of payload into `packet`, checksum 0 (none). To add one,
    /// write the payload, then call [`Packet::fill_checksum`].
    ///
    /// # Panics
    /// If the buffer is shorter than [`HEADER_LEN`]. A `payload_len` above `65535 - 8` is a bug (debug builds
    /// assert; release builds write the length modulo 2^16).
    #[inline]
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, packet: &mut Packet<T>, payload_len: usize) {
        debug_assert!(payload_len <= usize::from(u16::MAX) - HEADER_LEN, "UDP payload too long");
        packet.set_src_port(self.src_port);
        packet.set_dst_port(self.dst_port);
        packet.set_len((HEADER_LEN + payload_len) as u16);
        packet.set_checksum(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SRC: Ipv4Addr = Ipv4Addr::new(192, 168, 1, 1);
    const DST: Ipv4Addr = Ipv4Addr::new(192, 168, 1, 2);

    // 1234 -> 5678, "hi!", checksum over pseudo-header and datagram (0xd81a, computed outside this code).
    const DATAGRAM: [u8; 11] = [0x04, 0xd2, 0x16, 0x2e, 0x00, 0x0b, 0xd8, 0x1a, b'h', b'i', b'!'];

    #[test]
    fn parse_fields() {
        let p = Packet::new_checked(&DATAGRAM[..]).unwrap();
        assert_eq!((p.src_port(), p.dst_port(), p.len(), p.checksum()), (1234, 5678, 11, 0xd81a));
        assert_eq!(p.payload(), b"hi!");
        assert!(p.verify_checksum(SRC, DST));
        assert!(!p.verify_checksum(DST, Ipv4Addr::new(192, 168, 1, 3)), "the pseudo-header is covered");
        assert_eq!(Repr::parse(&p, SRC, DST), Ok(Repr { src_port: 1234, dst_port: 5678 }));
    }

    #[test]
    fn build_round_trips() {
        let repr = Repr { src_port: 1234, dst_port: 5678 };
        let mut bytes = [0xa5u8; 13];
        let mut p = Packet::new_unchecked(&mut bytes[..]);
        repr.emit(&mut p, 3);
        assert_eq!(p.checksum(), 0, "emit writes no checksum");
        p.payload_mut().copy_from_slice(b"hi!");
        p.fill_checksum(SRC, DST);
        assert_eq!(&bytes[..11], &DATAGRAM);
        let p = Packet::new_checked(&bytes[..]).unwrap();
        assert_eq!(p.payload(), b"hi!", "bytes after the length are not payload");
        assert_eq!(Repr::parse(&p, SRC, DST), Ok(repr));
    }

    #[test]
    fn zero_checksum_means_none() {
        let mut bytes = DATAGRAM;
        bytes[6..8].fill(0);
        let p = Packet::new_checked(&bytes[..]).unwrap();
        assert!(p.verify_checksum(SRC, DST));
        let mut bytes = DATAGRAM;
        bytes[10] ^= 0xff;
        assert_eq!(Repr::parse(&Packet::new_checked(&bytes[..]).unwrap(), SRC, DST), Err(Error::Checksum));
    }

    #[test]
    fn bad_lengths_are_errors() {
        assert_eq!(Packet::new_checked(&DATAGRAM[..7]).unwrap_err(), Error::Truncated);
        assert_eq!(Packet::new_checked(&DATAGRAM[..10]).unwrap_err(), Error::Truncated, "length beyond buffer");
        let mut bytes = DATAGRAM;
        bytes[4..6].copy_from_slice(&7u16.to_be_bytes());
        assert_eq!(Packet::new_checked(&bytes[..]).unwrap_err(), Error::Malformed);
        bytes[4..6].copy_from_slice(&8u16.to_be_bytes());
        assert!(Packet::new_checked(&bytes[..]).unwrap().payload().is_empty());
    }
}
