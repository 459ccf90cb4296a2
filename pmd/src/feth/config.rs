//! feth knobs (reference section 6): defaults, ranges and the errors that name them.
//!
//! Apple keeps these as global sysctls read when an interface is created; pktloop keeps them per pair in a
//! [`FethConfig`] handed to [`super::create`] / [`super::pair`]. Every knob is checked by
//! [`FethConfig::validate`], whose error names the knob, the value and the valid range.

use crate::pools::PortPoolSpec;
use pktloop_engine::error::{check_power_of_two, check_range};
use pktloop_engine::mem::Prefer;
use pktloop_engine::pool::PoolMode;
use pktloop_engine::KnobError;

/// Largest `tx_headroom` (Apple's `FETH_TX_HEADROOM_MAX`).
pub const TX_HEADROOM_MAX: u32 = 32;
/// Largest `trailer_length` (Apple's `FETH_TRAILER_LENGTH_MAX`).
pub const TRAILER_LENGTH_MAX: u32 = 28;
/// Smallest `max_mtu` (`ETHERMTU`).
pub const MAX_MTU_MIN: u32 = 1500;
/// Largest `max_mtu`: a 16 KiB cluster minus the Ethernet header.
pub const MAX_MTU_MAX: u32 = 16 * 1024 - 14;
/// Smallest MTU an interface may be set to (`IF_MINMTU`).
pub const MIN_MTU: u32 = 72;
/// Smallest and largest `buflet_size`.
pub const BUFLET_SIZE_RANGE: (u32, u32) = (512, 32 * 1024);
/// Largest aggregation factor (KiB per split-mode rx buffer).
pub const AGGREGATION_FACTOR_MAX: u32 = 512;
/// Smallest nonzero advisory interval, milliseconds.
pub const ADV_INTERVAL_MIN_MS: u32 = 10;
/// Largest crossing ring.
pub const RING_SIZE_MAX: usize = 1 << 24;
/// Largest pool (packets).
pub const POOL_PACKETS_MAX: u32 = 1 << 20;
/// Most queue pairs of one interface (knob `queues`).
pub const QUEUES_MAX: usize = 8;
/// Most logical links (Apple's `FETH_MAX_LLINKS`).
pub const LLINK_CNT_MAX: u32 = 16;
/// Most queue sets per logical link (Apple's `FETH_MAX_QSETS`).
pub const QSET_CNT_MAX: u32 = 16;
/// Queue sets per logical link by default (Apple's `FETH_DEF_QSETS`).
pub const QSET_CNT_DEFAULT: u32 = 4;
/// The TSO buffer size by default (Apple's `if_fake_tso_buffer_size`).
pub const TSO_BUF_SIZE_DEFAULT: u32 = 16 * 1024;
/// Bytes of an Ethernet header, which a TSO frame carries on top of its TSO MTU.
const ETHER_HEADER: u32 = 14;
/// The trailer text; a trailer of length N is its first N bytes.
pub const TRAILER: &[u8; 28] = b"trailertrailertrailertrailer";

/// When a sender learns the fate of its packets (knob `tx-completion`, Apple's `tx_completion_mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum TxCompletion {
    /// 0: statuses are kept in the port's completion queue, drained with [`super::Feth::take_completions`].
    #[default]
    Sync,
    /// 1: every status is published as an [`pktloop_engine::port::EventKind::TxStatus`] event.
    Async,
}

impl TxCompletion {
    /// From the knob's integer value (0 sync, 1 async).
    pub fn from_knob(value: i64) -> Result<TxCompletion, KnobError> {
        match value {
            0 => Ok(TxCompletion::Sync),
            1 => Ok(TxCompletion::Async),
            _ => Err(KnobError::new("tx-completion", value, "0 (sync) or 1 (async)")),
        }
    }

    /// Name as the CLI writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            TxCompletion::Sync => "sync",
            TxCompletion::Async => "async",
        }
    }
}

/// What a sender does when its peer's rx ring is full (pktloop addition: Apple frees them silently).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum RxFullPolicy {
    /// Back-pressure (default): the packets stay with the sender and are retried on the next poll.
    #[default]
    Retry,
    /// Drop them, counted under [`pktloop_engine::port::DropReason::RxRingFull`].
    Drop,
}

