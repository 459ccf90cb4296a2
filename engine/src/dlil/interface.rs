//! The interface: a port with its input path (rx burst -> input filters in order -> demux by EtherType ->
//! the attached protocol) and output path (output filters in order -> the port), after XNU's `ifnet` and
//! `dlil_input_packet_list` / `dlil_output`.
//!
//! [`Interface`] is the data path, used by one thread at a time (`&mut self`): a worker's poll loop
//! (run to completion) or an [`super::InputThread`]. [`InterfaceHandle`] is the control path, cloned to any
//! thread (`handle.rs`). The data path takes no lock and allocates nothing: it keeps its own copy of the
//! lists, reloaded only when a generation counter moves (one relaxed load per poll), and enters each
//! handler through its slot's gate once per burst.

use super::demux::{ethertype, type_field};
use super::filter::Hook;
use super::handle::InterfaceHandle;
use super::shared::{FilterEntry, Lists, ProtocolEntry, Shared};
use crate::packet::{free_burst, Packet};
use crate::port::{DropReason, EventBus, EventKind, PacketBurst, Port, PortCounters, Subscriber};
use crate::wire::EtherType;
use arc_swap::ArcSwap;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

/// Polls between two looks at the port's own events (link changes), relayed to the interface's.
const RELAY_EVERY: u32 = 64;

/// Most passes a detach makes to drain the interface.
const DETACH_PASSES: usize = 10_000;
/// Of those, the passes that also receive: what is at hand when the detach starts, up to 64 bursts (2048
/// frames at bursts of 32, four default feth rings), not the new traffic a port that never goes quiet (a
/// null port, a busy link) would go on bringing until the bound. What is left then (frames beyond those,
/// and a port's own tx backlog that only its receive polls drain) stays with the port, whose teardown
/// counts it as detached.
const DETACH_RECEIVE_PASSES: usize = 64;

/// Scratch bursts of the data path, made once.
#[derive(Default)]
struct Scratch {
    rx: PacketBurst,
    dropped: PacketBurst,
    chain: PacketBurst,
    replies: PacketBurst,
    outgoing: PacketBurst,
    /// Filtered output the port has not taken yet (sent first next time).
    pending: PacketBurst,
}

/// An interface: a port and its input and output paths. See the module documentation.
pub struct Interface {
    port: Box<dyn Port>,
    handle: InterfaceHandle,
    scratch: Box<Scratch>,
    lists: Lists,
    port_events: Subscriber,
    burst: usize,
    polls: u32,
}

impl std::fmt::Debug for Interface {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Interface").field("name", &self.handle.shared.name).finish()
    }
}

impl Interface {
    /// Wraps `port`, receiving up to `burst` packets per poll (1..=512).
    ///
    /// # Panics
    /// `burst` out of range.
    pub fn new(port: Box<dyn Port>, burst: usize) -> Interface {
        assert!((1..=crate::port::MAX_BURST).contains(&burst), "burst {burst}: valid is 1..=512");
        let name = port.name().to_owned();
        let id = name.trim_start_matches(|c: char| !c.is_ascii_digit()).parse().unwrap_or(0);
        let port_events = port.events().subscribe();
        let shared = Arc::new(Shared {
            name,
            id,
            filters: ArcSwap::from_pointee(Vec::new()),
            protocols: ArcSwap::from_pointee(Vec::new()),
            counters: Arc::default(),
            events: EventBus::new(),
            next_filter: AtomicU64::new(1),
            generation: AtomicU64::new(0),
        });
        let mut lists = Lists::default();
        lists.refresh(&shared);
        Interface {
            port,
            handle: InterfaceHandle { shared },
            scratch: Box::default(),
            lists,
            port_events,
            burst,
            polls: 0,
        }
    }

    /// The control path, for any thread.
    pub fn handle(&self) -> InterfaceHandle {
        self.handle.clone()
    }

    /// The port.
    pub fn port(&self) -> &dyn Port {
        &*self.port
    }

    /// One pass of the input path: sends what waits, receives a burst, runs it through the input filters
    /// and hands it, demultiplexed, to the protocols (whose replies go out through the output path).
    /// Returns the packets received.
    pub fn poll(&mut self) -> usize {
        self.polls = self.polls.wrapping_add(1);
        if self.polls.is_multiple_of(RELAY_EVERY) {
            self.relay_port_events();
        }
        self.flush();
        self.lists.refresh(&self.handle.shared);
        let s = &mut *self.scratch;
        let n = self.port.rx_burst(0, &mut s.rx, self.burst);
        if n == 0 {
            return 0;
        }
        let shared = &*self.handle.shared;
        let filtered = !self.lists.filters.is_empty();
        // With no filter the burst's bytes and its type come from one pass; filters may drop or rewrite
        // packets, so then the type is read after them.
        let (bytes, mut one) = if filtered { (s.rx.iter().map(|p| p.len()).sum(), None) } else { scan(&s.rx) };
        shared.counters.rx(n as u64, bytes as u64);
        if filtered {
            run_filters(shared, &self.lists.filters, Hook::Input, &mut s.rx, &mut s.dropped);
            one = scan(&s.rx).1;
        }
        demux(shared, &self.lists.protocols, s, one);
        if !s.replies.is_empty() {
            self.send_replies();
        }
        n
    }

