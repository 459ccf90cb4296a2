//! Command-line flags (clap derive). Every setting is also a key of the `--config` TOML file: the file is
//! turned into flags placed before the command line's own, so flags override it and both get the same checks.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// pktloop: a poll-mode packet engine's forwarding, latency and benchmark tool.
#[derive(Debug, Parser)]
#[command(
    name = "pktloop",
    version,
    args_override_self = true,
    after_help = "Examples:
  pktloop fwd                                          io forwarding over a feth pair for 5 s
  pktloop fwd --mode txonly --pkt-len 1518 --pool-mode private --json
  pktloop fwd --port null --mode macswap --cores 1
  pktloop fwd --mode icmpecho --pcap ping.pcapng --pcap-count 1000 --snaplen 128
  pktloop fwd --mode txonly --pcap tx.pcap --pcap-format pcap   (classic pcap)
  pktloop fwd --config run.toml --duration 10          (flags override the file)
  pktloop latency --rate 100000 --hgrm lat.hgrm --plot lat.svg
  pktloop bench --duration 0.5 --out bench.json

Errors exit with status 2 (bad flags, values, config files, combinations) or 1 (a failed run), one line on
stderr."
)]
pub struct Cli {
    /// What to run.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// testpmd-class forwarding over feth pairs, null, TAP, AF_PACKET, AF_XDP and shared-memory ports, with
    /// live stats and a final table.
    #[command(allow_negative_numbers = true, args_override_self = true)]
    Fwd(Box<FwdArgs>),
    /// Round-trip latency ping-pong across a feth pair, two real interfaces or two processes (shm), as an HDR
    /// histogram.
    // The run's shared flags, said for a ping-pong: one frame length, one queue pair, a fixed duration.
    #[command(
        allow_negative_numbers = true,
        args_override_self = true,
        mut_arg("duration", |a| a.help("Seconds to run, 0.1..=86400 [default: 5]")),
        mut_arg("pkt_len", |a| a.help("Frame length in bytes (without FCS), one length, 60..=mtu + 18 [default: 64]")),
        mut_arg("rxq", |a| a.hide(true)),
        mut_arg("txq", |a| a.hide(true)),
        mut_arg("rss", |a| a.hide(true)),
        mut_arg("tx_exp_policy", |a| a.hide(true)),
    )]
    Latency(Box<LatencyArgs>),
    /// The standard benchmark scenarios, one table and a JSON file.
    #[command(allow_negative_numbers = true, args_override_self = true)]
    Bench(BenchArgs),
}

/// Which ports a run makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortKind {
    /// A feth crossed pair: what one port sends, the other receives.
    Feth,
    /// null ports (DPDK net_null): rx makes frames, tx frees them; the framework's cost floor.
    Null,
    /// Linux TAP interfaces: frames exchanged with the kernel's network stack (needs CAP_NET_ADMIN).
    Tap,
    /// The ports `--port` lists, in order (real interfaces, or kinds mixed).
    List,
}

/// Forwarding modes (DPDK testpmd's).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Mode {
    /// Forward as received.
    Io,
    /// Rewrite source MAC to the tx port's and destination MAC to its peer's.
    Mac,
    /// Swap source and destination MAC.
    Macswap,
    /// Generate UDP frames (on a feth pair: port 0 sends, port 1 receives and frees).
    Txonly,
    /// Receive and free (on a feth pair fed by a txonly generator on port 0).
    Rxonly,
    /// Generate UDP frames over `--flows` IP/UDP address pairs (feth: port 0 sends, port 1 receives).
    Flowgen,
    /// Answer ARP and ICMP echo requests; on a feth pair port 0 resolves the peer by ARP and pings it.
    Icmpecho,
}

/// How streams map rx ports to tx ports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Topology {
    /// rx port 2k -> tx port 2k+1 and back (one worker owns both ports of a pair).
    Paired,
    /// rx port i -> tx port i (on a feth pair that crosses to the peer: one worker per port).
    Loop,
}

