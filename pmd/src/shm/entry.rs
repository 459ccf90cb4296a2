//! How a packet crosses a data ring: one two-word slot per buflet, `[buffer index, length | flags]`, the
//! buflet's data assumed to start where its pool puts a new packet's (its headroom) for the first buflet
//! and at 0 for the others; a buflet elsewhere takes a second slot, `[offset, 0]`. A packet goes out in
//! the sender's own buffers, or, flagged *home*, in buffers its peer lent it (a packet sent back where it
//! came from, as an echo does, needs no copy and no give-back). Eight
//! bytes per packet in the common case, as many as an in-process ring of packet handles moves, so the
//! ring's cache lines cross between the processes no more often than feth's do between cores.

use pktloop_engine::packet::LentBuffer;

/// Words per slot.
pub(super) const WORDS: usize = 2;
/// Length bits of the second word (a buffer holds at most 1 MiB).
const LEN_MASK: u32 = (1 << 21) - 1;
/// Another buflet of the same packet follows.
const MORE: u32 = 1 << 31;
/// The next slot holds this buflet's data offset.
const AT: u32 = 1 << 30;
/// The buffer is the receiver's own, coming home.
const HOME: u32 = 1 << 29;

/// Where a buflet's data starts when its slot does not say: the pool's headroom in a packet's first
/// buflet, 0 in the others.
pub(super) fn usual_offset(first: bool, headroom: u32) -> u32 {
    if first {
        headroom
    } else {
        0
    }
}

/// The slots that carry `buf`: the second only when its data is not at the usual offset.
pub(super) fn encode(buf: LentBuffer, more: bool, home: bool, usual: u32) -> ([u32; WORDS], Option<[u32; WORDS]>) {
    let flags = if more { MORE } else { 0 } | if home { HOME } else { 0 };
    if buf.offset == usual {
        ([buf.index, buf.len | flags], None)
    } else {
        ([buf.index, buf.len | flags | AT], Some([buf.offset, 0]))
    }
}

/// The one slot of a packet of one buffer whose data is at the usual offset: [`encode`] of it.
#[inline]
pub(super) fn one(buf: LentBuffer, home: bool) -> [u32; WORDS] {
    [buf.index, buf.len | if home { HOME } else { 0 }]
}

/// A buflet's first slot, read back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Slot {
    pub index: u32,
    pub len: u32,
    /// Another buflet of the same packet follows.
    pub more: bool,
    /// The next slot holds the offset.
    pub offset_follows: bool,
    /// The buffer is the receiver's own.
    pub home: bool,
}

/// Reads a buflet's first slot; `None` when it sets bits no sender sets.
pub(super) fn decode([index, word]: [u32; WORDS]) -> Option<Slot> {
    if word & !(LEN_MASK | MORE | AT | HOME) != 0 {
        return None;
    }
    let flag = |f: u32| word & f != 0;
    Some(Slot { index, len: word & LEN_MASK, more: flag(MORE), offset_follows: flag(AT), home: flag(HOME) })
}

/// A packet that is one buffer at its pool's usual offset (what [`encode`] writes for a plain frame):
/// its length, and whether the buffer is the receiver's own, coming home. `None` for any other slot, which
/// the general decoding reads.
#[inline]
pub(super) fn plain([_, word]: [u32; WORDS]) -> Option<(u32, bool)> {
    (word & !(LEN_MASK | HOME) == 0).then_some((word & LEN_MASK, word & HOME != 0))
}

/// [`plain`]'s length of an entry whose kind is `home`, and for any other entry a number above any length
/// (so above any limit a receiver checks): one compare tells where a run of one kind ends.
#[inline(always)]
pub(super) fn plain_len([_, word]: [u32; WORDS], home: bool) -> u32 {
    word ^ if home { HOME } else { 0 }
}

/// Slots a packet of `buflets` buflets may take at most.
pub(super) fn most_slots(buflets: usize) -> u32 {
    2 * buflets as u32
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_buflet_at_the_usual_offset_takes_one_slot_and_others_two() {
        let at_headroom = LentBuffer { index: 7, offset: 128, len: 60 };
        let (slot, extra) = encode(at_headroom, false, false, 128);
        assert_eq!(extra, None);
        let s = Slot { index: 7, len: 60, more: false, offset_follows: false, home: false };
        assert_eq!(decode(slot), Some(s));
        let moved = LentBuffer { index: 9, offset: 300, len: 1 << 20 };
        let (slot, extra) = encode(moved, true, true, 128);
        assert_eq!(extra, Some([300, 0]));
        let s = Slot { index: 9, len: 1 << 20, more: true, offset_follows: true, home: true };
        assert_eq!(decode(slot), Some(s));
        assert_eq!(decode([1, 1 << 25]), None, "bits no sender sets");
    }

    #[test]
    fn only_a_lone_buffer_at_the_usual_offset_reads_as_plain() {
        let buf = LentBuffer { index: 3, offset: 128, len: 64 };
        assert_eq!(plain(encode(buf, false, false, 128).0), Some((64, false)));
        assert_eq!(plain(encode(buf, false, true, 128).0), Some((64, true)), "a buffer going home");
        assert_eq!(plain(encode(buf, true, false, 128).0), None, "more buflets follow");
        assert_eq!(plain(encode(buf, false, false, 0).0), None, "an offset follows");
        assert_eq!(plain([3, 1 << 25]), None, "bits no sender sets");
    }

    proptest! {
        #[test]
        fn every_buflet_reads_back_as_written(index: u32, offset in 0u32..(1 << 20), len in 0u32..=(1 << 20),
                                              more: bool, home: bool, usual in 0u32..4096) {
            let (slot, extra) = encode(LentBuffer { index, offset, len }, more, home, usual);
            let s = decode(slot).unwrap();
            prop_assert_eq!((s.index, s.len, s.more, s.home), (index, len, more, home));
            prop_assert_eq!(extra.map(|e| e[0]).unwrap_or(usual), offset);
            prop_assert_eq!(s.offset_follows, extra.is_some());
        }
    }

    proptest! {
        #[test]
        fn plain_len_is_the_length_of_a_plain_entry_of_its_kind_only(word: u32, home: bool) {
            let len = plain_len([0, word], home);
            match plain([0, word]) {
                Some((l, h)) if h == home => prop_assert_eq!(len, l),
                _ => prop_assert!(len > LEN_MASK),
            }
        }
    }

    #[test]
    fn one_is_encode_of_a_buffer_at_the_usual_offset() {
        for home in [false, true] {
            let b = LentBuffer { index: 77, offset: 128, len: 1514 };
            assert_eq!(one(b, home), encode(b, false, home, 128).0);
        }
    }
}
