//! Marks the hot sections of a thread: the poll loops that promise to allocate nothing once running.
//! [`CountingAlloc`], installed as a program's global allocator, counts what is allocated inside them
//! (pktloop's binary installs it and reports the count), which turns "the hot path never allocates" into a
//! checked fact.
//!
//! ```
//! use pktloop_engine::hot::{hot_allocations, CountingAlloc, HotSection};
//!
//! #[global_allocator]
//! static ALLOC: CountingAlloc = CountingAlloc;
//!
//! let before = hot_allocations();
//! {
//!     let _hot = HotSection::enter();
//!     let v = vec![1u8; 16]; // counted: allocated inside the section
//!     drop(v);
//! }
//! let outside = vec![2u8; 16]; // not counted
//! assert_eq!(hot_allocations() - before, 1);
//! # drop(outside);
//! ```

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};

thread_local! {
    // Const-initialised and without a destructor: reading it never allocates, so an allocator may.
    static HOT: Cell<bool> = const { Cell::new(false) };
}

/// Whether this thread is inside a hot section.
#[inline]
pub fn is_hot() -> bool {
    HOT.with(Cell::get)
}

/// This thread's hot flag set to a value, and put back as it was when dropped.
#[derive(Debug)]
struct Flag {
    was: bool,
}

impl Flag {
    fn set(hot: bool) -> Flag {
        Flag { was: HOT.with(|h| h.replace(hot)) }
    }
}

impl Drop for Flag {
    fn drop(&mut self) {
        HOT.with(|h| h.set(self.was));
    }
}

/// A hot section on this thread, from its creation until it is dropped.
#[derive(Debug)]
pub struct HotSection {
    _flag: Flag,
}

impl HotSection {
    /// Enters a hot section (nested sections are fine).
    pub fn enter() -> HotSection {
        HotSection { _flag: Flag::set(true) }
    }
}

/// A stretch of control work on a hot thread, from its creation until it is dropped: a driver that applies
/// a rare change on the polling thread (a peer process connecting, say) may allocate there, and says so.
/// Never for anything done per packet or per burst.
#[derive(Debug)]
pub struct ColdSection {
    _flag: Flag,
}

impl ColdSection {
    /// Leaves the hot section, if any, until dropped.
    pub fn enter() -> ColdSection {
        ColdSection { _flag: Flag::set(false) }
    }
}

/// Makes the per-thread state the engine's lock-free reads use (arc-swap's debt node, behind the input
/// layer's filter and protocol lists), which is otherwise made on a thread's first read: a poll loop calls
/// this at setup, with [`crate::pool::Pool::prepare_thread_cache`] for its pools, so that its hot section
/// allocates nothing.
pub fn prepare_thread() {
    let probe = arc_swap::ArcSwap::from_pointee(0u8);
    let _ = probe.load();
}

/// Allocations made inside hot sections (on any thread) since the process started, when [`CountingAlloc`]
/// is the global allocator (0 otherwise).
static HOT_ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

/// Allocations made inside hot sections so far (see [`CountingAlloc`]).
pub fn hot_allocations() -> u64 {
    HOT_ALLOCATIONS.load(Ordering::Relaxed)
}

/// The system allocator, counting the allocations made inside hot sections. The count costs one
/// thread-local read per allocation (allocations are rare where it matters).
#[derive(Debug, Clone, Copy, Default)]
pub struct CountingAlloc;

impl CountingAlloc {
    #[inline]
    fn count(&self) {
        if is_hot() {
            HOT_ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
    }
}

// SAFETY: every call is forwarded unchanged to the system allocator, which upholds GlobalAlloc's contract;
// counting neither allocates nor touches the memory.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        self.count();
        // SAFETY: the caller's contract for `alloc` is passed on as is.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from this allocator, that is from System, with `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        self.count();
        // SAFETY: the caller's contract for `alloc_zeroed` is passed on as is.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        self.count();
        // SAFETY: `ptr` came from System with `layout`; the caller's contract for `realloc` is passed on.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_nest_and_end_on_drop() {
        assert!(!is_hot());
        let outer = HotSection::enter();
        {
            let _inner = HotSection::enter();
            assert!(is_hot());
        }
        assert!(is_hot(), "the outer section is still open");
        drop(outer);
        assert!(!is_hot());
        std::thread::spawn(|| assert!(!is_hot(), "per thread")).join().unwrap();
    }
}
