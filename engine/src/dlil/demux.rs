//! Protocol demux by link-layer type (XNU's `ether_demux`): the EtherType of a frame, the inner one for
//! 802.1Q-tagged frames.

use crate::wire::{ethernet, EtherType};

/// Where the EtherType sits in an Ethernet header.
const ETHERTYPE: std::ops::Range<usize> = 12..14;
/// Where the inner EtherType of an 802.1Q-tagged frame sits (after the 4-byte tag).
const INNER_ETHERTYPE: std::ops::Range<usize> = 16..18;

/// Why a frame has no protocol type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Untyped {
    /// Shorter than an Ethernet header (or its VLAN tag).
    Short,
}

/// The EtherType a frame is demultiplexed on: the outer one, or the inner one of a VLAN-tagged frame.
/// Read straight from the bytes (this runs for every received packet); `wire::EthernetFrame` and
/// `wire::VlanTag` give the same fields with names.
#[inline]
pub fn ethertype(frame: &[u8]) -> Result<u16, Untyped> {
    debug_assert_eq!(ETHERTYPE.end, ethernet::HEADER_LEN);
    let field = |r: std::ops::Range<usize>| frame.get(r).map(|b| u16::from_be_bytes([b[0], b[1]]));
    match field(ETHERTYPE) {
        Some(t) if t == u16::from(EtherType::Vlan) => field(INNER_ETHERTYPE).ok_or(Untyped::Short),
        Some(t) => Ok(t),
        None => Err(Untyped::Short),
    }
}

/// A frame's type field as it lies in memory (no byte swap, no look inside a VLAN tag), widened, or a value
/// no field has for a frame too short to have one: what a scan compares frames by, cheaply.
#[inline(always)]
pub(super) fn type_field(frame: &[u8]) -> u32 {
    frame.get(ETHERTYPE).map_or(u32::MAX, |b| u32::from(u16::from_ne_bytes([b[0], b[1]])))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_tagged_short_and_unknown_types() {
        let mut f = vec![0u8; 60];
        f[12..14].copy_from_slice(&[0x08, 0x06]);
        assert_eq!(ethertype(&f), Ok(0x0806));
        f[12..14].copy_from_slice(&[0x81, 0x00]);
        f[16..18].copy_from_slice(&[0x86, 0xdd]);
        assert_eq!(ethertype(&f), Ok(0x86dd), "the inner type of a tagged frame");
        f[12..14].copy_from_slice(&[0x12, 0x34]);
        assert_eq!(ethertype(&f), Ok(0x1234), "unknown types are data");
        assert_eq!(ethertype(&f[..13]), Err(Untyped::Short));
        let mut tagged = f[..16].to_vec();
        tagged[12..14].copy_from_slice(&[0x81, 0x00]);
        assert_eq!(ethertype(&tagged), Err(Untyped::Short), "a tag cut short");
    }
}
