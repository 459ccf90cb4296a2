//! Connecting two sides: the endpoint (bound by the server, stale sockets of dead servers replaced), and
//! the exchange that turns a connected socket into a [`Session`]: settings compared, pools and channel
//! mapped.

use super::error::ShmError;
use super::hello::{setting_name, setting_number, Agreed, Message, PoolShape, POOL_TOO_LARGE};
use super::layout::{channel_bytes, Role};
use super::session::Session;
use super::sys;
use pktloop_engine::mem::{Prefer, Region};
use pktloop_engine::pool::PoolConfig;
use pktloop_engine::Pool;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How long one side waits for the other's next handshake message.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(2);

/// What this side is and shares.
#[derive(Debug)]
pub(super) struct Local {
    pub name: String,
    pub path: PathBuf,
    pub agreed: Agreed,
    /// This side's pool, as the peer will map it.
    pub shape: PoolShape,
    /// The pool's memory file.
    pub pool_file: OwnedFd,
    /// Most buffers of a peer's pool this side maps.
    pub max_peer_buffers: u32,
}

/// Binds the endpoint at `path`, replacing a socket file no server answers on any more.
pub(super) fn bind(path: &Path) -> Result<UnixListener, ShmError> {
    match UnixListener::bind(path) {
        Err(e) if e.kind() == io::ErrorKind::AddrInUse => {
            if UnixStream::connect(path).is_ok() {
                return Err(ShmError::InUse { path: path.into() });
            }
            std::fs::remove_file(path).map_err(ShmError::os("remove a stale endpoint"))?;
            UnixListener::bind(path).map_err(ShmError::os("bind the endpoint"))
        }
        other => other.map_err(ShmError::os("bind the endpoint")),
    }
}

/// Connects to the server at `path`.
pub(super) fn connect(path: &Path) -> Result<UnixStream, ShmError> {
    UnixStream::connect(path).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound | io::ErrorKind::ConnectionRefused => ShmError::NoServer { path: path.into() },
        _ => ShmError::Os { op: "connect to the endpoint", source: e },
    })
}

/// The client's half: says hello with its pool, then maps what the server answers.
pub(super) fn as_client(stream: &UnixStream, local: &Local) -> Result<Session, ShmError> {
    let hello = Message::Hello { agreed: local.agreed, pool: local.shape };
    sys::send(stream, &hello, &[local.pool_file.as_raw_fd()]).map_err(ShmError::os("send the hello"))?;
    let (answer, files) = receive(stream, local)?;
    let (agreed, pool, bytes) = match answer {
        Message::Welcome { agreed, pool, channel_bytes } => (agreed, pool, channel_bytes),
        Message::Refused { setting: POOL_TOO_LARGE, server, client } => {
            return Err(ShmError::PeerPoolTooLarge { whose: "client's", buffers: client, max: server })
        }
        Message::Refused { setting, server, client } => {
            return Err(ShmError::Mismatch { setting: setting_name(setting), server, client })
        }
        other => return Err(protocol(local, format!("expected a welcome, got {other:?}"))),
    };
    if let Some((setting, client, server)) = local.agreed.first_difference(&agreed) {
        return Err(ShmError::Mismatch { setting, server, client });
    }
    if pool.buffers > local.max_peer_buffers {
        return Err(ShmError::PeerPoolTooLarge {
            whose: "server's",
            buffers: pool.buffers,
            max: local.max_peer_buffers,
        });
    }
    if bytes < channel_bytes(local.agreed.ring_size) as u64 {
        return Err(protocol(local, format!("a channel of {bytes} bytes cannot hold its rings")));
    }
    let [channel_file, pool_file]: [OwnedFd; 2] =
        files.try_into().map_err(|f: Vec<_>| protocol(local, format!("welcome carried {} files, not 2", f.len())))?;
    let channel = Region::map_peer(channel_file, bytes as usize)?;
    let peer = peer_pool(local, pool, pool_file)?;
    Ok(Session::new(channel, local.agreed.ring_size, Role::Client, peer, local.shape.buffers))
}

/// The server's half: checks the client's hello, refusing a mismatch with the setting and both values,
/// then makes the channel and answers with it and its own pool.
pub(super) fn as_server(stream: &UnixStream, local: &Local) -> Result<Session, ShmError> {
    let (hello, files) = receive(stream, local)?;
    let Message::Hello { agreed, pool } = hello else {
        return Err(protocol(local, format!("expected a hello, got {hello:?}")));
    };
    if let Some((setting, server, client)) = local.agreed.first_difference(&agreed) {
        let refusal = Message::Refused { setting: setting_number(setting), server, client };
        // The refusal is a courtesy: the client learns the same from the closed socket if it is lost.
        let _ = sys::send(stream, &refusal, &[]);
        return Err(ShmError::Mismatch { setting, server, client });
    }
    if pool.buffers > local.max_peer_buffers {
        let refusal =
            Message::Refused { setting: POOL_TOO_LARGE, server: local.max_peer_buffers, client: pool.buffers };
        let _ = sys::send(stream, &refusal, &[]);
        return Err(ShmError::PeerPoolTooLarge {
            whose: "client's",
            buffers: pool.buffers,
            max: local.max_peer_buffers,
        });
    }
    let [pool_file]: [OwnedFd; 1] =
        files.try_into().map_err(|f: Vec<_>| protocol(local, format!("hello carried {} files, not 1", f.len())))?;
    let peer = peer_pool(local, pool, pool_file)?;
    let bytes = channel_bytes(local.agreed.ring_size);
    let (channel, channel_file) = Region::shared(&format!("{}-channel", local.name), bytes, Prefer::Normal)?;
    let welcome = Message::Welcome { agreed: local.agreed, pool: local.shape, channel_bytes: channel.len() as u64 };
    let files = [channel_file.as_raw_fd(), local.pool_file.as_raw_fd()];
    sys::send(stream, &welcome, &files).map_err(ShmError::os("send the welcome"))?;
    Ok(Session::new(channel, local.agreed.ring_size, Role::Server, peer, local.shape.buffers))
}

fn receive(stream: &UnixStream, local: &Local) -> Result<(Message, Vec<OwnedFd>), ShmError> {
    sys::receive(stream, HANDSHAKE_TIMEOUT).map_err(|e| match e.kind() {
        io::ErrorKind::UnexpectedEof => protocol(local, "closed the connection during the handshake".into()),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => protocol(local, "did not answer in time".into()),
        _ => ShmError::Os { op: "receive a handshake message", source: e },
    })
}

/// The peer's pool, mapped here with every buffer out (see [`Pool::over_lent_buffers`]).
fn peer_pool(local: &Local, shape: PoolShape, file: OwnedFd) -> Result<Pool, ShmError> {
    let region = Region::map_peer(file, shape.bytes as usize)?;
    let mut config = PoolConfig::new(format!("{}-peer", local.name), shape.buffers, shape.buf_size);
    config.max_buflets = shape.max_buflets as u16;
    config.headroom = shape.headroom;
    // SAFETY: the protocol has the peer write a buffer only while it is its own (not lent to us), which a
    // peer that keeps the protocol (a crashing one too) does. A hostile peer that writes anyway breaks this
    // contract: the known soundness limit of zero copy the module docs state.
    Ok(unsafe { Pool::over_lent_buffers(config, region) }?)
}

fn protocol(local: &Local, problem: String) -> ShmError {
    ShmError::Protocol { path: local.path.clone(), problem }
}
