//! Why a shared-memory port could not be made or connected: each says what is wrong and what to do.

use super::hello::BadMessage;
use pktloop_engine::error::KnobError;
use pktloop_engine::mem::MemError;
use pktloop_engine::pool::PoolError;
use std::io;
use std::path::PathBuf;

/// A shared-memory port's setup or connection error.
#[derive(Debug, thiserror::Error)]
pub enum ShmError {
    /// A setting is out of range.
    #[error(transparent)]
    Knob(#[from] KnobError),
    /// Nothing listens at the endpoint.
    #[error("no shm server at {path:?}: start one first with `pktloop fwd --port shm:{} --role server`", path.display())]
    NoServer {
        /// The endpoint.
        path: PathBuf,
    },
    /// A live server already has the endpoint.
    #[error("shm endpoint {path:?} is in use by a running server: pick another path")]
    InUse {
        /// The endpoint.
        path: PathBuf,
    },
    /// The two sides disagree on a setting.
    #[error("shm peer refused: {setting} differs (server {server}, client {client}); give both sides the same")]
    Mismatch {
        /// The setting's name.
        setting: &'static str,
        /// The server's value.
        server: u32,
        /// The client's value.
        client: u32,
    },
    /// One side's pool has more buffers than the other maps of a peer's (each buffer of a peer's pool costs
    /// a descriptor on this side).
    #[error(
        "shm peer refused: the {whose} pool of {buffers} buffers is more than its peer maps (max-peer-buffers \
         {max}); give it fewer buffers or raise the peer's limit"
    )]
    PeerPoolTooLarge {
        /// `client's` or `server's`.
        whose: &'static str,
        /// Buffers of that pool.
        buffers: u32,
        /// The peer's limit.
        max: u32,
    },
    /// The peer spoke, but not the protocol.
    #[error("shm peer at {path:?}: {problem}")]
    Protocol {
        /// The endpoint.
        path: PathBuf,
        /// What was wrong.
        problem: String,
    },
    /// The peer sent something that is not a message.
    #[error("shm peer: {0}")]
    BadMessage(#[from] BadMessage),
    /// Shared memory could not be made or mapped.
    #[error(transparent)]
    Mem(#[from] MemError),
    /// The pool could not be made.
    #[error(transparent)]
    Pool(#[from] PoolError),
    /// Another system call failed.
    #[error("shm {op}: {source}")]
    Os {
        /// What was being done.
        op: &'static str,
        /// The OS error.
        #[source]
        source: io::Error,
    },
}

impl ShmError {
    /// Whether the user can fix this by changing what they asked for (the CLI exits with status 2).
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            ShmError::Knob(_)
                | ShmError::NoServer { .. }
                | ShmError::InUse { .. }
                | ShmError::Mismatch { .. }
                | ShmError::PeerPoolTooLarge { .. }
        )
    }

    pub(super) fn os(op: &'static str) -> impl FnOnce(io::Error) -> ShmError {
        move |source| ShmError::Os { op, source }
    }
}
