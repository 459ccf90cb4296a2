//! Reading and writing a packet's bytes in place: its buflets, its first buflet's data as one slice (all of
//! it for a packet of one buffer), and ranges that may span buflets.
//!
//! The slices handed out rest on the packet owning its buffers: nothing else in this process touches them,
//! and for a pool in memory another process maps, nothing there writes them either, which is the contract
//! its constructor ([`crate::pool::Pool::in_shared_region`], `unsafe`) put on whoever made it.

use super::{Buflet, Packet, PacketError};
use crate::pool::buflet::NIL;

impl Packet {
    /// The buflets, in order.
    pub fn buflets(&self) -> impl Iterator<Item = Buflet<'_>> + '_ {
        let pool = self.pool();
        let mut b = self.head();
        let direct = self.is_direct();
        std::iter::from_fn(move || {
            if b == NIL {
                return None;
            }
            if direct {
                b = NIL;
                return Some(Buflet { offset: pool.headroom as usize, data: self.data() });
            }
            let d = self.desc(b);
            b = d.next;
            // SAFETY: `d` is a buflet of this packet.
            let data = unsafe { pool.bytes(d) };
            Some(Buflet { offset: d.headroom(), data })
        })
    }

    /// The data of the first buflet (all of it for single-buflet packets).
    #[inline(always)]
    pub fn data(&self) -> &[u8] {
        if self.is_plain() {
            // SAFETY: the plain packet's data (headroom + len <= buf_size) is in the buffer it owns.
            return unsafe { std::slice::from_raw_parts(self.plain_ptr(), usize::from(self.cached_len())) };
        }
        self.data_described()
    }

    /// [`Packet::data`] of a slice or a packet with a descriptor (out of line: the plain case inlines).
    #[inline(never)]
    fn data_described(&self) -> &[u8] {
        if self.is_slice() {
            // SAFETY: the slice's data (headroom + len within its region) is in memory it owns.
            return unsafe { std::slice::from_raw_parts(self.slice_ptr(), usize::from(self.cached_len())) };
        }
        // SAFETY: the head is a buflet of this packet.
        unsafe { self.pool().bytes(self.head_desc()) }
    }

    /// The data of the first buflet, writable.
    #[inline(always)]
    pub fn data_mut(&mut self) -> &mut [u8] {
        if self.is_plain() {
            // SAFETY: as for `data`; `&mut self` makes the access exclusive.
            return unsafe { std::slice::from_raw_parts_mut(self.plain_ptr(), usize::from(self.cached_len())) };
        }
        self.data_mut_described()
    }

    /// [`Packet::data_mut`] of a slice or a packet with a descriptor (out of line: the plain case inlines).
    #[inline(never)]
    fn data_mut_described(&mut self) -> &mut [u8] {
        if self.is_slice() {
            // SAFETY: as for `data`; `&mut self` makes the access exclusive.
            return unsafe { std::slice::from_raw_parts_mut(self.slice_ptr(), usize::from(self.cached_len())) };
        }
        // SAFETY: the head is a buflet of this packet and `&mut self` makes the access exclusive.
        unsafe { self.pool().bytes_mut(self.head_desc()) }
    }

    /// Visits every buflet's data mutably, in order.
    pub fn for_each_segment_mut(&mut self, mut f: impl FnMut(&mut [u8])) {
        if self.is_direct() {
            f(self.data_mut());
            return;
        }
        let mut b = self.head();
        while b != NIL {
            let d = self.desc(b);
            b = d.next;
            // SAFETY: `d` is a buflet of this packet and `&mut self` makes the access exclusive.
            f(unsafe { self.pool().bytes_mut(d) });
        }
    }

    #[inline]
    fn check_range(&self, offset: usize, len: usize) -> Result<(), PacketError> {
        let packet_len = self.len();
        if offset.checked_add(len).is_none_or(|end| end > packet_len) {
            return Err(PacketError::OutOfRange { offset, len, packet_len });
        }
        Ok(())
    }

    /// Copies `dst.len()` bytes starting at `offset` out of the packet, across buflets.
    #[inline(always)]
    pub fn read(&self, offset: usize, dst: &mut [u8]) -> Result<(), PacketError> {
        self.check_range(offset, dst.len())?;
        if self.is_plain() {
            dst.copy_from_slice(&self.data()[offset..offset + dst.len()]);
            return Ok(());
        }
        // The usual read of a chained packet, its headers, lies in its first buflet: copied with the length
        // the caller's compiler knows, a few moves instead of a call to `memcpy` with a length.
        if let Some(first) = self.buflets().next().and_then(|seg| seg.data.get(offset..offset + dst.len())) {
            dst.copy_from_slice(first);
            return Ok(());
        }
        let mut skip = offset;
        let mut done = 0;
        for seg in self.buflets() {
            if done == dst.len() {
                break;
            }
            if skip >= seg.data.len() {
                skip -= seg.data.len();
                continue;
            }
            let n = (seg.data.len() - skip).min(dst.len() - done);
            dst[done..done + n].copy_from_slice(&seg.data[skip..skip + n]);
            done += n;
            skip = 0;
        }
        Ok(())
    }

    /// Overwrites bytes `offset..offset + src.len()` (which must lie within the packet), across buflets.
    ///
    /// Always inlined, like [`Packet::data`]: the plain case then becomes, in the caller, a header of known
    /// length copied by a few vector moves rather than a call to `memcpy` (left to the compiler, a slice's
    /// branch was enough for it to call instead, and `pktloop fwd --mode txonly` fell from 99 to 76 Mpps).
    #[inline(always)]
    pub fn write(&mut self, offset: usize, src: &[u8]) -> Result<(), PacketError> {
        self.check_range(offset, src.len())?;
        if self.is_plain() {
            self.data_mut()[offset..offset + src.len()].copy_from_slice(src);
            return Ok(());
        }
        self.write_across(offset, src);
        Ok(())
    }

    /// [`Packet::write`] across the buflets of a packet that is not plain (a slice's one; the range is
    /// checked).
    fn write_across(&mut self, offset: usize, src: &[u8]) {
        let mut skip = offset;
        let mut done = 0;
        self.for_each_segment_mut(|seg| {
            if done == src.len() {
                return;
            }
            if skip >= seg.len() {
                skip -= seg.len();
                return;
            }
            let n = (seg.len() - skip).min(src.len() - done);
            seg[skip..skip + n].copy_from_slice(&src[done..done + n]);
            done += n;
            skip = 0;
        });
    }

    /// The whole packet as a vector (tests, captures).
    pub fn to_vec(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(self.len());
        for seg in self.buflets() {
            v.extend_from_slice(seg.data);
        }
        v
    }
}
