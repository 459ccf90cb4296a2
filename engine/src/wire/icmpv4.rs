//! ICMP for IPv4 (RFC 792): type, code, checksum over the whole message, and for echo request and reply the
//! identifier, sequence number and data. The view's buffer must be the message exactly (an
//! [`super::ipv4::Packet::payload`], which ends at the IP total length), since the checksum covers all of it.

use super::checksum;
use super::field::{read_u16, write_u16};
use super::{Error, Result};

enum_with_unknown! {
    /// The message type.
    pub enum Message(u8) {
        /// Echo reply (0).
        EchoReply = 0,
        /// Destination unreachable (3).
        DstUnreachable = 3,
        /// Redirect (5).
        Redirect = 5,
        /// Echo request (8).
        EchoRequest = 8,
        /// Router advertisement (9).
        RouterAdvert = 9,
        /// Router solicitation (10).
        RouterSolicit = 10,
        /// Time exceeded (11).
        TimeExceeded = 11,
        /// Parameter problem (12).
        ParamProblem = 12,
        /// Timestamp (13).
        Timestamp = 13,
        /// Timestamp reply (14).
        TimestampReply = 14,
    }
}

mod field {
    use crate::wire::field::{Field, Rest};

    pub const TYPE: usize = 0;
    pub const CODE: usize = 1;
    pub const CHECKSUM: Field = 2..4;
    pub const ECHO_IDENT: Field = 4..6;
    pub const ECHO_SEQNO: Field = 6..8;
    pub const DATA: Rest = 8..;
}

/// Bytes of the header (type, code, checksum and the four bytes that are identifier and sequence in echo).
pub const HEADER_LEN: usize = field::DATA.start;

/// A read/write view of an ICMPv4 message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// A view of `buffer` without checks; getters panic if it is shorter than [`HEADER_LEN`].
    #[inline]
    pub const fn new_unchecked(buffer: T) -> Packet<T> {
        Packet { buffer }
    }

    /// A view of `buffer`, or [`Error::Truncated`] if it is shorter than the header.
    #[inline]
    pub fn new_checked(buffer: T) -> Result<Packet<T>> {
        let packet = Self::new_unchecked(buffer);
        packet.check_len()?;
        Ok(packet)
    }

    /// Checks that no getter can panic: the buffer holds the 8-byte header.
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

    /// The message type.
    #[inline]
    pub fn msg_type(&self) -> Message {
        Message::from(self.buffer.as_ref()[field::TYPE])
    }

    /// The message code.
    #[inline]
    pub fn msg_code(&self) -> u8 {
        self.buffer.as_ref()[field::CODE]
    }

    /// The checksum field.
    #[inline]
    pub fn checksum(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::CHECKSUM)
    }

    /// The echo identifier (echo request and reply).
    #[inline]
    pub fn echo_ident(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::ECHO_IDENT)
    }

    /// The echo sequence number (echo request and reply).
    #[inline]
    pub fn echo_seq_no(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::ECHO_SEQNO)
    }

    /// Whether the checksum over the whole buffer is correct.
    #[inline]
    pub fn verify_checksum(&self) -> bool {
        checksum::checksum(self.buffer.as_ref()) == 0
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Packet<&'a T> {
    /// The data after the header (echo: the bytes the reply returns).
    #[inline]
    pub fn data(&self) -> &'a [u8] {
        &self.buffer.as_ref()[field::DATA]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Sets the message type.
    #[inline]
    pub fn set_msg_type(&mut self, value: Message) {
        self.buffer.as_mut()[field::TYPE] = value.into();
    }

    /// Sets the message code.
    #[inline]
    pub fn set_msg_code(&mut self, value: u8) {
        self.buffer.as_mut()[field::CODE] = value;
    }

    /// Sets the checksum field.
    #[inline]
    pub fn set_checksum(&mut self, value: u16) {
        write_u16(self.buffer.as_mut(), field::CHECKSUM, value);
    }

    /// Sets the echo identifier.
    #[inline]
    pub fn set_echo_ident(&mut self, value: u16) {
        write_u16(self.buffer.as_mut(), field::ECHO_IDENT, value);
    }

    /// Sets the echo sequence number.
    #[inline]
    pub fn set_echo_seq_no(&mut self, value: u16) {
        write_u16(self.buffer.as_mut(), field::ECHO_SEQNO, value);
    }

    /// Computes and sets the checksum over the whole buffer.
    #[inline]
    pub fn fill_checksum(&mut self) {
        self.set_checksum(0);
        let csum = checksum::checksum(self.buffer.as_ref());
        self.set_checksum(csum);
    }

    /// The data after the header, writable.
    #[inline]
    pub fn data_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[field::DATA]
    }
}

impl<T: AsRef<[u8]>> AsRef<[u8]> for Packet<T> {
    fn as_ref(&self) -> &[u8] {
        self.buffer.as_ref()
    }
}

/// An ICMP echo message as values (the messages this crate builds and answers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Repr<'a> {
    /// Echo request.
    EchoRequest {
        /// Identifier.
        ident: u16,
        /// Sequence number.
        seq_no: u16,
        /// Data.
        data: &'a [u8],
    },
    /// Echo reply.
    EchoReply {
        /// Identifier.
        ident: u16,
        /// Sequence number.
        seq_no: u16,
        /// Data.
        data: &'a [u8],
    },
}

