//! Every system call of the AF_PACKET driver's packet sockets, and the memory it shares with the kernel:
//! the packet socket and its options, the rings mapped into this process, `sendto` and the socket's
//! statistics. The interface ioctls (index, flags, MTU, hardware address, the name after a rename) are
//! [`crate::netdev`]'s. The rest of the driver has no `unsafe` code but the one call that maps the rings
//! ([`RingSocket::map`], an `unsafe fn`), with the SAFETY line its contract asks for.
//!
//! The rings' ownership protocol is kept here, so that the ring walkers ([`super::rx`], [`super::tx`]) are
//! safe code:
//! - an rx block is lent out, read-only, only while its status word has `TP_STATUS_USER` (the kernel writes
//!   nothing in a block it has handed over); it goes back to the kernel through [`RingSocket::rx_release`],
//!   which takes `&mut self`, so no view of it outlives the hand-back;
//! - a tx frame is written only while its status is `TP_STATUS_AVAILABLE`, `TP_STATUS_SEND_REQUEST` or
//!   `TP_STATUS_WRONG_FORMAT`: the kernel looks at such a frame only inside `sendto` on this socket, and
//!   only [`RingSocket::kick`] calls that, with `&mut self`. A `TP_STATUS_SENDING` frame is the kernel's
//!   (an skb may still point into its pages) until the kernel sets it available again.
//!
//! Status words are read and written through atomic views: Acquire when taking a block or frame from the
//! kernel, Release when handing one over.

use std::io;
use std::mem::{offset_of, size_of};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, Ordering};

/// `TPACKET_V3`, as the socket option takes it.
const TPACKET_V3: libc::c_int = libc::tpacket_versions::TPACKET_V3 as libc::c_int;

/// `PACKET_IGNORE_OUTGOING` (Linux 4.20), spelled out for libc versions that lack it.
const PACKET_IGNORE_OUTGOING: libc::c_int = 23;

/// Where a tx frame's data starts: after its `tpacket3_hdr`, aligned (the kernel's `tp_hdrlen` less the
/// `sockaddr_ll` that only received frames carry).
pub const TX_DATA_OFFSET: usize = libc::TPACKET3_HDRLEN - size_of::<libc::sockaddr_ll>();

/// `PACKET_VNET_HDR`: every frame carries a `virtio_net_hdr` (10 bytes) in front of its Ethernet header.
const PACKET_VNET_HDR: libc::c_int = 15;

/// Bytes of the `virtio_net_hdr` in front of each tx frame's data.
pub const VNET_HDR_LEN: usize = 10;

/// Where `hdr_len` lies in a `virtio_net_hdr` (after `flags` and `gso_type`, one byte each).
const VNET_HDR_LEN_FIELD: usize = 2;

/// A block descriptor's status word.
const BLOCK_STATUS: usize = offset_of!(libc::tpacket_block_desc, hdr) + offset_of!(libc::tpacket_hdr_v1, block_status);

/// Words of a tx frame's header.
const FRAME_NEXT: usize = offset_of!(libc::tpacket3_hdr, tp_next_offset);
const FRAME_SNAPLEN: usize = offset_of!(libc::tpacket3_hdr, tp_snaplen);
const FRAME_LEN: usize = offset_of!(libc::tpacket3_hdr, tp_len);
const FRAME_STATUS: usize = offset_of!(libc::tpacket3_hdr, tp_status);

/// Timestamp bits some kernels leave in a tx frame's status when they hand it back: not part of the state.
const TX_TIMESTAMP_BITS: u32 =
    libc::TP_STATUS_TS_SOFTWARE | libc::TP_STATUS_TS_SYS_HARDWARE | libc::TP_STATUS_TS_RAW_HARDWARE;

/// Result of a call that returns -1 and sets errno.
fn check(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// The size of a page (ring blocks are whole pages).
pub fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    let n = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    usize::try_from(n).ok().filter(|&n| n > 0).unwrap_or(4096)
}

