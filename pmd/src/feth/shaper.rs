//! Per-packet work of the tx path, shared by the direct path and the drain of the local tx rings: MTU
//! check, expiry policy, drop injection, crossing by pool mode (move, layout copy, split packing), then the
//! receiver-side touches (checksum flags, trailer, FCS). Results are tallied in a [`Pass`] and added to the
//! counters once per burst. It also holds the rx-full policy ([`Shaper::ring_full`]), the one place every tx
//! path (fast, direct, drain of the local rings) decides the fate of what the peer's ring cannot take.

use super::config::{ExpiryPolicy, RxFullPolicy, TxCompletion, TRAILER};
use super::control::Iface;
use super::link::PeerInfo;
use super::tx::{Completion, Pass, COMPLETION_QUEUE, ETHER_HDR_LEN, FRESH};
use pktloop_engine::packet::{free_burst, CopyError, ExpiryAction, PacketFlags, ServiceClass};
use pktloop_engine::pool::PoolMode;
use pktloop_engine::port::{DropReason, Event, EventKind, ExpiryStatus, PacketBurst, TxStatus};
use pktloop_engine::Packet;
use std::collections::VecDeque;
use std::sync::Arc;

/// How much of each frame a copying pass asks for ahead: the lines a small frame's copy reads first.
const PREFETCH_BYTES: usize = 128;

/// How much of each destination a private pass fetches ahead: the first line, all of a small frame's copy
/// (two lines measured 2% slower, within the noise; every line counts against the core's fetches in flight).
const COPY_AHEAD_BYTES: usize = 64;

/// How many copies ahead a private pass has its destination lines fetched for ownership: a whole burst
/// of 32 at once, as `Pool::copy_plain_burst` does on the fast path. On the AMD EPYC machine, `pktloop fwd
/// --mode txonly --pool-mode private --trailer-length 4` (this path) moved 44.94 / 42.93 and 44.24 / 42.49
/// Mpps against 8 ahead (12 pairs alternated, each ahead; 1.05 median pairwise). An earlier Intel machine
/// had measured 4, 8 and 12 alike and the whole burst 12% slower.
const FETCH_AHEAD: usize = 32;

/// How far ahead of its tail a split pass has an aggregation buffer's lines fetched for ownership: a few
/// small frames' worth (256, 1024 and 2048 measured alike; 4096 0.92 of 512 in the fast placement of the
/// AMD EPYC machine, where a private copy's whole burst at once, [`FETCH_AHEAD`], gains).
const PACK_AHEAD: usize = 512;

/// Per-packet work of the tx path: checks, drop injection, expiry, crossing, trailer and FCS.
pub(crate) struct Shaper {
    pub(crate) iface: Arc<Iface>,
    pub(crate) frame_limit: usize,
    pub(crate) mode: PoolMode,
    pub(crate) fcs: bool,
    pub(crate) trailer: usize,
    pub(crate) tx_drops: u32,
    pub(crate) since_drop: u32,
    pub(crate) expiry: ExpiryPolicy,
    pub(crate) completion: TxCompletion,
    pub(crate) split_headroom: usize,
    pub(crate) completions: VecDeque<Completion>,
    pub(crate) rx_full: RxFullPolicy,
}

impl Shaper {
    /// Reports one packet's tx completion.
    fn complete(&mut self, packet_id: u64, status: TxStatus, pass: &mut Pass) {
        self.complete_many(packet_id, status, 1, pass);
    }

    pub(crate) fn publish(&self, kind: EventKind) {
        self.iface.events.publish(Event { port: self.iface.unit, kind });
    }

    /// Drops `p` for `reason`: counted, completed as "retry failed", and (any drop) restarts the drop
    /// injection count.
    pub(crate) fn drop_packet(&mut self, p: Packet, reason: DropReason, pass: &mut Pass) {
        self.since_drop = 0;
        pass.drops[reason as usize] += 1;
        self.complete(p.meta().packet_id, TxStatus::RetryFailed, pass);
        pass.discard(p);
    }

    /// The rx-full policy, for every tx path: what the peer's ring could not take (the packets `left`
    /// yields) stays where it is for a later poll (`Retry`: `left` is not even called, so a draining iterator
    /// takes nothing) or is dropped as `RxRingFull` (`Drop`). Returns how many were dropped.
    #[inline]
    pub(crate) fn ring_full<I>(&mut self, left: impl FnOnce() -> I, pass: &mut Pass) -> usize
    where
        I: Iterator<Item = Packet>,
    {
        if self.rx_full == RxFullPolicy::Retry {
            return 0;
        }
        let mut n = 0;
        for p in left() {
            self.drop_packet(p, DropReason::RxRingFull, pass);
            n += 1;
        }
        n
    }

