//! Pool memory: one anonymous mapping per pool, from 2 MiB hugepages when any are reserved, otherwise from
//! normal pages with transparent-hugepage advice. The choice is reported through [`Region::backing`] and one
//! log line, so a benchmark figure always says what memory it was measured on.

use memmap2::{Advice, MmapMut, MmapOptions};
use std::fmt;

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

/// A zero-filled, page-aligned, writable memory region that lives until dropped.
#[derive(Debug)]
pub struct Region {
    map: MmapMut,
    backing: Backing,
}

impl Region {
    /// Maps at least `bytes` bytes (rounded up to whole hugepages), preferring hugepages.
    pub fn map(bytes: usize, prefer: Prefer) -> Result<Region, MemError> {
        let len = bytes.max(1).div_ceil(HUGEPAGE_SIZE) * HUGEPAGE_SIZE;
        let no_huge = std::env::var_os("PKTLOOP_NO_HUGEPAGES").is_some_and(|v| v != "0");
        if prefer == Prefer::Hugepage && !no_huge {
            if let Ok(map) = MmapOptions::new().len(len).huge(Some(HUGEPAGE_SHIFT)).map_anon() {
                log::info!("pool memory: {} MiB from 2 MiB hugepages", len >> 20);
                return Ok(Region { map, backing: Backing::Hugepage });
            }
        }
        let map = MmapOptions::new().len(len).map_anon().map_err(|source| MemError { bytes: len, source })?;
        // Advice is best effort: a kernel without THP still gives us working memory.
        let thp = map.advise(Advice::HugePage).is_ok();
        log::info!(
            "pool memory: {} MiB from normal pages ({}; reserve hugepages with scripts/hugepages.sh)",
            len >> 20,
            if thp { "transparent hugepages advised" } else { "no transparent hugepage support" }
        );
        Ok(Region { map, backing: Backing::Normal })
    }

    /// Where the memory came from.
    pub fn backing(&self) -> Backing {
        self.backing
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Always false: a region has at least one page.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Base pointer; valid for `len()` bytes for as long as the region lives.
    pub fn as_mut_ptr(&mut self) -> *mut u8 {
        self.map.as_mut_ptr()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
