//! Building the ports a run uses: a feth pair, null ports, TAP ports, or the list `--port` names (real
//! interfaces through AF_PACKET and AF_XDP among them), with what the tables need to know about them.

use crate::error::AppError;
use crate::filters::FilterSpec;
use crate::portspec::PortSpec;
use pktloop_engine::mem::Backing;
use pktloop_engine::port::PortCounters;
use pktloop_engine::{Pool, Port};
use pktloop_pmd::afpacket::{AfPacketConfig, AfPacketCounters, AfPacketPort};
use pktloop_pmd::afxdp::{AfXdpConfig, AfXdpCounters, AfXdpPort, XdpWant};
use pktloop_pmd::feth::{self, FethConfig};
use pktloop_pmd::null::NullPort;
use pktloop_pmd::pools::PortPools;
use pktloop_pmd::shm::{Role, ShmConfig, ShmCounters, ShmPort};
use pktloop_pmd::tap::{TapConfig, TapCounters, TapPort};
use std::sync::Arc;

/// The input layer of a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DlilPlan {
    /// Filters attached to every port, in order.
    pub filters: Vec<FilterSpec>,
    /// Core of port 0's input thread (port i on the next ones); None: the input path runs in the workers.
    pub input_core: Option<usize>,
}

/// The TAP settings of a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TapPlan {
    /// Interface name or `%d` pattern.
    pub name: String,
    /// Queue pairs per port.
    pub queues: usize,
    /// Batch with io_uring.
    pub io_uring: bool,
    /// The address icmpecho answers for.
    pub ip: [u8; 4],
    /// Its prefix length (reported; the responder answers its own address only).
    pub prefix: u8,
}

impl Default for TapPlan {
    fn default() -> TapPlan {
        TapPlan {
            name: pktloop_pmd::tap::DEFAULT_NAME.to_owned(),
            queues: 1,
            io_uring: true,
            ip: [198, 18, 0, 2],
            prefix: 24,
        }
    }
}

/// What a shared-memory port's connections did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShmSummary {
    /// Peers that connected.
    pub sessions: u64,
    /// Packets of other pools copied into the port's pool to be sent.
    pub tx_copied: u64,
    /// Give-backs refused (a buffer not lent).
    pub bad_returns: u64,
    /// Rings the peer corrupted (each ended its connection).
    pub corrupt_rings: u64,
}

/// What the main thread keeps about a port once a worker owns it.
#[derive(Debug, Clone)]
pub struct PortInfo {
    /// Name.
    pub name: String,
    /// MAC.
    pub mac: [u8; 6],
    /// MAC its tx reaches.
    pub peer_mac: [u8; 6],
    /// Live counters.
    pub counters: Arc<PortCounters>,
    /// How a port that talks to the kernel (TAP, AF_XDP, AF_PACKET) moves frames, and its counters.
    pub io: Option<IoInfo>,
    /// The input layer's interface over the port (`--filter`, `--input-thread`).
    pub iface: Option<pktloop_engine::dlil::InterfaceHandle>,
    /// A feth port's interface and queue, for feth's own counters (FCS, trailer, expiry, advisories).
    pub feth: Option<(feth::FethHandle, usize)>,
}

/// What the report says about a port that talks to the kernel.
#[derive(Debug, Clone)]
pub struct IoInfo {
    /// `tap`, `afxdp` or `afpacket`.
    pub driver: &'static str,
    /// How frames move: `io_uring`, `readv/writev`, `zero-copy`, `copy`, `generic`, `tpacket_v3`.
    pub io: &'static str,
    /// Queue pairs.
    pub queues: usize,
    /// The driver's own counters.
    pub counters: IoCounters,
}

/// A driver's own counters.
#[derive(Debug, Clone)]
pub enum IoCounters {
    /// A TAP port's.
    Tap(Arc<TapCounters>),
    /// An AF_XDP port's.
    AfXdp(Arc<AfXdpCounters>),
    /// An AF_PACKET port's.
    AfPacket(Arc<AfPacketCounters>),
    /// A shared-memory port's.
    Shm(Arc<ShmCounters>),
}

impl IoCounters {
    /// System calls made to receive and to send.
    pub fn syscalls(&self) -> (u64, u64) {
        match self {
            IoCounters::Tap(c) => (c.rx_syscalls(), c.tx_syscalls()),
            IoCounters::AfXdp(c) => (c.rx_syscalls(), c.tx_syscalls()),
            IoCounters::AfPacket(c) => (c.rx_syscalls(), c.tx_syscalls()),
            IoCounters::Shm(_) => (0, 0),
        }
    }

