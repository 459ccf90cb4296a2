//! The transmit side of one queue: the socket's memory-mapped tx ring.
//!
//! [`TxRing::tx_burst`] copies each packet into the next free frame, marks it for sending and frees the
//! packet, then asks the kernel to send the whole burst with one `sendto(fd, NULL, 0, MSG_DONTWAIT)`. The
//! kernel walks the frames marked for sending in ring order from its own position, which this side follows
//! as `head`: the frames between `head` and `cursor` are the ones handed over and not yet taken.
//!
//! What can happen to a frame handed over:
//! - the kernel takes it (SENDING, then AVAILABLE again once sent): counted sent when `head` passes it;
//! - it stays marked (the socket's send buffer or the device queue was full): the next burst's `sendto`
//!   sends it, before the new ones;
//! - the kernel refuses it (WRONG_FORMAT: a length it does not accept, such as an untagged frame longer than
//!   MTU + 14) and stops there, its position on that frame. The frame is counted and taken back, the frames
//!   behind it move up one slot (so the kernel's position holds the next of them), and `sendto` runs again;
//! - the interface is down or gone (`sendto` fails with ENETDOWN or ENXIO before looking at any frame,
//!   twice: see [`TxRing::flush`]): everything handed over is taken back and counted, as a down TAP port
//!   counts its frames.

use super::sys::RingSocket;
use pktloop_engine::port::PacketBurst;
use pktloop_engine::Packet;
use std::ops::RangeInclusive;

/// What one tx burst did.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct TxDone {
    /// Packets taken from the front of the burst (copied into the ring, or dropped as bad).
    pub taken: usize,
    /// Frames the kernel took (of this burst or earlier ones).
    pub sent: u64,
    /// Their bytes.
    pub bytes: u64,
    /// Packets dropped before the ring: shorter than a header or longer than the limit.
    pub bad: u64,
    /// Frames the kernel refused (WRONG_FORMAT).
    pub refused: u64,
    /// Frames taken back because the interface is down or gone.
    pub down: u64,
    /// `sendto` calls.
    pub syscalls: u64,
    /// The kernel said ENOBUFS: the device dropped a frame, which it does while up without a carrier
    /// (with the qdisc bypassed), the frame left marked to send; the port looks at the link.
    pub no_buffers: bool,
}

/// Where a queue is in its tx ring.
#[derive(Debug)]
pub(super) struct TxRing {
    frames: u32,
    /// The next frame to fill.
    cursor: u32,
    /// The oldest frame handed over and not yet taken by the kernel: the kernel's own position.
    head: u32,
    /// Frames from `head` to `cursor` (all of them when equal to `frames`).
    pending: u32,
    /// Length of the frame in each slot, for the byte count when it is sent.
    lens: Box<[u32]>,
}

impl TxRing {
    /// At the start of a ring of `frames` frames (all available).
    pub fn new(frames: u32) -> TxRing {
        TxRing { frames, cursor: 0, head: 0, pending: 0, lens: vec![0; frames as usize].into_boxed_slice() }
    }

    /// Frames handed to the kernel and not yet taken by it.
    pub fn pending(&self) -> u32 {
        self.pending
    }

    fn after(&self, frame: u32) -> u32 {
        if frame + 1 == self.frames {
            0
        } else {
            frame + 1
        }
    }

    /// Copies the packets at the front of `pkts` into the ring until it is full, drops (counted) those whose
    /// length is outside `limits` (or, untagged, over `untagged_max`), frees what it took, and kicks the kernel once (also when nothing new was
    /// written but frames of an earlier burst still wait). What the ring had no room for stays in `pkts`.
    pub fn tx_burst(
        &mut self,
        sock: &mut RingSocket,
        pkts: &mut PacketBurst,
        limits: &RangeInclusive<usize>,
        untagged_max: Option<usize>,
    ) -> TxDone {
        let mut done = TxDone::default();
        let mut n = 0;
        while n < pkts.len() {
            let p = &pkts[n];
            let len = p.len();
            if !limits.contains(&len) || untagged_max.is_some_and(|max| len > max && !is_tagged(p)) {
                done.bad += 1;
                n += 1;
                continue;
            }
            // Full: every slot waits for the kernel, or the next one is still being sent.
            if self.pending == self.frames || !sock.tx_write(self.cursor, len, |dst| copy_out(p, dst)) {
                break;
            }
            self.lens[self.cursor as usize] = len as u32;
            self.cursor = self.after(self.cursor);
            self.pending += 1;
            n += 1;
        }
        done.taken = n;
        drop(pkts.drain(..n));
        if self.pending > 0 {
            self.flush(sock, &mut done);
        }
        done
    }

