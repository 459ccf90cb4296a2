//! The two ping-pongs: pinger and ponger across a feth pair or two real interfaces joined by a wire (closed
//! or open loop), and the bare rtrb floor.

use super::{new_hist, LatencyPlan, Measured};
use crate::capture::Recorder;
use crate::config;
use crate::error::AppError;
use crate::frame::{self, UDP_PAYLOAD};
use crate::fwd::worker::Strip;
use crate::ports;
use hdrhistogram::Histogram;
use pktloop_engine::capture::{Direction, Tap};
use pktloop_engine::lcore::{self, LcoreCtx};
use pktloop_engine::packet::free_burst;
use pktloop_engine::port::PacketBurst;
use pktloop_engine::time::now_ns;
use pktloop_engine::Port;
use std::time::Duration;

/// A frame not back after this long counts as a timeout and the closed loop sends the next.
const LOST_AFTER_NS: u64 = 100_000_000;
/// Polls between clock reads while a closed-loop ping waits for its pong (a few microseconds at most).
const CLOCK_EVERY: u32 = 64;
/// Payload offset of the stamp: sequence number then send time, little-endian u64s.
const SEQ_AT: usize = UDP_PAYLOAD;

/// Runs the ping-pong across the plan's ports; returns the pinger's figures, buffers leaked, and pcap frames written.
pub(super) fn run_pingpong(plan: &LatencyPlan) -> Result<(Measured, usize, Option<u64>), AppError> {
    let mut set = match &plan.wire {
        None => ports::feth_pairs(&plan.feth, plan.mtu, 1)?,
        Some(list) => ports::list_ports(list, &plan.feth, &Default::default(), plan.mtu, plan.pkt_len, outside(plan))?,
    };
    ports::check_room(&set, 0..set.ports.len(), ("pkt-len", &plan.pkt_len.to_string()), plan.pkt_len)?;
    let mut recorder = match &plan.pcap {
        Some(spec) => {
            let max_frame = config::max_frame(plan.mtu) + plan.feth.trailer_length as usize + 4;
            Some(Recorder::new(spec, max_frame, set.info.iter().map(|p| p.name.clone()).collect())?)
        }
        None => None,
    };
    let mut taps = Vec::new();
    for _ in 0..2 {
        taps.push(match recorder.as_mut() {
            Some(r) => Some(r.tap()?),
            None => None,
        });
    }
    let pong_tap = taps.pop().flatten();
    let ping_tap = taps.pop().flatten();
    // One port (shm): the ponger is the peer process.
    let ponger_port = if set.ports.len() == 2 { set.ports.pop() } else { None };
    let pinger_port = set.ports.pop().ok_or_else(|| AppError::runtime("no port for the pinger"))?;
    let peer_mac = set.info.get(1).map_or(set.info[0].peer_mac, |p| p.mac);
    let template = frame::udp_frame(set.info[0].mac, peer_mac, plan.pkt_len);
    if ponger_port.is_none() {
        wait_for_peer(pinger_port.as_ref())?;
    }
    let cores = lcore::plan(2);
    // feth appends a trailer and FCS the ponger cuts off; real interfaces hand over bare frames.
    let strip = match plan.wire {
        None => Strip { trailer: plan.feth.trailer_length as usize, fcs: plan.feth.fcs },
        Some(_) => Strip::default(),
    };
    let hot_before = pktloop_engine::hot::hot_allocations();
    let pools = set.pools.clone();
    let pong = ponger_port
        .map(|port| lcore::spawn("pong", 1, cores.cores[1], move |ctx| ponger(ctx, port, pong_tap, strip, &pools)))
        .transpose()
        .map_err(|e| AppError::runtime(format!("cannot start the ponger: {e}")))?;
    let writer = match recorder {
        Some(r) => Some(r.start()?),
        None => None,
    };
    let (rate, duration) = (plan.rate, plan.duration);
    let (hist, warm_ns) = (new_hist(), super::warmup_ns(duration));
    let pools = set.pools.clone();
    let ping = lcore::spawn("ping", 0, cores.cores[0], move |ctx| {
        pinger(ctx, (pinger_port, &pools), template, rate, warm_ns, hist, ping_tap)
    })
    .map_err(|e| AppError::runtime(format!("cannot start the pinger: {e}")))?;
    crate::interrupt::sleep_until(std::time::Instant::now() + duration);
    ping.stop();
    let ((measured, pinger_port), _) = ping.join().map_err(|_| AppError::runtime("the pinger panicked"))?;
    let ponger_port = match pong {
        Some(pong) => Some(pong.join().map_err(|_| AppError::runtime("the ponger panicked"))?.0),
        None => None,
    };
    let written = match writer {
        Some(w) => Some(w.finish()?.written),
        None => None,
    };
    drop((pinger_port, ponger_port));
    let hot_allocations = pktloop_engine::hot::hot_allocations() - hot_before;
    let measured = Measured { backing: set.backing(), hot_allocations, ..measured };
    Ok((measured, set.in_use(), written))
}

