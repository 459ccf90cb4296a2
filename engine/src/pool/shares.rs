//! A buffer's share count: how many holders (the buflet that owns it, the views carved out of it, the
//! shares reserved for views to come, the slices packed into it) its memory has. The last holder to give
//! its shares up frees the buffer; one count per buffer, in the pool's private memory.
//!
//! Only holders add shares, so a holder that finds the count equal to what it holds is the last one and
//! can take the buffer back without a read-modify-write (the common case: a buffer no view shares).

use crate::primitive::{AtomicU32, Ordering};

/// A count far below `u32::MAX`: an add of at most [`MAX_SHARES_ADDED`] on top of it cannot wrap.
pub(crate) const MAX_SHARES: u32 = u32::MAX / 2;
/// The most shares one add may bring (views of one carve, shares reserved at once).
pub(crate) const MAX_SHARES_ADDED: u32 = u16::MAX as u32;

/// One buffer's share count, 1 while one buflet holds it alone.
#[derive(Debug)]
pub(crate) struct Shares(AtomicU32);

impl Default for Shares {
    fn default() -> Shares {
        Shares(AtomicU32::new(1))
    }
}

impl Shares {
    /// Whether one holder has the buffer to itself.
    #[inline]
    pub(crate) fn is_sole(&self) -> bool {
        self.0.load(Ordering::Acquire) == 1
    }

    /// Adds `n` holders (at most [`MAX_SHARES_ADDED`]); the caller is a holder.
    ///
    /// Aborts the process, as `Arc` does, when the count already passed [`MAX_SHARES`]: safe code can carve
    /// views of views and reserve shares for each without end, and a count that wrapped would free the
    /// buffer under its holders.
    #[inline]
    pub(crate) fn add(&self, n: u32) {
        debug_assert!(n <= MAX_SHARES_ADDED);
        if self.0.fetch_add(n, Ordering::Relaxed) > MAX_SHARES {
            std::process::abort();
        }
    }

    /// Makes the count `n`, all the caller's: a plain store, where an atomic add would wait for the line
    /// the core that freed the buffer last wrote.
    ///
    /// # Safety
    /// The caller holds the only share (a buffer just taken from the pool).
    #[inline]
    pub(crate) unsafe fn set(&self, n: u32) {
        self.0.store(n, Ordering::Relaxed);
    }

    /// Gives up `n` shares; true when they were the last: the buffer is then the caller's to give back
    /// (everything its other holders wrote before letting go is visible), and its count is back at 1 for
    /// its next life.
    ///
    /// # Safety
    /// The caller holds `n` shares and gives them up.
    #[inline]
    pub(crate) unsafe fn release(&self, n: u32) -> bool {
        // Only holders add shares: a count equal to ours cannot grow under us, so the common case reads
        // without writing.
        if self.0.load(Ordering::Acquire) == n {
            if n != 1 {
                self.0.store(1, Ordering::Relaxed);
            }
            return true;
        }
        if self.0.fetch_sub(n, Ordering::AcqRel) == n {
            self.0.store(1, Ordering::Relaxed);
            return true;
        }
        false
    }
}

/// Model checks of the share protocol under loom (`RUSTFLAGS="--cfg loom" cargo test -p pktloop-engine
/// --release --lib loom`): holders on two threads write into the buffer and let go in every order; exactly
/// one of them takes the buffer back, and it sees every write.
#[cfg(all(test, loom))]
mod loom_tests {
    use super::Shares;
    use crate::primitive::UnsafeCell;
    use loom::sync::atomic::AtomicUsize;
    use loom::sync::atomic::Ordering::Relaxed;
    use loom::sync::Arc;
    use loom::thread;

    /// A buffer (a part for each holder to write), its count, and how many holders took it back.
    struct Buffer {
        shares: Shares,
        parts: [UnsafeCell<u32>; 2],
        taken_back: AtomicUsize,
    }

    impl Buffer {
        /// Holder `k` writes its byte and gives up `n` shares; the last reads both bytes.
        fn write_and_release(&self, k: usize, n: u32) {
            // SAFETY: each holder writes its own part until it lets go (the model checks the rest).
            self.parts[k].with_mut(|b| unsafe { *b = k as u32 + 1 });
            // SAFETY: this holder holds `n` shares (the model's setup).
            if unsafe { self.shares.release(n) } {
                self.taken_back.fetch_add(1, Relaxed);
                // SAFETY: the last holder owns the buffer: every other holder let go before.
                let seen = [0, 1].map(|i| self.parts[i].with(|b| unsafe { *b }));
                assert_eq!(seen, [1, 2], "the last holder sees every write made before the others let go");
                assert!(self.shares.is_sole(), "back at 1 for the next life");
            }
        }
    }

    fn run(first: u32, second: u32) {
        loom::model(move || {
            let parts = [UnsafeCell::new(0), UnsafeCell::new(0)];
            let buffer = Arc::new(Buffer { shares: Shares::default(), parts, taken_back: AtomicUsize::new(0) });
            // The owner holds `first` (its own share and any reserved for views); a view adds `second`.
            // SAFETY: the buffer was just made: the only share is ours.
            unsafe { buffer.shares.set(first) };
            buffer.shares.add(second);
            let other = buffer.clone();
            let t = thread::spawn(move || other.write_and_release(1, second));
            buffer.write_and_release(0, first);
            t.join().unwrap();
            assert_eq!(buffer.taken_back.load(Relaxed), 1, "exactly one holder takes the buffer back");
        });
    }

    #[test]
    fn loom_a_buffer_and_its_view_let_go_on_two_threads() {
        run(1, 1);
    }

    #[test]
    fn loom_reserved_shares_let_go_at_once_against_a_view() {
        run(3, 2);
    }
}
