//! One connection's data path: the four rings, the peer's pool mapped here, and the two ledgers. Sending
//! lends this side's buffers (a packet of another pool is copied into one first), or sends a packet of the
//! peer's buffers home in them; receiving makes packets of the peer's buffers, or of this side's coming
//! home; freed peer buffers go back through the give-back ring, and this side's come back through the
//! peer's. Everything read from shared memory is checked before it is used.

use super::entry;
use super::layout::{self, Role, DATA_WORDS, RETURN_WORDS};
use super::ledger::Ledger;
use super::ring::{Consumer, Corrupt, Producer};
use super::taken::{PlainEntries, Taken};
use super::tally::Tally;
use pktloop_engine::mem::Region;
use pktloop_engine::packet::{CopyError, LentBuffer, LentChain};
use pktloop_engine::port::{bump_owned, DropReason, PacketBurst, PortCounters};
use pktloop_engine::{Packet, Pool};
use std::sync::atomic::{AtomicU64, Ordering};

/// Empty receive polls after which a port looks how far its peer took what it sent (see
/// [`Session::receive`]).
const LEARN_AFTER_IDLE: u32 = 1024;

/// Buffers moved per bulk call between a ledger and a pool.
const BULK: usize = 512;
/// Freed peer buffers given back at once while traffic flows: each give-back moves the ring's index line
/// to the peer and back, so a few large ones cost less than many small ones. An idle poll gives back
/// whatever is freed.
const GIVE_BACK_BATCH: usize = 128;

/// The driver's own counters, beyond the port's.
#[derive(Debug, Default)]
pub struct ShmCounters {
    sessions: AtomicU64,
    tx_copied: AtomicU64,
    bad_returns: AtomicU64,
    corrupt_rings: AtomicU64,
    awaiting_peer: AtomicU64,
}

impl ShmCounters {
    /// Connections made.
    pub fn sessions(&self) -> u64 {
        self.sessions.load(Ordering::Relaxed)
    }

    /// Packets sent that were not of this port's pool, so were copied into it first.
    pub fn tx_copied(&self) -> u64 {
        self.tx_copied.load(Ordering::Relaxed)
    }

    /// Give-back entries refused: a buffer not lent to the peer, out of range or given back twice.
    pub fn bad_returns(&self) -> u64 {
        self.bad_returns.load(Ordering::Relaxed)
    }

    /// Rings whose peer index was impossible (the connection was then dropped).
    pub fn corrupt_rings(&self) -> u64 {
        self.corrupt_rings.load(Ordering::Relaxed)
    }

    /// Packets on the ring that the peer had not taken at the port's last look: a run that ends counts
    /// its packets once this is 0 (the peer may be slow to take the last ones, not gone).
    pub fn awaiting_peer(&self) -> u64 {
        self.awaiting_peer.load(Ordering::Relaxed)
    }

    pub(super) fn session_started(&self) {
        self.sessions.fetch_add(1, Ordering::Relaxed);
    }
}

/// What a session needs of its port on every call.
pub(super) struct PortSide<'a> {
    /// This side's pool (its buffers are what it lends).
    pub pool: &'a Pool,
    /// Longest frame sent or taken.
    pub max_frame: usize,
    pub counters: &'a PortCounters,
    pub shm: &'a ShmCounters,
}

/// How a packet crosses (see [`Session::lend`]). An enum rather than `home` and an `Option` of the buffer:
/// that struct, tried, moved 4-8% fewer 64-byte packets between two processes (A/B, 4 runs each).
enum Lent {
    /// One buffer: of the peer's pool when `home` (it goes back to it), else of this side's.
    One { buf: LentBuffer, home: bool },
    /// The buffers in the caller's chain; `home` when they are the peer's, going back to it.
    Chain { home: bool },
}

/// Slots packet `p` may take on the data ring at most.
fn most_slots(p: &Packet) -> u32 {
    entry::most_slots(p.buflet_count())
}