/// A raw packet socket of no protocol: it receives nothing until [`bind`] names one, so nothing is queued
/// before its rings exist.
///
/// # Errors
/// EPERM or EACCES without CAP_NET_RAW; EAFNOSUPPORT where the kernel has no packet sockets.
pub fn packet_socket() -> io::Result<OwnedFd> {
    // SAFETY: socket has no preconditions.
    let raw = check(unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0) })?;
    // SAFETY: `raw` was just made and is owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(raw) })
}

/// Option values the socket calls below pass: plain data the kernel copies in.
trait OptValue {}
impl OptValue for libc::c_int {}
impl OptValue for libc::tpacket_req3 {}
impl OptValue for libc::sock_fprog {}

/// Sets option `name` of `level` to `value`.
fn set_opt<T: OptValue>(fd: &OwnedFd, level: libc::c_int, name: libc::c_int, value: &T) -> io::Result<()> {
    let len = size_of::<T>() as libc::socklen_t;
    let ptr: *const T = value;
    // SAFETY: `ptr` points at a live T of `len` bytes, readable for the call; T is the type each option
    // takes (the OptValue impls), so the kernel reads exactly that.
    check(unsafe { libc::setsockopt(fd.as_raw_fd(), level, name, ptr.cast(), len) })?;
    Ok(())
}

/// Reads an int-valued option.
fn get_int(fd: &OwnedFd, level: libc::c_int, name: libc::c_int) -> io::Result<libc::c_int> {
    let mut value: libc::c_int = 0;
    let mut len = size_of::<libc::c_int>() as libc::socklen_t;
    let ptr: *mut libc::c_int = &mut value;
    // SAFETY: getsockopt writes at most `len` bytes into `value`, which has that many, and `len` is a
    // valid socklen_t it may update.
    check(unsafe { libc::getsockopt(fd.as_raw_fd(), level, name, ptr.cast(), &mut len) })?;
    Ok(value)
}

/// Selects TPACKET_V3 frames for the rings (before they are set up).
pub fn set_version_v3(fd: &OwnedFd) -> io::Result<()> {
    set_opt(fd, libc::SOL_PACKET, libc::PACKET_VERSION, &TPACKET_V3)
}

/// Stops the socket receiving the frames it (or any socket of its host) sends out of the interface.
pub fn set_ignore_outgoing(fd: &OwnedFd) -> io::Result<()> {
    set_opt(fd, libc::SOL_PACKET, PACKET_IGNORE_OUTGOING, &1)
}

/// Puts a `virtio_net_hdr` in front of every frame (before the rings are set up). On transmit its
/// `hdr_len` tells the kernel how much of the frame to copy into the skb's linear part; without it the
/// kernel copies the Ethernet header only and attaches the rest as fragments pointing into the ring's
/// pages, which any path that must own the data (a veth peer, a bridge, a copy for a tap) then copies
/// again into freshly allocated pages. Received frames are unaffected: their data is still at `tp_mac`
/// (the header goes just in front of it).
pub fn set_vnet_hdr(fd: &OwnedFd) -> io::Result<()> {
    set_opt(fd, libc::SOL_PACKET, PACKET_VNET_HDR, &1)
}

/// Sends straight to the driver's queue, past the qdisc (and past other packet sockets' taps).
pub fn set_qdisc_bypass(fd: &OwnedFd) -> io::Result<()> {
    set_opt(fd, libc::SOL_PACKET, libc::PACKET_QDISC_BYPASS, &1)
}

/// Asks for a send buffer of `bytes` (the kernel caps it at `net.core.wmem_max`): what frames in flight
/// may hold before `sendto` stops taking more.
pub fn set_send_buffer(fd: &OwnedFd, bytes: usize) -> io::Result<()> {
    set_opt(fd, libc::SOL_SOCKET, libc::SO_SNDBUF, &libc::c_int::try_from(bytes).unwrap_or(libc::c_int::MAX))
}

