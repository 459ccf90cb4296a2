//! The TAP port: its queues, the interface settings (name, MAC, MTU, link) and the Port API.

use super::error::TapError;
use super::queue::{Io, Limits, Queue};
use super::sys;
use pktloop_engine::port::{
    bump_owned, DropReason, Event, EventBus, EventKind, LinkState, PacketBurst, Port, PortCounters,
};
use pktloop_engine::Pool;
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// The name pattern the kernel numbers when none is given.
pub const DEFAULT_NAME: &str = "pktloop%d";

/// Most queues of one interface (the kernel's MAX_TAP_QUEUES).
pub const MAX_QUEUES: usize = 256;

/// Smallest MTU the port accepts (IPv4's minimum).
const MIN_MTU: u32 = 68;

/// Largest MTU a TAP interface takes: the kernel's 65535 less its Ethernet header (tun's `max_mtu`).
const TUN_MAX_MTU: u32 = 65535 - 14;

/// Bytes a frame may carry beyond the MTU: an Ethernet header and one VLAN tag.
const FRAME_OVERHEAD: u32 = 18;

/// Room a packet needs beyond the MTU: the longest frame and one byte that tells a longer one.
const ROOM_OVERHEAD: u32 = FRAME_OVERHEAD + 1;

/// Polls between two looks at the interface's flags (one ioctl): a link change is seen within a few
/// milliseconds of polling, and costs nothing per burst.
const LINK_CHECK_EVERY: u32 = 4096;

/// How to make a TAP port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TapConfig {
    /// Interface name; `%d` lets the kernel number it. Default [`DEFAULT_NAME`].
    pub name: String,
    /// Queue pairs, each its own fd (rx and tx queue i on fd i), 1..=[`MAX_QUEUES`].
    pub queues: usize,
    /// MTU set on the interface (frames up to MTU + 18 bytes).
    pub mtu: u32,
    /// MAC address to set on the interface (the kernel's side); the kernel's random one when None.
    pub mac: Option<[u8; 6]>,
    /// Batch with io_uring when the kernel has it (else readv/writev per frame).
    pub io_uring: bool,
}

impl Default for TapConfig {
    fn default() -> TapConfig {
        TapConfig { name: DEFAULT_NAME.to_owned(), queues: 1, mtu: 1500, mac: None, io_uring: true }
    }
}

/// System calls a TAP port made, readable from any thread (for syscalls per frame).
#[derive(Debug, Default)]
#[repr(align(128))]
pub struct TapCounters {
    rx_syscalls: AtomicU64,
    tx_syscalls: AtomicU64,
}

impl TapCounters {
    /// System calls made to receive.
    pub fn rx_syscalls(&self) -> u64 {
        self.rx_syscalls.load(Ordering::Relaxed)
    }

    /// System calls made to send.
    pub fn tx_syscalls(&self) -> u64 {
        self.tx_syscalls.load(Ordering::Relaxed)
    }
}

/// A TAP port.
#[derive(Debug)]
pub struct TapPort {
    name: String,
    id: u32,
    queues: Vec<Queue>,
    control: OwnedFd,
    pool: Pool,
    /// The address pktloop's station uses as source (distinct from the interface's own, which is the
    /// kernel's side of the wire).
    station_mac: [u8; 6],
    interface_mac: [u8; 6],
    mtu: u32,
    limits: Limits,
    carrier: bool,
    link: LinkState,
    polls: u32,
    counters: Arc<PortCounters>,
    tap_counters: Arc<TapCounters>,
    events: EventBus,
}

/// The settings `open` checks before it asks the kernel for anything, and whether the kernel can make a
/// TAP interface here at all.
fn check_settings(config: &TapConfig, pool: &Pool) -> Result<(), TapError> {
    check_name(&config.name)?;
    if !(1..=MAX_QUEUES).contains(&config.queues) {
        return Err(TapError::Queues { value: config.queues, max: MAX_QUEUES });
    }
    let max_mtu = max_mtu(pool);
    if !(MIN_MTU..=max_mtu).contains(&config.mtu) {
        return Err(TapError::Mtu { value: config.mtu, min: MIN_MTU, max: max_mtu });
    }
    match super::unavailable() {
        Some(TapError::NotPermitted { .. }) => Err(TapError::NotPermitted { name: config.name.clone() }),
        Some(other) => Err(other),
        None => Ok(()),
    }
}