    /// A shared-memory port's connection counters.
    pub fn shm_summary(&self) -> Option<ShmSummary> {
        let IoCounters::Shm(c) = self else { return None };
        Some(ShmSummary {
            sessions: c.sessions(),
            tx_copied: c.tx_copied(),
            bad_returns: c.bad_returns(),
            corrupt_rings: c.corrupt_rings(),
        })
    }

    /// Packets a shared-memory port's peer has yet to take (0 for other ports).
    pub fn awaiting_peer(&self) -> u64 {
        match self {
            IoCounters::Shm(c) => c.awaiting_peer(),
            _ => 0,
        }
    }

    /// Frames the kernel dropped before the port saw them (rx ring full, no buffer): DPDK's imissed.
    pub fn missed(&self) -> u64 {
        match self {
            IoCounters::Tap(_) => 0,
            IoCounters::AfXdp(c) => c.kernel_rx_ring_full() + c.kernel_rx_dropped(),
            IoCounters::AfPacket(c) => c.kernel_drops(),
            IoCounters::Shm(_) => 0,
        }
    }
}

/// Ports, ready to be handed to workers.
pub struct PortSet {
    /// The ports, in run order.
    pub ports: Vec<Box<dyn Port>>,
    /// What stays with the main thread.
    pub info: Vec<PortInfo>,
    /// Every pool the ports use (for the backing line and the leak check after teardown).
    pub pools: Vec<Pool>,
}

impl std::fmt::Debug for PortSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PortSet").field("info", &self.info).finish()
    }
}

impl PortSet {
    /// The pools' memory: `hugepage`, `normal`, or `mixed`.
    pub fn backing(&self) -> &'static str {
        let hp = self.pools.iter().filter(|p| p.backing() == Backing::Hugepage).count();
        match hp {
            0 => Backing::Normal.as_str(),
            n if n == self.pools.len() => Backing::Hugepage.as_str(),
            _ => "mixed",
        }
    }

    /// Buffers still out of the pools (0 after a clean teardown).
    pub fn in_use(&self) -> usize {
        self.pools.iter().map(Pool::in_use).sum()
    }
}

/// Frames of `need` bytes must fit a packet of every port in `senders` (the MTU alone allows more than a
/// buffer holds when the headroom or the buflet size leave less room). The error names `--flag value`.
///
/// # Errors
/// A port whose packets hold less, with what they hold.
pub fn check_room(
    set: &PortSet,
    senders: impl IntoIterator<Item = usize>,
    (flag, value): (&str, &str),
    need: usize,
) -> Result<(), AppError> {
    for i in senders {
        let pool = set.ports[i].tx_pool();
        let room = pool.max_packet_len();
        if need > room {
            return Err(AppError::usage(format!(
                "invalid --{flag} {value}: {need} B frames do not fit: a packet of {} holds at most {room} B ({} \
                 buffer(s) of {} B, {} B headroom); valid is frames of 60..={room} B, or --multibuflet / a larger \
                 --max-mtu",
                set.info[i].name,
                pool.max_buflets(),
                pool.buf_size(),
                pool.headroom()
            )));
        }
    }
    Ok(())
}

fn push_pool(pools: &mut Vec<Pool>, p: &Pool) {
    if !pools.iter().any(|q| q.id() == p.id()) {
        pools.push(p.clone());
    }
}

/// `pairs` feth pairs built from `config` with every MTU set to `mtu`. With one queue pair per port, the
/// run's ports are `feth<a>`, its peer, the next pair, ...; with more than one queue pair each port is split
/// into its queues and every queue is a run port of its own (named `feth0q3`), ordered pair by pair and
/// queue by queue: (a q0, b q0), (a q1, b q1), ... so that run ports 2k and 2k+1 always cross.
///
/// # Errors
/// A pair could not be made (pool memory, or a knob the driver refused).
pub fn feth_pairs(config: &FethConfig, mtu: u32, pairs: usize) -> Result<PortSet, AppError> {
    let err = |e: feth::FethError| AppError::runtime(format!("cannot create the feth pair: {e}"));
    let mut set = PortSet { ports: Vec::new(), info: Vec::new(), pools: Vec::new() };
    for _ in 0..pairs {
        let (a, b) = feth::pair(config).map_err(err)?;
        for port in [&a, &b] {
            port.handle().set_mtu(mtu).map_err(err)?;
            push_pool(&mut set.pools, port.rx_pool());
            push_pool(&mut set.pools, port.tx_pool());
        }
        let (ma, mb) = (a.mac(), b.mac());
        let split = config.queue_pairs() > 1;
        for (qa, qb) in a.split_queues().into_iter().zip(b.split_queues()) {
            for (q, mac, peer) in [(qa, ma, mb), (qb, mb, ma)] {
                let name = if split { format!("{}q{}", q.name(), q.index()) } else { q.name().to_owned() };
                let counters = q.counters().clone();
                let feth = Some((q.handle(), q.index()));
                set.info.push(PortInfo { name, mac, peer_mac: peer, counters, io: None, iface: None, feth });
                set.ports.push(Box::new(q));
            }
        }
    }
    Ok(set)
}

