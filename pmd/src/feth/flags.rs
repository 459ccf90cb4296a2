//! Interface flags (`if.h`), as feth sets them: broadcast, multicast and simplex at create (Apple's
//! `feth_ifnet_set_attrs`), up and running as the interface is brought up or down.

/// `IFF_UP`.
pub const IFF_UP: u32 = 0x1;
/// `IFF_BROADCAST`.
pub const IFF_BROADCAST: u32 = 0x2;
/// `IFF_RUNNING`: resources allocated (set with up, cleared with down, as feth's ioctl does).
pub const IFF_RUNNING: u32 = 0x40;
/// `IFF_SIMPLEX`: cannot hear its own transmissions.
pub const IFF_SIMPLEX: u32 = 0x800;
/// `IFF_MULTICAST`.
pub const IFF_MULTICAST: u32 = 0x8000;

/// A feth interface's flags while it is `up` or down.
pub const fn if_flags(up: bool) -> u32 {
    let base = IFF_BROADCAST | IFF_MULTICAST | IFF_SIMPLEX;
    if up {
        base | IFF_UP | IFF_RUNNING
    } else {
        base
    }
}
