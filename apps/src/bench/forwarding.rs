//! The forwarding scenarios: `pktloop fwd` runs on the feth pair (io, txonly -> rxonly in every pool mode,
//! WMM, from one worker to as many as the cores and feth's queue pairs allow), on the null port, and
//! txonly into the kernel through a TAP interface in a namespace of its own (root only), each checked to
//! leak no buffer.

use super::{Row, Suite};
use crate::cli::{Mode, PortKind, Topology};
use crate::error::AppError;
use crate::fwd::plan::Plan;
use pktloop_engine::pool::PoolMode;
use pktloop_pmd::feth::FethConfig;
use std::time::Duration;

/// Every forwarding scenario the suite's filter selects.
pub(super) fn rows(suite: &mut Suite) -> Result<(), AppError> {
    let io = plan(suite, PortKind::Feth, Mode::Io, 2, 64, PoolMode::Global, false);
    row(suite, "feth io-fwd 64B, 2 cores, tx_first 1".into(), io, "testpmd io + start tx_first over crossed rings")?;
    for (len, multi) in [(64, false), (1518, false), (1518, true)] {
        for pool in [PoolMode::Global, PoolMode::Private, PoolMode::PrivateSplit] {
            if multi && pool == PoolMode::PrivateSplit {
                continue; // refused by feth, as Apple refuses it
            }
            let name =
                format!("feth txonly->rxonly {len}B {}{}", pool.as_str(), if multi { " multibuflet" } else { "" });
            let txonly = plan(suite, PortKind::Feth, Mode::Txonly, 2, len, pool, multi);
            row(suite, name, txonly, "packets received")?;
        }
    }
    let mut wmm = plan(suite, PortKind::Feth, Mode::Txonly, 2, 64, PoolMode::Global, false);
    wmm.feth.wmm = true;
    row(suite, "feth WMM 4->1 txonly->rxonly 64B global".into(), wmm, "generator cycles VO, VI, BE, BK")?;
    let null = plan(suite, PortKind::Null, Mode::Io, 1, 64, PoolMode::Global, false);
    row(suite, "null io-fwd 64B, 1 core".into(), null, "the framework's cost floor")?;
    scaling(suite)?;
    tap(suite)
}

/// TAP throughput: txonly 64 B into the kernel through a TAP interface, made in a network namespace of the
/// run's own so that no interface of the machine's is touched (root: CAP_SYS_ADMIN for the namespace,
/// CAP_NET_ADMIN and /dev/net/tun for the interface). Where those are missing the row is skipped, saying
/// why. (`scripts/bench.sh tap` measures both directions against DPDK's net_tap.)
fn tap(suite: &mut Suite) -> Result<(), AppError> {
    let name = "tap txonly->kernel 64B, 1 core".to_owned();
    if !suite.wants(&name) {
        return Ok(());
    }
    let plan = plan(suite, PortKind::Tap, Mode::Txonly, 1, 64, PoolMode::Global, false);
    // The namespace is the calling thread's, and the workers this thread starts inherit it: a thread of its
    // own leaves the rest of the bench where it was.
    let outcome = std::thread::scope(|s| s.spawn(|| in_private_netns(|| crate::fwd::run(&plan, None))).join());
    match outcome {
        Ok(Ok(run)) => {
            emit_run(suite, name, run?, "frames written to the kernel (io_uring), in a network namespace of its own")
        }
        Ok(Err(why)) => {
            suite.skip(name, why);
            Ok(())
        }
        Err(_) => Err(AppError::runtime(format!("{name}: the run panicked"))),
    }
}

/// Runs `f` in a new network namespace, the calling thread's alone; `Err` says why one could not be made.
fn in_private_netns<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    if !std::path::Path::new("/dev/net/tun").exists() {
        return Err("no /dev/net/tun".to_owned());
    }
    pktloop_pmd::tap::enter_new_netns()
        .map_err(|e| format!("cannot make a network namespace ({e}): needs root (CAP_SYS_ADMIN)"))?;
    Ok(f())
}

/// A forwarding run of `cores` workers at `pkt_len` bytes, otherwise `pktloop fwd`'s defaults.
fn plan(suite: &Suite, port: PortKind, mode: Mode, cores: usize, pkt_len: usize, pool: PoolMode, multi: bool) -> Plan {
    Plan {
        feth: FethConfig { pool_mode: pool, multibuflet: multi, prefer: suite.prefer, ..FethConfig::default() },
        port,
        mode,
        topology: Topology::Loop,
        cores: cores.min(suite.available.max(1)).max(1),
        burst: 32,
        tx_first: 1,
        traffic: crate::gen::settings::Traffic::fixed(pkt_len),
        pairs: 1,
        core_ids: None,
        dial: None,
        expiry_ns: None,
        record_cycles: false,
        pkt_len,
        mtu: 1500,
        duration: suite.secs,
        stats_period: Duration::from_secs(1),
        json: true,
        pcap: None,
        tap: crate::ports::TapPlan::default(),
        list: Vec::new(),
        xdp: Default::default(),
        role: None,
        dlil: None,
    }
}

/// Runs `plan` when the filter selects `name`, and emits its rate.
fn row(suite: &mut Suite, name: String, plan: Plan, note: &str) -> Result<(), AppError> {
    if !suite.wants(&name) {
        return Ok(());
    }
    emit_run(suite, name, crate::fwd::run(&plan, None)?, note)
}

/// Emits the rate of the run `r` as the row `name`, after checking it leaked no buffer.
fn emit_run(suite: &mut Suite, name: String, r: crate::fwd::report::Report, note: &str) -> Result<(), AppError> {
    if r.leaked != 0 {
        return Err(AppError::runtime(format!("{name}: {} buffers leaked", r.leaked)));
    }
    let drops: u64 = r.drops().iter().sum();
    suite.emit(Row {
        name,
        value: r.mpps(),
        unit: "Mpps",
        peer: None,
        note: format!("{note}; {} memory; drops {drops}", r.backing),
    });
    Ok(())
}

/// txonly -> rxonly on one feth queue pair per worker, from one worker to as many as there are cores (at
/// most feth's queue pairs).
fn scaling(suite: &mut Suite) -> Result<(), AppError> {
    for workers in 1..=suite.available.clamp(1, pktloop_pmd::feth::QUEUES_MAX) {
        let name = format!("scaling txonly->rxonly 64B, {workers} worker(s)");
        if !suite.wants(&name) {
            continue;
        }
        let mut scaled = plan(suite, PortKind::Feth, Mode::Txonly, workers, 64, PoolMode::Global, false);
        scaled.feth.queues = workers;
        scaled.feth.pool_packets *= workers as u32;
        let r = crate::fwd::run(&scaled, None)?;
        let cpp = crate::stats::cycles_per_packet(&r.totals, workers, r.secs);
        suite.emit(Row {
            name,
            value: r.mpps(),
            unit: "Mpps",
            peer: None,
            note: format!(
                "one feth queue pair per worker (generate on one port's queue, receive on the other's); per worker \
                 {:.1} Mpps, {:.1} core cycles per packet",
                r.mpps() / workers as f64,
                cpp.map_or(0.0, |c| c.value)
            ),
        });
    }
    Ok(())
}