/// The interface the kernel made: its name, one descriptor per queue, a socket for its settings, and its
/// MAC address; up, with the MTU and MAC asked for.
struct Made {
    name: String,
    fds: Vec<OwnedFd>,
    control: OwnedFd,
    interface_mac: [u8; 6],
}

impl Made {
    fn create(config: &TapConfig) -> Result<Made, TapError> {
        let multi = config.queues > 1;
        let (first, name) = open_queue(&config.name, multi)?;
        let mut fds = vec![first];
        for _ in 1..config.queues {
            fds.push(open_queue(&name, multi)?.0);
        }
        let control = sys::control_socket(&fds[0]).map_err(TapError::os("control socket"))?;
        if let Some(mac) = config.mac {
            sys::set_hw_addr(&fds[0], mac).map_err(TapError::os("set MAC address"))?;
        }
        let interface_mac = sys::hw_addr(&fds[0]).map_err(TapError::os("read MAC address"))?;
        sys::set_mtu(&control, &name, config.mtu).map_err(TapError::os("set MTU"))?;
        let flags = sys::flags(&control, &name).map_err(TapError::os("read interface flags"))?;
        sys::set_flags(&control, &name, flags | libc::IFF_UP).map_err(TapError::os("bring the interface up"))?;
        Ok(Made { name, fds, control, interface_mac })
    }
}

/// A queue over each descriptor, moving frames with io_uring where it can (`io_uring`); says in the log
/// how frames move, and why not with io_uring when it could not.
fn queues_over(fds: Vec<OwnedFd>, max_buflets: usize, io_uring: bool, name: &str) -> Vec<Queue> {
    let mut why_not = None;
    let queues: Vec<Queue> = fds
        .into_iter()
        .map(|fd| {
            let (q, why) = Queue::new(fd, max_buflets, io_uring);
            why_not = why_not.take().or(why);
            q
        })
        .collect();
    let io = queues[0].io();
    match why_not {
        Some(why) => {
            log::warn!(
                "{name}: io_uring unavailable ({why}); moving frames with {} (one system call per frame)",
                io.as_str()
            )
        }
        None => log::info!("{name}: {} queue(s), frames move with {}", queues.len(), io.as_str()),
    }
    queues
}

/// The number in the interface's name, and the MAC address pktloop answers as on it (made of that number,
/// and never the interface's own).
fn station_of(name: &str, interface_mac: [u8; 6]) -> (u32, [u8; 6]) {
    let id: u32 = name.trim_start_matches(|c: char| !c.is_ascii_digit()).parse().unwrap_or(0);
    let [_, _, hi, lo] = id.to_be_bytes();
    let mut station_mac = [0x02, b'p', b'k', b't', hi, lo];
    if station_mac == interface_mac {
        station_mac[5] ^= 1;
    }
    (id, station_mac)
}

impl TapPort {
    /// Creates the interface and opens its queues; packets are allocated from `pool`.
    ///
    /// # Errors
    /// A bad setting (name, queues, MTU), no /dev/net/tun, no CAP_NET_ADMIN, or another system error.
    pub fn open(config: &TapConfig, pool: Pool) -> Result<TapPort, TapError> {
        check_settings(config, &pool)?;
        let made = Made::create(config)?;
        let queues = queues_over(made.fds, usize::from(pool.max_buflets()), config.io_uring, &made.name);
        let (id, station_mac) = station_of(&made.name, made.interface_mac);
        let limits = Limits { min: 14, max: (config.mtu + FRAME_OVERHEAD) as usize };
        Ok(TapPort {
            name: made.name,
            id,
            queues,
            control: made.control,
            pool,
            station_mac,
            interface_mac: made.interface_mac,
            mtu: config.mtu,
            limits,
            carrier: true,
            link: LinkState::Up,
            polls: 0,
            counters: Arc::default(),
            tap_counters: Arc::default(),
            events: EventBus::new(),
        })
    }

