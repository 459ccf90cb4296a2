//! Fault injection: [`FaultInjector`] wraps any [`Port`] and drops, corrupts, truncates, rejects (as
//! back-pressure) or delays its frames, as smoltcp's `FaultInjector` decorates any device. The soak test
//! uses it; embedders can too, to prove their own loops lose nothing.
//!
//! Layers: [`config`] (what to inject, each fault a [`Rate`] per direction, validated), `dice` (the seeded
//! decisions and the damage), `delay` (an rx queue's held-back frames), [`stats`] (counters per fault).
//!
//! ```
//! use pktloop_engine::{mem::Prefer, PacketBurst, Port};
//! use pktloop_pmd::fault::{FaultConfig, FaultInjector, Rate};
//! use pktloop_pmd::feth::{pair, FethConfig};
//!
//! let (a, mut b) = pair(&FethConfig { prefer: Prefer::Normal, pool_packets: 256, ..Default::default() }).unwrap();
//! let mut faults = FaultConfig { seed: 1, ..Default::default() };
//! faults.tx.drop = Rate::EveryNth(2);
//! let mut a = FaultInjector::new(a, &faults).unwrap();
//! let mut burst = PacketBurst::new();
//! for _ in 0..4 {
//!     burst.push(a.tx_pool().packet_from(&[0xab; 60]).unwrap());
//! }
//! assert_eq!(a.tx_burst(0, &mut burst), 4, "dropped frames count as taken");
//! assert_eq!(b.rx_burst(0, &mut burst, 32), 2);
//! assert_eq!(a.fault_stats().tx_dropped, 2);
//! ```
//!
//! # Accounting
//!
//! The wrapper has no port counters of its own: [`Port::counters`] and [`Port::stats`] are the wrapped
//! port's, and the frames the wrapper drops are added there under [`DropReason::FaultInjected`] (a
//! multi-writer counter, so sharing it is safe). So on tx, frames taken = the wrapped port's
//! `opackets` and drops (its own and `FaultInjected`); on rx, the wrapped port's `ipackets` = frames
//! delivered + `FaultInjected` rx drops + [`FaultStats::rx_held`]. Frames still held when the wrapper is
//! dropped are freed and counted as [`DropReason::Detached`]. [`FaultStats`] splits the faults by kind
//! and direction.
//!
//! # Cost
//!
//! Everything is allocated in [`FaultInjector::new`]; a burst allocates nothing, takes no lock and makes
//! no system call: frames move through a scratch burst made at construction, dropped frames are freed in
//! one bulk, counters are written once per burst.

pub mod config;
mod delay;
mod dice;
pub mod stats;

pub use config::{FaultConfig, Rate, RxFaults, TxFaults};
pub use stats::{FaultCounters, FaultStats};

use delay::Delay;
use dice::{Dice, Verdict};
use pktloop_engine::packet::free_burst;
use pktloop_engine::port::{DropReason, EventBus, LinkState, PacketBurst, PortCounters, PortStats};
use pktloop_engine::{KnobError, Pool, Port};
use std::sync::Arc;

/// A port whose frames suffer the faults of a [`FaultConfig`]. It is a [`Port`] itself, so it can wrap
/// any port, another wrapper included.
#[derive(Debug)]
pub struct FaultInjector<P: Port> {
    inner: P,
    dice: Dice,
    /// One per rx queue of the wrapped port.
    delays: Box<[Delay]>,
    /// Per tx queue: the packet (pool id, index) whose first attempt was refused, so its retry passes.
    rejected: Box<[Option<(u16, u32)>]>,
    /// Frames between the wrapped port and the caller's burst.
    scratch: Box<PacketBurst>,
    /// Frames dropped in this burst, freed together.
    trash: Box<PacketBurst>,
    faults: Arc<FaultCounters>,
}

impl<P: Port> FaultInjector<P> {
    /// Wraps `inner` with the faults of `config`.
    ///
    /// # Errors
    /// A knob of `config` out of range (see [`FaultConfig::validate`]).
    pub fn new(inner: P, config: &FaultConfig) -> Result<FaultInjector<P>, KnobError> {
        config.validate()?;
        let held = if config.rx.delay == Rate::Off { 0 } else { config.rx.delay_capacity as usize };
        let delays = (0..inner.rx_queues()).map(|_| Delay::new(held, config.rx.delay_polls)).collect();
        Ok(FaultInjector {
            dice: Dice::new(config),
            delays,
            rejected: vec![None; inner.tx_queues()].into_boxed_slice(),
            scratch: Box::default(),
            trash: Box::default(),
            faults: Arc::default(),
            inner,
        })
    }

    /// The wrapped port.
    pub fn inner(&self) -> &P {
        &self.inner
    }

    /// The wrapped port, to poll or configure directly (its frames then bypass the faults).
    pub fn inner_mut(&mut self) -> &mut P {
        &mut self.inner
    }

