//! Pool memory: one mapping per pool, anonymous or of a memory file another process maps too
//! ([`Region::shared`], [`Region::map_peer`]), from 2 MiB hugepages when any are reserved, otherwise from
//! normal pages with transparent-hugepage advice. The choice is reported through [`Region::backing`] and one
//! log line, so a benchmark figure always says what memory it was measured on.

use memmap2::{Advice, MmapMut, MmapOptions, MmapRaw};
use std::fmt;
use std::fs::File;
use std::os::fd::OwnedFd;

/// Size of the hugepages pktloop asks for.
pub const HUGEPAGE_SIZE: usize = 2 << 20;
const HUGEPAGE_SHIFT: u8 = 21;

/// Where a region's memory came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backing {
    /// Explicit 2 MiB hugepages (MAP_HUGETLB), reserved by the administrator.
    Hugepage,
    /// Normal 4 KiB pages with `MADV_HUGEPAGE`, so the kernel may still back them with transparent hugepages.
    Normal,
}

impl Backing {
    /// Short lowercase name used in stats and JSON: `hugepage` or `normal`.
    pub fn as_str(self) -> &'static str {
        match self {
            Backing::Hugepage => "hugepage",
            Backing::Normal => "normal",
        }
    }
}

impl fmt::Display for Backing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which backing to try first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Prefer {
    /// Hugepages when reserved, normal pages otherwise (the default). The environment variable
    /// `PKTLOOP_NO_HUGEPAGES=1` turns this into [`Prefer::Normal`].
    #[default]
    Hugepage,
    /// Normal pages only.
    Normal,
}

/// Mapping failed even with normal pages.
#[derive(Debug, thiserror::Error)]
#[error("cannot map {bytes} bytes of pool memory: {source}")]
pub struct MemError {
    /// Bytes requested.
    pub bytes: usize,
    /// The OS error.
    #[source]
    pub source: std::io::Error,
}

/// A page-aligned, writable memory region that lives until dropped: zero-filled when made here, holding
/// what its owner wrote when it maps another process's memory ([`Region::map_peer`]).
#[derive(Debug)]
pub struct Region {
    map: Mapping,
    backing: Backing,
}

/// Private memory of this process, or a file mapping another process may also have mapped.
#[derive(Debug)]
enum Mapping {
    Private(MmapMut),
    /// Only ever reached through raw pointers: the other process may write it at any time.
    Shared(MmapRaw),
}

impl Region {
    /// Maps at least `bytes` bytes (rounded up to whole hugepages), preferring hugepages, the first `bytes`
    /// faulted in ([`Region::populate`]).
    pub fn map(bytes: usize, prefer: Prefer) -> Result<Region, MemError> {
        let len = bytes.max(1).div_ceil(HUGEPAGE_SIZE) * HUGEPAGE_SIZE;
        if prefer == Prefer::Hugepage && !hugepages_disabled() {
            if let Ok(map) = MmapOptions::new().len(len).huge(Some(HUGEPAGE_SHIFT)).map_anon() {
                let region = Region { map: Mapping::Private(map), backing: Backing::Hugepage };
                // Hugepages that cannot be faulted in fall back to normal pages, as ones that cannot be mapped.
                if region.populate(bytes).is_ok() {
                    log::info!("pool memory: {} MiB from 2 MiB hugepages", len >> 20);
                    return Ok(region);
                }
            }
        }
        let map = MmapOptions::new().len(len).map_anon().map_err(|source| MemError { bytes: len, source })?;
        // Advice is best effort: a kernel without THP still gives us working memory.
        let thp = map.advise(Advice::HugePage).is_ok();
        let region = Region { map: Mapping::Private(map), backing: Backing::Normal };
        region.populate(bytes)?;
        log::info!(
            "pool memory: {} MiB from normal pages ({}; reserve hugepages with scripts/hugepages.sh)",
            len >> 20,
            if thp { "transparent hugepages advised" } else { "no transparent hugepage support" }
        );
        Ok(region)
    }