impl RxFullPolicy {
    /// From the knob's integer value (0 retry, 1 drop).
    pub fn from_knob(value: i64) -> Result<RxFullPolicy, KnobError> {
        match value {
            0 => Ok(RxFullPolicy::Retry),
            1 => Ok(RxFullPolicy::Drop),
            _ => Err(KnobError::new("rx-full", value, "0 (retry) or 1 (drop)")),
        }
    }

    /// Name as the CLI writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            RxFullPolicy::Retry => "retry",
            RxFullPolicy::Drop => "drop",
        }
    }
}

/// The valid values of `tx_headroom` (the knobs that are not one range, as their errors say them).
pub const TX_HEADROOM_VALID: &str = "0, 8, 16, 24 or 32";
/// The valid values of `user_access`.
pub const USER_ACCESS_VALID: &str = "0 or 1";
/// The valid values of `tx_exp_policy`, after the feth reference.
pub const TX_EXP_POLICY_VALID: &str = "0 (none), 1 (drop and notify), 2 (notify only) or 3 (the packet's own action)";

/// Every knob of a feth pair. `Default` gives Apple's defaults (reference section 6) plus pktloop's own:
/// 1024-slot crossing rings, 1024-packet pools, back-pressure on a full rx ring, hugepages when reserved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FethConfig {
    /// `pool-mode`: global (0), private (1) or private split (2).
    pub pool_mode: PoolMode,
    /// `multibuflet`: packets chain `ceil(max_mtu / buflet_size)` buflets (not with split pools).
    pub multibuflet: bool,
    /// `wmm`: 4 tx rings (VO, VI, BE, BK) into the peer's single rx ring.
    pub wmm: bool,
    /// `fcs`: append a CRC-32 frame check sequence to received frames.
    pub fcs: bool,
    /// `hwcsum`: mark received packets' checksums as verified.
    pub hwcsum: bool,
    /// `tx-headroom`: headroom every new tx packet gets, 0..=32 in steps of 8.
    pub tx_headroom: u32,
    /// `trailer-length`: bytes of trailer appended to received frames, 0..=28.
    pub trailer_length: u32,
    /// `max-mtu`: largest MTU, 1500..=16370, greater than `buflet_size`.
    pub max_mtu: u32,
    /// `buflet-size`: power of two in 512..=32768, less than `max_mtu`.
    pub buflet_size: u32,
    /// `aggregation-factor`: KiB per split-mode rx buffer, 1..=512.
    pub aggregation_factor: u32,
    /// `user-access`: pool mappable by user space (a flag only), 0 or 1.
    pub user_access: u32,
    /// `adv-interval-ms`: interface advisory period while linked, 0 (off) or 10..=2147483647.
    pub adv_interval_ms: u32,
    /// `tx-drops`: drop every Nth packet sent, 0 (off)..=2147483647.
    pub tx_drops: u32,
    /// `tx-exp-policy`: 0 none, 1 drop and notify, 2 notify only, 3 the packet's own action.
    pub tx_exp_policy: u32,
    /// `tx-completion`: sync or async tx status.
    pub tx_completion: TxCompletion,
    /// `ring-size`: slots per crossing ring (and per WMM tx ring), a power of two. The default, 512, is half
    /// the pool, so a full ring plus the bursts and per-core caches in flight never exhausts the receiver's
    /// pool: a generator that outruns its receiver meets back-pressure, not nomem drops.
    pub ring_size: usize,
    /// `pool-size`: packets per pool.
    pub pool_packets: u32,
    /// What a sender does when the peer's rx ring is full.
    pub rx_full: RxFullPolicy,
    /// Hugepages or normal pages for the pools.
    pub prefer: Prefer,
    /// `queues`: queue pairs, 1..=8. Tx queue i crosses into the peer through rings of its own, so each
    /// queue can be polled by its own lcore ([`super::Feth::split_queues`]) with nothing shared on the data
    /// path. Without `rss` on the peer, tx queue i feeds the peer's rx queue `i % peer queues`. Each of
    /// those rings has `ring-size` slots (N rings per direction, N x N with `rss`): give `pool-size` room
    /// for what they can hold, or a sender that outruns its receiver meets nomem drops, not back-pressure.
    pub queues: usize,
    /// `rss`: frames arriving here are spread over this interface's rx queues by a Toeplitz flow hash
    /// (IPv4 addresses and TCP/UDP ports, else the MACs; see [`super::rss`]), recorded in
    /// `PacketMeta::rss_hash`. The sender steers, through one ring per (its tx queue, this rx queue) pair.
    pub rss: bool,
    /// `lro`: the interface offers large receive offload (a capability flag only, as Apple's).
    pub lro: bool,
    /// `tso`: the interface offers TCP segmentation offload (Apple's `tso_support`): its buflets are
    /// `tso_buf_size` bytes, and frames up to that many bytes past the Ethernet header cross whole, as a
    /// TSO packet crosses Apple's pair unsegmented. Global pools only.
    pub tso: bool,
    /// `tso-buf-size`: buflet size and TSO MTU while `tso` is on, a power of two in 512..=32768.
    pub tso_buf_size: u32,
    /// `low-latency`: every logical link but the first has a low-latency queue set (its second), as
    /// Apple's `low_latency` creates one.
    pub low_latency: bool,
    /// `llink-cnt`: logical links, 0 (off)..=16. With N links of `qset_cnt` queue sets each, the interface
    /// has N x `qset_cnt` queue pairs ([`Qset`] says which is which), and tx queue (link, set) crosses to
    /// the peer's rx queue (link, set). Instead of `queues` and `rss`.
    pub llink_cnt: u32,
    /// `qset-cnt`: queue sets per logical link, 1..=16.
    pub qset_cnt: u32,
}