/// Pool modes (feth knob `pool-mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PoolModeArg {
    /// One pool shared by both ports; crossing is a zero-copy move.
    #[value(alias = "0")]
    Global,
    /// One pool per port; crossing copies, keeping the buflet layout.
    #[value(alias = "1")]
    Private,
    /// Per port an rx pool of aggregation buffers and a tx pool; crossing packs copies.
    #[value(alias = "2")]
    Split,
}

/// Tx completion mode (feth knob `tx-completion`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TxCompletionArg {
    /// Statuses kept in the port's completion queue.
    #[value(alias = "0")]
    Sync,
    /// Statuses published as events.
    #[value(alias = "1")]
    Async,
}

/// What a feth sender does when the peer's rx ring is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RxFullArg {
    /// Back-pressure: keep and retry.
    Retry,
    /// Drop, counted as rx_ring_full.
    Drop,
}

/// Pool memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MemoryArg {
    /// 2 MiB hugepages when reserved, normal pages otherwise.
    Hugepage,
    /// Normal pages only.
    Normal,
}

/// Parses an on/off switch: `--fcs` alone means on; `--fcs=off` turns a config file's `fcs = true` off.
pub fn parse_switch(s: &str) -> Result<bool, String> {
    match s.to_ascii_lowercase().as_str() {
        "on" | "true" | "1" | "yes" => Ok(true),
        "off" | "false" | "0" | "no" => Ok(false),
        _ => Err("valid is on or off (or true/false, yes/no, 1/0)".to_owned()),
    }
}

