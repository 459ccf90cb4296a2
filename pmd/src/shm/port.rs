//! The shared-memory port: its pool in a memory file the peer maps, the control thread, and the Port API
//! over the current session.

use super::control::{self, Change, Control};
use super::counters::ShmCounters;
use super::error::ShmError;
use super::handshake::{self, Local};
use super::hello::{Agreed, PoolShape, PROTOCOL_VERSION};
use super::layout::Role;
use super::session::{PortSide, Session};
use pktloop_engine::error::{check_power_of_two, check_range, KnobError};
use pktloop_engine::mem::{Backing, Region};
use pktloop_engine::packet::free_burst;
use pktloop_engine::pool::{pool_bytes, PoolConfig};
use pktloop_engine::port::{DropReason, Event, EventBus, EventKind, LinkState, PacketBurst, Port, PortCounters};
use pktloop_engine::Pool;
use std::hash::{Hash, Hasher};
use std::path::PathBuf;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Ring sizes accepted (slots, a power of two).
pub const RING_SIZES: std::ops::RangeInclusive<u32> = 64..=16384;
/// Bytes a frame may carry beyond the MTU: an Ethernet header and one VLAN tag.
const FRAME_OVERHEAD: u32 = 18;
/// How long a closing port waits for its peer to take what it sent.
const CLOSE_DRAIN: Duration = Duration::from_millis(200);

/// How to make a shared-memory port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShmConfig {
    /// The endpoint: a Unix-domain socket path.
    pub path: PathBuf,
    /// Which side this is.
    pub role: Role,
    /// Port name in logs and stats.
    pub name: String,
    /// MTU: 68..=65535, the same on both sides.
    pub mtu: u32,
    /// Slots of each ring: a power of two in [`RING_SIZES`], the same on both sides.
    pub ring_size: u32,
    /// Port number carried by its events.
    pub index: u32,
    /// Most buffers of the peer's pool this side maps, 1..=16777216: each costs a descriptor here (64
    /// bytes), so a peer cannot make this side allocate without bound. Default 1048576.
    pub max_peer_buffers: u32,
}

impl ShmConfig {
    /// `role` at `path`, MTU 1500, 1024-slot rings.
    pub fn new(path: impl Into<PathBuf>, role: Role) -> ShmConfig {
        ShmConfig {
            path: path.into(),
            role,
            name: format!("shm-{}", role.as_str()),
            mtu: 1500,
            ring_size: 1024,
            index: 0,
            max_peer_buffers: 1 << 20,
        }
    }

    fn validate(&self) -> Result<(), KnobError> {
        check_range("mtu", self.mtu, 68, 65535, "68..=65535")?;
        check_range("max-peer-buffers", self.max_peer_buffers, 1, 1 << 24, "1..=16777216")?;
        let (lo, hi) = (u64::from(*RING_SIZES.start()), u64::from(*RING_SIZES.end()));
        check_power_of_two("ring-size", u64::from(self.ring_size), lo, hi, "a power of two in 64..=16384")
    }
}

/// A port whose peer is another process (see the module docs).
#[derive(Debug)]
pub struct ShmPort {
    name: String,
    mac: [u8; 6],
    mtu: u32,
    index: u32,
    /// What every session call needs of the port; a field of its own so that it can be lent while the
    /// session is borrowed mutably.
    own: Own,
    session: Option<Box<Session>>,
    control: Arc<Control>,
    thread: Option<JoinHandle<()>>,
    /// The control generation last applied.
    seen: u64,
    events: EventBus,
}

/// This side's pool, counters and longest frame.
#[derive(Debug)]
struct Own {
    pool: Pool,
    max_frame: usize,
    counters: Arc<PortCounters>,
    shm_counters: Arc<ShmCounters>,
}

impl Own {
    fn side(&self) -> PortSide<'_> {
        PortSide { pool: &self.pool, max_frame: self.max_frame, counters: &self.counters, shm: &self.shm_counters }
    }
}

impl ShmPort {
    /// Makes this side's pool (from `pool`, in a memory file the peer will map) and the endpoint: a server
    /// binds `config.path` and waits for clients in the background; a client connects and completes the
    /// handshake before returning, so a refusal is this call's error.
    ///
    /// # Errors
    /// A setting out of range; for a server, an endpoint a live server holds; for a client, no server, or
    /// one that refuses (naming the setting that differs, with both values); memory or system errors.
    pub fn open(config: &ShmConfig, pool: PoolConfig) -> Result<ShmPort, ShmError> {
        config.validate()?;
        let bytes = pool_bytes(pool.buffers, pool.buf_size, pool.headroom);
        let (region, file) = Region::shared(&config.name, bytes, pool.prefer)?;
        let shape = PoolShape {
            buffers: pool.buffers,
            buf_size: pool.buf_size,
            max_buflets: u32::from(pool.max_buflets),
            headroom: pool.headroom,
            bytes: region.len() as u64,
        };
        // SAFETY: the protocol has the peer write a buffer of ours only while it holds it (lent, not given
        // back), which a peer that keeps the protocol (a crashing one too) does. A hostile peer that writes
        // anyway breaks this contract: the known soundness limit of zero copy the module docs state.
        let pool = unsafe { Pool::in_shared_region(pool, region) }?;
        let local = Local {
            name: config.name.clone(),
            path: config.path.clone(),
            agreed: Agreed { version: PROTOCOL_VERSION, mtu: config.mtu, ring_size: config.ring_size },
            shape,
            pool_file: file,
            max_peer_buffers: config.max_peer_buffers,
        };
        let control = Arc::new(Control::default());
        let thread = match config.role {
            Role::Server => {
                let listener = handshake::bind(&config.path)?;
                control::spawn_server(listener, local, control.clone())
            }
            Role::Client => {
                let stream = handshake::connect(&config.path)?;
                let session = handshake::as_client(&stream, &local)?;
                control::spawn_client(stream, session, local, control.clone())
            }
        }
        .map_err(ShmError::os("start the control thread"))?;
        log::info!(
            "{}: shm {} at {}, pool memory {}",
            config.name,
            config.role.as_str(),
            config.path.display(),
            pool.backing()
        );
        Ok(ShmPort {
            name: config.name.clone(),
            mac: mac_for(config),
            mtu: config.mtu,
            index: config.index,
            own: Own {
                pool,
                max_frame: (config.mtu + FRAME_OVERHEAD) as usize,
                counters: Arc::default(),
                shm_counters: Arc::default(),
            },
            session: None,
            control,
            thread: Some(thread),
            seen: 0,
            events: EventBus::new(),
        })
    }

