//! Every system call of the TAP driver: opening /dev/net/tun, the interface ioctls, vectored reads and
//! writes, and the io_uring batch. The rest of the driver has no `unsafe` code of its own: it calls this
//! module's `unsafe fn`s (each call with the SAFETY line its contract asks for) and marks its batch of
//! iovecs `Send`.

use std::ffi::CStr;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// The clone device.
pub const TUN_PATH: &CStr = c"/dev/net/tun";

/// Longest interface name, without the terminating NUL (IFNAMSIZ - 1).
pub const MAX_NAME: usize = libc::IFNAMSIZ - 1;

/// Result of a call that returns -1 and sets errno.
fn check(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// An `ifreq` naming `name` (at most [`MAX_NAME`] bytes, checked by the caller).
fn ifreq(name: &str) -> libc::ifreq {
    // SAFETY: ifreq is plain old data (arrays and a union of integers and arrays); all zeroes is valid.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, &src) in req.ifr_name.iter_mut().zip(name.as_bytes().iter().take(MAX_NAME)) {
        *dst = src as libc::c_char;
    }
    req
}

/// The name an `ifreq` holds.
fn name_of(req: &libc::ifreq) -> String {
    let bytes: Vec<u8> = req.ifr_name.iter().take_while(|&&c| c != 0).map(|&c| c as u8).collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Opens one queue of TAP interface `name` (a `%d` pattern lets the kernel choose), non-blocking, without
/// packet information, as a queue of a multi-queue interface when `multi_queue`. Returns the fd and the
/// interface's name.
pub fn open_queue(name: &str, multi_queue: bool) -> io::Result<(OwnedFd, String)> {
    // SAFETY: the path is NUL-terminated; open has no other precondition.
    let raw = check(unsafe { libc::open(TUN_PATH.as_ptr(), libc::O_RDWR | libc::O_NONBLOCK | libc::O_CLOEXEC) })?;
    // SAFETY: `raw` was just opened and is owned by nobody else.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    let mut req = ifreq(name);
    let mut flags = libc::IFF_TAP | libc::IFF_NO_PI;
    if multi_queue {
        flags |= libc::IFF_MULTI_QUEUE;
    }
    req.ifr_ifru.ifru_flags = flags as libc::c_short;
    // SAFETY: TUNSETIFF reads and writes one ifreq, which `req` is.
    check(unsafe { libc::ioctl(fd.as_raw_fd(), libc::TUNSETIFF, &mut req) })?;
    Ok((fd, name_of(&req)))
}

/// The interface's current name (it may be renamed from outside; the fd stays attached).
pub fn interface_name(fd: &OwnedFd) -> io::Result<String> {
    let mut req = ifreq("");
    // SAFETY: TUNGETIFF writes one ifreq, which `req` is.
    check(unsafe { libc::ioctl(fd.as_raw_fd(), libc::TUNGETIFF, &mut req) })?;
    Ok(name_of(&req))
}

/// The interface's Ethernet address, asked through its tun fd (valid in whichever namespace it now is).
pub fn hw_addr(fd: &OwnedFd) -> io::Result<[u8; 6]> {
    let mut req = ifreq("");
    // SAFETY: SIOCGIFHWADDR on a tun fd writes one ifreq, which `req` is.
    check(unsafe { libc::ioctl(fd.as_raw_fd(), libc::SIOCGIFHWADDR, &mut req) })?;
    // SAFETY: the kernel filled the hwaddr member of the union.
    let data = unsafe { req.ifr_ifru.ifru_hwaddr.sa_data };
    Ok(std::array::from_fn(|i| data[i] as u8))
}

/// Sets the interface's Ethernet address through its tun fd.
pub fn set_hw_addr(fd: &OwnedFd, mac: [u8; 6]) -> io::Result<()> {
    let mut req = ifreq("");
    // SAFETY: writing plain integers into the hwaddr member of a zeroed union.
    unsafe {
        req.ifr_ifru.ifru_hwaddr.sa_family = libc::ARPHRD_ETHER;
        for (dst, src) in req.ifr_ifru.ifru_hwaddr.sa_data.iter_mut().zip(mac) {
            *dst = src as libc::c_char;
        }
    }
    // SAFETY: SIOCSIFHWADDR on a tun fd reads one ifreq, which `req` is.
    check(unsafe { libc::ioctl(fd.as_raw_fd(), libc::SIOCSIFHWADDR, &mut req) })?;
    Ok(())
}

/// Turns the carrier on or off (the link as the kernel sees it; the interface stays administratively up).
pub fn set_carrier(fd: &OwnedFd, on: bool) -> io::Result<()> {
    let mut value = libc::c_int::from(on);
    // SAFETY: TUNSETCARRIER reads one int, which `value` is.
    check(unsafe { libc::ioctl(fd.as_raw_fd(), libc::TUNSETCARRIER, &mut value) })?;
    Ok(())
}

/// A datagram socket in the interface's network namespace, for the ioctls that go by interface name (MTU,
/// flags). The interface may have been moved to another namespace since it was made, so the socket is made
/// in the namespace the tun fd reports, on a short-lived thread (a thread's namespace is its own; the fd
/// table is the process's).
pub fn control_socket(tun: &OwnedFd) -> io::Result<OwnedFd> {
    // SAFETY: TUNGETDEVNETNS takes no argument and returns a new fd or -1.
    let ns = check(unsafe { libc::ioctl(tun.as_raw_fd(), libc::TUNGETDEVNETNS) });
    let ns = match ns {
        // SAFETY: the ioctl returned a new fd that nobody else owns.
        Ok(raw) => unsafe { OwnedFd::from_raw_fd(raw) },
        // Kernels before 5.2: the interface can only be in our own namespace, since we made it.
        Err(_) => return datagram_socket(),
    };
    std::thread::scope(|s| {
        s.spawn(|| {
            // SAFETY: setns on a namespace fd only changes this (scoped, about to end) thread's namespace.
            check(unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) })?;
            datagram_socket()
        })
        .join()
        .unwrap_or_else(|_| Err(io::Error::other("control socket thread panicked")))
    })
}