    /// Kicks the kernel and settles what it did. One `sendto`; one more per frame the kernel refuses (it
    /// stops at such a frame); and one more when the first says the interface is down, because a socket
    /// keeps the news of its interface going down as a pending error that the next `sendto` reports, once,
    /// even when the interface is up again: only a second ENETDOWN means it is down now.
    pub fn flush(&mut self, sock: &mut RingSocket, done: &mut TxDone) {
        let mut down_before = false;
        for _ in 0..self.pending + 2 {
            done.syscalls += 1;
            let r = sock.kick();
            let refused = self.settle(sock, done);
            if let Err(e) = r {
                done.no_buffers |= e.raw_os_error() == Some(libc::ENOBUFS);
                if matches!(e.raw_os_error(), Some(libc::ENETDOWN | libc::ENXIO | libc::ENODEV)) {
                    if down_before {
                        self.take_back_all(sock, done);
                        return;
                    }
                    down_before = true;
                    continue;
                }
            }
            if !refused || self.pending == 0 {
                return;
            }
        }
    }

    /// Moves `head` past the frames the kernel has taken (anything but still marked or refused), counting
    /// them sent. Returns true if it stopped at a refused frame, which it counts and takes back.
    fn settle(&mut self, sock: &mut RingSocket, done: &mut TxDone) -> bool {
        while self.pending > 0 {
            match sock.tx_status(self.head) {
                libc::TP_STATUS_SEND_REQUEST => return false,
                libc::TP_STATUS_WRONG_FORMAT => {
                    done.refused += 1;
                    self.drop_head(sock);
                    return true;
                }
                _ => {
                    done.sent += 1;
                    done.bytes += u64::from(self.lens[self.head as usize]);
                    self.head = self.after(self.head);
                    self.pending -= 1;
                }
            }
        }
        false
    }

    /// Takes back the refused frame at `head`. The kernel's position stays on that slot (it moves only past
    /// frames it takes), so the frames handed over behind it move up one slot each, in order, and the last
    /// slot becomes free.
    fn drop_head(&mut self, sock: &mut RingSocket) {
        let mut at = self.head;
        for _ in 1..self.pending {
            let from = self.after(at);
            let moved = sock.tx_move(from, at);
            debug_assert!(moved, "tx frame {from} is the kernel's while pending");
            self.lens[at as usize] = self.lens[from as usize];
            at = from;
        }
        let reclaimed = sock.tx_reclaim(at);
        debug_assert!(reclaimed, "tx frame {at} is the kernel's while pending");
        self.cursor = at;
        self.pending -= 1;
    }

    /// Takes back every frame handed over and not taken, counted as dropped for the interface being down:
    /// it cannot send them.
    pub fn take_back_all(&mut self, sock: &mut RingSocket, done: &mut TxDone) {
        while self.pending > 0 {
            let at = self.cursor.checked_sub(1).unwrap_or(self.frames - 1);
            sock.tx_reclaim(at);
            self.cursor = at;
            self.pending -= 1;
            done.down += 1;
        }
    }
}

/// Whether `p` carries an 802.1Q or 802.1ad tag (room for 4 bytes beyond MTU + 14).
fn is_tagged(p: &Packet) -> bool {
    matches!(p.data().get(12..14), Some([0x81, 0x00] | [0x88, 0xa8]))
}

/// Copies `p`'s data into `dst`, exactly its length.
fn copy_out(p: &Packet, dst: &mut [u8]) {
    let mut at = 0;
    for b in p.buflets() {
        dst[at..at + b.data.len()].copy_from_slice(b.data);
        at += b.data.len();
    }
    debug_assert_eq!(at, dst.len());
}