    /// The rx-full policy for one packet of a steered pass, whose lane is full while others may not be:
    /// handed back to stay with the sender (`Retry`) or dropped as `RxRingFull` (`Drop`).
    #[inline]
    pub(crate) fn lane_full(&mut self, p: Packet, pass: &mut Pass) -> Option<Packet> {
        if self.rx_full == RxFullPolicy::Retry {
            return Some(p);
        }
        self.drop_packet(p, DropReason::RxRingFull, pass);
        None
    }

    /// Private and split modes read every frame they cross, frames most likely written by the other core:
    /// start the burst's first lines loading before the first copy, so that the fetches overlap instead of
    /// each copy waiting for its own. The whole burst's at once, as the copies' fetches for ownership
    /// ([`FETCH_AHEAD`]) are (only the first 8: io-fwd private 27 -> 17.6 Mpps).
    #[inline]
    pub(crate) fn prefetch_sources(&self, pkts: &[Packet]) {
        if self.mode != PoolMode::Global {
            pkts.iter().for_each(|p| p.prefetch(PREFETCH_BYTES));
        }
    }

    /// Private and split modes' common burst, the first `k` packets of `pkts` (direct, default metadata, no
    /// knob set): copied into packets of the peer's pool allocated at once (private) or packed as slices
    /// into its aggregation buffers (split), appended to `out`, the sources completed and freed together,
    /// with no per-packet call. Returns how many of the first packets it took: 0, with `pkts` untouched, for
    /// any other burst (a private one with a frame past the frame limit among them), or when a private
    /// peer's pool cannot supply a whole one; fewer than `k` when a split peer's pool runs out or its
    /// packing stops at a frame past the limit (or too long for an empty buffer). The caller runs
    /// [`Shaper::process`] on the rest, which also drops and counts what cannot go.
    #[inline]
    pub(crate) fn cross_plain_burst(
        &mut self,
        pkts: &mut PacketBurst,
        k: usize,
        peer: &PeerInfo,
        pass: &mut Pass,
        out: &mut PacketBurst,
    ) -> usize {
        // The frame limit is checked in the crossing's own pass over the burst: a longer frame makes a
        // private copy refuse the burst and a split packing stop before it; what is left goes one packet at
        // a time, which drops that frame.
        if self.mode == PoolMode::Global || !self.knobs_off(peer) {
            return 0;
        }
        if self.mode == PoolMode::Private {
            // The sources go back as part of the copy, with no second look at the burst.
            let Some(bytes) = peer.rx_pool.move_plain_burst(pkts, k, out, true, self.frame_limit) else { return 0 };
            self.completed(k, bytes, pass);
            return k;
        }
        let (done, bytes) = peer.rx_pool.pack_plain_burst(&pkts[..k], &mut pass.packer, out, true, self.frame_limit);
        if done == 0 {
            return 0;
        }
        self.completed(done, bytes, pass);
        if done == pkts.len() {
            // The common case, the whole burst: its sources go back in one pass.
            free_burst(pkts);
        } else {
            pkts.drain(..done).for_each(|p| pass.discard(p));
        }
        done
    }

    /// Counts `n` packets of `bytes` in all as crossed by copy, each completed (their metadata is the
    /// default: packet id 0).
    fn completed(&mut self, n: usize, bytes: usize, pass: &mut Pass) {
        pass.sent += n as u64;
        pass.bytes += bytes as u64;
        pass.tally.copies += n as u64;
        self.complete_many(0, TxStatus::Success, n, pass);
    }

    /// Reports the tx completion of `n` packets of the same id and status: queued while the sync queue has
    /// room (the rest counted as lost), or posted as events in async mode.
    fn complete_many(&mut self, packet_id: u64, status: TxStatus, n: usize, pass: &mut Pass) {
        match self.completion {
            TxCompletion::Sync => {
                let kept = COMPLETION_QUEUE.saturating_sub(self.completions.len()).min(n);
                self.completions.extend(std::iter::repeat_n(Completion { packet_id, status }, kept));
                pass.tally.completions_lost += (n - kept) as u64;
            }
            TxCompletion::Async => (0..n).for_each(|_| self.publish(EventKind::TxStatus { packet_id, status })),
        }
    }