/// Where a queue pair sits in logical-link mode (knob `llink-cnt`): Apple's (llink, qset) pair, with
/// the queue set's flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Qset {
    /// The logical link, 0 the default one.
    pub llink: u32,
    /// The queue set within the link.
    pub qset: u32,
    /// The link's default queue set (its first).
    pub default: bool,
    /// A low-latency queue set.
    pub low_latency: bool,
}

/// The offloads an interface advertises (Apple's `feth_ifnet_set_attrs`): capability flags a stack above
/// would read; pktloop acts on `checksum` (`hwcsum`) and on TSO's MTU.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Offloads {
    /// IP, TCP and UDP checksums (knob `hwcsum`).
    pub checksum: bool,
    /// Large receive offload (knob `lro`).
    pub lro: bool,
    /// TCP segmentation offload for IPv4 and IPv6, with its MTU (knobs `tso`, `tso-buf-size`).
    pub tso_mtu: Option<u32>,
    /// VLAN-MTU-sized frames (always, as Apple's without VLAN tagging).
    pub vlan_mtu: bool,
}

impl Default for FethConfig {
    fn default() -> FethConfig {
        FethConfig {
            pool_mode: PoolMode::Global,
            multibuflet: false,
            wmm: false,
            fcs: false,
            hwcsum: false,
            tx_headroom: TX_HEADROOM_MAX,
            trailer_length: 0,
            max_mtu: 2048,
            buflet_size: 512,
            aggregation_factor: 96,
            user_access: 0,
            adv_interval_ms: 0,
            tx_drops: 0,
            tx_exp_policy: 0,
            tx_completion: TxCompletion::Sync,
            ring_size: 512,
            pool_packets: 1024,
            rx_full: RxFullPolicy::Retry,
            prefer: Prefer::Hugepage,
            queues: 1,
            rss: false,
            lro: false,
            tso: false,
            tso_buf_size: TSO_BUF_SIZE_DEFAULT,
            low_latency: false,
            llink_cnt: 0,
            qset_cnt: QSET_CNT_DEFAULT,
        }
    }
}

const I32_MAX: u32 = i32::MAX as u32;

