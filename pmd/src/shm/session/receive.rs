//! Receiving: making packets of the peer's buffers, or of this side's coming home, each entry checked
//! against the ledgers first, and giving the peer's freed buffers back.

use super::{PortSide, Session, BULK};
use crate::shm::entry;
use crate::shm::layout::DATA_WORDS;
use crate::shm::ring::Corrupt;
use crate::shm::taken::{PlainEntries, Taken};
use pktloop_engine::packet::{LentBuffer, LentChain};
use pktloop_engine::port::{DropReason, PacketBurst};
use pktloop_engine::Pool;

/// Empty receive polls after which a port looks how far its peer took what it sent (see
/// [`Session::receive`]).
const LEARN_AFTER_IDLE: u32 = 1024;

/// Freed peer buffers given back at once while traffic flows: each give-back moves the ring's index line
/// to the peer and back, so a few large ones cost less than many small ones. An idle poll gives back
/// whatever is freed.
const GIVE_BACK_BATCH: usize = 128;

impl Session {
    /// Receives up to `max` packets into `pkts`; returns how many arrived. A poll that finds nothing also
    /// gives back every peer buffer freed here and takes back this side's (busy ones give back in
    /// batches), so that neither waits on the path of a burst, and learns how far the peer took what was
    /// sent (a sender that stopped sending may poll only its receive side).
    pub fn receive(&mut self, pkts: &mut PacketBurst, max: usize, side: &PortSide<'_>) -> usize {
        let got = self.take_packets(pkts, max, side);
        self.give_back_freed(got == 0);
        if got == 0 {
            self.take_returns(side);
            self.learn_sent(side);
        } else {
            self.idle_polls = 0;
        }
        got
    }

    /// Counts as sent what the peer took since the last look, when something it had not taken was left,
    /// once every [`LEARN_AFTER_IDLE`] empty polls: the peer writes the index it is read from as it takes
    /// each burst, and a look on every empty poll (a ping waiting for its pong) slows both sides.
    fn learn_sent(&mut self, side: &PortSide<'_>) {
        self.idle_polls += 1;
        if self.idle_polls < LEARN_AFTER_IDLE {
            return;
        }
        self.idle_polls = 0;
        if self.broken || self.tx.known_consumed() == self.tx.head() {
            return;
        }
        match self.tx.consumed() {
            Ok(consumed) => self.count_sent(consumed, side),
            Err(Corrupt) => self.corrupt(side),
        }
    }

    fn take_packets(&mut self, pkts: &mut PacketBurst, max: usize, side: &PortSide<'_>) -> usize {
        if self.broken {
            return 0;
        }
        let ready = match self.rx.ready(self.rx_need) {
            Ok(0) => {
                self.rx.hint_next();
                return 0;
            }
            Ok(n) => n,
            Err(Corrupt) => {
                self.corrupt(side);
                return 0;
            }
        };
        let max = max.min(pkts.remaining_capacity());
        let mut t = self.take_plain(pkts, ready.min(max as u32), side);
        let mut chain = LentChain::new();
        self.rx_need = 1;
        while t.k < ready && t.got < max {
            let Some((entries, home)) = self.take_chain(t.k, ready, &mut chain, side.pool) else {
                self.rx_need = ready - t.k + 1;
                break;
            };
            t.k += entries;
            if chain.is_empty() {
                t.bad += 1;
                continue;
            }
            let p = if home {
                // SAFETY: `take_chain` checked every buffer: one of this side's that the peer had (the
                // ledger said it was lent, and no longer does), its window inside it, named once; no more
                // than the pool's max_buflets of them. The packet owns them again.
                unsafe { side.pool.packet_from_buffers(&chain) }
            } else {
                // SAFETY: `take_chain` checked every buffer: a buffer of the peer's pool, its window inside
                // it, not already in this side's hands (the ledger now records it as ours), named once; no
                // more than the pool's max_buflets of them.
                unsafe { self.peer.packet_from_buffers(&chain) }
            };
            t.deliver(p, pkts, side.max_frame, side.counters);
        }
        self.rx.release(t.k);
        if t.bad > 0 {
            side.counters.rx_dropped(DropReason::BadDescriptor, t.bad);
        }
        side.counters.rx(t.got as u64, t.bytes);
        t.got
    }

    /// Receives the run of plain frames from the first ready slot on, at most `slots` of them: packets of
    /// one buffer at its pool's usual offset, all the peer's (what generators and forwarders send) or all
    /// this side's coming home (echoes), as the first one is; [`Session::send_plain`] writes them. The
    /// general path takes the rest.
    #[inline]
    fn take_plain(&mut self, pkts: &mut PacketBurst, slots: u32, side: &PortSide<'_>) -> Taken {
        if slots == 0 {
            return Taken::default();
        }
        match entry::plain(self.rx.read(0)) {
            Some((_, false)) => self.take_plain_run::<false>(pkts, slots, side),
            Some((_, true)) => self.take_plain_run::<true>(pkts, slots, side),
            None => Taken::default(),
        }
    }

