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

/// Hints that the `bytes` from `p` will be written soon: their lines are fetched in owned state
/// (`PREFETCHW`), so that the stores do not each wait for a line another core holds. On a CPU without
/// `PREFETCHW`, a read hint. (`_mm_prefetch` with `_MM_HINT_ET0` is a plain `prefetcht0` unless the whole
/// build enables the `prfchw` feature, hence the instruction by hand.) A loop asking for many lines takes
/// a [`Writes`] once instead.
#[inline(always)]
pub fn write(p: *const u8, bytes: usize) {
    Writes::new().ask(p, bytes);
}

/// [`write()`] for a loop: whether the CPU has `PREFETCHW`, looked up once when made and then a flag in a
/// register, where each call of [`write()`] loads it again (two loads and two branches per line: txonly with
/// private pools moved 1.03x, split 1.07x, with the flag in a register).
#[derive(Clone, Copy, Debug)]
pub struct Writes {
    #[cfg(all(target_arch = "x86_64", not(loom)))]
    prefetchw: bool,
}

impl Writes {
    /// The hint for this CPU.
    #[inline(always)]
    pub fn new() -> Writes {
        Writes {
            #[cfg(all(target_arch = "x86_64", not(loom)))]
            prefetchw: has_prefetchw(),
        }
    }

    /// Hints that the `bytes` from `p` will be written soon, as [`write()`].
    #[inline(always)]
    pub fn ask(self, p: *const u8, bytes: usize) {
        #[cfg(all(target_arch = "x86_64", not(loom)))]
        if self.prefetchw {
            each_line(p, bytes, |line| {
                // SAFETY: the CPU has PREFETCHW (checked); like every prefetch it never faults and changes
                // nothing the program can observe.
                unsafe { core::arch::asm!("prefetchw [{}]", in(reg) line, options(nostack, preserves_flags, readonly)) }
            });
            return;
        }
        read(p, bytes);
    }
}

impl Default for Writes {
    fn default() -> Writes {
        Writes::new()
    }
}

/// Hints that this core is done writing the `bytes` from `p` and another core will read them next: their
/// lines move from this core's private caches to the shared last-level cache (`CLDEMOTE`), so the reader
/// finds them there instead of snooping them out of this core. `CLDEMOTE` sits in the reserved-NOP space,
/// but a CPU without it still decodes one per line: where it is not issued (see `has_cldemote`) the hint
/// returns at once (a one-packet push spent a quarter of its own instructions on NOPs on AMD's EPYC).
#[inline(always)]
pub fn demote(p: *const u8, bytes: usize) {
    #[cfg(all(target_arch = "x86_64", not(loom)))]
    if has_cldemote() {
        cldemote_lines(p, bytes);
    }
    #[cfg(not(all(target_arch = "x86_64", not(loom))))]
    let _ = (p, bytes);
}

/// [`demote`] of slots `pos..pos + n` of a ring (as [`ring_slots`] names them), with the ring arithmetic
/// skipped too where the hint is not issued.
#[inline(always)]
pub fn demote_ring_slots(base: *const u8, slot_bytes: usize, slots: usize, pos: usize, n: usize) {
    #[cfg(all(target_arch = "x86_64", not(loom)))]
    if has_cldemote() {
        ring_slots(base, slot_bytes, slots, pos, n, cldemote_lines);
    }
    #[cfg(not(all(target_arch = "x86_64", not(loom))))]
    let _ = (base, slot_bytes, slots, pos, n);
}

/// `CLDEMOTE` of every line of the `bytes` from `p`, unconditionally (the callers check the CPU).
#[cfg(all(target_arch = "x86_64", not(loom)))]
#[inline(always)]
fn cldemote_lines(p: *const u8, bytes: usize) {
    each_line(p, bytes, |line| {
        // SAFETY: CLDEMOTE never faults and changes nothing the program can observe.
        unsafe { core::arch::asm!("cldemote [{}]", in(reg) line, options(nostack, preserves_flags, readonly)) }
    });
}

/// Whether to issue `CLDEMOTE`, looked up once: when the CPU reports it (CPUID leaf 7, ECX bit 25), or
/// is Intel's, since a hypervisor may hide the bit of a CPU that has it (the earlier sessions' Intel VM
/// issued it regardless, and measured its gains so). Others, AMD's among them, skip it.
#[cfg(all(target_arch = "x86_64", not(loom)))]
#[inline(always)]
fn has_cldemote() -> bool {
    static HAS: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *HAS.get_or_init(|| {
        use core::arch::x86_64::{__cpuid, __cpuid_count};
        let leaf0 = __cpuid(0);
        // "GenuineIntel", in the order leaf 0 returns it.
        let intel = (leaf0.ebx, leaf0.edx, leaf0.ecx) == (0x756e_6547, 0x4965_6e69, 0x6c65_746e);
        // Leaf 7 is read only when the CPU reports it.
        intel || (leaf0.eax >= 7 && __cpuid_count(7, 0).ecx & (1 << 25) != 0)
    })
}