    /// Runs one packet through the tx path; returns what goes onto the peer's rx ring (the caller has
    /// made sure there is a slot for it). A plain copy in private mode with no per-packet knob set (the
    /// common case) is handled inline; everything else by [`Shaper::process_general`].
    #[inline]
    pub(crate) fn process(&mut self, p: Packet, peer: &PeerInfo, pass: &mut Pass) -> Option<Packet> {
        let len = p.len();
        if self.mode != PoolMode::Private || !self.is_plain_crossing(peer, len) {
            return self.process_general(p, peer, pass);
        }
        let d = self.copy_private(p, peer, pass)?;
        pass.sent += 1;
        pass.bytes += len as u64;
        Some(d)
    }

    /// Whether a packet of `len` bytes needs nothing of [`Shaper::process_general`] but its crossing (a
    /// private copy, a split packing): every check and touch there that is not the crossing is off (a knob
    /// added there belongs here too; the trailer and FCS, which split packing must leave room for, too).
    #[inline]
    fn is_plain_crossing(&self, peer: &PeerInfo, len: usize) -> bool {
        self.knobs_off(peer) && len <= self.frame_limit
    }

    /// [`Shaper::is_plain_crossing`] but for the frame limit, which a burst's crossing checks in its own pass.
    #[inline]
    fn knobs_off(&self, peer: &PeerInfo) -> bool {
        let knobs = self.expiry != ExpiryPolicy::None || self.tx_drops != 0 || self.trailer != 0 || self.fcs;
        !knobs && !peer.hwcsum
    }

    /// [`Shaper::process`] for every case: each knob's check in turn, then the crossing by pool mode.
    #[inline(never)]
    fn process_general(&mut self, mut p: Packet, peer: &PeerInfo, pass: &mut Pass) -> Option<Packet> {
        let len = p.len();
        if len > self.frame_limit {
            self.drop_packet(p, DropReason::MtuExceeded, pass);
            return None;
        }
        if self.expiry != ExpiryPolicy::None {
            if let Some(e) = p.meta().expiry {
                let now = pass.now();
                if e.deadline_ns < now {
                    let drop_it = match self.expiry {
                        ExpiryPolicy::Drop => true,
                        ExpiryPolicy::PacketAction => e.action == ExpiryAction::Drop,
                        ExpiryPolicy::Notify | ExpiryPolicy::None => false,
                    };
                    let status = if drop_it { ExpiryStatus::ExpiredDropped } else { ExpiryStatus::ExpiredNotDropped };
                    let packet_id = p.meta().packet_id;
                    self.publish(EventKind::Expired {
                        packet_id,
                        status,
                        timestamp_ns: now,
                        deadline_ns: e.deadline_ns,
                    });
                    pass.tally.expired_notified += 1;
                    if drop_it {
                        self.drop_packet(p, DropReason::Expired, pass);
                        return None;
                    }
                }
            }
        }
        if self.tx_drops != 0 {
            self.since_drop += 1;
            if self.since_drop >= self.tx_drops {
                self.drop_packet(p, DropReason::TxDropInjection, pass);
                return None;
            }
        }
        let sliced = self.mode == PoolMode::PrivateSplit && self.can_slice(&p, peer);
        let mut dst = match self.mode {
            PoolMode::PrivateSplit if sliced => self.pack_slice(p, peer, pass)?,
            PoolMode::Global => {
                p.set_link_header_len(ETHER_HDR_LEN);
                p
            }
            PoolMode::Private => self.copy_private(p, peer, pass)?,
            PoolMode::PrivateSplit => self.pack(p, peer, pass)?,
        };
        self.finish(&mut dst, peer, pass);
        if self.mode == PoolMode::PrivateSplit && !sliced {
            pass.spare = self.carve(&mut dst, peer, pass);
        }
        pass.sent += 1;
        pass.bytes += len as u64;
        Some(dst)
    }

    /// Private mode's crossing: `p` copied into a packet of the peer's pool, and given up (Apple's
    /// `feth_copy_packet`). A copy that cannot be had drops `p` under its reason.
    #[inline]
    fn copy_private(&mut self, p: Packet, peer: &PeerInfo, pass: &mut Pass) -> Option<Packet> {
        match Self::copy_into_fresh(&p, peer, pass) {
            Some(d) => Some(self.copied_into(p, d, pass)),
            None => self.copy_laid_out(p, peer, pass),
        }
    }

