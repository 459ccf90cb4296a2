//! The AF_PACKET port: its settings, its queues (one packet socket each, with its two rings), what it knows
//! of the interface (name, MAC, MTU, link) and the Port API.

use super::error::AfPacketError;
use super::rx::{RxDone, RxRing};
use super::sys::{self, RingLayout, RingSocket};
use super::tx::{TxDone, TxRing};
use crate::netdev::{NetDev, MAX_NAME};
use pktloop_engine::port::{
    bump_owned, DropReason, Event, EventBus, EventKind, LinkState, PacketBurst, Port, PortCounters,
};
use pktloop_engine::Pool;
use std::io;
use std::ops::RangeInclusive;
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Most queues of one port (packet sockets in its fanout group).
pub const MAX_QUEUES: usize = 64;

/// Default rx block size. With [`DEFAULT_RX_BLOCKS`], 8 MiB of rx ring per queue: about 5,000 full-size
/// frames (4 ms of a 10 Gb/s link) or 50,000 minimum-size ones before the kernel must drop. 128 KiB is
/// large enough that a busy link retires blocks because they are full, not by timeout, and small enough
/// that the kernel finds such blocks (order-5 pages) easily, and that an idle link, whose every block
/// retires by timeout with a few frames in it, still has 64 of them to go round while the application
/// pauses.
pub const DEFAULT_RX_BLOCK_SIZE: u32 = 128 << 10;

/// Default number of rx blocks (see [`DEFAULT_RX_BLOCK_SIZE`]).
pub const DEFAULT_RX_BLOCKS: u32 = 64;

/// Default number of tx frames: four full bursts of frames in flight, about 3 MiB per queue at MTU 1500.
pub const DEFAULT_TX_FRAMES: u32 = 2048;

/// Default block retire timeout: how long the kernel waits, after a block's first frame, before it hands
/// over a block that is not full (the latency of a quiet link).
pub const DEFAULT_BLOCK_TIMEOUT_MS: u32 = 1;

/// Largest rx block.
const MAX_RX_BLOCK_SIZE: u32 = 16 << 20;

/// Most rx blocks.
const MAX_RX_BLOCKS: u32 = 1 << 16;

/// Most tx frames.
const MAX_TX_FRAMES: u32 = 1 << 16;

/// Longest block retire timeout.
const MAX_BLOCK_TIMEOUT_MS: u32 = 1000;

/// Bytes a frame may carry beyond the MTU: an Ethernet header and one VLAN tag.
const FRAME_OVERHEAD: u32 = 18;

/// An Ethernet header without a tag: what an untagged frame may carry beyond the MTU.
const ETHERNET_HEADER: usize = 14;

/// The shortest frame: an Ethernet header.
const MIN_FRAME: usize = 14;

/// What an rx block spends besides the frame bytes of its longest frame: the block descriptor (48 bytes)
/// and the frame's header, address and link-header room before its data (96 bytes with a 14-byte header).
const RX_BLOCK_OVERHEAD: u32 = 48 + 96;

/// Smallest tx block: frames do not straddle blocks, so a block of several frames wastes a few percent at
/// most.
const MIN_TX_BLOCK: u32 = 64 << 10;

/// Polls between two looks at the interface (flags, MTU) and the sockets' drop counters: a link change is
/// seen within a few milliseconds of polling, and costs nothing per burst.
const LINK_CHECK_EVERY: u32 = 4096;

/// How the queues share the frames: by flow hash, so a flow stays on one queue; and frames this host sends
/// out of the interface are none of the group's.
const FANOUT: u16 = (libc::PACKET_FANOUT_HASH | libc::PACKET_FANOUT_FLAG_IGNORE_OUTGOING) as u16;

