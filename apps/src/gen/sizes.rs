//! Frame lengths a generator makes (`--pkt-len`): one length, a uniform range, a weighted list, or IMIX.
//!
//! A weighted list is laid out once as a shuffled cycle of exactly its proportions (IMIX's 7:4:1 is a
//! 12-entry cycle), so any whole number of cycles has exactly the asked mix and mean; a range draws each
//! length from a seeded generator. Either way the per-packet cost is an index or one random draw.

/// The standard simple IMIX: 7 frames of 64 B, 4 of 570 B, 1 of 1518 B.
pub const IMIX: [(usize, u32); 3] = [(64, 7), (570, 4), (1518, 1)];

/// Longest cycle a weighted list may lay out (sum of its weights).
const MAX_CYCLE: u32 = 65_536;

/// What `--pkt-len` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SizeSpec {
    /// Every frame this long.
    Fixed(usize),
    /// Uniform over `lo..=hi`.
    Range(usize, usize),
    /// Lengths with weights (`64:7,570:4,1518:1`; `imix` is this list).
    Weighted(Vec<(usize, u32)>),
}

impl SizeSpec {
    /// Parses `64`, `64-1518`, `64:7,570:4,1518:1` (a weight defaults to 1) or `imix`; lengths are not yet
    /// checked against the ports (see [`SizeSpec::check`]).
    ///
    /// # Errors
    /// What is wrong, for a message that already names the flag and the value.
    pub fn parse(text: &str) -> Result<SizeSpec, String> {
        let text = text.trim();
        if text.eq_ignore_ascii_case("imix") {
            return Ok(SizeSpec::Weighted(IMIX.to_vec()));
        }
        let len = |s: &str| s.trim().parse::<usize>().map_err(|_| format!("`{s}` is not a length in bytes"));
        if text.contains(',') || text.contains(':') {
            let mut list = Vec::new();
            for item in text.split(',') {
                let (l, w) = item.split_once(':').unwrap_or((item, "1"));
                let w = w.trim().parse::<u32>().ok().filter(|w| (1..=MAX_CYCLE).contains(w));
                let w = w.ok_or_else(|| format!("the weight of `{item}` is not 1..={MAX_CYCLE}"))?;
                list.push((len(l)?, w));
            }
            if list.iter().map(|(_, w)| u64::from(*w)).sum::<u64>() > u64::from(MAX_CYCLE) {
                return Err(format!("the weights add up to more than {MAX_CYCLE}"));
            }
            return Ok(SizeSpec::Weighted(list));
        }
        match text.split_once('-') {
            Some((lo, hi)) => {
                let (lo, hi) = (len(lo)?, len(hi)?);
                if lo > hi {
                    return Err(format!("the range {lo}-{hi} is empty"));
                }
                Ok(SizeSpec::Range(lo, hi))
            }
            None => Ok(SizeSpec::Fixed(len(text)?)),
        }
    }

    /// Shortest and longest length.
    pub fn bounds(&self) -> (usize, usize) {
        match self {
            SizeSpec::Fixed(l) => (*l, *l),
            SizeSpec::Range(lo, hi) => (*lo, *hi),
            SizeSpec::Weighted(list) => {
                let lens = list.iter().map(|(l, _)| *l);
                (lens.clone().min().unwrap_or(0), lens.max().unwrap_or(0))
            }
        }
    }

    /// The mean frame length the generator will make.
    pub fn mean(&self) -> f64 {
        match self {
            SizeSpec::Fixed(l) => *l as f64,
            SizeSpec::Range(lo, hi) => (*lo + *hi) as f64 / 2.0,
            SizeSpec::Weighted(list) => {
                let total: f64 = list.iter().map(|(_, w)| f64::from(*w)).sum();
                list.iter().map(|(l, w)| *l as f64 * f64::from(*w)).sum::<f64>() / total
            }
        }
    }

    /// Whether every frame has the same length.
    pub fn is_fixed(&self) -> bool {
        let (lo, hi) = self.bounds();
        lo == hi
    }

