//! The TAP port, after NetBSD's tap(4): a virtual Ethernet interface of the Linux kernel whose frames
//! pktloop reads and writes through /dev/net/tun, so the engine exchanges real frames with the kernel's
//! network stack (ping, ARP, packet sockets, routing).
//!
//! - [`TapPort::open`] creates the interface (a given name, or `pktloop%d` for the kernel to number),
//!   non-blocking, without packet information, with one fd per queue (`IFF_MULTI_QUEUE`) when asked for
//!   more than one; it brings the interface up, sets its MTU and, if given, its MAC address. The interface
//!   is not persistent: it disappears when the port is dropped.
//! - Bursts move with io_uring where the kernel has it (a whole burst of reads or writes per system
//!   call) and with one readv/writev per frame where it does not ([`Io`], logged once and reported).
//!   Frames longer than one buflet arrive as multi-buflet packets.
//! - Bad frames from the kernel side (shorter than an Ethernet header, longer than MTU + 18) are counted
//!   as `ierrors` and [`DropReason::BadFrame`](pktloop_engine::port::DropReason) and freed; frames the
//!   kernel refuses are counted as `oerrors`; an empty pool counts `rx_nombuf` and leaves frames in the
//!   kernel.
//!
//! All system calls are in [`sys`]; [`queue`] moves the bursts of one queue; [`port`] is the port.

mod error;
#[cfg(any(test, fuzzing))]
pub mod exercise;
mod port;
mod queue;
mod sys;

pub use error::TapError;
pub use port::{TapConfig, TapCounters, TapPort, DEFAULT_NAME, MAX_QUEUES};
pub use queue::Io;
pub use sys::enter_new_netns;

/// Whether this process can create TAP interfaces here, and if not, why (for tests and tools that skip).
pub fn unavailable() -> Option<TapError> {
    if !std::path::Path::new("/dev/net/tun").exists() {
        return Some(TapError::NoDevice);
    }
    if !sys::has_net_admin() {
        return Some(TapError::NotPermitted { name: DEFAULT_NAME.to_owned() });
    }
    None
}
