//! The latency scenario: the feth pair's ping-pong round trip, p50 and p99.9, against a bare two-ring
//! ping-pong over rtrb in the same run.

use super::{Row, Suite};
use crate::error::AppError;
use crate::latency::{measure, rtrb_pingpong, LatencyPlan};
use pktloop_pmd::feth::FethConfig;

/// The feth pair's ping-pong round trip against a bare two-ring ping-pong over rtrb.
pub(super) fn rows(suite: &mut Suite) -> Result<(), AppError> {
    if !suite.wants("latency") {
        return Ok(());
    }
    let lp = LatencyPlan {
        feth: FethConfig { prefer: suite.prefer, ..FethConfig::default() },
        pkt_len: 64,
        mtu: 1500,
        duration: suite.secs,
        rate: 0,
        peer: true,
        pcap: None,
        wire: None,
        xdp: Default::default(),
        role: None,
    };
    let feth = measure(&lp)?;
    let rtrb = rtrb_pingpong(suite.secs)?;
    for (label, q) in [("p50", 0.5), ("p99.9", 0.999)] {
        suite.emit(Row {
            name: format!("latency ping-pong 64B {label} round trip"),
            value: feth.hist.value_at_quantile(q) as f64,
            unit: "ns",
            peer: Some(("rtrb two-ring ping-pong".into(), rtrb.hist.value_at_quantile(q) as f64)),
            note: format!("{} samples closed loop", feth.hist.len()),
        });
    }
    Ok(())
}
