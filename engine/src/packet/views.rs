//! Views: packets over the rest of another packet's buffer (split-pool packing carves them), each holding
//! a share of the buffer.

use super::{born_tag, Packet, SIMPLE};
use crate::pool::buflet::NIL;

impl Packet {
    /// Split-pool packing: ends this single-buflet packet's region at the next 16-byte boundary after its
    /// data and returns a new packet (a view) over the rest of the same buffer, with `headroom` bytes of
    /// headroom. Returns `None` when the rest cannot hold the headroom plus one byte, or the pool has no
    /// descriptor left; the packet is unchanged then.
    pub fn carve_tail(&mut self, headroom: usize) -> Option<Packet> {
        if !self.can_carve(headroom) {
            return None;
        }
        let holder = self.pool().alloc_plain()?;
        self.carve_tail_into(headroom, holder).ok()
    }

    /// Whether the rest of this single-buflet packet's region, after its data rounded up to 16 bytes, holds
    /// `headroom` plus one byte (materializing a plain packet's descriptor).
    fn can_carve(&mut self, headroom: usize) -> bool {
        self.materialize();
        let h = self.head_desc();
        let end = (h.off + h.len).next_multiple_of(16);
        // Compared with what is left, not added to `end`: a huge `headroom` is refused rather than wrapping.
        h.next == NIL && headroom < (h.limit as usize).saturating_sub(end as usize)
    }

    /// [`Packet::carve_tail`] with the view's descriptor taken from `holder`, a new empty packet of the same
    /// pool (its buffer only lends the descriptor), so that a driver carving a burst allocates them in bulk.
    /// On failure (see `carve_tail`, or `holder` not a new packet of this pool) `holder` comes back.
    ///
    /// The view takes one of the shares this packet holds in reserve ([`Packet::reserve_views`]) when it
    /// has one, and carries the rest of the reserve forward (the tail is what carves next); otherwise it
    /// adds a share to the buffer.
    pub fn carve_tail_into(&mut self, headroom: usize, holder: Packet) -> Result<Packet, Packet> {
        if !self.can_carve(headroom) || !holder.is_plain() || holder.pool_id() != self.pool_id() {
            return Err(holder);
        }
        // SAFETY: this packet keeps its buffer until the method returns, and `holder`'s, taken below, is
        // the new view's.
        let pool = unsafe { self.pool_unbound() };
        let h = self.head_desc();
        let (mem, end, limit, reserve) = (h.mem, (h.off + h.len).next_multiple_of(16), h.limit, h.shares);
        let (_, idx) = holder.into_raw();
        if reserve == 0 {
            pool.share(mem);
        }
        self.set_tag(self.tag() & !SIMPLE);
        let h = self.head_desc_mut();
        h.limit = end;
        h.shares = 0;
        // SAFETY: `idx` came from `holder`, a plain packet (one buffer of its own, nothing sharing it) that we
        // now own and whose data is discarded; its descriptor becomes the view's, whose window end..limit was
        // cut from ours above, so the two never overlap.
        let v = unsafe { pool.desc_mut(idx) };
        v.reset_head(mem, end + headroom as u32, limit);
        v.start = end;
        v.shares = reserve.saturating_sub(1);
        Ok(Packet::from_parts(idx, born_tag(pool), 0))
    }

    /// Takes `n` more shares of this single-buflet packet's buffer at once (one atomic add), for views
    /// carved from it later: a driver packing a burst into one buffer then touches the shared count once
    /// per burst, not once per packet. Unused shares are given back when the packet (or the last view that
    /// carried them forward) is freed.
    pub fn reserve_views(&mut self, n: u16) {
        self.materialize();
        // SAFETY: this packet keeps its buffer until the method returns.
        let pool = unsafe { self.pool_unbound() };
        let h = self.head_desc_mut();
        if h.next != NIL || n == 0 {
            return;
        }
        let Some(total) = h.shares.checked_add(n) else { return };
        h.shares = total;
        let mem = h.mem;
        pool.share_n(mem, u32::from(n));
        self.set_tag(self.tag() & !SIMPLE);
    }
}