/// The feth knobs of the reference's section 6, plus the pool and ring settings every port uses.
/// Unset knobs keep the feth defaults.
#[derive(Debug, Clone, Default, Args)]
pub struct FethArgs {
    /// Pool mode [default: global]
    #[arg(long, value_enum, help_heading = "Port knobs")]
    pub pool_mode: Option<PoolModeArg>,
    /// Packets per pool, 1..=1048576; unset, 1024 per crossing ring a port feeds (x --rxq, and x --rxq
    /// again with --rss, or x the queue sets of --llink-cnt up to 64) [default: 1024]
    #[arg(long, allow_negative_numbers = true, value_name = "N", help_heading = "Port knobs")]
    pub pool_size: Option<i64>,
    /// Slots per crossing ring, a power of two in 2..=16777216 [default: 512]
    #[arg(long, allow_negative_numbers = true, value_name = "N", help_heading = "Port knobs")]
    pub ring_size: Option<i64>,
    /// Pool memory [default: hugepage, falling back to normal pages]
    #[arg(long, value_enum, help_heading = "Port knobs")]
    pub memory: Option<MemoryArg>,
    /// Receive queues per feth port, 1..=8, as many as --txq (queue pairs, each a crossing ring of its own;
    /// fwd gives every queue its own worker) [default: 1]
    #[arg(long, allow_negative_numbers = true, value_name = "N", help_heading = "Port knobs")]
    pub rxq: Option<i64>,
    /// Transmit queues per feth port, 1..=8, as many as --rxq [default: 1]
    #[arg(long, allow_negative_numbers = true, value_name = "N", help_heading = "Port knobs")]
    pub txq: Option<i64>,
    /// RSS: a receiving feth port spreads frames over its queues by a Toeplitz hash of their IPv4
    /// addresses and ports (each flow stays on one queue); off: tx queue i crosses to rx queue i
    /// [default: off]
    #[arg(long, value_name = "on|off", num_args = 0..=1, require_equals = true, default_missing_value = "on",
          value_parser = parse_switch, help_heading = "Port knobs")]
    pub rss: Option<bool>,
    /// Multi-buflet packets: ceil(max-mtu / buflet-size) buflets each; not with split pools [default: off]
    #[arg(long, value_name = "on|off", num_args = 0..=1, require_equals = true, default_missing_value = "on",
          value_parser = parse_switch, help_heading = "feth knobs")]
    pub multibuflet: Option<bool>,
    /// WMM: 4 tx rings (VO, VI, BE, BK) into the peer's one rx ring; generators then cycle the 4 classes
    /// [default: off]
    #[arg(long, value_name = "on|off", num_args = 0..=1, require_equals = true, default_missing_value = "on",
          value_parser = parse_switch, help_heading = "feth knobs")]
    pub wmm: Option<bool>,
    /// Append a CRC-32 FCS to received frames [default: off]
    #[arg(long, value_name = "on|off", num_args = 0..=1, require_equals = true, default_missing_value = "on",
          value_parser = parse_switch, help_heading = "feth knobs")]
    pub fcs: Option<bool>,
    /// Mark received checksums as verified [default: off]
    #[arg(long, value_name = "on|off", num_args = 0..=1, require_equals = true, default_missing_value = "on",
          value_parser = parse_switch, help_heading = "feth knobs")]
    pub hwcsum: Option<bool>,
    /// Headroom of new tx packets: 0, 8, 16, 24 or 32 [default: 32]
    #[arg(long, allow_negative_numbers = true, value_name = "BYTES", help_heading = "feth knobs")]
    pub tx_headroom: Option<i64>,
    /// Trailer bytes appended to received frames, 0..=28 [default: 0]
    #[arg(long, allow_negative_numbers = true, value_name = "BYTES", help_heading = "feth knobs")]
    pub trailer_length: Option<i64>,
    /// Largest MTU, 1500..=16370 and greater than buflet-size [default: 2048]
    #[arg(long, allow_negative_numbers = true, value_name = "BYTES", help_heading = "feth knobs")]
    pub max_mtu: Option<i64>,
    /// Buflet size, a power of two in 512..=32768, less than max-mtu [default: 512]
    #[arg(long, allow_negative_numbers = true, value_name = "BYTES", help_heading = "feth knobs")]
    pub buflet_size: Option<i64>,
    /// KiB per split-mode rx buffer, 1..=512 [default: 96]
    #[arg(long, allow_negative_numbers = true, value_name = "KIB", help_heading = "feth knobs")]
    pub aggregation_factor: Option<i64>,
    /// Pool mappable by user space (a flag only), 0 or 1 [default: 0]
    #[arg(long, allow_negative_numbers = true, value_name = "0|1", help_heading = "feth knobs")]
    pub user_access: Option<i64>,
    /// Interface advisory period, 0 (off) or 10..=2147483647 ms [default: 0]
    #[arg(long, allow_negative_numbers = true, value_name = "MS", help_heading = "feth knobs")]
    pub adv_interval_ms: Option<i64>,
    /// Drop every Nth packet sent, 0 (off)..=2147483647 [default: 0]
    #[arg(long, allow_negative_numbers = true, value_name = "N", help_heading = "feth knobs")]
    pub tx_drops: Option<i64>,
    /// Expiry policy for frames past their deadline (--expiry-us): 0 none, 1 drop and notify, 2 notify only,
    /// 3 the packet's own action [default: 0]
    #[arg(long, allow_negative_numbers = true, value_name = "0..3", help_heading = "feth knobs")]
    pub tx_exp_policy: Option<i64>,
    /// Tx completion mode [default: sync]
    #[arg(long, value_enum, help_heading = "feth knobs")]
    pub tx_completion: Option<TxCompletionArg>,
    /// When the peer's rx ring is full: retry (back-pressure) or drop (counted) [default: retry]
    #[arg(long, value_enum, help_heading = "feth knobs")]
    pub rx_full: Option<RxFullArg>,
    /// Advertise large receive offload (a capability flag only, as Apple's) [default: off]
    #[arg(long, value_name = "on|off", num_args = 0..=1, require_equals = true, default_missing_value = "on",
          value_parser = parse_switch, help_heading = "feth knobs")]
    pub lro: Option<bool>,
    /// TCP segmentation offload on feth pairs: buflets of --tso-buf-size bytes, and --pkt-len beyond the MTU
    /// up to what a packet holds (tso-buf-size less --tx-headroom) and at most the TSO MTU, tso-buf-size +
    /// 14 (which --multibuflet with a larger --max-mtu reaches), crossing whole;
    /// global pools only [default: off]
    #[arg(long, value_name = "on|off", num_args = 0..=1, require_equals = true, default_missing_value = "on",
          value_parser = parse_switch, help_heading = "feth knobs")]
    pub tso: Option<bool>,
    /// TSO's buffer size (the buflet size with --tso), a power of two in 512..=32768 [default: 16384]
    #[arg(long, allow_negative_numbers = true, value_name = "BYTES", help_heading = "feth knobs")]
    pub tso_buf_size: Option<i64>,
    /// Logical links, 0 (off)..=16: with N links of --qset-cnt queue sets each, a feth port has N x
    /// qset-cnt queue pairs (instead of --rxq/--txq), each crossing to the peer's same set; fwd gives every
    /// queue its own worker [default: 0]
    #[arg(long, allow_negative_numbers = true, value_name = "N", help_heading = "feth knobs")]
    pub llink_cnt: Option<i64>,
    /// Queue sets per logical link, 1..=16 [default: 4]
    #[arg(long, allow_negative_numbers = true, value_name = "N", help_heading = "feth knobs")]
    pub qset_cnt: Option<i64>,
    /// A low-latency queue set (the second) on every logical link but the first [default: off]
    #[arg(long, value_name = "on|off", num_args = 0..=1, require_equals = true, default_missing_value = "on",
          value_parser = parse_switch, help_heading = "feth knobs")]
    pub low_latency: Option<bool>,
}

