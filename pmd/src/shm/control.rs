//! The control thread: owns the endpoint's socket, makes sessions (the server accepting one client at a
//! time, the client reconnecting after a loss), and watches the connection, so that a peer's death is
//! seen the moment its socket closes, with no system call on the data path. It hands sessions and their
//! end to the port through a queue the port looks at only when a generation counter moved.

use super::handshake::{self, Local};
use super::session::Session;
use super::sys::{self, Watch};
use std::collections::VecDeque;
use std::os::unix::net::{UnixListener, UnixStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// How often the thread looks at its stop flag while waiting (and so the most a stop or an abandon
/// waits); a peer's death wakes it at once.
const TICK: Duration = Duration::from_millis(20);
/// How often a client whose server went away tries to connect again.
const RECONNECT_EVERY: Duration = Duration::from_millis(100);

/// A change of connection, for the port to apply in order.
#[derive(Debug)]
pub(super) enum Change {
    /// A peer connected: its session.
    Up(Box<Session>),
    /// The peer went away (or the connection was dropped).
    Down,
}

/// What the control thread and the port share.
#[derive(Debug, Default)]
pub(super) struct Control {
    link_up: AtomicBool,
    /// Bumped after every change is queued: the port's only per-burst look (one load).
    generation: AtomicU64,
    changes: Mutex<VecDeque<Change>>,
    stop: AtomicBool,
    /// Set by the port when the peer broke the rings: the thread drops the connection.
    abandon: AtomicBool,
}

impl Control {
    pub fn link_up(&self) -> bool {
        self.link_up.load(Ordering::Acquire)
    }

    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// The changes queued so far, oldest first.
    pub fn take_changes(&self) -> VecDeque<Change> {
        std::mem::take(&mut *self.changes.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Asks the thread to drop the current connection.
    pub fn abandon(&self) {
        self.abandon.store(true, Ordering::Release);
    }

    /// Asks the thread to stop.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Release);
    }

    fn stopping(&self) -> bool {
        self.stop.load(Ordering::Acquire)
    }

    fn post(&self, change: Change) {
        let up = matches!(change, Change::Up(_));
        self.changes.lock().unwrap_or_else(|p| p.into_inner()).push_back(change);
        self.link_up.store(up, Ordering::Release);
        self.generation.fetch_add(1, Ordering::Release);
    }

    /// Posts `session`, watches `stream` until the peer goes (or the port stops or abandons it), then
    /// posts the end.
    fn run_connection(&self, stream: &UnixStream, session: Session, local: &Local) {
        self.connected(session, local);
        self.watch(stream, local);
    }

    /// Posts `session`: the port's link is up from its next poll.
    fn connected(&self, session: Session, local: &Local) {
        self.abandon.store(false, Ordering::Release);
        self.post(Change::Up(Box::new(session)));
        log::info!("{}: shm peer connected at {}", local.name, local.path.display());
    }

    /// Watches the connection's `stream` until the peer goes (or the port stops or abandons it), then
    /// posts the end.
    fn watch(&self, stream: &UnixStream, local: &Local) {
        loop {
            if self.stopping() || self.abandon.load(Ordering::Acquire) {
                // A goodbye lets the peer tell a deliberate close from a crash in its log; losing it is harmless.
                let _ = sys::send(stream, &super::hello::Message::Bye, &[]);
                break;
            }
            if sys::watch(stream, TICK) == Watch::Gone {
                log::info!("{}: shm peer went away", local.name);
                break;
            }
        }
        self.post(Change::Down);
    }
}

/// Starts the server's thread: one client at a time; the next is accepted when the current one is gone.
pub(super) fn spawn_server(
    listener: UnixListener,
    local: Local,
    control: Arc<Control>,
) -> std::io::Result<JoinHandle<()>> {
    listener.set_nonblocking(true)?;
    std::thread::Builder::new().name(format!("{}-ctl", local.name)).spawn(move || {
        while !control.stopping() {
            let stream = match listener.accept() {
                Ok((stream, _)) => stream,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    // Up to a tick for a client to knock.
                    sys::readable(&listener, TICK);
                    continue;
                }
                Err(e) => {
                    log::warn!("{}: accepting a shm client: {e}", local.name);
                    std::thread::sleep(TICK);
                    continue;
                }
            };
            let accepted = stream.set_nonblocking(false).map_err(super::ShmError::os("configure the socket"));
            match accepted.and_then(|()| handshake::as_server(&stream, &local)) {
                Ok(session) => control.run_connection(&stream, session, &local),
                Err(e) => log::warn!("{}: shm client refused: {e}", local.name),
            }
        }
        let _ = std::fs::remove_file(&local.path);
    })
}

/// Starts the client's thread over its first connection (made by the port, so that a refusal reaches the
/// caller); after a loss it connects again until the port stops.
pub(super) fn spawn_client(
    stream: UnixStream,
    session: Session,
    local: Local,
    control: Arc<Control>,
) -> std::io::Result<JoinHandle<()>> {
    // Posted before the thread starts, so that the port's link is up from its first poll: a client that
    // sends at once (txonly) counted its first bursts as `NoPeer` while this thread was not yet scheduled.
    control.connected(session, &local);
    std::thread::Builder::new().name(format!("{}-ctl", local.name)).spawn(move || {
        control.watch(&stream, &local);
        drop(stream);
        let mut reported = false;
        while !control.stopping() {
            std::thread::sleep(RECONNECT_EVERY);
            let attempt =
                handshake::connect(&local.path).and_then(|s| handshake::as_client(&s, &local).map(|x| (s, x)));
            match attempt {
                Ok((stream, session)) => {
                    control.run_connection(&stream, session, &local);
                    reported = false;
                }
                Err(e) if !reported => {
                    log::info!("{}: reconnecting to the shm server: {e}", local.name);
                    reported = true;
                }
                Err(_) => {}
            }
        }
    })
}