/// How to open an AF_PACKET port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AfPacketConfig {
    /// The interface to bind to (it must exist and be up).
    pub ifname: String,
    /// Queue pairs, each its own packet socket (rx and tx queue i on socket i), 1..=[`MAX_QUEUES`]; with
    /// more than one, the sockets share the received frames by flow hash (a `PACKET_FANOUT` group).
    pub queues: usize,
    /// Bytes per rx block: a power of two of at least a page, holding a frame of the interface's MTU. Default
    /// [`DEFAULT_RX_BLOCK_SIZE`].
    pub rx_block_size: u32,
    /// Rx blocks per queue, 2..=65536. Default [`DEFAULT_RX_BLOCKS`].
    pub rx_blocks: u32,
    /// Tx frames per queue, at least (the ring is rounded up to whole blocks), 1..=65536. Each holds a frame
    /// of MTU + 18 bytes. Default [`DEFAULT_TX_FRAMES`].
    pub tx_frames: u32,
    /// Send straight to the driver, past the qdisc (and unseen by other packet sockets on the host). Default
    /// true.
    pub qdisc_bypass: bool,
    /// Have the kernel copy each frame to send whole into its skb (a `virtio_net_hdr` in front of each tx
    /// frame, `PACKET_VNET_HDR`, whose `hdr_len` is the frame's length). Without it the kernel copies the
    /// Ethernet header and hangs the rest off the skb as fragments of the ring's pages, which a veth peer,
    /// a bridge or a tap then copies again into new pages; with it the kernel skips its MTU check, so the
    /// port refuses untagged frames longer than MTU + 14 itself. Default true.
    pub linear_tx: bool,
    /// Rx block retire timeout in milliseconds, 0..=1000 (0: the kernel's choice, from the link speed).
    /// Default [`DEFAULT_BLOCK_TIMEOUT_MS`].
    pub block_timeout_ms: u32,
}

impl AfPacketConfig {
    /// The defaults, on interface `ifname`.
    pub fn new(ifname: impl Into<String>) -> AfPacketConfig {
        AfPacketConfig { ifname: ifname.into(), ..AfPacketConfig::default() }
    }
}

impl Default for AfPacketConfig {
    fn default() -> AfPacketConfig {
        AfPacketConfig {
            ifname: String::new(),
            queues: 1,
            rx_block_size: DEFAULT_RX_BLOCK_SIZE,
            rx_blocks: DEFAULT_RX_BLOCKS,
            tx_frames: DEFAULT_TX_FRAMES,
            qdisc_bypass: true,
            linear_tx: true,
            block_timeout_ms: DEFAULT_BLOCK_TIMEOUT_MS,
        }
    }
}

/// How each queue's rings are cut (the same for every queue).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RingGeometry {
    /// Bytes per rx block.
    pub rx_block_size: u32,
    /// Rx blocks.
    pub rx_blocks: u32,
    /// Bytes per tx frame, header included.
    pub tx_frame_size: u32,
    /// Tx frames.
    pub tx_frames: u32,
    /// Bytes per tx block.
    pub tx_block_size: u32,
    /// Tx blocks.
    pub tx_blocks: u32,
}

impl RingGeometry {
    /// Ring memory of one queue (both rings), in bytes.
    pub fn bytes_per_queue(&self) -> usize {
        self.rx_block_size as usize * self.rx_blocks as usize + self.tx_block_size as usize * self.tx_blocks as usize
    }
}

/// What an AF_PACKET port did besides moving frames, readable from any thread.
#[derive(Debug, Default)]
#[repr(align(128))]
pub struct AfPacketCounters {
    rx_syscalls: AtomicU64,
    tx_syscalls: AtomicU64,
    control_syscalls: AtomicU64,
    kernel_drops: AtomicU64,
    ring_freezes: AtomicU64,
    rx_blocks: AtomicU64,
    tx_refused: AtomicU64,
}

impl AfPacketCounters {
    /// System calls made to receive: none (the kernel hands blocks over by itself).
    pub fn rx_syscalls(&self) -> u64 {
        self.rx_syscalls.load(Ordering::Relaxed)
    }

    /// System calls made to send: one `sendto` per burst that had frames to send, and one more per frame
    /// the kernel refused.
    pub fn tx_syscalls(&self) -> u64 {
        self.tx_syscalls.load(Ordering::Relaxed)
    }

