//! The pool scenario: bulk allocation and free of packets on one thread, with its cache.

use super::{Row, Suite};
use crate::error::AppError;
use pktloop_engine::lcore;
use pktloop_engine::mem::Prefer;
use pktloop_engine::packet::free_burst;
use pktloop_engine::port::PacketBurst;
use pktloop_pmd::pools::{PortPoolSpec, PortPools};
use std::time::{Duration, Instant};

/// The pool's row, when the filter selects it.
pub(super) fn rows(suite: &mut Suite) -> Result<(), AppError> {
    if suite.wants("pool alloc/free") {
        suite.emit(Row {
            name: "pool alloc/free bulk 32, 1 core".into(),
            value: pool_alloc_free(suite.secs, suite.prefer)?,
            unit: "Mpkt/s",
            peer: None,
            note: "alloc_bulk(32) + free_burst, thread cache on".into(),
        });
    }
    Ok(())
}

/// Million packets per second through alloc_bulk(32) + free_burst on one thread.
fn pool_alloc_free(secs: Duration, prefer: Prefer) -> Result<f64, AppError> {
    let spec = PortPoolSpec { prefer, ..Default::default() };
    let pools = PortPools::create("bench-pool", &spec).map_err(|e| AppError::runtime(e.to_string()))?;
    let pool = pools.tx.clone();
    let core = lcore::plan(1).cores[0];
    let w = lcore::spawn("pool", 0, core, move |ctx| {
        let mut burst: Box<PacketBurst> = Box::default();
        let mut n = 0u64;
        let start = Instant::now();
        while ctx.running() {
            for _ in 0..64 {
                if pool.alloc_bulk(&mut burst, 32) {
                    n += 32;
                }
                free_burst(&mut burst);
            }
        }
        (n, start.elapsed().as_secs_f64())
    })
    .map_err(|e| AppError::runtime(format!("cannot start a bench thread: {e}")))?;
    crate::interrupt::sleep_until(Instant::now() + secs);
    let ((n, elapsed), _) = w.join().map_err(|_| AppError::runtime("pool bench panicked"))?;
    if pools.in_use() != 0 {
        return Err(AppError::runtime("pool bench leaked buffers"));
    }
    Ok(n as f64 / elapsed / 1e6)
}
