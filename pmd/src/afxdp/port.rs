//! The AF_XDP port: the UMEM over its pool, one socket per queue, the XDP program that feeds them, and the
//! Port API.

use super::error::AfXdpError;
use super::queue::{Queue, RxDone, TxDone};
use super::sys::bpf::{self, XdpAttach};
use super::sys::socket::{self, Bind, UmemSpec, XskStats};
use super::umem::{page_size, Umem, MIN_CHUNK, XDP_HEADROOM};
use crate::netdev::{NetDev, MAX_NAME};
use pktloop_engine::port::{
    bump_owned, DropReason, Event, EventBus, EventKind, LinkState, PacketBurst, Port, PortCounters,
};
use pktloop_engine::Pool;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Most queues of one port.
pub const MAX_QUEUES: usize = 64;

/// Ring sizes accepted (entries, a power of two).
pub const RING_SIZES: std::ops::RangeInclusive<u32> = 64..=16384;

/// Bytes a frame may carry beyond the MTU: an Ethernet header and one VLAN tag.
const FRAME_OVERHEAD: u32 = 18;

/// Polls between two looks at the interface's flags and the sockets' drop counters (a few system calls):
/// a link change is seen within a few milliseconds of polling, and costs nothing per burst.
const LINK_CHECK_EVERY: u32 = 4096;

/// How long teardown waits for the kernel to finish sending what it was given.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(1);

/// How to make an AF_XDP port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AfXdpConfig {
    /// The interface to bind to (it must exist and be up).
    pub ifname: String,
    /// Queues, each its own socket bound to the interface's queue of the same number, 1..=[`MAX_QUEUES`].
    pub queues: usize,
    /// Entries of each of a socket's four rings (a power of two in [`RING_SIZES`]); the fill ring is kept
    /// half full.
    pub ring_size: u32,
    /// Which way frames may move (default [`XdpWant::Auto`]).
    pub want: XdpWant,
}

/// Which way an AF_XDP port may move frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum XdpWant {
    /// The best the interface offers: zero-copy (over a pool of chunks, whose buffers cross no page), else
    /// copy with XDP in the driver, else generic XDP.
    #[default]
    Auto,
    /// Zero-copy only (XDP in the driver, which reads and writes pktloop's buffers itself), over a pool of
    /// chunks.
    ZeroCopy,
    /// XDP in the driver, frames copied by the kernel.
    Copy,
    /// Generic XDP (after the kernel built an skb), frames copied: on veth it costs the receiving side
    /// less than the driver's XDP, which first copies each skb into a page with room in front.
    Generic,
}

impl XdpWant {
    /// How the sockets ask to bind, in order of preference, over a UMEM whose buffers each lie within one
    /// page (`pages_whole`: its aligned mode, [`PoolConfig::chunks`](pktloop_engine::pool::PoolConfig)) or
    /// not. Zero-copy takes whole pages: a zero-copy queue's kernel silently drops a buffer that crosses
    /// into a page not contiguous with its first for the device (`xp_desc_crosses_non_contig_pg`), which
    /// normal pages need not be, nor two hugepages, nor any page behind an IOMMU. The buffer is then lent
    /// for good and the pool drains.
    fn binds(self, pages_whole: bool, name: &str) -> Result<&'static [Bind], AfXdpError> {
        Ok(match (self, pages_whole) {
            (XdpWant::Auto, true) => &[Bind::ZeroCopy, Bind::Copy],
            (XdpWant::ZeroCopy, true) => &[Bind::ZeroCopy],
            (XdpWant::ZeroCopy, false) => return Err(AfXdpError::ZeroCopyNeedsChunks { name: name.to_owned() }),
            (XdpWant::Auto | XdpWant::Copy | XdpWant::Generic, _) => &[Bind::Copy],
        })
    }

    /// Where the program may run, in order of preference.
    fn attaches(self) -> &'static [XdpAttach] {
        match self {
            XdpWant::Auto => &[XdpAttach::Driver, XdpAttach::Generic],
            XdpWant::ZeroCopy | XdpWant::Copy => &[XdpAttach::Driver],
            XdpWant::Generic => &[XdpAttach::Generic],
        }
    }
}

impl AfXdpConfig {
    /// One queue of `ifname`, 2048-entry rings, zero-copy where the driver has it.
    pub fn new(ifname: impl Into<String>) -> AfXdpConfig {
        AfXdpConfig { ifname: ifname.into(), queues: 1, ring_size: 2048, want: XdpWant::Auto }
    }
}