    /// System calls made to look at the interface and the sockets' counters (every few thousand polls).
    pub fn control_syscalls(&self) -> u64 {
        self.control_syscalls.load(Ordering::Relaxed)
    }

    /// Frames the kernel dropped because an rx ring had no free block (read every few thousand polls):
    /// missed, DPDK's imissed.
    pub fn kernel_drops(&self) -> u64 {
        self.kernel_drops.load(Ordering::Relaxed)
    }

    /// Times an rx ring froze for want of a free block.
    pub fn ring_freezes(&self) -> u64 {
        self.ring_freezes.load(Ordering::Relaxed)
    }

    /// Rx blocks handed back to the kernel (frames received / blocks: how full blocks are when they retire).
    pub fn rx_blocks(&self) -> u64 {
        self.rx_blocks.load(Ordering::Relaxed)
    }

    /// Frames the kernel refused to send (also counted as tx errors and [`DropReason::BadFrame`]).
    pub fn tx_refused(&self) -> u64 {
        self.tx_refused.load(Ordering::Relaxed)
    }
}

/// One queue pair: a packet socket with its rings, and where each side is in its ring.
#[derive(Debug)]
struct Queue {
    sock: RingSocket,
    rx: RxRing,
    tx: TxRing,
}

/// A port on an existing interface through AF_PACKET sockets with memory-mapped rings.
#[derive(Debug)]
pub struct AfPacketPort {
    /// The interface (its name follows renames, see `by_name`).
    dev: NetDev,
    queues: Vec<Queue>,
    fanout: Option<u16>,
    pool: Pool,
    mac: [u8; 6],
    mtu: u32,
    geometry: RingGeometry,
    /// Acceptable lengths of received frames: a header up to MTU + 18 and what a packet of the pool holds.
    rx_limits: RangeInclusive<usize>,
    /// Acceptable lengths of frames to send: a header up to MTU + 18 and what a tx frame holds.
    tx_limits: RangeInclusive<usize>,
    /// Longest untagged frame to send, when the port must check it (linear tx: the kernel does not).
    tx_untagged_max: Option<usize>,
    link: LinkState,
    polls: u32,
    counters: Arc<PortCounters>,
    af_counters: Arc<AfPacketCounters>,
    events: EventBus,
}

/// The settings `open` checks before it asks the kernel for anything.
fn check_settings(config: &AfPacketConfig) -> Result<(), AfPacketError> {
    check_name(&config.ifname)?;
    if !(1..=MAX_QUEUES).contains(&config.queues) {
        return Err(AfPacketError::Queues { value: config.queues, max: MAX_QUEUES });
    }
    check_ring("af-packet-rx-blocks", config.rx_blocks, 2, MAX_RX_BLOCKS, "")?;
    check_ring("af-packet-tx-frames", config.tx_frames, 1, MAX_TX_FRAMES, "")?;
    check_ring("af-packet-block-timeout-ms", config.block_timeout_ms, 0, MAX_BLOCK_TIMEOUT_MS, "")?;
    Ok(())
}

/// What `open` learns of the interface it binds to, which must exist, be up, and be Ethernet (or loopback).
struct FoundInterface {
    dev: NetDev,
    ifindex: i32,
    mac: [u8; 6],
    mtu: u32,
    /// Its carrier is up.
    running: bool,
}