/// How TAP frames move.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TapIoArg {
    /// io_uring: a burst of reads or writes per system call (readv/writev where the kernel refuses it).
    IoUring,
    /// One readv or writev per frame (what DPDK's net_tap does).
    Readv,
}

/// The TAP port's settings.
#[derive(Debug, Clone, Default, Args)]
pub struct TapArgs {
    /// TAP interface name; %d lets the kernel number it, and is needed for more than one TAP port
    /// [default: pktloop%d]
    #[arg(long, value_name = "NAME", help_heading = "TAP knobs")]
    pub tap_name: Option<String>,
    /// Queue pairs per TAP port (one fd each; the worker polls them all), 1..=256 [default: 1]
    #[arg(long, allow_negative_numbers = true, value_name = "N", help_heading = "TAP knobs")]
    pub tap_queues: Option<i64>,
    /// How TAP frames move [default: io-uring]
    #[arg(long, value_enum, help_heading = "TAP knobs")]
    pub tap_io: Option<TapIoArg>,
    /// The IPv4 address icmpecho answers ARP and ICMP echo requests for on a TAP port, with its prefix
    /// length [default: 198.18.0.2/24]
    #[arg(long, value_name = "A.B.C.D/NN", help_heading = "TAP knobs")]
    pub ip: Option<String>,
}

/// Settings `fwd` and `latency` share.
#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// TOML file with the same settings (keys are flag names without `--`); flags override it.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The flags (`--duration`) whose value came from the `--config` file, not the command line: a file
    /// shared between kinds of run may hold settings one of them has no use for (set by `args`).
    #[arg(skip)]
    pub from_file: Vec<String>,
    /// Seconds to run, 0.1..=86400 [default: 5; with --count or a finite --replay, until done]
    #[arg(long, allow_negative_numbers = true, value_name = "SECONDS")]
    pub duration: Option<f64>,
    /// Frame length in bytes (without FCS), each 60..=mtu + 18: one length (64), a uniform range
    /// (64-1518), lengths with weights (64:7,570:4,1518:1) or imix (that same 7:4:1 mix) [default: 64]
    #[arg(long, allow_negative_numbers = true, value_name = "BYTES")]
    pub pkt_len: Option<String>,
    /// Interface MTU of both feth ports, 72..=max-mtu [default: 1500]
    #[arg(long, allow_negative_numbers = true, value_name = "BYTES")]
    pub mtu: Option<i64>,
    /// Print one JSON object on stdout instead of the tables (logs go to stderr).
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "on", value_parser = parse_switch,
          value_name = "on|off")]
    pub json: Option<bool>,
    /// Write tx and rx frames to this file in time order, as --pcap-format says whatever the name ends with
    /// (tcpdump, tshark and Wireshark read both formats)
    #[arg(long, value_name = "FILE")]
    pub pcap: Option<PathBuf>,
    /// Most frames written to --pcap, 1..=100000000 [default: 10000]
    #[arg(long, allow_negative_numbers = true, value_name = "N")]
    pub pcap_count: Option<i64>,
    /// --pcap's format: pcapng (an interface per port, each frame's direction: inbound for rx, outbound for
    /// tx) or pcap (classic: no interfaces, no direction) [default: pcapng]
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub pcap_format: Option<PcapFormatArg>,
    /// Bytes of each frame kept in --pcap (longer frames are cut, their original length kept),
    /// 14..=262144 [default: whole frames]
    #[arg(long, allow_negative_numbers = true, value_name = "BYTES")]
    pub snaplen: Option<i64>,
    /// Allow more workers than cores (they then share cores; figures get lower and noisier).
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "on", value_parser = parse_switch,
          value_name = "on|off")]
    pub allow_shared_cores: Option<bool>,
    /// How AF_XDP ports move frames: auto (zero-copy where the driver can, else copy with XDP in the
    /// driver, else generic XDP), zero-copy, copy, generic [default: auto]
    #[arg(long, value_enum, help_heading = "AF_XDP knobs")]
    pub xdp_mode: Option<XdpModeArg>,
    /// Which side of a shm:PATH port this process is: server (makes the endpoint, serves one client at a
    /// time) or client (connects to a running server); required with shm ports
    #[arg(long, value_enum, help_heading = "shm knobs")]
    pub role: Option<RoleArg>,
    /// The port knobs.
    #[command(flatten)]
    pub feth: FethArgs,
}

