//! The per-job poll functions of `fwd`: forwarding (io, mac, macswap) with tx_first seeding, generators
//! (txonly, flowgen), the receiver (rxonly) and icmpecho's responder and pinger. One call is one pass over
//! one job: bursts only, nothing allocated, no lock; counters published once per burst.

use super::job::{Frames, FwdOp, Generator, Job, OwnedPort};
use crate::frame::{self, Echo, Reply};
use crate::stats::{self, LcoreCounters};
use pktloop_engine::capture::{Direction, Tap};
use pktloop_engine::packet::{free_burst, Expiry, ExpiryAction, ServiceClass};
use pktloop_engine::port::PacketBurst;
use pktloop_engine::time::now_ns;
use pktloop_engine::Packet;

/// One service class per WMM access class, in the order the generator cycles them.
const WMM_CLASSES: [ServiceClass; 4] = [ServiceClass::Vo, ServiceClass::Vi, ServiceClass::Be, ServiceClass::Bk];

/// A job with its burst buffers (made at setup).
pub(super) struct Running {
    job: Job,
    /// Packets waiting to be sent (back-pressure: retried before anything new is taken in).
    pending: Box<PacketBurst>,
    /// Bytes of the generated packets in `pending`, kept for a generator that counts its sends as
    /// completions (`Generator::completes`): known when they are made, so a send that takes them all counts
    /// them with no pass over the burst.
    pending_bytes: u64,
    /// Scratch (frames to free).
    scratch: Box<PacketBurst>,
    seq: u64,
    resolved: bool,
    next_arp_ns: u64,
    template_csum: u16,
    /// The generator made its last packet (counted once in `gens_done`).
    done: bool,
}

impl Running {
    /// A job ready to run.
    pub(super) fn new(job: Job) -> Running {
        let template_csum = match &job {
            Job::Ping { template, .. } => frame::icmp_csum(template),
            _ => 0,
        };
        Running {
            job,
            pending: Box::default(),
            pending_bytes: 0,
            scratch: Box::default(),
            seq: 0,
            resolved: false,
            next_arp_ns: 0,
            template_csum,
            done: false,
        }
    }

    /// Frees what the job still holds (at stop); returns how many packets that was.
    pub(super) fn free_held(&mut self) -> u64 {
        let n = (self.pending.len() + self.scratch.len()) as u64;
        free_burst(&mut self.pending);
        free_burst(&mut self.scratch);
        n
    }
}

/// Marks a generator finished, once (`done` is its job's flag).
fn finish(done: &mut bool, c: &LcoreCounters) {
    if !*done {
        *done = true;
        stats::add(&c.gens_done, 1);
        stats::set(&c.gen_last_ns, now_ns());
    }
}

#[inline]
fn capture(tap: &mut Option<Tap>, pkts: &[Packet], port: u16, dir: Direction) {
    if let Some(t) = tap {
        if !t.is_done() && !pkts.is_empty() {
            t.burst(pkts, port, dir, now_ns());
        }
    }
}

fn bytes_of(pkts: &[Packet]) -> u64 {
    pkts.iter().map(|p| p.len() as u64).sum()
}

/// Sends what is pending on `port`'s tx queue `queue`; true when nothing is left (the job may take in more).
#[inline]
fn flush(port: &mut OwnedPort, queue: usize, pending: &mut PacketBurst) -> bool {
    if !pending.is_empty() {
        port.port.tx_burst(queue, pending);
    }
    pending.is_empty()
}

/// What every job's poll needs besides its own state and ports.
pub(super) struct PollCtx<'a> {
    /// Packets per burst.
    pub burst: usize,
    /// The lcore's counters.
    pub counters: &'a LcoreCounters,
    /// Capture tap, if capturing.
    pub tap: &'a mut Option<Tap>,
}

/// Runs one pass of `r`'s job.
#[inline]
pub(super) fn poll(r: &mut Running, ports: &mut [OwnedPort], x: &mut PollCtx<'_>) {
    match &r.job {
        Job::Forward { .. } => forward(r, ports, x),
        Job::Generate { .. } => generate(r, ports, x),
        Job::Receive { .. } => receive(r, ports, x),
        Job::Echo { .. } => echo(r, ports, x),
        Job::Ping { .. } => ping(r, ports, x),
    }
}

