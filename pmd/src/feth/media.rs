//! Media words (`if_media.h`) and feth's default media list.

/// `IFM_ETHER`: the network type of every word here.
pub const IFM_ETHER: u32 = 0x20;
/// `IFM_FDX`: full duplex.
pub const IFM_FDX: u32 = 0x0010_0000;
/// `IFM_AVALID`: the active bit is valid.
pub const IFM_AVALID: u32 = 0x1;
/// `IFM_ACTIVE`: attached to a working network (a feth is when it has a peer).
pub const IFM_ACTIVE: u32 = 0x2;
/// Most words a media list may hold (`IF_FAKE_MEDIA_LIST_MAX`).
pub const MEDIA_LIST_MAX: usize = 27;

/// `IFM_X`: extended subtypes keep their low 5 bits in place and move the rest to bits 16..20.
const fn ifm_x(subtype: u32) -> u32 {
    (subtype & 0x1f) | ((subtype & (0x000f_0000 >> 11)) << 11)
}

const fn word(subtype: u32, options: u32) -> u32 {
    IFM_ETHER | subtype | options
}

/// The 13 words a new feth advertises: auto, 10G-T, 2.5G-T, 5G-T, 10G-KX4, 20G-KR2, 2.5G-SX, 25G-KR,
/// 40G-SR4, 50G-CR2, 56G-R4, 100G-CR4, 400G-AUI8 (all full duplex but auto).
pub const DEFAULT_MEDIA: [u32; 13] = [
    word(0, 0),
    word(21, IFM_FDX),
    word(22, IFM_FDX),
    word(23, IFM_FDX),
    word(26, IFM_FDX),
    word(30, IFM_FDX),
    word(ifm_x(32), IFM_FDX),
    word(ifm_x(54), IFM_FDX),
    word(ifm_x(38), IFM_FDX),
    word(ifm_x(56), IFM_FDX),
    word(ifm_x(51), IFM_FDX),
    word(ifm_x(47), IFM_FDX),
    word(ifm_x(117), IFM_FDX),
];

/// What `SIOCGIFMEDIA` reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaStatus {
    /// `IFM_AVALID`, plus `IFM_ACTIVE` when peered.
    pub status: u32,
    /// Current and active word: `IFM_ETHER`.
    pub current: u32,
    /// The media list.
    pub list: Vec<u32>,
}

impl MediaStatus {
    /// True when the interface is attached to a peer.
    pub fn is_active(&self) -> bool {
        self.status & IFM_ACTIVE != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extended_subtypes_match_if_media_h() {
        // IFM_2500_SX = IFM_X(32) = 0x10000; IFM_400G_AUI8 = IFM_X(117) = 0x15 | 0x30000.
        assert_eq!(ifm_x(32), 0x10000);
        assert_eq!(ifm_x(117), 0x30015);
        assert_eq!(DEFAULT_MEDIA[0], 0x20);
        assert_eq!(DEFAULT_MEDIA[1], 0x20 | 21 | 0x0010_0000);
        let mut sorted = DEFAULT_MEDIA.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), 13, "every default word is distinct");
    }
}
