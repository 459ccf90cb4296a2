//! Packet formats: checked views over bytes, one file per protocol, as smoltcp's `wire` module.
//!
//! Each protocol has a view (`Frame<T>` / `Packet<T>` / `Tag<T>`) over any `T: AsRef<[u8]>`:
//!
//! - `new_checked(buffer)` checks the buffer is long enough for the header and for every length the header
//!   declares (and, where the layout depends on it, that the header is well formed); after it succeeds no
//!   getter can panic and payloads end where the header says, not where the buffer does;
//! - `new_unchecked(buffer)` trusts the caller, for builders and for fixed layouts the caller made; getters
//!   index with the `field` constants and panic if the buffer is too short;
//! - getters on `T: AsRef<[u8]>`, setters and `payload_mut` on `T: AsRef<[u8]> + AsMut<[u8]>`;
//! - values the module has no name for are data (`EtherType::Unknown(0x88b5)`), never an error.
//!
//! Where a header is more handy as plain values, a `Repr` (`Ipv4Repr`, `UdpRepr`, ...) parses from a view
//! (checking lengths and checksums) and emits into one.
//!
//! The layers, bottom up: [`ethernet`] (and the 802.1Q tag in [`vlan`]), [`arp`], [`ipv4`], [`icmpv4`],
//! [`udp`]; [`checksum`] holds the internet checksum they share.
//!
//! ```
//! use std::net::Ipv4Addr;
//! use pktloop_engine::wire::{
//!     EtherType, EthernetAddress, EthernetFrame, EthernetRepr, IpProtocol, Ipv4Packet, Ipv4Repr, UdpPacket,
//!     UdpRepr,
//! };
//!
//! let (src, dst) = (Ipv4Addr::new(198, 18, 0, 1), Ipv4Addr::new(198, 18, 0, 2));
//! // Build: a 60-byte frame (the IP packet is 30 bytes; the rest is padding).
//! let mut bytes = [0u8; 60];
//! let mut frame = EthernetFrame::new_unchecked(&mut bytes[..]);
//! let eth = EthernetRepr {
//!     src_addr: EthernetAddress([2, 0, 0, 0, 0, 1]),
//!     dst_addr: EthernetAddress::BROADCAST,
//!     ethertype: EtherType::Ipv4,
//! };
//! eth.emit(&mut frame);
//! let mut ip = Ipv4Packet::new_unchecked(frame.payload_mut());
//! Ipv4Repr { src_addr: src, dst_addr: dst, protocol: IpProtocol::Udp, payload_len: 10, ttl: 64 }.emit(&mut ip);
//! let mut udp = UdpPacket::new_unchecked(ip.payload_mut());
//! UdpRepr { src_port: 1024, dst_port: 9 }.emit(&mut udp, 2);
//! udp.payload_mut().copy_from_slice(b"hi");
//! udp.fill_checksum(src, dst);
//!
//! // Parse: every view checked, each payload ending where its header says.
//! let frame = EthernetFrame::new_checked(&bytes[..])?;
//! assert_eq!(frame.ethertype(), EtherType::Ipv4);
//! let ip = Ipv4Packet::new_checked(frame.payload())?;
//! assert_eq!(Ipv4Repr::parse(&ip)?.protocol, IpProtocol::Udp);
//! let udp = UdpPacket::new_checked(ip.payload())?;
//! assert_eq!(UdpRepr::parse(&udp, src, dst)?.dst_port, 9);
//! assert_eq!(udp.payload(), b"hi", "the frame's padding is not UDP payload");
//! # Ok::<(), pktloop_engine::wire::Error>(())
//! ```

/// Declares an enum over an integer type whose values without a name are `Unknown(value)`, with `From`
/// both ways. A known value always converts to its named variant; `Unknown` with a known value compares
/// unequal to it (as in smoltcp), so build values with `From`.
macro_rules! enum_with_unknown {
    (
        $( #[$enum_attr:meta] )*
        pub enum $name:ident($ty:ty) {
            $(
                $( #[$variant_attr:meta] )*
                $variant:ident = $value:literal
            ),+ $(,)?
        }
    ) => {
        $( #[$enum_attr] )*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $(
                $( #[$variant_attr] )*
                $variant,
            )+
            /// A value without a name here, kept as data.
            Unknown($ty),
        }

        impl ::core::convert::From<$ty> for $name {
            #[inline]
            fn from(value: $ty) -> Self {
                match value {
                    $( $value => $name::$variant, )+
                    other => $name::Unknown(other),
                }
            }
        }

        impl ::core::convert::From<$name> for $ty {
            #[inline]
            fn from(value: $name) -> Self {
                match value {
                    $( $name::$variant => $value, )+
                    $name::Unknown(other) => other,
                }
            }
        }
    };
}

pub mod arp;
pub mod checksum;
pub mod ethernet;
pub mod icmpv4;
pub mod ipv4;
pub mod udp;
pub mod vlan;

pub use arp::{Hardware as ArpHardware, Operation as ArpOperation, Packet as ArpPacket, Repr as ArpRepr};
pub use ethernet::{Address as EthernetAddress, EtherType, Frame as EthernetFrame, Repr as EthernetRepr};
pub use icmpv4::{Message as Icmpv4Message, Packet as Icmpv4Packet, Repr as Icmpv4Repr};
pub use ipv4::{Packet as Ipv4Packet, Protocol as IpProtocol, Repr as Ipv4Repr};
pub use udp::{Packet as UdpPacket, Repr as UdpRepr};
pub use vlan::{Repr as VlanRepr, Tag as VlanTag};

/// Field offsets: a fixed range, or everything from an offset on.
pub(crate) mod field {
    /// Bytes `start..end` of a header.
    pub type Field = core::ops::Range<usize>;
    /// Bytes from an offset to the end of the buffer.
    pub type Rest = core::ops::RangeFrom<usize>;

    /// The big-endian 16-bit value of the two-byte `field` (panics if `data` is shorter; views check
    /// lengths first).
    #[inline]
    pub fn read_u16(data: &[u8], field: Field) -> u16 {
        u16::from_be_bytes([data[field.start], data[field.start + 1]])
    }

    /// Writes `value` big-endian into the two-byte `field`.
    #[inline]
    pub fn write_u16(data: &mut [u8], field: Field, value: u16) {
        data[field].copy_from_slice(&value.to_be_bytes());
    }
}

/// Why bytes are not a valid packet of a format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum Error {
    /// The buffer is shorter than the header, or than a length the header declares.
    #[error("truncated: the buffer is shorter than the header or the lengths it declares")]
    Truncated,
    /// A field contradicts the format (IPv4 version other than 4, a length shorter than the header).
    #[error("malformed header")]
    Malformed,
    /// The checksum does not match the bytes (`Repr::parse` only; views report it with `verify_checksum`).
    #[error("bad checksum")]
    Checksum,
    /// Well formed but outside what a `Repr` describes (an ARP for another protocol, an IPv4 fragment, an
    /// ICMP message other than echo).
    #[error("valid but unsupported")]
    Unsupported,
}

/// Result of parsing bytes.
pub type Result<T> = core::result::Result<T, Error>;

#[cfg(any(test, fuzzing))]
pub mod exercise;
#[cfg(test)]
mod tests;