    /// [`Shaper::copy_private`] for what a fresh plain packet cannot take (several buflets, moved data) or
    /// when no burst of fresh packets could be had: buflet by buflet, allocated one at a time.
    #[cold]
    fn copy_laid_out(&mut self, p: Packet, peer: &PeerInfo, pass: &mut Pass) -> Option<Packet> {
        match p.copy_layout_to(&peer.rx_pool) {
            Ok(d) => Some(self.copied_into(p, d, pass)),
            Err(CopyError::NoMemPacket) => {
                self.drop_packet(p, DropReason::NoMemPacket, pass);
                None
            }
            Err(CopyError::NoMemBuffer | CopyError::Layout) => {
                self.drop_packet(p, DropReason::NoMemBuffer, pass);
                None
            }
        }
    }

    /// Private mode: a copy of plain `p` into a packet of the pass's bulk-allocated burst of new packets
    /// (one pool call per burst, not per packet); `None` when `p` is not plain or no burst could be had.
    #[inline]
    fn copy_into_fresh(p: &Packet, peer: &PeerInfo, pass: &mut Pass) -> Option<Packet> {
        // No burst to be had: with too few buffers left, the caller's copy takes them one at a time.
        let d = Self::next_fresh(peer, pass, |d| d.prefetch_room(COPY_AHEAD_BYTES))?;
        p.copy_plain_into(d).map_err(|d| pass.fresh.push(d)).ok()
    }

    /// Split mode: the rest of `dst`'s aggregation buffer, for the next packet of the pass. The view's
    /// descriptor comes from a bulk-allocated holder (one pool call per burst, not per packet).
    fn carve(&self, dst: &mut Packet, peer: &PeerInfo, pass: &mut Pass) -> Option<Packet> {
        match Self::next_fresh(peer, pass, Packet::prefetch_descriptor_for_write) {
            Some(holder) => dst.carve_tail_into(self.split_headroom, holder).map_err(|h| pass.fresh.push(h)).ok(),
            // Too few buffers left for a whole burst of holders: one at a time.
            None => dst.carve_tail(self.split_headroom),
        }
    }

    /// The pass's next new packet of the peer's pool, from a burst allocated at once when the pass has
    /// none left (`None` when the pool cannot supply a whole burst; not counted, the callers go on one at a
    /// time). `hint` asks for the lines about to be written of the packet [`FETCH_AHEAD`] further on (of
    /// the first ones, for a new burst: all of a burst of [`FETCH_AHEAD`] or fewer): the receiving core read
    /// them last, and their transfers overlap with each other and the work in between.
    #[inline]
    fn next_fresh(peer: &PeerInfo, pass: &mut Pass, hint: impl Fn(&Packet)) -> Option<Packet> {
        if pass.fresh.is_empty() {
            if !peer.rx_pool.try_alloc_bulk(&mut pass.fresh, FRESH) {
                return None;
            }
            pass.fresh.iter().rev().take(FETCH_AHEAD).for_each(&hint);
        }
        let next = pass.fresh.pop();
        if let Some(ahead) = pass.fresh.len().checked_sub(FETCH_AHEAD).map(|i| &pass.fresh[i]) {
            hint(ahead);
        }
        next
    }

    /// What a copy keeps of its source's metadata (Apple's `feth_copy_packet`): the service class, and the
    /// link header is Ethernet's. The source is completed and queued to be freed first. The copy's descriptor
    /// is written only when the class is not the default: the receiving core reads no line it need not.
    ///
    /// The copy's handle is changed last, after every call: a handle kept in memory across a call (as it
    /// must be, to be dropped if the call unwinds), changed in part and read back whole, is a load that
    /// waits for every earlier store (the data just copied, into a line the other core holds) to finish.
    #[inline]
    fn copied_into(&mut self, src: Packet, mut copy: Packet, pass: &mut Pass) -> Packet {
        let (class, packet_id) = (src.meta().service_class, src.meta().packet_id);
        pass.tally.copies += 1;
        self.complete(packet_id, TxStatus::Success, pass);
        pass.discard(src);
        if class != ServiceClass::default() {
            copy.meta_mut().service_class = class;
        }
        copy.set_link_header_len(ETHER_HDR_LEN);
        copy
    }

