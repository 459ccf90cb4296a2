//! Packet metadata: Apple's service classes and the WMM access class derived from them, flags, expiry.

/// Service class, in Apple's model (`MBUF_SC_*`), lowest priority first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
#[repr(u8)]
pub enum ServiceClass {
    /// Background system-initiated.
    BkSys,
    /// Background.
    Bk,
    /// Best effort (the default).
    #[default]
    Be,
    /// Responsive data.
    Rd,
    /// Operations, administration and management.
    Oam,
    /// Multimedia audio/video streaming.
    Av,
    /// Responsive multimedia audio/video.
    Rv,
    /// Interactive video.
    Vi,
    /// Interactive voice.
    Vo,
    /// Network control.
    Ctl,
}

impl ServiceClass {
    /// All classes, lowest first.
    pub const ALL: [ServiceClass; 10] = [
        ServiceClass::BkSys,
        ServiceClass::Bk,
        ServiceClass::Be,
        ServiceClass::Rd,
        ServiceClass::Oam,
        ServiceClass::Av,
        ServiceClass::Rv,
        ServiceClass::Vi,
        ServiceClass::Vo,
        ServiceClass::Ctl,
    ];

    /// The WMM access class the class maps to (`MBUF_SC2TC` then `TC2AC`).
    #[inline]
    pub fn access_class(self) -> AccessClass {
        match self {
            ServiceClass::BkSys | ServiceClass::Bk => AccessClass::Bk,
            ServiceClass::Be | ServiceClass::Rd | ServiceClass::Oam => AccessClass::Be,
            ServiceClass::Av | ServiceClass::Rv | ServiceClass::Vi => AccessClass::Vi,
            ServiceClass::Vo | ServiceClass::Ctl => AccessClass::Vo,
        }
    }
}

/// WMM access class. The discriminant is the feth tx ring it selects: VO 0, VI 1, BE 2, BK 3.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum AccessClass {
    /// Voice: ring 0, drained first.
    Vo = 0,
    /// Video: ring 1.
    Vi = 1,
    /// Best effort: ring 2.
    Be = 2,
    /// Background: ring 3, drained last.
    Bk = 3,
}

impl AccessClass {
    /// In drain order, VO first.
    pub const ALL: [AccessClass; 4] = [AccessClass::Vo, AccessClass::Vi, AccessClass::Be, AccessClass::Bk];

    /// The tx ring index (0..4).
    #[inline]
    pub fn ring(self) -> usize {
        self as usize
    }
}

bitflags::bitflags! {
    /// Per-packet flags.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct PacketFlags: u16 {
        /// A 4-byte FCS was appended to the frame.
        const FCS = 1 << 0;
        /// The IP header checksum was checked...
        const CSUM_IP_CHECKED = 1 << 1;
        /// ...and is valid.
        const CSUM_IP_VALID = 1 << 2;
        /// The transport checksum is valid (`csum_rx_val` 0xffff).
        const CSUM_DATA_VALID = 1 << 3;
        /// The pseudo header was included.
        const CSUM_PSEUDO_HDR = 1 << 4;
        /// A feth trailer was appended to the frame (before the FCS, if any): whoever strips it knows it
        /// is there, as a trailer that did not fit is left off.
        const TRAILER = 1 << 5;
    }
}

impl PacketFlags {
    /// Everything `hwcsum` sets on a received packet.
    pub const HWCSUM: PacketFlags = PacketFlags::CSUM_IP_CHECKED
        .union(PacketFlags::CSUM_IP_VALID)
        .union(PacketFlags::CSUM_DATA_VALID)
        .union(PacketFlags::CSUM_PSEUDO_HDR);
}

/// What the packet asks for when it expires (used with expiry policy 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ExpiryAction {
    /// Drop it and notify.
    #[default]
    Drop,
    /// Send it anyway and notify.
    Notify,
}

/// An expiry deadline on the engine clock ([`crate::time::now_ns`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Expiry {
    /// Deadline, nanoseconds on the engine clock.
    pub deadline_ns: u64,
    /// The packet's own action.
    pub action: ExpiryAction,
}

/// Packet-level metadata (length and headroom are properties of the buflet chain, see [`super::Packet`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PacketMeta {
    /// Service class; selects the WMM ring.
    pub service_class: ServiceClass,
    /// Length of the link-layer header at the front of the data (14 for Ethernet once sent).
    pub link_header_len: u8,
    /// FCS and checksum flags.
    pub flags: PacketFlags,
    /// Flow hash of the frame, set by a receiving port that steers by flow (RSS); meaningless otherwise.
    /// Sits in what was padding: the metadata stays 40 bytes.
    pub rss_hash: u32,
    /// Optional expiry deadline.
    pub expiry: Option<Expiry>,
    /// Caller-chosen packet id, reported in expiry and tx-status events.
    pub packet_id: u64,
    /// Timestamp in nanoseconds on the engine clock (set by the sender, or on receive).
    pub timestamp_ns: u64,
}

// The hash fills padding: a bigger descriptor would cost every packet a cache line share.
const _: () = assert!(std::mem::size_of::<PacketMeta>() == 40);
