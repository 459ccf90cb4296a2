//! The writer's side of the taps: a k-way merge of their frames by timestamp.
//!
//! Each tap's frames are in time order (one lcore stamps them from a monotonic clock), but the taps fill
//! independently, so the writer holds frames back until no tap can still produce an older one. A tap with
//! frames waiting bounds the release by its oldest; an empty tap bounds it by the newest frame it has
//! produced (its next one cannot be older) or by the caller's horizon, the time before which a tap is taken
//! to have published every frame it stamped (an idle tap would otherwise hold everything back).
//!
//! Frames are taken off the taps' rings at once and each slot is replaced by a spare the writer owns, so
//! holding frames back never starves a tap; a lane holds at most a ring's worth, after which its tap runs
//! out of slots and counts frames as missed, as when the writer falls behind.

use super::Frame;
use crate::ring::{Consumer, Producer};
use std::collections::VecDeque;

/// One tap, seen from the writer.
#[derive(Debug)]
pub(super) struct Lane {
    full: Consumer<Frame>,
    free: Producer<Frame>,
    /// Frames taken off the ring, not yet released, oldest first.
    held: VecDeque<Frame>,
    /// Timestamp of the newest frame taken from this tap (its next is no older).
    newest: u64,
}

/// The lanes and the frames the writer owns.
#[derive(Debug)]
pub(super) struct Merge {
    lanes: Vec<Lane>,
    /// Released frames, reused as replacement slots.
    spare: Vec<Frame>,
    slots: usize,
    snaplen: usize,
    /// Timestamp of the last frame released, and how many were released older than it.
    last_out: u64,
    late: u64,
}

impl Merge {
    pub(super) fn new(slots: usize, snaplen: usize) -> Merge {
        Merge { lanes: Vec::new(), spare: Vec::new(), slots, snaplen, last_out: 0, late: 0 }
    }

    pub(super) fn add(&mut self, full: Consumer<Frame>, free: Producer<Frame>) {
        let held = VecDeque::with_capacity(self.slots);
        self.lanes.push(Lane { full, free, held, newest: 0 });
    }

    /// Frames released older than one released before them (a tap published a frame after the horizon
    /// passed its timestamp).
    pub(super) fn late(&self) -> u64 {
        self.late
    }

    /// Takes every waiting frame off the rings (up to a ring's worth held per lane), refilling the free
    /// rings with spares. Returns how many were taken.
    fn gather(&mut self) -> usize {
        let mut n = 0;
        for lane in &mut self.lanes {
            while lane.held.len() < self.slots {
                let Some(frame) = lane.full.pop() else { break };
                let slot = self.spare.pop().unwrap_or_else(|| Frame::slot(self.snaplen));
                // Cannot fail: one slot back for each taken keeps the tap's count of slots.
                let _ = lane.free.push(slot);
                lane.newest = lane.newest.max(frame.ts_ns);
                lane.held.push_back(frame);
                n += 1;
            }
        }
        n
    }

    /// The lane whose oldest held frame is the oldest of all, if any frame is held.
    fn oldest(&self) -> Option<usize> {
        let heads = self.lanes.iter().enumerate().filter_map(|(i, l)| l.held.front().map(|f| (f.ts_ns, i)));
        heads.min().map(|(_, i)| i)
    }

    /// The newest timestamp no empty lane can still undercut.
    fn bound(&self, horizon: u64) -> u64 {
        let empty = self.lanes.iter().filter(|l| l.held.is_empty());
        empty.map(|l| l.newest.max(horizon)).min().unwrap_or(u64::MAX)
    }

    /// Gathers, then hands `f` every frame that is safe to release given `horizon`, oldest first. Returns
    /// how many were released.
    pub(super) fn drain_until(&mut self, horizon: u64, f: &mut impl FnMut(&Frame)) -> usize {
        self.gather();
        self.release(horizon, f)
    }

    fn release(&mut self, horizon: u64, f: &mut impl FnMut(&Frame)) -> usize {
        let mut n = 0;
        while let Some(i) = self.oldest() {
            let ts = self.lanes[i].held.front().map_or(0, |f| f.ts_ns);
            if ts > self.bound(horizon) {
                break;
            }
            let Some(frame) = self.lanes[i].held.pop_front() else { break };
            self.late += u64::from(ts < self.last_out);
            self.last_out = self.last_out.max(ts);
            f(&frame);
            self.spare.push(frame);
            n += 1;
        }
        n
    }

    /// Releases everything, oldest first (for when the taps have stopped). Returns how many frames.
    pub(super) fn drain_all(&mut self, f: &mut impl FnMut(&Frame)) -> usize {
        let mut n = 0;
        loop {
            let taken = self.gather();
            let released = self.release(u64::MAX, f);
            n += released;
            if taken == 0 && released == 0 {
                return n;
            }
        }
    }
}