    /// Sends the protocols' replies through the output path; those it has no room for are dropped
    /// (counted), never held across polls.
    fn send_replies(&mut self) {
        self.flush();
        let s = &mut *self.scratch;
        let take = s.replies.len().min(s.pending.remaining_capacity());
        s.outgoing.extend(s.replies.drain(..take));
        let left = s.replies.len() as u64;
        if left > 0 {
            PortCounters::drop(&self.handle.shared.counters, DropReason::RxRingFull, left);
            free_burst(&mut s.replies);
        }
        self.stage_outgoing();
    }

    /// The output path: takes packets from the front of `pkts` (as many as it can hold), runs them through
    /// the output filters and sends them on the port. Returns how many it took; those left in `pkts` were
    /// not looked at (back-pressure: the port is behind). An empty `pkts` with nothing waiting is passed to
    /// the port as the poll an empty `tx_burst` is.
    pub fn output(&mut self, pkts: &mut PacketBurst) -> usize {
        if pkts.is_empty() && self.scratch.pending.is_empty() {
            // An empty burst is a poll, and goes through as one: a port may hold packets of its own to move
            // on (feth's local tx rings after a dequeue stall) when its sender has nothing new.
            self.port.tx_burst(0, pkts);
            return 0;
        }
        self.flush();
        self.lists.refresh(&self.handle.shared);
        let s = &mut *self.scratch;
        let take = pkts.len().min(s.pending.remaining_capacity());
        if take == 0 {
            return 0;
        }
        s.outgoing.extend(pkts.drain(..take));
        self.stage_outgoing();
        take
    }

    /// Runs `outgoing` through the output filters, queues what passes and sends what the port takes.
    fn stage_outgoing(&mut self) {
        let s = &mut *self.scratch;
        run_filters(&self.handle.shared, &self.lists.filters, Hook::Output, &mut s.outgoing, &mut s.dropped);
        s.pending.extend(s.outgoing.drain(..));
        self.flush();
    }

    /// Sends what the port has not taken yet; true when nothing is left.
    pub fn flush(&mut self) -> bool {
        let s = &mut *self.scratch;
        if s.pending.is_empty() {
            return true;
        }
        let before = s.pending.len();
        let bytes: usize = s.pending.iter().map(|p| p.len()).sum();
        self.port.tx_burst(0, &mut s.pending);
        let left: usize = s.pending.iter().map(|p| p.len()).sum();
        self.handle.shared.counters.tx((before - s.pending.len()) as u64, (bytes - left) as u64);
        s.pending.is_empty()
    }

    /// Detaches the interface: posts `Detaching`, drains (receives and delivers what is still arriving,
    /// sends what waits), takes back every filter and protocol once no packet is inside it, posts
    /// `Detached`, and returns the port.
    pub fn detach(mut self) -> Box<dyn Port> {
        self.handle.publish(EventKind::Detaching);
        // Until the port is quiet (or, if it never is, a bounded number of passes: a peer that stopped
        // polling keeps our output from draining).
        let mut idle = 0;
        for pass in 0..DETACH_PASSES {
            let received = pass < DETACH_RECEIVE_PASSES && self.poll() > 0;
            let busy = received || !self.flush();
            idle = if busy { 0 } else { idle + 1 };
            if idle == 4 {
                break;
            }
        }
        let left = self.scratch.pending.len() as u64;
        PortCounters::drop(&self.handle.shared.counters, DropReason::Detached, left);
        free_burst(&mut self.scratch.pending);
        let shared = self.handle.shared.clone();
        for e in shared.filters.swap(Arc::new(Vec::new())).iter() {
            if e.slot.retire().is_some() {
                self.handle.publish(EventKind::FilterDetached { filter: e.id.0 });
            }
        }
        for e in shared.protocols.swap(Arc::new(Vec::new())).iter() {
            if e.slot.retire().is_some() {
                self.handle.publish(EventKind::ProtocolDetached { ethertype: e.ethertype });
            }
        }
        self.handle.publish(EventKind::Detached);
        self.port
    }

    fn relay_port_events(&mut self) {
        while let Some(e) = self.port_events.poll() {
            if matches!(e.kind, EventKind::LinkUp | EventKind::LinkDown) {
                self.handle.publish(e.kind);
            }
        }
    }
}

