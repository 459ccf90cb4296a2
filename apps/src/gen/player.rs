//! Plays a [`Trace`] into fresh pool buffers: in order, at recorded timing or as the caller paces it,
//! looping as asked.

use super::replay::{Trace, MIN_FRAME};
use pktloop_engine::port::PacketBurst;
use pktloop_engine::Pool;
use std::sync::Arc;

/// When the frames of a replay go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timing {
    /// At the capture's own timing (each frame when its offset from the first has passed).
    Recorded,
    /// As soon as the port takes them (or as `--rate` paces them).
    Asap,
}

/// What one [`Player::fill`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Played {
    /// Frames appended.
    pub made: usize,
    /// Frames skipped: longer than the port allows.
    pub too_long: u64,
    /// Frames skipped: shorter than an Ethernet header.
    pub too_short: u64,
    /// The pool could not supply the buffers (nothing was appended).
    pub nombuf: bool,
}

/// One generator's replay of a shared trace.
#[derive(Debug, Clone)]
pub struct Player {
    trace: Arc<Trace>,
    timing: Timing,
    /// Longest frame the port takes.
    max_len: usize,
    next: usize,
    /// Passes still to start after this one (None: loop until stopped).
    loops_left: Option<u64>,
    /// Engine time of this pass's first frame (0: not started).
    pass_start_ns: u64,
    finished: bool,
    /// The trace indices of one fill (made at setup: the fill allocates nothing).
    picked: Box<[u32]>,
}

impl Player {
    /// A player of `trace` that plays it `loops` times (0: until stopped).
    pub fn new(trace: Arc<Trace>, timing: Timing, loops: u64, max_len: usize) -> Player {
        let loops_left = (loops > 0).then(|| loops - 1);
        let picked = vec![0u32; pktloop_engine::pool::MAX_BULK].into_boxed_slice();
        Player { trace, timing, max_len, next: 0, loops_left, pass_start_ns: 0, finished: false, picked }
    }

    /// Whether every pass has been played.
    pub fn finished(&self) -> bool {
        self.finished
    }

    /// Appends up to `n` frames that are due to `out`; `clock` (engine nanoseconds) is read once, and only
    /// at recorded timing.
    pub fn fill(&mut self, pool: &Pool, out: &mut PacketBurst, n: usize, clock: impl FnOnce() -> u64) -> Played {
        let now_ns = if self.timing == Timing::Recorded { clock() } else { 0 };
        let mut played = Played::default();
        let want = n.min(self.picked.len());
        let (mut count, mut steps) = (0, 0);
        let (next, pass_start, loops_left, finished) = (self.next, self.pass_start_ns, self.loops_left, self.finished);
        // A skipped frame takes a slot too, so a trace of frames none of which fits cannot spin here.
        while steps < want && !self.finished {
            steps += 1;
            if self.pass_start_ns == 0 && self.timing == Timing::Recorded {
                self.pass_start_ns = now_ns;
            }
            let i = self.next;
            if self.timing == Timing::Recorded && now_ns < self.pass_start_ns + self.trace.offset_ns(i) {
                break;
            }
            let len = self.trace.frame(i).len();
            if len > self.max_len {
                played.too_long += 1;
            } else if len < MIN_FRAME {
                played.too_short += 1;
            } else {
                self.picked[count] = i as u32;
                count += 1;
            }
            self.advance();
        }
        if count == 0 {
            return played;
        }
        let start = out.len();
        if !pool.alloc_bulk(out, count) {
            // Nothing went: play these frames again next time.
            (self.next, self.pass_start_ns, self.loops_left, self.finished) = (next, pass_start, loops_left, finished);
            return Played { nombuf: true, ..Played::default() };
        }
        let mut at = start;
        for &i in &self.picked[..count] {
            if out[at].append(self.trace.frame(i as usize)).is_ok() {
                at += 1;
            } else {
                // Longer than the pool's buffers hold: counted with the frames too long, its buffer freed.
                drop(out.remove(at));
                played.too_long += 1;
            }
        }
        played.made = at - start;
        played
    }

    /// Moves to the next frame, starting the next pass (or finishing) after the last one.
    fn advance(&mut self) {
        self.next += 1;
        if self.next < self.trace.len() {
            return;
        }
        self.next = 0;
        match &mut self.loops_left {
            Some(0) => self.finished = true,
            left => {
                if let Some(l) = left {
                    *l -= 1;
                }
                self.pass_start_ns += self.trace.period_ns();
            }
        }
    }
}
