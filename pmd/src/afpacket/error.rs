//! Why an AF_PACKET port could not be opened: each says what is wrong and, where it can, how to fix it.

use std::io;

/// An AF_PACKET port's control-plane error.
#[derive(Debug, thiserror::Error)]
pub enum AfPacketError {
    /// The kernel has no packet sockets (built without `CONFIG_PACKET`, or the module is not loaded).
    #[error(
        "no AF_PACKET sockets in this kernel (load them with `modprobe af_packet`, or use a kernel built with \
         CONFIG_PACKET)"
    )]
    NoPacketSockets,
    /// Not allowed to open a packet socket.
    #[error(
        "opening a packet socket needs CAP_NET_RAW: run as root or grant it with `setcap cap_net_raw+ep` on \
         the pktloop binary"
    )]
    NotPermitted,
    /// The name is longer than the kernel allows.
    #[error("invalid af-packet interface {name:?}: {len} bytes, valid is 1..={max} bytes")]
    NameTooLong {
        /// The name given.
        name: String,
        /// Its length.
        len: usize,
        /// The limit (IFNAMSIZ - 1).
        max: usize,
    },
    /// The name cannot be an interface's (empty, or with '/', ':', NUL or whitespace).
    #[error("invalid af-packet interface {name:?}: a name has 1..=15 bytes and no '/', ':', NUL or whitespace")]
    BadName {
        /// The name given.
        name: String,
    },
    /// No interface of that name in the network namespace the port is opened in.
    #[error(
        "no interface {name:?} in this network namespace (list them with `ip link show`; the port binds to an \
         existing interface, it does not create one)"
    )]
    NoSuchInterface {
        /// The name given.
        name: String,
    },
    /// The interface is administratively down.
    #[error("interface {name:?} is down: bring it up with `ip link set dev {name} up`")]
    InterfaceDown {
        /// The interface's name.
        name: String,
    },
    /// The interface does not carry Ethernet frames (a tun or IP tunnel device, for example).
    #[error(
        "interface {name:?} is not an Ethernet interface (link type {link_type}): pktloop ports carry Ethernet \
         frames"
    )]
    NotEthernet {
        /// The interface's name.
        name: String,
        /// Its link type (ARPHRD_*).
        link_type: u16,
    },
    /// Queue count out of range.
    #[error("invalid af-packet-queues {value}: valid is 1..={max}")]
    Queues {
        /// The count given.
        value: usize,
        /// Most the port opens (one packet socket per queue in one fanout group).
        max: usize,
    },
    /// A ring setting out of range.
    #[error("invalid {knob} {value}: valid is {min}..={max}{rule}")]
    Ring {
        /// The setting (`af-packet-rx-block-size`, ...).
        knob: &'static str,
        /// The value given.
        value: u64,
        /// Smallest allowed.
        min: u64,
        /// Largest allowed.
        max: u64,
        /// Any further rule, in words (", a power of two"), or nothing.
        rule: &'static str,
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

impl AfPacketError {
    /// Wraps an OS error of `op`.
    pub fn os(op: &'static str) -> impl FnOnce(io::Error) -> AfPacketError {
        move |source| AfPacketError::Os { op, source }
    }

    /// Whether this is a usage error (a missing capability or interface, a bad setting) rather than a
    /// failure of the system.
    pub fn is_usage(&self) -> bool {
        !matches!(self, AfPacketError::Os { .. })
    }

    /// Whether the error is about what the port was asked to open (the interface, its name, kind and
    /// state, the queue count), as opposed to a capability, the kernel or the rings.
    pub fn is_about_the_interface(&self) -> bool {
        matches!(
            self,
            AfPacketError::NameTooLong { .. }
                | AfPacketError::BadName { .. }
                | AfPacketError::NoSuchInterface { .. }
                | AfPacketError::InterfaceDown { .. }
                | AfPacketError::NotEthernet { .. }
                | AfPacketError::Queues { .. }
        )
    }
}