/// io, mac, macswap: flush what waits, seed (tx_first), take in a burst, rewrite it, send it.
#[inline]
fn forward(r: &mut Running, ports: &mut [OwnedPort], x: &mut PollCtx<'_>) {
    let Job::Forward { rx, tx, queue, op, seed_left, seed } = &mut r.job else { return };
    let burst = x.burst;
    let c = x.counters;
    let tap = &mut *x.tap;
    let (rx, tx, q, op) = (*rx, *tx, *queue, *op);
    let strip = ports[rx].strip;
    // What could not be sent last time goes first; new packets queue behind it (order kept). Taking
    // in more while some wait keeps two workers that both wait on each other's full ring moving.
    flush(&mut ports[tx], q, &mut r.pending);
    if *seed_left > 0 && r.pending.remaining_capacity() >= burst {
        let start = r.pending.len();
        if seed.fill(ports[tx].port.tx_pool(), &mut r.pending, burst).is_some() {
            *seed_left -= 1;
            stats::add(&c.generated, burst as u64);
            capture(tap, &r.pending[start..], ports[tx].index, Direction::Tx);
        } else {
            // The pool cannot hold more seeds: forward what was seeded.
            *seed_left = 0;
            stats::add(&c.nombuf, 1);
        }
    }
    let start = r.pending.len();
    let n = ports[rx].port.rx_burst(q, &mut r.pending, burst);
    if n > 0 {
        let new = &mut r.pending[start..];
        capture(tap, new, ports[rx].index, Direction::Rx);
        stats::add(&c.packets, n as u64);
        stats::add(&c.bytes, bytes_of(new));
        strip.apply(new);
        let (src, dst) = (ports[tx].mac, ports[tx].peer_mac);
        let mut bad = 0u64;
        match op {
            FwdOp::Io => {}
            FwdOp::Mac => new.iter_mut().for_each(|p| bad += u64::from(!frame::set_macs(p.data_mut(), src, dst))),
            FwdOp::MacSwap => new.iter_mut().for_each(|p| bad += u64::from(!frame::swap_macs(p.data_mut()))),
        }
        stats::add(&c.bad_frame, bad);
        capture(tap, &r.pending[start..], ports[tx].index, Direction::Tx);
    }
    flush(&mut ports[tx], q, &mut r.pending);
}

/// txonly, flowgen, replay: make a burst when the last one is gone (as many as the count and the rate
/// allow), send it.
#[inline]
fn generate(r: &mut Running, ports: &mut [OwnedPort], x: &mut PollCtx<'_>) {
    let Job::Generate { port, queue, gen } = &mut r.job else { return };
    let c = x.counters;
    let p = &mut ports[*port];
    if r.pending.is_empty() && !r.done {
        if stats::get(&c.gen_first_ns) == 0 {
            // When the generator started: its rate and span are measured from here.
            stats::set(&c.gen_first_ns, now_ns());
        }
        let (made, bytes) = make(gen, p.port.tx_pool(), &mut r.pending, x.burst, c);
        r.pending_bytes = bytes;
        if made > 0 {
            mark(gen, &mut r.pending, &mut r.seq);
            stats::add(&c.generated, made as u64);
            stats::add(&c.gen_bytes, bytes);
            capture(x.tap, &r.pending, p.index, Direction::Tx);
        }
        let finished = match &gen.frames {
            Frames::Made(_) => gen.quota.exhausted(),
            Frames::Replayed(player) => gen.quota.exhausted() || player.finished(),
        };
        if finished {
            finish(&mut r.done, c);
        }
    }
    let before = r.pending.len();
    let taken = p.port.tx_burst(*queue, &mut r.pending);
    if gen.completes && taken > 0 {
        let left = if r.pending.is_empty() { 0 } else { bytes_of(&r.pending) };
        stats::add(&c.packets, (before - r.pending.len()) as u64);
        stats::add(&c.bytes, r.pending_bytes - left);
        r.pending_bytes = left;
    }
}

/// Makes up to a burst of `gen`'s frames into the empty `out`, as many as its quota grants; returns how
/// many and their bytes.
#[inline]
fn make(
    gen: &mut Generator,
    pool: &pktloop_engine::Pool,
    out: &mut PacketBurst,
    burst: usize,
    c: &LcoreCounters,
) -> (usize, u64) {
    let granted = gen.quota.grant(burst);
    if granted == 0 {
        return (0, 0);
    }
    let made = match &mut gen.frames {
        Frames::Made(maker) => match maker.fill(pool, out, granted) {
            Some(bytes) => (granted, bytes),
            None => {
                stats::add(&c.nombuf, 1);
                (0, 0)
            }
        },
        Frames::Replayed(player) => {
            let played = player.fill(pool, out, granted, now_ns);
            stats::add(&c.too_long, played.too_long);
            stats::add(&c.too_short, played.too_short);
            stats::add(&c.nombuf, u64::from(played.nombuf));
            (played.made, bytes_of(out))
        }
    };
    gen.quota.settle(granted, made.0);
    made
}

/// Marks fresh frames with what the run asks: an expiry deadline, WMM service classes.
#[inline]
fn mark(gen: &Generator, pkts: &mut PacketBurst, seq: &mut u64) {
    if let Some(after) = gen.expiry_ns {
        let deadline_ns = now_ns() + after;
        for pkt in pkts.iter_mut() {
            pkt.meta_mut().expiry = Some(Expiry { deadline_ns, action: ExpiryAction::Drop });
        }
    }
    if gen.wmm_classes {
        for pkt in pkts.iter_mut() {
            pkt.meta_mut().service_class = WMM_CLASSES[(*seq % 4) as usize];
            *seq += 1;
        }
    }
}

