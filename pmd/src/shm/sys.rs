//! The endpoint's socket: messages with memory files attached (SCM_RIGHTS), with a deadline, and waiting
//! for the peer to go away. The socket carries only the handshake and the goodbye; packets never touch it.

use super::hello::{Message, MESSAGE_BYTES};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::socket::{recvmsg, sendmsg, ControlMessage, ControlMessageOwned, MsgFlags};
use std::io::{self, IoSlice, IoSliceMut};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::time::Duration;

/// Most files one message carries.
const MAX_FILES: usize = 2;

/// Sends `message` with `files` attached.
pub(super) fn send(stream: &UnixStream, message: &Message, files: &[RawFd]) -> io::Result<()> {
    let bytes = message.encode();
    let iov = [IoSlice::new(&bytes)];
    let rights = [ControlMessage::ScmRights(files)];
    let cmsgs: &[ControlMessage] = if files.is_empty() { &[] } else { &rights };
    let sent = sendmsg::<()>(stream.as_raw_fd(), &iov, cmsgs, MsgFlags::MSG_NOSIGNAL, None)?;
    if sent != MESSAGE_BYTES {
        return Err(io::Error::new(io::ErrorKind::WriteZero, "short message write"));
    }
    Ok(())
}

/// Receives one message and the files attached to it, waiting at most `timeout`. A peer that closed is
/// `UnexpectedEof`; bytes that are not a message are `InvalidData`.
pub(super) fn receive(stream: &UnixStream, timeout: Duration) -> io::Result<(Message, Vec<OwnedFd>)> {
    stream.set_read_timeout(Some(timeout))?;
    let mut bytes = [0u8; MESSAGE_BYTES];
    let mut space = nix::cmsg_space!([RawFd; MAX_FILES]);
    let mut iov = [IoSliceMut::new(&mut bytes)];
    let msg = recvmsg::<()>(stream.as_raw_fd(), &mut iov, Some(&mut space), MsgFlags::MSG_CMSG_CLOEXEC)?;
    let mut files = Vec::new();
    for cmsg in msg.cmsgs()? {
        if let ControlMessageOwned::ScmRights(fds) = cmsg {
            // SAFETY: the kernel just installed these descriptors in this process for us; nothing else owns
            // them.
            files.extend(fds.into_iter().map(|fd| unsafe { OwnedFd::from_raw_fd(fd) }));
        }
    }
    match msg.bytes {
        0 => Err(io::ErrorKind::UnexpectedEof.into()),
        MESSAGE_BYTES => {
            let message = Message::decode(&bytes).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
            Ok((message, files))
        }
        _ => Err(io::Error::new(io::ErrorKind::InvalidData, "short message from the peer")),
    }
}

/// What waiting on a connected socket saw.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Watch {
    /// Nothing within the interval.
    Quiet,
    /// The peer closed (on purpose or by dying), or said goodbye.
    Gone,
}

/// Waits up to `interval` for the peer to go away (its socket becomes readable: end of file, or a
/// goodbye). A message other than goodbye is a protocol error and ends the connection too.
pub(super) fn watch(stream: &UnixStream, interval: Duration) -> Watch {
    if readable(stream, interval) {
        Watch::Gone
    } else {
        Watch::Quiet
    }
}

/// Waits up to `interval` for `fd` to become readable (a connected socket's data or end, a listening
/// socket's next client); false when the interval passed (or a signal cut it short) first.
pub(super) fn readable(fd: &impl AsFd, interval: Duration) -> bool {
    let millis = u16::try_from(interval.as_millis()).unwrap_or(u16::MAX);
    let mut fds = [PollFd::new(fd.as_fd(), PollFlags::POLLIN)];
    !matches!(poll(&mut fds, PollTimeout::from(millis)), Ok(0) | Err(nix::errno::Errno::EINTR))
}