/// Attaches a filter that refuses every frame: a socket joining a fanout group receives nothing on its own
/// between its bind and its joining.
pub fn attach_drop_all(fd: &OwnedFd) -> io::Result<()> {
    // One instruction: return 0 (keep no bytes).
    let mut code = [libc::sock_filter { code: (libc::BPF_RET | libc::BPF_K) as u16, jt: 0, jf: 0, k: 0 }];
    let prog = libc::sock_fprog { len: code.len() as u16, filter: code.as_mut_ptr() };
    // The kernel copies the program during the call; `code` outlives it.
    set_opt(fd, libc::SOL_SOCKET, libc::SO_ATTACH_FILTER, &prog)
}

/// Removes the socket's filter.
pub fn detach_filter(fd: &OwnedFd) -> io::Result<()> {
    set_opt(fd, libc::SOL_SOCKET, libc::SO_DETACH_FILTER, &0)
}

/// Sets up the TPACKET_V3 rx ring: `blocks` blocks of `block_size` bytes, each handed to user space when
/// full or `retire_ms` after its first frame.
pub fn set_rx_ring(fd: &OwnedFd, block_size: u32, blocks: u32, retire_ms: u32) -> io::Result<()> {
    // V3 receive ignores the frame size but checks it: aligned, and a whole number of frames per block.
    let frame_size = RX_NOMINAL_FRAME.min(block_size);
    let req = libc::tpacket_req3 {
        tp_block_size: block_size,
        tp_block_nr: blocks,
        tp_frame_size: frame_size,
        tp_frame_nr: block_size / frame_size * blocks,
        tp_retire_blk_tov: retire_ms,
        tp_sizeof_priv: 0,
        tp_feature_req_word: 0,
    };
    set_opt(fd, libc::SOL_PACKET, libc::PACKET_RX_RING, &req)
}

/// The frame size the rx ring request names (V3 receive packs frames of any length into blocks).
const RX_NOMINAL_FRAME: u32 = 2048;

/// Sets up the tx ring: `blocks` blocks of `block_size` bytes cut into frames of `frame_size`.
pub fn set_tx_ring(fd: &OwnedFd, block_size: u32, blocks: u32, frame_size: u32) -> io::Result<()> {
    let req = libc::tpacket_req3 {
        tp_block_size: block_size,
        tp_block_nr: blocks,
        tp_frame_size: frame_size,
        tp_frame_nr: block_size / frame_size * blocks,
        // Transmit takes no block timeout, private area or features (EINVAL otherwise).
        tp_retire_blk_tov: 0,
        tp_sizeof_priv: 0,
        tp_feature_req_word: 0,
    };
    set_opt(fd, libc::SOL_PACKET, libc::PACKET_TX_RING, &req)
}

/// Binds the socket to interface `ifindex` for every protocol: from here on it receives.
pub fn bind(fd: &OwnedFd, ifindex: i32) -> io::Result<()> {
    // SAFETY: sockaddr_ll is plain old data; all zeroes is valid.
    let mut addr: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    addr.sll_family = libc::AF_PACKET as libc::c_ushort;
    addr.sll_protocol = (libc::ETH_P_ALL as u16).to_be();
    addr.sll_ifindex = ifindex;
    let ptr: *const libc::sockaddr_ll = &addr;
    let len = size_of::<libc::sockaddr_ll>() as libc::socklen_t;
    // SAFETY: `ptr` points at a sockaddr_ll of `len` bytes, readable for the call.
    check(unsafe { libc::bind(fd.as_raw_fd(), ptr.cast(), len) })?;
    Ok(())
}

