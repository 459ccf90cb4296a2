//! The receive side of one queue: a walk over the socket's TPACKET_V3 block ring.
//!
//! The kernel fills one block at a time with frames (each a `tpacket3_hdr`, the frame, and the offset of
//! the next) and hands the block over when it is full or its retire timeout has passed since the first
//! frame. [`RxRing::rx_burst`] takes the ready blocks in ring order, copies each frame into a packet of the
//! pool, and hands a block back once every frame of it is taken; when the burst fills up in the middle of a
//! block it remembers where it stopped and goes on from there next time. No system call: the kernel retires
//! blocks by itself, and the block status words say which are ready.
//!
//! Block and frame headers are read as bytes through checked views: a header that points outside its block
//! is counted as bad frames, never a panic.

use super::sys::RingSocket;
use pktloop_engine::packet::PacketError;
use pktloop_engine::port::PacketBurst;
use pktloop_engine::{Packet, Pool};
use std::mem::{offset_of, size_of};
use std::ops::{Range, RangeInclusive};

/// A header field: its byte range.
pub(super) type Field = Range<usize>;

const fn field<T>(at: usize) -> Field {
    at..at + size_of::<T>()
}

/// Fields of a block descriptor (`tpacket_block_desc`, whose header is a `tpacket_hdr_v1`).
const BLOCK_HDR: usize = offset_of!(libc::tpacket_block_desc, hdr);
pub(super) const NUM_PKTS: Field = field::<u32>(BLOCK_HDR + offset_of!(libc::tpacket_hdr_v1, num_pkts));
pub(super) const FIRST_PKT: Field = field::<u32>(BLOCK_HDR + offset_of!(libc::tpacket_hdr_v1, offset_to_first_pkt));

/// Fields of a frame header (`tpacket3_hdr`).
pub(super) const FRAME_HDR_LEN: usize = size_of::<libc::tpacket3_hdr>();
pub(super) const NEXT_OFFSET: Field = field::<u32>(offset_of!(libc::tpacket3_hdr, tp_next_offset));
pub(super) const SNAPLEN: Field = field::<u32>(offset_of!(libc::tpacket3_hdr, tp_snaplen));
pub(super) const LEN: Field = field::<u32>(offset_of!(libc::tpacket3_hdr, tp_len));
pub(super) const STATUS: Field = field::<u32>(offset_of!(libc::tpacket3_hdr, tp_status));
pub(super) const MAC: Field = field::<u16>(offset_of!(libc::tpacket3_hdr, tp_mac));
const HV1: usize = offset_of!(libc::tpacket3_hdr, hv1);
pub(super) const VLAN_TCI: Field = field::<u32>(HV1 + offset_of!(libc::tpacket_hdr_variant1, tp_vlan_tci));
pub(super) const VLAN_TPID: Field = field::<u16>(HV1 + offset_of!(libc::tpacket_hdr_variant1, tp_vlan_tpid));

/// Bytes before the EtherType: where a VLAN tag the kernel took out of a frame goes back in.
const MAC_ADDRS: usize = 12;

fn read_u32(bytes: &[u8], f: Field) -> Option<u32> {
    Some(u32::from_ne_bytes(bytes.get(f)?.try_into().ok()?))
}

fn read_u16(bytes: &[u8], f: Field) -> Option<u16> {
    Some(u16::from_ne_bytes(bytes.get(f)?.try_into().ok()?))
}

/// A block's frame count and the offset of its first frame.
fn block_header(block: &[u8]) -> Option<(u32, usize)> {
    Some((read_u32(block, NUM_PKTS)?, read_u32(block, FIRST_PKT)? as usize))
}

/// One received frame, as the kernel left it in a block.
#[derive(Debug)]
struct Frame<'a> {
    /// The bytes captured (the frame without a VLAN tag the kernel took out).
    data: &'a [u8],
    /// Its length on the wire without that tag (more than `data` when the kernel truncated it).
    len: usize,
    /// The 802.1Q tag the kernel took out (TPID and TCI, network order), if any.
    vlan: Option<[u8; 4]>,
    /// Distance from this frame's header to the next one's.
    next: usize,
}

