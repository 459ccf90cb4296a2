//! The XDP program that sends an interface's frames to pktloop's sockets, loaded and attached with the
//! bpf(2) system call alone.
//!
//! The program is five instructions, the same as libxdp's default for AF_XDP:
//! `return bpf_redirect_map(&xsks, ctx->rx_queue_index, XDP_PASS);` a frame goes to the socket of the
//! queue it arrived on, and to the kernel's stack when that queue has none. It is attached through a BPF
//! link, so it goes away when the link's fd closes, also when the process dies: the interface is left as
//! it was.

use super::check;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

const BPF_MAP_CREATE: libc::c_long = 0;
const BPF_MAP_UPDATE_ELEM: libc::c_long = 2;
const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_LINK_CREATE: libc::c_long = 28;
const BPF_MAP_TYPE_XSKMAP: u32 = 17;
const BPF_PROG_TYPE_XDP: u32 = 6;
/// Attach type of an XDP program on an interface.
const BPF_XDP: u32 = 37;
const XDP_FLAGS_SKB_MODE: u32 = 1 << 1;
const XDP_FLAGS_DRV_MODE: u32 = 1 << 2;
/// The XDP verdict that hands a frame to the kernel's stack.
const XDP_PASS: i32 = 2;
/// `bpf_redirect_map`'s helper number.
const BPF_FUNC_REDIRECT_MAP: i32 = 51;
/// `offsetof(struct xdp_md, rx_queue_index)`.
const XDP_MD_RX_QUEUE_INDEX: i16 = 16;

/// How the program runs on the interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum XdpAttach {
    /// In the driver, before an skb exists.
    Driver,
    /// Generic XDP: after the kernel built an skb (every interface has it; slower).
    Generic,
}

/// One eBPF instruction (`struct bpf_insn`).
#[repr(C)]
#[derive(Clone, Copy)]
struct Insn {
    code: u8,
    /// Destination register in the low nibble, source in the high one.
    regs: u8,
    off: i16,
    imm: i32,
}

const fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
    Insn { code, regs: dst | (src << 4), off, imm }
}

/// The redirect program, for the map whose fd is `map_fd`.
fn program(map_fd: i32) -> [Insn; 6] {
    const LDX_W: u8 = 0x61; // BPF_LDX | BPF_MEM | BPF_W
    const LD_IMM64: u8 = 0x18; // BPF_LD | BPF_IMM | BPF_DW
    const MOV64_K: u8 = 0xb7; // BPF_ALU64 | BPF_MOV | BPF_K
    const CALL: u8 = 0x85; // BPF_JMP | BPF_CALL
    const EXIT: u8 = 0x95; // BPF_JMP | BPF_EXIT
    const PSEUDO_MAP_FD: u8 = 1;
    [
        insn(LDX_W, 2, 1, XDP_MD_RX_QUEUE_INDEX, 0), // r2 = ctx->rx_queue_index
        insn(LD_IMM64, 1, PSEUDO_MAP_FD, 0, map_fd), // r1 = &xsks (two slots)
        insn(0, 0, 0, 0, 0),
        insn(MOV64_K, 3, 0, 0, XDP_PASS), // r3 = the verdict when the queue has no socket
        insn(CALL, 0, 0, 0, BPF_FUNC_REDIRECT_MAP),
        insn(EXIT, 0, 0, 0, 0),
    ]
}

/// The part of `union bpf_attr` that BPF_MAP_CREATE reads.
#[repr(C)]
#[derive(Default)]
struct MapCreate {
    map_type: u32,
    key_size: u32,
    value_size: u32,
    max_entries: u32,
    map_flags: u32,
}

/// The part of `union bpf_attr` that BPF_PROG_LOAD reads.
#[repr(C)]
#[derive(Default)]
struct ProgLoad {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    prog_name: [u8; 16],
}

/// The part of `union bpf_attr` that BPF_MAP_UPDATE_ELEM reads.
#[repr(C)]
#[derive(Default)]
struct MapUpdate {
    map_fd: u32,
    _pad: u32,
    key: u64,
    value: u64,
    flags: u64,
}

/// The part of `union bpf_attr` that BPF_LINK_CREATE reads.
#[repr(C)]
#[derive(Default)]
struct LinkCreate {
    prog_fd: u32,
    target_ifindex: u32,
    attach_type: u32,
    flags: u32,
}

/// Calls bpf(2) with `attr`, returning a new fd (or 0 for commands that make none).
///
/// # Safety
/// `attr` is the `bpf_attr` layout `cmd` reads, and every pointer in it is valid for what `cmd` does with
/// it during the call.
unsafe fn bpf<T>(cmd: libc::c_long, attr: &mut T) -> io::Result<libc::c_int> {
    // SAFETY: forwarded contract; the size passed is the struct's, which the kernel reads no further than.
    let ret = unsafe { libc::syscall(libc::SYS_bpf, cmd, attr as *mut T, std::mem::size_of::<T>()) };
    check(ret as libc::c_int)
}