    /// The driver's own counters (sessions, copies, refused give-backs, corrupt rings).
    pub fn shm_counters(&self) -> &Arc<ShmCounters> {
        &self.own.shm_counters
    }

    /// Where this side's buffers live (hugepages or normal pages).
    pub fn backing(&self) -> Backing {
        self.own.pool.backing()
    }

    /// Applies the connection changes the control thread posted since the last look (one atomic load
    /// when there are none, made where the poll is: as a call of its own it took 6% of the samples of an
    /// shm ping-pong, most of which is empty polls).
    #[inline(always)]
    fn sync(&mut self) {
        let generation = self.control.generation();
        if generation != self.seen {
            self.apply_changes(generation);
        }
    }

    /// [`ShmPort::sync`] when the generation moved.
    #[cold]
    #[inline(never)]
    fn apply_changes(&mut self, generation: u64) {
        self.seen = generation;
        // Connecting and disconnecting are control work, rare, on the polling thread.
        let _cold = pktloop_engine::hot::ColdSection::enter();
        for change in self.control.take_changes() {
            self.end_session();
            let kind = match change {
                Change::Up(session) => {
                    // Packets of the peer's pool are freed here most: its cache now, not on the first free.
                    session.prepare_thread(&self.own.pool);
                    self.session = Some(session);
                    self.own.shm_counters.session_started();
                    EventKind::LinkUp
                }
                Change::Down => EventKind::LinkDown,
            };
            self.events.publish(Event { port: self.index, kind });
        }
    }

    /// Ends the current session, if any, taking every buffer back.
    fn end_session(&mut self) {
        if let Some(session) = self.session.take() {
            session.finish(&self.own.side());
        }
    }

    /// Lets the peer take what is on the ring before a deliberate close (bounded by [`CLOSE_DRAIN`]).
    fn drain_before_close(&mut self) {
        let deadline = Instant::now() + CLOSE_DRAIN;
        while Instant::now() < deadline && self.control.link_up() {
            self.sync();
            let side = self.own.side();
            let Some(session) = self.session.as_mut().filter(|s| !s.is_broken()) else { break };
            if session.flush(&side) {
                break;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

impl Drop for ShmPort {
    fn drop(&mut self) {
        self.drain_before_close();
        self.control.stop();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        self.sync();
        self.end_session();
    }
}

impl Port for ShmPort {
    fn name(&self) -> &str {
        &self.name
    }

    fn mac(&self) -> [u8; 6] {
        self.mac
    }

    fn mtu(&self) -> u32 {
        self.mtu
    }

    fn rx_burst(&mut self, queue: usize, pkts: &mut PacketBurst, max: usize) -> usize {
        self.sync();
        if queue != 0 {
            return 0;
        }
        let side = self.own.side();
        let Some(session) = self.session.as_mut() else { return 0 };
        let n = session.receive(pkts, max, &side);
        if session.is_broken() {
            self.control.abandon();
        }
        n
    }

    fn tx_burst(&mut self, queue: usize, pkts: &mut PacketBurst) -> usize {
        self.sync();
        if queue != 0 {
            return 0;
        }
        let side = self.own.side();
        let Some(session) = self.session.as_mut() else {
            let n = pkts.len();
            side.counters.drop(DropReason::NoPeer, n as u64);
            free_burst(pkts);
            return n;
        };
        let n = session.send(pkts, &side);
        if session.is_broken() {
            self.control.abandon();
        }
        n
    }

    fn link(&self) -> LinkState {
        if self.control.link_up() {
            LinkState::Up
        } else {
            LinkState::Down
        }
    }

    fn counters(&self) -> &Arc<PortCounters> {
        &self.own.counters
    }

    fn events(&self) -> &EventBus {
        &self.events
    }

    fn tx_pool(&self) -> &Pool {
        &self.own.pool
    }
}

/// A locally administered MAC address that differs between the two sides of one endpoint and between
/// endpoints.
fn mac_for(config: &ShmConfig) -> [u8; 6] {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    config.path.hash(&mut h);
    let [a, b, c, ..] = h.finish().to_le_bytes();
    [0x02, 0x73, a, b, c, if config.role == Role::Server { 1 } else { 2 }]
}