impl RunArgs {
    /// Whether the value of `--flag` (named without dashes) came only from the `--config` file.
    pub fn from_file(&self, flag: &str) -> bool {
        self.from_file.iter().any(|f| f.strip_prefix("--") == Some(flag))
    }

    /// The first of `given` (a flag named without dashes, its value when set, and what goes with it) that
    /// the command line sets: a `--config` file's settings are left alone, as a file shared between kinds of
    /// run may hold some this one has no use for.
    pub fn first_typed<'a, T>(&self, given: &'a [(&'a str, Option<String>, T)]) -> Option<(&'a str, &'a str, &'a T)> {
        let mut typed = given.iter().filter(|(flag, ..)| !self.from_file(flag));
        typed.find_map(|(flag, value, with)| value.as_deref().map(|v| (*flag, v, with)))
    }
}

/// A choice's name as the command line spells it (`--pcap-format pcapng`).
pub fn choice_name(v: &impl clap::ValueEnum) -> Option<String> {
    v.to_possible_value().map(|p| p.get_name().to_owned())
}

/// `--pcap-format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PcapFormatArg {
    /// Interface names, each frame's port and direction.
    Pcapng,
    /// Classic pcap: frames only.
    Pcap,
}

impl PcapFormatArg {
    /// The engine's format.
    pub fn format(self) -> pktloop_engine::capture::Format {
        use pktloop_engine::capture::Format;
        match self {
            PcapFormatArg::Pcapng => Format::PcapNg,
            PcapFormatArg::Pcap => Format::Pcap,
        }
    }
}

/// `--role`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RoleArg {
    /// Makes the endpoint.
    Server,
    /// Connects to it.
    Client,
}

impl RoleArg {
    /// The driver's role.
    pub fn role(self) -> pktloop_pmd::shm::Role {
        match self {
            RoleArg::Server => pktloop_pmd::shm::Role::Server,
            RoleArg::Client => pktloop_pmd::shm::Role::Client,
        }
    }
}

/// `--xdp-mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum XdpModeArg {
    /// The best the interface offers.
    Auto,
    /// Zero-copy only.
    ZeroCopy,
    /// XDP in the driver, frames copied by the kernel.
    Copy,
    /// Generic XDP, frames copied.
    Generic,
}

impl XdpModeArg {
    /// The driver's setting.
    pub fn want(self) -> pktloop_pmd::afxdp::XdpWant {
        use pktloop_pmd::afxdp::XdpWant;
        match self {
            XdpModeArg::Auto => XdpWant::Auto,
            XdpModeArg::ZeroCopy => XdpWant::ZeroCopy,
            XdpModeArg::Copy => XdpWant::Copy,
            XdpModeArg::Generic => XdpWant::Generic,
        }
    }
}

