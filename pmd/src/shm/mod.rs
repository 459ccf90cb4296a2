//! The shared-memory port: a crossed pair whose two ports live in two processes, after DPDK's memif and
//! netmap's pipes, built to survive the other process crashing.
//!
//! - A server binds a Unix-domain socket path ([`ShmConfig::path`]); a client connects to it. The socket
//!   carries the handshake (settings compared, a mismatch refused naming the setting and both values),
//!   three memory files (each side's pool, and the channel with the rings, made fresh per connection)
//!   and, by closing, the end of the connection; packets never touch it ([`control`], [`handshake`]).
//! - Each side's pool lives in its own sealed memory file, from hugepages when reserved; the peer maps it.
//!   Sending lends buffers: a packet of the port's pool crosses as ring entries naming its buffers (a
//!   multi-buflet packet as one entry per buflet), and the peer makes packets of them in place; freed, they
//!   come back through the peer's give-back ring ([`session`]). Packets of other pools are copied into
//!   the port's pool first (counted).
//! - The peer is untrusted: ring indices that are impossible end the connection; an entry naming a buffer
//!   out of range, one already given, or a window beyond its buffer is counted (`ierrors`,
//!   `bad_descriptor`) and skipped; a give-back of a buffer not lent is refused. Ledgers of what crossed
//!   make that possible and let a side take back every buffer a dead peer held ([`ledger`]). The pools'
//!   free lists live in private memory, so writing into buffers corrupts data at worst.
//! - A peer's death closes its socket: the control thread sees it at once and the link goes down; the
//!   port's next poll takes back its buffers and counts the packets the peer never took off the ring as
//!   `peer_lost`, and the server accepts the next client.

mod control;
mod error;
mod handshake;
mod hello;
mod layout;
mod ledger;
mod port;
mod ring;
mod session;
mod sys;

pub use error::ShmError;
pub use hello::{BadMessage, PROTOCOL_VERSION};
pub use layout::Role;
pub use port::{ShmConfig, ShmPort, RING_SIZES};
pub use session::ShmCounters;