/// How frames move between the interface and the sockets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum XdpMode {
    /// The driver reads and writes pktloop's buffers itself.
    ZeroCopy,
    /// XDP in the driver, frames copied by the kernel into and out of the buffers.
    Copy,
    /// Generic XDP (after the kernel made an skb), copied: every interface has it.
    Generic,
}

impl XdpMode {
    /// Name for logs, tables and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            XdpMode::ZeroCopy => "zero-copy",
            XdpMode::Copy => "copy",
            XdpMode::Generic => "generic",
        }
    }
}

/// An AF_XDP port's own counters, readable from any thread.
#[derive(Debug, Default)]
#[repr(align(128))]
pub struct AfXdpCounters {
    rx_syscalls: AtomicU64,
    tx_syscalls: AtomicU64,
    tx_copied: AtomicU64,
    kernel_rx_ring_full: AtomicU64,
    kernel_rx_dropped: AtomicU64,
    invalid: AtomicU64,
}

impl AfXdpCounters {
    /// System calls made to receive (wakeups the kernel asked for).
    pub fn rx_syscalls(&self) -> u64 {
        self.rx_syscalls.load(Ordering::Relaxed)
    }

    /// System calls made to send (one kick per burst where the kernel needs one).
    pub fn tx_syscalls(&self) -> u64 {
        self.tx_syscalls.load(Ordering::Relaxed)
    }

    /// Frames sent after a copy into the UMEM (packets of another pool, chained or shared).
    pub fn tx_copied(&self) -> u64 {
        self.tx_copied.load(Ordering::Relaxed)
    }

    /// Frames the kernel dropped because a socket's rx ring was full.
    pub fn kernel_rx_ring_full(&self) -> u64 {
        self.kernel_rx_ring_full.load(Ordering::Relaxed)
    }

    /// Frames the kernel dropped for want of a fill-ring buffer or because they did not fit one.
    pub fn kernel_rx_dropped(&self) -> u64 {
        self.kernel_rx_dropped.load(Ordering::Relaxed)
    }

    /// Descriptors that named no buffer the kernel held, or that the kernel refused.
    pub fn invalid(&self) -> u64 {
        self.invalid.load(Ordering::Relaxed)
    }
}

/// An AF_XDP port.
#[derive(Debug)]
pub struct AfXdpPort {
    /// First: dropping it detaches the program, so no frame is redirected to the sockets any more.
    xdp_link: Option<OwnedFd>,
    queues: Vec<Queue>,
    umem: Umem,
    dev: NetDev,
    mac: [u8; 6],
    mtu: u32,
    mode: XdpMode,
    max_frame: u32,
    link: LinkState,
    polls: u32,
    kernel_stats: Vec<XskStats>,
    counters: Arc<PortCounters>,
    xdp_counters: Arc<AfXdpCounters>,
    events: EventBus,
}

impl AfXdpPort {
    /// Binds to `config.ifname`'s queues, with a UMEM over `pool`'s memory.
    ///
    /// # Errors
    /// A bad setting, a missing interface or capability, an interface that is down or refuses XDP, or
    /// another system error.
    pub fn open(config: &AfXdpConfig, pool: Pool) -> Result<AfXdpPort, AfXdpError> {
        let name = &config.ifname;
        check_config(config)?;
        let dev = NetDev::find(name).map_err(|e| match e.raw_os_error() {
            Some(libc::ENODEV) => AfXdpError::NoInterface { name: name.clone() },
            _ => AfXdpError::Os { op: "look up the interface", source: e },
        })?;
        let flags = dev.flags().map_err(AfXdpError::os("read interface flags"))?;
        if flags & libc::IFF_UP == 0 {
            return Err(AfXdpError::Down { name: name.clone() });
        }
        let mtu = dev.mtu().map_err(AfXdpError::os("read the MTU"))?;
        let mac = dev.mac().map_err(AfXdpError::os("read the MAC address"))?;
        check_pool(config, &pool, mtu)?;
        let (umem, spec) = Umem::new(pool);
        let binds = config.want.binds(!spec.unaligned, name)?;
        // The port exists before its first buffer is lent to the kernel: if a later step fails, dropping it
        // closes the sockets made so far and takes every lent buffer back (see Drop).
        let mut port = AfXdpPort {
            xdp_link: None,
            queues: Vec::with_capacity(config.queues),
            max_frame: (mtu + FRAME_OVERHEAD).min(umem.frame_room()),
            umem,
            link: if dev.is_running() { LinkState::Up } else { LinkState::Down },
            dev,
            mac,
            mtu,
            mode: XdpMode::Copy,
            polls: 0,
            kernel_stats: vec![XskStats::default(); config.queues],
            counters: Arc::default(),
            xdp_counters: Arc::default(),
            events: EventBus::new(),
        };
        for q in 0..config.queues {
            let queue = port.open_queue(config, q, spec, binds)?;
            port.queues.push(queue);
        }
        let (xdp_link, attach) = attach_program(&port.queues, &port.dev, config.want)?;
        port.xdp_link = Some(xdp_link);
        // The sockets' binding decides zero-copy whatever attached the program: a zero-copy socket under a
        // generic program is still the driver's to fill.
        port.mode = match attach {
            _ if socket::zero_copy(port.queues[0].fd()).unwrap_or(false) => XdpMode::ZeroCopy,
            XdpAttach::Generic => XdpMode::Generic,
            XdpAttach::Driver => XdpMode::Copy,
        };
        log::info!("{name}: AF_XDP, {} queue(s), {} mode", port.queues.len(), port.mode.as_str());
        Ok(port)
    }

