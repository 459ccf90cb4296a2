//! The ponger: sends every frame back as it came, less what feth appended (its trailer and FCS).

use super::thread::{hot_section, tap_burst};
use crate::fwd::worker::Strip;
use pktloop_engine::capture::{Direction, Tap};
use pktloop_engine::lcore::LcoreCtx;
use pktloop_engine::packet::free_burst;
use pktloop_engine::port::{DropReason, PacketBurst, PortCounters};
use pktloop_engine::time::now_ns;
use pktloop_engine::{Pool, Port};

/// Echoes until the lcore is stopped; returns the port.
pub(super) fn ponger(
    ctx: &LcoreCtx,
    mut port: Box<dyn Port>,
    mut tap: Option<Tap>,
    strip: Strip,
    pools: &[Pool],
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
    // Frames received but not yet echoed when the run stopped (the pinger's ring was full): the pinger
    // counted them sent, so they are counted dropped, as frames a port still held at teardown are.
    PortCounters::drop(port.counters(), DropReason::Detached, burst.len() as u64);
    free_burst(&mut burst);
    port
}
