//! [`Feth`]: one interface's queue pairs under one owner, as one [`Port`] with `queues` rx and tx queues,
//! or split into its [`FethQueue`]s so that each lcore owns and polls one.
//!
//! Each queue is a whole port of its own (crossing rings, local tx rings, counters, completions): the
//! queues of one interface share nothing on the data path but the control generation they read. So the
//! split needs no lock, and an owner of the whole [`Feth`] just picks the queue: with one queue (the
//! default) every call goes straight to it after one predictable branch.

use super::config::Qset;
use super::control::{FethHandle, Iface};
use super::port::FethQueue;
use super::tx::Completion;
use pktloop_engine::pool::Pool;
use pktloop_engine::port::{EventBus, LinkState, PacketBurst, PortCounters, PortStats};
use pktloop_engine::Port;
use std::sync::Arc;

/// One feth interface's port: [`Port`] bursts on its `queues` queue pairs, plus feth's own controls
/// through [`Feth::handle`].
///
/// Owned by one lcore (`&mut self` on the data path); other threads use a [`FethHandle`] (control,
/// counters, events). To poll its queues from several lcores, [`Feth::split_queues`] it. Dropping it (or
/// any of its queues) destroys the interface: what it still queues, and what is left in its rx rings, is
/// dropped and counted as `Detached`.
pub struct Feth {
    /// Queue 0, reached without an index.
    head: FethQueue,
    /// Queues 1.., empty with one queue.
    rest: Vec<FethQueue>,
}

impl std::fmt::Debug for Feth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Feth").field("head", &self.head).field("queues", &self.queues()).finish()
    }
}

impl Feth {
    pub(crate) fn new(iface: Arc<Iface>) -> Feth {
        let rest = (1..iface.queues()).map(|q| FethQueue::new(iface.clone(), q)).collect();
        Feth { head: FethQueue::new(iface, 0), rest }
    }

    /// Queue pairs (knob `queues`).
    pub fn queues(&self) -> usize {
        1 + self.rest.len()
    }

    /// Which logical link and queue set each queue pair is, queue i at index i (empty outside
    /// logical-link mode).
    pub fn qsets(&self) -> Vec<Qset> {
        (0..self.queues()).filter_map(|q| self.head.iface().config.qset(q)).collect()
    }

    /// Queue `queue`, if there is one.
    #[inline]
    pub fn queue_mut(&mut self, queue: usize) -> Option<&mut FethQueue> {
        match queue {
            0 => Some(&mut self.head),
            q => self.rest.get_mut(q - 1),
        }
    }

    /// The queue pairs, queue i at index i, each a [`Port`] of one queue that an lcore can own: hand one
    /// to each worker.
    ///
    /// Dropping any of them destroys the interface (as dropping the [`Feth`] does): the others see it
    /// detaching at their next poll and drop what they are given or still hold as `Detached`. So workers
    /// should hand their queues back when they stop, and the queues be dropped together after.
    pub fn split_queues(self) -> Vec<FethQueue> {
        let Feth { head, rest } = self;
        std::iter::once(head).chain(rest).collect()
    }

    /// A control handle (peer, MTU, up/down, media, stall, destroy), usable from any thread.
    pub fn handle(&self) -> FethHandle {
        self.head.handle()
    }

    /// Unit number.
    pub fn unit(&self) -> u32 {
        self.head.unit()
    }

    /// The pool packets arriving here are allocated from (the peer copies into it in private and split
    /// modes; the shared pool in global mode).
    pub fn rx_pool(&self) -> &Pool {
        self.head.rx_pool()
    }

    /// Packets waiting in the queues' own tx rings (WMM, stall or back-pressure).
    pub fn queued(&self) -> usize {
        self.head.queued() + self.rest.iter().map(FethQueue::queued).sum::<usize>()
    }

    /// Drains sync tx completions of every queue, queue 0's first (see [`FethQueue::take_completions`]).
    pub fn take_completions(&mut self) -> impl Iterator<Item = Completion> + '_ {
        let Feth { head, rest } = self;
        head.take_completions().chain(rest.iter_mut().flat_map(FethQueue::take_completions))
    }

    /// One poll of every queue without a burst (see [`FethQueue::poll`]).
    pub fn poll(&mut self) {
        self.head.poll();
        self.rest.iter_mut().for_each(FethQueue::poll);
    }
}

impl Port for Feth {
    fn name(&self) -> &str {
        self.head.name()
    }

    fn mac(&self) -> [u8; 6] {
        self.head.mac()
    }

    fn mtu(&self) -> u32 {
        self.head.mtu()
    }

    fn rx_queues(&self) -> usize {
        self.queues()
    }

    /// `queues`; with one queue, 4 in WMM mode (the ring is chosen by each packet's service class,
    /// whatever the queue).
    fn tx_queues(&self) -> usize {
        if self.rest.is_empty() {
            self.head.tx_queues()
        } else {
            self.queues()
        }
    }

    /// Receives on queue `queue`; a queue that does not exist receives nothing.
    #[inline]
    fn rx_burst(&mut self, queue: usize, pkts: &mut PacketBurst, max: usize) -> usize {
        if self.rest.is_empty() {
            return self.head.rx_burst(queue, pkts, max);
        }
        self.queue_mut(queue).map_or(0, |q| q.rx_burst(0, pkts, max))
    }

    /// Sends on queue `queue` (see [`FethQueue`]'s `tx_burst`); a queue that does not exist takes nothing.
    #[inline]
    fn tx_burst(&mut self, queue: usize, pkts: &mut PacketBurst) -> usize {
        if self.rest.is_empty() {
            return self.head.tx_burst(queue, pkts);
        }
        self.queue_mut(queue).map_or(0, |q| q.tx_burst(0, pkts))
    }

    fn link(&self) -> LinkState {
        self.head.link()
    }

    /// Queue 0's counters: the whole port's with one queue ([`Port::stats`] sums every queue's).
    fn counters(&self) -> &Arc<PortCounters> {
        self.head.counters()
    }

    /// The whole port's counters: every queue's, summed.
    fn stats(&self) -> PortStats {
        self.head.iface().stats()
    }

    fn events(&self) -> &EventBus {
        self.head.events()
    }

    fn tx_pool(&self) -> &Pool {
        self.head.tx_pool()
    }
}