    /// Opens queue `q`'s socket (the first registers the UMEM, the others share it), binds it and fills its
    /// fill ring.
    fn open_queue(
        &mut self,
        config: &AfXdpConfig,
        q: usize,
        spec: UmemSpec,
        binds: &[Bind],
    ) -> Result<Queue, AfXdpError> {
        let name = &config.ifname;
        let fd = socket::socket().map_err(|e| permission(e, name, "CAP_NET_RAW", "open an XDP socket"))?;
        if q == 0 {
            // SAFETY: the pool's mapping lives as long as the port's UMEM, which the port drops only after
            // every socket (see Drop), and its buffers are meant for the kernel to fill and read.
            unsafe { socket::register_umem(&fd, spec) }.map_err(AfXdpError::os("register the UMEM"))?;
        }
        let rings = socket::rings(&fd, config.ring_size).map_err(AfXdpError::os("map the rings"))?;
        let shared = self.queues.first().map(|first| [Bind::SharedWith(first.fd().as_raw_fd())]);
        let binds = shared.as_ref().map_or(binds, |s| &s[..]);
        self.bind(&fd, q, binds, config)?;
        let mut queue = Queue::new(fd, rings, config.ring_size / 2);
        queue.refill(&mut self.umem);
        Ok(queue)
    }

    /// How frames move (zero-copy, copy, generic XDP).
    pub fn mode(&self) -> XdpMode {
        self.mode
    }

    /// The port's own counters.
    pub fn xdp_counters(&self) -> &Arc<AfXdpCounters> {
        &self.xdp_counters
    }

    /// Looks at the link; posts a link event when it changed.
    fn refresh_link(&mut self) {
        let link = if self.dev.is_running() { LinkState::Up } else { LinkState::Down };
        if link != self.link {
            self.link = link;
            let kind = if link == LinkState::Up { EventKind::LinkUp } else { EventKind::LinkDown };
            self.events.publish(Event { port: self.dev.index(), kind });
        }
    }

    /// Adds what the kernel dropped since the last look. Those frames never reached the port: they are
    /// reported as missed (DPDK's imissed), not as the port's drops, which count packets the port had.
    fn read_kernel_stats(&mut self) {
        for (q, seen) in self.queues.iter().zip(self.kernel_stats.iter_mut()) {
            let Ok(now) = socket::statistics(q.fd()) else { continue };
            let c = &self.xdp_counters;
            bump_owned(&c.kernel_rx_ring_full, now.rx_ring_full - seen.rx_ring_full);
            bump_owned(&c.kernel_rx_dropped, now.rx_dropped - seen.rx_dropped);
            bump_owned(&c.invalid, now.invalid - seen.invalid);
            *seen = now;
        }
    }
}

