//! The soaks: long runs under injected faults after which every frame is accounted for, per port and per
//! reason, and every pool has all its buffers back. Each prints its figures. `PKTLOOP_SOAK_SECS` (default 1)
//! is a round's length: about ten seconds in all in CI; set it higher for a longer soak.
//!
//! - [`feth`]: two threads pinned to two cores send and receive across a feth pair (the sender's port
//!   wrapped in a fault injector that drops, truncates, corrupts and refuses frames) while the main thread
//!   injects faults at random moments: the peer cleared and set again, the receiver's dequeue stalled and
//!   released, the link set down and up, the receiver stopped until its ring fills, the sender's pool
//!   nearly emptied, the MTU changed, expiry deadlines in the past, and at the end of each round a port
//!   destroyed (the next round makes a new pair). It runs every pool mode with WMM and multi-buflet on and
//!   off, 10 rounds; multi-buflet rounds carry frames up to the largest MTU, chained over several buflets.
//!   At the end of each round, per port and per reason: frames the sender's port took = sent + dropped by
//!   reason; frames sent = received + dropped by reason on the receiver.
//! - [`shm`]: the shm pair (both sides in this process), its client leaving and connecting again at random
//!   moments; a round lasts twice `PKTLOOP_SOAK_SECS`.
//! - [`dlil`]: the input layer. The receiving feth port wrapped in a dlil `Interface` (polled by a pinned
//!   thread or by its own input thread, in every pool mode) while a fault thread attaches and detaches an
//!   input filter (passing, dropping and consuming frames by their id) and the protocol handler for the
//!   sender's EtherType; per reason, every frame is accounted for from the sender to the handler.
//! - [`tap`] (root only; it prints why it skipped elsewhere): a TAP port in a namespace of its own. pktloop
//!   sends ARP and ICMP echo requests to the kernel and answers its ARP requests while a fault thread sets
//!   the link down and up (`ip link set`, and carrier through the port); the port's counters, per reason,
//!   must match the kernel's. Each TAP round lasts twice `PKTLOOP_SOAK_SECS`, two rounds (io_uring and
//!   readv/writev).
//!
//! What the soaks share (round length, pinning, the sending and receiving loops, fault helpers) is in
//! [`common`]; each soak uses it and never another soak.

/// The helpers every feth integration test shares (`tests/common`), named apart from this soak's own
/// [`common`].
#[path = "../common/mod.rs"]
mod shared;

#[path = "../kernel/mod.rs"]
mod kernel;

mod common;
mod dlil;
mod feth;
mod shm;
mod tap;