    /// The fault counters, readable from any thread while the port runs.
    pub fn fault_counters(&self) -> &Arc<FaultCounters> {
        &self.faults
    }

    /// A snapshot of the fault counters.
    pub fn fault_stats(&self) -> FaultStats {
        self.faults.snapshot()
    }

    /// Received frames held back now, every queue together.
    pub fn held(&self) -> usize {
        self.delays.iter().map(Delay::len).sum()
    }

    /// Publishes a burst's tally and frees what it dropped.
    fn finish(&mut self, tally: &FaultStats) {
        self.faults.add(tally);
        let dropped = self.trash.len() as u64;
        PortCounters::drop(self.inner.counters(), DropReason::FaultInjected, dropped);
        free_burst(&mut self.trash);
    }

    /// Whether `pkts` starts with the packet refused last on `queue` (its retry), forgetting it either way.
    fn is_retry(&mut self, queue: usize, pkts: &PacketBurst) -> bool {
        let refused = self.rejected[queue].take();
        pkts.first().is_some_and(|p| refused == Some((p.pool_id(), p.index())))
    }

    /// How many frames at the front of `pkts` go to the wrapped port now: all, or those before the first
    /// refused one.
    fn accepted(&mut self, queue: usize, pkts: &PacketBurst, tally: &mut FaultStats) -> usize {
        let skip = usize::from(self.is_retry(queue, pkts));
        let refused = pkts.iter().skip(skip).position(|_| self.dice.tx_reject());
        let Some(i) = refused.map(|i| i + skip) else { return pkts.len() };
        self.rejected[queue] = Some((pkts[i].pool_id(), pkts[i].index()));
        tally.tx_rejected += 1;
        i
    }
}

impl<P: Port> Port for FaultInjector<P> {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn mac(&self) -> [u8; 6] {
        self.inner.mac()
    }

    fn mtu(&self) -> u32 {
        self.inner.mtu()
    }

    fn rx_queues(&self) -> usize {
        self.inner.rx_queues()
    }

    fn tx_queues(&self) -> usize {
        self.inner.tx_queues()
    }

    /// Releases due held frames first (they are older), then receives from the wrapped port and rolls
    /// each new frame's faults.
    fn rx_burst(&mut self, queue: usize, pkts: &mut PacketBurst, max: usize) -> usize {
        let Some(delay) = self.delays.get_mut(queue) else { return self.inner.rx_burst(queue, pkts, max) };
        let start = pkts.len();
        let room = max.min(pkts.remaining_capacity());
        let released = delay.release(pkts, room);
        let mut tally = FaultStats::default();
        self.inner.rx_burst(queue, &mut self.scratch, room - released);
        for mut p in self.scratch.drain(..) {
            match self.dice.rx(&mut p, &mut tally) {
                Verdict::Pass => pkts.push(p),
                Verdict::Drop => self.trash.push(p),
                Verdict::Delay => match delay.hold(p) {
                    Ok(()) => tally.rx_delayed += 1,
                    Err(p) => pkts.push(p),
                },
            }
        }
        self.faults.set_held(self.delays.iter().map(Delay::len).sum());
        self.finish(&tally);
        pkts.len() - start
    }

    /// Refuses a first attempt (leaving it and what follows in `pkts`), drops and damages frames before
    /// it, and hands the rest to the wrapped port; what the wrapped port does not take goes back to the
    /// front of `pkts`, in order.
    fn tx_burst(&mut self, queue: usize, pkts: &mut PacketBurst) -> usize {
        if queue >= self.rejected.len() {
            return self.inner.tx_burst(queue, pkts);
        }
        let mut tally = FaultStats::default();
        let accepted = self.accepted(queue, pkts, &mut tally);
        for mut p in pkts.drain(..accepted) {
            if self.dice.tx(&mut p, &mut tally) {
                self.scratch.push(p);
            } else {
                self.trash.push(p);
            }
        }
        let dropped = self.trash.len();
        let taken = self.inner.tx_burst(queue, &mut self.scratch);
        if !self.scratch.is_empty() {
            self.scratch.extend(pkts.drain(..));
            pkts.extend(self.scratch.drain(..));
        }
        self.finish(&tally);
        dropped + taken
    }

    fn link(&self) -> LinkState {
        self.inner.link()
    }

    fn counters(&self) -> &Arc<PortCounters> {
        self.inner.counters()
    }

    fn stats(&self) -> PortStats {
        self.inner.stats()
    }

    fn events(&self) -> &EventBus {
        self.inner.events()
    }

    fn tx_pool(&self) -> &Pool {
        self.inner.tx_pool()
    }
}

/// Frees the frames still held, counted as `Detached` in the wrapped port's counters (still alive here:
/// fields drop after this).
impl<P: Port> Drop for FaultInjector<P> {
    fn drop(&mut self) {
        let held: usize = self.delays.iter_mut().map(Delay::clear).sum();
        PortCounters::drop(self.inner.counters(), DropReason::Detached, held as u64);
        self.faults.set_held(0);
    }
}