/// Whether the CPU has `PREFETCHW` (CPUID leaf 0x8000_0001, ECX bit 8), looked up once.
#[cfg(all(target_arch = "x86_64", not(loom)))]
#[inline(always)]
fn has_prefetchw() -> bool {
    static HAS: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *HAS.get_or_init(|| {
        use core::arch::x86_64::__cpuid;
        // The extended leaf is read only when the CPU reports it.
        __cpuid(0x8000_0000).eax >= 0x8000_0001 && __cpuid(0x8000_0001).ecx & (1 << 8) != 0
    })
}

/// Calls `hint` once per 64-byte line the range touches (at least once): at `p`, then at each line
/// boundary before its end, so that a range starting mid-line also reaches the line it ends in.
/// `wrapping_add` keeps the address arithmetic defined for any pointer.
#[cfg(all(target_arch = "x86_64", not(loom)))]
#[inline(always)]
fn each_line(p: *const u8, bytes: usize, hint: impl Fn(*const i8)) {
    hint(p.cast::<i8>());
    let mut off = 64 - (p as usize & 63);
    while off < bytes {
        hint(p.cast::<i8>().wrapping_add(off));
        off += 64;
    }
}

/// Calls `hint` (one of the hints above) on slots `pos..pos + n` of a ring of `slots` slots (a power of
/// two) of `slot_bytes` each from `base`: one range, or two when they wrap past the last slot.
#[inline(always)]
pub fn ring_slots(
    base: *const u8,
    slot_bytes: usize,
    slots: usize,
    pos: usize,
    n: usize,
    hint: impl Fn(*const u8, usize),
) {
    if n == 0 {
        return;
    }
    let at = pos & (slots - 1);
    let first = n.min(slots - at);
    hint(base.wrapping_add(at * slot_bytes), first * slot_bytes);
    if first < n {
        hint(base, (n - first) * slot_bytes);
    }
}

#[cfg(all(test, target_arch = "x86_64", not(loom)))]
mod tests {
    use super::*;
    use std::cell::RefCell;

    /// The line offsets (from a line-aligned buffer's start) that `each_line` visits for `bytes` from `at`.
    fn lines(at: usize, bytes: usize) -> Vec<usize> {
        #[repr(align(64))]
        struct Lines([u8; 512]);
        let buf = Lines([0; 512]);
        let base = buf.0.as_ptr() as usize;
        let seen = RefCell::new(Vec::new());
        each_line(buf.0.as_ptr().wrapping_add(at), bytes, |p| seen.borrow_mut().push((p as usize - base) / 64));
        seen.into_inner()
    }

    #[test]
    fn every_line_a_range_touches_is_visited_once() {
        assert_eq!(lines(0, 128), [0, 1]);
        assert_eq!(lines(0, 0), [0], "at least once");
        assert_eq!(lines(40, 32), [0, 1], "starting mid-line, ending in the next");
        assert_eq!(lines(40, 24), [0], "ending where the next line starts");
        assert_eq!(lines(100, 200), [1, 2, 3, 4]);
    }

    #[test]
    fn cldemote_is_issued_where_the_kernel_sees_it_or_on_intel() {
        let Ok(cpuinfo) = std::fs::read_to_string("/proc/cpuinfo") else {
            eprintln!("skipped: no /proc/cpuinfo to compare with");
            return;
        };
        let field = |name: &str| {
            let line = cpuinfo.lines().find(|l| l.starts_with(name)).unwrap_or_default();
            line.split_once(':').map_or("", |(_, v)| v.trim()).to_string()
        };
        let flagged = field("flags").split_whitespace().any(|f| f == "cldemote");
        let intel = field("vendor_id") == "GenuineIntel";
        assert_eq!(has_cldemote(), flagged || intel, "vendor {:?}, cldemote flag {flagged}", field("vendor_id"));
    }

    #[test]
    fn a_wrapping_run_of_ring_slots_is_two_ranges() {
        let seen = RefCell::new(Vec::new());
        let hint = |p: *const u8, bytes: usize| seen.borrow_mut().push((p as usize, bytes));
        ring_slots(std::ptr::null(), 8, 16, 14, 4, hint);
        assert_eq!(*seen.borrow(), [(14 * 8, 2 * 8), (0, 2 * 8)]);
        seen.borrow_mut().clear();
        ring_slots(std::ptr::null(), 8, 16, 16 + 3, 5, hint);
        assert_eq!(*seen.borrow(), [(3 * 8, 5 * 8)]);
        ring_slots(std::ptr::null(), 8, 16, 0, 0, hint);
        assert_eq!(seen.borrow().len(), 1, "no slots, no hint");
    }
}