/// Moves the calling thread into a new network namespace of its own (root: CAP_SYS_ADMIN). Threads it
/// starts afterwards are in it too; the rest of the process stays where it was.
pub fn enter_new_netns() -> io::Result<()> {
    // SAFETY: unshare takes no pointer and changes only the calling thread's namespaces.
    check(unsafe { libc::unshare(libc::CLONE_NEWNET) }).map(drop)
}

fn datagram_socket() -> io::Result<OwnedFd> {
    // SAFETY: socket has no preconditions.
    let raw = check(unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) })?;
    // SAFETY: `raw` was just made and is owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(raw) })
}

/// Interface flags (IFF_UP, IFF_RUNNING, ...) of `name`.
pub fn flags(sock: &OwnedFd, name: &str) -> io::Result<i32> {
    let mut req = ifreq(name);
    // SAFETY: SIOCGIFFLAGS writes one ifreq, which `req` is.
    check(unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFFLAGS, &mut req) })?;
    // SAFETY: the kernel filled the flags member of the union.
    Ok(i32::from(unsafe { req.ifr_ifru.ifru_flags }) & 0xffff)
}

/// Sets the interface flags of `name`.
pub fn set_flags(sock: &OwnedFd, name: &str, flags: i32) -> io::Result<()> {
    let mut req = ifreq(name);
    req.ifr_ifru.ifru_flags = flags as libc::c_short;
    // SAFETY: SIOCSIFFLAGS reads one ifreq, which `req` is.
    check(unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCSIFFLAGS, &mut req) })?;
    Ok(())
}

/// Sets the MTU of `name`.
pub fn set_mtu(sock: &OwnedFd, name: &str, mtu: u32) -> io::Result<()> {
    let mut req = ifreq(name);
    req.ifr_ifru.ifru_mtu = mtu as libc::c_int;
    // SAFETY: SIOCSIFMTU reads one ifreq, which `req` is.
    check(unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCSIFMTU, &mut req) })?;
    Ok(())
}

/// Capability number of CAP_NET_ADMIN (linux/capability.h).
const CAP_NET_ADMIN: u32 = 12;

/// Whether this process may configure interfaces (CAP_NET_ADMIN in its effective set).
pub fn has_net_admin() -> bool {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let eff = status.lines().find_map(|l| l.strip_prefix("CapEff:")).map(str::trim).unwrap_or("0");
    u64::from_str_radix(eff, 16).is_ok_and(|caps| caps & (1 << CAP_NET_ADMIN) != 0)
}

/// One scatter/gather element: `len` bytes at `base`.
pub type IoVec = libc::iovec;

/// An empty iovec, to fill arrays with.
pub const EMPTY_IOVEC: IoVec = libc::iovec { iov_base: std::ptr::null_mut(), iov_len: 0 };