    /// Whether split mode can cross `p` as a slice (no descriptor for the receiver to read): one buflet at
    /// the peer pool's headroom, and nothing to append after the copy (the slice's region ends with it).
    fn can_slice(&self, p: &Packet, peer: &PeerInfo) -> bool {
        self.trailer == 0
            && !self.fcs
            && peer.rx_pool.allows_slices()
            && p.headroom() == peer.rx_pool.headroom() as usize
            && p.buflet_count() == 1
    }

    /// Split mode for what [`Shaper::can_slice`] allows: copies `p` into the aggregation buffer the previous
    /// packet of this pass went into, or into a fresh one when it does not fit there (Apple's
    /// `feth_clone_packet`; a buffer also takes at most [`pktloop_engine::pool::SLICES_PER_BUFFER`] frames).
    fn pack_slice(&mut self, p: Packet, peer: &PeerInfo, pass: &mut Pass) -> Option<Packet> {
        match peer.rx_pool.pack_frame(p.data(), &mut pass.packer, false) {
            Some(s) => Some(self.copied_into(p, s, pass)),
            None => {
                let fits = p.len() + peer.rx_pool.headroom() as usize <= peer.rx_pool.buf_size() as usize;
                let reason = if fits { DropReason::NoMemPacket } else { DropReason::NoMemBuffer };
                self.drop_packet(p, reason, pass);
                None
            }
        }
    }

    /// Split mode: copies `p` into the rest of the aggregation buffer the previous packet of this pass
    /// went into, or into a fresh one when it does not fit (Apple's `feth_clone_packet`).
    fn pack(&mut self, p: Packet, peer: &PeerInfo, pass: &mut Pass) -> Option<Packet> {
        let (headroom, len) = (p.headroom(), p.len());
        let extra = self.trailer + if self.fcs { 4 } else { 0 };
        let spare = pass
            .spare
            .take()
            .and_then(|mut s| (s.set_headroom(headroom).is_ok() && s.tailroom() >= len + extra).then_some(s));
        let mut dst = match spare {
            Some(s) => s,
            None => {
                let Some(mut fresh) = peer.rx_pool.alloc() else {
                    self.drop_packet(p, DropReason::NoMemPacket, pass);
                    return None;
                };
                if fresh.set_headroom(headroom).is_err() || fresh.tailroom() < len {
                    drop(fresh);
                    self.drop_packet(p, DropReason::NoMemBuffer, pass);
                    return None;
                }
                // The views this buffer will be carved into take their shares from one atomic add now,
                // instead of one per packet on a count the receiving core also writes.
                fresh.reserve_views(FRESH as u16);
                // The receiving core read this buffer last: the lines the first frames go into, fetched owned.
                fresh.prefetch_tailroom(0, PACK_AHEAD);
                fresh
            }
        };
        // And as the frames fill it, the lines beyond what was asked for so far that this frame's share of
        // the buffer moves the window over (its data, the next view's headroom, alignment, a line's straddle).
        dst.prefetch_tailroom(PACK_AHEAD, len + self.split_headroom + 64);
        let copied = p.buflets().all(|seg| dst.append(seg.data).is_ok());
        if !copied {
            drop(dst);
            self.drop_packet(p, DropReason::NoMemBuffer, pass);
            return None;
        }
        Some(self.copied_into(p, dst, pass))
    }

    /// What the receiver's packet gets: checksum flags (receiver's hwcsum), then the sender's trailer and
    /// FCS. A trailer or FCS that does not fit is left off and counted; the TRAILER and FCS flags say each is
    /// there.
    fn finish(&mut self, dst: &mut Packet, peer: &PeerInfo, pass: &mut Pass) {
        if peer.hwcsum {
            dst.meta_mut().flags |= PacketFlags::HWCSUM;
        }
        if self.trailer != 0 {
            if dst.append(&TRAILER[..self.trailer]).is_ok() {
                dst.meta_mut().flags |= PacketFlags::TRAILER;
            } else {
                pass.tally.trailer_failed += 1;
            }
        }
        if self.fcs {
            let mut crc = crc32fast::Hasher::new();
            for seg in dst.buflets() {
                crc.update(seg.data);
            }
            if dst.append(&crc.finalize().to_le_bytes()).is_ok() {
                dst.meta_mut().flags |= PacketFlags::FCS;
                pass.tally.fcs_appended += 1;
            } else {
                pass.tally.fcs_failed += 1;
            }
        }
    }
}