impl FethConfig {
    /// Checks every knob against its range (reference section 6).
    ///
    /// # Errors
    /// The first knob out of range, naming the knob, the value and the valid range.
    pub fn validate(&self) -> Result<(), KnobError> {
        if self.multibuflet && self.pool_mode == PoolMode::PrivateSplit {
            return Err(KnobError::new("multibuflet", 1, "off when pool-mode is split"));
        }
        if self.tx_headroom > TX_HEADROOM_MAX || !self.tx_headroom.is_multiple_of(8) {
            return Err(KnobError::new("tx-headroom", self.tx_headroom, TX_HEADROOM_VALID));
        }
        check_range("trailer-length", self.trailer_length, 0, TRAILER_LENGTH_MAX, "0..=28")?;
        let (lo, hi) = BUFLET_SIZE_RANGE;
        let valid = "a power of two in 512..=32768";
        check_power_of_two("buflet-size", u64::from(self.buflet_size), u64::from(lo), u64::from(hi), valid)?;
        check_range("max-mtu", self.max_mtu, MAX_MTU_MIN, MAX_MTU_MAX, "1500..=16370")?;
        if self.buflet_size >= self.max_mtu {
            return Err(KnobError::new(
                "buflet-size",
                self.buflet_size,
                "a power of two in 512..=32768, less than max-mtu",
            ));
        }
        check_range("aggregation-factor", self.aggregation_factor, 1, AGGREGATION_FACTOR_MAX, "1..=512")?;
        check_range("user-access", self.user_access, 0, 1, USER_ACCESS_VALID)?;
        if self.adv_interval_ms != 0 && !(ADV_INTERVAL_MIN_MS..=I32_MAX).contains(&self.adv_interval_ms) {
            return Err(KnobError::new("adv-interval-ms", self.adv_interval_ms, "0 (off) or 10..=2147483647"));
        }
        check_tx_drops(self.tx_drops)?;
        check_range("tx-exp-policy", self.tx_exp_policy, 0, 3, TX_EXP_POLICY_VALID)?;
        let valid = "a power of two in 2..=16777216";
        check_power_of_two("ring-size", self.ring_size as u64, 2, RING_SIZE_MAX as u64, valid)?;
        check_range("pool-size", self.pool_packets, 1, POOL_PACKETS_MAX, "1..=1048576")?;
        check_range("queues", self.queues, 1, QUEUES_MAX, "1..=8")?;
        self.validate_offloads()?;
        self.validate_llinks()
    }

    /// TSO's buffer size, and TSO only with global pools (Apple refuses it at create).
    fn validate_offloads(&self) -> Result<(), KnobError> {
        let (lo, hi) = BUFLET_SIZE_RANGE;
        let valid = "a power of two in 512..=32768";
        check_power_of_two("tso-buf-size", u64::from(self.tso_buf_size), u64::from(lo), u64::from(hi), valid)?;
        if self.tso && self.pool_mode != PoolMode::Global {
            return Err(KnobError::new("tso", 1, "off unless pool-mode is global"));
        }
        Ok(())
    }

    /// Logical links' counts, and links instead of `queues` and `rss` (they make the queues).
    fn validate_llinks(&self) -> Result<(), KnobError> {
        check_range("llink-cnt", self.llink_cnt, 0, LLINK_CNT_MAX, "0 (off)..=16")?;
        check_range("qset-cnt", self.qset_cnt, 1, QSET_CNT_MAX, "1..=16")?;
        if self.llink_cnt > 0 && self.queues != 1 {
            return Err(KnobError::new("queues", self.queues, "1 when llink-cnt is set (the links make the queues)"));
        }
        if self.llink_cnt > 0 && self.rss {
            return Err(KnobError::new(
                "rss",
                1,
                "off when llink-cnt is set (tx queue (link, set) crosses to rx queue (link, set))",
            ));
        }
        Ok(())
    }

    /// Queue pairs of an interface: `llink-cnt` x `qset-cnt` in logical-link mode, else `queues`.
    pub fn queue_pairs(&self) -> usize {
        if self.llink_cnt > 0 {
            (self.llink_cnt * self.qset_cnt) as usize
        } else {
            self.queues
        }
    }

    /// Which logical link and queue set queue pair `queue` is, in logical-link mode (`None` outside it, or
    /// past the last queue). Queue sets are numbered link by link.
    pub fn qset(&self, queue: usize) -> Option<Qset> {
        if self.llink_cnt == 0 || queue >= self.queue_pairs() {
            return None;
        }
        let (llink, qset) = (queue as u32 / self.qset_cnt, queue as u32 % self.qset_cnt);
        // Apple's `fill_llink_info_and_params`: a link other than the default one gets its low-latency set
        // second, after its default set.
        Some(Qset { llink, qset, default: qset == 0, low_latency: self.low_latency && llink != 0 && qset == 1 })
    }

    /// The offloads these knobs advertise.
    pub fn offloads(&self) -> Offloads {
        Offloads {
            checksum: self.hwcsum,
            lro: self.lro,
            tso_mtu: self.tso.then_some(self.tso_buf_size),
            vlan_mtu: true,
        }
    }

    /// The longest frame a port sends at `mtu`: the MTU plus `overhead` (the link's headers), or a TSO
    /// frame (its MTU plus an Ethernet header) when longer.
    pub fn frame_limit(&self, mtu: u32, overhead: u32) -> usize {
        let tso = self.offloads().tso_mtu.map_or(0, |m| m + ETHER_HEADER);
        (mtu + overhead).max(tso) as usize
    }

