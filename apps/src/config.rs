//! `--config FILE.toml` and the checks that turn flags into engine settings.
//!
//! The file's keys are the flag names without `--` (`mode = "macswap"`, `pool-mode = "split"`, `fcs = true`).
//! Each key becomes a `--key=value` flag placed before the command line's flags, so the command line wins and
//! the file gets exactly the flags' checks; its errors are reported against the file.

use crate::cli::{FethArgs, MemoryArg, PoolModeArg, RxFullArg, TxCompletionArg};
use crate::error::AppError;
use pktloop_engine::mem::Prefer;
use pktloop_engine::pool::PoolMode;
use pktloop_engine::KnobError;
use pktloop_pmd::feth::config::{LLINK_CNT_MAX, QSET_CNT_DEFAULT, QSET_CNT_MAX};
use pktloop_pmd::feth::{FethConfig, RxFullPolicy, TxCompletion};
use std::ffi::OsString;
use std::path::Path;

/// The longest config file read: settings take a few lines, so more is a mistake (a device, a capture).
const CONFIG_MAX_BYTES: u64 = 1 << 20;

/// Reads `path` and returns its settings as flags.
///
/// # Errors
/// Unreadable file, malformed TOML, or a value that is not a string, number or boolean (one line each).
pub fn file_flags(path: &Path) -> Result<Vec<OsString>, AppError> {
    let shown = path.display();
    let bad = |why: String| AppError::usage(format!("invalid --config {shown}: {why}"));
    let data = crate::files::read_at_most(path, CONFIG_MAX_BYTES, "a config file").map_err(bad)?;
    let text = String::from_utf8(data).map_err(|_| bad("it is not UTF-8 text".to_owned()))?;
    text_flags(&text, &shown.to_string())
}

/// The settings of a config file's `text` as flags; `shown` names the file in errors.
///
/// # Errors
/// Malformed TOML, or a key or value that is not a setting (one line each).
pub fn text_flags(text: &str, shown: &str) -> Result<Vec<OsString>, AppError> {
    let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
        let at = e.span().map(|s| line_col(text, s.start)).map(|(l, c)| format!(" at line {l} column {c}"));
        AppError::usage(format!(
            "invalid --config {shown}{}: {}",
            at.unwrap_or_default(),
            e.message().replace('\n', " ")
        ))
    })?;
    let mut flags = Vec::new();
    for (key, value) in table {
        if matches!(key.as_str(), "help" | "version") {
            return Err(AppError::usage(format!(
                "invalid --config {shown}: key `{key}` is not a setting; valid keys are the flags of the command"
            )));
        }
        if key == "config" {
            return Err(AppError::usage(format!("invalid --config {shown}: key `config` cannot nest config files")));
        }
        // A flag given more than once on the command line (`--filter`) is a list in a file.
        let values = match value {
            toml::Value::Array(items) if repeatable(&key) => items,
            toml::Value::Array(_) => {
                return Err(AppError::usage(format!(
                    "invalid --config {shown}: key `{key}` is an array: valid is a string, number or boolean (a \
                     list only for a flag that may be given more than once, such as filter)"
                )))
            }
            one => vec![one],
        };
        for value in values {
            flags.push(
                setting_flag(&key, value).map_err(|why| AppError::usage(format!("invalid --config {shown}: {why}")))?,
            );
        }
    }
    Ok(flags)
}

/// One setting as its flag.
fn setting_flag(key: &str, value: toml::Value) -> Result<OsString, String> {
    let flag = match value {
        toml::Value::Boolean(true) => format!("--{key}"),
        toml::Value::Boolean(false) => format!("--{key}=off"),
        toml::Value::String(s) => format!("--{key}={s}"),
        toml::Value::Integer(i) => format!("--{key}={i}"),
        // Debug keeps the file's own spelling of large and small numbers (1e30, not 31 digits).
        toml::Value::Float(f) => format!("--{key}={f:?}"),
        other => {
            let kind = other.type_str();
            let article = if kind.starts_with(['a', 'e', 'i', 'o', 'u']) { "an" } else { "a" };
            return Err(format!("key `{key}` is {article} {kind}: valid is a string, number or boolean"));
        }
    };
    Ok(flag.into())
}