impl FoundInterface {
    /// Looks `name` up from this thread, like the packet sockets: the same namespace.
    fn find(name: &str) -> Result<FoundInterface, AfPacketError> {
        let dev = NetDev::find(name).map_err(|e| match e.raw_os_error() {
            Some(libc::ENODEV) => AfPacketError::NoSuchInterface { name: name.to_owned() },
            _ => AfPacketError::Os { op: "look up the interface (SIOCGIFINDEX)", source: e },
        })?;
        let flags = dev.flags().map_err(AfPacketError::os("read the interface flags (SIOCGIFFLAGS)"))?;
        if flags & libc::IFF_UP == 0 {
            return Err(AfPacketError::InterfaceDown { name: name.to_owned() });
        }
        let (mac, hatype) = dev.hw_addr().map_err(AfPacketError::os("read the MAC address (SIOCGIFHWADDR)"))?;
        if hatype != libc::ARPHRD_ETHER && hatype != libc::ARPHRD_LOOPBACK {
            return Err(AfPacketError::NotEthernet { name: name.to_owned(), link_type: hatype });
        }
        let mtu = dev.mtu().map_err(AfPacketError::os("read the MTU (SIOCGIFMTU)"))?;
        Ok(FoundInterface { ifindex: dev.index() as i32, dev, mac, mtu, running: flags & libc::IFF_RUNNING != 0 })
    }
}

/// One packet socket per queue (`first` is the first's), each with its rings; with several, all in one
/// fanout group (its id returned), receiving their shares only once every one is in it.
fn open_queues(
    config: &AfPacketConfig,
    layout: RingLayout,
    ifindex: i32,
    first: OwnedFd,
) -> Result<(Vec<Queue>, Option<u16>), AfPacketError> {
    let multi = config.queues > 1;
    let mut fanout = None;
    let mut queues = Vec::with_capacity(config.queues);
    let mut first = Some(first);
    for _ in 0..config.queues {
        let fd = match first.take() {
            Some(fd) => fd,
            None => packet_socket()?,
        };
        queues.push(open_queue(fd, config, layout, ifindex, multi.then_some(&mut fanout))?);
    }
    if multi {
        // Every socket is in the group: from here on each receives its share.
        for q in &queues {
            sys::detach_filter(q.sock.fd()).map_err(AfPacketError::os("remove the start-up filter"))?;
        }
    }
    Ok((queues, fanout))
}

impl AfPacketPort {
    /// Binds to interface `config.ifname` (in the calling thread's network namespace) with
    /// `config.queues` packet sockets; received frames are copied into packets from `pool`.
    ///
    /// # Errors
    /// A bad setting (name, queues, ring geometry), no CAP_NET_RAW, no such interface, the interface is
    /// down or not Ethernet, or another system error (named).
    pub fn open(config: &AfPacketConfig, pool: Pool) -> Result<AfPacketPort, AfPacketError> {
        check_settings(config)?;
        // A missing capability is the first error, before any about the interface.
        let first = packet_socket()?;
        let found = FoundInterface::find(&config.ifname)?;
        let layout = layout(config, found.mtu)?;
        let (queues, fanout) = open_queues(config, layout, found.ifindex, first)?;
        let geometry = RingGeometry {
            rx_block_size: layout.rx_block_size,
            rx_blocks: layout.rx_blocks,
            tx_frame_size: layout.tx_frame_size,
            tx_frames: layout.tx_frames(),
            tx_block_size: layout.tx_block_size,
            tx_blocks: layout.tx_blocks,
        };
        log::info!(
            "{}: AF_PACKET, {} queue(s), rx {} blocks of {} KiB, tx {} frames of {} bytes, {} MiB of rings",
            config.ifname,
            queues.len(),
            geometry.rx_blocks,
            geometry.rx_block_size >> 10,
            geometry.tx_frames,
            geometry.tx_frame_size,
            (geometry.bytes_per_queue() * queues.len()) >> 20
        );
        let (mtu, capacity) = (found.mtu, frame_capacity(&pool));
        Ok(AfPacketPort {
            dev: found.dev,
            queues,
            fanout,
            pool,
            mac: found.mac,
            mtu,
            geometry,
            rx_limits: frame_limits(mtu, capacity),
            tx_limits: frame_limits(mtu, layout.tx_room()),
            tx_untagged_max: untagged_max(&layout, mtu),
            link: if found.running { LinkState::Up } else { LinkState::Down },
            polls: 0,
            counters: Arc::default(),
            af_counters: Arc::default(),
            events: EventBus::new(),
        })
    }

