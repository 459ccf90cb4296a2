//! A port seen through the engine's input layer (`--filter`, `--input-thread`): the workers use it as any
//! other port, while its frames go through interface filters and demux by EtherType (IPv4 and ARP are
//! handed to the worker; other types are counted as `no_protocol`), on the worker's own thread or on a
//! pinned input thread.

use pktloop_engine::dlil::{Handoff, InputThread, Interface, InterfaceHandle, ETHERTYPE_ARP, ETHERTYPE_IPV4};
use pktloop_engine::port::{DropReason, EventBus, LinkState, PacketBurst, Port, PortCounters};
use pktloop_engine::ring::{self, Consumer, Producer};
use pktloop_engine::{Packet, Pool};
use std::sync::Arc;

/// Slots of the rings between the input path and the worker, each way.
const HANDOFF_RING: usize = 1024;

/// Where the input path runs.
enum Path {
    /// In the worker's own poll (run to completion).
    Inline(Interface),
    /// On a pinned input thread; the worker's output goes to it over a ring.
    Threaded { thread: InputThread, outbound: Producer<Packet> },
    /// Torn down.
    Detached,
}

/// A port wrapped in an interface. Dropping it stops the input thread, detaches the interface (draining
/// it) and drops the port.
pub struct IfPort {
    name: String,
    mac: [u8; 6],
    mtu: u32,
    pool: Pool,
    counters: Arc<PortCounters>,
    events: EventBus,
    handle: InterfaceHandle,
    path: Path,
    /// IPv4 and ARP frames, from the input path.
    inbound: [Consumer<Packet>; 2],
    /// Which of `inbound` is read first next time.
    turn: usize,
}

impl std::fmt::Debug for IfPort {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IfPort").field("name", &self.name).finish()
    }
}

impl IfPort {
    /// Wraps `port`: an interface with `filters` attached in order, its input path on a thread pinned to
    /// `input_core` when given; `pools` are the run's, whose packets that thread may free.
    ///
    /// # Errors
    /// The input thread could not be started.
    pub fn wrap(
        port: Box<dyn Port>,
        burst: usize,
        filters: Vec<Box<dyn pktloop_engine::dlil::Filter>>,
        input_core: Option<usize>,
        pools: &[pktloop_engine::Pool],
    ) -> std::io::Result<IfPort> {
        let (name, mac, mtu) = (port.name().to_owned(), port.mac(), port.mtu());
        let (pool, counters) = (port.tx_pool().clone(), port.counters().clone());
        let iface = Interface::new(port, burst);
        let handle = iface.handle();
        for f in filters {
            handle.attach_filter(f);
        }
        let ring_pair = || ring::ring::<Packet>(HANDOFF_RING).expect("a power of two");
        let ((ipv4_in, ipv4_out), (arp_in, arp_out)) = (ring_pair(), ring_pair());
        let drops = handle.counters().clone();
        // Cannot fail: a fresh interface has no protocol attached.
        let _ =
            handle.attach_protocol(ETHERTYPE_IPV4, Box::new(Handoff::new("ipv4-to-worker", ipv4_in, drops.clone())));
        let _ = handle.attach_protocol(ETHERTYPE_ARP, Box::new(Handoff::new("arp-to-worker", arp_in, drops)));
        let path = match input_core {
            None => Path::Inline(iface),
            Some(core) => {
                let (outbound, from_worker) = ring_pair();
                let thread = InputThread::spawn(iface, core, Some(from_worker), pools)?;
                Path::Threaded { thread, outbound }
            }
        };
        Ok(IfPort {
            name,
            mac,
            mtu,
            pool,
            counters,
            events: EventBus::new(),
            handle,
            path,
            inbound: [ipv4_out, arp_out],
            turn: 0,
        })
    }

    /// The interface's control path (filters, counters).
    pub fn handle(&self) -> &InterfaceHandle {
        &self.handle
    }
}

impl Port for IfPort {
    fn name(&self) -> &str {
        &self.name
    }

    fn mac(&self) -> [u8; 6] {
        self.mac
    }

    fn mtu(&self) -> u32 {
        self.mtu
    }

    fn rx_burst(&mut self, queue: usize, pkts: &mut PacketBurst, max: usize) -> usize {
        if queue != 0 {
            return 0;
        }
        if let Path::Inline(iface) = &mut self.path {
            iface.poll();
        }
        // Take from the two rings in turn, so that a flood of one type cannot starve the other.
        self.turn ^= 1;
        let mut n = 0;
        for k in [self.turn, self.turn ^ 1] {
            n += self.inbound[k].pop_burst(pkts, max - n);
        }
        n
    }

    fn tx_burst(&mut self, queue: usize, pkts: &mut PacketBurst) -> usize {
        if queue != 0 {
            return 0;
        }
        match &mut self.path {
            Path::Inline(iface) => iface.output(pkts),
            Path::Threaded { outbound, .. } => outbound.push_burst(pkts),
            Path::Detached => 0,
        }
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

impl Drop for IfPort {
    fn drop(&mut self) {
        let iface = match std::mem::replace(&mut self.path, Path::Detached) {
            Path::Inline(iface) => iface,
            Path::Threaded { thread, .. } => thread.stop(),
            Path::Detached => return,
        };
        drop(iface.detach());
        // What the worker never took: freed, and counted.
        let mut left = PacketBurst::new();
        let mut n = 0u64;
        for ring in &mut self.inbound {
            while ring.pop_burst(&mut left, 512) > 0 {
                n += left.len() as u64;
                left.clear();
            }
        }
        PortCounters::drop(self.handle.counters(), DropReason::Detached, n);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pktloop_engine::mem::Prefer;
    use pktloop_engine::pool::PoolConfig;
    use pktloop_pmd::null::NullPort;

    #[test]
    fn it_has_one_queue_and_another_receives_and_takes_nothing() {
        let mut c = PoolConfig::new("ifport-test", 256, 2048);
        c.prefer = Prefer::Normal;
        let pool = Pool::new(c).unwrap();
        let mut ipv4 = [0u8; 64];
        ipv4[12..14].copy_from_slice(&ETHERTYPE_IPV4.to_be_bytes());
        let null = NullPort::new("null0", pool.clone(), 64).unwrap().with_template(&ipv4);
        let mut port = IfPort::wrap(Box::new(null), 32, Vec::new(), None, std::slice::from_ref(&pool)).unwrap();
        let mut burst = PacketBurst::new();
        assert_eq!(port.rx_burst(1, &mut burst, 32), 0);
        assert_eq!(port.rx_burst(0, &mut burst, 32), 32, "queue 0 gets the null port's frames");
        assert_eq!(port.tx_burst(1, &mut burst), 0);
        assert_eq!(burst.len(), 32, "the packets stay with the caller");
        assert_eq!(port.tx_burst(0, &mut burst), 32);
        drop(port);
        assert_eq!(pool.in_use(), 0);
    }
}