/// Whether `--key` may be given more than once (each adds a value).
fn repeatable(key: &str) -> bool {
    use clap::CommandFactory;
    let cmd = crate::cli::Cli::command();
    let mut args = cmd.get_subcommands().flat_map(|c| c.get_arguments());
    args.any(|a| a.get_long() == Some(key) && matches!(a.get_action(), clap::ArgAction::Append))
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
    (line, col)
}

/// A flag's integer value checked against `lo..=hi` (for values the engine types cannot even hold).
pub fn int_in(flag: &'static str, value: i64, lo: i64, hi: i64, valid: &'static str) -> Result<i64, AppError> {
    if (lo..=hi).contains(&value) {
        Ok(value)
    } else {
        Err(KnobError::new(flag, value, valid).into())
    }
}

fn u32_knob(flag: &'static str, value: Option<i64>, default: u32, valid: &'static str) -> Result<u32, AppError> {
    match value {
        None => Ok(default),
        Some(v) => u32::try_from(v).map_err(|_| KnobError::new(flag, v, valid).into()),
    }
}

/// The valid values of the feth knobs that are not one range, as feth's own checks say them (and the
/// parse errors of their flags, `args`).
pub use pktloop_pmd::feth::{TX_EXP_POLICY_VALID, TX_HEADROOM_VALID, USER_ACCESS_VALID};

/// Builds the feth knobs from the flags (unset ones keep the feth defaults) and validates them.
///
/// # Errors
/// The first knob out of range, naming the flag, the value and the valid range.
pub fn feth_config(a: &FethArgs) -> Result<FethConfig, AppError> {
    let d = FethConfig::default();
    let ring = a.ring_size.unwrap_or(d.ring_size as i64);
    let ring_valid = "a power of two in 2..=16777216";
    let c = FethConfig {
        pool_mode: match a.pool_mode {
            None => d.pool_mode,
            Some(PoolModeArg::Global) => PoolMode::Global,
            Some(PoolModeArg::Private) => PoolMode::Private,
            Some(PoolModeArg::Split) => PoolMode::PrivateSplit,
        },
        multibuflet: a.multibuflet.unwrap_or(d.multibuflet),
        wmm: a.wmm.unwrap_or(d.wmm),
        fcs: a.fcs.unwrap_or(d.fcs),
        hwcsum: a.hwcsum.unwrap_or(d.hwcsum),
        tx_headroom: u32_knob("tx-headroom", a.tx_headroom, d.tx_headroom, TX_HEADROOM_VALID)?,
        trailer_length: u32_knob("trailer-length", a.trailer_length, d.trailer_length, "0..=28")?,
        max_mtu: u32_knob("max-mtu", a.max_mtu, d.max_mtu, "1500..=16370")?,
        buflet_size: u32_knob("buflet-size", a.buflet_size, d.buflet_size, "a power of two in 512..=32768")?,
        aggregation_factor: u32_knob("aggregation-factor", a.aggregation_factor, d.aggregation_factor, "1..=512")?,
        user_access: u32_knob("user-access", a.user_access, d.user_access, USER_ACCESS_VALID)?,
        adv_interval_ms: u32_knob(
            "adv-interval-ms",
            a.adv_interval_ms,
            d.adv_interval_ms,
            "0 (off) or 10..=2147483647",
        )?,
        tx_drops: u32_knob("tx-drops", a.tx_drops, d.tx_drops, "0 (off)..=2147483647")?,
        tx_exp_policy: u32_knob("tx-exp-policy", a.tx_exp_policy, d.tx_exp_policy, TX_EXP_POLICY_VALID)?,
        tx_completion: match a.tx_completion {
            None => d.tx_completion,
            Some(TxCompletionArg::Sync) => TxCompletion::Sync,
            Some(TxCompletionArg::Async) => TxCompletion::Async,
        },
        ring_size: usize::try_from(ring).map_err(|_| AppError::from(KnobError::new("ring-size", ring, ring_valid)))?,
        pool_packets: u32_knob("pool-size", a.pool_size, default_pool(a)?, "1..=1048576")?,
        rx_full: match a.rx_full {
            None => d.rx_full,
            Some(RxFullArg::Retry) => RxFullPolicy::Retry,
            Some(RxFullArg::Drop) => RxFullPolicy::Drop,
        },
        prefer: prefer(a.memory),
        queues: queues(a)?,
        rss: a.rss.unwrap_or(d.rss),
        lro: a.lro.unwrap_or(d.lro),
        tso: a.tso.unwrap_or(d.tso),
        tso_buf_size: u32_knob("tso-buf-size", a.tso_buf_size, d.tso_buf_size, "a power of two in 512..=32768")?,
        low_latency: a.low_latency.unwrap_or(d.low_latency),
        llink_cnt: u32_knob("llink-cnt", a.llink_cnt, d.llink_cnt, "0 (off)..=16")?,
        qset_cnt: u32_knob("qset-cnt", a.qset_cnt, d.qset_cnt, "1..=16")?,
    };
    check_knob_pairs(a, &c)?;
    c.validate()?;
    check_pool_buffers(&c)?;
    Ok(c)
}

