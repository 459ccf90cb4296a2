//! Helpers for tests that talk to the Linux kernel (`mod kernel;` in each such test file): a network
//! namespace that removes itself, commands run inside it, and the reason a test cannot run here.
//!
//! Rules these helpers keep: every test makes its own namespace and moves its interfaces there, uses
//! addresses from the benchmark range 198.18.0.0/15 only inside it, and the namespace (with whatever is in
//! it) is deleted when the guard drops, even when the test fails.
#![allow(dead_code)]

use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// Why kernel tests cannot run here (no root, no /dev/net/tun, no `ip`), or None when they can.
pub fn skip_reason() -> Option<String> {
    if let Some(e) = pktloop_pmd::tap::unavailable() {
        return Some(e.to_string());
    }
    match Command::new("ip").arg("-V").output() {
        Ok(o) if o.status.success() => None,
        _ => Some("the `ip` command (iproute2) is not installed".to_owned()),
    }
}

/// Returns early from a test, printing why, when kernel tests cannot run here.
#[macro_export]
macro_rules! require_kernel {
    () => {
        if let Some(why) = kernel::skip_reason() {
            eprintln!("skipped: {why}");
            return;
        }
    };
}

/// A unique short tag for names (interfaces have at most 15 bytes).
pub fn tag() -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!("{}{}", std::process::id() % 100_000, NEXT.fetch_add(1, Ordering::Relaxed))
}

