//! The process-wide pool table: 16-bit id -> pool, so that an 8-byte packet handle finds its pool without a
//! pointer, and the rule that releases a pool.
//!
//! Each registered pool is owned by its table entry (one strong count). The entry lets go, and the pool's
//! memory and id come back, once nothing can reach the pool any more: no [`super::Pool`] handle, every
//! thread cache stolen back ([`super::cell`]), every buffer in the depot, and no thread in the middle of an
//! uncached operation (those hold a strong count for their duration).

use super::{lock, PoolError, PoolInner, MAX_POOLS};
use std::sync::atomic::{AtomicPtr, Ordering};
use std::sync::{Arc, Mutex};

/// Each non-null entry owns one strong count of its pool.
static REGISTRY: [AtomicPtr<PoolInner>; MAX_POOLS] = [const { AtomicPtr::new(std::ptr::null_mut()) }; MAX_POOLS];
/// Serialises registration and release (setup and teardown only; lookups never take it).
static REGISTRY_LOCK: Mutex<()> = Mutex::new(());

/// Registers a pool under the lowest free id, built by `make` once the id is known.
pub(crate) fn register(make: impl FnOnce(u16) -> PoolInner) -> Result<Arc<PoolInner>, PoolError> {
    let _guard = lock(&REGISTRY_LOCK);
    let id = REGISTRY.iter().position(|s| s.load(Ordering::Acquire).is_null()).ok_or(PoolError::TooManyPools)?;
    let inner = Arc::new(make(id as u16));
    REGISTRY[id].store(Arc::into_raw(inner.clone()).cast_mut(), Ordering::Release);
    Ok(inner)
}

/// The pool registered under `id`.
///
/// # Safety
/// The caller holds something that keeps the pool registered (a buffer of it, or a [`super::Pool`]
/// handle) for as long as it uses the reference.
#[inline]
pub(crate) unsafe fn lookup<'a>(id: u16) -> &'a PoolInner {
    let p = REGISTRY[id as usize].load(Ordering::Acquire);
    debug_assert!(!p.is_null(), "pool {id} is not registered");
    // SAFETY: per the contract the registry entry is live and owns a strong count, so the pointee outlives
    // the caller's hold on it.
    unsafe { &*p }
}

/// A strong reference to a registered pool.
///
/// # Safety
/// As for [`lookup`]: `inner` must stay registered for the duration of the call.
pub(crate) unsafe fn upgrade(inner: &PoolInner) -> Arc<PoolInner> {
    let p: *const PoolInner = inner;
    // SAFETY: `p` came from `Arc::into_raw` at registration and the registry still owns a strong count, so
    // incrementing and adopting one more count is sound.
    unsafe {
        Arc::increment_strong_count(p);
        Arc::from_raw(p)
    }
}

/// Whether the registered entry under `id` is `inner` (tests).
#[cfg(test)]
pub(crate) fn is_registered(id: u16, inner: *const PoolInner) -> bool {
    std::ptr::eq(REGISTRY[id as usize].load(Ordering::Acquire), inner)
}

/// Drops `held`, and with it the registry's reference when nothing else can reach the pool (see the module
/// docs). Holders let go under the registry lock, so of two letting go at once the second sees the first
/// gone.
pub(crate) fn release(held: Arc<PoolInner>) {
    let _guard = lock(&REGISTRY_LOCK);
    // Registry + `held` and no cell: nobody is inside an operation, so the depot's count is exact.
    if Arc::strong_count(&held) == 2 && held.idle_and_complete() {
        let me = Arc::as_ptr(&held).cast_mut();
        // Only our own entry: the id may already belong to a newer pool.
        if REGISTRY[held.id as usize]
            .compare_exchange(me, std::ptr::null_mut(), Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            // SAFETY: the entry owned the strong count taken by `Arc::into_raw` at registration.
            drop(unsafe { Arc::from_raw(me) });
        }
    }
    drop(held);
}