/// `pktloop fwd`.
#[derive(Debug, Clone, Args)]
#[command(after_help = "\
On a feth pair: io, mac and macswap forward frames seeded with --tx-first bursts per stream; txonly, rxonly \
and flowgen run a generator on port 0 and a receiver on port 1 (Mpps counts frames received); icmpecho \
resolves port 1 by ARP from port 0, then pings it as fast as replies allow (Mpps counts echo replies). \
On TAP ports (--port tap, root or CAP_NET_ADMIN): icmpecho answers the kernel's ARP and pings for --ip, txonly \
and flowgen send frames into the kernel, rxonly counts the kernel's frames, io/mac/macswap send received \
frames back (loop) or to the other TAP port of the pair (--topology paired). \
A list of ports (--port afxdp:veth0, --port afpacket:eth1:4,tap) makes exactly those ports, in order, one \
worker per port (loop) or per two (paired: port 2k <-> 2k+1); generators send to 02:00:00:00:00:<port> on real \
interfaces, and icmpecho answers for --ip there as on TAP ports. A feth pair in a list sends from its first port \
to its second in txonly, rxonly, flowgen and icmpecho, as --port feth does. AF_XDP ports get pools of at least 4096 \
buffers per queue (their rings hold up to 3072).")]
pub struct FwdArgs {
    // The help text is an attribute, not a doc comment: rustdoc would read `[:QUEUES]` as a link.
    #[arg(
        long,
        value_name = "SPEC",
        default_value = "feth",
        value_parser = crate::portspec::parse_list,
        help = "Ports: feth, null or tap (as many as the run needs), or a comma-separated list of ports, each \
                one port of the run: feth (a pair), null, tap, afpacket:IFNAME[:QUEUES], afxdp:IFNAME[:QUEUES], \
                shm:PATH (a peer in another process; see --role)"
    )]
    pub port: crate::portspec::PortList,
    /// Forwarding mode
    #[arg(long, value_enum, default_value = "io")]
    pub mode: Mode,
    /// Stream topology [default: loop, whatever the cores; a worker owning both ports of a feth pair
    /// (--cores 1) still forwards each port to itself, crossing to its peer]
    #[arg(long, value_enum)]
    pub topology: Option<Topology>,
    /// Workers: a count (4), or the cores to pin them to, as a list or ranges (0-15, 0,2,4-7). On feth
    /// pairs: one worker per port queue, or one per queue pair owning both ports' queue [default: a worker
    /// per port queue where the cores allow, else per queue pair; 1 for null and TAP]
    #[arg(long, value_name = "N|LIST")]
    pub cores: Option<String>,
    /// feth pairs, 1..=64: each pair's port 0 generates (txonly, flowgen, icmpecho) and port 1 receives
    /// [default: 1]
    #[arg(long, allow_negative_numbers = true, value_name = "N")]
    pub pairs: Option<i64>,
    /// Packets per burst, 1..=512
    #[arg(long, allow_negative_numbers = true, value_name = "N", default_value = "32")]
    pub burst: i64,
    /// Bursts sent on each stream's tx port before forwarding starts (testpmd's start tx_first; io, mac and
    /// macswap), 1..=64 [default: 1]
    #[arg(long, allow_negative_numbers = true, value_name = "N")]
    pub tx_first: Option<i64>,
    /// Generators give each frame an expiry deadline this many microseconds after it is made (what
    /// --tx-exp-policy acts on; 0 expires them at once), 0..=10000000 [default: no deadline]
    #[arg(long, allow_negative_numbers = true, value_name = "US")]
    pub expiry_us: Option<i64>,
    /// Also count the cycles of polls that moved packets (testpmd's --record-core-cycles; two cycle-counter
    /// reads per poll), giving busy cycles per packet beside the total
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "on", value_parser = parse_switch,
          value_name = "on|off")]
    pub record_core_cycles: Option<bool>,
    /// Interactive: a prompt like testpmd's (start, stop, show port stats, set rate RATE, clear stats,
    /// quit; help lists them), read from stdin, so it can be scripted through a pipe
    #[arg(short = 'i', long, num_args = 0..=1, require_equals = true, default_missing_value = "on",
          value_parser = parse_switch, value_name = "on|off")]
    pub interactive: Option<bool>,
    /// Seconds between live lines, 0.1..=3600 [default: 1]
    #[arg(long, allow_negative_numbers = true, value_name = "SECONDS")]
    pub stats_period: Option<f64>,
    /// The generator's settings.
    #[command(flatten)]
    pub gen: GenArgs,
    /// Interface filters on every port, in order (repeatable; on the command line it replaces a config
    /// file's list): ethertype=0xHHHH (0x0600..=0xffff, drop that type), every=N (1..=1000000000, drop every
    /// Nth packet), src-mac=XX:XX:XX:XX:XX:XX (drop frames from it). Each filter sees a port's frames both
    /// ways, in and out, and counts per port. Ports then run through the input layer: IPv4 and ARP go to
    /// the workers, other EtherTypes are counted as no_protocol
    #[arg(long = "filter", value_name = "SPEC", help_heading = "Input layer")]
    pub filters: Vec<String>,
    /// Run each port's input path (rx, filters, demux) on its own thread pinned to this core, one of the
    /// cores the process may run on (port i on the i-th allowed core from CORE, wrapping around), handing
    /// bursts to the workers over rings; it puts the ports behind the input layer even without --filter
    #[arg(long, allow_negative_numbers = true, value_name = "CORE", help_heading = "Input layer")]
    pub input_thread: Option<i64>,
    /// TAP settings.
    #[command(flatten)]
    pub tap: TapArgs,
    /// Shared settings.
    #[command(flatten)]
    pub run: RunArgs,
}

