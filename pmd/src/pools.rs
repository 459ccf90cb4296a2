//! The pools a port allocates from, by pool mode ([`PoolMode`]) and the driver's geometry (max MTU, buflet
//! size, aggregation factor): feth's native-mode pools (reference section 1), also used by null ports.
//!
//! | mode | rx packets come from | tx packets come from |
//! |---|---|---|
//! | global | one pool shared by every port with the same geometry, refcounted | the same pool |
//! | private | the port's own pool | the same pool |
//! | private split | an rx pool of `aggregation_factor` KiB buffers | a tx pool of `max_mtu` buffers |

use pktloop_engine::mem::Prefer;
use pktloop_engine::pool::{Pool, PoolConfig, PoolError, PoolMode, DEFAULT_CACHE_SIZE};
use pktloop_engine::KnobError;
use std::sync::{Mutex, MutexGuard};

/// Packets per pool, as Apple's feth.
pub const DEFAULT_POOL_PACKETS: u32 = 1024;

/// What a port needs from its pools.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PortPoolSpec {
    /// Pool mode.
    pub mode: PoolMode,
    /// Packets per pool (1024 in Apple's feth).
    pub packets: u32,
    /// Largest MTU the port supports.
    pub max_mtu: u32,
    /// Buflet size for multi-buflet packets.
    pub buflet_size: u32,
    /// Packets chain `ceil(max_mtu / buflet_size)` buflets instead of one max-MTU buffer.
    pub multi_buflet: bool,
    /// Split mode: rx buffers are `aggregation_factor` KiB.
    pub aggregation_factor: u32,
    /// Headroom of a new tx packet.
    pub headroom: u32,
    /// Hugepages or normal pages.
    pub prefer: Prefer,
    /// Buffers laid out as power-of-two chunks ([`PoolConfig::chunks`]): an AF_XDP port's, so that none
    /// crosses a page.
    pub chunks: bool,
}

impl Default for PortPoolSpec {
    fn default() -> PortPoolSpec {
        PortPoolSpec {
            mode: PoolMode::Global,
            packets: DEFAULT_POOL_PACKETS,
            max_mtu: 2048,
            buflet_size: 512,
            multi_buflet: false,
            aggregation_factor: 96,
            headroom: 32,
            prefer: Prefer::Hugepage,
            chunks: false,
        }
    }
}

impl PortPoolSpec {
    /// Bytes per tx buffer: one max-MTU buffer (at least a buflet), or one buflet when multi-buflet.
    pub fn tx_buffer_size(&self) -> u32 {
        if self.multi_buflet {
            self.buflet_size
        } else {
            self.max_mtu.max(self.buflet_size)
        }
    }

    /// Buflets a packet may chain.
    pub fn max_buflets(&self) -> u16 {
        if self.multi_buflet {
            self.max_mtu.div_ceil(self.buflet_size) as u16
        } else {
            1
        }
    }

    /// Multi-buflet with split pools is refused, as Apple refuses it at create.
    pub fn validate(&self) -> Result<(), KnobError> {
        if self.multi_buflet && self.mode == PoolMode::PrivateSplit {
            return Err(KnobError::new("multibuflet", 1, "off when pool-mode is split"));
        }
        Ok(())
    }

    fn config(&self, name: String, buffers: u32, buf_size: u32, max_buflets: u16) -> PoolConfig {
        let mut c = PoolConfig::new(name, buffers, buf_size);
        c.headroom = self.headroom.min(buf_size - 1);
        c.max_buflets = max_buflets;
        // Keep the caches small against the pool so that one core's cache cannot starve another.
        c.cache_size = (buffers / 8).min(DEFAULT_CACHE_SIZE);
        c.prefer = self.prefer;
        c.chunks = self.chunks;
        c
    }

    /// The pool a port's users allocate packets to send from, as this spec lays it out (a driver that makes
    /// its own pool, in shared memory say, builds it from this).
    pub fn tx_config(&self, name: String) -> PoolConfig {
        let buflets = self.max_buflets();
        self.config(name, self.packets * u32::from(buflets), self.tx_buffer_size(), buflets)
    }
}

/// The pools one feth port uses.
#[derive(Debug)]
pub struct PortPools {
    /// Where received packets are allocated (crossing copies land here).
    pub rx: Pool,
    /// Where the port's users allocate packets to send.
    pub tx: Pool,
    mode: PoolMode,
    global_key: Option<PortPoolSpec>,
}

struct GlobalEntry {
    key: PortPoolSpec,
    pool: Pool,
    ports: usize,
}

/// The refcounted global pools, created by the first port that needs one (setup path only).
static GLOBAL: Mutex<Vec<GlobalEntry>> = Mutex::new(Vec::new());

/// The table's critical sections are single pushes, counter updates and removals, so a panic elsewhere
/// leaves it consistent: poisoning is ignored.
fn global() -> MutexGuard<'static, Vec<GlobalEntry>> {
    GLOBAL.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A pool of feth's: feth sets the link-header length of every frame it sends (14), and its pools' packets
