//! An interface's own input thread (XNU's `dlil_input_thread`, with affinity): a pinned lcore that owns the
//! [`Interface`], runs its input path, and sends what other threads queue for output on an SPSC ring.

use super::interface::Interface;
use crate::hot::{self, HotSection};
use crate::lcore::{self, Lcore};
use crate::packet::Packet;
use crate::pool::Pool;
use crate::port::{DropReason, PacketBurst, PortCounters};
use crate::ring::Consumer;

/// Passes of the output queue the thread makes at stop before it gives up on a port that takes nothing.
const STOP_FLUSH_TRIES: usize = 1000;

/// A running input thread. [`InputThread::stop`] hands the interface back.
#[derive(Debug)]
pub struct InputThread {
    lcore: Lcore<Interface>,
}

impl InputThread {
    /// Starts the input path of `iface` on its own thread pinned to `core`; packets pushed onto the
    /// producer side of `outbound` are sent through the interface's output path. `pools` are those whose
    /// packets the thread may free (the port's, those of packets queued for output): their caches are made
    /// before the loop, which then runs as a hot section (see [`crate::hot`]) and allocates nothing.
    ///
    /// # Errors
    /// The thread could not be started.
    pub fn spawn(
        iface: Interface,
        core: usize,
        outbound: Option<Consumer<Packet>>,
        pools: &[Pool],
    ) -> std::io::Result<InputThread> {
        let name = format!("dlil-{}", iface.handle().name());
        let pools = pools.to_vec();
        let lcore = lcore::spawn(&name, 0, core, move |ctx| {
            let mut iface = iface;
            let mut outbound = outbound;
            let mut out = PacketBurst::new();
            pools.iter().for_each(Pool::prepare_thread_cache);
            hot::prepare_thread();
            let hot = HotSection::enter();
            while ctx.running() {
                iface.poll();
                if let Some(ring) = &mut outbound {
                    send(&mut iface, ring, &mut out);
                }
            }
            drop(hot);
            // Stopping loses nothing: what was queued for output is sent (or, if the port takes nothing
            // for a long while, counted as dropped at detach), and the interface goes back with its state.
            if let Some(ring) = &mut outbound {
                for _ in 0..STOP_FLUSH_TRIES {
                    send(&mut iface, ring, &mut out);
                    if out.is_empty() && ring.is_empty() && iface.flush() {
                        break;
                    }
                }
                let left = out.len() + ring.len();
                PortCounters::drop(iface.handle().counters(), DropReason::Detached, left as u64);
            }
            iface
        })?;
        Ok(InputThread { lcore })
    }

    /// The core it runs on.
    pub fn core(&self) -> usize {
        self.lcore.core()
    }

    /// Stops the thread after its current pass and returns the interface.
    ///
    /// # Panics
    /// The input thread panicked (a handler or filter did); the panic is passed on.
    pub fn stop(self) -> Interface {
        match self.lcore.join() {
            Ok((iface, _pinned)) => iface,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }
}

/// Moves what waits on `ring` (after what `out` still holds) into the output path.
fn send(iface: &mut Interface, ring: &mut Consumer<Packet>, out: &mut PacketBurst) {
    let room = out.remaining_capacity();
    if room > 0 {
        ring.pop_burst(out, room);
    }
    if !out.is_empty() {
        iface.output(out);
    }
}