/// `n` null ports whose rx frames are `frame_len` bytes (copied from `template` when given, else whatever the
/// buffers hold, as DPDK's net_null without `copy`), with pools laid out as `config` says (global: one shared
/// pool; private and split: one pool per port, the tx one in split mode).
///
/// # Errors
/// Pool memory, or `frame_len` not fitting a buffer (named `--pkt-len`).
pub fn null_ports(
    first: usize,
    n: usize,
    config: &FethConfig,
    frame_len: usize,
    template: Option<&[u8]>,
) -> Result<PortSet, AppError> {
    let mut spec = other_port_pools(config);
    if spec.mode == pktloop_engine::pool::PoolMode::PrivateSplit {
        // A null port only needs its tx pool; do not map aggregation buffers it never uses.
        spec.mode = pktloop_engine::pool::PoolMode::Private;
    }
    let mut set = PortSet { ports: Vec::new(), info: Vec::new(), pools: Vec::new() };
    for i in first..first + n {
        let name = format!("null{i}");
        let pools = PortPools::create(&name, &spec).map_err(|e| AppError::runtime(format!("{name}: {e}")))?;
        push_pool(&mut set.pools, &pools.tx);
        let port = NullPort::new(&name, pools.tx.clone(), frame_len).map_err(|e| {
            AppError::usage(format!(
                "invalid --pkt-len {frame_len}: valid is 60..={} for null ports with these pool settings",
                (pools.tx.buf_size() - pools.tx.headroom())
            ))
            .or_knob(e)
        })?;
        let port = match template {
            Some(t) => port.with_template(t),
            None => port,
        };
        let mac = port.mac();
        let peer_mac = [0x02, 0, 0, 0, 0xfe, i as u8];
        let counters = port.counters().clone();
        set.info.push(PortInfo { name, mac, peer_mac, counters, io: None, iface: None, feth: None });
        set.ports.push(Box::new(port));
    }
    Ok(set)
}

/// `n` TAP ports named after `tap.name`, each with `tap.queues` queue pairs and MTU `mtu`, with pools laid
/// out as `config` says (split pools act as private: a TAP port needs no aggregation buffers).
///
/// # Errors
/// A setting the driver refused, a missing capability or device (usage errors), or pool memory.
pub fn tap_ports(n: usize, config: &FethConfig, tap: &TapPlan, mtu: u32) -> Result<PortSet, AppError> {
    let mut spec = other_port_pools(config);
    if spec.mode == pktloop_engine::pool::PoolMode::PrivateSplit {
        spec.mode = pktloop_engine::pool::PoolMode::Private;
    }
    let mut set = PortSet { ports: Vec::new(), info: Vec::new(), pools: Vec::new() };
    let tap_config = TapConfig { name: tap.name.clone(), queues: tap.queues, mtu, mac: None, io_uring: tap.io_uring };
    for i in 0..n {
        let pools =
            PortPools::create(&format!("tap{i}"), &spec).map_err(|e| AppError::runtime(format!("tap{i}: {e}")))?;
        push_pool(&mut set.pools, &pools.tx);
        let port = TapPort::open(&tap_config, pools.tx.clone()).map_err(|e| match e.is_usage() {
            true => AppError::usage(e.to_string()),
            false => AppError::runtime(format!("cannot create the TAP port: {e}")),
        })?;
        let info = IoInfo {
            driver: "tap",
            io: port.io().as_str(),
            queues: tap.queues,
            counters: IoCounters::Tap(port.tap_counters().clone()),
        };
        set.info.push(PortInfo {
            name: port.name().to_owned(),
            mac: port.mac(),
            peer_mac: port.interface_mac(),
            counters: port.counters().clone(),
            io: Some(info),
            iface: None,
            feth: None,
        });
        set.ports.push(Box::new(port));
    }
    Ok(set)
}