/// read so from allocation ([`PoolConfig::ethernet`]), so that the zero-copy crossing writes nothing per
/// packet.
fn feth_pool(config: PoolConfig) -> Result<Pool, PoolError> {
    Pool::new(PoolConfig { ethernet: true, ..config })
}

impl PortPools {
    /// Creates (or, in global mode, shares) the pools for port `name`.
    ///
    /// # Errors
    /// An invalid combination (naming the knob) or a pool that could not be made.
    pub fn create(name: &str, spec: &PortPoolSpec) -> Result<PortPools, PoolError> {
        spec.validate()?;
        match spec.mode {
            PoolMode::Global => {
                let key = *spec;
                let mut g = global();
                let pool = match g.iter_mut().find(|e| e.key == key) {
                    Some(e) => {
                        e.ports += 1;
                        e.pool.clone()
                    }
                    None => {
                        let pool = feth_pool(spec.tx_config("global".into()))?;
                        g.push(GlobalEntry { key, pool: pool.clone(), ports: 1 });
                        pool
                    }
                };
                Ok(PortPools { rx: pool.clone(), tx: pool, mode: spec.mode, global_key: Some(key) })
            }
            PoolMode::Private => {
                let pool = feth_pool(spec.tx_config(format!("{name}-pool")))?;
                Ok(PortPools { rx: pool.clone(), tx: pool, mode: spec.mode, global_key: None })
            }
            PoolMode::PrivateSplit => {
                let agg = spec.aggregation_factor * 1024;
                let mut rx = spec.config(format!("{name}-rx"), spec.packets, agg, 1);
                // Frames cross as slices of the aggregation buffers where they can (see the shaper).
                rx.slices = true;
                let rx = feth_pool(rx)?;
                let tx = feth_pool(spec.tx_config(format!("{name}-tx")))?;
                Ok(PortPools { rx, tx, mode: spec.mode, global_key: None })
            }
        }
    }

    /// The mode these pools were made for.
    pub fn mode(&self) -> PoolMode {
        self.mode
    }

    /// Buffers out over the port's pools (for global mode, the shared pool's count).
    pub fn in_use(&self) -> usize {
        if self.rx.id() == self.tx.id() {
            self.rx.in_use()
        } else {
            self.rx.in_use() + self.tx.in_use()
        }
    }
}

impl Drop for PortPools {
    fn drop(&mut self) {
        if let Some(key) = self.global_key {
            let mut g = global();
            if let Some(i) = g.iter().position(|e| e.key == key) {
                g[i].ports -= 1;
                if g[i].ports == 0 {
                    g.swap_remove(i);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(mode: PoolMode) -> PortPoolSpec {
        PortPoolSpec { mode, prefer: Prefer::Normal, packets: 64, ..PortPoolSpec::default() }
    }

    #[test]
    fn geometry_follows_the_reference() {
        let s = PortPoolSpec::default();
        assert_eq!((s.tx_buffer_size(), s.max_buflets()), (2048, 1));
        let m = PortPoolSpec { multi_buflet: true, ..s };
        assert_eq!((m.tx_buffer_size(), m.max_buflets()), (512, 4));
        let odd = PortPoolSpec { multi_buflet: true, max_mtu: 9000, buflet_size: 2048, ..s };
        assert_eq!(odd.max_buflets(), 5);
    }

    #[test]
    fn global_pools_are_shared_and_refcounted() {
        let s = PortPoolSpec { packets: 96, ..spec(PoolMode::Global) };
        let a = PortPools::create("a", &s).unwrap();
        let b = PortPools::create("b", &s).unwrap();
        assert_eq!(a.tx.id(), b.rx.id());
        assert_eq!(a.rx.id(), a.tx.id());
        let id = a.tx.id();
        drop(a);
        let c = PortPools::create("c", &s).unwrap();
        assert_eq!(c.tx.id(), id, "still shared while b lives");
    }

    #[test]
    fn private_and_split_pools_have_the_right_sizes() {
        let p = PortPools::create("p", &spec(PoolMode::Private)).unwrap();
        assert_eq!(p.rx.id(), p.tx.id());
        let m = PortPools::create("m", &PortPoolSpec { multi_buflet: true, ..spec(PoolMode::Private) }).unwrap();
        assert_eq!((m.tx.buf_size(), m.tx.capacity(), m.tx.max_buflets()), (512, 256, 4));
        let s = PortPools::create("s", &spec(PoolMode::PrivateSplit)).unwrap();
        assert_ne!(s.rx.id(), s.tx.id());
        assert_eq!((s.rx.buf_size(), s.rx.capacity()), (96 * 1024, 64));
        assert_eq!((s.tx.buf_size(), s.tx.capacity()), (2048, 64));
    }

    #[test]
    fn multibuflet_with_split_is_refused() {
        let e = PortPools::create("x", &PortPoolSpec { multi_buflet: true, ..spec(PoolMode::PrivateSplit) });
        assert_eq!(e.unwrap_err().to_string(), "invalid multibuflet 1: valid is off when pool-mode is split");
    }
}
