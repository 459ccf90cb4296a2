//! Lcores: worker threads pinned to cores with core_affinity, each running a poll loop until stopped.
//!
//! [`plan`] maps the requested worker count onto the cores that exist (with a warning, not a failure, when
//! there are fewer); [`spawn`] starts one pinned worker and reports which core it got.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

/// Where the workers go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorePlan {
    /// Core id for each worker, in order (cores are reused round-robin when there are too few).
    pub cores: Vec<usize>,
    /// Cores that exist.
    pub available: usize,
    /// Set when fewer cores exist than workers asked for.
    pub warning: Option<String>,
}

/// The ids of the cores this process may run on (its affinity mask), in order; core 0 where the mask
/// cannot be read.
pub fn allowed_cores() -> Vec<usize> {
    let ids: Vec<usize> = core_affinity::get_core_ids().unwrap_or_default().into_iter().map(|c| c.id).collect();
    if ids.is_empty() {
        vec![0]
    } else {
        ids
    }
}

/// Plans `workers` pinned workers over the cores this process may run on.
pub fn plan(workers: usize) -> CorePlan {
    let ids = allowed_cores();
    let cores = (0..workers).map(|i| ids[i % ids.len()]).collect();
    let warning = (workers > ids.len()).then(|| {
        format!(
            "{workers} workers and only {} cores to run on: workers share cores, expect lower and noisier figures",
            ids.len()
        )
    });
    if let Some(w) = &warning {
        log::warn!("{w}");
    }
    CorePlan { cores, available: ids.len(), warning }
}

/// What a worker sees: whether to keep polling, and where it runs.
#[derive(Debug, Clone)]
pub struct LcoreCtx {
    stop: Arc<AtomicBool>,
    /// Worker index in its group.
    pub index: usize,
    /// The core asked for.
    pub core: usize,
    /// Whether pinning succeeded.
    pub pinned: bool,
}

impl LcoreCtx {
    /// True until the worker is asked to stop (one relaxed load: cheap enough for every poll).
    #[inline]
    pub fn running(&self) -> bool {
        !self.stop.load(Ordering::Relaxed)
    }

    /// Runs `poll` until stopped (run to completion: one poll = one pass over the worker's queues).
    pub fn run(&self, mut poll: impl FnMut()) {
        while self.running() {
            poll();
        }
    }
}

/// A running worker.
#[derive(Debug)]
pub struct Lcore<R> {
    handle: JoinHandle<(R, bool)>,
    stop: Arc<AtomicBool>,
    core: usize,
}

/// Starts worker `index` on `core`, named `name`, running `body` (which should poll while
/// [`LcoreCtx::running`]). The worker pins itself before `body` starts.
///
/// # Errors
/// The OS refused to create the thread.
pub fn spawn<R, F>(name: &str, index: usize, core: usize, body: F) -> std::io::Result<Lcore<R>>
where
    R: Send + 'static,
    F: FnOnce(&LcoreCtx) -> R + Send + 'static,
{
    let stop = Arc::new(AtomicBool::new(false));
    let ctx_stop = stop.clone();
    let handle = std::thread::Builder::new().name(name.to_owned()).spawn(move || {
        let pinned = core_affinity::set_for_current(core_affinity::CoreId { id: core });
        if !pinned {
            log::warn!("lcore {index}: could not pin to core {core}; running unpinned");
        }
        let ctx = LcoreCtx { stop: ctx_stop, index, core, pinned };
        (body(&ctx), pinned)
    })?;
    Ok(Lcore { handle, stop, core })
}

impl<R> Lcore<R> {
    /// The core the worker was placed on.
    pub fn core(&self) -> usize {
        self.core
    }

    /// Asks the worker to stop after its current poll.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }

    /// A handle that stops this worker from elsewhere.
    pub fn stopper(&self) -> Arc<AtomicBool> {
        self.stop.clone()
    }

    /// Stops the worker and waits for it; returns its result and whether it was pinned.
    ///
    /// # Errors
    /// The worker panicked (the panic payload is returned).
    pub fn join(self) -> std::thread::Result<(R, bool)> {
        self.stop();
        self.handle.join()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_reuses_cores_and_warns_when_short() {
        let n = plan(1).available;
        let p = plan(n + 1);
        assert_eq!(p.cores.len(), n + 1);
        assert_eq!(p.cores[n], p.cores[0]);
        assert!(p.warning.unwrap().contains(&format!("{} workers and only {n} cores", n + 1)));
        assert!(plan(n).warning.is_none());
    }

    #[test]
    fn workers_poll_until_stopped_and_report_their_core() {
        let p = plan(2);
        let workers: Vec<_> = p
            .cores
            .iter()
            .enumerate()
            .map(|(i, &c)| {
                spawn(&format!("w{i}"), i, c, |ctx| {
                    let mut polls = 0u64;
                    ctx.run(|| polls += 1);
                    (polls, ctx.core)
                })
                .unwrap()
            })
            .collect();
        std::thread::sleep(std::time::Duration::from_millis(20));
        for (w, &core) in workers.into_iter().zip(&p.cores) {
            assert_eq!(w.core(), core);
            let ((polls, seen_core), _pinned) = w.join().unwrap();
            assert!(polls > 0);
            assert_eq!(seen_core, core);
        }
    }
}
