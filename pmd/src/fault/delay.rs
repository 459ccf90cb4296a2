//! One rx queue's held-back frames: a FIFO allocated at construction, released by poll count.

use pktloop_engine::port::PacketBurst;
use pktloop_engine::Packet;
use std::collections::VecDeque;

/// Frames of one rx queue held back, each with the poll at which it is due.
#[derive(Debug)]
pub(super) struct Delay {
    held: VecDeque<(u64, Packet)>,
    /// Bound on `held`, within the capacity allocated at construction, so pushing never allocates.
    capacity: usize,
    /// Polls of this queue so far.
    poll: u64,
    /// How many polls a held frame waits.
    polls: u64,
}

impl Delay {
    /// A queue of `capacity` frames (0: holds nothing, allocates nothing) waiting `polls` polls each.
    pub(super) fn new(capacity: usize, polls: u32) -> Delay {
        Delay { held: VecDeque::with_capacity(capacity), capacity, poll: 0, polls: u64::from(polls) }
    }

    /// A new poll of the queue: moves up to `max` due frames, oldest first, to the end of `out`.
    pub(super) fn release(&mut self, out: &mut PacketBurst, max: usize) -> usize {
        self.poll += 1;
        let mut n = 0;
        while n < max && self.held.front().is_some_and(|&(due, _)| due <= self.poll) {
            if let Some((_, p)) = self.held.pop_front() {
                out.push(p);
                n += 1;
            }
        }
        n
    }

    /// Holds `p` until `polls` polls from now; hands it back when the queue is full.
    pub(super) fn hold(&mut self, p: Packet) -> Result<(), Packet> {
        if self.held.len() >= self.capacity {
            return Err(p);
        }
        self.held.push_back((self.poll + self.polls, p));
        Ok(())
    }

    /// Frames held now.
    pub(super) fn len(&self) -> usize {
        self.held.len()
    }

    /// Frees every held frame, returning how many there were.
    pub(super) fn clear(&mut self) -> usize {
        let n = self.held.len();
        self.held.clear();
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pktloop_engine::mem::Prefer;
    use pktloop_engine::pool::PoolConfig;
    use pktloop_engine::Pool;

    #[test]
    fn frames_wait_their_polls_leave_in_order_and_a_full_queue_hands_them_back() {
        let mut c = PoolConfig::new("delay-test", 16, 2048);
        c.prefer = Prefer::Normal;
        let pool = Pool::new(c).unwrap();
        let mut d = Delay::new(2, 2);
        let mut out = PacketBurst::new();
        assert_eq!(d.release(&mut out, 8), 0);
        for b in [1u8, 2] {
            assert!(d.hold(pool.packet_from(&[b]).unwrap()).is_ok());
        }
        assert!(d.hold(pool.packet_from(&[3]).unwrap()).is_err(), "full");
        assert_eq!((d.release(&mut out, 8), d.len()), (0, 2), "one poll: not yet due");
        assert_eq!(d.release(&mut out, 1), 1, "due, but only one fits");
        assert_eq!(d.release(&mut out, 8), 1);
        assert_eq!(out.iter().map(|p| p.data()[0]).collect::<Vec<_>>(), [1, 2]);
        assert!(d.hold(pool.packet_from(&[4]).unwrap()).is_ok());
        drop(out);
        assert_eq!((d.clear(), pool.in_use()), (1, 0));
    }
}