    /// The port's own counters (system calls, kernel drops).
    pub fn afpacket_counters(&self) -> &Arc<AfPacketCounters> {
        &self.af_counters
    }

    /// How each queue's rings are cut.
    pub fn geometry(&self) -> RingGeometry {
        self.geometry
    }

    /// The interface's index.
    pub fn ifindex(&self) -> i32 {
        self.dev.index() as i32
    }

    /// The fanout group the queues share (None with one queue).
    pub fn fanout_group(&self) -> Option<u16> {
        self.fanout
    }

    /// Looks at the interface (link, MTU) and reads the sockets' drop counters now; `rx_burst` does this
    /// every few thousand polls. Posts a link event when the link changed.
    pub fn refresh(&mut self) {
        let up = self.carrier();
        self.set_link(up);
        let mut syscalls = 0;
        if let Ok(mtu) = self.by_name(&mut syscalls, NetDev::mtu) {
            if mtu != self.mtu {
                self.set_limits(mtu);
            }
        }
        self.read_kernel_drops(&mut syscalls);
        bump_owned(&self.af_counters.control_syscalls, syscalls);
    }

    /// Records the link as up or down, posting an event when it changed.
    fn set_link(&mut self, up: bool) {
        let link = if up { LinkState::Up } else { LinkState::Down };
        if link != self.link {
            self.link = link;
            let kind = if up { EventKind::LinkUp } else { EventKind::LinkDown };
            self.events.publish(Event { port: self.dev.index(), kind });
        }
    }

    /// Whether the interface is up with a carrier now (one ioctl, counted with the control calls).
    fn carrier(&mut self) -> bool {
        let mut syscalls = 0;
        let flags = self.by_name(&mut syscalls, NetDev::flags);
        bump_owned(&self.af_counters.control_syscalls, syscalls);
        flags.is_ok_and(|f| f & libc::IFF_UP != 0 && f & libc::IFF_RUNNING != 0)
    }

    /// Runs an ioctl that goes by interface name; if the interface was renamed since, finds its name again
    /// by index first.
    fn by_name<T>(&mut self, syscalls: &mut u64, op: impl Fn(&NetDev) -> io::Result<T>) -> io::Result<T> {
        *syscalls += 1;
        match op(&self.dev) {
            Err(e) if e.raw_os_error() == Some(libc::ENODEV) => {
                *syscalls += 2;
                self.dev.refresh_name()?;
                op(&self.dev)
            }
            other => other,
        }
    }

    /// Adds what the kernel dropped for want of rx ring room since the last read. Those frames never
    /// reached the port: they are reported as missed (DPDK's imissed), not as the port's drops, which
    /// count packets the port had.
    fn read_kernel_drops(&mut self, syscalls: &mut u64) {
        let (mut drops, mut freezes) = (0, 0);
        for q in &self.queues {
            *syscalls += 1;
            if let Ok(st) = sys::statistics(q.sock.fd()) {
                drops += u64::from(st.drops);
                freezes += u64::from(st.freezes);
            }
        }
        bump_owned(&self.af_counters.kernel_drops, drops);
        bump_owned(&self.af_counters.ring_freezes, freezes);
    }

    fn set_limits(&mut self, mtu: u32) {
        self.mtu = mtu;
        self.rx_limits = frame_limits(mtu, frame_capacity(&self.pool));
        self.tx_limits = frame_limits(mtu, self.queues[0].sock.layout().tx_room());
        self.tx_untagged_max = untagged_max(&self.queues[0].sock.layout(), mtu);
    }