    /// The pool geometry these knobs ask for.
    pub fn pool_spec(&self) -> PortPoolSpec {
        PortPoolSpec {
            mode: self.pool_mode,
            packets: self.pool_packets,
            max_mtu: self.max_mtu,
            // Apple's `feth_packet_pool_make`: TSO's buffer size is the buflet size.
            buflet_size: if self.tso { self.tso_buf_size } else { self.buflet_size },
            multi_buflet: self.multibuflet,
            aggregation_factor: self.aggregation_factor,
            headroom: self.tx_headroom,
            prefer: self.prefer,
            chunks: false,
        }
    }

    /// Knob `tx-exp-policy` as a typed policy (call after [`FethConfig::validate`]).
    pub fn expiry_policy(&self) -> ExpiryPolicy {
        match self.tx_exp_policy {
            1 => ExpiryPolicy::Drop,
            2 => ExpiryPolicy::Notify,
            3 => ExpiryPolicy::PacketAction,
            _ => ExpiryPolicy::None,
        }
    }

    /// Parses an on/off knob given as an integer (0 or 1).
    ///
    /// # Errors
    /// Anything but 0 or 1, naming `knob`.
    pub fn flag(knob: &'static str, value: i64) -> Result<bool, KnobError> {
        match value {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(KnobError::new(knob, value, "0 (off) or 1 (on)")),
        }
    }
}

/// What the sender does with a packet whose expiry deadline has passed (knob `tx-exp-policy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ExpiryPolicy {
    /// 0: deadlines are ignored.
    #[default]
    None,
    /// 1: drop and notify.
    Drop,
    /// 2: send anyway and notify.
    Notify,
    /// 3: do what the packet's own expiry action says.
    PacketAction,
}