/// Makes a new fanout group of `type_flags` (`PACKET_FANOUT_*`) with an id the kernel picks, unique in the
/// namespace, joins it, and returns the id. The socket must be bound.
pub fn fanout_create(fd: &OwnedFd, type_flags: u16) -> io::Result<u16> {
    let flags = u32::from(type_flags | libc::PACKET_FANOUT_FLAG_UNIQUEID as u16);
    set_opt(fd, libc::SOL_PACKET, libc::PACKET_FANOUT, &((flags << 16) as libc::c_int))?;
    // Read back as id | type << 16 | flags << 24.
    Ok((get_int(fd, libc::SOL_PACKET, libc::PACKET_FANOUT)? & 0xffff) as u16)
}

/// Joins fanout group `id` of `type_flags`. The socket must be bound to the group's interface.
pub fn fanout_join(fd: &OwnedFd, id: u16, type_flags: u16) -> io::Result<()> {
    let value = (u32::from(type_flags) << 16) | u32::from(id);
    set_opt(fd, libc::SOL_PACKET, libc::PACKET_FANOUT, &(value as libc::c_int))
}

/// The socket's counters since they were last read (the kernel clears them on each read).
#[derive(Debug, Clone, Copy, Default)]
pub struct Statistics {
    /// Frames the kernel dropped because the ring had no room (every block held by user space).
    pub drops: u32,
    /// Times the ring froze for that reason.
    pub freezes: u32,
}

/// Reads and clears the socket's counters (`PACKET_STATISTICS`).
pub fn statistics(fd: &OwnedFd) -> io::Result<Statistics> {
    let mut st = libc::tpacket_stats_v3 { tp_packets: 0, tp_drops: 0, tp_freeze_q_cnt: 0 };
    let mut len = size_of::<libc::tpacket_stats_v3>() as libc::socklen_t;
    let ptr: *mut libc::tpacket_stats_v3 = &mut st;
    // SAFETY: getsockopt writes at most `len` bytes into `st`, which has that many, and may update `len`.
    check(unsafe {
        libc::getsockopt(fd.as_raw_fd(), libc::SOL_PACKET, libc::PACKET_STATISTICS, ptr.cast(), &mut len)
    })?;
    Ok(Statistics { drops: st.tp_drops, freezes: st.tp_freeze_q_cnt })
}

/// Both rings of a socket, mapped into this process: one shared mapping, the rx ring's blocks first, then
/// the tx ring's. Unmapped on drop.
struct RingMap {
    base: NonNull<u8>,
    len: usize,
}

// SAFETY: the mapping belongs to the process, not to a thread; RingMap owns it alone (nothing else unmaps
// it), and what may be done with its bytes is kept by RingSocket's `&`/`&mut` methods wherever it is used.
unsafe impl Send for RingMap {}

impl RingMap {
    /// Maps the `len` bytes of `fd`'s rings (both rings are set up: the kernel checks the length).
    fn new(fd: &OwnedFd, len: usize) -> io::Result<RingMap> {
        let prot = libc::PROT_READ | libc::PROT_WRITE;
        // Prefault the pages: the first pass over the ring then takes no page faults.
        let flags = libc::MAP_SHARED | libc::MAP_POPULATE;
        // SAFETY: a new shared mapping placed by the kernel (no address hint), overlapping nothing of ours.
        let ptr = unsafe { libc::mmap(std::ptr::null_mut(), len, prot, flags, fd.as_raw_fd(), 0) };
        if ptr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let base = NonNull::new(ptr.cast::<u8>()).ok_or_else(|| io::Error::other("mmap returned NULL"))?;
        Ok(RingMap { base, len })
    }

    /// The 32-bit word at `off` (4-aligned, in bounds: checked), as an atomic.
    fn word(&self, off: usize) -> &AtomicU32 {
        assert!(off.is_multiple_of(4) && off + 4 <= self.len, "ring word {off} outside the mapping");
        // SAFETY: in bounds and 4-aligned (checked above; the mapping starts on a page); mapped for as long as
        // `self` lives. This module touches header words only through such views, and the byte views it
        // lends never cover a word it writes while they live.
        unsafe { AtomicU32::from_ptr(self.base.as_ptr().add(off).cast()) }
    }
}

