//! The null port, DPDK net_null's analogue and the framework's cost floor: rx hands out frames of a fixed
//! size freshly taken from the pool, tx frees whatever it is given. Anything measured through a null port is
//! the price of the pool, the packet handle and the burst API, with no driver work on top.

use pktloop_engine::packet::free_burst;
use pktloop_engine::port::{EventBus, LinkState, PacketBurst, Port, PortCounters};
use pktloop_engine::{KnobError, Pool};
use std::sync::Arc;

/// A null port.
#[derive(Debug)]
pub struct NullPort {
    name: String,
    unit: u16,
    pool: Pool,
    frame_len: usize,
    /// Written into every rx frame when set (DPDK's `copy` option); otherwise frames keep the buffer's bytes.
    template: Option<Box<[u8]>>,
    counters: Arc<PortCounters>,
    events: EventBus,
}

impl NullPort {
    /// A null port named `name` whose rx frames are `frame_len` bytes from `pool`.
    ///
    /// # Errors
    /// `frame_len` does not fit one buffer of the pool after its headroom (knob `pkt-len`).
    pub fn new(name: &str, pool: Pool, frame_len: usize) -> Result<NullPort, KnobError> {
        let room = (pool.buf_size() - pool.headroom()) as usize;
        if !(1..=room).contains(&frame_len) {
            return Err(KnobError::new("pkt-len", frame_len, "1..=the pool's buffer size less its headroom"));
        }
        let unit = name.trim_start_matches(|c: char| !c.is_ascii_digit()).parse().unwrap_or(0);
        Ok(NullPort {
            name: name.to_owned(),
            unit,
            pool,
            frame_len,
            template: None,
            counters: Arc::default(),
            events: EventBus::new(),
        })
    }

    /// Copies `frame` (truncated or zero-padded to the frame length) into every rx frame.
    pub fn with_template(mut self, frame: &[u8]) -> NullPort {
        let mut t = vec![0u8; self.frame_len];
        let n = frame.len().min(self.frame_len);
        t[..n].copy_from_slice(&frame[..n]);
        self.template = Some(t.into_boxed_slice());
        self
    }

    /// Frame length of rx packets.
    pub fn frame_len(&self) -> usize {
        self.frame_len
    }
}

impl Port for NullPort {
    fn name(&self) -> &str {
        &self.name
    }

    fn mac(&self) -> [u8; 6] {
        let [hi, lo] = self.unit.to_be_bytes();
        [0x02, b'n', b'u', b'l', hi, lo]
    }

    fn mtu(&self) -> u32 {
        self.frame_len as u32
    }

    fn rx_burst(&mut self, queue: usize, pkts: &mut PacketBurst, max: usize) -> usize {
        if queue != 0 {
            return 0;
        }
        let n = max.min(pkts.remaining_capacity());
        let start = pkts.len();
        if n == 0 {
            return 0;
        }
        if !self.pool.alloc_bulk(pkts, n) {
            self.counters.rx_nombuf(n as u64);
            return 0;
        }
        for p in &mut pkts[start..] {
            // Cannot fail: frame_len fits a buffer after headroom (checked in `new`).
            let _ = p.extend(self.frame_len);
            if let Some(t) = &self.template {
                p.data_mut().copy_from_slice(t);
            }
        }
        self.counters.rx(n as u64, (n * self.frame_len) as u64);
        n
    }

    fn tx_burst(&mut self, queue: usize, pkts: &mut PacketBurst) -> usize {
        if queue != 0 {
            return 0;
        }
        let n = pkts.len();
        let bytes: usize = pkts.iter().map(|p| p.len()).sum();
        free_burst(pkts);
        self.counters.tx(n as u64, bytes as u64);
        n
    }

    fn link(&self) -> LinkState {
        LinkState::Up
    }

    fn counters(&self) -> &Arc<PortCounters> {
        &self.counters
    }

    fn events(&self) -> &EventBus {
        &self.events
    }

    fn tx_pool(&self) -> &Pool {
        &self.pool
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pktloop_engine::mem::Prefer;
    use pktloop_engine::pool::PoolConfig;

    fn pool(n: u32) -> Pool {
        let mut c = PoolConfig::new("null-test", n, 2048);
        c.headroom = 64;
        c.prefer = Prefer::Normal;
        Pool::new(c).unwrap()
    }

    #[test]
    fn rx_gives_frames_of_the_configured_size_and_tx_frees_them() {
        let p = pool(256);
        let mut port = NullPort::new("null0", p.clone(), 64).unwrap().with_template(&[0xab; 14]);
        let mut burst = PacketBurst::new();
        assert_eq!(port.rx_burst(0, &mut burst, 32), 32);
        assert!(burst.iter().all(|b| b.len() == 64 && b.data()[..14] == [0xab; 14] && b.data()[14] == 0));
        assert_eq!(p.in_use(), 32);
        assert_eq!(port.tx_burst(0, &mut burst), 32);
        assert!(burst.is_empty());
        assert_eq!(p.in_use(), 0);
        let s = port.stats();
        assert_eq!((s.ipackets, s.ibytes, s.opackets, s.obytes), (32, 2048, 32, 2048));
        assert_eq!(port.mac(), [0x02, b'n', b'u', b'l', 0, 0]);
        // It has one queue: another receives nothing and takes nothing.
        assert_eq!(port.rx_burst(1, &mut burst, 32), 0);
        assert!(p.alloc_bulk(&mut burst, 1));
        assert_eq!(port.tx_burst(1, &mut burst), 0);
        assert_eq!(burst.len(), 1);
    }

    #[test]
    fn exhaustion_is_counted_as_rx_nombuf_not_fatal() {
        let p = pool(40);
        let mut port = NullPort::new("null1", p.clone(), 60).unwrap();
        let mut held = PacketBurst::new();
        assert_eq!(port.rx_burst(0, &mut held, 32), 32);
        let mut burst = PacketBurst::new();
        assert_eq!(port.rx_burst(0, &mut burst, 32), 0);
        assert_eq!(port.stats().rx_nombuf, 32);
        drop(held);
        assert_eq!(port.rx_burst(0, &mut burst, 32), 32);
    }

    #[test]
    fn frame_length_must_fit_a_buffer() {
        let e = NullPort::new("null2", pool(8), 2048 - 64 + 1).unwrap_err();
        assert_eq!(e.knob, "pkt-len");
        assert!(NullPort::new("null3", pool(8), 0).is_err());
    }
}
