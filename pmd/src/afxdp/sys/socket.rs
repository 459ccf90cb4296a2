//! The XDP socket: its UMEM (registered over a pool's memory), ring sizes, the mappings, bind, wakeups
//! and statistics.

use super::check;
use super::ring::{Addr, Desc, Layout, Ring};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// A new XDP socket.
pub fn socket() -> io::Result<OwnedFd> {
    // SAFETY: socket has no preconditions.
    let raw = check(unsafe { libc::socket(libc::AF_XDP, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0) })?;
    // SAFETY: `raw` was just made and is owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(raw) })
}

fn setsockopt<T>(fd: &OwnedFd, opt: libc::c_int, value: &T) -> io::Result<()> {
    let len = std::mem::size_of::<T>() as libc::socklen_t;
    // SAFETY: `value` is a live T of `len` bytes, the layout the option reads.
    check(unsafe { libc::setsockopt(fd.as_raw_fd(), libc::SOL_XDP, opt, (value as *const T).cast(), len) }).map(drop)
}

/// Reads socket option `opt` of type `T`.
///
/// # Safety
/// `T` is the option's plain-old-data layout, for which all zeroes is a valid value.
unsafe fn getsockopt<T>(fd: &OwnedFd, opt: libc::c_int) -> io::Result<T> {
    // SAFETY: plain old data (contract).
    let mut value: T = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<T>() as libc::socklen_t;
    // SAFETY: `value` is a live T of `len` bytes; the kernel writes at most `len` bytes into it.
    check(unsafe { libc::getsockopt(fd.as_raw_fd(), libc::SOL_XDP, opt, (&mut value as *mut T).cast(), &mut len) })?;
    Ok(value)
}

/// What a UMEM is made of: memory, chunk size, and whether chunks are power-of-two aligned.
#[derive(Debug, Clone, Copy)]
pub struct UmemSpec {
    /// Page-aligned start (a pool's mapping).
    pub base: *mut u8,
    /// Bytes (whole pages).
    pub len: usize,
    /// Bytes per frame (the pool's buffer stride).
    pub chunk: u32,
    /// Chunks at any offset (the chunk size is not a power of two from 2 KiB to a page, or the first
    /// buffer does not start the UMEM).
    pub unaligned: bool,
}

/// Registers `spec`'s memory as the socket's UMEM. The kernel pins the pages until the last socket using
/// the UMEM is gone.
///
/// # Safety
/// `spec.base` and `spec.len` describe one mapping that stays mapped while any socket sharing this UMEM is
/// open, and whose bytes this process expects the kernel to write (frames) and read (frames to send).
pub unsafe fn register_umem(fd: &OwnedFd, spec: UmemSpec) -> io::Result<()> {
    let reg = libc::xdp_umem_reg {
        addr: spec.base as u64,
        len: spec.len as u64,
        chunk_size: spec.chunk,
        headroom: 0,
        flags: if spec.unaligned { libc::XDP_UMEM_UNALIGNED_CHUNK_FLAG } else { 0 },
        tx_metadata_len: 0,
    };
    setsockopt(fd, libc::XDP_UMEM_REG, &reg)
}

/// The four rings of one socket (fill and completion belong to its UMEM).
#[derive(Debug)]
pub struct Rings {
    /// Buffers we give the kernel to receive into.
    pub fill: Ring<Addr>,
    /// Buffers the kernel has sent and gives back.
    pub completion: Ring<Addr>,
    /// Frames received.
    pub rx: Ring<Desc>,
    /// Frames to send.
    pub tx: Ring<Desc>,
}

/// Sizes the socket's four rings at `size` entries each (a power of two) and maps them.
pub fn rings(fd: &OwnedFd, size: u32) -> io::Result<Rings> {
    for opt in [libc::XDP_UMEM_FILL_RING, libc::XDP_UMEM_COMPLETION_RING, libc::XDP_RX_RING, libc::XDP_TX_RING] {
        setsockopt(fd, opt, &size)?;
    }
    // SAFETY: xdp_mmap_offsets is integers only.
    let off: libc::xdp_mmap_offsets = unsafe { getsockopt(fd, libc::XDP_MMAP_OFFSETS) }?;
    let layout = |offsets, pgoff| Layout { offsets, size, pgoff };
    // SAFETY: each layout is the kernel's for the ring its page offset names, sized just above (the
    // kernel refuses sizes that are not powers of two), each mapped with that ring's entry type.
    unsafe {
        Ok(Rings {
            fill: Ring::map(fd, layout(off.fr, libc::XDP_UMEM_PGOFF_FILL_RING))?,
            completion: Ring::map(fd, layout(off.cr, libc::XDP_UMEM_PGOFF_COMPLETION_RING))?,
            rx: Ring::map(fd, layout(off.rx, libc::XDP_PGOFF_RX_RING as u64))?,
            tx: Ring::map(fd, layout(off.tx, libc::XDP_PGOFF_TX_RING as u64))?,
        })
    }
}