    /// Checks every length against `lo..=hi`; the error is the valid range's text.
    ///
    /// # Errors
    /// A length outside it.
    pub fn check(&self, lo: usize, hi: usize) -> Result<(), usize> {
        let (min, max) = self.bounds();
        match (min < lo, max > hi) {
            (true, _) => Err(min),
            (_, true) => Err(max),
            _ => Ok(()),
        }
    }

    /// The per-generator source of lengths; `seed` makes ranges and shuffles repeatable.
    pub fn source(&self, seed: u64) -> SizeSource {
        let mut rng = fastrand::Rng::with_seed(seed);
        match self {
            SizeSpec::Fixed(l) => SizeSource::Cycle { table: vec![*l as u16].into(), next: 0 },
            SizeSpec::Range(lo, hi) => SizeSource::Uniform { lo: *lo as u16, hi: *hi as u16, rng },
            SizeSpec::Weighted(list) => {
                let mut table: Vec<u16> =
                    list.iter().flat_map(|(l, w)| std::iter::repeat_n(*l as u16, *w as usize)).collect();
                rng.shuffle(&mut table);
                SizeSource::Cycle { table: table.into(), next: 0 }
            }
        }
    }
}

/// Lengths, one per frame made.
#[derive(Debug, Clone)]
pub enum SizeSource {
    /// A cycle laid out at setup (one length, or a weighted list's exact proportions).
    Cycle {
        /// The lengths, in the order sent.
        table: Box<[u16]>,
        /// The next one.
        next: usize,
    },
    /// Uniform draws.
    Uniform {
        /// Shortest.
        lo: u16,
        /// Longest.
        hi: u16,
        /// Seeded generator.
        rng: fastrand::Rng,
    },
}

impl SizeSource {
    /// The next frame's length.
    #[inline]
    pub fn next_len(&mut self) -> usize {
        match self {
            SizeSource::Cycle { table, next } => {
                let l = table[*next];
                *next = if *next + 1 == table.len() { 0 } else { *next + 1 };
                usize::from(l)
            }
            SizeSource::Uniform { lo, hi, rng } => usize::from(rng.u16(*lo..=*hi)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_form_parses_and_bad_ones_say_why() {
        assert_eq!(SizeSpec::parse("64"), Ok(SizeSpec::Fixed(64)));
        assert_eq!(SizeSpec::parse("64-1518"), Ok(SizeSpec::Range(64, 1518)));
        assert_eq!(SizeSpec::parse("IMIX"), Ok(SizeSpec::Weighted(IMIX.to_vec())));
        assert_eq!(SizeSpec::parse("64:3, 128"), Ok(SizeSpec::Weighted(vec![(64, 3), (128, 1)])));
        for bad in ["", "x", "100-60", "64:0", "64:x", "64,", "-5", "64:70000"] {
            assert!(SizeSpec::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn imix_cycles_keep_exact_proportions_and_mean() {
        let spec = SizeSpec::parse("imix").unwrap();
        let mut src = spec.source(7);
        let lens: Vec<usize> = (0..1200).map(|_| src.next_len()).collect();
        let count = |l| lens.iter().filter(|x| **x == l).count();
        assert_eq!((count(64), count(570), count(1518)), (700, 400, 100));
        let mean = lens.iter().sum::<usize>() as f64 / lens.len() as f64;
        assert!((mean - spec.mean()).abs() < 1e-9, "{mean} vs {}", spec.mean());
        assert_ne!(lens[..12], [64, 64, 64, 64, 64, 64, 64, 570, 570, 570, 570, 1518], "shuffled");
    }

    #[test]
    fn ranges_stay_inside_and_reach_both_ends() {
        let mut src = SizeSpec::Range(60, 63).source(1);
        let lens: Vec<usize> = (0..1000).map(|_| src.next_len()).collect();
        assert!(lens.iter().all(|l| (60..=63).contains(l)));
        assert!(lens.contains(&60) && lens.contains(&63));
    }

    #[test]
    fn check_names_the_offending_length() {
        let spec = SizeSpec::parse("40:1,2000:1").unwrap();
        assert_eq!(spec.check(60, 1518), Err(40));
        assert_eq!(SizeSpec::Fixed(2000).check(60, 1518), Err(2000));
        assert_eq!(SizeSpec::Range(60, 1518).check(60, 1518), Ok(()));
    }
}
