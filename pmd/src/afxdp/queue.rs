//! One queue of an AF_XDP port: its socket and rings, and how bursts move through them. Received frames
//! become packets in place; packets of the UMEM's pool are sent in place, others are copied into a buffer of
//! it first. The fill ring is kept at its level with as many buffers as each burst took out of it.

use super::sys::ring::Desc;
use super::sys::socket::{self, Rings};
use super::umem::Umem;
use pktloop_engine::port::PacketBurst;
use pktloop_engine::{Packet, Pool};
use std::os::fd::OwnedFd;

/// Frames the kernel sends per wakeup in copy mode (TX_BATCH_SIZE in net/xdp/xsk.c).
const KERNEL_TX_BATCH: u32 = 32;

/// Shortest frame accepted: an Ethernet header.
const MIN_FRAME: u32 = 14;

/// What one rx burst did.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct RxDone {
    pub frames: usize,
    pub bytes: u64,
    /// Frames too short or too long for the MTU, freed.
    pub bad: u64,
    /// Descriptors whose address was not a buffer the kernel held (never seen from a sound kernel).
    pub invalid: u64,
    pub syscalls: u64,
}

/// What one tx burst did.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct TxDone {
    pub sent: u64,
    pub bytes: u64,
    /// Frames shorter than an Ethernet header, freed.
    pub runt: u64,
    /// Frames longer than the MTU allows (or a buffer holds), freed.
    pub too_long: u64,
    /// Frames dropped for want of a buffer to copy them into.
    pub nomem: u64,
    /// Frames of those sent that were copied (from another pool, chained, or shared).
    pub copied: u64,
    pub syscalls: u64,
}

/// One XDP socket and its rings.
#[derive(Debug)]
pub(super) struct Queue {
    /// Before `fd`: unmapped before the socket closes.
    rings: Rings,
    fd: OwnedFd,
    /// Buffers to keep in the fill ring.
    fill_level: u32,
    /// Frames submitted to send whose buffers have not come back through the completion ring.
    in_flight: u32,
    /// The last refill left the fill ring below its level (the pool ran short): try again at every poll,
    /// not only after frames arrived, or an empty fill ring would never see frames to trigger one.
    fill_short: bool,
}

impl Queue {
    pub fn new(fd: OwnedFd, rings: Rings, fill_level: u32) -> Queue {
        Queue { rings, fd, fill_level, in_flight: 0, fill_short: true }
    }

    pub fn fd(&self) -> &OwnedFd {
        &self.fd
    }

    /// Frames sent and not yet completed.
    pub fn in_flight(&self) -> u32 {
        self.in_flight
    }

    /// Tops the fill ring up to its level with fresh buffers (as many as the pool gives); returns how many
    /// it gave.
    pub fn refill(&mut self, umem: &mut Umem) -> u32 {
        let fill = &mut self.rings.fill;
        let pending = fill.pending_as_producer();
        if pending >= self.fill_level {
            self.fill_short = false;
            return 0;
        }
        let want = (self.fill_level - pending).min(fill.free()) as usize;
        let given = umem.lend_fresh(want, |i, addr| fill.write(i as u32, addr));
        fill.submit(given as u32);
        self.fill_short = given < want;
        given as u32
    }

    /// Receives up to `max` frames as packets appended to `pkts`. Frames longer than `max_frame` or shorter
    /// than an Ethernet header are freed and counted.
    pub fn rx_burst(&mut self, umem: &mut Umem, pkts: &mut PacketBurst, max: usize, max_frame: u32) -> RxDone {
        let mut done = RxDone::default();
        let n = self.rings.rx.available().min(max.min(pkts.remaining_capacity()) as u32);
        for i in 0..n {
            let desc: Desc = self.rings.rx.read(i);
            let Some(buf) = umem.take_back(desc.addr, desc.len) else {
                done.invalid += 1;
                continue;
            };
            let len = buf.len();
            if !(MIN_FRAME..=max_frame).contains(&len) {
                done.bad += 1;
                umem.free(buf);
                continue;
            }
            match umem.packet(buf) {
                Some(p) => {
                    done.bytes += u64::from(len);
                    pkts.push(p);
                }
                None => done.bad += 1,
            }
        }
        self.rings.rx.release(n);
        done.frames = (n as u64 - done.invalid - done.bad) as usize;
        // An idle poll leaves the fill ring alone (its consumer index is a line the kernel writes).
        if n > 0 || self.fill_short {
            self.refill(umem);
        }
        umem.flush();
        if self.rings.fill.needs_wakeup() && (n > 0 || self.rings.rx.available() == 0) {
            done.syscalls += 1;
            // Not fatal: frames simply wait for the next poll's kick.
            let _ = socket::kick_rx(&self.fd);
        }
        done
    }

