//! Why a TAP port could not be made or configured: each says what is wrong and, where it can, how to fix
//! it.

use std::io;

/// A TAP port's control-plane error.
#[derive(Debug, thiserror::Error)]
pub enum TapError {
    /// /dev/net/tun is missing (no tun module, or a container without the device).
    #[error(
        "no /dev/net/tun: the kernel's tun driver is not available here (load it with `modprobe tun`, or give \
         the container the device)"
    )]
    NoDevice,
    /// Not allowed to create or configure the interface.
    #[error(
        "creating TAP interface {name:?} needs CAP_NET_ADMIN: run as root or grant it with \
         `setcap cap_net_admin+ep` on the pktloop binary"
    )]
    NotPermitted {
        /// The name asked for.
        name: String,
    },
    /// The name is longer than the kernel allows.
    #[error("invalid tap-name {name:?}: {len} bytes, valid is 1..={max} bytes")]
    NameTooLong {
        /// The name given.
        name: String,
        /// Its length.
        len: usize,
        /// The limit (IFNAMSIZ - 1).
        max: usize,
    },
    /// The name is malformed (empty, '/', whitespace, or several `%d`).
    #[error("invalid tap-name {name:?}: a name has 1..=15 bytes, no '/', ':' or whitespace, at most one %d")]
    BadName {
        /// The name given.
        name: String,
    },
    /// An interface of that name exists and is not a TAP interface we may attach to.
    #[error("invalid tap-name {name:?}: an interface of that name already exists (choose another name)")]
    NameTaken {
        /// The name given.
        name: String,
    },
    /// Queue count out of range.
    #[error("invalid tap-queues {value}: valid is 1..={max}")]
    Queues {
        /// The count given.
        value: usize,
        /// Most the kernel allows.
        max: usize,
    },
    /// MTU out of range or larger than the pool's packets can hold.
    #[error("invalid mtu {value}: valid is {min}..={max} with these pool settings")]
    Mtu {
        /// The MTU given.
        value: u32,
        /// Smallest.
        min: u32,
        /// Largest a packet of the pool holds (frame = MTU + 18).
        max: u32,
    },
    /// Any other system error, with the operation that failed.
    #[error("{op}: {source}")]
    Os {
        /// What was being done.
        op: &'static str,
        /// The error.
        source: io::Error,
    },
}

impl TapError {
    /// Wraps an OS error of `op`.
    pub fn os(op: &'static str) -> impl FnOnce(io::Error) -> TapError {
        move |source| TapError::Os { op, source }
    }

    /// Whether this is a usage error (a missing capability or device, a bad setting) rather than a
    /// failure of the system.
    pub fn is_usage(&self) -> bool {
        !matches!(self, TapError::Os { .. })
    }
}
