//! What the `pktloop` binary's end-to-end tests share: running it (serialised within a test binary: the
//! workers pin to the same cores, and parallel runs would only measure each other), its JSON, its usage
//! errors, temporary files and pcapng captures read back.
// Each test binary includes this module and uses its own part of it.
#![allow(dead_code)]

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Mutex, MutexGuard};

static SERIAL: Mutex<()> = Mutex::new(());

/// Holds the binary's runs one at a time (taken by [`pktloop`]; a test that spawns a run itself holds it).
pub fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

/// Runs `pktloop args` to its end.
pub fn pktloop(args: &[&str]) -> Output {
    let _guard = serial();
    Command::new(env!("CARGO_BIN_EXE_pktloop"))
        .args(args)
        .env("PKTLOOP_NO_HUGEPAGES", "1")
        .output()
        .expect("run pktloop")
}

/// Starts `pktloop args` with its stdin, stdout and stderr piped (the interactive prompt); the caller holds
/// [`serial`].
pub fn spawn_piped(args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_pktloop"))
        .args(args)
        .env("PKTLOOP_NO_HUGEPAGES", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start pktloop")
}

/// A path for `name` in this test binary's own temporary directory.
pub fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("pktloop-tests-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// A run's stderr.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Runs `args`, expects success and one JSON object on stdout.
pub fn json(args: &[&str]) -> Value {
    let o = pktloop(args);
    assert!(o.status.success(), "{args:?} failed: {}", stderr(&o));
    let text = String::from_utf8(o.stdout).unwrap();
    assert_eq!(text.trim().lines().count(), 1, "{args:?}: stdout must be one JSON line, got {text}");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{args:?}: not JSON ({e}): {text}"))
}

/// Runs `args`, expects exit status 2, exactly one stderr line containing every `needles`, and nothing on
/// stdout.
pub fn usage_error(args: &[&str], needles: &[&str]) {
    let o = pktloop(args);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{args:?}: status {:?}, stderr {err}", o.status);
    assert_eq!(err.lines().count(), 1, "{args:?}: want one line, got {err:?}");
    assert!(!err.contains("panicked") && !err.contains("backtrace"), "{err}");
    for n in needles {
        assert!(err.contains(n), "{args:?}: {err:?} lacks {n:?}");
    }
    assert!(o.stdout.is_empty(), "{args:?}: nothing on stdout, got {}", String::from_utf8_lossy(&o.stdout));
}

/// epb_flags direction bits.
pub const INBOUND: u32 = 1;
/// epb_flags direction bits.
pub const OUTBOUND: u32 = 2;

/// A pcapng capture read back: interface names and snap lengths, then each frame.
pub struct PcapNg {
    /// `if_name` of each interface.
    pub names: Vec<String>,
    /// Snap length of each interface.
    pub snaplens: Vec<u32>,
    /// The frames, in file order.
    pub frames: Vec<NgFrame>,
}

/// One enhanced packet block.
pub struct NgFrame {
    /// Interface id (the run's port index).
    pub port: u32,
    /// epb_flags.
    pub flags: Option<u32>,
    /// Timestamp.
    pub ts: std::time::Duration,
    /// Length on the wire.
    pub orig_len: u32,
    /// Captured bytes.
    pub data: Vec<u8>,
}

impl NgFrame {
    /// Whether its direction is `dir` ([`INBOUND`] or [`OUTBOUND`]).
    pub fn is(&self, dir: u32) -> bool {
        self.flags.map(|f| f & 3) == Some(dir)
    }
}

/// Reads a pcapng capture pktloop wrote (Ethernet, nanosecond timestamps: both checked).
pub fn read_pcapng(path: &Path) -> PcapNg {
    use pcap_file::pcapng::blocks::enhanced_packet::EnhancedPacketOption;
    use pcap_file::pcapng::blocks::interface_description::InterfaceDescriptionOption;
    use pcap_file::pcapng::{Block, PcapNgReader};
    let mut r = PcapNgReader::new(std::fs::File::open(path).unwrap()).unwrap();
    let mut frames = Vec::new();
    while let Some(b) = r.next_block() {
        let Block::EnhancedPacket(p) = b.unwrap() else { continue };
        let flags = p.options.iter().find_map(|o| match o {
            EnhancedPacketOption::Flags(f) => Some(*f),
            _ => None,
        });
        let (port, ts, orig_len) = (p.interface_id, p.timestamp, p.original_len);
        frames.push(NgFrame { port, flags, ts, orig_len, data: p.data.into_owned() });
    }
    let mut names = Vec::new();
    for idb in r.interfaces() {
        assert_eq!(idb.linktype, pcap_file::DataLink::ETHERNET);
        assert!(idb.options.contains(&InterfaceDescriptionOption::IfTsResol(9)), "nanosecond timestamps");
        names.extend(idb.options.iter().find_map(|o| match o {
            InterfaceDescriptionOption::IfName(n) => Some(n.to_string()),
            _ => None,
        }));
    }
    let snaplens = r.interfaces().iter().map(|i| i.snaplen).collect();
    PcapNg { names, snaplens, frames }
}