/// With split pools a received frame is copied into one aggregation buffer of the receiver's, after the
/// sender's headroom: frames longer than that can never be delivered, so such a run is refused.
///
/// # Errors
/// `frame_len` + tx-headroom beyond aggregation-factor KiB.
pub fn check_split_room(c: &FethConfig, frame_len: usize) -> Result<(), AppError> {
    let agg = c.aggregation_factor as usize * 1024;
    if c.pool_mode != PoolMode::PrivateSplit || frame_len + c.tx_headroom as usize <= agg {
        return Ok(());
    }
    Err(AppError::usage(format!(
        "invalid --aggregation-factor {} with --pool-mode split and {frame_len} B frames: a received frame is copied \
         into one {agg} B aggregation buffer after {} B of headroom, so none could ever be delivered; valid is \
         --aggregation-factor >= {}, or frames of at most {} B",
        c.aggregation_factor,
        c.tx_headroom,
        (frame_len + c.tx_headroom as usize).div_ceil(1024),
        agg.saturating_sub(c.tx_headroom as usize)
    )))
}

/// Most buffers one pool may have (the engine's limit).
const MAX_POOL_BUFFERS: u64 = 16_777_216;

/// A multi-buflet pool has `pool-size` x ceil(max-mtu / buflet size) buffers (the buflet size TSO's buffer
/// size with `--tso`): that must stay within the engine's limit, said in the flags the user gave.
fn check_pool_buffers(c: &FethConfig) -> Result<(), AppError> {
    if !c.multibuflet {
        return Ok(());
    }
    let per_packet = u64::from(c.pool_spec().max_buflets());
    let buffers = u64::from(c.pool_packets) * per_packet;
    if buffers <= MAX_POOL_BUFFERS {
        return Ok(());
    }
    let buflets = match c.tso {
        true => format!("--tso --tso-buf-size {}", c.tso_buf_size),
        false => format!("--buflet-size {}", c.buflet_size),
    };
    Err(AppError::usage(format!(
        "invalid --pool-size {} with --multibuflet --max-mtu {} {buflets}: each packet chains {per_packet} buflets, \
         {buffers} buffers in all; valid is --pool-size <= {}",
        c.pool_packets,
        c.max_mtu,
        MAX_POOL_BUFFERS / per_packet
    )))
}

/// The flags that gave a port its queue pairs, as an error says them: `--rxq N`, or the logical links.
pub fn queue_flags(c: &FethConfig) -> String {
    if c.llink_cnt > 0 {
        format!("--llink-cnt {} --qset-cnt {}", c.llink_cnt, c.qset_cnt)
    } else {
        format!("--rxq {}", c.queues)
    }
}

/// The flags whose product is a port's queue pairs, as an error's valid values say them.
pub fn queue_product(c: &FethConfig) -> &'static str {
    if c.llink_cnt > 0 {
        "--llink-cnt x --qset-cnt"
    } else {
        "--rxq"
    }
}

/// The flags that give a port one queue pair, as an error's valid values say them.
pub fn one_queue_pair(c: &FethConfig) -> &'static str {
    if c.llink_cnt > 0 {
        "--llink-cnt 0, or 1 with --qset-cnt 1"
    } else {
        "--rxq 1"
    }
}

