//! Sending: lending this side's buffers (a packet of another pool is copied into one first) or sending
//! the peer's home in theirs, slot by slot on the data ring, counting what the peer took, and taking back
//! the buffers it gives back.

use super::{PortSide, Session, BULK};
use crate::shm::entry;
use crate::shm::layout::RETURN_WORDS;
use crate::shm::ring::Corrupt;
use pktloop_engine::packet::{CopyError, LentBuffer, LentChain};
use pktloop_engine::port::{DropReason, PacketBurst};
use pktloop_engine::{Packet, Pool};

/// How a packet crosses (see [`Session::lend`]). An enum rather than `home` and an `Option` of the buffer:
/// that struct, tried, moved 4-8% fewer 64-byte packets between two processes (A/B, 4 runs each).
enum Lent {
    /// One buffer: of the peer's pool when `home` (it goes back to it), else of this side's.
    One { buf: LentBuffer, home: bool },
    /// The buffers in the caller's chain; `home` when they are the peer's, going back to it.
    Chain { home: bool },
}

impl Lent {
    /// Whether the buffers are the peer's, going back to it.
    fn home(&self) -> bool {
        match *self {
            Lent::One { home, .. } | Lent::Chain { home } => home,
        }
    }
}

/// Slots packet `p` may take on the data ring at most.
fn most_slots(p: &Packet) -> u32 {
    entry::most_slots(p.buflet_count())
}

impl Session {
    /// Sends packets from the front of `pkts` while the ring has room; returns how many were taken (sent,
    /// or dropped and counted).
    pub fn send(&mut self, pkts: &mut PacketBurst, side: &PortSide<'_>) -> usize {
        if pkts.is_empty() || 2 * self.lent_count >= self.own_capacity {
            self.take_returns(side);
        }
        if self.broken {
            return 0;
        }
        // A packet goes only while the ring surely has its slots: a plain frame takes one, others at most
        // two per buflet.
        // The run of plain frames first: of this side's pool (what generators send), else of the peer's,
        // going home (echoes). One kind per run, so that its loop decides nothing per packet.
        let run = |pool: &Pool| pool.plain_run(pkts, side.max_frame);
        let (plain, home) = match run(side.pool) {
            0 => (run(&self.peer), true),
            own => (own, false),
        };
        let want = if plain == pkts.len() { plain as u32 } else { pkts.iter().map(most_slots).sum() };
        // An idle call (nothing to send) is when to learn how far the peer got, for the counters.
        let learn = if want == 0 && self.tx.known_consumed() != self.tx.head() { u32::MAX } else { want };
        let Ok(space) = self.tx.space(learn) else {
            self.corrupt(side);
            return 0;
        };
        // Packets count as sent as the peer's index is learnt (when the ring runs short, at the latest).
        self.count_sent(self.tx.known_consumed(), side);
        let n = plain.min(space as usize);
        let plain = if home {
            self.send_plain::<true>(pkts, n, space, side)
        } else {
            self.send_plain::<false>(pkts, n, space, side)
        };
        let rest = if pkts.is_empty() { 0 } else { self.send_lent(pkts, space - plain as u32, side) };
        self.publish_awaiting(side);
        plain + rest
    }

    /// Sends packets from the front of `pkts` while the `space` slots free on the ring surely hold them,
    /// each as whatever it is made of ([`Session::lend`]): this side's buffers, the peer's going home, or a
    /// copy. Returns how many were taken (sent, or dropped and counted).
    fn send_lent(&mut self, pkts: &mut PacketBurst, space: u32, side: &PortSide<'_>) -> usize {
        let (mut used, mut taken) = (0u32, 0);
        for p in pkts.iter() {
            used += most_slots(p);
            if used > space {
                break;
            }
            taken += 1;
        }
        self.tx.prepare(used.min(space));
        used = 0;
        let headroom = side.pool.headroom();
        let mut chain = LentChain::new();
        for p in pkts.drain(..taken) {
            let len = p.len();
            let Some(lent) = self.lend(p, side, &mut chain) else { continue };
            // A buffer going home sits where its owner's pool puts data.
            let usual = if lent.home() { self.peer.headroom() } else { headroom };
            match lent {
                Lent::One { buf, home } => self.write_buffer(buf, false, home, usual, &mut used),
                Lent::Chain { home } => {
                    for (i, &b) in chain.iter().enumerate() {
                        let more = i + 1 < chain.len();
                        self.write_buffer(b, more, home, entry::usual_offset(i == 0, usual), &mut used);
                    }
                }
            }
            // The packet's last slot says it ended, and how long it was.
            self.tally.ends(self.tx.head().wrapping_add(used - 1), len as u32);
        }
        self.tx.publish(used);
        taken
    }