/// A live connection's data path.
#[derive(Debug)]
pub(super) struct Session {
    tx: Producer<DATA_WORDS>,
    rx: Consumer<DATA_WORDS>,
    give_back: Producer<RETURN_WORDS>,
    returns: Consumer<RETURN_WORDS>,
    /// The peer's buffers, mapped here; freed packets of it collect in its free list.
    peer: Pool,
    /// The peer's buffers in this side's hands (as packets, or freed and not yet given back).
    held: Ledger,
    /// This side's buffers the peer has (on the ring, or taken off it and not yet given back).
    lent: Ledger,
    /// Peer buffers freed here that did not fit the give-back ring yet (capacity: all of them).
    to_give: Vec<u32>,
    /// Room to collect buffer indices in, freed peer buffers or this side's given back (kept, so no call
    /// clears a fresh array).
    scratch: Box<[u32; BULK]>,
    /// What was sent on `tx`, slot by slot, and how much of it the peer took.
    tally: Tally,
    /// Receive polls in a row that found nothing.
    idle_polls: u32,
    /// Slots `rx` must have published before the next look finds anything new: 1, or more when the
    /// last look stopped at a packet whose slots were not all there yet.
    rx_need: u32,
    /// Buffers in `lent`, and the pool's size: returns are read while sending only once half the pool
    /// is lent, so that a burst's path does not wait for the give-back ring's lines (a poll that finds
    /// nothing to receive reads them).
    lent_count: usize,
    own_capacity: usize,
    /// A peer index was impossible: nothing more is read or written; the port drops the connection.
    broken: bool,
    /// Keeps the rings mapped; last, so it is unmapped after everything that points into it.
    _channel: Region,
}

impl Session {
    /// The data path over `channel` (at least [`layout::channel_bytes`]`(ring_size)` bytes, checked by
    /// the caller) for `role`, with the peer's buffers in `peer`, lending buffers of a pool of `own`
    /// buffers.
    pub fn new(mut channel: Region, ring_size: u32, role: Role, peer: Pool, own: u32) -> Session {
        assert!(channel.len() >= layout::channel_bytes(ring_size), "the channel holds its rings");
        // SAFETY: the mapping is page aligned and at least channel_bytes(ring_size) long (asserted), and the
        // session keeps it mapped as long as the ring halves (they are dropped first).
        let rings = unsafe { layout::rings(channel.as_mut_ptr(), ring_size, role) };
        let peer_count = peer.capacity() as u32;
        // SAFETY: each ring has one producer and one consumer: this side produces `tx` and `give_back` and
        // consumes the other two, the peer the opposite (the role decides which is which).
        let (tx, rx, give_back, returns) = unsafe {
            (
                Producer::new(rings.tx),
                Consumer::new(rings.rx),
                Producer::new(rings.give_back),
                Consumer::new(rings.returns),
            )
        };
        let tally = Tally::new(ring_size, tx.head());
        Session {
            tx,
            rx,
            give_back,
            returns,
            held: Ledger::new(peer_count),
            lent: Ledger::new(own),
            to_give: Vec::with_capacity(peer_count as usize),
            scratch: Box::new([0; BULK]),
            tally,
            idle_polls: 0,
            rx_need: 1,
            lent_count: 0,
            own_capacity: own as usize,
            peer,
            broken: false,
            _channel: channel,
        }
    }

    /// The channel mapping, for tests that play a hostile peer.
    #[cfg(test)]
    pub fn channel_base(&mut self) -> *mut u8 {
        self._channel.as_mut_ptr()
    }

    /// Makes the calling thread's caches of both pools (see [`Pool::prepare_thread_cache`]).
    pub fn prepare_thread(&self, own: &Pool) {
        own.prepare_thread_cache();
        self.peer.prepare_thread_cache();
    }

    /// Whether a peer index was impossible.
    pub fn is_broken(&self) -> bool {
        self.broken
    }