/// Reads one frame into `iov`. Returns its length, or the negated errno (`-EAGAIN`: none waiting).
///
/// # Safety
/// Every element of `iov` must describe memory writable for its length, not accessed by anything else
/// during the call.
pub unsafe fn readv(fd: RawFd, iov: &[IoVec]) -> i32 {
    // SAFETY: the caller vouches for the buffers; `iov` is a valid array of `iov.len()` elements.
    let n = unsafe { libc::readv(fd, iov.as_ptr(), iov.len() as libc::c_int) };
    if n < 0 {
        -io::Error::last_os_error().raw_os_error().unwrap_or(libc::EIO)
    } else {
        n as i32
    }
}

/// Writes one frame gathered from `iov`. Returns the bytes written or the negated errno.
///
/// # Safety
/// Every element of `iov` must describe memory readable for its length, not written during the call.
pub unsafe fn writev(fd: RawFd, iov: &[IoVec]) -> i32 {
    // SAFETY: the caller vouches for the buffers; `iov` is a valid array of `iov.len()` elements.
    let n = unsafe { libc::writev(fd, iov.as_ptr(), iov.len() as libc::c_int) };
    if n < 0 {
        -io::Error::last_os_error().raw_os_error().unwrap_or(libc::EIO)
    } else {
        n as i32
    }
}

/// Direction of a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dir {
    /// Read frames.
    Read,
    /// Write frames.
    Write,
}

/// An io_uring with one registered tun fd, used synchronously: a batch of reads or writes is submitted
/// and all of its completions reaped before [`Uring::batch`] returns, so no operation outlives the call
/// that made it (the buffers it names are the caller's packets).
pub struct Uring {
    ring: std::mem::ManuallyDrop<io_uring::IoUring>,
    /// A batch did not finish (the ring failed, or a panic unwound out of it) with operations possibly
    /// queued or in flight: the ring is never used again and never closed, and the caller leaks the buffers
    /// of that batch, so a late completion cannot write into reused memory.
    broken: bool,
}

impl std::fmt::Debug for Uring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Uring").field("entries", &self.ring.params().sq_entries()).finish()
    }
}

impl Drop for Uring {
    fn drop(&mut self) {
        if !self.broken {
            // Let go of the tun file now: the ring's own teardown is asynchronous, and the interface
            // lives until the last reference to its file is gone.
            let _ = self.ring.submitter().unregister_files();
            // SAFETY: dropped once, here; every batch completed before its call returned.
            unsafe { std::mem::ManuallyDrop::drop(&mut self.ring) };
        }
    }
}

impl Uring {
    /// A ring of `entries` slots (a power of two) with `fd` registered as fixed file 0.
    ///
    /// # Errors
    /// No io_uring here, or the file refuses non-blocking ring operations (tun before Linux 6.4 has no
    /// `FMODE_NOWAIT`, and would fail every `RWF_NOWAIT` read or write with `EOPNOTSUPP`).
    pub fn new(fd: &OwnedFd, entries: u32) -> io::Result<Uring> {
        let ring = io_uring::IoUring::new(entries)?;
        ring.submitter().register_files(&[fd.as_raw_fd()])?;
        let mut uring = Uring { ring: std::mem::ManuallyDrop::new(ring), broken: false };
        uring.probe_nowait()?;
        Ok(uring)
    }

    /// A read of no bytes with RWF_NOWAIT: refused at once with EOPNOTSUPP where the file cannot do it;
    /// elsewhere it completes without taking a frame (tun returns 0 for an empty buffer before it looks at
    /// its queue).
    fn probe_nowait(&mut self) -> io::Result<()> {
        let mut results = [0i32; 1];
        let iov = [EMPTY_IOVEC];
        // SAFETY: the one iovec describes no memory; `iov` lives until the call returns, and on error the
        // ring is marked broken and never used again.
        unsafe { self.batch(Dir::Read, &iov, 1, &[1], &mut results)? };
        match results[0] {
            r if r == -libc::EOPNOTSUPP || r == -libc::EINVAL => Err(io::Error::from_raw_os_error(-r)),
            _ => Ok(()),
        }
    }

