//! The kernel side of the TAP benchmark (`scripts/bench.sh tap`): sends frames into an interface as fast as
//! an AF_PACKET socket allows (sendmmsg, 64 frames per call, qdisc bypassed), so the kernel hands them to
//! whatever reads the TAP interface. The reader's speed is then what the interface's `tx_packets` counter
//! shows (the kernel counts a frame there when user space reads it).
//!
//! ```text
//! kernelgen IFNAME FRAME_LEN SECONDS      (run inside the interface's namespace)
//! ```
//!
//! Prints the frames it handed to the kernel.

use std::time::{Duration, Instant};

/// Frames per sendmmsg.
const BATCH: usize = 64;

fn fail(what: &str) -> ! {
    eprintln!("kernelgen: {what}: {}", std::io::Error::last_os_error());
    std::process::exit(1);
}

/// A raw packet socket bound to `ifname`, bypassing the qdisc.
fn socket(ifname: &str) -> i32 {
    let name = std::ffi::CString::new(ifname).unwrap_or_else(|_| fail("interface name"));
    // SAFETY: the name is NUL-terminated.
    let index = unsafe { libc::if_nametoindex(name.as_ptr()) };
    if index == 0 {
        fail(ifname);
    }
    let proto = (libc::ETH_P_ALL as u16).to_be();
    // SAFETY: socket has no preconditions.
    let fd = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW, i32::from(proto)) };
    if fd < 0 {
        fail("socket");
    }
    // SAFETY: sockaddr_ll is plain old data; zeroes are a valid start.
    let mut addr: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    addr.sll_family = libc::AF_PACKET as u16;
    addr.sll_protocol = proto;
    addr.sll_ifindex = index as i32;
    let len = std::mem::size_of::<libc::sockaddr_ll>() as u32;
    // SAFETY: `addr` is a sockaddr_ll of `len` bytes.
    if unsafe { libc::bind(fd, (&raw const addr).cast(), len) } < 0 {
        fail("bind");
    }
    let one: i32 = 1;
    // SAFETY: PACKET_QDISC_BYPASS reads one int.
    unsafe { libc::setsockopt(fd, libc::SOL_PACKET, libc::PACKET_QDISC_BYPASS, (&raw const one).cast(), 4) };
    fd
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 4 {
        eprintln!("usage: kernelgen IFNAME FRAME_LEN SECONDS");
        std::process::exit(2);
    }
    let len: usize = args[2].parse().unwrap_or_else(|_| fail("FRAME_LEN"));
    let secs: f64 = args[3].parse().unwrap_or_else(|_| fail("SECONDS"));
    let fd = socket(&args[1]);
    // Broadcast, a locally administered source, the local experimental EtherType.
    let mut frame: Vec<u8> = (0..len.max(60)).map(|i| i as u8).collect();
    frame[..6].fill(0xff);
    frame[6..12].copy_from_slice(&[2, 0, 0, 0, 0, 1]);
    frame[12..14].copy_from_slice(&[0x88, 0xb5]);
    let mut iov = libc::iovec { iov_base: frame.as_mut_ptr().cast(), iov_len: frame.len() };
    // SAFETY: mmsghdr is plain old data; zeroes are a valid start.
    let mut msgs: Vec<libc::mmsghdr> = (0..BATCH).map(|_| unsafe { std::mem::zeroed() }).collect();
    for m in &mut msgs {
        m.msg_hdr.msg_iov = &raw mut iov;
        m.msg_hdr.msg_iovlen = 1;
    }
    let end = Instant::now() + Duration::from_secs_f64(secs);
    let mut sent = 0u64;
    while Instant::now() < end {
        // SAFETY: every message points at `iov`, which describes `frame`; both outlive the call.
        let n = unsafe { libc::sendmmsg(fd, msgs.as_mut_ptr(), BATCH as u32, 0) };
        if n > 0 {
            sent += n as u64;
        }
    }
    println!("{sent}");
}
