//! `--cores`: a number of workers, or the cores to pin them to (`0-15`, `0,2,4-7`).

use crate::error::AppError;

/// What `--cores` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cores {
    /// This many workers, on cores the engine picks.
    Count(i64),
    /// One worker on each of these cores, in order.
    Ids(Vec<usize>),
}

impl Cores {
    /// Parses `--cores`; `allowed` are the cores this process may run on (core ids in a list must be among
    /// them).
    ///
    /// # Errors
    /// Not a number or a list of core ids, an id twice, or an id this process may not use; one line
    /// naming the value and what is valid.
    pub fn parse(text: &str, allowed: &[usize]) -> Result<Cores, AppError> {
        let t = text.trim();
        if let Ok(n) = t.parse::<i64>() {
            return Ok(Cores::Count(n));
        }
        let bad = |why: String| {
            AppError::usage(format!(
                "invalid --cores {text}: {why}; valid is a count of workers, or core ids {} as a list or ranges \
                 (0-3,6)",
                ranges_text(allowed)
            ))
        };
        let mut ids = Vec::new();
        for part in t.split(',') {
            let (lo, hi) = part.split_once('-').unwrap_or((part, part));
            let id =
                |s: &str| s.trim().parse::<usize>().map_err(|_| bad(format!("`{part}` is not a core id or range")));
            let (lo, hi) = (id(lo)?, id(hi)?);
            if lo > hi || hi - lo >= 4096 {
                return Err(bad(format!("the range {part} is empty or too long")));
            }
            ids.extend(lo..=hi);
        }
        let mut sorted = ids.clone();
        sorted.sort_unstable();
        if let Some(w) = sorted.windows(2).find(|w| w[0] == w[1]) {
            return Err(bad(format!("core {} is named twice", w[0])));
        }
        if let Some(id) = ids.iter().find(|id| !allowed.contains(id)) {
            return Err(bad(format!("this process may not run on core {id}")));
        }
        Ok(Cores::Ids(ids))
    }

    /// How many workers.
    pub fn count(&self) -> i64 {
        match self {
            Cores::Count(n) => *n,
            Cores::Ids(ids) => ids.len() as i64,
        }
    }
}

/// `ids` as ranges: `0-3,6`.
fn ranges_text(ids: &[usize]) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < ids.len() {
        let mut j = i;
        while j + 1 < ids.len() && ids[j + 1] == ids[j] + 1 {
            j += 1;
        }
        out.push(if i == j { ids[i].to_string() } else { format!("{}-{}", ids[i], ids[j]) });
        i = j + 1;
    }
    out.join(",")
}

/// Where a shm client's `count` workers go when `--cores` does not say: the last cores, highest first. Its
/// server, another process on the same machine, takes the first (the engine's default), so the two do not
/// end up time-sharing one core. None for any other run.
pub fn for_shm_client(role: Option<pktloop_pmd::shm::Role>, count: usize) -> Option<Vec<usize>> {
    let allowed = pktloop_engine::lcore::allowed_cores();
    (role == Some(pktloop_pmd::shm::Role::Client) && count <= allowed.len())
        .then(|| allowed.iter().rev().take(count).copied().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_lists_and_ranges_parse_and_bad_ones_name_the_value() {
        let allowed: Vec<usize> = (0..16).collect();
        assert_eq!(Cores::parse("4", &allowed).unwrap(), Cores::Count(4));
        assert_eq!(Cores::parse("0-3,6", &allowed).unwrap(), Cores::Ids(vec![0, 1, 2, 3, 6]));
        assert_eq!(Cores::parse("0-15", &allowed).unwrap().count(), 16);
        for (bad, why) in [("1,1", "named twice"), ("16", ""), ("0-16", "may not run on core 16"), ("x", "not a core")]
        {
            match Cores::parse(bad, &allowed) {
                Ok(Cores::Count(_)) if bad == "16" => {}
                Ok(c) => panic!("{bad} gave {c:?}"),
                Err(e) => {
                    let e = e.to_string();
                    assert!(e.starts_with(&format!("invalid --cores {bad}: ")) && e.contains(why), "{e}");
                    assert!(e.contains("0-15"), "{e}");
                }
            }
        }
    }
}
