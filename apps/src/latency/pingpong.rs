//! The two ping-pongs set up and run: a pinger and a ponger on two cores across a feth pair or two real
//! interfaces joined by a wire (closed or open loop), or across two processes; and the bare rtrb floor.

use super::pinger::{pinger, PingerSetup};
use super::ponger::ponger;
use super::{new_hist, LatencyPlan, Measured};
use crate::capture::Recorder;
use crate::config;
use crate::error::AppError;
use crate::frame;
use crate::fwd::worker::Strip;
use crate::ports;
use pktloop_engine::lcore;
use pktloop_engine::time::now_ns;
use pktloop_engine::Port;
use std::time::Duration;

/// The pinger's figures, buffers leaked, and the capture's frames written (or why the capture failed: the
/// run's figures are reported all the same).
pub(super) type PingPongRun = (Measured, usize, Result<Option<u64>, AppError>);

/// Runs the ping-pong across the plan's ports.
pub(super) fn run_pingpong(plan: &LatencyPlan) -> Result<PingPongRun, AppError> {
    let mut set = match &plan.wire {
        None => ports::feth_pairs(&plan.feth, plan.mtu, 1)?,
        Some(list) => {
            ports::list_ports(list, &plan.feth, &Default::default(), plan.mtu, (plan.pkt_len, None), outside(plan))?
        }
    };
    ports::check_room(&set, 0..set.ports.len(), ("pkt-len", &plan.pkt_len.to_string()), plan.pkt_len)?;
    let mut recorder = match &plan.pcap {
        Some(spec) => {
            let max_frame = config::max_frame_with(plan.mtu, Some(&plan.feth)) + plan.feth.trailer_length as usize + 4;
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
        let setup = PingerSetup { port: pinger_port, template, rate, warm_ns, hist, tap: ping_tap };
        pinger(ctx, setup, &pools)
    })
    .map_err(|e| AppError::runtime(format!("cannot start the pinger: {e}")))?;
    crate::interrupt::sleep_until(std::time::Instant::now() + duration);
    ping.stop();
    let ((measured, pinger_port), _) = ping.join().map_err(|_| AppError::runtime("the pinger panicked"))?;
    let ponger_port = match pong {
        Some(pong) => Some(pong.join().map_err(|_| AppError::runtime("the ponger panicked"))?.0),
        None => None,
    };
    let written = writer.map(|w| w.finish().map(|c| c.written)).transpose();
    drop((pinger_port, ponger_port));
    let hot_allocations = pktloop_engine::hot::hot_allocations() - hot_before;
    // Read after the ports went away: frames still in flight were dropped then, and are counted.
    let drops = crate::stats::drops_of(set.info.iter().map(|p| p.counters.snapshot()));
    let feth = set.info.iter().filter_map(|p| p.feth.as_ref().and_then(|(h, q)| h.queue_feth_stats(*q)));
    let no_room = feth.fold((0, 0), |(f, t), s| (f + s.fcs_failed, t + s.trailer_failed));
    let measured = Measured { backing: set.backing(), hot_allocations, drops, no_room, ..measured };
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
    let mut set =
        ports::list_ports(list, &plan.feth, &Default::default(), plan.mtu, (plan.pkt_len, None), outside(plan))?;
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
            drops: [0; pktloop_engine::port::DropReason::COUNT],
            no_room: (0, 0),
        }
    })
    .map_err(|e| AppError::runtime(format!("cannot start the rtrb pinger: {e}")))?;
    crate::interrupt::sleep_until(std::time::Instant::now() + duration);
    ping.stop();
    let (m, _) = ping.join().map_err(|_| AppError::runtime("the rtrb pinger panicked"))?;
    echo.join().map_err(|_| AppError::runtime("the rtrb ponger panicked"))?;
    Ok(m)
}
