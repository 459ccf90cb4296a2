//! Memory files (memfd) that two processes can map: made sealed at their size, and checked for those seals
//! before a peer's file is mapped. The only libc calls of the shared-memory path live here.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// Seals that fix a file's size and the seals themselves.
const SIZE_SEALS: libc::c_int = libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_SEAL;
/// `statfs.f_type` of hugetlbfs, which backs `MFD_HUGETLB` files.
const HUGETLBFS_MAGIC: libc::c_long = 0x9584_58f6;

/// A new memory file of `len` bytes (2 MiB hugepages when `huge`), sealed so its size never changes.
pub(crate) fn create_sealed(name: &str, len: usize, huge: bool) -> io::Result<OwnedFd> {
    let name = CString::new(format!("pktloop-{name}")).map_err(|_| io::ErrorKind::InvalidInput)?;
    let mut flags = libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING;
    if huge {
        flags |= libc::MFD_HUGETLB | libc::MFD_HUGE_2MB;
    }
    // SAFETY: `name` is a valid NUL-terminated string; memfd_create only reads it.
    let raw = unsafe { libc::memfd_create(name.as_ptr(), flags) };
    if raw < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `raw` is a file descriptor we just opened and own.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    let size = libc::off_t::try_from(len).map_err(|_| io::ErrorKind::InvalidInput)?;
    // SAFETY: plain syscalls on a descriptor we own.
    let sealed = unsafe {
        libc::ftruncate(fd.as_raw_fd(), size) == 0 && libc::fcntl(fd.as_raw_fd(), libc::F_ADD_SEALS, SIZE_SEALS) == 0
    };
    if !sealed {
        return Err(io::Error::last_os_error());
    }
    Ok(fd)
}

/// Checks that a peer's memory file can neither shrink nor have that seal removed, and holds `len` bytes.
pub(crate) fn check_sealed(fd: &OwnedFd, len: usize) -> io::Result<()> {
    // SAFETY: F_GET_SEALS only reads the descriptor's seals.
    let seals = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GET_SEALS) };
    if seals < 0 || seals & (libc::F_SEAL_SHRINK | libc::F_SEAL_SEAL) != libc::F_SEAL_SHRINK | libc::F_SEAL_SEAL {
        return Err(io::Error::new(io::ErrorKind::InvalidData, "the memory file is not sealed against shrinking"));
    }
    // SAFETY: an all-zero stat is a valid value for fstat to overwrite.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: `st` is a valid, writable stat.
    if unsafe { libc::fstat(fd.as_raw_fd(), &mut st) } != 0 {
        return Err(io::Error::last_os_error());
    }
    if (st.st_size as u64) < len as u64 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("the memory file holds {} bytes, fewer than the {len} its peer announced", st.st_size),
        ));
    }
    Ok(())
}

/// Whether the file lives on hugetlbfs (its pages are 2 MiB hugepages).
pub(crate) fn is_hugetlb(fd: &OwnedFd) -> bool {
    // SAFETY: an all-zero statfs is a valid value for fstatfs to overwrite.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: `st` is a valid, writable statfs.
    unsafe { libc::fstatfs(fd.as_raw_fd(), &mut st) == 0 && st.f_type as libc::c_long == HUGETLBFS_MAGIC }
}
