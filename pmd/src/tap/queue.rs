//! One queue of a TAP port: its tun fd and how bursts move through it, batched with io_uring (one system
//! call per burst each way) or, where the kernel has no io_uring, one readv / writev per frame.

use super::sys::{self, Dir, IoVec, Uring, EMPTY_IOVEC};
use pktloop_engine::port::{PacketBurst, MAX_BURST};
use pktloop_engine::{Packet, Pool};
use std::os::fd::{AsRawFd, OwnedFd};

/// How a queue moves frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Io {
    /// io_uring: a burst of reads or writes in one `io_uring_enter`.
    IoUring,
    /// One readv or writev per frame (what DPDK's net_tap does), where io_uring is missing or refused.
    Syscalls,
}

impl Io {
    /// Name for logs, tables and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Io::IoUring => "io_uring",
            Io::Syscalls => "readv/writev",
        }
    }
}

/// Frame length limits of received frames.
#[derive(Debug, Clone, Copy)]
pub(super) struct Limits {
    /// Shortest acceptable frame: an Ethernet header.
    pub min: usize,
    /// Longest: MTU + 18 (header and one VLAN tag).
    pub max: usize,
}

/// What one rx burst did.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct RxDone {
    pub frames: usize,
    pub bytes: u64,
    /// Frames read and dropped: too short, too long for the MTU or the buffers.
    pub bad: u64,
    /// Frames left in the kernel for want of buffers.
    pub nombuf: u64,
    /// Packets of a batch the ring failed under (leaked: the kernel may still write into them).
    pub lost: u64,
    pub syscalls: u64,
}

/// What one tx burst did.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct TxDone {
    pub sent: u64,
    pub bytes: u64,
    /// Frames the kernel refused as malformed.
    pub refused: u64,
    /// Frames refused because the interface is down.
    pub down: u64,
    /// Packets of a batch the ring failed under (leaked: the kernel may still read them).
    pub lost: u64,
    pub syscalls: u64,
}

/// Scratch for one batch: an iovec row per frame (`stride` wide, one per buflet), how many of the row
/// each frame uses, and each frame's result.
struct Batch {
    iovs: Box<[IoVec]>,
    counts: Box<[u32]>,
    results: Box<[i32]>,
    stride: usize,
}

// SAFETY: the iovecs' raw pointers are scratch: written and used within one rx_burst or tx_burst call on
// the thread that owns the queue, and never dereferenced between calls.
unsafe impl Send for Batch {}

impl Batch {
    fn new(stride: usize) -> Batch {
        Batch {
            iovs: vec![EMPTY_IOVEC; MAX_BURST * stride].into_boxed_slice(),
            counts: vec![0; MAX_BURST].into_boxed_slice(),
            results: vec![0; MAX_BURST].into_boxed_slice(),
            stride,
        }
    }

    /// Points row `i` at `pkt`'s buflets (its data, all of them); returns false if they do not fit a row.
    fn describe(&mut self, i: usize, pkt: &Packet) -> bool {
        let row = &mut self.iovs[i * self.stride..][..self.stride];
        let mut n = 0;
        for b in pkt.buflets() {
            if n == row.len() {
                return false;
            }
            row[n] = IoVec { iov_base: b.data.as_ptr() as *mut libc::c_void, iov_len: b.data.len() };
            n += 1;
        }
        self.counts[i] = n as u32;
        true
    }

    /// Points row `i` at `pkt`'s buflets, writable (the packet has been grown to the room a frame needs).
    fn describe_mut(&mut self, i: usize, pkt: &mut Packet) -> bool {
        let row = &mut self.iovs[i * self.stride..][..self.stride];
        let mut n = 0;
        let mut fits = true;
        pkt.for_each_segment_mut(|seg| {
            if n == row.len() {
                fits = false;
                return;
            }
            row[n] = IoVec { iov_base: seg.as_mut_ptr().cast(), iov_len: seg.len() };
            n += 1;
        });
        self.counts[i] = n as u32;
        fits
    }
}