/// Knobs of the ports that reach outside the process.
fn outside(plan: &LatencyPlan) -> ports::Outside {
    ports::Outside { xdp: plan.xdp, role: plan.role }
}

/// How long a pinger whose ponger is another process waits for it to connect.
const PEER_WAIT: Duration = Duration::from_secs(10);

/// Waits for the port's peer process (its link comes up when it connects).
fn wait_for_peer(port: &dyn Port) -> Result<(), AppError> {
    let deadline = std::time::Instant::now() + PEER_WAIT;
    while port.link() != pktloop_engine::port::LinkState::Up {
        if std::time::Instant::now() > deadline || crate::interrupt::requested() {
            return Err(AppError::runtime(format!(
                "no ponger connected to {} within {} s: start `pktloop latency --port shm:PATH --role client`",
                port.name(),
                PEER_WAIT.as_secs()
            )));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    Ok(())
}

/// The client side of a ping-pong across two processes: answers the server's pinger for the run's
/// duration, then says how many frames it echoed.
pub(super) fn pong_for_another_process(plan: &LatencyPlan, json: bool) -> Result<(), AppError> {
    let list = plan.wire.as_deref().unwrap_or_default();
    let mut set = ports::list_ports(list, &plan.feth, &Default::default(), plan.mtu, plan.pkt_len, outside(plan))?;
    let port = set.ports.pop().ok_or_else(|| AppError::runtime("no port for the ponger"))?;
    let counters = set.info[0].counters.clone();
    let core = crate::cores::for_shm_client(plan.role, 1).map_or(0, |ids| ids[0]);
    let pools = set.pools.clone();
    let pong = lcore::spawn("pong", 0, core, move |ctx| ponger(ctx, port, None, Strip::default(), &pools))
        .map_err(|e| AppError::runtime(format!("cannot start the ponger: {e}")))?;
    crate::interrupt::sleep_until(std::time::Instant::now() + plan.duration);
    pong.stop();
    let (port, _) = pong.join().map_err(|_| AppError::runtime("the ponger panicked"))?;
    drop(port);
    let stats = counters.snapshot();
    if json {
        let v = serde_json::json!({ "role": "client", "echoed": stats.opackets, "received": stats.ipackets,
            "leaked_buffers": set.in_use() });
        println!("{v}");
    } else {
        println!("ponger for another process: received {}, echoed {} frames", stats.ipackets, stats.opackets);
    }
    match set.in_use() {
        0 => Ok(()),
        n => Err(AppError::runtime(format!("{n} buffers did not return to their pools"))),
    }
}

#[inline]
fn tap_burst(tap: &mut Option<Tap>, pkts: &[pktloop_engine::Packet], port: u16, dir: Direction, ts: u64) {
    if let Some(t) = tap {
        t.burst(pkts, port, dir, ts);
    }
}

/// This thread's caches of the run's pools and the engine's per-thread state, made now; then a hot section
/// for the loop that follows: nothing in it may allocate (the allocator counts it).
fn hot_section(pools: &[pktloop_engine::Pool]) -> pktloop_engine::hot::HotSection {
    pools.iter().for_each(pktloop_engine::Pool::prepare_thread_cache);
    pktloop_engine::hot::prepare_thread();
    pktloop_engine::hot::HotSection::enter()
}

fn ponger(
    ctx: &LcoreCtx,
    mut port: Box<dyn Port>,
    mut tap: Option<Tap>,
    strip: Strip,
    pools: &[pktloop_engine::Pool],
) -> Box<dyn Port> {
    let mut burst: Box<PacketBurst> = Box::default();
    let _hot = hot_section(pools);
    while ctx.running() {
        if burst.is_empty() {
            if port.rx_burst(0, &mut burst, 32) == 0 {
                continue;
            }
            let now = if tap.is_some() { now_ns() } else { 0 };
            tap_burst(&mut tap, &burst, 1, Direction::Rx, now);
            strip.apply(&mut burst);
            tap_burst(&mut tap, &burst, 1, Direction::Tx, now);
        }
        port.tx_burst(0, &mut burst);
    }
    free_burst(&mut burst);
    port
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

fn pinger(
    ctx: &LcoreCtx,
    (mut port, pools): (Box<dyn Port>, &[pktloop_engine::Pool]),
    template: Vec<u8>,
    rate: u64,
    warm_ns: u64,
    mut hist: Histogram<u64>,
    mut tap: Option<Tap>,
) -> (Measured, Box<dyn Port>) {
    let mut tx: Box<PacketBurst> = Box::default();
    let mut rx: Box<PacketBurst> = Box::default();
    let (mut sent, mut received, mut send_failures, mut timeouts, mut foreign) = (0u64, 0u64, 0u64, 0u64, 0u64);
    // Warm-up: caches, page faults, the ponger's first spin; not recorded.
    let start = now_ns();
    let warm_until = start + warm_ns;
    let interval = 1_000_000_000u64.checked_div(rate).unwrap_or(0);
    let mut next_due = start;
    let mut waiting_since: Option<u64> = None;
    let mut seq = 0u64;
    let hot = hot_section(pools);
    let (mut now, mut polls) = (start, 0u32);
    while ctx.running() {
        // While a closed-loop ping is out, the clock is read only every CLOCK_EVERY polls, for the timeout:
        // read on every poll, it delayed seeing the pong by up to one read.
        polls = polls.wrapping_add(1);
        if rate != 0 || waiting_since.is_none() || polls % CLOCK_EVERY == 0 {
            now = now_ns();
        }
        if rate == 0 {
            match waiting_since {
                Some(t) if now - t < LOST_AFTER_NS => {}
                Some(_) => {
                    timeouts += 1;
                    waiting_since = None;
                }
                None => {}
            }
            if waiting_since.is_none() && tx.is_empty() {
                seq += 1;
                if stamped(port.as_ref(), &mut tx, &template, seq, now) {
                    waiting_since = Some(now);
                } else {
                    send_failures += 1;
                }
                tap_burst(&mut tap, &tx, 0, Direction::Tx, now);
            }
        } else {
            // Everything due by now goes out, each stamped with its intended time.
            let mut k = 0;
            let before = tx.len();
            while next_due <= now && k < 32 && !tx.is_full() {
                seq += 1;
                if !stamped(port.as_ref(), &mut tx, &template, seq, next_due) {
                    send_failures += 1;
                }
                next_due += interval;
                k += 1;
            }
            tap_burst(&mut tap, &tx[before..], 0, Direction::Tx, now);
        }
        if !tx.is_empty() {
            let before = tx.len();
            port.tx_burst(0, &mut tx);
            sent += (before - tx.len()) as u64;
        }
        if port.rx_burst(0, &mut rx, 32) > 0 {
            let now = now_ns();
            tap_burst(&mut tap, &rx, 0, Direction::Rx, now);
            for p in rx.iter() {
                let Some((s, ts)) = stamp_of(p).filter(|_| is_ours(p, &template)) else {
                    foreign += 1;
                    continue;
                };
                received += 1;
                if rate == 0 && s == seq {
                    waiting_since = None;
                }
                if ts >= warm_until {
                    hist.saturating_record(now.saturating_sub(ts).max(1));
                }
            }
            free_burst(&mut rx);
        }
    }
    drop(hot);
    free_burst(&mut tx);
    let elapsed_ns = now_ns() - start;
    (
        Measured {
            hist,
            sent,
            received,
            send_failures,
            timeouts,
            foreign,
            elapsed_ns,
            backing: "",
            hot_allocations: 0,
        },
        port,
    )
}

/// The floor: a closed-loop ping-pong of timestamps over two rtrb rings between two pinned threads.
pub fn rtrb_pingpong(duration: Duration) -> Result<Measured, AppError> {
    let (mut to_b, mut from_a) = rtrb::RingBuffer::<u64>::new(64);
    let (mut to_a, mut from_b) = rtrb::RingBuffer::<u64>::new(64);
    let cores = lcore::plan(2);
    let echo = lcore::spawn("rtrb-pong", 1, cores.cores[1], move |ctx| {
        while ctx.running() {
            if let Ok(v) = from_a.pop() {
                while to_a.push(v).is_err() && ctx.running() {}
            }
        }
    })
    .map_err(|e| AppError::runtime(format!("cannot start the rtrb ponger: {e}")))?;
    let hist = new_hist();
    let ping = lcore::spawn("rtrb-ping", 0, cores.cores[0], move |ctx| {
        let mut hist = hist;
        let start = now_ns();
        let warm_until = start + super::warmup_ns(duration);
        let (mut sent, mut received) = (0u64, 0u64);
        'outer: while ctx.running() {
            let t = now_ns();
            if to_b.push(t).is_err() {
                continue;
            }
            sent += 1;
            loop {
                if let Ok(v) = from_b.pop() {
                    let now = now_ns();
                    received += 1;
                    if v >= warm_until {
                        hist.saturating_record(now.saturating_sub(v).max(1));
                    }
                    break;
                }
                if !ctx.running() {
                    break 'outer;
                }
            }
        }
        let elapsed_ns = now_ns() - start;
        Measured {
            hist,
            sent,
            received,
            send_failures: 0,
            timeouts: 0,
            foreign: 0,
            elapsed_ns,
            backing: "",
            hot_allocations: 0,
        }
    })
    .map_err(|e| AppError::runtime(format!("cannot start the rtrb pinger: {e}")))?;
    crate::interrupt::sleep_until(std::time::Instant::now() + duration);
    ping.stop();
    let (m, _) = ping.join().map_err(|_| AppError::runtime("the rtrb pinger panicked"))?;
    echo.join().map_err(|_| AppError::runtime("the rtrb ponger panicked"))?;
    Ok(m)
}
