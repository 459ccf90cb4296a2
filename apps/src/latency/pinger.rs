//! The pinger: sends stamped frames, closed loop (one out at a time, a timeout for lost ones) or paced at
//! a rate (each stamped with the time it was due, so that a late send counts in the latency), and records
//! each round trip when its frame comes back.

use super::thread::{hot_section, tap_burst};
use super::Measured;
use crate::frame::UDP_PAYLOAD;
use hdrhistogram::Histogram;
use pktloop_engine::capture::{Direction, Tap};
use pktloop_engine::lcore::LcoreCtx;
use pktloop_engine::packet::free_burst;
use pktloop_engine::port::PacketBurst;
use pktloop_engine::time::now_ns;
use pktloop_engine::{Pool, Port};

/// A frame not back after this long counts as a timeout and the closed loop sends the next.
const LOST_AFTER_NS: u64 = 100_000_000;
/// Polls between clock reads while a closed-loop ping waits for its pong (a few microseconds at most).
const CLOCK_EVERY: u32 = 64;
/// Payload offset of the stamp: sequence number then send time, little-endian u64s.
const SEQ_AT: usize = UDP_PAYLOAD;
/// Most frames a paced pinger sends in one poll.
const PACED_BURST: usize = 32;

/// What one pinger thread is given.
pub(super) struct PingerSetup {
    pub port: Box<dyn Port>,
    /// The frame every ping is a copy of, before its stamp.
    pub template: Vec<u8>,
    /// Frames per second; 0 for the closed loop.
    pub rate: u64,
    /// Round trips whose frame was sent within this long from the start are not recorded.
    pub warm_ns: u64,
    pub hist: Histogram<u64>,
    pub tap: Option<Tap>,
}

/// Pings until the lcore is stopped; returns the figures and the port.
pub(super) fn pinger(ctx: &LcoreCtx, setup: PingerSetup, pools: &[Pool]) -> (Measured, Box<dyn Port>) {
    let start = now_ns();
    let mut p = Pinger::new(setup, start);
    let hot = hot_section(pools);
    let (mut now, mut polls) = (start, 0u32);
    while ctx.running() {
        // While a closed-loop ping is out, the clock is read only every CLOCK_EVERY polls, for the timeout:
        // read on every poll, it delayed seeing the pong by up to one read.
        polls = polls.wrapping_add(1);
        if p.rate != 0 || p.waiting_since.is_none() || polls.is_multiple_of(CLOCK_EVERY) {
            now = now_ns();
        }
        if p.rate == 0 {
            p.send_next(now);
        } else {
            p.send_due(now);
        }
        p.push();
        p.take_pongs();
    }
    drop(hot);
    p.finish(start)
}

/// A pinger's state between polls.
struct Pinger {
    port: Box<dyn Port>,
    template: Vec<u8>,
    rate: u64,
    /// Between two paced sends, ns.
    interval: u64,
    warm_until: u64,
    hist: Histogram<u64>,
    tap: Option<Tap>,
    tx: Box<PacketBurst>,
    rx: Box<PacketBurst>,
    /// The last frame's sequence number.
    seq: u64,
    /// Closed loop: when the frame out was sent.
    waiting_since: Option<u64>,
    /// Paced: when the next frame is due.
    next_due: u64,
    counts: Counts,
}

/// What a pinger counts besides the round trips.
#[derive(Default)]
struct Counts {
    sent: u64,
    received: u64,
    send_failures: u64,
    timeouts: u64,
    foreign: u64,
}

impl Pinger {
    fn new(s: PingerSetup, start: u64) -> Pinger {
        Pinger {
            port: s.port,
            template: s.template,
            rate: s.rate,
            interval: 1_000_000_000u64.checked_div(s.rate).unwrap_or(0),
            // Warm-up: caches, page faults, the ponger's first spin; not recorded.
            warm_until: start + s.warm_ns,
            hist: s.hist,
            tap: s.tap,
            tx: Box::default(),
            rx: Box::default(),
            seq: 0,
            waiting_since: None,
            next_due: start,
            counts: Counts::default(),
        }
    }