/// The ports `list` names, in order (see [`crate::portspec`]); real interfaces are opened in this process's
/// network namespace. Null ports make `pkt_len`-byte frames, copies of `null_template` when given.
///
/// # Errors
/// A port could not be made: a missing interface or capability, a refused setting (usage errors), pool
/// memory.
pub fn list_ports(
    list: &[PortSpec],
    config: &FethConfig,
    tap: &TapPlan,
    mtu: u32,
    (pkt_len, null_template): (usize, Option<&[u8]>),
    outside: Outside,
) -> Result<PortSet, AppError> {
    let mut set = PortSet { ports: Vec::new(), info: Vec::new(), pools: Vec::new() };
    let mut nulls = 0;
    for spec in list {
        let index = set.ports.len();
        let part = match spec {
            PortSpec::Feth => feth_pairs(config, mtu, 1)?,
            PortSpec::Null => {
                nulls += 1;
                null_ports(nulls - 1, 1, config, pkt_len, null_template)?
            }
            PortSpec::Tap => tap_ports(1, config, tap, mtu)?,
            PortSpec::AfXdp { ifname, queues } => afxdp_port(ifname, *queues, config, index, outside.xdp)?,
            PortSpec::Shm { path } => shm_port(path, outside.role, config, mtu, index)?,
            PortSpec::AfPacket { ifname, queues } => afpacket_port(ifname, *queues, config, index)?,
        };
        set.ports.extend(part.ports);
        set.info.extend(part.info);
        for p in &part.pools {
            push_pool(&mut set.pools, p);
        }
    }
    Ok(set)
}

/// Knobs of the ports that reach outside the process.
#[derive(Debug, Clone, Copy, Default)]
pub struct Outside {
    /// How AF_XDP ports move frames.
    pub xdp: XdpWant,
    /// Which side shm ports are (checked present when the list has one).
    pub role: Option<Role>,
}

/// A shared-memory port at `path`, its pool laid out as `config` says for a port's sending pool (in memory
/// its peer maps), MTU `mtu`. The pool holds at least four rings' worth of packets: what is on the ring,
/// in the peer's hands and on its way back must not leave the sender waiting for buffers.
fn shm_port(path: &str, role: Option<Role>, config: &FethConfig, mtu: u32, index: usize) -> Result<PortSet, AppError> {
    let role = role.ok_or_else(|| AppError::usage("--port shm:PATH needs --role: valid is server or client"))?;
    let name = format!("shm-{}", role.as_str());
    let shm = ShmConfig { name: name.clone(), mtu, index: index as u32, ..ShmConfig::new(path, role) };
    let mut spec = other_port_pools(config);
    spec.packets = spec.packets.max(4 * shm.ring_size);
    let pool = spec.tx_config(name);
    let port = ShmPort::open(&shm, pool).map_err(|e| match e.is_usage() {
        true => AppError::usage(e.to_string()),
        false => AppError::runtime(format!("cannot open the shm port: {e}")),
    })?;
    let io =
        IoInfo { driver: "shm", io: "zero-copy", queues: 1, counters: IoCounters::Shm(port.shm_counters().clone()) };
    Ok(reaching_outside(port, io, index))
}

/// The set of one port that reaches outside the process (a real interface, a peer process), moving frames
/// as `io` says; it is port `index` of the run and sends to [`wire_peer`]`(index)`.
fn reaching_outside(port: impl Port + 'static, io: IoInfo, index: usize) -> PortSet {
    let info = PortInfo {
        name: port.name().to_owned(),
        mac: port.mac(),
        peer_mac: wire_peer(index),
        counters: port.counters().clone(),
        io: Some(io),
        iface: None,
        feth: None,
    };
    let pools = vec![port.tx_pool().clone()];
    PortSet { ports: vec![Box::new(port)], info: vec![info], pools }
}

/// The address generators on real interfaces send to, as testpmd's default peers: `02:00:00:00:00:<port>`.
fn wire_peer(index: usize) -> [u8; 6] {
    [0x02, 0, 0, 0, 0, index as u8]
}

/// The pool layout `config` asks for, for a port that is not a feth pair: TSO's buflet size is feth's
/// (`--tso` on a list with a feth pair would otherwise give AF_XDP ports 16 KiB buffers it cannot take, and
/// every other port buffers it never fills).
fn other_port_pools(config: &FethConfig) -> pktloop_pmd::pools::PortPoolSpec {
    pktloop_pmd::pools::PortPoolSpec { buflet_size: config.buflet_size, ..config.pool_spec() }
}