    fn count_rx(&self, done: &RxDone) {
        let c: &PortCounters = &self.counters;
        c.rx(done.frames as u64, done.bytes);
        if done.bad > 0 {
            c.rx_dropped(DropReason::BadFrame, done.bad);
        }
        if done.no_packet + done.no_buffer > 0 {
            // Read off the ring and dropped (the ring must move on): an input error as well, so that every
            // frame that came in is received or an error (TAP, which can leave frames in the kernel, counts
            // only rx_nombuf).
            c.rx_nombuf(done.no_packet + done.no_buffer);
            c.rx_dropped(DropReason::NoMemPacket, done.no_packet);
            c.rx_dropped(DropReason::NoMemBuffer, done.no_buffer);
        }
        bump_owned(&self.af_counters.rx_blocks, done.blocks);
    }

    fn count_tx(&self, done: &TxDone) {
        let c: &PortCounters = &self.counters;
        c.tx(done.sent, done.bytes);
        if done.bad + done.refused + done.down > 0 {
            c.tx_error(done.bad + done.refused + done.down);
            c.drop(DropReason::BadFrame, done.bad + done.refused);
            c.drop(DropReason::NoPeer, done.down);
        }
        bump_owned(&self.af_counters.tx_syscalls, done.syscalls);
        bump_owned(&self.af_counters.tx_refused, done.refused);
    }
}

impl Drop for AfPacketPort {
    /// Sends what still waits in the tx rings (one last `sendto` per queue), counts what the kernel would not
    /// take, and the frames it had handed over that no burst took, as [`DropReason::Detached`], and reads the
    /// kernel's last drop counts; then the rings are unmapped and the sockets closed. The port holds no
    /// packet: every buffer is back in the pool already.
    fn drop(&mut self) {
        let mut done = TxDone::default();
        let (mut detached, mut unread) = (0, 0);
        for q in &mut self.queues {
            if q.tx.pending() > 0 {
                q.tx.flush(&mut q.sock, &mut done);
                detached += u64::from(q.tx.pending());
            }
            unread += q.rx.untaken(&q.sock);
        }
        self.count_tx(&done);
        let c: &PortCounters = &self.counters;
        if detached > 0 {
            c.tx_error(detached);
            c.drop(DropReason::Detached, detached);
        }
        if unread > 0 {
            c.rx_dropped(DropReason::Detached, unread);
        }
        let mut syscalls = 0;
        self.read_kernel_drops(&mut syscalls);
        bump_owned(&self.af_counters.control_syscalls, syscalls);
    }
}

/// A packet socket, with the errors a user can fix turned into what they mean.
pub(super) fn packet_socket() -> Result<OwnedFd, AfPacketError> {
    sys::packet_socket().map_err(|e| match e.raw_os_error() {
        Some(libc::EPERM | libc::EACCES) => AfPacketError::NotPermitted,
        Some(libc::EAFNOSUPPORT | libc::ESOCKTNOSUPPORT | libc::EPROTONOSUPPORT) => AfPacketError::NoPacketSockets,
        _ => AfPacketError::Os { op: "open a packet socket", source: e },
    })
}