/// One queue: its fd, the way frames move, and scratch.
pub(super) struct Queue {
    /// Before `fd`: dropped first, so the interface goes when `fd` closes.
    uring: Option<Uring>,
    fd: OwnedFd,
    rx: Batch,
    tx: Batch,
    /// Reads to post next time: grows while bursts come back full, shrinks to what arrived, so an idle
    /// queue costs one read per poll and a busy one a whole burst per system call.
    rx_want: usize,
}

impl std::fmt::Debug for Queue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Queue").field("fd", &self.fd).field("io", &self.io()).finish()
    }
}

impl Queue {
    /// A queue on `fd` whose packets chain at most `max_buflets` buflets, using io_uring when `want_uring`
    /// and the kernel allows. Returns the queue and, if io_uring was asked for and refused, why.
    pub fn new(fd: OwnedFd, max_buflets: usize, want_uring: bool) -> (Queue, Option<std::io::Error>) {
        let (uring, why) = match want_uring.then(|| Uring::new(&fd, MAX_BURST as u32)) {
            Some(Ok(u)) => (Some(u), None),
            Some(Err(e)) => (None, Some(e)),
            None => (None, None),
        };
        let stride = max_buflets.max(1);
        (Queue { fd, uring, rx: Batch::new(stride), tx: Batch::new(stride), rx_want: 1 }, why)
    }

    /// How this queue moves frames.
    pub fn io(&self) -> Io {
        if self.uring.is_some() {
            Io::IoUring
        } else {
            Io::Syscalls
        }
    }

    /// The queue's fd (for the interface ioctls).
    pub fn fd(&self) -> &OwnedFd {
        &self.fd
    }

    /// Reads up to `max` frames into packets from `pool`, appended to `pkts`.
    pub fn rx_burst(&mut self, pool: &Pool, pkts: &mut PacketBurst, max: usize, limits: Limits) -> RxDone {
        let mut done = RxDone::default();
        let want = max.min(pkts.remaining_capacity()).min(self.rx_want);
        if want == 0 {
            return done;
        }
        let start = pkts.len();
        let got = pool.alloc_up_to(pkts, want);
        if got < want {
            done.nombuf = (want - got) as u64;
            if got == 0 {
                return done;
            }
        }
        // One byte more than the longest good frame: a longer one fills it and is known to be too long
        // whether the fd truncates silently or reports the whole length (tun does).
        let room = limits.max + 1;
        let mut n = 0;
        for i in 0..got {
            let p = &mut pkts[start + i];
            // A frame lands in that room, across buflets when they are small.
            if p.extend_chained(room).is_err() || !self.rx.describe_mut(i, p) {
                break;
            }
            n += 1;
        }
        // Packets that could not be grown to a frame's room (the pool ran out of buflets) read nothing.
        done.nombuf += (got - n) as u64;
        pkts.truncate(start + n);
        let batch_failed = self.run(Dir::Read, n, &mut done.syscalls);
        if batch_failed {
            done.lost = n as u64;
            forget_tail(pkts, start);
            return done;
        }
        self.settle_rx(pkts, start, limits, &mut done);
        let full = done.frames + done.bad as usize == n;
        self.rx_want = if full { (n * 2).clamp(1, MAX_BURST) } else { done.frames + 1 };
        done
    }

    /// Keeps the packets whose read brought a good frame (trimmed to it), in order; frees the rest.
    fn settle_rx(&mut self, pkts: &mut PacketBurst, start: usize, limits: Limits, done: &mut RxDone) {
        let n = pkts.len() - start;
        let mut keep = start;
        for i in 0..n {
            let r = self.rx.results[i];
            let good = r >= limits.min as i32 && r as usize <= limits.max;
            if (r >= 0 && !good) || r == -libc::EFAULT || r == -libc::EMSGSIZE || r == -libc::EINVAL {
                // Read and unusable (short, longer than the MTU allows, or longer than the buffers).
                done.bad += 1;
            }
            if good {
                pkts[start + i].truncate(r as usize);
                done.bytes += r as u64;
                pkts.swap(keep, start + i);
                keep += 1;
            }
        }
        done.frames = keep - start;
        // What is left past `keep` got no frame: back to the pool.
        while pkts.len() > keep {
            pkts.pop();
        }
    }