    /// Takes back the buffers of frames the kernel has sent.
    pub fn reap_completions(&mut self, umem: &mut Umem) {
        let comp = &mut self.rings.completion;
        let n = comp.available();
        for i in 0..n {
            if let Some(buf) = umem.take_back(comp.read(i), 0) {
                umem.free(buf);
            }
        }
        comp.release(n);
        self.in_flight -= n.min(self.in_flight);
        umem.flush();
    }

    /// Sends packets from the front of `pkts` while the tx ring has room: each is sent (in place, or
    /// copied into a UMEM buffer) or dropped and counted. One wakeup system call per burst when the kernel
    /// asks for it.
    pub fn tx_burst(&mut self, umem: &mut Umem, pkts: &mut PacketBurst, max_frame: u32) -> TxDone {
        let mut done = TxDone::default();
        self.reap_completions(umem);
        let n = (self.rings.tx.free() as usize).min(pkts.len());
        let mut queued = 0;
        for pkt in pkts.drain(..n) {
            let len = pkt.len() as u32;
            if len < MIN_FRAME || len > max_frame {
                *(if len < MIN_FRAME { &mut done.runt } else { &mut done.too_long }) += 1;
                continue;
            }
            let lent = match umem.lend_packet(pkt) {
                Ok(lent) => lent,
                Err(pkt) => match linear_copy(&pkt, umem.pool()).map(|c| umem.lend_packet(c)) {
                    Some(Ok(lent)) => {
                        done.copied += 1;
                        lent
                    }
                    _ => {
                        done.nomem += 1;
                        continue;
                    }
                },
            };
            let (addr, len) = lent;
            self.rings.tx.write(queued, Desc { addr, len, options: 0 });
            queued += 1;
            done.bytes += u64::from(len);
        }
        self.rings.tx.submit(queued);
        self.in_flight += queued;
        done.sent = u64::from(queued);
        if queued > 0 {
            done.syscalls = self.kick_tx(queued);
        }
        done
    }

    /// A send with nothing new (an empty burst is a poll): takes back the buffers of frames the kernel has
    /// sent, and asks it once more to send what still waits in the tx ring (after a wakeup call that
    /// failed, or a burst larger than one call's worth in copy mode). Returns the calls made.
    pub fn tx_poll(&mut self, umem: &mut Umem) -> u64 {
        if self.in_flight == 0 {
            return 0;
        }
        self.reap_completions(umem);
        self.kick_tx(1)
    }

    /// Asks the kernel to send what the tx ring holds, if it wants to be asked. In copy mode one call sends
    /// at most [`KERNEL_TX_BATCH`] frames, so a burst of `queued` takes that many calls at most; the kicks
    /// stop as soon as the kernel has taken everything. Returns the calls made.
    fn kick_tx(&mut self, queued: u32) -> u64 {
        let mut calls = 0;
        while self.rings.tx.needs_wakeup()
            && self.rings.tx.pending_as_producer() > 0
            && calls < u64::from(queued.div_ceil(KERNEL_TX_BATCH))
        {
            calls += 1;
            // Not fatal: the frames stay in the ring and the next burst kicks again.
            if socket::kick_tx(&self.fd).is_err() {
                break;
            }
        }
        calls
    }

    /// Takes back what the rx ring holds (at teardown, after the program is detached); returns how many
    /// frames it held, arrived and never received.
    pub fn drain_rx(&mut self, umem: &mut Umem) -> u64 {
        let n = self.rings.rx.available();
        for i in 0..n {
            let desc: Desc = self.rings.rx.read(i);
            if let Some(buf) = umem.take_back(desc.addr, desc.len) {
                umem.free(buf);
            }
        }
        self.rings.rx.release(n);
        umem.flush();
        u64::from(n)
    }

    /// Kicks the kernel to go on sending (at teardown, while waiting for completions).
    pub fn kick(&self) {
        let _ = socket::kick_tx(&self.fd);
    }
}

/// A copy of `pkt` in one buffer of `pool` (for a packet of another pool, chained or sharing its buffer),
/// or None when the pool is empty. The caller checked that the frame fits one buffer.
fn linear_copy(pkt: &Packet, pool: &Pool) -> Option<Packet> {
    let mut copy = pool.alloc()?;
    for b in pkt.buflets() {
        copy.append(b.data).ok()?;
    }
    Some(copy)
}
