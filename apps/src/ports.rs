//! Building the ports a run uses: a feth pair, null ports or TAP ports, with what the tables need to know
//! about them.

use crate::error::AppError;
use pktloop_engine::mem::Backing;
use pktloop_engine::port::PortCounters;
use pktloop_engine::{Pool, Port};
use pktloop_pmd::feth::{self, FethConfig};
use pktloop_pmd::null::NullPort;
use pktloop_pmd::pools::PortPools;
use pktloop_pmd::tap::{TapConfig, TapCounters, TapPort};
use std::sync::Arc;

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
    /// How a TAP port moves frames, and its system-call counters.
    pub tap: Option<TapInfo>,
    /// The input layer's interface over the port (`--filter`, `--input-thread`).
    pub iface: Option<pktloop_engine::dlil::InterfaceHandle>,
}

/// What the report says about a TAP port.
#[derive(Debug, Clone)]
pub struct TapInfo {
    /// `io_uring` or `readv/writev`.
    pub io: &'static str,
    /// Queue pairs.
    pub queues: usize,
    /// System calls made.
    pub counters: Arc<TapCounters>,
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

fn push_pool(pools: &mut Vec<Pool>, p: &Pool) {
    if !pools.iter().any(|q| q.id() == p.id()) {
        pools.push(p.clone());
    }
}

/// A feth pair built from `config` with both MTUs set to `mtu`: port 0 is `feth<a>`, port 1 its peer.
///
/// # Errors
/// The pair could not be made (pool memory, or a knob the driver refused).
pub fn feth_pair(config: &FethConfig, mtu: u32) -> Result<PortSet, AppError> {
    let err = |e: feth::FethError| AppError::runtime(format!("cannot create the feth pair: {e}"));
    let (a, b) = feth::pair(config).map_err(err)?;
    let mut pools = Vec::new();
    for port in [&a, &b] {
        port.handle().set_mtu(mtu).map_err(err)?;
        push_pool(&mut pools, port.rx_pool());
        push_pool(&mut pools, port.tx_pool());
    }
    let (ma, mb) = (a.mac(), b.mac());
    let info = vec![
        PortInfo {
            name: a.name().to_owned(),
            mac: ma,
            peer_mac: mb,
            counters: a.counters().clone(),
            tap: None,
            iface: None,
        },
        PortInfo {
            name: b.name().to_owned(),
            mac: mb,
            peer_mac: ma,
            counters: b.counters().clone(),
            tap: None,
            iface: None,
        },
    ];
    Ok(PortSet { ports: vec![Box::new(a), Box::new(b)], info, pools })
}

/// `n` null ports whose rx frames are `frame_len` bytes (copied from `template` when given, else whatever the
/// buffers hold, as DPDK's net_null without `copy`), with pools laid out as `config` says (global: one shared
/// pool; private and split: one pool per port, the tx one in split mode).
///
/// # Errors
/// Pool memory, or `frame_len` not fitting a buffer (named `--pkt-len`).
pub fn null_ports(
    n: usize,
    config: &FethConfig,
    frame_len: usize,
    template: Option<&[u8]>,
) -> Result<PortSet, AppError> {
    let mut spec = config.pool_spec();
    if spec.mode == pktloop_engine::pool::PoolMode::PrivateSplit {
        // A null port only needs its tx pool; do not map aggregation buffers it never uses.
        spec.mode = pktloop_engine::pool::PoolMode::Private;
    }
    let mut set = PortSet { ports: Vec::new(), info: Vec::new(), pools: Vec::new() };
    for i in 0..n {
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
        set.info.push(PortInfo { name, mac, peer_mac, counters: port.counters().clone(), tap: None, iface: None });
        set.ports.push(Box::new(port));
    }
    Ok(set)
}

/// `n` TAP ports named after `tap.name`, each with `tap.queues` queue pairs and MTU `mtu`, with pools laid
/// out as `config` says (split pools act as private: a TAP port needs no aggregation buffers).
///
/// # Errors
/// A setting the driver refused, a missing capability or device (usage errors), or pool memory.
pub fn tap_ports(
    n: usize,
    config: &FethConfig,
    tap: &crate::fwd::plan::TapPlan,
    mtu: u32,
) -> Result<PortSet, AppError> {
    let mut spec = config.pool_spec();
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
        let info = TapInfo { io: port.io().as_str(), queues: tap.queues, counters: port.tap_counters().clone() };
        set.info.push(PortInfo {
            name: port.name().to_owned(),
            mac: port.mac(),
            peer_mac: port.interface_mac(),
            counters: port.counters().clone(),
            tap: Some(info),
            iface: None,
        });
        set.ports.push(Box::new(port));
    }
    Ok(set)
}

/// Puts every port of `set` behind the input layer: `dlil`'s filters attached in order, the input path on
/// its own pinned thread when asked (port i on core `input_core + i`, wrapping around `available`).
///
/// # Errors
/// An input thread could not be started.
pub fn through_input_layer(
    set: &mut PortSet,
    dlil: &crate::fwd::plan::DlilPlan,
    burst: usize,
    available: usize,
) -> Result<(), AppError> {
    let ports: Vec<Box<dyn Port>> = set.ports.drain(..).collect();
    for (i, port) in ports.into_iter().enumerate() {
        let filters = dlil.filters.iter().map(|f| f.build()).collect();
        let core = dlil.input_core.map(|c| (c + i) % available.max(1));
        let wrapped = crate::ifport::IfPort::wrap(port, burst, filters, core)
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