/// Knobs that exclude one another, said in the flags given (feth's own checks name its knobs, not these
/// flags): TSO with pools other than global, and `--rxq`/`--txq` or `--rss` beside logical links, which make
/// a port's queues. Counts out of range are left to their own checks, which say so.
fn check_knob_pairs(a: &FethArgs, c: &FethConfig) -> Result<(), AppError> {
    if c.tso && c.pool_mode != PoolMode::Global {
        return Err(AppError::usage(format!(
            "invalid --tso with --pool-mode {}: TSO needs global pools, as Apple's; valid is --tso=off or \
             --pool-mode global",
            c.pool_mode.as_str()
        )));
    }
    if c.llink_cnt == 0 || c.llink_cnt > LLINK_CNT_MAX || !(1..=QSET_CNT_MAX).contains(&c.qset_cnt) {
        return Ok(());
    }
    let links =
        format!("--llink-cnt {} (the links make the queues: {} x --qset-cnt {})", c.llink_cnt, c.llink_cnt, c.qset_cnt);
    if let Some((flag, v)) =
        [("rxq", a.rxq), ("txq", a.txq)].into_iter().find_map(|(f, v)| v.filter(|&v| v != 1).map(|v| (f, v)))
    {
        return Err(AppError::usage(format!("invalid --{flag} {v} with {links}; valid is --{flag} 1")));
    }
    if c.rss {
        return Err(AppError::usage(format!(
            "invalid --rss with {links}: tx queue (link, set) crosses to the peer's rx queue (link, set); valid is --rss=off"
        )));
    }
    Ok(())
}

/// The feth knobs that act on a feth pair only (its crossing rings, offloads, tx and rx behaviours), as
/// (flag, its value when given, why) when `feth_pair` is false: null, TAP, shm ports and real interfaces
/// take the pool knobs only. Switches count as given when on (`--fcs=off` asks for what every port does).
pub fn feth_pair_only(f: &FethArgs, feth_pair: bool) -> Vec<(&'static str, Option<String>, &'static str)> {
    if feth_pair {
        return Vec::new();
    }
    let on = |v: Option<bool>| v.filter(|&on| on).map(|_| "on".to_owned());
    let number = |v: Option<i64>| v.map(|v| v.to_string());
    let why = "a feth pair's knob, and no port of this run is one; valid with --port feth";
    [
        ("ring-size", number(f.ring_size)),
        ("rss", on(f.rss)),
        ("wmm", on(f.wmm)),
        ("fcs", on(f.fcs)),
        ("hwcsum", on(f.hwcsum)),
        ("trailer-length", number(f.trailer_length)),
        ("user-access", number(f.user_access)),
        ("adv-interval-ms", number(f.adv_interval_ms)),
        ("tx-drops", number(f.tx_drops)),
        ("tx-exp-policy", number(f.tx_exp_policy)),
        ("tx-completion", f.tx_completion.and_then(|v| crate::cli::choice_name(&v))),
        ("rx-full", f.rx_full.and_then(|v| crate::cli::choice_name(&v))),
        ("lro", on(f.lro)),
        ("tso", on(f.tso)),
        ("llink-cnt", number(f.llink_cnt)),
    ]
    .into_iter()
    .map(|(flag, value)| (flag, value, why))
    .collect()
}

/// Flags that mean nothing without another, fwd's and latency's alike, as (flag, its value when given
/// without the one it needs, why): TSO's buflet size without TSO, queue sets without logical links, an
/// AF_XDP mode without an AF_XDP port (`afxdp`).
pub fn needing_another(
    f: &FethArgs,
    xdp: Option<crate::cli::XdpModeArg>,
    afxdp: bool,
) -> [(&'static str, Option<String>, &'static str); 3] {
    [
        (
            "tso-buf-size",
            f.tso_buf_size.map(|v| v.to_string()).filter(|_| !f.tso.unwrap_or(false)),
            "it sizes TSO's buflets; valid with --tso",
        ),
        (
            "qset-cnt",
            f.qset_cnt.map(|v| v.to_string()).filter(|_| f.llink_cnt.unwrap_or(0) < 1),
            "it sets each logical link's queue sets and there are none; valid with --llink-cnt 1 or more",
        ),
        (
            "xdp-mode",
            xdp.and_then(|v| crate::cli::choice_name(&v)).filter(|_| !afxdp),
            "valid with an AF_XDP port (--port afxdp:IFNAME)",
        ),
    ]
}