/// [`bpf`] for the commands that make an fd (a map, a program, a link), which the result owns.
///
/// # Safety
/// As for [`bpf`], and `cmd` is one whose success value is a new fd.
unsafe fn bpf_new_fd<T>(cmd: libc::c_long, attr: &mut T) -> io::Result<OwnedFd> {
    // SAFETY: forwarded contract.
    let fd = unsafe { bpf(cmd, attr) }?;
    // SAFETY: `cmd` made `fd` just now (the contract), and nobody else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// An XSKMAP with `entries` slots, one per rx queue index.
pub fn xsk_map(entries: u32) -> io::Result<OwnedFd> {
    let mut attr =
        MapCreate { map_type: BPF_MAP_TYPE_XSKMAP, key_size: 4, value_size: 4, max_entries: entries, map_flags: 0 };
    // SAFETY: `attr` is BPF_MAP_CREATE's layout and holds no pointers; the command makes a map fd.
    unsafe { bpf_new_fd(BPF_MAP_CREATE, &mut attr) }
}

/// Puts socket `xsk` in slot `queue` of `map`.
pub fn set_xsk(map: &OwnedFd, queue: u32, xsk: &OwnedFd) -> io::Result<()> {
    let key = queue;
    let value = xsk.as_raw_fd() as u32;
    let mut attr = MapUpdate {
        map_fd: map.as_raw_fd() as u32,
        key: &key as *const u32 as u64,
        value: &value as *const u32 as u64,
        ..MapUpdate::default()
    };
    // SAFETY: `attr` is BPF_MAP_UPDATE_ELEM's layout; key and value point at live u32s for the call.
    unsafe { bpf(BPF_MAP_UPDATE_ELEM, &mut attr) }.map(drop)
}

/// Loads the redirect program over `map`. On a verifier refusal the error carries the verifier's log.
pub fn load_redirect(map: &OwnedFd) -> io::Result<OwnedFd> {
    let insns = program(map.as_raw_fd());
    let license = c"GPL";
    let mut log = [0u8; 4096];
    let mut attr = ProgLoad {
        prog_type: BPF_PROG_TYPE_XDP,
        insn_cnt: insns.len() as u32,
        insns: insns.as_ptr() as u64,
        license: license.as_ptr() as u64,
        log_level: 1,
        log_size: log.len() as u32,
        log_buf: log.as_mut_ptr() as u64,
        prog_name: *b"pktloop_xsk\0\0\0\0\0",
        ..ProgLoad::default()
    };
    // SAFETY: `attr` is BPF_PROG_LOAD's layout; the instructions, the license and the log buffer live until
    // the call returns, and the log's size is its length; the command makes a program fd.
    let ret = unsafe { bpf_new_fd(BPF_PROG_LOAD, &mut attr) };
    ret.map_err(|e| {
        let text = String::from_utf8_lossy(&log[..log.iter().position(|&b| b == 0).unwrap_or(0)]).into_owned();
        if text.trim().is_empty() {
            e
        } else {
            io::Error::new(e.kind(), format!("{e}; verifier: {}", text.trim()))
        }
    })
}

/// Attaches `prog` to interface `ifindex` through a BPF link, in the first of `modes` the interface takes.
/// The program stays attached until the returned fd closes.
///
/// # Errors
/// The last refusal when no mode works (EBUSY, another program is attached, at once).
pub fn attach(prog: &OwnedFd, ifindex: u32, modes: &[XdpAttach]) -> io::Result<(OwnedFd, XdpAttach)> {
    let link = |flags| {
        let mut attr =
            LinkCreate { prog_fd: prog.as_raw_fd() as u32, target_ifindex: ifindex, attach_type: BPF_XDP, flags };
        // SAFETY: `attr` is BPF_LINK_CREATE's layout and holds no pointers; the command makes a link fd.
        unsafe { bpf_new_fd(BPF_LINK_CREATE, &mut attr) }
    };
    let mut refused = io::Error::from_raw_os_error(libc::EOPNOTSUPP);
    for &mode in modes {
        let flags = match mode {
            XdpAttach::Driver => XDP_FLAGS_DRV_MODE,
            XdpAttach::Generic => XDP_FLAGS_SKB_MODE,
        };
        match link(flags) {
            Ok(fd) => return Ok((fd, mode)),
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) => return Err(e),
            Err(e) => refused = e,
        }
    }
    Err(refused)
}