impl AfXdpPort {
    /// Binds socket `fd` to queue `q` the first way of `binds` the interface takes.
    fn bind(&self, fd: &OwnedFd, q: usize, binds: &[Bind], config: &AfXdpConfig) -> Result<(), AfXdpError> {
        let mut last = None;
        for &how in binds {
            match bind_retrying(fd, self.dev.index(), q as u32, how) {
                Ok(()) => return Ok(()),
                Err(e) => last = Some(e),
            }
        }
        let source = last.unwrap_or_else(|| std::io::Error::from_raw_os_error(libc::EINVAL));
        let name = config.ifname.clone();
        Err(match (config.want, source.raw_os_error()) {
            (XdpWant::ZeroCopy, Some(libc::EOPNOTSUPP | libc::EINVAL)) => {
                AfXdpError::ModeRefused { name, mode: "zero-copy", source }
            }
            _ => AfXdpError::Bind { name, queue: q, source },
        })
    }
}

/// Binds, retrying for a while when the queue is busy: the kernel lets go of a queue whose last socket
/// closed from a work queue, a little after the close returned (a port opened again right after one was
/// dropped meets that).
fn bind_retrying(fd: &OwnedFd, ifindex: u32, queue: u32, how: Bind) -> std::io::Result<()> {
    let deadline = Instant::now() + DRAIN_TIMEOUT;
    loop {
        match socket::bind(fd, ifindex, queue, how) {
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(5));
            }
            other => return other,
        }
    }
}

fn check_config(config: &AfXdpConfig) -> Result<(), AfXdpError> {
    let name = &config.ifname;
    if name.is_empty() || name.len() > MAX_NAME {
        return Err(AfXdpError::NameTooLong { name: name.clone(), len: name.len(), max: MAX_NAME });
    }
    if !(1..=MAX_QUEUES).contains(&config.queues) {
        return Err(AfXdpError::Queues { value: config.queues, max: MAX_QUEUES });
    }
    if !config.ring_size.is_power_of_two() || !RING_SIZES.contains(&config.ring_size) {
        let (min, max) = (*RING_SIZES.start(), *RING_SIZES.end());
        return Err(AfXdpError::RingSize { value: config.ring_size, min, max });
    }
    Ok(())
}

/// The pool must hold the frames the interface's MTU allows behind the kernel's headroom, and keep every
/// queue's fill ring and a full tx ring supplied with buffers to spare.
fn check_pool(config: &AfXdpConfig, pool: &Pool, mtu: u32) -> Result<(), AfXdpError> {
    let name = &config.ifname;
    // Received frames start XDP_HEADROOM in, frames copied for sending at the pool's headroom.
    let headroom = XDP_HEADROOM.max(pool.headroom());
    if pool.buf_size() < mtu + FRAME_OVERHEAD + headroom {
        let buf_size = pool.buf_size();
        return Err(AfXdpError::BuffersTooSmall { name: name.clone(), mtu, buf_size, headroom });
    }
    // Checked here, where the kernel would refuse the UMEM with a bare EINVAL (seen on Linux 6.18 with
    // normal and huge pages alike, in unaligned mode).
    let (stride, max) = (pool.memory().stride as u32, page_size());
    if !(MIN_CHUNK..=max).contains(&stride) {
        let buf_size = pool.buf_size();
        return Err(AfXdpError::ChunkSize { name: name.clone(), stride, buf_size, min: MIN_CHUNK, max });
    }
    let need = config.queues * (config.ring_size as usize / 2 + config.ring_size as usize);
    if pool.capacity() <= need {
        return Err(AfXdpError::PoolTooSmall {
            name: name.clone(),
            queues: config.queues,
            have: pool.capacity(),
            need,
        });
    }
    Ok(())
}

/// EPERM and EACCES mean a missing capability; EAFNOSUPPORT no AF_XDP in the kernel.
fn permission(e: std::io::Error, name: &str, what: &'static str, op: &'static str) -> AfXdpError {
    match e.raw_os_error() {
        Some(libc::EPERM | libc::EACCES) => AfXdpError::NotPermitted { name: name.to_owned(), what },
        Some(libc::EAFNOSUPPORT) => AfXdpError::NoXskSupport,
        _ => AfXdpError::Os { op, source: e },
    }
}

