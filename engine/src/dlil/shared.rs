//! What an interface's data path and control path share: the attached filters and protocols (each in its
//! slot, with its counters), the lists that hold them, and the data path's cached copy of those lists.

use super::filter::{Filter, FilterCounters};
use super::protocol::{Protocol, ProtocolCounters};
use super::slot::Slot;
use crate::port::{EventBus, PortCounters};
use arc_swap::ArcSwap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Names an attached filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FilterId(pub u64);

pub(super) struct FilterEntry {
    pub(super) id: FilterId,
    pub(super) name: String,
    pub(super) slot: Slot<dyn Filter>,
    pub(super) counters: FilterCounters,
}

pub(super) struct ProtocolEntry {
    pub(super) ethertype: u16,
    pub(super) name: String,
    pub(super) slot: Slot<dyn Protocol>,
    pub(super) counters: ProtocolCounters,
}

/// What data and control paths share.
pub(super) struct Shared {
    pub(super) name: String,
    pub(super) id: u32,
    pub(super) filters: ArcSwap<Vec<Arc<FilterEntry>>>,
    pub(super) protocols: ArcSwap<Vec<Arc<ProtocolEntry>>>,
    pub(super) counters: Arc<PortCounters>,
    pub(super) events: EventBus,
    pub(super) next_filter: AtomicU64,
    /// Bumped by every attach and detach: the data path reloads its copy of the lists when it changes.
    pub(super) generation: AtomicU64,
}

impl Shared {
    /// The lists changed: the data path reloads them before its next burst. (Until it does, it may still
    /// hold a detached entry, whose closed gate keeps it out.)
    pub(super) fn changed(&self) {
        self.generation.fetch_add(1, Ordering::Release);
    }
}

/// The data path's copy of the lists, reloaded only when the generation moves: one relaxed load per poll
/// instead of an `arc-swap` load per list.
#[derive(Default)]
pub(super) struct Lists {
    pub(super) generation: u64,
    pub(super) filters: Arc<Vec<Arc<FilterEntry>>>,
    pub(super) protocols: Arc<Vec<Arc<ProtocolEntry>>>,
}

impl Lists {
    /// Brings the copy up to date (a reference count taken per list when they changed; no allocation).
    #[inline]
    pub(super) fn refresh(&mut self, shared: &Shared) {
        let now = shared.generation.load(Ordering::Acquire);
        if now != self.generation {
            self.generation = now;
            self.filters = shared.filters.load_full();
            self.protocols = shared.protocols.load_full();
        }
    }
}
