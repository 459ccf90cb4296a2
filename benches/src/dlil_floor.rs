//! Floors for the input layer's two ways to run (issue 9's "an input thread handing bursts to a worker
//! moves at least 80% of what run to completion moves"), with no pktloop type at all: the receive side is
//! a template written into a buffer and the EtherType read back (what a null port and the demux do), the
//! consumer only takes the packet and lets it go.
//!
//! - [`run_to_completion`]: one core takes a burst of buffer indices off a stack, writes and demuxes the
//!   frames, and puts the indices back (the cycle of one burst that pktloop's thread cache gives);
//! - [`hand_off`]: core 0 takes buffer indices off a "free" ring, writes and demuxes, and pushes the
//!   handles on a data ring; core 1 pops them and pushes the indices back on the free ring. Buffers are
//!   given away and come back through the consumer's core, as pktloop's pool brings them back;
//! - [`lend`]: ring slot `k` owns buffer `k` (netmap's rings): core 0 writes into the buffers of free
//!   slots and publishes their handles; core 1 reads the handles and releases the slots, which gives the
//!   buffers back without a word of its own reaching core 0 but its position.
//!
//! The last two move handles of `W` (`u32` or `u64`: pktloop's handles are 8 bytes), since a burst of 32
//! fills two cache lines of the ring with 4-byte handles and four with 8-byte ones.

use crate::floor::{spsc, Buffers, Spacing, Word, FLOOR_BURST};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Buffers in the hand-off floor, and slots of the lending floor's ring: a cycle of a few bursts (more
/// only pushes the buffers' lines out of the first-level cache: 1024 gives about half).
pub const CYCLE: usize = 256;
/// Bytes of each frame.
const FRAME: usize = 64;
/// Where each frame goes into its buffer, as pktloop's headroom puts it.
const HEADROOM: usize = 128;
/// The IPv4 EtherType, the demux key every frame carries.
const ETHERTYPE: u16 = 0x0800;

/// The frame every buffer receives: zeros but for the EtherType.
fn template() -> [u8; FRAME] {
    let mut f = [0u8; FRAME];
    f[12..14].copy_from_slice(&ETHERTYPE.to_be_bytes());
    std::hint::black_box(f)
}

/// Receives a burst into `bufs` (the template written into each buffer, as a port writes frames) and
/// demuxes it (each frame's EtherType read back, after all are written, as `Interface::poll` reads them).
/// Returns how many frames carried the expected type.
#[inline]
fn receive_and_demux(bufs: &Buffers, burst: impl Iterator<Item = usize> + Clone, frame: &[u8; FRAME]) -> usize {
    for idx in burst.clone() {
        // SAFETY: the caller owns buffer `idx` for this burst; HEADROOM + FRAME fits the 2 KiB buffer.
        unsafe { std::ptr::copy_nonoverlapping(frame.as_ptr(), bufs.ptr(idx as u32).add(HEADROOM), FRAME) };
    }
    burst
        .filter(|&idx| {
            // SAFETY: as above; the two bytes were just written.
            let t = unsafe { std::ptr::read_volatile(bufs.ptr(idx as u32).add(HEADROOM + 12).cast::<[u8; 2]>()) };
            u16::from_be_bytes(t) == ETHERTYPE
        })
        .count()
}

/// One core: `packets` frames received, demuxed and freed. Returns the time taken and how many frames
/// demuxed (callers check it is all of them).
pub fn run_to_completion(packets: u64) -> (Duration, u64) {
    let bufs = Buffers::new(CYCLE, 2048, Spacing::OddLines);
    let frame = template();
    let mut free: Vec<usize> = (0..CYCLE).collect();
    let mut burst = [0usize; FLOOR_BURST];
    let (mut done, mut demuxed) = (0u64, 0u64);
    let t = Instant::now();
    while done < packets {
        let rest = free.len() - FLOOR_BURST;
        burst.copy_from_slice(&free[rest..]);
        free.truncate(rest);
        demuxed += receive_and_demux(&bufs, burst.iter().copied(), &frame) as u64;
        free.extend_from_slice(&burst);
        done += FLOOR_BURST as u64;
    }
    (t.elapsed(), demuxed)
}