/// Loads the redirect program over a map of the queues' sockets and attaches it to the interface.
fn attach_program(queues: &[Queue], dev: &NetDev, want: XdpWant) -> Result<(OwnedFd, XdpAttach), AfXdpError> {
    let name = dev.name();
    let map = bpf::xsk_map(queues.len() as u32)
        .map_err(|e| permission(e, name, "CAP_BPF (or CAP_SYS_ADMIN)", "create the XSKMAP"))?;
    for (q, queue) in queues.iter().enumerate() {
        bpf::set_xsk(&map, q as u32, queue.fd()).map_err(AfXdpError::os("put a socket in the XSKMAP"))?;
    }
    let prog =
        bpf::load_redirect(&map).map_err(|e| permission(e, name, "CAP_BPF (or CAP_SYS_ADMIN)", "load the program"))?;
    // The program holds the map; the link holds the program: only the link's fd needs keeping.
    bpf::attach(&prog, dev.index(), want.attaches()).map_err(|e| match e.raw_os_error() {
        Some(libc::EBUSY | libc::EEXIST) => AfXdpError::XdpBusy { name: name.to_owned() },
        Some(libc::EPERM | libc::EACCES) => AfXdpError::NotPermitted { name: name.to_owned(), what: "CAP_NET_ADMIN" },
        _ if want == XdpWant::Copy || want == XdpWant::ZeroCopy => {
            AfXdpError::ModeRefused { name: name.to_owned(), mode: "driver XDP", source: e }
        }
        _ => AfXdpError::NoXdp { name: name.to_owned(), source: e },
    })
}

impl Drop for AfXdpPort {
    /// Detaches the program, waits (boundedly) for the kernel to finish sending, takes back what the rx
    /// rings hold, reads the kernel's last drop counts, closes the sockets and then returns every buffer the
    /// kernel held to the pool. Kept out of the pool, and logged: the buffers of frames the kernel never
    /// completed (it may still read them), and in zero-copy mode every lent buffer, because the kernel lets
    /// the driver go from a work queue some time after the last close (the NIC could still write into the
    /// fill buffers it had posted).
    fn drop(&mut self) {
        self.xdp_link = None;
        let deadline = Instant::now() + DRAIN_TIMEOUT;
        loop {
            for q in &mut self.queues {
                q.reap_completions(&mut self.umem);
            }
            let in_flight: u32 = self.queues.iter().map(Queue::in_flight).sum();
            if in_flight == 0 || Instant::now() >= deadline {
                break;
            }
            self.queues.iter().for_each(Queue::kick);
            std::thread::sleep(Duration::from_millis(1));
        }
        let unread: u64 = self.queues.iter_mut().map(|q| q.drain_rx(&mut self.umem)).sum();
        if unread > 0 {
            self.counters.rx_dropped(DropReason::Detached, unread);
        }
        self.read_kernel_stats();
        let stuck: u32 = self.queues.iter().map(Queue::in_flight).sum();
        // The sockets say whether the driver took the UMEM, not `mode`: a port whose opening failed part
        // way, or whose program only attached generically, may have bound zero-copy sockets all the same.
        // A socket whose options cannot be read is taken to be zero-copy: its buffers are then never given
        // back while a driver may hold them.
        let zero_copy = self.queues.iter().any(|q| socket::zero_copy(q.fd()).unwrap_or(true));
        self.queues.clear();
        if stuck == 0 && !zero_copy {
            // SAFETY: every socket over the UMEM is closed (`queues` just dropped), none of them zero-copy;
            // in copy mode the close returns after the kernel's last access (`xsk_unbind_dev` waits with
            // `synchronize_net`), and no send was left in flight.
            unsafe { self.umem.reclaim_all() };
        } else if self.umem.lent_count() > 0 {
            let why = if stuck > 0 {
                format!("{stuck} frame(s) never completed by the kernel")
            } else {
                "zero-copy: the driver may hold them a while after the sockets close".to_owned()
            };
            log::warn!("{}: {why}; {} buffer(s) kept out of the pool", self.dev.name(), self.umem.lent_count());
        }
    }
}