    /// Runs one vectored read or write per frame, frame `i` using `iovs[i * stride..][..counts[i]]`, all in
    /// one system call, and stores each frame's result (bytes, or the negated errno) in `results[i]`.
    /// Returns once every operation has completed.
    ///
    /// # Errors
    /// The ring itself failed (not an operation) and some operations may still be in flight: the caller
    /// must drop this ring and leak (never free or reuse) every buffer of the batch.
    ///
    /// # Safety
    /// Every iovec named must describe memory valid for its length and direction (writable for reads,
    /// readable for writes) and not accessed by anything else until this returns, or, when it returns an
    /// error, ever.
    pub unsafe fn batch(
        &mut self,
        dir: Dir,
        iovs: &[IoVec],
        stride: usize,
        counts: &[u32],
        results: &mut [i32],
    ) -> io::Result<()> {
        let n = counts.len();
        assert!(results.len() >= n && n <= self.ring.params().sq_entries() as usize && !self.broken);
        assert!(counts.iter().enumerate().all(|(i, &c)| i * stride + c as usize <= iovs.len()), "iovec rows in range");
        // Broken until every operation is reaped: a panic on the way (unwinding past this call, whose
        // buffers the caller then frees) leaves the ring never submitted, used or torn down again.
        self.broken = true;
        let file = io_uring::types::Fixed(0);
        {
            let mut sq = self.ring.submission();
            for (i, &count) in counts.iter().enumerate() {
                let row = &iovs[i * stride..][..count as usize];
                // A frame in one buffer goes as a plain read or write: the kernel then has no iovec array
                // to copy in. RWF_NOWAIT: an empty queue (or a full one) completes at once with EAGAIN
                // instead of arming a poll that would keep the operation, and its buffer, in flight.
                let entry = match (dir, row) {
                    (Dir::Read, [one]) => io_uring::opcode::Read::new(file, one.iov_base.cast(), one.iov_len as u32)
                        .rw_flags(libc::RWF_NOWAIT)
                        .build(),
                    (Dir::Write, [one]) => io_uring::opcode::Write::new(file, one.iov_base.cast(), one.iov_len as u32)
                        .rw_flags(libc::RWF_NOWAIT)
                        .build(),
                    (Dir::Read, _) => {
                        io_uring::opcode::Readv::new(file, row.as_ptr(), count).rw_flags(libc::RWF_NOWAIT).build()
                    }
                    (Dir::Write, _) => {
                        io_uring::opcode::Writev::new(file, row.as_ptr(), count).rw_flags(libc::RWF_NOWAIT).build()
                    }
                };
                // SAFETY: the caller keeps every buffer (and `iovs`) valid until all completions are
                // reaped below, before this function returns (or forever, on error). The queue holds the
                // batch: it has as many slots as the largest batch and is empty between calls.
                let pushed = unsafe { sq.push(&entry.user_data(i as u64)) };
                assert!(pushed.is_ok(), "io_uring submission queue is empty between batches");
            }
        }
        let mut reaped = 0;
        while reaped < n {
            match self.ring.submit_and_wait(n - reaped) {
                Ok(_) => {}
                Err(e) if matches!(e.raw_os_error(), Some(libc::EINTR | libc::EAGAIN | libc::EBUSY)) => {}
                Err(e) => return Err(e),
            }
            for cqe in self.ring.completion() {
                results[cqe.user_data() as usize] = cqe.result();
                reaped += 1;
            }
        }
        self.broken = false;
        Ok(())
    }
}

/// A connected pair of non-blocking `SOCK_SEQPACKET` sockets: like a tun fd, each read or write moves one
/// whole message, so the queue logic can be tested without privileges or a kernel interface.
#[cfg(any(test, fuzzing))]
pub fn seqpacket_pair() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    let kind = libc::SOCK_SEQPACKET | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC;
    // SAFETY: socketpair writes two fds into the array it is given, which has room for two.
    check(unsafe { libc::socketpair(libc::AF_UNIX, kind, 0, fds.as_mut_ptr()) })?;
    // SAFETY: both fds were just made and are owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// Sends `frame` as one message on `fd` (a [`seqpacket_pair`] end playing the kernel); the bytes sent.
#[cfg(any(test, fuzzing))]
pub fn send_message(fd: &OwnedFd, frame: &[u8]) -> io::Result<usize> {
    let iov = [IoVec { iov_base: frame.as_ptr() as *mut libc::c_void, iov_len: frame.len() }];
    // SAFETY: the iovec describes `frame`, readable for the call and not written during it.
    let n = unsafe { writev(fd.as_raw_fd(), &iov) };
    check(n).map(|n| n as usize)
}
