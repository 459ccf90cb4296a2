//! IEEE 802.1Q VLAN tag: the four bytes after an Ethernet header whose EtherType is [`EtherType::Vlan`] (or
//! [`EtherType::QinQ`]): the tag control information (priority, drop eligible, VLAN id) and the inner
//! EtherType, then the payload. The view is over the Ethernet payload, so a demux reads the inner type with
//! `Tag::new_checked(frame.payload())?.ethertype()`; stacked tags are a tag whose inner type is a tag.

use super::field::{read_u16, write_u16};
use super::{Error, EtherType, Result};

mod field {
    use crate::wire::field::{Field, Rest};

    pub const TCI: Field = 0..2;
    pub const ETHERTYPE: Field = 2..4;
    pub const PAYLOAD: Rest = 4..;
}

/// Bytes of a tag (TCI and inner EtherType).
pub const HEADER_LEN: usize = field::PAYLOAD.start;

const PCP_SHIFT: u16 = 13;
const DEI_BIT: u16 = 1 << 12;
const VID_MASK: u16 = 0x0fff;

/// A read/write view of an 802.1Q tag and what follows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tag<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Tag<T> {
    /// A view of `buffer` without checks; getters panic if it is shorter than [`HEADER_LEN`].
    #[inline]
    pub const fn new_unchecked(buffer: T) -> Tag<T> {
        Tag { buffer }
    }

    /// A view of `buffer`, or [`Error::Truncated`] if it is shorter than the tag.
    #[inline]
    pub fn new_checked(buffer: T) -> Result<Tag<T>> {
        let tag = Self::new_unchecked(buffer);
        tag.check_len()?;
        Ok(tag)
    }

    /// Checks that no getter can panic: the buffer holds the tag.
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

    /// The tag control information: priority (3 bits), drop eligible (1), VLAN id (12).
    #[inline]
    pub fn tci(&self) -> u16 {
        let data = self.buffer.as_ref();
        read_u16(data, field::TCI)
    }

    /// The priority code point (0..=7).
    #[inline]
    pub fn pcp(&self) -> u8 {
        (self.tci() >> PCP_SHIFT) as u8
    }

    /// The drop eligible indicator.
    #[inline]
    pub fn dei(&self) -> bool {
        self.tci() & DEI_BIT != 0
    }

    /// The VLAN id (0..=4095; 0 means priority only, 4095 is reserved: both are data here).
    #[inline]
    pub fn vid(&self) -> u16 {
        self.tci() & VID_MASK
    }

    /// The inner EtherType: what the payload is.
    #[inline]
    pub fn ethertype(&self) -> EtherType {
        let data = self.buffer.as_ref();
        EtherType::from(read_u16(data, field::ETHERTYPE))
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Tag<&'a T> {
    /// The payload after the tag.
    #[inline]
    pub fn payload(&self) -> &'a [u8] {
        &self.buffer.as_ref()[field::PAYLOAD]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Tag<T> {
    /// Sets the whole tag control information.
    #[inline]
    pub fn set_tci(&mut self, value: u16) {
        write_u16(self.buffer.as_mut(), field::TCI, value);
    }

    /// Sets the priority code point (its low 3 bits).
    #[inline]
    pub fn set_pcp(&mut self, value: u8) {
        let tci = (self.tci() & !(0x7 << PCP_SHIFT)) | (u16::from(value & 0x7) << PCP_SHIFT);
        self.set_tci(tci);
    }

    /// Sets the drop eligible indicator.
    #[inline]
    pub fn set_dei(&mut self, value: bool) {
        let tci = if value { self.tci() | DEI_BIT } else { self.tci() & !DEI_BIT };
        self.set_tci(tci);
    }

    /// Sets the VLAN id (its low 12 bits).
    #[inline]
    pub fn set_vid(&mut self, value: u16) {
        let tci = (self.tci() & !VID_MASK) | (value & VID_MASK);
        self.set_tci(tci);
    }

    /// Sets the inner EtherType.
    #[inline]
    pub fn set_ethertype(&mut self, value: EtherType) {
        write_u16(self.buffer.as_mut(), field::ETHERTYPE, u16::from(value));
    }

    /// The payload after the tag, writable.
    #[inline]
    pub fn payload_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[field::PAYLOAD]
    }
}