/// Core 0 receives and hands handles over; core 1 takes them and gives the buffers back on a free ring.
/// Returns the time until core 1 has taken `packets`, and how many frames demuxed.
pub fn hand_off<W: Word>(packets: u64) -> (Duration, u64) {
    let bufs = Buffers::new(CYCLE, 2048, Spacing::OddLines);
    let (data_tx, data_rx) = spsc::<W>(1024);
    let (mut free_tx, free_rx) = spsc::<W>(CYCLE);
    let all: Vec<W> = (0..CYCLE).map(W::of).collect();
    assert_eq!(free_tx.push(&all), CYCLE);
    let (stop, demuxed, bufs, frame) = (&AtomicBool::new(false), &AtomicU64::new(0), &bufs, template());
    // Each side's ring ends move into its thread: left on this stack, side by side, the positions both
    // sides write every burst would share cache lines.
    let (elapsed, ()) = crate::cross_core(
        move || {
            let (mut free_rx, mut data_tx) = (free_rx, data_tx);
            let (mut burst, mut count) = ([W::default(); FLOOR_BURST], 0u64);
            while !stop.load(Ordering::Relaxed) {
                let n = free_rx.pop(&mut burst);
                count += receive_and_demux(bufs, burst[..n].iter().map(|w| w.index()), &frame) as u64;
                let mut sent = 0;
                while sent < n && !stop.load(Ordering::Relaxed) {
                    sent += data_tx.push(&burst[sent..n]);
                }
            }
            demuxed.store(count, Ordering::Relaxed);
        },
        move || {
            let (mut data_rx, mut free_tx) = (data_rx, free_tx);
            let (mut burst, mut got) = ([W::default(); FLOOR_BURST], 0u64);
            while got < packets {
                let n = data_rx.pop(&mut burst);
                let mut back = 0;
                while back < n {
                    back += free_tx.push(&burst[back..n]);
                }
                got += n as u64;
            }
            stop.store(true, Ordering::Relaxed);
        },
    );
    (elapsed, demuxed.load(Ordering::Relaxed))
}

/// Core 0 receives into the buffers of free ring slots and publishes their handles; core 1 reads the
/// handles and releases the slots. Returns the time until core 1 has taken `packets`, and how many frames
/// demuxed.
pub fn lend<W: Word>(packets: u64) -> (Duration, u64) {
    let bufs = Buffers::new(CYCLE, 2048, Spacing::OddLines);
    let (tx, rx) = spsc::<W>(CYCLE);
    let (stop, demuxed, bufs, frame) = (&AtomicBool::new(false), &AtomicU64::new(0), &bufs, template());
    let (elapsed, ()) = crate::cross_core(
        move || {
            let mut tx = tx;
            let (mut burst, mut count, mut next) = ([W::default(); FLOOR_BURST], 0u64, 0usize);
            while !stop.load(Ordering::Relaxed) {
                // Slot `next + i` owns buffer `(next + i) % CYCLE`; it is free once the consumer passed it.
                burst.iter_mut().enumerate().for_each(|(i, w)| *w = W::of((next + i) % CYCLE));
                if !tx.has_room(FLOOR_BURST) {
                    continue;
                }
                count += receive_and_demux(bufs, burst.iter().map(|w| w.index()), &frame) as u64;
                assert_eq!(tx.push(&burst), FLOOR_BURST, "room was checked");
                next += FLOOR_BURST;
            }
            demuxed.store(count, Ordering::Relaxed);
        },
        move || {
            let mut rx = rx;
            let (mut burst, mut got, mut seen) = ([W::default(); FLOOR_BURST], 0u64, 0usize);
            while got < packets {
                let n = rx.pop(&mut burst);
                // Looking at the handles is all the consumer does: the slots go back with the pop.
                seen = seen.wrapping_add(burst[..n].iter().map(|w| w.index()).sum::<usize>());
                got += n as u64;
            }
            stop.store(true, Ordering::Relaxed);
            std::hint::black_box(seen);
        },
    );
    (elapsed, demuxed.load(Ordering::Relaxed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_floor_demuxes_every_frame_it_moves() {
        let n = 1 << 12;
        assert_eq!(run_to_completion(n).1, n, "run to completion: every frame, once");
        for (name, run) in [
            ("hand-off, 8 bytes", hand_off::<u64> as fn(u64) -> (Duration, u64)),
            ("hand-off, 4 bytes", hand_off::<u32>),
            ("lending, 8 bytes", lend::<u64>),
            ("lending, 4 bytes", lend::<u32>),
        ] {
            // The receiving core may run a few bursts past the last the consumer took.
            let demuxed = run(n).1;
            assert!((n..n + 2 * CYCLE as u64).contains(&demuxed), "{name}: {demuxed} frames demuxed for {n} taken");
        }
    }
}