/// In which order flowgen sends its flows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FlowOrderArg {
    /// Flow 0, 1, 2, ... and around.
    Sequential,
    /// Uniformly at random (seeded: runs repeat).
    Random,
}

/// When replayed frames go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReplayTimingArg {
    /// At the capture's own timing.
    Recorded,
    /// As fast as the port takes them (or at --rate).
    Asap,
}

/// What txonly, flowgen and icmpecho generators send, how many and how fast.
#[derive(Debug, Clone, Default, Args)]
pub struct GenArgs {
    /// Rate of each generator port: packets per second (1000000, 250kpps, 1.5Mpps) or bits per second on
    /// the wire, each frame counted with its FCS, preamble and gap, 24 B more than --pkt-len (10Gbps: 14.88
    /// Mpps at --pkt-len 60, 100Mbps); a port's queues share
    /// it [default: as fast as the port takes them]
    #[arg(long, value_name = "RATE", help_heading = "Generator")]
    pub rate: Option<String>,
    /// Packets each generator port makes, then stops; the run ends when every one is delivered or
    /// accounted for, 1..=1000000000000 [default: no count]
    #[arg(long, allow_negative_numbers = true, value_name = "N", help_heading = "Generator")]
    pub count: Option<i64>,
    /// Flows flowgen cycles through: the first N of the address and port ranges, 1..=the ranges' size
    /// [default: every flow the ranges give, or 64 without ranges (source IPs 198.18.1.0 up)]
    #[arg(long, allow_negative_numbers = true, value_name = "N", help_heading = "Generator")]
    pub flows: Option<i64>,
    /// Order of flowgen's flows [default: sequential]
    #[arg(long, value_enum, help_heading = "Generator")]
    pub flow_order: Option<FlowOrderArg>,
    /// Source MAC, or a range XX:..:XX-XX:..:XX (ranges need flowgen) [default: the port's]
    #[arg(long, value_name = "MAC[-MAC]", help_heading = "Generator")]
    pub src_mac: Option<String>,
    /// Destination MAC or range [default: the station the port reaches]
    #[arg(long, value_name = "MAC[-MAC]", help_heading = "Generator")]
    pub dst_mac: Option<String>,
    /// Source IPv4 address or range A.B.C.D-A.B.C.D [default: 198.18.0.1]
    #[arg(long, value_name = "IP[-IP]", help_heading = "Generator")]
    pub src_ip: Option<String>,
    /// Destination IPv4 address or range [default: 198.18.0.2]
    #[arg(long, value_name = "IP[-IP]", help_heading = "Generator")]
    pub dst_ip: Option<String>,
    /// UDP source port or range P-P [default: 9]
    #[arg(long, value_name = "PORT[-PORT]", help_heading = "Generator")]
    pub src_port: Option<String>,
    /// UDP destination port or range [default: 9]
    #[arg(long, value_name = "PORT[-PORT]", help_heading = "Generator")]
    pub dst_port: Option<String>,
    /// txonly sends the frames of this capture (pcap or pcapng, Ethernet) instead of test frames, in
    /// order; frames longer than the port allows are counted and skipped
    #[arg(long, value_name = "FILE", help_heading = "Generator")]
    pub replay: Option<PathBuf>,
    /// Times to play the capture, 0 (until the run ends)..=1000000 [default: 1]
    #[arg(long, allow_negative_numbers = true, value_name = "N", help_heading = "Generator")]
    pub replay_loops: Option<i64>,
    /// When replayed frames go: at their recorded timing or as soon as possible; --rate paces asap
    /// [default: recorded, asap with --rate]
    #[arg(long, value_enum, help_heading = "Generator")]
    pub replay_timing: Option<ReplayTimingArg>,
}