/// Packets per pool when `--pool-size` is not given: the feth default per crossing ring each port feeds
/// (one per queue, one per pair of queues with RSS), so that more queues meet back-pressure, not empty
/// pools.
fn default_pool(a: &FethArgs) -> Result<u32, AppError> {
    let rings = match a.llink_cnt.filter(|&n| n > 0) {
        // One ring per queue set, at most as many as 8 queues with RSS make (65536 packets): 256 sets'
        // worth would be 512 MiB a pool. Counts out of range are refused by their own checks.
        Some(links) => links.saturating_mul(a.qset_cnt.unwrap_or(i64::from(QSET_CNT_DEFAULT))).clamp(1, 64) as u32,
        None => {
            let q = queues(a)? as u32;
            if a.rss.unwrap_or(false) {
                q * q
            } else {
                q
            }
        }
    };
    Ok(FethConfig::default().pool_packets * rings)
}

/// Queue pairs per feth port from `--rxq` and `--txq` (queue pairs: both the same).
fn queues(a: &FethArgs) -> Result<usize, AppError> {
    let max = pktloop_pmd::feth::config::QUEUES_MAX as i64;
    let rxq = a.rxq.map(|v| int_in("rxq", v, 1, max, "1..=8")).transpose()?;
    let txq = a.txq.map(|v| int_in("txq", v, 1, max, "1..=8")).transpose()?;
    match (rxq, txq) {
        (Some(r), Some(t)) if r != t => Err(AppError::usage(format!(
            "invalid --txq {t} with --rxq {r}: feth queues come in pairs; valid is --txq {r}"
        ))),
        (r, t) => Ok(r.or(t).unwrap_or(1) as usize),
    }
}

/// Pool memory preference from `--memory` (the engine's default when unset).
pub fn prefer(m: Option<MemoryArg>) -> Prefer {
    match m {
        Some(MemoryArg::Normal) => Prefer::Normal,
        Some(MemoryArg::Hugepage) | None => Prefer::Hugepage,
    }
}

/// `--duration` checked: 0.1..=86400 seconds.
pub fn duration(flag: &'static str, secs: f64, max: f64) -> Result<std::time::Duration, AppError> {
    if secs.is_finite() && (0.1..=max).contains(&secs) {
        Ok(std::time::Duration::from_secs_f64(secs))
    } else {
        Err(AppError::usage(format!("invalid --{flag} {secs}: valid is 0.1..={max} seconds")))
    }
}

/// Creates output file `path` for `--flag` now, so a bad path is a usage error before the run, not after.
///
/// # Errors
/// The file cannot be created.
pub fn create_output(flag: &str, path: &Path) -> Result<std::fs::File, AppError> {
    std::fs::File::create(path)
        .map_err(|e| AppError::usage(format!("invalid --{flag} {}: cannot create it: {e}", path.display())))
}

/// `--mtu` checked against 72..=max-mtu (1500 when unset, as a new feth interface has).
pub fn mtu(value: Option<i64>, c: &FethConfig) -> Result<u32, AppError> {
    let v = value.unwrap_or(1500);
    let max = i64::from(c.max_mtu);
    if (i64::from(pktloop_pmd::feth::config::MIN_MTU)..=max).contains(&v) {
        Ok(v as u32)
    } else {
        Err(AppError::usage(format!("invalid --mtu {v}: valid is 72..={max} (max-mtu)")))
    }
}

/// Largest frame a feth port sends at `mtu`: the MTU plus header and FCS or VLAN room (18).
pub fn max_frame(mtu: u32) -> usize {
    mtu as usize + pktloop_pmd::feth::port::FRAME_OVERHEAD
}

/// Largest frame sent at `mtu` by ports that are a feth pair with knobs `feth` (None: other ports, which
/// have no TSO): [`max_frame`], or with TSO a frame up to TSO's MTU plus its Ethernet header, as long as a
/// packet of the pool holds.
pub fn max_frame_with(mtu: u32, feth: Option<&FethConfig>) -> usize {
    let plain = max_frame(mtu);
    let Some(c) = feth.filter(|c| c.tso) else { return plain };
    let spec = c.pool_spec();
    let room = (spec.tx_buffer_size() * u32::from(spec.max_buflets())).saturating_sub(c.tx_headroom) as usize;
    let overhead = pktloop_pmd::feth::port::FRAME_OVERHEAD as u32;
    c.frame_limit(mtu, overhead).min(room).max(plain)
}