    /// Sends the first `n` packets of `pkts`, plain frames ([`Pool::plain_run`] no longer than a frame)
    /// of this side's pool (what generators and io forwarders send) or, `HOME`, of the peer's (echoes)
    /// for which the ring has room (it has `space` slots free): one slot each, at the usual offset, written
    /// with no call per packet. Returns how many it sent: `n` (or none, were the run not what `plain_run`
    /// found); the general path takes the rest.
    fn send_plain<const HOME: bool>(
        &mut self,
        pkts: &mut PacketBurst,
        n: usize,
        space: u32,
        side: &PortSide<'_>,
    ) -> usize {
        if n == 0 {
            return 0;
        }
        self.tx.prepare(n as u32);
        // Each record in its own pass (slots, totals, ledger), each with its state in registers, where one
        // pass writing all three reloads each's from memory after every store to the shared slots.
        let pool = if HOME { &self.peer } else { side.pool };
        let (tx, tally) = (&mut self.tx, &mut self.tally);
        let ledger = if HOME { &mut self.held } else { &mut self.lent };
        // The ledger goes last and nothing in here panics: a panic after it would leave packets in `pkts`,
        // to be freed, that the ledger records as crossed.
        let lent = pool.lend_plain_burst(pkts, n, |bufs| {
            tx.write_each(bufs.clone().map(|b| entry::one(b, HOME)));
            tally.ends_each(tx.head(), bufs.clone().map(|b| b.len));
            let indices = bufs.map(|b| b.index);
            if HOME {
                ledger.remove_each(indices)
            } else {
                ledger.insert_each(indices)
            }
        });
        let Some(changed) = lent else {
            // Not a run of plain frames of the pool after all (never: the run was found by the same tag
            // test): the general path takes them.
            debug_assert!(false, "a run of plain frames of one pool is lent whole");
            return 0;
        };
        // A packet of the peer's pool is made of buffers held here; a buffer this side owned is not lent.
        debug_assert_eq!(changed, n, "every buffer lent crosses the ledger once");
        if !HOME {
            self.lent_count += n;
        }
        self.tx.publish(n as u32);
        // The next burst's slots, which the peer read a lap ago: asked for now, their lines are this
        // side's by the time it has made that burst, instead of each write above waiting for its line.
        // (Only free ones: a full ring's next slots are those the peer is about to read.)
        self.tx.prepare((n as u32).min(space - n as u32));
        n
    }

    /// Publishes how many packets sent the peer has not taken ([`super::ShmCounters::set_awaiting`]).
    pub(super) fn publish_awaiting(&self, side: &PortSide<'_>) {
        side.shm.set_awaiting(self.tally.untaken());
    }

    /// Counts the packets the peer took off the `tx` ring since the last look, up to `consumed`, as sent:
    /// a port's `opackets` are packets its peer received, so that a packet lost with the peer is counted
    /// once, as dropped.
    pub(super) fn count_sent(&mut self, consumed: u32, side: &PortSide<'_>) {
        let taken = self.tally.take(consumed);
        side.counters.tx(taken.packets, taken.bytes);
        self.publish_awaiting(side);
    }

    /// Writes the slots of one buflet's buffer at `used` (and on), and records that it crossed.
    #[inline]
    fn write_buffer(&mut self, b: LentBuffer, more: bool, home: bool, usual: u32, used: &mut u32) {
        let (slot, offset) = entry::encode(b, more, home, usual);
        for words in std::iter::once(slot).chain(offset) {
            self.tx.write(*used, words);
            self.tally.continues(self.tx.head().wrapping_add(*used));
            *used += 1;
        }
        self.cross(b.index, home);
    }