/// `pktloop latency`.
#[derive(Debug, Clone, Args)]
pub struct LatencyArgs {
    /// Ports: feth (a crossed pair, default), or two real interfaces joined by a wire (a veth pair, a
    /// cable): afpacket:IFNAME,afxdp:IFNAME (any mix); the pinger sends on the first, the ponger answers
    /// on the second; or shm:PATH, the ponger another process (`pktloop latency --port shm:PATH --role
    /// client`; see --role)
    #[arg(long, value_name = "SPEC", default_value = "feth", value_parser = crate::portspec::parse_list)]
    pub port: crate::portspec::PortList,
    /// Open loop: send at this rate, in packets per second (250000, 250kpps, 1Mpps) or bits per second on
    /// the wire (1Gbps, each frame counted with its FCS, preamble and gap, 24 B more than --pkt-len), up to
    /// 50 Mpps (coordinated-omission corrected; the report says whether the pinger held it); 0 (or 0pps) =
    /// closed loop [default: 0]
    #[arg(long, allow_negative_numbers = true, value_name = "RATE")]
    pub rate: Option<String>,
    /// Write the percentile distribution as .hgrm text, in microseconds as the table and --plot.
    #[arg(long, value_name = "FILE")]
    pub hgrm: Option<PathBuf>,
    /// Draw the percentile spectrum as an SVG (whatever the file's name), latency in microseconds as the
    /// table and --hgrm. Outputs are written after the run, which a failed one leaves as they were.
    #[arg(long, value_name = "FILE.svg")]
    pub plot: Option<PathBuf>,
    /// Skip the bare rtrb two-ring ping-pong measured after the run for comparison (up to 2 s more; the
    /// first 100 ms of each run, or a fifth of a shorter one, is a warm-up left out) [default: off]
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "on", value_parser = parse_switch,
          value_name = "on|off")]
    pub no_peer: Option<bool>,
    /// Shared settings.
    #[command(flatten)]
    pub run: RunArgs,
}

/// `pktloop bench`.
#[derive(Debug, Clone, Args)]
pub struct BenchArgs {
    /// Seconds per scenario, 0.1..=60
    #[arg(long, allow_negative_numbers = true, value_name = "SECONDS", default_value = "1")]
    pub duration: f64,
    /// Write the results here as JSON.
    #[arg(long, value_name = "FILE", default_value = "bench.json")]
    pub out: PathBuf,
    /// Run only the scenarios whose name contains this text.
    #[arg(long, value_name = "TEXT")]
    pub filter: Option<String>,
    /// Pool memory for every scenario [default: hugepage, falling back to normal pages]
    #[arg(long, value_enum)]
    pub memory: Option<MemoryArg>,
    /// Allow more workers than cores.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "on", value_parser = parse_switch,
          value_name = "on|off")]
    pub allow_shared_cores: Option<bool>,
}