/// rxonly: take in a burst and free it.
#[inline]
fn receive(r: &mut Running, ports: &mut [OwnedPort], x: &mut PollCtx<'_>) {
    let Job::Receive { port, queue } = &mut r.job else { return };
    let burst = x.burst;
    let c = x.counters;
    let tap = &mut *x.tap;
    let p = &mut ports[*port];
    let n = p.port.rx_burst(*queue, &mut r.scratch, burst);
    if n > 0 {
        capture(tap, &r.scratch, p.index, Direction::Rx);
        stats::add(&c.consumed, n as u64);
        stats::add(&c.packets, n as u64);
        stats::add(&c.bytes, bytes_of(&r.scratch));
        free_burst(&mut r.scratch);
    }
}

/// icmpecho responder: answer ARP and echo requests in place, free the rest.
#[inline]
fn echo(r: &mut Running, ports: &mut [OwnedPort], x: &mut PollCtx<'_>) {
    let Job::Echo { port, queue, ip, counted } = &mut r.job else { return };
    let burst = x.burst;
    let c = x.counters;
    let tap = &mut *x.tap;
    let (p, q) = (&mut ports[*port], *queue);
    let strip = p.strip;
    if !flush(p, q, &mut r.pending) {
        return;
    }
    let n = p.port.rx_burst(q, &mut r.scratch, burst);
    if n == 0 {
        return;
    }
    capture(tap, &r.scratch, p.index, Direction::Rx);
    strip.apply(&mut r.scratch);
    let mut ignored = 0u64;
    let mut keep = 0;
    // Answer in place, moving replies to the front (order kept) and leaving the rest at the back.
    for i in 0..r.scratch.len() {
        if frame::echo_in_place(r.scratch[i].data_mut(), p.mac, *ip) == Echo::Ignore {
            ignored += 1;
        } else {
            r.scratch.swap(keep, i);
            keep += 1;
        }
    }
    // Move the replies into `pending` (it is empty here), free the rest.
    for pkt in r.scratch.drain(..keep) {
        // Cannot fail: pending is empty and has the same capacity.
        let _ = r.pending.try_push(pkt);
    }
    free_burst(&mut r.scratch);
    stats::add(&c.ignored, ignored);
    stats::add(&c.consumed, ignored);
    stats::add(&c.answered, keep as u64);
    if *counted {
        stats::add(&c.packets, keep as u64);
        stats::add(&c.bytes, bytes_of(&r.pending));
    }
    capture(tap, &r.pending, p.index, Direction::Tx);
    flush(p, q, &mut r.pending);
}

/// icmpecho generator: free what comes back (counting echo replies), resolve the peer by ARP, then ping.
#[inline]
fn ping(r: &mut Running, ports: &mut [OwnedPort], x: &mut PollCtx<'_>) {
    let Job::Ping { port, template, arp, peer_ip, quota } = &mut r.job else { return };
    let burst = x.burst;
    let c = x.counters;
    let tap = &mut *x.tap;
    let p = &mut ports[*port];
    let n = p.port.rx_burst(0, &mut r.scratch, burst);
    if n > 0 {
        capture(tap, &r.scratch, p.index, Direction::Rx);
        let mut replies = 0u64;
        let mut bytes = 0u64;
        for pkt in r.scratch.iter() {
            match frame::classify_reply(pkt.data(), *peer_ip) {
                Reply::Echo => {
                    replies += 1;
                    bytes += pkt.len() as u64;
                }
                Reply::Arp(mac) if !r.resolved => {
                    template[0..6].copy_from_slice(&mac);
                    r.resolved = true;
                }
                _ => {}
            }
        }
        stats::add(&c.packets, replies);
        stats::add(&c.bytes, bytes);
        stats::add(&c.ignored, n as u64 - replies);
        stats::add(&c.consumed, n as u64);
        free_burst(&mut r.scratch);
    }
    if !flush(p, 0, &mut r.pending) {
        return;
    }
    if !r.resolved {
        let now = now_ns();
        if now >= r.next_arp_ns {
            r.next_arp_ns = now + 1_000_000;
            if p.port.tx_pool().alloc_frames(&mut r.pending, 1, arp) {
                stats::add(&c.generated, 1);
                stats::add(&c.arp_requests, 1);
                capture(tap, &r.pending, p.index, Direction::Tx);
                flush(p, 0, &mut r.pending);
            }
        }
        return;
    }
    if r.done {
        return;
    }
    if stats::get(&c.gen_first_ns) == 0 {
        // The pings' rate and span are measured from the first, not from the ARP exchange before it.
        stats::set(&c.gen_first_ns, now_ns());
    }
    let granted = quota.grant(burst);
    let made =
        if granted > 0 && p.port.tx_pool().alloc_frames(&mut r.pending, granted, template) { granted } else { 0 };
    quota.settle(granted, made);
    if quota.exhausted() {
        finish(&mut r.done, c);
    }
    if made == 0 {
        stats::add(&c.nombuf, u64::from(granted > 0));
        return;
    }
    for pkt in r.pending.iter_mut() {
        r.seq += 1;
        frame::set_icmp_seq(pkt.data_mut(), r.template_csum, r.seq as u16);
    }
    stats::add(&c.generated, r.pending.len() as u64);
    stats::add(&c.gen_bytes, bytes_of(&r.pending));
    capture(tap, &r.pending, p.index, Direction::Tx);
    flush(p, 0, &mut r.pending);
}
