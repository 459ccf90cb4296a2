//! The shared-memory port: a crossed pair whose two ports live in two processes, after DPDK's memif and
//! netmap's pipes, built to survive the other process crashing.
//!
//! - A server binds a Unix-domain socket path ([`ShmConfig::path`]); a client connects to it. The socket
//!   carries the handshake (settings compared, a mismatch refused naming the setting and both values),
//!   three memory files (each side's pool, and the channel with the rings, made fresh per connection)
//!   and, by closing, the end of the connection; packets never touch it (`control.rs`, `handshake.rs`).
//! - Each side's pool lives in its own sealed memory file, from hugepages when reserved; the peer maps it.
//!   Sending lends buffers: a packet of the port's pool crosses as ring entries naming its buffers (a
//!   multi-buflet packet as one entry per buflet), and the peer makes packets of them in place; freed, they
//!   come back through the peer's give-back ring (`session/send.rs`, `session/receive.rs`). A packet of the
//!   peer's buffers sent back goes home in them (an echo copies nothing); packets of other pools are copied
//!   into the port's pool first (counted). Slots are eight bytes per buflet (`entry.rs`).
//! - The peer is untrusted: ring indices that are impossible end the connection; an entry naming a buffer
//!   out of range, one already given, or a window beyond its buffer is counted (`ierrors`,
//!   `bad_descriptor`) and skipped; a give-back of a buffer not lent is refused. Ledgers of what crossed
//!   make that possible and let a side take back every buffer a dead peer held (`ledger.rs`). The pools'
//!   free lists and descriptors live in private memory, so a peer writing into buffers cannot make this
//!   side lose or double-own one.
//! - What zero copy leaves open: the buffers themselves are mapped read-write in both processes, and a
//!   packet's bytes are handed out as `&[u8]` / `&mut [u8]`. A peer that keeps writing into a buffer it
//!   lent (or into one of this side's it never had) changes bytes under those references, which Rust's
//!   model does not allow for: the compiler may take a byte checked once to be the same when it is used,
//!   so a bounds check resting on it is not a guarantee. An application that must hold against a hostile
//!   peer (not merely a crashing one) copies each frame into a pool of its own before parsing it, as memif
//!   and netmap applications do. Crash safety and the checks above (ring indices, ledgers, lengths, all
//!   read through atomics) do not depend on the bytes of buffers.
//! - A peer's death closes its socket: the control thread sees it at once and the link goes down; the
//!   port's next poll takes back its buffers and counts the packets the peer never took off the ring as
//!   `peer_lost`, and the server accepts the next client.

// Under loom only the ring is built, to be model-checked: the rest lays real shared memory out for
// `core` atomics, which loom's are not.
#[cfg(not(loom))]
mod control;
#[cfg(not(loom))]
mod counters;
#[cfg(not(loom))]
mod entry;
#[cfg(not(loom))]
mod error;
#[cfg(not(loom))]
mod handshake;
#[cfg(not(loom))]
mod hello;
#[cfg(not(loom))]
mod layout;
#[cfg(not(loom))]
mod ledger;
#[cfg(not(loom))]
mod port;
mod ring;
#[cfg(not(loom))]
mod session;
#[cfg(not(loom))]
mod sys;
#[cfg(not(loom))]
mod taken;
#[cfg(not(loom))]
mod tally;
#[cfg(all(test, not(loom)))]
mod tests;

#[cfg(not(loom))]
pub use counters::ShmCounters;
#[cfg(not(loom))]
pub use error::ShmError;
#[cfg(not(loom))]
pub use hello::{BadMessage, PROTOCOL_VERSION};
#[cfg(not(loom))]
pub use layout::Role;
#[cfg(not(loom))]
pub use port::{ShmConfig, ShmPort, RING_SIZES};