impl Port for AfXdpPort {
    fn name(&self) -> &str {
        self.dev.name()
    }

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
            self.refresh_link();
            self.read_kernel_stats();
        }
        let Some(q) = self.queues.get_mut(queue) else { return 0 };
        let done: RxDone = q.rx_burst(&mut self.umem, pkts, max, self.max_frame);
        let c: &PortCounters = &self.counters;
        if done.frames > 0 {
            c.rx(done.frames as u64, done.bytes);
        }
        if done.bad > 0 {
            c.rx_dropped(DropReason::BadFrame, done.bad);
        }
        bump_owned(&self.xdp_counters.invalid, done.invalid);
        bump_owned(&self.xdp_counters.rx_syscalls, done.syscalls);
        done.frames
    }

    /// Frames count as sent when they enter the tx ring, as DPDK's net_af_xdp counts them: the kernel hands
    /// every buffer back through the completion ring whether it sent the frame or dropped it (a link that
    /// just went down: the interface's own `tx_dropped` shows those). The port's link state cannot decide
    /// instead: IFF_RUNNING follows the carrier only after the kernel's link watch (up to a second), so a
    /// port opened on a just-made interface would drop frames the kernel sends.
    fn tx_burst(&mut self, queue: usize, pkts: &mut PacketBurst) -> usize {
        let Some(q) = self.queues.get_mut(queue) else { return 0 };
        if pkts.is_empty() {
            // A poll: what was sent comes home, and what still waits is sent, with nothing new to send.
            bump_owned(&self.xdp_counters.tx_syscalls, q.tx_poll(&mut self.umem));
            return 0;
        }
        let c: &PortCounters = &self.counters;
        let done: TxDone = q.tx_burst(&mut self.umem, pkts, self.max_frame);
        if done.sent > 0 {
            c.tx(done.sent, done.bytes);
        }
        let dropped = done.runt + done.too_long + done.nomem;
        if dropped > 0 {
            c.tx_error(dropped);
            c.drop(DropReason::BadFrame, done.runt);
            c.drop(DropReason::MtuExceeded, done.too_long);
            c.drop(DropReason::NoMemPacket, done.nomem);
        }
        bump_owned(&self.xdp_counters.tx_syscalls, done.syscalls);
        bump_owned(&self.xdp_counters.tx_copied, done.copied);
        (done.sent + dropped) as usize
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
        self.umem.pool()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pktloop_engine::mem::Prefer;
    use pktloop_engine::pool::PoolConfig;

    fn pool(buf_size: u32) -> Pool {
        let mut config = PoolConfig::new("afxdp-check", 8192, buf_size);
        config.headroom = XDP_HEADROOM;
        config.prefer = Prefer::Normal;
        Pool::new(config).unwrap()
    }

    /// The kernel takes UMEM chunks of 2048 bytes to a page: buffers laid out further apart, or closer, are
    /// refused with their sizes before it would say EINVAL.
    #[test]
    fn buffers_laid_out_beyond_a_page_apart_are_refused_with_their_sizes() {
        let config = AfXdpConfig::new("x");
        assert!(check_pool(&config, &pool(2048), 1500).is_ok(), "the default: 2112 bytes apart");
        let far = check_pool(&config, &pool(4096), 1500).unwrap_err();
        assert!(matches!(far, AfXdpError::ChunkSize { stride: 4160, buf_size: 4096, min: 2048, .. }), "{far}");
        assert!(far.to_string().contains("2048..=4096") || page_size() != 4096, "{far}");
        let near = check_pool(&config, &pool(1856), 1500).unwrap_err();
        assert!(matches!(near, AfXdpError::ChunkSize { stride: 1856, .. }), "{near}");
    }

    /// Zero-copy only over buffers that each lie within a page.
    #[test]
    fn zero_copy_is_asked_for_over_whole_pages_only() {
        assert_eq!(XdpWant::Auto.binds(true, "x").unwrap(), &[Bind::ZeroCopy, Bind::Copy]);
        assert_eq!(XdpWant::Auto.binds(false, "x").unwrap(), &[Bind::Copy]);
        assert_eq!(XdpWant::ZeroCopy.binds(true, "x").unwrap(), &[Bind::ZeroCopy]);
        let refused = XdpWant::ZeroCopy.binds(false, "x").unwrap_err();
        assert!(refused.to_string().contains("PoolConfig::chunks"), "{refused}");
        assert_eq!(XdpWant::Copy.binds(true, "x").unwrap(), &[Bind::Copy]);
    }

    /// A pool of chunks makes an aligned UMEM (no buffer crosses a page); pktloop's usual layout does not.
    #[test]
    fn a_pool_of_chunks_is_registered_in_aligned_mode() {
        let mut c = PoolConfig::new("afxdp-chunks", 64, 2048);
        c.headroom = XDP_HEADROOM;
        c.prefer = Prefer::Normal;
        c.chunks = true;
        let chunks = Pool::new(c.clone()).unwrap();
        let (mem, spec) = (chunks.memory(), Umem::new(chunks).1);
        assert_eq!((mem.first, mem.stride, spec.chunk, spec.unaligned), (0, 2048, 2048, false));
        c.chunks = false;
        let (_, spec) = Umem::new(Pool::new(c).unwrap());
        assert!(spec.unaligned && spec.chunk == 2112, "{spec:?}");
    }
}
