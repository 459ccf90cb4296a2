//! A burst's frames read in one pass: when every packet of a burst is a plain packet of one pool (what a
//! port's receive gives), its pool is looked up once for the burst instead of once per packet.

use super::{one_pool_id, Packet, PLAIN, SIMPLE};
use crate::pool::lookup;

impl Packet {
    /// The data of each packet of `pkts`, in order, when every one is a plain packet of one pool; `None`
    /// otherwise (read each packet's [`Packet::data`] then).
    #[inline]
    pub fn plain_frames(pkts: &[Packet]) -> Option<impl Iterator<Item = &[u8]> + Clone> {
        let id = one_pool_id(pkts, PLAIN | SIMPLE, PLAIN | SIMPLE)?;
        // SAFETY: the packets own buffers of pool `id`, which keeps it registered for as long as the borrow
        // of `pkts` the frames are tied to.
        let pool = unsafe { lookup(id) };
        let headroom = pool.headroom as usize;
        Some(pkts.iter().map(move |p| {
            // SAFETY: `p` is a plain packet of `pool` (checked): it owns buffer `head`, its data (headroom +
            // len <= buf_size) in it, for as long as the borrow of `pkts`.
            unsafe { std::slice::from_raw_parts(pool.buf_ptr(p.head()).add(headroom), usize::from(p.cached_len())) }
        }))
    }
}

#[cfg(test)]
mod tests {
    use crate::mem::Prefer;
    use crate::pool::{Pool, PoolConfig};
    use crate::{Packet, PacketBurst};

    fn pool(name: &str) -> Pool {
        let mut c = PoolConfig::new(name, 16, 2048);
        c.prefer = Prefer::Normal;
        Pool::new(c).unwrap()
    }

    fn burst_of(pool: &Pool, frames: &[&[u8]]) -> PacketBurst {
        let packet = |f: &&[u8]| {
            let mut p = pool.alloc().expect("a buffer");
            p.append(f).expect("fits");
            p
        };
        frames.iter().map(packet).collect()
    }

    #[test]
    fn a_burst_of_plain_packets_of_one_pool_gives_each_frame_in_order() {
        let p = pool("frames-one");
        let burst = burst_of(&p, &[b"first frame", b"2nd", b"the third frame"]);
        let frames: Vec<&[u8]> = Packet::plain_frames(&burst).expect("plain, one pool").collect();
        assert_eq!(frames, [&b"first frame"[..], b"2nd", b"the third frame"]);
    }

    #[test]
    fn other_bursts_are_left_to_each_packet() {
        let (a, b) = (pool("frames-a"), pool("frames-b"));
        assert!(Packet::plain_frames(&[]).is_none(), "empty");
        let mut mixed = burst_of(&a, &[b"from a"]);
        mixed.extend(burst_of(&b, &[b"from b"]));
        assert!(Packet::plain_frames(&mixed).is_none(), "two pools");
        let mut moved = burst_of(&a, &[b"plain", b"..data moved"]);
        moved[1].adj(2).unwrap();
        assert!(Packet::plain_frames(&moved).is_none(), "a packet whose data moved (its descriptor written)");
    }
}
