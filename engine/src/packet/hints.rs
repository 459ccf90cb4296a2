//! Hints a driver gives about the lines a packet's next use touches: its data or descriptor to read, the
//! room an append writes. They read and write nothing.

use super::{Packet, APPEND_AHEAD};

impl Packet {
    /// Hints that the packet will be read soon: the first `bytes` of a direct packet's data, or the head
    /// descriptor of any other (its data is found through it). A driver that copies a burst starts every
    /// frame loading before it copies the first, so that the fetches from the other core overlap.
    #[inline]
    pub fn prefetch(&self, bytes: usize) {
        if self.is_direct() {
            crate::prefetch::read(self.direct_ptr(), bytes.min(self.len()));
        } else {
            self.pool().prefetch_desc(self.head());
        }
    }

    /// Hints that this packet's head descriptor will be written soon (a driver that makes a burst of new
    /// packets into views or chains): its line is fetched in owned state, together with the burst's others.
    #[inline]
    pub fn prefetch_descriptor_for_write(&self) {
        self.pool().prefetch_desc_for_write(self.index());
    }

    /// Hints that the first `bytes` of a plain packet's room will be written soon (a driver about to copy a
    /// burst into new packets): their lines are fetched owned, together. Nothing for other packets. At most
    /// the largest buffer a pool has is hinted, however large `bytes` (a hint loops over every line).
    #[inline]
    pub fn prefetch_room(&self, bytes: usize) {
        if self.is_plain() {
            crate::prefetch::write(self.plain_ptr(), bytes.min(crate::pool::MAX_BUFFER_BYTES as usize));
        }
    }

    /// Hints that a frame of `len` bytes will soon be appended to each of `pkts`, new packets of one pool (a
    /// generator about to fill a burst): the line each frame starts in is fetched owned and, when the frame
    /// will not fit a buffer of the pool, so is the descriptor that chaining buflets then writes. That line
    /// was last read by the core that freed the buffer; asked for with the burst's others, its wait overlaps
    /// theirs instead of stalling each append in turn. The pool's room is looked at once, for the burst.
    /// Only a hint: for packets that are not new or not of the first one's pool, it fetches lines in vain.
    #[inline(always)]
    pub fn prefetch_appends(pkts: &[Packet], len: usize) {
        // Inlined into the generator's loop, as the line hints alone were (out of line, the whole function
        // cost shm txonly 5%); the descriptors' loop, for multi-buflet frames only, is a call.
        pkts.iter().for_each(|p| p.prefetch_room(APPEND_AHEAD));
        if pkts.first().is_some_and(|first| first.is_plain() && len > first.pool().room()) {
            Packet::prefetch_descriptors_for_write(pkts);
        }
    }

    /// [`Packet::prefetch_descriptor_for_write`] of each of `pkts`.
    #[inline(never)]
    fn prefetch_descriptors_for_write(pkts: &[Packet]) {
        pkts.iter().for_each(Packet::prefetch_descriptor_for_write);
    }

    /// Hints that the `bytes` of the packet's tailroom (the free bytes after its data, in its last buflet)
    /// from `skip` on will be written soon, as far as the tailroom goes (at least the line at `skip`, when
    /// that is inside it): a driver packing frames into one buffer has the lines of the next ones fetched
    /// owned while it copies this one.
    #[inline]
    pub fn prefetch_tailroom(&self, skip: usize, bytes: usize) {
        let (start, room) = if self.is_direct() {
            (self.direct_ptr().wrapping_add(self.len()), self.tailroom())
        } else {
            let d = self.desc(self.tail());
            // SAFETY: `d.mem` is a buffer of this packet's pool (its last buflet's memory).
            let base = unsafe { self.pool().buf_ptr(d.mem) };
            (base.wrapping_add((d.off + d.len) as usize), d.tailroom())
        };
        if skip < room {
            crate::prefetch::write(start.wrapping_add(skip), bytes.min(room - skip));
        }
    }
}