/// An AF_XDP port on `ifname` with its own pools laid out as `config` says, of single buffers (the kernel
/// writes a frame into one), at least 4096 per queue (the rings hold up to 3072 with the defaults), with
/// the kernel's receive headroom.
fn afxdp_port(
    ifname: &str,
    queues: usize,
    config: &FethConfig,
    index: usize,
    want: XdpWant,
) -> Result<PortSet, AppError> {
    let mut spec = other_port_pools(config);
    spec.mode = match spec.mode {
        pktloop_engine::pool::PoolMode::PrivateSplit => pktloop_engine::pool::PoolMode::Private,
        other => other,
    };
    spec.multi_buflet = false;
    // Buffers within a page each, so that a zero-copy queue can take every one of them.
    spec.chunks = true;
    spec.packets = spec.packets.max(4096 * queues as u32);
    // Received frames start where the kernel puts them, XDP_PACKET_HEADROOM into the buffer: with the pool's
    // headroom the same, they become plain packets (no descriptor written).
    spec.headroom = pktloop_pmd::afxdp::RX_HEADROOM;
    let name = format!("afxdp-{ifname}");
    let pools = PortPools::create(&name, &spec).map_err(|e| AppError::runtime(format!("{name}: {e}")))?;
    let afxdp = AfXdpConfig { queues, want, ..AfXdpConfig::new(ifname) };
    let port = AfXdpPort::open(&afxdp, pools.tx.clone()).map_err(|e| match e.is_about_the_interface() {
        // What is wrong is the interface (or queue count) `--port` names.
        true => AppError::usage(format!("invalid --port afxdp:{ifname}:{queues}: {e}")),
        false => AppError::usage(e.to_string()),
    })?;
    let io = IoInfo {
        driver: "afxdp",
        io: port.mode().as_str(),
        queues,
        counters: IoCounters::AfXdp(port.xdp_counters().clone()),
    };
    Ok(reaching_outside(port, io, index))
}

/// An AF_PACKET port on `ifname` with pools laid out as `config` says (frames longer than a buffer become
/// multi-buflet packets; split pools act as private).
fn afpacket_port(ifname: &str, queues: usize, config: &FethConfig, index: usize) -> Result<PortSet, AppError> {
    let mut spec = other_port_pools(config);
    if spec.mode == pktloop_engine::pool::PoolMode::PrivateSplit {
        spec.mode = pktloop_engine::pool::PoolMode::Private;
    }
    let name = format!("afpacket-{ifname}");
    let pools = PortPools::create(&name, &spec).map_err(|e| AppError::runtime(format!("{name}: {e}")))?;
    let afpacket = AfPacketConfig { queues, ..AfPacketConfig::new(ifname) };
    let port = AfPacketPort::open(&afpacket, pools.tx.clone()).map_err(|e| {
        match (e.is_about_the_interface(), e.is_usage()) {
            // What is wrong is the interface (or queue count) `--port` names.
            (true, _) => AppError::usage(format!("invalid --port afpacket:{ifname}:{queues}: {e}")),
            (false, true) => AppError::usage(e.to_string()),
            (false, false) => AppError::runtime(format!("cannot open the AF_PACKET port: {e}")),
        }
    })?;
    let io = IoInfo {
        driver: "afpacket",
        io: "tpacket_v3",
        queues,
        counters: IoCounters::AfPacket(port.afpacket_counters().clone()),
    };
    Ok(reaching_outside(port, io, index))
}

/// Puts every port of `set` behind the input layer: `dlil`'s filters attached in order, the input path on
/// its own pinned thread when asked (port i on the i-th of the `allowed` cores from `input_core`, wrapping
/// around).
///
/// # Errors
/// An input thread could not be started.
pub fn through_input_layer(
    set: &mut PortSet,
    dlil: &DlilPlan,
    burst: usize,
    allowed: &[usize],
) -> Result<(), AppError> {
    let first = dlil.input_core.and_then(|c| allowed.iter().position(|&a| a == c));
    let ports: Vec<Box<dyn Port>> = set.ports.drain(..).collect();
    for (i, port) in ports.into_iter().enumerate() {
        let filters = dlil.filters.iter().map(|f| f.build()).collect();
        let core = first.map(|at| allowed[(at + i) % allowed.len()]);
        let wrapped = crate::ifport::IfPort::wrap(port, burst, filters, core, &set.pools)
            .map_err(|e| AppError::runtime(format!("cannot start the input thread of port {i}: {e}")))?;
        set.info[i].iface = Some(wrapped.handle().clone());
        set.ports.push(Box::new(wrapped));
    }
    Ok(())
}

trait OrKnob {
    fn or_knob(self, e: pktloop_engine::KnobError) -> AppError;
}

impl OrKnob for AppError {
    /// Keeps the worded message when the knob is the frame length, else reports the knob itself.
    fn or_knob(self, e: pktloop_engine::KnobError) -> AppError {
        if e.knob == "pkt-len" {
            self
        } else {
            e.into()
        }
    }
}