/// How a socket was bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bind {
    /// Owner of its UMEM, asking for zero-copy (`XDP_ZEROCOPY`).
    ZeroCopy,
    /// Owner of its UMEM, in copy mode (`XDP_COPY`).
    Copy,
    /// Sharing the UMEM of socket `0`, in its mode.
    SharedWith(libc::c_int),
}

/// Binds the socket to queue `queue` of interface `ifindex`, with need_wakeup.
pub fn bind(fd: &OwnedFd, ifindex: u32, queue: u32, how: Bind) -> io::Result<()> {
    let (flags, shared) = match how {
        Bind::ZeroCopy => (libc::XDP_ZEROCOPY | libc::XDP_USE_NEED_WAKEUP, 0),
        Bind::Copy => (libc::XDP_COPY | libc::XDP_USE_NEED_WAKEUP, 0),
        // The kernel takes mode and need_wakeup from the UMEM's owner and refuses them here.
        Bind::SharedWith(owner) => (libc::XDP_SHARED_UMEM, owner as u32),
    };
    let addr = libc::sockaddr_xdp {
        sxdp_family: libc::AF_XDP as u16,
        sxdp_flags: flags,
        sxdp_ifindex: ifindex,
        sxdp_queue_id: queue,
        sxdp_shared_umem_fd: shared,
    };
    let len = std::mem::size_of::<libc::sockaddr_xdp>() as libc::socklen_t;
    // SAFETY: `addr` is a live sockaddr_xdp of `len` bytes.
    check(unsafe { libc::bind(fd.as_raw_fd(), (&addr as *const libc::sockaddr_xdp).cast(), len) }).map(drop)
}

/// Whether the socket's frames move without a copy (the driver took the UMEM), as the kernel says.
///
/// # Errors
/// The socket's options could not be read.
pub fn zero_copy(fd: &OwnedFd) -> io::Result<bool> {
    // SAFETY: xdp_options is one integer.
    let options = unsafe { getsockopt::<libc::xdp_options>(fd, libc::XDP_OPTIONS) }?;
    Ok(options.flags & libc::XDP_OPTIONS_ZEROCOPY != 0)
}

/// Asks the kernel to go on sending what the tx ring holds (one call per burst). Transient refusals
/// (EAGAIN, EBUSY, ENOBUFS, ENETDOWN) are not errors: the frames stay in the ring for the next kick.
pub fn kick_tx(fd: &OwnedFd) -> io::Result<()> {
    // SAFETY: a zero-length send with no buffer; the kernel reads nothing from the null pointer.
    let ret = unsafe { libc::sendto(fd.as_raw_fd(), std::ptr::null(), 0, libc::MSG_DONTWAIT, std::ptr::null(), 0) };
    transient_ok(ret)
}

/// Asks the kernel to go on filling the rx ring from the fill ring (when it set need_wakeup on it).
pub fn kick_rx(fd: &OwnedFd) -> io::Result<()> {
    let null = std::ptr::null_mut();
    // SAFETY: a zero-length receive with no buffer and no address; the kernel writes nothing.
    let ret = unsafe { libc::recvfrom(fd.as_raw_fd(), null, 0, libc::MSG_DONTWAIT, null.cast(), null.cast()) };
    transient_ok(ret)
}

fn transient_ok(ret: isize) -> io::Result<()> {
    if ret >= 0 {
        return Ok(());
    }
    let e = io::Error::last_os_error();
    match e.raw_os_error() {
        Some(libc::EAGAIN | libc::EBUSY | libc::ENOBUFS | libc::ENETDOWN) => Ok(()),
        _ => Err(e),
    }
}

/// The socket's drop counters.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct XskStats {
    /// Frames dropped for other reasons (too long for a chunk, say).
    pub rx_dropped: u64,
    /// Frames dropped because the rx ring was full.
    pub rx_ring_full: u64,
    /// Times a frame found the fill ring empty.
    pub rx_fill_empty: u64,
    /// Descriptors of ours the kernel refused.
    pub invalid: u64,
}

/// Reads the socket's drop counters.
pub fn statistics(fd: &OwnedFd) -> io::Result<XskStats> {
    // SAFETY: xdp_statistics is integers only.
    let s = unsafe { getsockopt::<libc::xdp_statistics>(fd, libc::XDP_STATISTICS) }?;
    Ok(XskStats {
        rx_dropped: s.rx_dropped,
        rx_ring_full: s.rx_ring_full,
        rx_fill_empty: s.rx_fill_ring_empty_descs,
        invalid: s.rx_invalid_descs + s.tx_invalid_descs,
    })
}