/// `--pkt-len` checked against 60..=[`max_frame_with`] (mtu + 18, or more with TSO on a feth pair), for runs
/// whose frames are all one length.
pub fn pkt_len(value: Option<&str>, mtu: u32, feth: Option<&FethConfig>) -> Result<usize, AppError> {
    let text = value.unwrap_or("64");
    let max = max_frame_with(mtu, feth);
    let why = if feth.is_some_and(|c| c.tso) { "TSO".to_owned() } else { format!("mtu {mtu} + 18") };
    match text.trim().parse::<i64>() {
        Ok(v) if (60..=max as i64).contains(&v) => Ok(v as usize),
        _ => Err(AppError::usage(format!("invalid --pkt-len {text}: valid is one length, 60..={max} ({why})"))),
    }
}

/// An IPv4 address with an optional prefix length (`198.18.0.2/24`; 32 when none is given).
///
/// # Errors
/// Anything else, naming the flag and the value.
pub fn ipv4_cidr(flag: &'static str, value: &str) -> Result<([u8; 4], u8), AppError> {
    let bad =
        || AppError::usage(format!("invalid --{flag} {value}: valid is an IPv4 address A.B.C.D or A.B.C.D/0..=32"));
    let (addr, prefix) = match value.split_once('/') {
        Some((a, p)) => (a, p.parse::<u8>().ok().filter(|p| *p <= 32).ok_or_else(bad)?),
        None => (value, 32),
    };
    let ip: std::net::Ipv4Addr = addr.parse().map_err(|_| bad())?;
    Ok((ip.octets(), prefix))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_list_in_a_file_repeats_a_flag_that_may_be_repeated() {
        // Before: `filter = [...]` was refused, so a file could not say what two --filter flags say.
        let flags = text_flags("filter = [\"every=3\", \"ethertype=0x86dd\"]\n", "f.toml").unwrap();
        assert_eq!(flags, [OsString::from("--filter=every=3"), OsString::from("--filter=ethertype=0x86dd")]);
        let e = text_flags("burst = [1, 2]\n", "f.toml").unwrap_err().to_string();
        assert!(e.contains("key `burst` is an array") && e.contains("filter"), "{e}");
        let e = text_flags("filter = [[\"x\"]]\n", "f.toml").unwrap_err().to_string();
        assert!(e.contains("key `filter` is an array: valid is a string"), "{e}");
    }

    #[test]
    fn addresses_take_an_optional_prefix_and_bad_ones_name_the_flag() {
        assert_eq!(ipv4_cidr("ip", "198.18.0.2/24").unwrap(), ([198, 18, 0, 2], 24));
        assert_eq!(ipv4_cidr("ip", "198.18.0.9").unwrap(), ([198, 18, 0, 9], 32));
        for bad in ["198.18.0.2/33", "198.18.0/24", "x", "198.18.0.2/", "1.2.3.4/-1"] {
            let e = ipv4_cidr("ip", bad).unwrap_err().to_string();
            assert!(e.starts_with(&format!("invalid --ip {bad}: valid is")), "{e}");
        }
    }

    #[test]
    fn line_and_column_count_from_one() {
        assert_eq!(line_col("a = 1\nbb = x", 11), (2, 6));
        assert_eq!(line_col("x", 0), (1, 1));
    }

    #[test]
    fn knobs_map_onto_feth_config_and_negative_values_name_the_flag() {
        let a = FethArgs { pool_mode: Some(PoolModeArg::Split), tx_headroom: Some(16), ..FethArgs::default() };
        let c = feth_config(&a).unwrap();
        assert_eq!((c.pool_mode, c.tx_headroom), (PoolMode::PrivateSplit, 16));
        let a = FethArgs { tx_headroom: Some(-8), ..FethArgs::default() };
        assert_eq!(feth_config(&a).unwrap_err().to_string(), "invalid --tx-headroom -8: valid is 0, 8, 16, 24 or 32");
        let a = FethArgs { multibuflet: Some(true), pool_mode: Some(PoolModeArg::Split), ..FethArgs::default() };
        assert!(feth_config(&a)
            .unwrap_err()
            .to_string()
            .starts_with("invalid --multibuflet on: valid is off when pool-mode is split"));
    }
}