    fn corrupt(&mut self, side: &PortSide<'_>) {
        if !self.broken {
            self.broken = true;
            bump_owned(&side.shm.corrupt_rings, 1);
            log::warn!("shm: the peer wrote an impossible ring index; dropping the connection");
        }
    }

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
            match lent {
                // A buffer going home sits where its owner's pool puts data.
                Lent::One { buf, home } => {
                    let usual = if home { self.peer.headroom() } else { headroom };
                    self.write_buffer(buf, false, home, usual, &mut used);
                }
                Lent::Chain { home } => {
                    let usual = if home { self.peer.headroom() } else { headroom };
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

    /// Publishes how many packets sent the peer has not taken, when that changed (the counter shares a
    /// line the main thread reads).
    fn publish_awaiting(&self, side: &PortSide<'_>) {
        let awaiting = self.tally.untaken();
        if side.shm.awaiting_peer.load(Ordering::Relaxed) != awaiting {
            side.shm.awaiting_peer.store(awaiting, Ordering::Relaxed);
        }
    }

    /// Gives back freed peer buffers and counts what the peer took; true when the peer has taken every
    /// packet sent and nothing waits to be given back (a closing port waits for that).
    pub fn flush(&mut self, side: &PortSide<'_>) -> bool {
        self.give_back_freed(true);
        self.take_returns(side);
        match self.tx.consumed() {
            Ok(consumed) => {
                self.count_sent(consumed, side);
                consumed == self.tx.head() && self.to_give.is_empty()
            }
            Err(Corrupt) => true,
        }
    }

    /// Counts the packets the peer took off the `tx` ring since the last look, up to `consumed`, as sent:
    /// a port's `opackets` are packets its peer received, so that a packet lost with the peer is counted
    /// once, as dropped.
    fn count_sent(&mut self, consumed: u32, side: &PortSide<'_>) {
        let taken = self.tally.take(consumed);
        side.counters.tx(taken.packets, taken.bytes);
        self.publish_awaiting(side);
    }

    /// Ends the session, the peer gone or going: takes back what it gave back, counts what it took as
    /// sent and the packets it never took off the ring as lost with it (`peer_lost`), then takes
    /// back every buffer still lent. The peer's pool gets every buffer this side does not hold, so that it
    /// is released as soon as the last packet of it here is freed.
    pub fn finish(mut self, side: &PortSide<'_>) {
        self.take_returns(side);
        let consumed = if self.broken { Err(Corrupt) } else { self.tx.consumed() };
        if let Ok(consumed) = consumed {
            self.count_sent(consumed, side);
        }
        side.counters.drop(DropReason::PeerLost, self.tally.untaken());
        self.tally.forget_untaken();
        self.publish_awaiting(side);
        let mut back = arrayvec::ArrayVec::<u32, BULK>::new();
        self.lent_count = 0;
        self.lent.drain(|idx| {
            back.push(idx);
            if back.is_full() {
                // SAFETY: every index was lent by this side and the peer gives up all of them now.
                unsafe { side.pool.put_bulk(&back) };
                back.clear();
            }
        });
        // SAFETY: as above.
        unsafe { side.pool.put_bulk(&back) };
        self.complete_peer_pool();
    }

    /// Hands the peer's pool every buffer not in this side's hands (those freed here are in it already).
    fn complete_peer_pool(&mut self) {
        let mut chunk = arrayvec::ArrayVec::<u32, BULK>::new();
        for idx in (0..self.held.count()).filter(|&i| !self.held.contains(i)) {
            chunk.push(idx);
            if chunk.is_full() {
                // SAFETY: a buffer not held here is in no packet of the peer's pool and not in its free list
                // (which only ever holds buffers the ledger records as held), so it is handed over once.
                unsafe { self.peer.put_bulk(&chunk) };
                chunk.clear();
            }
        }
        // SAFETY: as above.
        unsafe { self.peer.put_bulk(&chunk) };
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
        bump_owned(&side.shm.tx_copied, 1);
        copy.into_buffers(side.pool, chain).is_ok().then_some(Lent::Chain { home: false })
    }

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
            side.counters.rx_error(t.bad);
            side.counters.drop(DropReason::BadDescriptor, t.bad);
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
    fn give_back_freed(&mut self, any: bool) {
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

    /// Takes back this side's buffers the peer gave back, refusing any it did not have. Most polls find
    /// nothing: they leave with one load of a line that stays in this core's cache, and no call.
    #[inline(always)]
    fn take_returns(&mut self, side: &PortSide<'_>) {
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
        bump_owned(&side.shm.bad_returns, bad);
    }
}
