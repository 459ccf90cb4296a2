//! What one receive takes off a data ring: its counts ([`Taken`]), and the run of plain entries at its
//! start read as buffers, each checked against the ledger before it becomes a packet.

use super::entry;
use super::layout::DATA_WORDS;
use super::ledger::Entries;
use super::ring::Reader;
use pktloop_engine::port::{DropReason, PacketBurst, PortCounters};
use pktloop_engine::Packet;

/// What one receive took so far: slots consumed, packets received and their bytes, bad entries skipped.
#[derive(Debug, Default)]
pub(super) struct Taken {
    pub k: u32,
    pub got: usize,
    pub bytes: u64,
    pub bad: u64,
}

impl Taken {
    /// Hands `p` to the caller, or drops it (counted) when it is longer than `max_frame`.
    #[inline(always)]
    pub fn deliver(&mut self, p: Packet, pkts: &mut PacketBurst, max_frame: usize, counters: &PortCounters) {
        if p.len() > max_frame {
            counters.drop(DropReason::MtuExceeded, 1);
            return;
        }
        self.bytes += p.len() as u64;
        self.got += 1;
        pkts.push(p);
    }
}

/// The plain entries ([`entry::plain`]) of one kind from a ring's first ready slot on, as buffers: those
/// of the peer's pool, which the ledger of what is held here must not have yet, or (`HOME`) this side's
/// coming back, which the ledger of what is lent must have. An entry either ledger refuses is counted bad
/// and skipped. The run ends at the first entry of another kind, or longer than `limit` (the general
/// receive takes those), or after `slots` entries. Each buffer yielded is recorded as taken in the ledger
/// and in `taken`, but for `got`: the caller counts the packets it made.
pub(super) struct PlainEntries<'a, const HOME: bool> {
    pub ring: Reader<'a, DATA_WORDS>,
    pub ledger: Entries<'a>,
    pub slots: u32,
    /// Longest frame that is a plain packet here: the buffer's room past the headroom, a frame, and a
    /// handle's length, whichever is least (below any entry that is not plain, see [`entry::plain_len`]).
    pub limit: u32,
    pub taken: Taken,
}

impl<const HOME: bool> Iterator for PlainEntries<'_, HOME> {
    type Item = (u32, u16);

    #[inline(always)]
    fn next(&mut self) -> Option<(u32, u16)> {
        while self.taken.k < self.slots {
            let words = self.ring.read(self.taken.k);
            let len = entry::plain_len(words, HOME);
            if len > self.limit {
                return None;
            }
            self.taken.k += 1;
            let [index, _] = words;
            // The ledger follows `HOME`, never the word the peer wrote.
            let fresh = if HOME { self.ledger.remove(index) } else { self.ledger.insert(index) };
            if !fresh {
                self.taken.bad += 1;
                continue;
            }
            self.taken.bytes += u64::from(len);
            return Some((index, len as u16));
        }
        None
    }
}