/// Runs `cmd args`, panicking with its output if it fails.
pub fn run(cmd: &str, args: &[&str]) -> Output {
    let out = Command::new(cmd).args(args).output().unwrap_or_else(|e| panic!("{cmd} {args:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd} {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A network namespace, deleted on drop (its interfaces go with it).
#[derive(Debug)]
pub struct Netns {
    /// Its name.
    pub name: String,
}

impl Netns {
    /// A new namespace with IPv6 off (so the kernel sends no router or neighbour solicitations that
    /// would muddle frame counts) and loopback up.
    pub fn new() -> Netns {
        let name = format!("pktloop-t{}", tag());
        run("ip", &["netns", "add", &name]);
        let ns = Netns { name };
        ns.exec(&["sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"]);
        ns.exec(&["sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1"]);
        ns.exec(&["ip", "link", "set", "lo", "up"]);
        ns
    }

    /// Moves interface `ifname` (in this process's namespace) into this one, gives it `addr` (CIDR) and
    /// brings it up.
    pub fn adopt(&self, ifname: &str, addr: &str) {
        run("ip", &["link", "set", "dev", ifname, "netns", &self.name]);
        self.exec(&["ip", "addr", "add", addr, "dev", ifname]);
        self.exec(&["ip", "link", "set", "dev", ifname, "up"]);
    }

    /// Runs `f` on a thread that has entered this namespace (setns affects only the calling thread), and
    /// returns what it returns. Sockets made inside `f` stay in this namespace afterwards, wherever they
    /// are used; a panic inside `f` is the test's failure.
    pub fn enter<T: Send>(&self, f: impl FnOnce() -> T + Send) -> T {
        let path = format!("/var/run/netns/{}", self.name);
        std::thread::scope(|s| {
            s.spawn(|| {
                let file = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
                // SAFETY: setns takes an fd of a namespace file, which `file` is for as long as the call.
                let ret = unsafe { libc::setns(std::os::fd::AsRawFd::as_raw_fd(&file), libc::CLONE_NEWNET) };
                assert_eq!(ret, 0, "setns {path}: {}", std::io::Error::last_os_error());
                f()
            })
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        })
    }

    /// Runs a command inside the namespace, panicking if it fails.
    pub fn exec(&self, argv: &[&str]) -> Output {
        let mut args = vec!["netns", "exec", &self.name];
        args.extend_from_slice(argv);
        run("ip", &args)
    }

    /// Runs a command inside the namespace and returns its output whatever its status.
    pub fn try_exec(&self, argv: &[&str]) -> Output {
        Command::new("ip").args(["netns", "exec", &self.name]).args(argv).output().expect("ip netns exec")
    }

    /// A counter of `/sys/class/net/IF/statistics` as the namespace sees it.
    pub fn stat(&self, ifname: &str, counter: &str) -> u64 {
        let path = format!("/sys/class/net/{ifname}/statistics/{counter}");
        let out = self.exec(&["cat", &path]);
        String::from_utf8_lossy(&out.stdout).trim().parse().expect("a counter")
    }

    /// Sends `frames` out of `ifname`, in order, through a raw packet socket inside the namespace (as hex
    /// in a python3 command line, several commands when there are many frames).
    pub fn inject(&self, ifname: &str, frames: &[Vec<u8>]) {
        // One command-line argument holds at most 128 KiB: send the hex in chunks well under that.
        let mut start = 0;
        while start < frames.len() {
            let mut end = start;
            let mut hex = 0;
            while end < frames.len() && (end == start || hex + frames[end].len() * 2 < 48 << 10) {
                hex += frames[end].len() * 2 + 4;
                end += 1;
            }
            self.inject_once(ifname, &frames[start..end]);
            start = end;
        }
    }

    fn inject_once(&self, ifname: &str, frames: &[Vec<u8>]) {
        let hex: Vec<String> = frames.iter().map(|f| f.iter().map(|b| format!("{b:02x}")).collect()).collect();
        let script = format!(
            "import socket\ns = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)\ns.bind(({ifname:?}, 0))\n\
             for h in {hex:?}:\n    s.send(bytes.fromhex(h))\n"
        );
        self.exec(&["python3", "-c", &script]);
    }

    /// The Ethernet address of `ifname` as the namespace sees it.
    pub fn mac(&self, ifname: &str) -> [u8; 6] {
        let out = self.exec(&["cat", &format!("/sys/class/net/{ifname}/address")]);
        let text = String::from_utf8_lossy(&out.stdout);
        let bytes: Vec<u8> = text.trim().split(':').map(|h| u8::from_str_radix(h, 16).unwrap()).collect();
        bytes.try_into().unwrap()
    }

    /// Waits until `ifname` reports operational state `state` (`up`, `down`, ...), panicking after
    /// `patience`.
    pub fn wait_operstate(&self, ifname: &str, state: &str, patience: Duration) {
        let deadline = Instant::now() + patience;
        loop {
            let out = self.exec(&["cat", &format!("/sys/class/net/{ifname}/operstate")]);
            if String::from_utf8_lossy(&out.stdout).trim() == state {
                return;
            }
            assert!(Instant::now() < deadline, "{ifname} never became {state}");
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// A veth pair with end `a` in namespace `ns_a` and end `b` in `ns_b`, both up, without addresses; the
/// pair goes when either namespace is deleted.
pub fn veth_pair(a: &str, ns_a: &Netns, b: &str, ns_b: &Netns) {
    ns_a.exec(&["ip", "link", "add", a, "type", "veth", "peer", "name", b, "netns", &ns_b.name]);
    ns_a.exec(&["ip", "link", "set", "dev", a, "up"]);
    ns_b.exec(&["ip", "link", "set", "dev", b, "up"]);
}

/// Two namespaces joined by a veth pair: end `a` (198.18.0.1/24, the kernel's side in most tests) in
/// `ns_a` and end `b` (no address) in `ns_b`. Both namespaces, and the pair, go when it drops.
#[derive(Debug)]
pub struct Wire {
    /// The end in `ns_a`.
    pub a: String,
    /// The end in `ns_b`.
    pub b: String,
    /// Namespace of `a`.
    pub ns_a: Netns,
    /// Namespace of `b`.
    pub ns_b: Netns,
}

impl Wire {
    /// A new wire with unique names.
    pub fn new() -> Wire {
        let (ns_a, ns_b) = (Netns::new(), Netns::new());
        let t = tag();
        let (a, b) = (format!("xa{t}"), format!("xb{t}"));
        veth_pair(&a, &ns_a, &b, &ns_b);
        ns_a.exec(&["ip", "addr", "add", "198.18.0.1/24", "dev", &a]);
        Wire { a, b, ns_a, ns_b }
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.name]).status();
    }
}

/// A queue `port` does not have receives nothing and takes nothing, and neither call panics; the packet
/// offered goes back to `pool`.
pub fn check_missing_queues(port: &mut dyn pktloop_engine::Port, pool: &pktloop_engine::Pool) {
    let mut burst = pktloop_engine::PacketBurst::new();
    assert_eq!(port.rx_burst(port.rx_queues(), &mut burst, 32), 0, "rx from a queue past the last");
    assert!(burst.is_empty());
    assert!(pool.alloc_bulk(&mut burst, 1));
    assert_eq!(port.tx_burst(port.tx_queues(), &mut burst), 0, "tx on a queue past the last");
    assert_eq!(burst.len(), 1, "the packet stays with the caller");
    pktloop_engine::packet::free_burst(&mut burst);
}