    /// Maps at least `bytes` bytes of a new memory file (memfd) that another process can map too, from
    /// hugepages when preferred and reserved, the first `bytes` faulted in. The file is sealed at its size,
    /// so that neither side can shrink it under the other's mapping (touching a page past the end of a file
    /// is SIGBUS).
    pub fn shared(name: &str, bytes: usize, prefer: Prefer) -> Result<(Region, OwnedFd), MemError> {
        let len = bytes.max(1).div_ceil(HUGEPAGE_SIZE) * HUGEPAGE_SIZE;
        let fail = |source| MemError { bytes: len, source };
        if prefer == Prefer::Hugepage && !hugepages_disabled() {
            if let Ok(fd) = crate::memfd::create_sealed(name, len, true) {
                let region = Region::map_file(fd.try_clone().map_err(fail)?, len, Backing::Hugepage);
                if let Some(region) = region.ok().filter(|r| r.populate(bytes).is_ok()) {
                    log::info!("shared memory: {} MiB from 2 MiB hugepages", len >> 20);
                    return Ok((region, fd));
                }
            }
        }
        let fd = crate::memfd::create_sealed(name, len, false).map_err(fail)?;
        let region = Region::map_file(fd.try_clone().map_err(fail)?, len, Backing::Normal)?;
        region.populate(bytes)?;
        log::info!("shared memory: {} MiB from normal pages (reserve hugepages with scripts/hugepages.sh)", len >> 20);
        Ok((region, fd))
    }

    /// Faults in the pages of the first `bytes` bytes (`MADV_POPULATE_WRITE`), so that no worker meets a
    /// page's first fault in its poll loop, as DPDK's memory is there from its start: a split pool's 512 KiB
    /// aggregation buffers, faulted in by the sender's copies, held a run near 10 kpps for its first second
    /// on this project's VM, where a fresh page can cost the host a fault of its own. Only what the pool
    /// asked for, not the mapping's rounding up to a hugepage. Kernels before 5.14 have no such advice
    /// (EINVAL): their pages fault as they are first written, as before. A peer's mapping
    /// ([`Region::map_peer`]) is not populated: its owner did, and a hostile one could make a sparse file of
    /// any size this process would then commit.
    fn populate(&self, bytes: usize) -> Result<(), MemError> {
        let page = match self.backing {
            Backing::Hugepage => HUGEPAGE_SIZE,
            Backing::Normal => 4096,
        };
        let len = bytes.max(1).div_ceil(page) * page;
        let advice = match &self.map {
            Mapping::Private(m) => m.advise_range(Advice::PopulateWrite, 0, len),
            Mapping::Shared(m) => m.advise_range(Advice::PopulateWrite, 0, len),
        };
        match advice {
            Err(e) if e.raw_os_error() != Some(libc::EINVAL) => Err(MemError { bytes: len, source: e }),
            _ => Ok(()),
        }
    }

    /// Maps the first `len` bytes of a memory file another process made with [`Region::shared`]. The file
    /// must be sealed against shrinking and hold at least `len` bytes: a file that could shrink later would
    /// turn this process's reads into SIGBUS whenever its owner chose.
    pub fn map_peer(fd: OwnedFd, len: usize) -> Result<Region, MemError> {
        let fail = |source| MemError { bytes: len, source };
        crate::memfd::check_sealed(&fd, len).map_err(fail)?;
        let backing = if crate::memfd::is_hugetlb(&fd) { Backing::Hugepage } else { Backing::Normal };
        Region::map_file(fd, len, backing)
    }

    fn map_file(fd: OwnedFd, len: usize, backing: Backing) -> Result<Region, MemError> {
        let map =
            MmapOptions::new().len(len).map_raw(&File::from(fd)).map_err(|source| MemError { bytes: len, source })?;
        Ok(Region { map: Mapping::Shared(map), backing })
    }

    /// Where the memory came from.
    pub fn backing(&self) -> Backing {
        self.backing
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        match &self.map {
            Mapping::Private(m) => m.len(),
            Mapping::Shared(m) => m.len(),
        }
    }

    /// Always false: a region has at least one page.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether another process may map this memory too.
    pub fn is_shared(&self) -> bool {
        matches!(self.map, Mapping::Shared(_))
    }

    /// Base pointer; valid for `len()` bytes for as long as the region lives.
    pub fn as_mut_ptr(&mut self) -> *mut u8 {
        match &mut self.map {
            Mapping::Private(m) => m.as_mut_ptr(),
            Mapping::Shared(m) => m.as_mut_ptr(),
        }
    }
}

