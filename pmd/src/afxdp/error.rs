//! Why an AF_XDP port could not be made: each says what is wrong and, where it can, how to fix it.

use std::io;

/// An AF_XDP port's setup error.
#[derive(Debug, thiserror::Error)]
pub enum AfXdpError {
    /// No interface of that name in this network namespace.
    #[error("no interface {name:?} here (see `ip link`)")]
    NoInterface {
        /// The name given.
        name: String,
    },
    /// The interface is administratively down.
    #[error("interface {name:?} is down: bring it up with `ip link set dev {name} up`")]
    Down {
        /// The name given.
        name: String,
    },
    /// The name is longer than the kernel allows.
    #[error("invalid interface name {name:?}: {len} bytes, valid is 1..={max} bytes")]
    NameTooLong {
        /// The name given.
        name: String,
        /// Its length.
        len: usize,
        /// The limit (IFNAMSIZ - 1).
        max: usize,
    },
    /// Not allowed to open XDP sockets or load the program.
    #[error(
        "AF_XDP on {name:?} needs {what}: run as root or grant it with `setcap \
         cap_net_raw,cap_net_admin,cap_bpf+ep` on the pktloop binary"
    )]
    NotPermitted {
        /// The interface.
        name: String,
        /// The capability that was missing.
        what: &'static str,
    },
    /// The kernel has no AF_XDP sockets (CONFIG_XDP_SOCKETS off).
    #[error("this kernel has no AF_XDP sockets (CONFIG_XDP_SOCKETS): use --port afpacket:IFNAME instead")]
    NoXskSupport,
    /// The interface refused the XDP program in both driver and generic mode.
    #[error("interface {name:?} lacks XDP support: {source}")]
    NoXdp {
        /// The interface.
        name: String,
        /// The kernel's refusal.
        #[source]
        source: io::Error,
    },
    /// The interface refused the mode asked for.
    #[error("interface {name:?} refused AF_XDP {mode}: {source} (--xdp-mode auto takes what it offers)")]
    ModeRefused {
        /// The interface.
        name: String,
        /// What was refused: zero-copy, driver XDP.
        mode: &'static str,
        /// The kernel's refusal.
        #[source]
        source: io::Error,
    },
    /// Zero-copy asked for over buffers that cross pages.
    #[error(
        "AF_XDP zero-copy on {name:?} needs buffers that each lie within a page (a pool made with \
         PoolConfig::chunks, as pktloop's AF_XDP ports are): a zero-copy queue drops a buffer that crosses \
         into a page not contiguous for the device without a word (or --xdp-mode copy)"
    )]
    ZeroCopyNeedsChunks {
        /// The interface.
        name: String,
    },
    /// Another XDP program is attached to the interface.
    #[error("interface {name:?} already has an XDP program attached (see `ip link show dev {name}`)")]
    XdpBusy {
        /// The interface.
        name: String,
    },
    /// Queue count out of range.
    #[error("invalid afxdp queues {value}: valid is 1..={max}")]
    Queues {
        /// The count given.
        value: usize,
        /// The limit.
        max: usize,
    },
    /// Ring size out of range or not a power of two.
    #[error("invalid afxdp ring-size {value}: valid is a power of two in {min}..={max}")]
    RingSize {
        /// The size given.
        value: u32,
        /// Smallest.
        min: u32,
        /// Largest.
        max: u32,
    },
    /// The pool cannot keep the rings supplied.
    #[error(
        "pool of {have} buffers is too small for AF_XDP on {name:?}: its {queues} queue(s) keep {need} \
         buffers with the kernel (raise --pool-size)"
    )]
    PoolTooSmall {
        /// The interface.
        name: String,
        /// Queues asked for.
        queues: usize,
        /// Buffers the pool has.
        have: usize,
        /// Buffers the rings hold at most.
        need: usize,
    },
    /// The pool's buffers lie further apart, or closer, than the kernel's UMEM chunks may be.
    #[error(
        "buffers {stride} bytes apart cannot be AF_XDP's chunks on {name:?}: the kernel takes chunks of \
         {min}..={max} bytes (one page at most); the pool's buffers of {buf_size} bytes are laid out that far \
         apart (pktloop sizes them with --max-mtu: up to 4096)"
    )]
    ChunkSize {
        /// The interface.
        name: String,
        /// Bytes from one buffer to the next.
        stride: u32,
        /// The pool's buffer size.
        buf_size: u32,
        /// The smallest chunk the kernel takes.
        min: u32,
        /// The largest: a page.
        max: u32,
    },
    /// The pool's buffers are too small for the interface's MTU.
    #[error(
        "buffers of {buf_size} bytes are too small for AF_XDP on {name:?} with MTU {mtu}: a frame needs \
         MTU + 18 + {headroom} bytes of headroom (the kernel's, or the pool's if larger; a pool of larger \
         buffers, pktloop's --max-mtu, or a lower MTU)"
    )]
    BuffersTooSmall {
        /// The interface.
        name: String,
        /// Its MTU.
        mtu: u32,
        /// The pool's buffer size.
        buf_size: u32,
        /// The headroom in front of a frame: the kernel's receive headroom, or the pool's if larger.
        headroom: u32,
    },
    /// Binding a queue's socket failed.
    #[error("cannot bind queue {queue} of {name:?}: {source} (does it have that many queues? `ethtool -l {name}`)")]
    Bind {
        /// The interface.
        name: String,
        /// The queue.
        queue: usize,
        /// The kernel's error.
        #[source]
        source: io::Error,
    },
    /// Another system call failed.
    #[error("AF_XDP: cannot {op}: {source}")]
    Os {
        /// What was being done.
        op: &'static str,
        /// The error.
        #[source]
        source: io::Error,
    },
}

impl AfXdpError {
    /// Whether the error is about what the port was asked to open (the interface, its state, the queue
    /// count), as opposed to the pool, the mode or the system.
    pub fn is_about_the_interface(&self) -> bool {
        matches!(
            self,
            AfXdpError::NoInterface { .. }
                | AfXdpError::Down { .. }
                | AfXdpError::NameTooLong { .. }
                | AfXdpError::Queues { .. }
        )
    }

    /// Maps an io::Error of operation `op` to [`AfXdpError::Os`].
    pub(super) fn os(op: &'static str) -> impl Fn(io::Error) -> AfXdpError {
        move |source| AfXdpError::Os { op, source }
    }
}