/// The `tx-drops` knob's range, at creation and when it changes under traffic.
pub(crate) fn check_tx_drops(n: u32) -> Result<u32, KnobError> {
    check_range("tx-drops", n, 0, I32_MAX, "0 (off)..=2147483647")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(c: FethConfig) -> String {
        c.validate().unwrap_err().to_string()
    }

    #[test]
    fn defaults_are_apples_and_valid() {
        let c = FethConfig::default();
        c.validate().unwrap();
        assert_eq!((c.tx_headroom, c.trailer_length, c.max_mtu, c.buflet_size), (32, 0, 2048, 512));
        assert_eq!((c.aggregation_factor, c.adv_interval_ms, c.tx_drops, c.tx_exp_policy), (96, 0, 0, 0));
        assert_eq!((c.ring_size, c.pool_packets), (512, 1024));
        assert_eq!(
            (c.tx_completion, c.rx_full, c.pool_mode),
            (TxCompletion::Sync, RxFullPolicy::Retry, PoolMode::Global)
        );
        assert!(!c.multibuflet && !c.wmm && !c.fcs && !c.hwcsum && c.user_access == 0);
        assert_eq!((c.queues, c.rss), (1, false));
    }

    #[test]
    fn every_knob_is_range_checked_by_name() {
        let d = FethConfig::default;
        let cases: Vec<(FethConfig, &str)> = vec![
            (
                FethConfig { multibuflet: true, pool_mode: PoolMode::PrivateSplit, ..d() },
                "invalid multibuflet 1: valid is off when pool-mode is split",
            ),
            (FethConfig { tx_headroom: 12, ..d() }, "invalid tx-headroom 12: valid is 0, 8, 16, 24 or 32"),
            (FethConfig { tx_headroom: 40, ..d() }, "invalid tx-headroom 40: valid is 0, 8, 16, 24 or 32"),
            (FethConfig { trailer_length: 29, ..d() }, "invalid trailer-length 29: valid is 0..=28"),
            (FethConfig { max_mtu: 1499, ..d() }, "invalid max-mtu 1499: valid is 1500..=16370"),
            (FethConfig { max_mtu: 16371, ..d() }, "invalid max-mtu 16371: valid is 1500..=16370"),
            (
                FethConfig { buflet_size: 1000, ..d() },
                "invalid buflet-size 1000: valid is a power of two in 512..=32768",
            ),
            (FethConfig { buflet_size: 256, ..d() }, "invalid buflet-size 256: valid is a power of two in 512..=32768"),
            (
                FethConfig { buflet_size: 65536, ..d() },
                "invalid buflet-size 65536: valid is a power of two in 512..=32768",
            ),
            (
                FethConfig { buflet_size: 2048, ..d() },
                "invalid buflet-size 2048: valid is a power of two in 512..=32768, less than max-mtu",
            ),
            (FethConfig { aggregation_factor: 0, ..d() }, "invalid aggregation-factor 0: valid is 1..=512"),
            (FethConfig { aggregation_factor: 513, ..d() }, "invalid aggregation-factor 513: valid is 1..=512"),
            (FethConfig { user_access: 2, ..d() }, "invalid user-access 2: valid is 0 or 1"),
            (
                FethConfig { adv_interval_ms: 9, ..d() },
                "invalid adv-interval-ms 9: valid is 0 (off) or 10..=2147483647",
            ),
            (
                FethConfig { adv_interval_ms: 1 << 31, ..d() },
                "invalid adv-interval-ms 2147483648: valid is 0 (off) or 10..=2147483647",
            ),
            (FethConfig { tx_drops: 1 << 31, ..d() }, "invalid tx-drops 2147483648: valid is 0 (off)..=2147483647"),
            (
                FethConfig { tx_exp_policy: 4, ..d() },
                "invalid tx-exp-policy 4: valid is 0 (none), 1 (drop and notify), 2 (notify only) or 3 (the packet's own action)",
            ),
            (FethConfig { ring_size: 1000, ..d() }, "invalid ring-size 1000: valid is a power of two in 2..=16777216"),
            (FethConfig { ring_size: 1, ..d() }, "invalid ring-size 1: valid is a power of two in 2..=16777216"),
            (FethConfig { pool_packets: 0, ..d() }, "invalid pool-size 0: valid is 1..=1048576"),
            (FethConfig { queues: 0, ..d() }, "invalid queues 0: valid is 1..=8"),
            (FethConfig { queues: 9, rss: true, ..d() }, "invalid queues 9: valid is 1..=8"),
        ];
        for (c, want) in cases {
            assert_eq!(err(c), want);
        }
        assert_eq!(
            TxCompletion::from_knob(2).unwrap_err().to_string(),
            "invalid tx-completion 2: valid is 0 (sync) or 1 (async)"
        );
        assert_eq!(TxCompletion::from_knob(1), Ok(TxCompletion::Async));
        assert_eq!(PoolMode::from_knob(3).unwrap_err().knob, "pool-mode");
        assert_eq!(FethConfig::flag("wmm", 2).unwrap_err().to_string(), "invalid wmm 2: valid is 0 (off) or 1 (on)");
        assert_eq!(FethConfig::flag("fcs", 1), Ok(true));
    }

    #[test]
    fn range_edges_are_accepted() {
        let d = FethConfig::default;
        let ok = [
            FethConfig { tx_headroom: 0, trailer_length: 28, ..d() },
            FethConfig { max_mtu: 16370, buflet_size: 8192, multibuflet: true, ..d() },
            FethConfig { max_mtu: 1500, buflet_size: 1024, ..d() },
            FethConfig { aggregation_factor: 512, user_access: 1, adv_interval_ms: 10, ..d() },
            FethConfig { adv_interval_ms: i32::MAX as u32, tx_drops: i32::MAX as u32, tx_exp_policy: 3, ..d() },
            FethConfig { ring_size: 2, pool_packets: 1, pool_mode: PoolMode::PrivateSplit, ..d() },
            FethConfig { queues: 1, rss: true, ..d() },
            FethConfig { queues: 8, wmm: true, ..d() },
        ];
        for c in ok {
            c.validate().unwrap_or_else(|e| panic!("{c:?}: {e}"));
        }
    }

    #[test]
    fn pool_spec_and_expiry_policy_follow_the_knobs() {
        let c = FethConfig {
            multibuflet: true,
            tx_headroom: 16,
            pool_packets: 64,
            tx_exp_policy: 3,
            ..FethConfig::default()
        };
        let s = c.pool_spec();
        assert_eq!((s.headroom, s.packets, s.max_buflets()), (16, 64, 4));
        assert_eq!(c.expiry_policy(), ExpiryPolicy::PacketAction);
        assert_eq!(FethConfig::default().expiry_policy(), ExpiryPolicy::None);
    }
}