    /// Records that buffer `idx` crossed to the peer: lent, or (`home`) one of the peer's given back with
    /// the packet in it.
    fn cross(&mut self, idx: u32, home: bool) {
        if home {
            let held = self.held.remove(idx);
            debug_assert!(held, "a packet of the peer's pool is made of buffers held here");
        } else {
            let fresh = self.lent.insert(idx);
            debug_assert!(fresh, "a buffer this side owned is not lent already");
            self.lent_count += 1;
        }
    }

    /// Turns `p` into the buffers that carry it: the peer's own when it is a packet of the peer's pool (it
    /// goes home), else this side's, copying it into this side's pool if it is of another or shares its
    /// buffers. A packet of one buffer (the common case) comes back by value: one written into `chain` and
    /// read back at once stalls the store buffer; longer ones are in `chain`. `None` when it was dropped
    /// (counted) instead.
    fn lend(&mut self, p: Packet, side: &PortSide<'_>, chain: &mut LentChain) -> Option<Lent> {
        if p.len() > side.max_frame {
            side.counters.drop(DropReason::MtuExceeded, 1);
            return None;
        }
        let p = match p.into_buffer(side.pool) {
            Ok(buf) => return Some(Lent::One { buf, home: false }),
            Err(p) => p,
        };
        let p = match p.into_buffer(&self.peer) {
            Ok(buf) => return Some(Lent::One { buf, home: true }),
            Err(p) => p,
        };
        let p = match p.into_buffers(side.pool, chain) {
            Ok(()) => return Some(Lent::Chain { home: false }),
            Err(p) => p,
        };
        let p = match p.into_buffers(&self.peer, chain) {
            Ok(()) => return Some(Lent::Chain { home: true }),
            Err(p) => p,
        };
        let copy = match p.copy_layout_to(side.pool) {
            Ok(copy) => copy,
            Err(e) => {
                let reason = match e {
                    CopyError::NoMemPacket => DropReason::NoMemPacket,
                    CopyError::NoMemBuffer => DropReason::NoMemBuffer,
                    CopyError::Layout => DropReason::MtuExceeded,
                };
                side.counters.drop(reason, 1);
                return None;
            }
        };
        side.shm.copied(1);
        if copy.into_buffers(side.pool, chain).is_err() {
            // A fresh copy is whole buffers of this pool; only a chain longer than one packet may lend
            // ([`pktloop_engine::packet::MAX_LENT_CHAIN`] buflets) is refused, as a layout the copy could
            // not take is above.
            side.counters.drop(DropReason::MtuExceeded, 1);
            return None;
        }
        Some(Lent::Chain { home: false })
    }

    /// Takes back this side's buffers the peer gave back, refusing any it did not have. Most polls find
    /// nothing: they leave with one load of a line that stays in this core's cache, and no call.
    #[inline(always)]
    pub(super) fn take_returns(&mut self, side: &PortSide<'_>) {
        if self.broken {
            return;
        }
        match self.returns.ready(1) {
            Ok(0) => {}
            Ok(ready) => self.take_ready_returns(ready, side),
            Err(Corrupt) => self.corrupt(side),
        }
    }

    /// [`Session::take_returns`] of the `ready` entries on the ring.
    #[inline(never)]
    fn take_ready_returns(&mut self, ready: u32, side: &PortSide<'_>) {
        self.returns.fetch(ready);
        let ring = self.returns.reader();
        let (mut k, mut bad) = (0, 0);
        while k < ready {
            let n = (ready - k).min(BULK as u32);
            let mut kept = 0;
            // One word per entry: each word is an index.
            const _: () = assert!(RETURN_WORDS == 1);
            for run in ring.runs(k, n) {
                kept += self.lent.remove_into(run, &mut self.scratch[kept..]);
            }
            // SAFETY: each index kept was lent by this side (the ledger had it) and is now given back once.
            unsafe { side.pool.put_bulk(&self.scratch[..kept]) };
            debug_assert!(kept <= self.lent_count, "the ledger holds what was lent");
            self.lent_count -= kept;
            bad += u64::from(n) - kept as u64;
            k += n;
        }
        self.returns.release(ready);
        side.shm.refused(bad);
    }
}
