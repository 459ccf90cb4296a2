//! Cache hints: ask the CPU to start fetching lines that will be read or written soon, so that several
//! fetches (often from the other core's cache) overlap instead of each stalling the core in turn. A hint
//! accesses nothing the program can observe and never faults, so any address is allowed, even memory that
//! another thread is writing.

/// Hints that the `bytes` from `p` will be read soon.
#[inline(always)]
pub fn read(p: *const u8, bytes: usize) {
    #[cfg(all(target_arch = "x86_64", not(loom)))]
    each_line(p, bytes, |line| {
        // SAFETY: a prefetch never faults and reads nothing visible to the program; SSE is part of the
        // x86_64 baseline.
        unsafe { core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(line) }
    });
    #[cfg(not(all(target_arch = "x86_64", not(loom))))]
    let _ = (p, bytes);
}

/// Hints that the `bytes` from `p` will be written soon: their lines are fetched in owned state, so that
/// the stores do not each wait for a line another core holds.
#[inline(always)]
pub fn write(p: *const u8, bytes: usize) {
    #[cfg(all(target_arch = "x86_64", not(loom)))]
    each_line(p, bytes, |line| {
        // SAFETY: as in `read`.
        unsafe { core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_ET0 }>(line) }
    });
    #[cfg(not(all(target_arch = "x86_64", not(loom))))]
    let _ = (p, bytes);
}

/// Calls `hint` once per 64-byte line of the range (at least once). `wrapping_add` keeps the address
/// arithmetic defined for any pointer.
#[cfg(all(target_arch = "x86_64", not(loom)))]
#[inline(always)]
fn each_line(p: *const u8, bytes: usize, hint: impl Fn(*const i8)) {
    let mut off = 0;
    loop {
        hint(p.cast::<i8>().wrapping_add(off));
        off += 64;
        if off >= bytes {
            break;
        }
    }
}