    /// [`Session::take_plain`] for one kind of entry ([`PlainEntries`]), made into packets with nothing
    /// decided per packet. `HOME`: the entries name this side's buffers coming back (for
    /// [`Session::send_plain`], `HOME` names the peer's going back to it).
    #[inline]
    fn take_plain_run<const HOME: bool>(&mut self, pkts: &mut PacketBurst, slots: u32, side: &PortSide<'_>) -> Taken {
        let pool = if HOME { side.pool } else { &self.peer };
        let room = pool.buf_size().saturating_sub(pool.headroom());
        let max_frame = u32::try_from(side.max_frame).unwrap_or(u32::MAX);
        let limit = room.min(max_frame).min(u32::from(u16::MAX) - 1);
        let ledger = if HOME { &mut self.lent } else { &mut self.held };
        let mut run = PlainEntries::<HOME> {
            ring: self.rx.reader(),
            ledger: ledger.entries(),
            slots,
            limit,
            taken: Taken::default(),
        };
        // SAFETY: each buffer yielded is one of `pool` the ledger let this side take (with `HOME`, one of its
        // own that the peer had; without, one of the peer's not already in this side's hands), so owned
        // here and named once; its length at most `limit`, below u16::MAX and inside the buffer past the
        // headroom.
        run.taken.got = unsafe { pool.extend_plain(pkts, &mut run) };
        if HOME {
            self.lent_count -= run.taken.got;
        }
        run.taken
    }

    /// Reads the packet whose first entry is `k` (of `ready`) into `chain` and returns how many entries it
    /// spans; `chain` is left empty when any entry is bad (the whole packet is skipped, and no buffer of it
    /// taken). `None` when the packet's entries are not all published yet (a sender publishes whole
    /// packets, so only a ring filled with unfinished chains is garbage, consumed as such).
    fn take_chain(&mut self, k: u32, ready: u32, chain: &mut LentChain, own: &Pool) -> Option<(u32, bool)> {
        chain.clear();
        let home = self.slot(k, ready).and_then(entry::decode).is_some_and(|s| s.home);
        let pool = if home { own } else { &self.peer };
        let (limit, headroom, buf_size) = (pool.max_buflets() as usize, pool.headroom(), pool.buf_size());
        let mut ok = true;
        let mut n = 0;
        loop {
            let first = n == 0;
            let Some(words) = self.slot(k + n, ready) else {
                return self.unfinished(k, ready, chain, home).map(|n| (n, home));
            };
            n += 1;
            let slot = entry::decode(words);
            let mut offset = entry::usual_offset(first, headroom);
            if slot.is_some_and(|s| s.offset_follows) {
                let Some([at, _]) = self.slot(k + n, ready) else {
                    return self.unfinished(k, ready, chain, home).map(|n| (n, home));
                };
                n += 1;
                offset = at;
            }
            let Some(s) = slot else {
                ok = false;
                break;
            };
            let buf = LentBuffer { index: s.index, offset, len: s.len };
            let fits = u64::from(buf.offset) + u64::from(buf.len) <= u64::from(buf_size);
            ok = ok && s.home == home && chain.len() < limit && fits && self.take_over(s.index, home);
            if ok {
                chain.push(buf);
            }
            if !s.more {
                break;
            }
        }
        if !ok {
            self.forget(chain, home);
        }
        Some((n, home))
    }

    /// Takes buffer `idx` into this side's hands, if the ledgers allow: one of the peer's not held here
    /// already, or (`home`) one of this side's that the peer has.
    fn take_over(&mut self, idx: u32, home: bool) -> bool {
        if !home {
            return self.held.insert(idx);
        }
        let lent = self.lent.remove(idx);
        self.lent_count -= usize::from(lent);
        lent
    }

    /// Slot `k` of the `ready` published ones, if there.
    fn slot(&self, k: u32, ready: u32) -> Option<[u32; DATA_WORDS]> {
        (k < ready).then(|| self.rx.read(k))
    }

    /// A packet whose slots are not all published yet: wait for them (a sender publishes whole packets),
    /// unless it began at the ring's first ready slot and the ring is full, which no sender does: then
    /// the whole ring is garbage, taken as one bad packet.
    fn unfinished(&mut self, k: u32, ready: u32, chain: &mut LentChain, home: bool) -> Option<u32> {
        self.forget(chain, home);
        (k == 0 && ready == self.rx.size()).then_some(ready)
    }

    /// Undoes the ledger entries of a chain not taken (see [`Session::take_over`]).
    fn forget(&mut self, chain: &mut LentChain, home: bool) {
        for b in chain.drain(..) {
            if home {
                self.lent.insert(b.index);
                self.lent_count += 1;
            } else {
                self.held.remove(b.index);
            }
        }
    }

    /// Puts the peer's buffers freed here on the give-back ring (what does not fit waits in `to_give`):
    /// once there are a batch of them, or `any` number. Decided where the poll is when there is nothing
    /// (the rule while a ping waits for its pong): a call on every empty poll cost the round trip.
    #[inline(always)]
    pub(super) fn give_back_freed(&mut self, any: bool) {
        if self.to_give.is_empty() && !self.peer.may_take_free() {
            return;
        }
        self.give_back_freed_now(any);
    }

    /// [`Session::give_back_freed`] when there may be something to give back.
    #[inline(never)]
    fn give_back_freed_now(&mut self, any: bool) {
        loop {
            let n = self.peer.take_free(&mut self.scratch[..]);
            // Only buffers the ledger says we hold reach the peer's free list; anything else would be a
            // bug here, and is not given to the peer.
            let kept = self.held.remove_keeping(&mut self.scratch[..n]);
            self.to_give.extend_from_slice(&self.scratch[..kept]);
            if n < BULK {
                break;
            }
        }
        if self.to_give.is_empty() || self.broken || (!any && self.to_give.len() < GIVE_BACK_BATCH) {
            return;
        }
        let Ok(space) = self.give_back.space(self.to_give.len() as u32) else {
            self.broken = true;
            return;
        };
        let n = (space as usize).min(self.to_give.len());
        self.give_back.prepare(n as u32);
        for (k, idx) in self.to_give.drain(..n).enumerate() {
            self.give_back.write(k as u32, [idx]);
        }
        self.give_back.publish(n as u32);
    }
}