impl Frame<'_> {
    /// The frame's length with its tag back in.
    fn wire_len(&self) -> usize {
        self.len + if self.vlan.is_some() { 4 } else { 0 }
    }

    /// Whether it is whole (not cut at the block's room) and of an acceptable length.
    fn is_good(&self, limits: &RangeInclusive<usize>) -> bool {
        self.data.len() == self.len
            && limits.contains(&self.wire_len())
            && (self.vlan.is_none() || self.data.len() >= MAC_ADDRS)
    }

    /// Copies the frame into `p`, an empty packet, chaining buflets when it is longer than one; a tag the
    /// kernel took out goes back after the MAC addresses, so the packet holds the frame as it was on the
    /// wire. On error `p` is empty again.
    fn copy_into(&self, p: &mut Packet) -> Result<(), PacketError> {
        let r = match self.vlan {
            None => p.append(self.data),
            Some(tag) => {
                let (addrs, rest) = self.data.split_at(MAC_ADDRS);
                p.append(addrs).and_then(|()| p.append(&tag)).and_then(|()| p.append(rest))
            }
        };
        if r.is_err() {
            p.truncate(0);
        }
        r
    }
}

/// The frame whose header is at `at` in `block`, or None if the header or the frame is not inside it.
fn frame_at(block: &[u8], at: usize) -> Option<Frame<'_>> {
    let h = block.get(at..at.checked_add(FRAME_HDR_LEN)?)?;
    let snaplen = read_u32(h, SNAPLEN)? as usize;
    let start = at.checked_add(usize::from(read_u16(h, MAC)?))?;
    let data = block.get(start..start.checked_add(snaplen)?)?;
    let status = read_u32(h, STATUS)?;
    let vlan = (status & libc::TP_STATUS_VLAN_VALID != 0).then(|| {
        let tpid = if status & libc::TP_STATUS_VLAN_TPID_VALID != 0 { read_u16(h, VLAN_TPID) } else { None };
        let tci = read_u32(h, VLAN_TCI).unwrap_or(0) as u16;
        let [t0, t1] = tpid.unwrap_or(0x8100).to_be_bytes();
        let [c0, c1] = tci.to_be_bytes();
        [t0, t1, c0, c1]
    });
    Some(Frame { data, len: read_u32(h, LEN)? as usize, vlan, next: read_u32(h, NEXT_OFFSET)? as usize })
}

/// What one rx burst did.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct RxDone {
    /// Frames delivered as packets.
    pub frames: usize,
    /// Their bytes.
    pub bytes: u64,
    /// Frames dropped as malformed: truncated, shorter than a header, longer than the limit.
    pub bad: u64,
    /// Frames dropped for want of a packet (the pool was empty).
    pub no_packet: u64,
    /// Frames dropped for want of a later buflet.
    pub no_buffer: u64,
    /// Blocks handed back to the kernel.
    pub blocks: u64,
}

/// Where a queue is in its rx ring.
#[derive(Debug)]
pub(super) struct RxRing {
    blocks: u32,
    /// The block being read, or to be read next.
    block: u32,
    /// Frames of `block` already taken.
    taken: u32,
    /// Offset in `block` of the next frame's header (when `taken > 0`).
    next: usize,
}

impl RxRing {
    /// At the start of a ring of `blocks` blocks.
    pub fn new(blocks: u32) -> RxRing {
        RxRing { blocks, block: 0, taken: 0, next: 0 }
    }

    /// Looks at up to `max` frames (at most the room left in `pkts`) of the ready blocks; copies each good
    /// one (`limits`: acceptable lengths on the wire) into a packet from `pool` appended to `pkts`, counts
    /// and drops the others.
    pub fn rx_burst(
        &mut self,
        sock: &mut RingSocket,
        pool: &Pool,
        pkts: &mut PacketBurst,
        max: usize,
        limits: &RangeInclusive<usize>,
    ) -> RxDone {
        let mut done = RxDone::default();
        let mut budget = max.min(pkts.remaining_capacity());
        while budget > 0 {
            let Some(block) = sock.rx_block(self.block) else { break };
            if self.take_frames(block, pool, pkts, &mut budget, limits, &mut done) {
                sock.rx_release(self.block);
                done.blocks += 1;
                self.block = (self.block + 1) % self.blocks;
            }
        }
        done
    }