    /// Writes the packets at the front of `pkts` (up to a burst); written and refused ones are taken and
    /// freed, the rest stay in order (the kernel had no room for them).
    pub fn tx_burst(&mut self, pkts: &mut PacketBurst) -> TxDone {
        let mut done = TxDone::default();
        let mut n = 0;
        while n < pkts.len() && self.tx.describe(n, &pkts[n]) {
            n += 1;
        }
        // A packet with more buflets than a row holds cannot be described: refuse it rather than stall.
        if n == 0 && !pkts.is_empty() {
            pkts.remove(0);
            done.refused = 1;
            return done;
        }
        if self.run(Dir::Write, n, &mut done.syscalls) {
            // Some writes may still read these buffers: never give them back.
            done.lost = n as u64;
            for p in pkts.drain(..n) {
                std::mem::forget(p);
            }
            return done;
        }
        self.settle_tx(pkts, n, &mut done);
        done
    }

    /// Takes the written and refused packets of the first `n`; those the kernel had no room for stay at
    /// the front, in order, for the caller to retry. Every result is looked at: in a ring batch, a write
    /// after one that found no room may have gone through, and must not be sent twice.
    fn settle_tx(&mut self, pkts: &mut PacketBurst, n: usize, done: &mut TxDone) {
        let mut keep = 0;
        for i in 0..n {
            match self.tx.results[i] {
                r if r >= 0 => {
                    done.sent += 1;
                    done.bytes += r as u64;
                }
                e if e == -libc::EAGAIN || e == -libc::ENOBUFS => {
                    pkts.swap(keep, i);
                    keep += 1;
                    continue;
                }
                e if e == -libc::EIO => done.down += 1,
                _ => done.refused += 1,
            }
        }
        // Slots keep..n hold the taken packets (moved there by the swaps): free them; the untried ones after
        // `n` move up behind the kept ones.
        drop(pkts.drain(keep..n));
    }

    /// Runs `n` described frames of direction `dir`; returns true if the ring failed (see [`Uring::batch`])
    /// and has been dropped, the queue going on with plain system calls.
    fn run(&mut self, dir: Dir, n: usize, syscalls: &mut u64) -> bool {
        if n == 0 {
            return false;
        }
        let batch = match dir {
            Dir::Read => &mut self.rx,
            Dir::Write => &mut self.tx,
        };
        // One frame is one system call either way, and a plain one costs less than entering the ring
        // (an idle queue polls with a single read).
        if let Some(ring) = self.uring.as_mut().filter(|_| n > 1) {
            *syscalls += 1;
            // SAFETY: rows 0..n describe the packets at the tail of the caller's burst (rx: grown to their
            // room; tx: their data); the caller holds them unchanged until this returns, and on error
            // forgets them (never frees or reuses them).
            let r = unsafe { ring.batch(dir, &batch.iovs, batch.stride, &batch.counts[..n], &mut batch.results) };
            if let Err(e) = r {
                log::error!("io_uring failed ({e}); this TAP queue goes on with readv/writev");
                self.uring = None;
                // The broken ring may still read the iovecs: leak them with the buffers, work on new ones.
                let fresh = vec![EMPTY_IOVEC; batch.iovs.len()].into_boxed_slice();
                std::mem::forget(std::mem::replace(&mut batch.iovs, fresh));
                return true;
            }
            return false;
        }
        let fd = self.fd.as_raw_fd();
        for i in 0..n {
            let row = &batch.iovs[i * batch.stride..][..batch.counts[i] as usize];
            *syscalls += 1;
            // SAFETY: as above: the row describes a packet the caller holds unchanged during the call.
            let r = unsafe {
                match dir {
                    Dir::Read => sys::readv(fd, row),
                    Dir::Write => sys::writev(fd, row),
                }
            };
            batch.results[i] = r;
            if r == -libc::EAGAIN {
                // Nothing more to read, or no room to write: the rest would say the same.
                batch.results[i + 1..n].fill(-libc::EAGAIN);
                break;
            }
        }
        false
    }
}