    /// Closed loop: gives up on a frame out for too long, and sends the next when none is out.
    #[inline(always)]
    fn send_next(&mut self, now: u64) {
        match self.waiting_since {
            Some(t) if now - t < LOST_AFTER_NS => {}
            Some(_) => {
                self.counts.timeouts += 1;
                self.waiting_since = None;
            }
            None => {}
        }
        if self.waiting_since.is_none() && self.tx.is_empty() {
            self.seq += 1;
            if stamped(self.port.as_ref(), &mut self.tx, &self.template, self.seq, now) {
                self.waiting_since = Some(now);
            } else {
                self.counts.send_failures += 1;
            }
            tap_burst(&mut self.tap, &self.tx, 0, Direction::Tx, now);
        }
    }

    /// Paced: everything due by now goes out, each stamped with its intended time.
    #[inline(always)]
    fn send_due(&mut self, now: u64) {
        let before = self.tx.len();
        let mut k = 0;
        while self.next_due <= now && k < PACED_BURST && !self.tx.is_full() {
            self.seq += 1;
            if !stamped(self.port.as_ref(), &mut self.tx, &self.template, self.seq, self.next_due) {
                self.counts.send_failures += 1;
            }
            self.next_due += self.interval;
            k += 1;
        }
        tap_burst(&mut self.tap, &self.tx[before..], 0, Direction::Tx, now);
    }

    /// Hands what waits to be sent to the port.
    #[inline(always)]
    fn push(&mut self) {
        if !self.tx.is_empty() {
            let before = self.tx.len();
            self.port.tx_burst(0, &mut self.tx);
            self.counts.sent += (before - self.tx.len()) as u64;
        }
    }

    /// Takes the frames that came back and records their round trips (once past the warm-up).
    #[inline(always)]
    fn take_pongs(&mut self) {
        if self.port.rx_burst(0, &mut self.rx, 32) == 0 {
            return;
        }
        let now = now_ns();
        tap_burst(&mut self.tap, &self.rx, 0, Direction::Rx, now);
        for p in self.rx.iter() {
            let Some((s, ts)) = stamp_of(p).filter(|_| is_ours(p, &self.template)) else {
                self.counts.foreign += 1;
                continue;
            };
            self.counts.received += 1;
            if self.rate == 0 && s == self.seq {
                self.waiting_since = None;
            }
            if ts >= self.warm_until {
                self.hist.saturating_record(now.saturating_sub(ts).max(1));
            }
        }
        free_burst(&mut self.rx);
    }

    /// The figures of a run that started at `start`, and the port.
    fn finish(mut self, start: u64) -> (Measured, Box<dyn Port>) {
        free_burst(&mut self.tx);
        let c = self.counts;
        let measured = Measured {
            hist: self.hist,
            sent: c.sent,
            received: c.received,
            send_failures: c.send_failures,
            timeouts: c.timeouts,
            foreign: c.foreign,
            elapsed_ns: now_ns() - start,
            backing: "",
            hot_allocations: 0,
            drops: [0; pktloop_engine::port::DropReason::COUNT],
            no_room: (0, 0),
        };
        (measured, self.port)
    }
}

/// Builds one stamped frame into `out`; false when the pool is empty.
#[inline]
fn stamped(port: &dyn Port, out: &mut PacketBurst, template: &[u8], seq: u64, ts: u64) -> bool {
    let Some(mut p) = port.tx_pool().alloc() else { return false };
    if p.append(template).is_err() {
        return false;
    }
    let mut stamp = [0u8; 16];
    stamp[..8].copy_from_slice(&seq.to_le_bytes());
    stamp[8..].copy_from_slice(&ts.to_le_bytes());
    // Cannot fail: frames are at least 60 bytes, the stamp ends at byte 58.
    let _ = p.write(SEQ_AT, &stamp);
    out.push(p);
    true
}

/// Whether `p` is one of the pinger's frames come back: everything before the stamp (addresses, headers) as
/// the template has it. A real interface also hears its neighbours (ARP, IPv6 discovery), whose bytes at
/// the stamp's place are no time.
#[inline]
fn is_ours(p: &pktloop_engine::Packet, template: &[u8]) -> bool {
    let mut head = [0u8; SEQ_AT];
    p.read(0, &mut head).is_ok() && head[..] == template[..SEQ_AT]
}

#[inline]
fn stamp_of(p: &pktloop_engine::Packet) -> Option<(u64, u64)> {
    let mut b = [0u8; 16];
    p.read(SEQ_AT, &mut b).ok()?;
    let seq = u64::from_le_bytes(b[..8].try_into().ok()?);
    let ts = u64::from_le_bytes(b[8..].try_into().ok()?);
    Some((seq, ts))
}