    /// Frames the kernel handed over that no burst has taken: the rest of the block being read and every
    /// ready block after it (at teardown, so that they are counted, not lost unseen).
    pub fn untaken(&self, sock: &RingSocket) -> u64 {
        self.untaken_in(|b| sock.rx_block(b).map(|block| block_header(block).map_or(0, |(count, _)| count)))
    }

    /// [`RxRing::untaken`], given each block's frame count while the kernel has handed it over.
    fn untaken_in(&self, mut ready_count: impl FnMut(u32) -> Option<u32>) -> u64 {
        let (mut block, mut taken, mut left) = (self.block, self.taken, 0);
        for _ in 0..self.blocks {
            let Some(count) = ready_count(block) else { break };
            left += u64::from(count.saturating_sub(taken));
            taken = 0;
            block = (block + 1) % self.blocks;
        }
        left
    }

    /// Takes up to `budget` frames of `block` (the one being read) into `pkts`, on from where the last call
    /// stopped; true when every frame of it is taken and it can go back to the kernel.
    pub(super) fn take_frames(
        &mut self,
        block: &[u8],
        pool: &Pool,
        pkts: &mut PacketBurst,
        budget: &mut usize,
        limits: &RangeInclusive<usize>,
        done: &mut RxDone,
    ) -> bool {
        // A header that cannot be read holds no frame we could find: the block goes back as it is.
        let (count, first) = block_header(block).unwrap_or((0, 0));
        let want = (count.saturating_sub(self.taken) as usize).min(*budget);
        *budget -= want;
        let start = pkts.len();
        let got = pool.alloc_up_to(pkts, want);
        let mut filled = 0;
        for _ in 0..want {
            let at = if self.taken == 0 { first } else { self.next };
            let frame = frame_at(block, at);
            // A frame after this one must start past its header, or the walk would go round in place.
            let lost_way = |f: &Frame<'_>| self.taken + 1 < count && f.next < FRAME_HDR_LEN;
            let Some(frame) = frame.filter(|f| !lost_way(f)) else {
                // No such header (or no way past it): the frames from here on cannot be found.
                done.bad += u64::from(count - self.taken);
                self.taken = count;
                break;
            };
            self.taken += 1;
            self.next = at.saturating_add(frame.next);
            if !frame.is_good(limits) {
                done.bad += 1;
            } else if filled == got {
                // The pool is empty: the frame is dropped all the same, so that the block goes back to the
                // kernel and the ring keeps moving (a block kept for want of buffers would stall it).
                done.no_packet += 1;
            } else if frame.copy_into(&mut pkts[start + filled]).is_ok() {
                filled += 1;
                done.frames += 1;
                done.bytes += frame.wire_len() as u64;
            } else {
                done.no_buffer += 1;
            }
        }
        // Packets allocated for frames that turned out bad or short of buflets go back to the pool.
        pkts.truncate(start + filled);
        let finished = self.taken >= count;
        if finished {
            self.taken = 0;
            self.next = 0;
        }
        finished
    }
}

/// Offset of the first frame in blocks made by [`block`], as the kernel lays them out.
#[cfg(test)]
pub(super) const FIRST: usize = 48;
/// Where a frame starts after its header in blocks made by [`block`].
#[cfg(test)]
const MAC_AT: usize = 82;