    /// How frames move (io_uring or one system call per frame).
    pub fn io(&self) -> Io {
        self.queues[0].io()
    }

    /// The port's system-call counters.
    pub fn tap_counters(&self) -> &Arc<TapCounters> {
        &self.tap_counters
    }

    /// The interface's MAC address: the kernel's end of the wire (where frames to the kernel go).
    /// [`Port::mac`] is pktloop's end.
    pub fn interface_mac(&self) -> [u8; 6] {
        self.interface_mac
    }

    /// Sets the interface's MAC address.
    ///
    /// # Errors
    /// The kernel refused it (not unicast, for example).
    pub fn set_interface_mac(&mut self, mac: [u8; 6]) -> Result<(), TapError> {
        sys::set_hw_addr(self.queues[0].fd(), mac).map_err(TapError::os("set MAC address"))?;
        self.interface_mac = mac;
        Ok(())
    }

    /// Sets the MTU (and with it the longest frame accepted, MTU + 18).
    ///
    /// # Errors
    /// Out of range for the pool's packets, or refused by the kernel.
    pub fn set_mtu(&mut self, mtu: u32) -> Result<(), TapError> {
        let max = max_mtu(&self.pool);
        if !(MIN_MTU..=max).contains(&mtu) {
            return Err(TapError::Mtu { value: mtu, min: MIN_MTU, max });
        }
        self.with_control(|c, name| sys::set_mtu(c, name, mtu)).map_err(TapError::os("set MTU"))?;
        self.mtu = mtu;
        self.limits.max = (mtu + FRAME_OVERHEAD) as usize;
        Ok(())
    }

    /// Turns the carrier on or off: the kernel sees the link come and go (as a cable plugged or pulled);
    /// [`Port::link`] and the link events follow.
    ///
    /// # Errors
    /// The kernel refused it.
    pub fn set_carrier(&mut self, on: bool) -> Result<(), TapError> {
        sys::set_carrier(self.queues[0].fd(), on).map_err(TapError::os("set carrier"))?;
        self.carrier = on;
        self.refresh_link();
        Ok(())
    }

    /// Runs an ioctl that goes by interface name; if the interface moved to another namespace or was
    /// renamed since, finds it again through its fd first.
    fn with_control<T>(&mut self, op: impl Fn(&OwnedFd, &str) -> std::io::Result<T>) -> std::io::Result<T> {
        match op(&self.control, &self.name) {
            Err(e) if e.raw_os_error() == Some(libc::ENODEV) => {
                // Rare control work on the polling thread (once per move or rename): a new name and a
                // socket made in the interface's namespace by a short-lived thread, which allocate.
                let _cold = pktloop_engine::hot::ColdSection::enter();
                let fd = self.queues[0].fd();
                self.name = sys::interface_name(fd)?;
                self.control = sys::control_socket(fd)?;
                op(&self.control, &self.name)
            }
            other => other,
        }
    }

    /// Looks at the interface's flags: the link is up when it is administratively up and has carrier.
    /// Posts an event when that changed.
    fn refresh_link(&mut self) {
        let admin_up = self.with_control(sys::flags).is_ok_and(|f| f & libc::IFF_UP != 0);
        let link = if admin_up && self.carrier { LinkState::Up } else { LinkState::Down };
        if link != self.link {
            self.link = link;
            let kind = if link == LinkState::Up { EventKind::LinkUp } else { EventKind::LinkDown };
            self.events.publish(Event { port: self.id, kind });
        }
    }
}

/// Opens one queue, turning the errors a user can fix into what they mean.
fn open_queue(name: &str, multi: bool) -> Result<(OwnedFd, String), TapError> {
    sys::open_queue(name, multi).map_err(|e| match e.raw_os_error() {
        Some(libc::ENOENT | libc::ENXIO) => TapError::NoDevice,
        Some(libc::EPERM | libc::EACCES) => TapError::NotPermitted { name: name.to_owned() },
        Some(libc::EBUSY | libc::EINVAL | libc::EEXIST) => TapError::NameTaken { name: name.to_owned() },
        _ => TapError::Os { op: "create the TAP interface", source: e },
    })
}