/// Sets up one queue's socket: TPACKET_V3, options, both rings mapped, bound to `ifindex`, and, when
/// `fanout` is given, in the port's fanout group (made by the first queue).
fn open_queue(
    fd: OwnedFd,
    config: &AfPacketConfig,
    layout: RingLayout,
    ifindex: i32,
    fanout: Option<&mut Option<u16>>,
) -> Result<Queue, AfPacketError> {
    let os = AfPacketError::os;
    sys::set_version_v3(&fd).map_err(os("select TPACKET_V3 frames (PACKET_VERSION)"))?;
    sys::set_ignore_outgoing(&fd).map_err(os("ignore outgoing frames (PACKET_IGNORE_OUTGOING, Linux 4.20+)"))?;
    if config.linear_tx {
        sys::set_vnet_hdr(&fd).map_err(os("put a virtio_net_hdr in front of frames (PACKET_VNET_HDR)"))?;
    }
    if config.qdisc_bypass {
        sys::set_qdisc_bypass(&fd).map_err(os("bypass the qdisc (PACKET_QDISC_BYPASS)"))?;
    }
    // Room for a whole ring of frames in flight; the kernel caps it at net.core.wmem_max, and a smaller
    // buffer only makes `sendto` leave frames for the next burst.
    let _ = sys::set_send_buffer(&fd, layout.tx_frames() as usize * layout.tx_frame_size as usize);
    if fanout.is_some() {
        // Until the socket is in the group it would receive every frame on its own.
        sys::attach_drop_all(&fd).map_err(os("attach the start-up filter (SO_ATTACH_FILTER)"))?;
    }
    sys::set_rx_ring(&fd, layout.rx_block_size, layout.rx_blocks, config.block_timeout_ms)
        .map_err(os("set up the rx ring (PACKET_RX_RING)"))?;
    sys::set_tx_ring(&fd, layout.tx_block_size, layout.tx_blocks, layout.tx_frame_size)
        .map_err(os("set up the tx ring (PACKET_TX_RING)"))?;
    // SAFETY: `fd` is the packet socket made above, its rings were just set up with `layout`, and it moves
    // into the `RingSocket`, the only mapping of them.
    let sock = unsafe { RingSocket::map(fd, layout) }.map_err(os("map the rings (mmap)"))?;
    sys::bind(sock.fd(), ifindex).map_err(os("bind to the interface"))?;
    match fanout {
        None => {}
        Some(group @ None) => {
            let id = sys::fanout_create(sock.fd(), FANOUT).map_err(os("create a fanout group (PACKET_FANOUT)"))?;
            *group = Some(id);
        }
        Some(Some(id)) => {
            sys::fanout_join(sock.fd(), *id, FANOUT).map_err(os("join the fanout group (PACKET_FANOUT)"))?;
        }
    }
    Ok(Queue { rx: RxRing::new(layout.rx_blocks), tx: TxRing::new(layout.tx_frames()), sock })
}

/// The rings for `config` on an interface of `mtu`.
fn layout(config: &AfPacketConfig, mtu: u32) -> Result<RingLayout, AfPacketError> {
    let page = sys::page_size() as u32;
    let frame = mtu.saturating_add(FRAME_OVERHEAD);
    let min_block = (RX_BLOCK_OVERHEAD.saturating_add(frame)).max(page).next_power_of_two();
    let block = config.rx_block_size;
    check_ring("af-packet-rx-block-size", block, min_block, MAX_RX_BLOCK_SIZE, ", a power of two")?;
    if !block.is_power_of_two() {
        return Err(ring_error("af-packet-rx-block-size", block, min_block, MAX_RX_BLOCK_SIZE, ", a power of two"));
    }
    // The kernel wants the whole rx ring under 4 GiB.
    check_ring("af-packet-rx-blocks", config.rx_blocks, 2, MAX_RX_BLOCKS.min(u32::MAX / block), "")?;
    let vnet = if config.linear_tx { sys::VNET_HDR_LEN } else { 0 };
    let header = (sys::TX_DATA_OFFSET + vnet) as u32;
    let tx_frame_size = (header + frame).next_multiple_of(libc::TPACKET_ALIGNMENT as u32);
    let tx_block_size = MIN_TX_BLOCK.max(page).max(tx_frame_size.saturating_mul(8).next_power_of_two());
    let per_block = tx_block_size / tx_frame_size;
    Ok(RingLayout {
        rx_block_size: block,
        rx_blocks: config.rx_blocks,
        tx_block_size,
        tx_blocks: config.tx_frames.div_ceil(per_block),
        tx_frame_size,
        vnet_hdr: config.linear_tx,
    })
}

/// The longest untagged frame the port must refuse to send itself: MTU + 14 when the kernel skips its own
/// check (frames carry a `virtio_net_hdr`), else none.
fn untagged_max(layout: &RingLayout, mtu: u32) -> Option<usize> {
    layout.vnet_hdr.then_some(mtu as usize + ETHERNET_HEADER)
}

fn ring_error(knob: &'static str, value: u32, min: u32, max: u32, rule: &'static str) -> AfPacketError {
    AfPacketError::Ring { knob, value: value.into(), min: min.into(), max: max.into(), rule }
}