/// A block holding frames of the given lengths and status words (byte i of frame k is k + i), laid out as
/// the kernel does.
#[cfg(test)]
pub(super) fn block(frames: &[(usize, u32)]) -> Vec<u8> {
    let size = |len: usize| (MAC_AT + len).next_multiple_of(16);
    let mut b = vec![0u8; FIRST + frames.iter().map(|&(len, _)| size(len)).sum::<usize>() + 64];
    b[NUM_PKTS].copy_from_slice(&(frames.len() as u32).to_ne_bytes());
    b[FIRST_PKT].copy_from_slice(&(FIRST as u32).to_ne_bytes());
    let mut at = FIRST;
    for (k, &(len, status)) in frames.iter().enumerate() {
        let h = &mut b[at..];
        let next = if k + 1 < frames.len() { size(len) as u32 } else { 0 };
        h[NEXT_OFFSET].copy_from_slice(&next.to_ne_bytes());
        h[SNAPLEN].copy_from_slice(&(len as u32).to_ne_bytes());
        h[LEN].copy_from_slice(&(len as u32).to_ne_bytes());
        h[STATUS].copy_from_slice(&status.to_ne_bytes());
        h[MAC].copy_from_slice(&(MAC_AT as u16).to_ne_bytes());
        h[VLAN_TCI].copy_from_slice(&0x0123u32.to_ne_bytes());
        h[VLAN_TPID].copy_from_slice(&0x88a8u16.to_ne_bytes());
        for i in 0..len {
            h[MAC_AT + i] = (k + i) as u8;
        }
        at += size(len);
    }
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_found_in_order_and_tags_go_back_after_the_addresses() {
        let b = block(&[(60, 0), (100, libc::TP_STATUS_VLAN_VALID | libc::TP_STATUS_VLAN_TPID_VALID)]);
        let (count, first) = block_header(&b).unwrap();
        assert_eq!(count, 2);
        let f0 = frame_at(&b, first).unwrap();
        assert_eq!((f0.data.len(), f0.len, f0.vlan), (60, 60, None));
        assert_eq!(f0.data[1], 1);
        let f1 = frame_at(&b, first + f0.next).unwrap();
        assert_eq!((f1.wire_len(), f1.vlan), (104, Some([0x88, 0xa8, 0x01, 0x23])));
        assert!(f1.is_good(&(14..=1518)));
        assert!(!f1.is_good(&(14..=103)), "the tag counts toward the length");
    }

    #[test]
    fn untaken_frames_are_the_rest_of_the_block_being_read_and_every_ready_one_after() {
        let ring = RxRing { blocks: 4, block: 3, taken: 5, next: 0 };
        // Blocks 3, 0 and 1 handed over (8, 6 and 2 frames), block 2 still the kernel's.
        let counts = [Some(6), Some(2), None, Some(8)];
        assert_eq!(ring.untaken_in(|b| counts[b as usize]), 3 + 6 + 2);
        let all = RxRing { blocks: 2, block: 0, taken: 0, next: 0 };
        assert_eq!(all.untaken_in(|_| Some(7)), 14, "every block ready: each counted once");
        assert_eq!(all.untaken_in(|_| None), 0);
    }

    #[test]
    fn headers_pointing_outside_the_block_are_none_not_a_panic() {
        let mut b = block(&[(60, 0)]);
        assert!(frame_at(&b, b.len() - 10).is_none());
        assert!(frame_at(&b, usize::MAX - 4).is_none());
        b[48 + SNAPLEN.start..48 + SNAPLEN.end].copy_from_slice(&u32::MAX.to_ne_bytes());
        assert!(frame_at(&b, 48).is_none());
        assert!(block_header(&b[..10]).is_none());
    }

    #[test]
    fn truncated_short_and_long_frames_are_not_good() {
        let b = block(&[(13, 0), (1519, 0), (64, 0)]);
        let (_, first) = block_header(&b).unwrap();
        let limits = 14..=1518;
        let f0 = frame_at(&b, first).unwrap();
        let f1 = frame_at(&b, first + f0.next).unwrap();
        let f2 = frame_at(&b, first + f0.next + f1.next).unwrap();
        assert!(!f0.is_good(&limits) && !f1.is_good(&limits) && f2.is_good(&limits));
        let cut = Frame { data: &f2.data[..40], len: 64, vlan: None, next: 0 };
        assert!(!cut.is_good(&limits), "snaplen < len");
    }
}
