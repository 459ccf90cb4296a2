//! An asymmetric barrier for Dekker-style hand-offs between a hot side and a rare side: the pool's
//! thread-cache cells (the owner works, a retiring pool steals) and the input layer's handler slots (the
//! data path enters, a detach retires). The hot side pays only a compiler fence; the rare side pays a
//! `membarrier` system call
//! that makes every running thread of the process execute a full memory barrier. Together they order
//! "store mine, then load theirs" on both sides, as a pair of sequentially consistent fences would, without
//! a locked instruction per burst (which would first wait for every store of the burst, frame copies
//! included, to reach the cache).
//!
//! Where the kernel has no private expedited `membarrier` (or under loom), both sides use real
//! sequentially consistent fences instead.

use crate::primitive::{fence, Ordering};
#[cfg(not(loom))]
use std::sync::atomic::{compiler_fence, AtomicBool};

/// Whether the process registered for private expedited membarriers. Set once, in [`init`], before any
/// pool (and so any cell) exists; every thread that later touches a cell is ordered after that.
#[cfg(not(loom))]
static ASYMMETRIC: AtomicBool = AtomicBool::new(false);

/// `membarrier` commands (linux/membarrier.h).
#[cfg(all(target_os = "linux", not(loom)))]
mod cmd {
    pub const QUERY: libc::c_int = 0;
    pub const PRIVATE_EXPEDITED: libc::c_int = 1 << 3;
    pub const REGISTER_PRIVATE_EXPEDITED: libc::c_int = 1 << 4;
}

/// Registers the process for private expedited membarriers, once (pool and interface creation call it).
pub(crate) fn init() {
    #[cfg(not(loom))]
    {
        static ONCE: std::sync::Once = std::sync::Once::new();
        ONCE.call_once(|| ASYMMETRIC.store(register(), std::sync::atomic::Ordering::Relaxed));
    }
}

#[cfg(all(target_os = "linux", not(loom)))]
fn register() -> bool {
    // SAFETY: membarrier takes two integers and touches no memory of ours.
    let supported = unsafe { libc::syscall(libc::SYS_membarrier, cmd::QUERY, 0) };
    if supported < 0 || supported & libc::c_long::from(cmd::PRIVATE_EXPEDITED) == 0 {
        return false;
    }
    // SAFETY: as above.
    unsafe { libc::syscall(libc::SYS_membarrier, cmd::REGISTER_PRIVATE_EXPEDITED, 0) == 0 }
}

#[cfg(all(not(target_os = "linux"), not(loom)))]
fn register() -> bool {
    false
}

/// The frequent side: orders the caller's earlier stores before its later loads, paired with [`heavy`].
#[inline(always)]
pub(crate) fn light() {
    #[cfg(not(loom))]
    if ASYMMETRIC.load(std::sync::atomic::Ordering::Relaxed) {
        compiler_fence(std::sync::atomic::Ordering::SeqCst);
        return;
    }
    fence(Ordering::SeqCst);
}

/// The rare side: a full barrier on every running thread of the process (or a plain fence, see the module
/// docs).
///
/// # Panics
/// If a registered process's membarrier fails other than for want of memory (the kernel allocates a CPU
/// mask for it and may say ENOMEM, which is retried): it only does for an unregistered process.
pub(crate) fn heavy() {
    #[cfg(all(target_os = "linux", not(loom)))]
    if ASYMMETRIC.load(std::sync::atomic::Ordering::Relaxed) {
        loop {
            // SAFETY: membarrier takes two integers and touches no memory of ours.
            let r = unsafe { libc::syscall(libc::SYS_membarrier, cmd::PRIVATE_EXPEDITED, 0) };
            if r == 0 {
                return;
            }
            let errno = std::io::Error::last_os_error().raw_os_error();
            // A plain fence here would not pair with the other side's compiler fence: wait for memory.
            assert!(matches!(errno, Some(libc::ENOMEM | libc::EINTR)), "membarrier failed: {errno:?}");
            std::thread::yield_now();
        }
    }
    fence(Ordering::SeqCst);
}
