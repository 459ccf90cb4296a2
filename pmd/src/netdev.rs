//! An existing network interface, looked at by name from the calling thread's network namespace: its
//! index, flags, MTU and hardware address, and its name again by index after a rename. The drivers that
//! bind to real interfaces (AF_PACKET, AF_XDP) use it to check an interface before they open it and to
//! follow its link state; these are all their interface ioctls.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// Longest interface name, without the terminating NUL (IFNAMSIZ - 1).
pub const MAX_NAME: usize = libc::IFNAMSIZ - 1;

/// An interface and a datagram socket of its namespace for its ioctls.
#[derive(Debug)]
pub struct NetDev {
    name: String,
    index: u32,
    sock: OwnedFd,
}

/// Result of a call that returns -1 and sets errno.
fn check(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

impl NetDev {
    /// Finds interface `name` (at most [`MAX_NAME`] bytes, checked by the caller).
    ///
    /// # Errors
    /// ENODEV when there is no such interface here.
    pub fn find(name: &str) -> io::Result<NetDev> {
        // SAFETY: socket has no preconditions.
        let raw = check(unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) })?;
        // SAFETY: `raw` was just made and is owned by nobody else.
        let sock = unsafe { OwnedFd::from_raw_fd(raw) };
        let mut req = ifreq(name);
        // SAFETY: SIOCGIFINDEX writes one ifreq, which `req` is.
        check(unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFINDEX, &mut req) })?;
        // SAFETY: the kernel filled the ifindex member of the union.
        let index = unsafe { req.ifr_ifru.ifru_ifindex } as u32;
        Ok(NetDev { name: name.to_owned(), index, sock })
    }

    /// The interface's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The interface's index.
    pub fn index(&self) -> u32 {
        self.index
    }

    /// Interface flags (IFF_UP, IFF_RUNNING, ...).
    pub fn flags(&self) -> io::Result<i32> {
        let mut req = ifreq(&self.name);
        // SAFETY: SIOCGIFFLAGS writes one ifreq, which `req` is.
        check(unsafe { libc::ioctl(self.sock.as_raw_fd(), libc::SIOCGIFFLAGS, &mut req) })?;
        // SAFETY: the kernel filled the flags member of the union.
        Ok(i32::from(unsafe { req.ifr_ifru.ifru_flags }) & 0xffff)
    }

    /// Up and running: administratively up, with carrier.
    pub fn is_running(&self) -> bool {
        self.flags().is_ok_and(|f| f & libc::IFF_UP != 0 && f & libc::IFF_RUNNING != 0)
    }

    /// The MTU.
    pub fn mtu(&self) -> io::Result<u32> {
        let mut req = ifreq(&self.name);
        // SAFETY: SIOCGIFMTU writes one ifreq, which `req` is.
        check(unsafe { libc::ioctl(self.sock.as_raw_fd(), libc::SIOCGIFMTU, &mut req) })?;
        // SAFETY: the kernel filled the mtu member of the union.
        Ok(unsafe { req.ifr_ifru.ifru_mtu } as u32)
    }

    /// The Ethernet address.
    pub fn mac(&self) -> io::Result<[u8; 6]> {
        Ok(self.hw_addr()?.0)
    }

    /// The hardware address (its first six bytes) and the link type it belongs to (`ARPHRD_*`:
    /// `ARPHRD_ETHER` for Ethernet).
    pub fn hw_addr(&self) -> io::Result<([u8; 6], u16)> {
        let mut req = ifreq(&self.name);
        // SAFETY: SIOCGIFHWADDR writes one ifreq, which `req` is.
        check(unsafe { libc::ioctl(self.sock.as_raw_fd(), libc::SIOCGIFHWADDR, &mut req) })?;
        // SAFETY: the kernel filled the hwaddr member of the union.
        let addr = unsafe { req.ifr_ifru.ifru_hwaddr };
        Ok((std::array::from_fn(|i| addr.sa_data[i] as u8), addr.sa_family))
    }

    /// Finds the interface's current name again from its index (SIOCGIFNAME): it may have been renamed
    /// since it was found, and the other calls go by name (they fail with ENODEV after a rename).
    ///
    /// # Errors
    /// ENODEV when the index is gone (the interface was deleted or moved to another namespace); the name
    /// is then left as it was.
    pub fn refresh_name(&mut self) -> io::Result<()> {
        let mut req = ifreq("");
        req.ifr_ifru.ifru_ifindex = self.index as libc::c_int;
        // SAFETY: SIOCGIFNAME reads the ifindex member of one ifreq and writes its name, which `req` is.
        check(unsafe { libc::ioctl(self.sock.as_raw_fd(), libc::SIOCGIFNAME, &mut req) })?;
        let bytes: Vec<u8> = req.ifr_name.iter().take_while(|&&c| c != 0).map(|&c| c as u8).collect();
        self.name = String::from_utf8_lossy(&bytes).into_owned();
        Ok(())
    }
}

/// An `ifreq` naming `name`.
fn ifreq(name: &str) -> libc::ifreq {
    // SAFETY: ifreq is plain old data (arrays and a union of integers and arrays); all zeroes is valid.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, &src) in req.ifr_name.iter_mut().zip(name.as_bytes().iter().take(MAX_NAME)) {
        *dst = src as libc::c_char;
    }
    req
}