impl<T: AsRef<[u8]>> AsRef<[u8]> for Tag<T> {
    fn as_ref(&self) -> &[u8] {
        self.buffer.as_ref()
    }
}

/// An 802.1Q tag as values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repr {
    /// Priority code point (0..=7).
    pub pcp: u8,
    /// Drop eligible indicator.
    pub dei: bool,
    /// VLAN id (0..=4095).
    pub vid: u16,
    /// The inner EtherType.
    pub ethertype: EtherType,
}

impl Repr {
    /// Reads `tag`, checking its length first.
    pub fn parse<T: AsRef<[u8]>>(tag: &Tag<T>) -> Result<Repr> {
        tag.check_len()?;
        Ok(Repr { pcp: tag.pcp(), dei: tag.dei(), vid: tag.vid(), ethertype: tag.ethertype() })
    }

    /// Bytes of the tag this emits.
    #[inline]
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// Writes the tag into `tag` (`pcp` and `vid` cut to their 3 and 12 bits).
    ///
    /// # Panics
    /// If the buffer is shorter than [`HEADER_LEN`].
    #[inline]
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, tag: &mut Tag<T>) {
        let dei = if self.dei { DEI_BIT } else { 0 };
        tag.set_tci((u16::from(self.pcp & 0x7) << PCP_SHIFT) | dei | (self.vid & VID_MASK));
        tag.set_ethertype(self.ethertype);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::EthernetFrame;

    // dst, src, 8100, TCI (pcp 5, dei 1, vid 0x123), inner IPv4, two payload bytes.
    const FRAME: [u8; 20] = [1, 2, 3, 4, 5, 6, 2, 0, 0, 0, 0, 1, 0x81, 0x00, 0xb1, 0x23, 0x08, 0x00, 0xaa, 0xbb];

    #[test]
    fn demux_reads_the_inner_type() {
        let frame = EthernetFrame::new_checked(&FRAME[..]).unwrap();
        assert_eq!(frame.ethertype(), EtherType::Vlan);
        let tag = Tag::new_checked(frame.payload()).unwrap();
        assert_eq!((tag.pcp(), tag.dei(), tag.vid()), (5, true, 0x123));
        assert_eq!(tag.ethertype(), EtherType::Ipv4);
        assert_eq!(tag.payload(), &[0xaa, 0xbb]);
    }

    #[test]
    fn build_round_trips() {
        let repr = Repr { pcp: 5, dei: true, vid: 0x123, ethertype: EtherType::Ipv4 };
        let mut bytes = [0u8; 6];
        let mut tag = Tag::new_unchecked(&mut bytes[..]);
        repr.emit(&mut tag);
        tag.payload_mut().copy_from_slice(&[0xaa, 0xbb]);
        assert_eq!(&bytes, &FRAME[14..]);
        assert_eq!(Repr::parse(&Tag::new_checked(&bytes[..]).unwrap()), Ok(repr));
    }

    #[test]
    fn setters_keep_the_other_bits() {
        let mut bytes = [0xb1, 0x23, 0x08, 0x00];
        let mut tag = Tag::new_checked(&mut bytes[..]).unwrap();
        tag.set_vid(0xfff);
        assert_eq!((tag.pcp(), tag.dei(), tag.vid()), (5, true, 0xfff));
        tag.set_pcp(2);
        tag.set_dei(false);
        assert_eq!((tag.pcp(), tag.dei(), tag.vid()), (2, false, 0xfff));
        tag.set_pcp(0xff);
        assert_eq!(tag.pcp(), 7);
    }

    #[test]
    fn short_tags_are_truncated() {
        assert_eq!(Tag::new_checked(&FRAME[14..17]).unwrap_err(), Error::Truncated);
        assert_eq!(Tag::new_checked(&FRAME[14..18]).unwrap().payload(), &[] as &[u8]);
    }
}
