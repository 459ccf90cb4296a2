//! Port events (link on/off, interface advisories, tx status, expiry) delivered to any number of
//! subscribers. Publishing is lock-free: a wait-free load of the subscriber list and one bounded MPMC
//! queue push per subscriber. A subscriber that does not keep up loses events, and the loss is counted.

use arc_swap::ArcSwap;
use crossbeam_queue::ArrayQueue;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};

/// Events a subscriber's queue holds before it starts losing them.
pub const SUBSCRIBER_QUEUE: usize = 4096;

/// Outcome of a transmitted packet (sync or async tx completion).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxStatus {
    /// Delivered.
    Success,
    /// Dropped (Apple's `CHANNEL_EVENT_PKT_TRANSMIT_STATUS_ERR_RETRY_FAILED`).
    RetryFailed,
}

/// What an expiry notification reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpiryStatus {
    /// Expired and dropped.
    ExpiredDropped,
    /// Expired and sent anyway.
    ExpiredNotDropped,
}

/// The advisory format feth's advisories follow (Apple's `IF_INTERFACE_ADVISORY_VERSION_CURRENT`, 2 in
/// the newest XNU).
pub const ADVISORY_VERSION: u8 = 2;

/// Which path an advisory speaks of (Apple's `ifnet_interface_advisory_direction`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdvisoryDirection {
    /// The transmit path (1), the only one feth advises on.
    Tx = 1,
    /// The receive path (2).
    Rx = 2,
}

/// An interface advisory (Apple's `ifnet_interface_advisory`, tx direction).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Advisory {
    /// Its format ([`ADVISORY_VERSION`]).
    pub version: u8,
    /// The path it speaks of.
    pub direction: AdvisoryDirection,
    /// When it was made, engine clock.
    pub timestamp_ns: u64,
    /// Rate trend: always neutral (0), as Apple's fake driver.
    pub rate_trend: i32,
    /// Max bandwidth, bits per second.
    pub max_bandwidth_bps: u64,
    /// Average throughput since the previous advisory, bits per second.
    pub avg_throughput_bps: u64,
    /// Total bytes sent (Apple reports packets here; pktloop reports bytes).
    pub total_bytes: u64,
    /// Packets waiting in the tx rings.
    pub queue_len: u32,
    /// Average delay of a packet in the tx rings, nanoseconds (estimate).
    pub avg_delay_ns: u64,
}

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// Link came up (peer attached).
    LinkUp,
    /// Link went down (peer detached).
    LinkDown,
    /// Periodic interface advisory.
    Advisory(Advisory),
    /// Async tx completion of one packet.
    TxStatus {
        /// The packet's id.
        packet_id: u64,
        /// Its fate.
        status: TxStatus,
    },
    /// An interface filter was attached (its [`crate::dlil::FilterId`]).
    FilterAttached {
        /// The filter's id.
        filter: u64,
    },
    /// An interface filter was detached; no packet is inside it any more.
    FilterDetached {
        /// The filter's id.
        filter: u64,
    },
    /// A protocol handler was attached.
    ProtocolAttached {
        /// Its EtherType.
        ethertype: u16,
    },
    /// A protocol handler was detached; no packet is inside it any more.
    ProtocolDetached {
        /// Its EtherType.
        ethertype: u16,
    },
    /// The interface is being detached: it drains and takes back its filters and protocols.
    Detaching,
    /// The interface is detached: its port has been handed back.
    Detached,
    /// A packet expired.
    Expired {
        /// The packet's id.
        packet_id: u64,
        /// Dropped or not.
        status: ExpiryStatus,
        /// When it was noticed.
        timestamp_ns: u64,
        /// Its deadline.
        deadline_ns: u64,
    },
}

/// An event with the port it concerns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Event {
    /// Name-independent port id (the feth unit, for example).
    pub port: u32,
    /// The event.
    pub kind: EventKind,
}

struct Inbox {
    queue: ArrayQueue<Event>,
    lost: AtomicU64,
}

/// A port's event publisher.
#[derive(Default)]
pub struct EventBus {
    inboxes: Arc<ArcSwap<Vec<Arc<Inbox>>>>,
}

impl std::fmt::Debug for EventBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventBus").field("subscribers", &self.inboxes.load().len()).finish()
    }
}

impl EventBus {
    /// A bus with no subscribers.
    pub fn new() -> EventBus {
        EventBus::default()
    }

    /// Delivers `event` to every subscriber.
    pub fn publish(&self, event: Event) {
        for inbox in self.inboxes.load().iter() {
            if inbox.queue.push(event).is_err() {
                inbox.lost.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// True when someone listens (lets a driver skip building events nobody reads).
    pub fn has_subscribers(&self) -> bool {
        !self.inboxes.load().is_empty()
    }

    /// A new subscriber, seeing events published from now on.
    pub fn subscribe(&self) -> Subscriber {
        let inbox = Arc::new(Inbox { queue: ArrayQueue::new(SUBSCRIBER_QUEUE), lost: AtomicU64::new(0) });
        self.inboxes.rcu(|list| {
            let mut list = Vec::clone(list);
            list.push(inbox.clone());
            list
        });
        Subscriber { inbox, bus: Arc::downgrade(&self.inboxes) }
    }
}

/// Receives a port's events; unsubscribes when dropped.
pub struct Subscriber {
    inbox: Arc<Inbox>,
    bus: Weak<ArcSwap<Vec<Arc<Inbox>>>>,
}

impl std::fmt::Debug for Subscriber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscriber").field("pending", &self.inbox.queue.len()).finish()
    }
}

impl Subscriber {
    /// The next event, if any.
    pub fn poll(&self) -> Option<Event> {
        self.inbox.queue.pop()
    }

    /// Every pending event.
    pub fn drain(&self) -> Vec<Event> {
        std::iter::from_fn(|| self.poll()).collect()
    }

    /// Events lost because this subscriber's queue was full.
    pub fn lost(&self) -> u64 {
        self.inbox.lost.load(Ordering::Relaxed)
    }
}

impl Drop for Subscriber {
    fn drop(&mut self) {
        if let Some(bus) = self.bus.upgrade() {
            bus.rcu(|list| list.iter().filter(|i| !Arc::ptr_eq(i, &self.inbox)).cloned().collect::<Vec<_>>());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_subscriber_sees_events_in_order_and_losses_are_counted() {
        let bus = EventBus::new();
        assert!(!bus.has_subscribers());
        let a = bus.subscribe();
        bus.publish(Event { port: 1, kind: EventKind::LinkUp });
        let b = bus.subscribe();
        bus.publish(Event { port: 1, kind: EventKind::LinkDown });
        assert_eq!(a.drain().iter().map(|e| e.kind).collect::<Vec<_>>(), [EventKind::LinkUp, EventKind::LinkDown]);
        assert_eq!(b.drain().len(), 1);
        drop(b);
        for _ in 0..SUBSCRIBER_QUEUE + 3 {
            bus.publish(Event { port: 1, kind: EventKind::LinkUp });
        }
        assert_eq!(a.lost(), 3);
        assert_eq!(bus.inboxes.load().len(), 1, "dropped subscriber is gone");
    }
}