impl Drop for RingMap {
    fn drop(&mut self) {
        // SAFETY: `base..base + len` is the mapping made in `new`, unmapped once, here; every view of it
        // borrows its RingSocket, so none is left.
        unsafe { libc::munmap(self.base.as_ptr().cast(), self.len) };
    }
}

/// How a socket's rings are cut: rx blocks, then tx blocks of whole tx frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RingLayout {
    /// Bytes per rx block.
    pub rx_block_size: u32,
    /// Rx blocks.
    pub rx_blocks: u32,
    /// Bytes per tx block.
    pub tx_block_size: u32,
    /// Tx blocks.
    pub tx_blocks: u32,
    /// Bytes per tx frame (header and data).
    pub tx_frame_size: u32,
    /// Each tx frame's data follows a `virtio_net_hdr` ([`set_vnet_hdr`]).
    pub vnet_hdr: bool,
}

impl RingLayout {
    /// Tx frames per tx block (frames never straddle blocks).
    pub fn tx_frames_per_block(&self) -> u32 {
        self.tx_block_size / self.tx_frame_size
    }

    /// All tx frames.
    pub fn tx_frames(&self) -> u32 {
        self.tx_frames_per_block() * self.tx_blocks
    }

    /// Bytes of a tx frame's data (after its `virtio_net_hdr`).
    pub fn tx_room(&self) -> usize {
        self.tx_frame_room() - self.vnet_len()
    }

    fn vnet_len(&self) -> usize {
        if self.vnet_hdr {
            VNET_HDR_LEN
        } else {
            0
        }
    }

    /// Bytes a tx frame holds after its `tpacket3_hdr`: the `virtio_net_hdr` and the data.
    fn tx_frame_room(&self) -> usize {
        self.tx_frame_size as usize - TX_DATA_OFFSET
    }

    fn rx_bytes(&self) -> usize {
        self.rx_block_size as usize * self.rx_blocks as usize
    }

    fn bytes(&self) -> usize {
        self.rx_bytes() + self.tx_block_size as usize * self.tx_blocks as usize
    }
}

/// A packet socket with both rings set up and mapped. The mapping goes before the socket closes.
pub struct RingSocket {
    map: RingMap,
    fd: OwnedFd,
    layout: RingLayout,
}

impl std::fmt::Debug for RingSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RingSocket").field("fd", &self.fd).field("layout", &self.layout).finish()
    }
}

/// Whether user space may touch a tx frame of this status (outside `sendto`).
fn tx_frame_is_ours(status: u32) -> bool {
    matches!(status, libc::TP_STATUS_AVAILABLE | libc::TP_STATUS_SEND_REQUEST | libc::TP_STATUS_WRONG_FORMAT)
}

impl RingSocket {
    /// Maps the rings of `fd`, set up by [`set_rx_ring`] and [`set_tx_ring`] as `layout` says.
    ///
    /// # Errors
    /// The mapping failed (or the rings are not as `layout` says: the kernel refuses a wrong length).
    ///
    /// # Safety
    /// `fd` is a packet socket whose rx and tx rings were set up with `layout`'s blocks and frames (a mapping
    /// of the right total length but another cut would lend the kernel's tx headers out as rx data), and
    /// no other mapping of its rings exists or will be made (the ownership protocol above assumes this
    /// `RingSocket` is the only user-space party to them).
    pub unsafe fn map(fd: OwnedFd, layout: RingLayout) -> io::Result<RingSocket> {
        let map = RingMap::new(&fd, layout.bytes())?;
        Ok(RingSocket { map, fd, layout })
    }

    /// The socket (for options and binding).
    pub fn fd(&self) -> &OwnedFd {
        &self.fd
    }