impl<'a> Repr<'a> {
    /// Reads `packet`: checks its length, then [`Error::Checksum`] if the checksum is wrong and
    /// [`Error::Unsupported`] unless it is an echo request or reply with code 0.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(packet: &Packet<&'a T>) -> Result<Repr<'a>> {
        packet.check_len()?;
        if !packet.verify_checksum() {
            return Err(Error::Checksum);
        }
        let (ident, seq_no, data) = (packet.echo_ident(), packet.echo_seq_no(), packet.data());
        match (packet.msg_type(), packet.msg_code()) {
            (Message::EchoRequest, 0) => Ok(Repr::EchoRequest { ident, seq_no, data }),
            (Message::EchoReply, 0) => Ok(Repr::EchoReply { ident, seq_no, data }),
            _ => Err(Error::Unsupported),
        }
    }

    /// Bytes this emits: the header and the data.
    #[inline]
    pub const fn buffer_len(&self) -> usize {
        match self {
            Repr::EchoRequest { data, .. } | Repr::EchoReply { data, .. } => HEADER_LEN + data.len(),
        }
    }

    /// Writes the message into `packet` and fills the checksum over its whole buffer, which should be
    /// [`Repr::buffer_len`] bytes.
    ///
    /// # Panics
    /// If the buffer is shorter than [`Repr::buffer_len`].
    #[inline]
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, packet: &mut Packet<T>) {
        let (msg, ident, seq_no, data) = match *self {
            Repr::EchoRequest { ident, seq_no, data } => (Message::EchoRequest, ident, seq_no, data),
            Repr::EchoReply { ident, seq_no, data } => (Message::EchoReply, ident, seq_no, data),
        };
        packet.set_msg_type(msg);
        packet.set_msg_code(0);
        packet.set_echo_ident(ident);
        packet.set_echo_seq_no(seq_no);
        packet.data_mut()[..data.len()].copy_from_slice(data);
        packet.fill_checksum();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Echo request, ident 0x706b, seq 1, data "abcd": checksum 0xc2cc.
    const REQUEST: [u8; 12] = [8, 0, 0xc2, 0xcc, 0x70, 0x6b, 0x00, 0x01, b'a', b'b', b'c', b'd'];

    #[test]
    fn parse_fields() {
        let p = Packet::new_checked(&REQUEST[..]).unwrap();
        assert_eq!((p.msg_type(), p.msg_code(), p.checksum()), (Message::EchoRequest, 0, 0xc2cc));
        assert_eq!((p.echo_ident(), p.echo_seq_no(), p.data()), (0x706b, 1, &b"abcd"[..]));
        assert!(p.verify_checksum());
        assert_eq!(Repr::parse(&p), Ok(Repr::EchoRequest { ident: 0x706b, seq_no: 1, data: b"abcd" }));
    }

    #[test]
    fn build_round_trips() {
        let repr = Repr::EchoRequest { ident: 0x706b, seq_no: 1, data: b"abcd" };
        let mut bytes = [0xa5u8; 12];
        assert_eq!(repr.buffer_len(), bytes.len());
        repr.emit(&mut Packet::new_unchecked(&mut bytes[..]));
        assert_eq!(bytes, REQUEST, "checksum 0xc2cc, computed outside this code");
        let reply = Repr::EchoReply { ident: 0x706b, seq_no: 1, data: b"abcd" };
        reply.emit(&mut Packet::new_unchecked(&mut bytes[..]));
        assert_eq!(Repr::parse(&Packet::new_checked(&bytes[..]).unwrap()), Ok(reply));
    }

    #[test]
    fn bad_inputs_are_errors() {
        assert_eq!(Packet::new_checked(&REQUEST[..7]).unwrap_err(), Error::Truncated);
        assert!(Packet::new_checked(&REQUEST[..8]).unwrap().data().is_empty());
        let mut bytes = REQUEST;
        bytes[11] ^= 1;
        let p = Packet::new_checked(&bytes[..]).unwrap();
        assert!(!p.verify_checksum());
        assert_eq!(Repr::parse(&p), Err(Error::Checksum));
        let mut bytes = REQUEST;
        let mut p = Packet::new_checked(&mut bytes[..]).unwrap();
        p.set_msg_type(Message::from(42));
        p.fill_checksum();
        assert_eq!(p.msg_type(), Message::Unknown(42));
        assert_eq!(Repr::parse(&Packet::new_checked(&bytes[..]).unwrap()), Err(Error::Unsupported));
    }

    #[test]
    fn checksum_covers_the_buffer_only() {
        // Padding after the message changes the checksum: the view must end where the message does.
        let mut padded = [0u8; 14];
        padded[..12].copy_from_slice(&REQUEST);
        padded[12] = 0x55;
        assert!(!Packet::new_checked(&padded[..]).unwrap().verify_checksum());
        assert!(Packet::new_checked(&padded[..12]).unwrap().verify_checksum());
    }
}
