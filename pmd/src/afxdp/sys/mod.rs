//! Every system call and raw-memory access of the AF_XDP driver: the XDP program and its map ([`bpf`]),
//! the XDP socket and its UMEM ([`socket`]) and the rings shared with the kernel ([`ring`]). The rest of
//! the driver has no raw-memory or system-call code: its `unsafe` is calls of `unsafe fn`s (these, the
//! pool's for packets over lent buffers, and the UMEM's `reclaim_all`, whose contract is the kernel's
//! letting go), each with the SAFETY line its contract asks for; the interface itself is looked at
//! through [`crate::netdev`].

pub mod bpf;
pub mod ring;
pub mod socket;

use std::io;

/// Result of a call that returns -1 and sets errno.
fn check(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}