    /// How the rings are cut.
    pub fn layout(&self) -> RingLayout {
        self.layout
    }

    fn rx_block_at(&self, block: u32) -> usize {
        assert!(block < self.layout.rx_blocks, "rx block {block} of {}", self.layout.rx_blocks);
        block as usize * self.layout.rx_block_size as usize
    }

    /// Rx block `block`, if the kernel has handed it to user space (else None: not filled yet).
    pub fn rx_block(&self, block: u32) -> Option<&[u8]> {
        let at = self.rx_block_at(block);
        let status = self.map.word(at + BLOCK_STATUS).load(Ordering::Acquire);
        if status & libc::TP_STATUS_USER == 0 {
            return None;
        }
        let len = self.layout.rx_block_size as usize;
        // SAFETY: the block lies in the rx part of the mapping (`at + len <= rx_bytes <= map.len`, block <
        // rx_blocks checked). Its status says user space owns it: the kernel writes nothing in it until the
        // status is set back to TP_STATUS_KERNEL, which only `rx_release` does, with `&mut self`, so this
        // shared view (borrowing `self`) is gone by then. The Acquire load orders these reads after the
        // kernel's writes of the block.
        Some(unsafe { std::slice::from_raw_parts(self.map.base.as_ptr().add(at), len) })
    }

    /// Hands rx block `block` (taken with [`RingSocket::rx_block`]) back to the kernel to fill again.
    pub fn rx_release(&mut self, block: u32) {
        let status = self.map.word(self.rx_block_at(block) + BLOCK_STATUS);
        let was = status.load(Ordering::Relaxed);
        debug_assert!(was & libc::TP_STATUS_USER != 0, "rx block {block} released while the kernel's");
        if was & libc::TP_STATUS_USER != 0 {
            // Release: our reads of the block happen before the kernel's next writes into it.
            status.store(libc::TP_STATUS_KERNEL, Ordering::Release);
        }
    }

    fn tx_frame_at(&self, frame: u32) -> usize {
        let l = &self.layout;
        assert!(frame < l.tx_frames(), "tx frame {frame} of {}", l.tx_frames());
        let per_block = l.tx_frames_per_block();
        l.rx_bytes()
            + (frame / per_block) as usize * l.tx_block_size as usize
            + (frame % per_block) as usize * l.tx_frame_size as usize
    }

    /// The state of tx frame `frame` (`TP_STATUS_*`, timestamp bits cleared).
    pub fn tx_status(&self, frame: u32) -> u32 {
        self.map.word(self.tx_frame_at(frame) + FRAME_STATUS).load(Ordering::Acquire) & !TX_TIMESTAMP_BITS
    }

    /// Writes the header of tx frame `at` for `len` bytes of data and hands it to the kernel.
    fn tx_submit(&mut self, at: usize, len: usize) {
        let len = len as u32;
        self.map.word(at + FRAME_NEXT).store(0, Ordering::Relaxed);
        self.map.word(at + FRAME_SNAPLEN).store(len, Ordering::Relaxed);
        self.map.word(at + FRAME_LEN).store(len, Ordering::Relaxed);
        // Release: the data and the length are written before the kernel can see the request.
        self.map.word(at + FRAME_STATUS).store(libc::TP_STATUS_SEND_REQUEST, Ordering::Release);
    }

