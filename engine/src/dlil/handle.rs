//! The control path of an interface ([`InterfaceHandle`]): attach and detach filters and protocols from
//! any thread while traffic flows, read counters, subscribe to events.

use super::filter::{Filter, FilterCounters, FilterStats};
use super::protocol::{Protocol, ProtocolCounters};
use super::shared::{FilterEntry, FilterId, ProtocolEntry, Shared};
use super::slot::Slot;
use crate::port::{Event, EventKind, PortCounters, PortStats, Subscriber};
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// Attaching a protocol failed: that EtherType has a handler already. Gives the handler back.
#[derive(Debug, thiserror::Error)]
#[error("EtherType {ethertype:#06x} has a protocol attached already")]
pub struct ProtocolTaken {
    /// The EtherType.
    pub ethertype: u16,
    /// The handler that was not attached.
    pub handler: Box<dyn Protocol>,
}

/// A detached filter, handed back with its final counters.
#[derive(Debug)]
pub struct DetachedFilter {
    /// The filter, no longer used by the interface.
    pub filter: Box<dyn Filter>,
    /// Its counters.
    pub stats: FilterStats,
}

/// An attached filter, as the control path sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterInfo {
    /// Its id.
    pub id: FilterId,
    /// Its name.
    pub name: String,
    /// Its counters.
    pub stats: FilterStats,
}

/// The control path of an interface: clone it to any thread.
#[derive(Clone)]
pub struct InterfaceHandle {
    pub(super) shared: Arc<Shared>,
}

impl std::fmt::Debug for InterfaceHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InterfaceHandle").field("name", &self.shared.name).finish()
    }
}

impl InterfaceHandle {
    /// Attaches `filter` after the filters already attached; it sees the next burst.
    pub fn attach_filter(&self, filter: Box<dyn Filter>) -> FilterId {
        let id = FilterId(self.shared.next_filter.fetch_add(1, Ordering::Relaxed));
        let entry = Arc::new(FilterEntry {
            id,
            name: filter.name().to_owned(),
            slot: Slot::new(filter),
            counters: FilterCounters::default(),
        });
        self.shared.filters.rcu(|list| {
            let mut list = Vec::clone(list);
            list.push(entry.clone());
            list
        });
        self.shared.changed();
        self.publish(EventKind::FilterAttached { filter: id.0 });
        id
    }

    /// Detaches filter `id`: returns once no packet is inside it (a burst in its hook finishes first),
    /// with the filter and its counters; None if no such filter is attached. Must not be called from
    /// inside that filter's hook.
    pub fn detach_filter(&self, id: FilterId) -> Option<DetachedFilter> {
        let mut found = None;
        self.shared.filters.rcu(|list| {
            found = list.iter().find(|e| e.id == id).cloned();
            list.iter().filter(|e| e.id != id).cloned().collect::<Vec<_>>()
        });
        self.shared.changed();
        let entry = found?;
        let filter = entry.slot.retire()?;
        self.publish(EventKind::FilterDetached { filter: id.0 });
        Some(DetachedFilter { filter, stats: entry.counters.snapshot() })
    }

    /// The attached filters in order, with their counters.
    pub fn filters(&self) -> Vec<FilterInfo> {
        let list = self.shared.filters.load();
        list.iter().map(|e| FilterInfo { id: e.id, name: e.name.clone(), stats: e.counters.snapshot() }).collect()
    }

    /// Attaches `handler` for frames of `ethertype` (the inner type of VLAN-tagged frames).
    ///
    /// # Errors
    /// That EtherType has a handler already: `handler` comes back in the error.
    pub fn attach_protocol(&self, ethertype: u16, handler: Box<dyn Protocol>) -> Result<(), ProtocolTaken> {
        let entry = Arc::new(ProtocolEntry {
            ethertype,
            name: handler.name().to_owned(),
            slot: Slot::new(handler),
            counters: ProtocolCounters::default(),
        });
        let mut taken = false;
        self.shared.protocols.rcu(|list| {
            taken = list.iter().any(|e| e.ethertype == ethertype && !e.slot.is_closed());
            let mut list = Vec::clone(list);
            if !taken {
                list.push(entry.clone());
            }
            list
        });
        self.shared.changed();
        if taken {
            // Not published: nobody else holds the entry, so its handler comes back untouched.
            let handler = entry.slot.retire().expect("a new slot holds its handler");
            return Err(ProtocolTaken { ethertype, handler });
        }
        self.publish(EventKind::ProtocolAttached { ethertype });
        Ok(())
    }

    /// Detaches the handler of `ethertype`, once no packet is inside it; returns it and the packets it
    /// was given. None if none is attached.
    pub fn detach_protocol(&self, ethertype: u16) -> Option<(Box<dyn Protocol>, u64)> {
        let mut found = None;
        self.shared.protocols.rcu(|list| {
            found = list.iter().find(|e| e.ethertype == ethertype).cloned();
            list.iter().filter(|e| e.ethertype != ethertype).cloned().collect::<Vec<_>>()
        });
        self.shared.changed();
        let entry = found?;
        let handler = entry.slot.retire()?;
        self.publish(EventKind::ProtocolDetached { ethertype });
        Some((handler, entry.counters.delivered()))
    }

    /// Attached protocols: EtherType, name and packets delivered.
    pub fn protocols(&self) -> Vec<(u16, String, u64)> {
        let list = self.shared.protocols.load();
        list.iter().map(|e| (e.ethertype, e.name.clone(), e.counters.delivered())).collect()
    }

    /// The interface's counters: packets and bytes in and out, input errors, drops by reason (`Filtered`,
    /// `NoProtocol`, `BadFrame` and the port's own drops are the port's).
    pub fn stats(&self) -> PortStats {
        self.shared.counters.snapshot()
    }

    /// The interface's live counters.
    pub fn counters(&self) -> &Arc<PortCounters> {
        &self.shared.counters
    }

    /// Events: link on/off (from the port), filter and protocol attach/detach, detaching/detached.
    pub fn subscribe(&self) -> Subscriber {
        self.shared.events.subscribe()
    }

    /// The interface's name (its port's).
    pub fn name(&self) -> &str {
        &self.shared.name
    }

    pub(super) fn publish(&self, kind: EventKind) {
        self.shared.events.publish(Event { port: self.shared.id, kind });
    }
}