fn check_ring(knob: &'static str, value: u32, min: u32, max: u32, rule: &'static str) -> Result<(), AfPacketError> {
    if (min..=max).contains(&value) {
        Ok(())
    } else {
        Err(ring_error(knob, value, min, max, rule))
    }
}

/// Names the kernel accepts: 1..=15 bytes, not `.` or `..`, no '/', ':', NUL or whitespace.
fn check_name(name: &str) -> Result<(), AfPacketError> {
    if name.len() > MAX_NAME {
        return Err(AfPacketError::NameTooLong { name: name.to_owned(), len: name.len(), max: MAX_NAME });
    }
    let bad_char = name.chars().any(|c| c == '/' || c == ':' || c == '\0' || c.is_whitespace());
    if name.is_empty() || name == "." || name == ".." || bad_char {
        return Err(AfPacketError::BadName { name: name.to_owned() });
    }
    Ok(())
}

/// Acceptable frame lengths: an Ethernet header up to MTU + 18 bytes, and at most `room`.
fn frame_limits(mtu: u32, room: usize) -> RangeInclusive<usize> {
    MIN_FRAME..=(mtu.saturating_add(FRAME_OVERHEAD) as usize).min(room)
}

/// The longest frame one packet of `pool` holds: the first buffer after headroom, then whole buflets.
fn frame_capacity(pool: &Pool) -> usize {
    let room = pool.buf_size() - pool.headroom();
    (room + (u32::from(pool.max_buflets()) - 1) * pool.buf_size()) as usize
}

impl Port for AfPacketPort {
    fn name(&self) -> &str {
        self.dev.name()
    }

    /// The interface's MAC address (read when the port opened).
    fn mac(&self) -> [u8; 6] {
        self.mac
    }

    fn mtu(&self) -> u32 {
        self.mtu
    }

    fn rx_queues(&self) -> usize {
        self.queues.len()
    }

    fn tx_queues(&self) -> usize {
        self.queues.len()
    }

    fn rx_burst(&mut self, queue: usize, pkts: &mut PacketBurst, max: usize) -> usize {
        self.polls = self.polls.wrapping_add(1);
        if self.polls.is_multiple_of(LINK_CHECK_EVERY) {
            self.refresh();
        }
        let Some(q) = self.queues.get_mut(queue) else { return 0 };
        let done = q.rx.rx_burst(&mut q.sock, &self.pool, pkts, max, &self.rx_limits);
        self.count_rx(&done);
        done.frames
    }

    /// Copies the packets into the queue's tx ring and sends them with one `sendto`. Packets are taken when
    /// copied (or dropped as bad, counted); the ring's frames are counted sent once the kernel takes them, in
    /// this burst or the next. Frames the ring has no room for stay in `pkts`, in order.
    fn tx_burst(&mut self, queue: usize, pkts: &mut PacketBurst) -> usize {
        let Some(q) = self.queues.get_mut(queue) else { return 0 };
        if pkts.is_empty() && q.tx.pending() == 0 {
            return 0;
        }
        let mut done = q.tx.tx_burst(&mut q.sock, pkts, &self.tx_limits, self.tx_untagged_max);
        if done.no_buffers && done.sent == 0 && !self.carrier() {
            // Up without a carrier, the device drops every frame and the kernel keeps them marked to send:
            // kept, they would fill the ring and go out stale when the carrier is back. Down is down. (A
            // congested link says ENOBUFS too, and sends some: it is not asked, nor is one that sent any.)
            self.set_link(false);
            let q = &mut self.queues[queue];
            q.tx.take_back_all(&mut q.sock, &mut done);
        }
        self.count_tx(&done);
        done.taken
    }

    fn link(&self) -> LinkState {
        self.link
    }

    fn counters(&self) -> &Arc<PortCounters> {
        &self.counters
    }

    fn events(&self) -> &EventBus {
        &self.events
    }

    fn tx_pool(&self) -> &Pool {
        &self.pool
    }
}