    /// Fills tx frame `frame` with `len` bytes written by `fill` (after a `virtio_net_hdr` asking for the
    /// whole frame to be copied linearly, when the layout has one) and marks it for sending (the next [`RingSocket::kick`] sends
    /// it). False, and nothing written, when the frame is not available (the kernel still holds it, or it
    /// waits to be sent) or `len` does not fit a frame.
    pub fn tx_write(&mut self, frame: u32, len: usize, fill: impl FnOnce(&mut [u8])) -> bool {
        let at = self.tx_frame_at(frame);
        if len > self.layout.tx_room() || self.tx_status(frame) != libc::TP_STATUS_AVAILABLE {
            return false;
        }
        let vnet_len = self.layout.vnet_len();
        let total = vnet_len + len;
        // SAFETY: the frame lies in the tx part of the mapping and its area `TX_DATA_OFFSET..+total` within
        // the frame (len <= tx_room, checked). The frame is AVAILABLE: the kernel reads it only inside sendto
        // on this socket, which cannot run while `&mut self` is held; the view covers no header word.
        let area = unsafe { std::slice::from_raw_parts_mut(self.map.base.as_ptr().add(at + TX_DATA_OFFSET), total) };
        let (vnet, data) = area.split_at_mut(vnet_len);
        if !vnet.is_empty() {
            vnet.fill(0);
            // Little endian: the byte order of virtio 1.0, which the packet socket uses.
            vnet[VNET_HDR_LEN_FIELD..][..2].copy_from_slice(&(len as u16).to_le_bytes());
        }
        fill(data);
        self.tx_submit(at, total);
        true
    }

    /// Copies the frame waiting in tx frame `from` into tx frame `to` and marks `to` for sending (frames
    /// behind one the kernel refused move up a slot). False, and nothing done, unless both are user
    /// space's (available, waiting to be sent, or refused) and distinct.
    pub fn tx_move(&mut self, from: u32, to: u32) -> bool {
        let (src, dst) = (self.tx_frame_at(from), self.tx_frame_at(to));
        if from == to || !tx_frame_is_ours(self.tx_status(from)) || !tx_frame_is_ours(self.tx_status(to)) {
            return false;
        }
        let len = self.map.word(src + FRAME_LEN).load(Ordering::Relaxed) as usize;
        if len > self.layout.tx_frame_room() {
            return false;
        }
        let base = self.map.base.as_ptr();
        // SAFETY: both data areas (`TX_DATA_OFFSET..+len`, len <= tx_frame_room checked) lie in distinct frames of
        // the tx part of the mapping, so they do not overlap. Neither frame is SENDING: the kernel touches
        // them only inside sendto on this socket, which cannot run while `&mut self` is held.
        unsafe { std::ptr::copy_nonoverlapping(base.add(src + TX_DATA_OFFSET), base.add(dst + TX_DATA_OFFSET), len) };
        self.tx_submit(dst, len);
        true
    }

    /// Takes tx frame `frame` back from waiting or refused to available (nothing of it is sent). False when
    /// it is not waiting or refused.
    pub fn tx_reclaim(&mut self, frame: u32) -> bool {
        let status = self.tx_status(frame);
        if status == libc::TP_STATUS_AVAILABLE || !tx_frame_is_ours(status) {
            return false;
        }
        let word = self.map.word(self.tx_frame_at(frame) + FRAME_STATUS);
        word.store(libc::TP_STATUS_AVAILABLE, Ordering::Release);
        true
    }

    /// Asks the kernel to send every frame marked for sending, in ring order, without waiting: one
    /// `sendto(fd, NULL, 0, MSG_DONTWAIT)`. Returns the bytes it took.
    ///
    /// # Errors
    /// ENETDOWN (interface down), ENXIO (interface gone), EAGAIN / ENOBUFS (no room in the socket's send
    /// buffer or the device's queue: the frame stays marked), or the error of a frame the kernel refused
    /// (that frame is marked `TP_STATUS_WRONG_FORMAT` and the kernel stops there).
    pub fn kick(&mut self) -> io::Result<usize> {
        // SAFETY: no buffer and no address are passed (NULL, 0): the kernel sends from the tx ring, whose
        // frames it may touch during the call because `&mut self` keeps every view of them away.
        let n =
            unsafe { libc::sendto(self.fd.as_raw_fd(), std::ptr::null(), 0, libc::MSG_DONTWAIT, std::ptr::null(), 0) };
        if n < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(n as usize)
        }
    }
}