/// Names the kernel accepts: 1..=15 bytes, no '/', ':' or whitespace, at most one `%d` (and no other '%').
fn check_name(name: &str) -> Result<(), TapError> {
    if name.len() > sys::MAX_NAME {
        return Err(TapError::NameTooLong { name: name.to_owned(), len: name.len(), max: sys::MAX_NAME });
    }
    let bad_char = name.chars().any(|c| c == '/' || c == ':' || c.is_whitespace());
    let percents = name.matches('%').count();
    if name.is_empty() || bad_char || percents > 1 || (percents == 1 && !name.contains("%d")) {
        return Err(TapError::BadName { name: name.to_owned() });
    }
    Ok(())
}

/// The largest MTU the port takes with `pool`: what a packet holds, and at most what tun takes (the
/// kernel would refuse more with a bare EINVAL).
fn max_mtu(pool: &Pool) -> u32 {
    frame_capacity(pool).saturating_sub(ROOM_OVERHEAD).min(TUN_MAX_MTU)
}

/// The longest frame one packet of `pool` holds: the first buffer after headroom, then whole buflets.
fn frame_capacity(pool: &Pool) -> u32 {
    let room = pool.buf_size() - pool.headroom();
    room + (u32::from(pool.max_buflets()) - 1) * pool.buf_size()
}

impl Port for TapPort {
    fn name(&self) -> &str {
        &self.name
    }

    /// pktloop's station on the wire: the source of frames it sends, the address its icmpecho answers ARP
    /// with.
    fn mac(&self) -> [u8; 6] {
        self.station_mac
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
        }
        let Some(q) = self.queues.get_mut(queue) else { return 0 };
        let done = q.rx_burst(&self.pool, pkts, max, self.limits);
        bump_owned(&self.tap_counters.rx_syscalls, done.syscalls);
        let c: &PortCounters = &self.counters;
        if done.frames > 0 {
            c.rx(done.frames as u64, done.bytes);
        }
        if done.bad > 0 {
            c.rx_dropped(DropReason::BadFrame, done.bad);
        }
        if done.lost > 0 {
            // Reads of a batch the ring failed: whatever they brought is lost.
            c.rx_dropped(DropReason::RingFailed, done.lost);
        }
        c.rx_nombuf(done.nombuf);
        done.frames
    }

    fn tx_burst(&mut self, queue: usize, pkts: &mut PacketBurst) -> usize {
        if pkts.is_empty() {
            return 0;
        }
        let Some(q) = self.queues.get_mut(queue) else { return 0 };
        let done = q.tx_burst(pkts);
        bump_owned(&self.tap_counters.tx_syscalls, done.syscalls);
        let c: &PortCounters = &self.counters;
        if done.sent > 0 {
            c.tx(done.sent, done.bytes);
        }
        if done.refused + done.down + done.lost > 0 {
            c.tx_error(done.refused + done.down + done.lost);
            c.drop(DropReason::BadFrame, done.refused);
            c.drop(DropReason::NoPeer, done.down);
            c.drop(DropReason::RingFailed, done.lost);
        }
        (done.sent + done.refused + done.down + done.lost) as usize
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

#[cfg(test)]
mod tests {
    use super::*;
    use pktloop_engine::mem::Prefer;
    use pktloop_engine::pool::PoolConfig;

    /// An MTU tun would refuse is refused with the range, however large the pool's packets.
    #[test]
    fn the_mtu_is_bounded_by_what_tun_takes_as_well_as_by_the_pool() {
        let mut c = PoolConfig::new("tap-mtu", 8, 2048);
        c.max_buflets = 64;
        c.prefer = Prefer::Normal;
        let pool = Pool::new(c).unwrap();
        assert_eq!(max_mtu(&pool), 65521);
        let e = check_settings(&TapConfig { mtu: 70000, ..TapConfig::default() }, &pool).unwrap_err();
        assert!(matches!(e, TapError::Mtu { value: 70000, max: 65521, .. }), "{e}");
        c = PoolConfig::new("tap-mtu-small", 8, 2048);
        c.prefer = Prefer::Normal;
        assert_eq!(max_mtu(&Pool::new(c).unwrap()), 2048 - 19, "one buffer's room");
    }
}