/// Leaks the packets of a failed batch (from `start` on): the kernel may still write into them.
fn forget_tail(pkts: &mut PacketBurst, start: usize) {
    for p in pkts.drain(start..) {
        std::mem::forget(p);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pktloop_engine::mem::Prefer;
    use pktloop_engine::pool::PoolConfig;

    const LIMITS: Limits = Limits { min: 14, max: 1518 };

    fn pool(buffers: u32, buf_size: u32, max_buflets: u16) -> Pool {
        let mut c = PoolConfig::new("tap-queue-test", buffers, buf_size);
        c.headroom = 32;
        c.max_buflets = max_buflets;
        c.prefer = Prefer::Normal;
        Pool::new(c).unwrap()
    }

    fn frame(len: usize, seed: u8) -> Vec<u8> {
        (0..len).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)).collect()
    }

    /// A queue on one end of a seqpacket pair; the other end plays the kernel.
    fn queue(uring: bool, max_buflets: usize) -> (Queue, OwnedFd) {
        let (ours, theirs) = sys::seqpacket_pair().unwrap();
        let (q, why) = Queue::new(ours, max_buflets, uring);
        if uring {
            assert!(why.is_none() == (q.io() == Io::IoUring));
        } else {
            assert_eq!(q.io(), Io::Syscalls);
        }
        (q, theirs)
    }

    fn kernel_send(fd: &OwnedFd, f: &[u8]) {
        assert_eq!(sys::send_message(fd, f).unwrap(), f.len());
    }

    fn kernel_recv(fd: &OwnedFd) -> Option<Vec<u8>> {
        let mut buf = vec![0u8; 16384];
        let iov = [IoVec { iov_base: buf.as_mut_ptr().cast(), iov_len: buf.len() }];
        // SAFETY: the iovec describes `buf`, writable for the call.
        let n = unsafe { sys::readv(fd.as_raw_fd(), &iov) };
        (n >= 0).then(|| buf[..n as usize].to_vec())
    }

    fn receive_all(q: &mut Queue, pool: &Pool, limits: Limits) -> (PacketBurst, RxDone) {
        let mut pkts = PacketBurst::new();
        let mut total = RxDone::default();
        for _ in 0..16 {
            let d = q.rx_burst(pool, &mut pkts, 64, limits);
            total.frames += d.frames;
            total.bytes += d.bytes;
            total.bad += d.bad;
            total.nombuf += d.nombuf;
            total.syscalls += d.syscalls;
        }
        (pkts, total)
    }

    fn each_io(test: impl Fn(bool)) {
        test(false);
        test(true);
    }

    #[test]
    fn frames_arrive_whole_and_in_order_with_either_io() {
        each_io(|uring| {
            let p = pool(256, 2048, 1);
            let (mut q, kernel) = queue(uring, 1);
            let sent: Vec<Vec<u8>> = (0..40).map(|i| frame(60 + i * 37, i as u8)).collect();
            for f in &sent {
                kernel_send(&kernel, f);
            }
            let (pkts, done) = receive_all(&mut q, &p, LIMITS);
            assert_eq!(done.frames, 40);
            assert_eq!(done.bytes, sent.iter().map(|f| f.len() as u64).sum::<u64>());
            let got: Vec<Vec<u8>> = pkts.iter().map(Packet::to_vec).collect();
            assert_eq!(got, sent);
            drop(pkts);
            assert_eq!(p.in_use(), 0, "unused rx buffers went back");
        });
    }

    #[test]
    fn a_busy_queue_reads_a_burst_per_system_call_with_io_uring() {
        let p = pool(256, 2048, 1);
        let (mut q, kernel) = queue(true, 1);
        if q.io() != Io::IoUring {
            eprintln!("skipped: no io_uring here");
            return;
        }
        for i in 0..128 {
            kernel_send(&kernel, &frame(64, i));
        }
        let mut pkts = PacketBurst::new();
        let mut syscalls = 0;
        let mut frames = 0;
        while frames < 128 {
            let d = q.rx_burst(&p, &mut pkts, 32, LIMITS);
            syscalls += d.syscalls;
            frames += d.frames;
            pkts.clear();
        }
        // The batch grows 1, 2, 4, 8, 16, 32, 32, ...: about 128 / 32 + 5 calls, not 128.
        assert!(syscalls <= 10, "{syscalls} system calls for 128 frames");
    }

    #[test]
    fn frames_longer_than_a_buflet_arrive_as_chains() {
        each_io(|uring| {
            let p = pool(64, 512, 4);
            let (mut q, kernel) = queue(uring, 4);
            let f = frame(1514, 7);
            kernel_send(&kernel, &f);
            kernel_send(&kernel, &frame(100, 1));
            let (pkts, done) = receive_all(&mut q, &p, LIMITS);
            assert_eq!(done.frames, 2);
            assert_eq!(pkts[0].to_vec(), f);
            assert_eq!(pkts[0].buflet_count(), 4, "480 + 512 + 512 + 10 bytes");
            assert_eq!(pkts[1].buflet_count(), 1, "unused buflets of a short frame are freed");
            drop(pkts);
            assert_eq!(p.in_use(), 0);
        });
    }

    #[test]
    fn short_and_oversize_frames_are_counted_and_the_queue_goes_on() {
        each_io(|uring| {
            let p = pool(64, 2048, 1);
            let (mut q, kernel) = queue(uring, 1);
            let limits = Limits { min: 14, max: 1000 + 18 };
            kernel_send(&kernel, &frame(13, 0)); // shorter than an Ethernet header
            kernel_send(&kernel, &frame(1019, 0)); // longer than MTU + 18
            kernel_send(&kernel, &frame(5000, 0)); // longer than the buffer
            kernel_send(&kernel, &frame(1, 0));
            let good = frame(1018, 9);
            kernel_send(&kernel, &good);
            let (pkts, done) = receive_all(&mut q, &p, limits);
            assert_eq!((done.frames, done.bad), (1, 4));
            assert_eq!(pkts[0].to_vec(), good);
            drop(pkts);
            assert_eq!(p.in_use(), 0);
        });
    }

    #[test]
    fn an_empty_pool_counts_nombuf_and_leaves_frames_in_the_kernel() {
        each_io(|uring| {
            let p = pool(8, 2048, 1);
            let (mut q, kernel) = queue(uring, 1);
            let held: Vec<Packet> = (0..8).map(|_| p.alloc().unwrap()).collect();
            kernel_send(&kernel, &frame(60, 1));
            let mut pkts = PacketBurst::new();
            let d = q.rx_burst(&p, &mut pkts, 32, LIMITS);
            assert_eq!((d.frames, d.nombuf), (0, 1));
            drop(held);
            let (pkts, done) = receive_all(&mut q, &p, LIMITS);
            assert_eq!(done.frames, 1, "the frame waited in the kernel");
            assert_eq!(pkts[0].to_vec(), frame(60, 1));
        });
    }

    #[test]
    fn sent_frames_reach_the_other_side_whole_and_refused_ones_are_counted() {
        each_io(|uring| {
            let p = pool(64, 512, 4);
            let (mut q, kernel) = queue(uring, 4);
            let frames: Vec<Vec<u8>> = (0..20).map(|i| frame(60 + i * 71, i as u8)).collect();
            let mut pkts = PacketBurst::new();
            for f in &frames {
                pkts.push(p.packet_from(f).unwrap());
            }
            let done = q.tx_burst(&mut pkts);
            assert_eq!((done.sent, done.refused), (20, 0));
            assert!(pkts.is_empty());
            for f in &frames {
                assert_eq!(kernel_recv(&kernel).as_ref(), Some(f));
            }
            assert_eq!(p.in_use(), 0, "sent buffers went back");
            // The other side gone: every write fails, every packet is taken, counted and freed.
            drop(kernel);
            pkts.push(p.packet_from(&frames[0]).unwrap());
            let done = q.tx_burst(&mut pkts);
            assert_eq!((done.sent, done.refused, pkts.len()), (0, 1, 0));
            assert_eq!(p.in_use(), 0);
        });
    }
}
