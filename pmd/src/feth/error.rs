//! Control-plane errors, as Apple's `feth_config` / ioctl errnos become Rust values.

use pktloop_engine::pool::PoolError;
use pktloop_engine::KnobError;

/// Why a feth control operation failed. [`FethError::errno`] gives Apple's errno for each.
#[derive(Debug, thiserror::Error)]
pub enum FethError {
    /// No feth interface of that name (`ENXIO`).
    #[error("{name}: no such feth interface")]
    NoSuchPort {
        /// The name asked for.
        name: String,
    },
    /// The name is not a feth interface's (`EINVAL`): only feth ports can be peers.
    #[error("{name}: not a feth interface")]
    NotFeth {
        /// The name asked for.
        name: String,
    },
    /// An interface cannot be its own peer (`EINVAL`).
    #[error("{name}: cannot be its own peer")]
    SelfPeer {
        /// The interface.
        name: String,
    },
    /// One side is already peered or is being destroyed (`EBUSY`).
    #[error("{name}: busy (already peered or detaching)")]
    Busy {
        /// The side that is busy.
        name: String,
    },
    /// Peers must use the same pool mode (`EINVAL`).
    #[error("pool modes differ: {ours} has {ours_mode}, {theirs} has {theirs_mode}")]
    PoolModeMismatch {
        /// The interface asked to peer.
        ours: String,
        /// Its pool mode.
        ours_mode: &'static str,
        /// The would-be peer.
        theirs: String,
        /// The peer's pool mode.
        theirs_mode: &'static str,
    },
    /// Peers must have the same logical links (`EINVAL`): tx queue (link, set) crosses to the peer's rx
    /// queue (link, set). Each side's (links, queue sets per link); (0, 0) without links.
    #[error("logical links differ: {ours} has {} x {}, {theirs} has {} x {} (llink-cnt x qset-cnt)",
            ours_links.0, ours_links.1, theirs_links.0, theirs_links.1)]
    LinkLayoutMismatch {
        /// The interface asked to peer.
        ours: String,
        /// Its links and queue sets per link.
        ours_links: (u32, u32),
        /// The would-be peer.
        theirs: String,
        /// The peer's links and queue sets per link.
        theirs_links: (u32, u32),
    },
    /// MTU outside `[72, max_mtu]` (`EINVAL`).
    #[error("invalid mtu {value}: valid is 72..={max}")]
    Mtu {
        /// The rejected MTU.
        value: u32,
        /// The interface's `max_mtu`.
        max: u32,
    },
    /// A media list longer than 27 words (`EINVAL`).
    #[error("invalid media-list length {len}: valid is 0..={max}")]
    MediaListTooLong {
        /// Words given.
        len: usize,
        /// Most allowed.
        max: usize,
    },
    /// Every unit number (0..=32767) is taken.
    #[error("no free feth unit (all 32768 are in use)")]
    NoFreeUnit,
    /// A knob out of range.
    #[error(transparent)]
    Knob(#[from] KnobError),
    /// The pools could not be created.
    #[error(transparent)]
    Pool(#[from] PoolError),
}

impl FethError {
    /// Apple's errno for this error (`ENXIO` 6, `EBUSY` 16, `EINVAL` 22, `ENOMEM` 12, `ENOSPC` 28).
    pub fn errno(&self) -> i32 {
        match self {
            FethError::NoSuchPort { .. } => libc::ENXIO,
            FethError::Busy { .. } => libc::EBUSY,
            FethError::NoFreeUnit => libc::ENOSPC,
            FethError::Pool(_) => libc::ENOMEM,
            FethError::NotFeth { .. }
            | FethError::SelfPeer { .. }
            | FethError::PoolModeMismatch { .. }
            | FethError::LinkLayoutMismatch { .. }
            | FethError::Mtu { .. }
            | FethError::MediaListTooLong { .. }
            | FethError::Knob(_) => libc::EINVAL,
        }
    }
}