/// Runs `pkts` through every filter of the list in order (`hook`), freeing and counting what they drop.
fn run_filters(
    shared: &Shared,
    filters: &[Arc<FilterEntry>],
    hook: Hook,
    pkts: &mut PacketBurst,
    dropped: &mut PacketBurst,
) {
    for e in filters {
        if pkts.is_empty() {
            break;
        }
        // SAFETY: the data path (`&mut Interface`) is the only caller of `enter`.
        let done = unsafe {
            e.slot.enter(|f| {
                let s = match hook {
                    Hook::Input => f.input_burst(pkts, dropped),
                    Hook::Output => f.output_burst(pkts, dropped),
                };
                // Inside the gate: a detach that returns has every burst of this filter in its counters.
                e.counters.add(s);
                s
            })
        };
        if done.is_some() {
            // What the filter actually handed back, whatever an overridden burst method says.
            PortCounters::drop(&shared.counters, DropReason::Filtered, dropped.len() as u64);
            free_burst(dropped);
        }
    }
}

/// Hands `s.rx` to the protocols, consecutive packets of one EtherType as one chain (as dlil does).
/// Frames too short for a header are counted (ierrors, `BadFrame`); frames no protocol takes are counted
/// as `NoProtocol`; both freed.
/// `one` is the type of every packet of `s.rx` when they all have the same one (see [`scan`]).
fn demux(shared: &Shared, protocols: &[Arc<ProtocolEntry>], s: &mut Scratch, one: Option<u16>) {
    if let Some(t) = one {
        // The usual burst: all of one type, handed up as it is.
        deliver(shared, protocols, t, &mut s.rx, &mut s.replies);
        return;
    }
    let mut chain_type = None;
    let mut bad = 0u64;
    for pkt in s.rx.drain(..) {
        match ethertype(pkt.data()) {
            Err(_) => {
                bad += 1;
                drop(pkt);
            }
            Ok(t) => {
                if chain_type != Some(t) && !s.chain.is_empty() {
                    deliver(shared, protocols, chain_type.unwrap_or(0), &mut s.chain, &mut s.replies);
                }
                chain_type = Some(t);
                s.chain.push(pkt);
            }
        }
    }
    if let Some(t) = chain_type.filter(|_| !s.chain.is_empty()) {
        deliver(shared, protocols, t, &mut s.chain, &mut s.replies);
    }
    if bad > 0 {
        shared.counters.rx_dropped(DropReason::BadFrame, bad);
    }
}

/// The bytes of `pkts` and, if they all have the same EtherType, that type: one pass over the burst,
/// whose header loads are independent and overlap (no early exit, no branch on the type).
#[inline(always)]
fn scan(pkts: &PacketBurst) -> (usize, Option<u16>) {
    match Packet::plain_frames(pkts) {
        Some(frames) => scan_frames(frames),
        None => scan_frames(pkts.iter().map(Packet::data)),
    }
}

/// [`scan`] of the frames' data, in order. Each frame's raw type field is compared with the first's as it
/// stands (no byte swap, no look at VLAN tags); only the first frame's type is then decoded. A first frame
/// that is tagged gives no common type: tagged frames of one outer type may differ inside.
#[inline(always)]
fn scan_frames<'a>(mut frames: impl Iterator<Item = &'a [u8]> + Clone) -> (usize, Option<u16>) {
    let Some(first) = frames.clone().next() else { return (0, None) };
    let first_field = type_field(first);
    let (mut bytes, mut differs) = (0, 0);
    for f in &mut frames {
        bytes += f.len();
        differs |= type_field(f) ^ first_field;
    }
    let outer = u16::try_from(first_field).ok().map(u16::from_be).filter(|&t| t != u16::from(EtherType::Vlan));
    (bytes, outer.filter(|_| differs == 0))
}

/// Gives `chain` (all of type `ethertype`) to its protocol, or counts it as `NoProtocol`; frees what is
/// left of it either way.
fn deliver(
    shared: &Shared,
    protocols: &[Arc<ProtocolEntry>],
    ethertype: u16,
    chain: &mut PacketBurst,
    replies: &mut PacketBurst,
) {
    let n = chain.len() as u64;
    let entry = protocols.iter().find(|e| e.ethertype == ethertype);
    let delivered = entry.and_then(|e| {
        // SAFETY: the data path (`&mut Interface`) is the only caller of `enter`. The count is taken inside the gate, so a detach sees it.
        unsafe { e.slot.enter(|p| (p.input(chain, replies), e.counters.add(n))) }
    });
    if delivered.is_none() {
        // No handler, or one being detached right now.
        PortCounters::drop(&shared.counters, DropReason::NoProtocol, n);
    }
    free_burst(chain);
}
