//! A slot holding one attached filter or protocol handler, shared between the interface's data path (one
//! thread at a time: the owner of the [`super::Interface`]) and whoever detaches it (any thread).
//!
//! The data path enters the slot's gate once per burst, uses the handler, and leaves; detaching closes
//! the gate, waits until nobody is inside (dlil's busy count and `dlil_detach_filter` wait), and only then
//! takes the handler back. The protocol is Dekker's: the data path sets `busy` and then looks at `closed`;
//! the detacher sets `closed` and then looks at `busy`; an asymmetric barrier ([`crate::barrier`]) between
//! the store and the load on each side makes sure one of them sees the other. The data path (one thread)
//! pays two plain stores, a load and a compiler fence per burst: no locked instruction, no lock.

use crate::barrier;
use crate::primitive::{AtomicBool, Ordering, UnsafeCell};

/// A handler `T` (a `dyn Filter` or `dyn Protocol`) that the data path may use until it is retired.
pub(crate) struct Slot<T: ?Sized> {
    /// The data path is inside. Written only by the data path (one thread at a time).
    busy: AtomicBool,
    /// Set by `retire`: no new pass may enter.
    closed: AtomicBool,
    handler: UnsafeCell<Option<Box<T>>>,
}

// SAFETY: the handler is `Send`; it is only touched by one pass at a time: by the data path while inside
// the gate (the data path is single-threaded, `Interface` is used through `&mut`), or by `retire` after the
// gate closed and emptied, never both (see `enter`/`retire`).
unsafe impl<T: ?Sized + Send> Sync for Slot<T> {}

impl<T: ?Sized> std::fmt::Debug for Slot<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Slot").field("closed", &self.closed.load(Ordering::Relaxed)).finish()
    }
}

impl<T: ?Sized> Slot<T> {
    /// A slot holding `handler`.
    pub(crate) fn new(handler: Box<T>) -> Slot<T> {
        barrier::init();
        Slot { busy: AtomicBool::new(false), closed: AtomicBool::new(false), handler: UnsafeCell::new(Some(handler)) }
    }

    /// Runs `f` on the handler, unless the slot is being retired (then returns None and `f` does not run).
    ///
    /// # Safety
    /// No other call of `enter` on this slot may run at the same time: the caller is the interface's single
    /// data path.
    pub(crate) unsafe fn enter<R>(&self, f: impl FnOnce(&mut T) -> R) -> Option<R> {
        self.busy.store(true, Ordering::Relaxed);
        barrier::light();
        if self.closed.load(Ordering::Relaxed) {
            self.busy.store(false, Ordering::Release);
            return None;
        }
        // Leaves the gate however the handler returns (a panicking handler must not hold a detach forever).
        let _leave = Leave(&self.busy);
        self.handler.with_mut(|h| {
            // SAFETY: inside the gate, `retire` cannot take the handler (after closing the gate it waits
            // until it sees `busy` clear, and the barriers make it see our `busy` since we did not see its
            // `closed`); the caller guarantees no other `enter` runs. So this is the only reference.
            unsafe { (*h).as_deref_mut().map(f) }
        })
    }

    /// Closes the gate, waits until no pass is inside, and takes the handler back (None if it was taken
    /// already). Must not be called from inside this slot's own handler (it would wait for itself).
    pub(crate) fn retire(&self) -> Option<Box<T>> {
        // Of two retires, the first closes the gate and takes the handler; the second gets nothing.
        if self.closed.swap(true, Ordering::Relaxed) {
            return None;
        }
        barrier::heavy();
        while self.busy.load(Ordering::Acquire) {
            crate::primitive::yield_now();
        }
        // SAFETY: the gate is closed and empty: no pass is inside, and any later `enter` sees `closed` and
        // leaves without touching the handler. The Acquire load above pairs with the data path's Release.
        self.handler.with_mut(|h| unsafe { (*h).take() })
    }

    /// Whether the slot has been retired.
    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Relaxed)
    }
}

/// Clears `busy` when dropped, with Release: everything the handler did happens before `retire` takes it.
struct Leave<'a>(&'a AtomicBool);

impl Drop for Leave<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use crate::primitive::Arc;

    /// A handler whose state the data path writes, and which the detacher reads after retiring it: loom
    /// reports any access to the cell that overlaps, and the asserts check nothing is lost.
    #[test]
    fn loom_a_retired_handler_is_never_used_and_sees_every_pass_before_it() {
        loom::model(|| {
            let slot = Arc::new(Slot::new(Box::new(0u32)));
            let data_path = {
                let slot = slot.clone();
                loom::thread::spawn(move || {
                    let mut passes = 0;
                    for _ in 0..2 {
                        // SAFETY: this thread is the only data path.
                        if unsafe { slot.enter(|n| *n += 1) }.is_some() {
                            passes += 1;
                        }
                    }
                    passes
                })
            };
            let taken = slot.retire().expect("the handler comes back once");
            let passes = data_path.join().unwrap();
            assert_eq!(*taken, passes, "every pass that entered finished before retire returned");
            assert!(slot.retire().is_none());
        });
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn a_handler_that_panics_leaves_the_gate_and_detach_still_returns() {
        let slot = Slot::new(Box::new(0u32));
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            // SAFETY: this thread is the only data path.
            unsafe { slot.enter(|_: &mut u32| panic!("a filter failed")) }
        }));
        assert!(caught.is_err());
        assert_eq!(slot.retire().map(|b| *b), Some(0), "retire does not wait for the panicked pass");
        assert!(slot.retire().is_none(), "the second retire gets nothing");
        // SAFETY: as above.
        assert!(unsafe { slot.enter(|n: &mut u32| *n += 1) }.is_none(), "a retired slot lets no one in");
    }
}
