//! Protocol demux by link-layer type (XNU's `ether_demux`): the EtherType of a frame, the inner one for
//! 802.1Q-tagged frames.

use crate::wire::{EthernetFrame, EtherType, VlanTag};

/// Why a frame has no protocol type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Untyped {
    /// Shorter than an Ethernet header (or its VLAN tag).
    Short,
}

/// The EtherType a frame is demultiplexed on: the outer one, or the inner one of a VLAN-tagged frame.
#[inline]
pub fn ethertype(frame: &[u8]) -> Result<u16, Untyped> {
    let eth = EthernetFrame::new_checked(frame).map_err(|_| Untyped::Short)?;
    match eth.ethertype() {
        EtherType::Vlan => {
            let tag = VlanTag::new_checked(eth.payload()).map_err(|_| Untyped::Short)?;
            Ok(tag.ethertype().into())
        }
        other => Ok(other.into()),
    }
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