/// `PKTLOOP_NO_HUGEPAGES=1` turns every hugepage preference into normal pages.
fn hugepages_disabled() -> bool {
    std::env::var_os("PKTLOOP_NO_HUGEPAGES").is_some_and(|v| v != "0")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pages of `r`'s first `bytes` the kernel has in memory now, by `mincore`, and how many there are.
    fn resident_pages(r: &mut Region, bytes: usize) -> (usize, usize) {
        // SAFETY: sysconf reads a constant of the system.
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as usize;
        let mut pages = vec![0u8; bytes.div_ceil(page)];
        // SAFETY: the range is the region's own mapping, and `pages` has a byte for each of its pages.
        let rc = unsafe { libc::mincore(r.as_mut_ptr().cast(), bytes, pages.as_mut_ptr()) };
        assert_eq!(rc, 0, "mincore: {}", std::io::Error::last_os_error());
        (pages.iter().filter(|&&p| p & 1 == 1).count(), pages.len())
    }

    /// Every page asked for is there before the first write: a worker's first touch of a buffer faults
    /// nothing.
    #[test]
    fn a_new_region_is_faulted_in_as_far_as_asked() {
        let probe = MmapOptions::new().len(4096).map_anon().unwrap();
        if probe.advise(Advice::PopulateWrite).is_err() {
            eprintln!("skipped: this kernel has no MADV_POPULATE_WRITE (Linux 5.14 or later)");
            return;
        }
        let bytes = 3 * HUGEPAGE_SIZE + 5000;
        for prefer in [Prefer::Normal, Prefer::Hugepage] {
            let mut r = Region::map(bytes, prefer).unwrap();
            let (resident, pages) = resident_pages(&mut r, bytes);
            assert_eq!(resident, pages, "{prefer:?}");
        }
        let (mut shared, _fd) = Region::shared("resident", bytes, Prefer::Normal).unwrap();
        let (resident, pages) = resident_pages(&mut shared, bytes);
        assert_eq!(resident, pages);
    }

    #[test]
    fn normal_pages_always_work_and_are_zeroed() {
        let mut r = Region::map(5000, Prefer::Normal).unwrap();
        assert_eq!(r.backing(), Backing::Normal);
        assert_eq!(r.len(), HUGEPAGE_SIZE);
        let p = r.as_mut_ptr();
        // SAFETY: p is valid for r.len() bytes and nothing else aliases it.
        let s = unsafe { std::slice::from_raw_parts_mut(p, r.len()) };
        assert!(s.iter().all(|&b| b == 0));
        s[r.len() - 1] = 7;
        assert_eq!(s[r.len() - 1], 7);
    }

    #[test]
    fn a_shared_region_is_seen_through_a_second_mapping_of_its_file() {
        let (mut a, fd) = Region::shared("t", 5000, Prefer::Normal).unwrap();
        assert!(a.is_shared());
        let mut b = Region::map_peer(fd, HUGEPAGE_SIZE).unwrap();
        // SAFETY: both pointers are valid for a page; nothing else touches these mappings.
        unsafe {
            a.as_mut_ptr().add(100).write(42);
            assert_eq!(b.as_mut_ptr().add(100).read(), 42);
        }
    }

    #[test]
    fn a_peer_file_shorter_than_asked_is_refused() {
        let (_a, fd) = Region::shared("t", HUGEPAGE_SIZE, Prefer::Normal).unwrap();
        let e = Region::map_peer(fd, 2 * HUGEPAGE_SIZE).unwrap_err();
        assert!(e.to_string().contains("4194304 bytes"), "{e}");
    }

    #[test]
    fn hugepage_preference_falls_back_or_uses_reserved_pages() {
        let reserved = std::fs::read_to_string("/proc/sys/vm/nr_hugepages")
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok())
            .unwrap_or(0);
        let r = Region::map(HUGEPAGE_SIZE, Prefer::Hugepage).unwrap();
        if reserved == 0 {
            assert_eq!(r.backing(), Backing::Normal, "no hugepages reserved, so the fallback must be used");
        } else {
            eprintln!("{reserved} hugepages reserved; region backing = {}", r.backing());
        }
    }
}
