//! Pacing (`--rate`): a token bucket on a virtual clock. Each packet is due one interval after the one
//! before; a poll may send every packet already due, so a generator that keeps up sends exactly the asked
//! rate whatever its burst size, and one that fell behind (preempted, back-pressured) catches up with at
//! most the bucket's depth at once instead of the whole backlog.

/// Picoseconds per second (intervals are kept in picoseconds so that high rates stay exact).
const PS_PER_S: f64 = 1e12;

/// A rate as asked: packets per second, or bits per second on the wire.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Rate {
    /// Packets per second.
    Pps(f64),
    /// Bits per second, each frame counted with its preamble, start delimiter, FCS-less length and gap
    /// (+20 bytes per frame, as a line rate is).
    Bps(f64),
}

impl Rate {
    /// Parses `1000000`, `1.5Mpps`, `200kpps`, `10Gbps`, `100Mbps`, `64kbps` (case-insensitive).
    ///
    /// # Errors
    /// A text that is none of these, or a rate that is not positive and finite.
    pub fn parse(text: &str) -> Result<Rate, String> {
        let t = text.trim().to_ascii_lowercase();
        let (num, unit) = t.split_at(t.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(t.len()));
        let v: f64 = num.trim().parse().map_err(|_| format!("`{text}` is not a number with an optional unit"))?;
        let rate = match unit {
            "" | "pps" => Rate::Pps(v),
            "kpps" => Rate::Pps(v * 1e3),
            "mpps" => Rate::Pps(v * 1e6),
            "bps" => Rate::Bps(v),
            "kbps" => Rate::Bps(v * 1e3),
            "mbps" => Rate::Bps(v * 1e6),
            "gbps" => Rate::Bps(v * 1e9),
            other => return Err(format!("unknown unit `{other}`")),
        };
        let (Rate::Pps(x) | Rate::Bps(x)) = rate;
        if !(x.is_finite() && x > 0.0) {
            return Err("a rate must be positive".to_owned());
        }
        Ok(rate)
    }

    /// Packets per second for frames of `mean_len` bytes on average.
    pub fn pps(self, mean_len: f64) -> f64 {
        match self {
            Rate::Pps(p) => p,
            Rate::Bps(b) => b / ((mean_len + 20.0) * 8.0),
        }
    }
}

/// One generator's token bucket.
#[derive(Debug, Clone)]
pub struct Pacer {
    interval_ps: u64,
    /// Depth of the bucket: how far behind the virtual clock may fall before credit is lost.
    depth_ps: u64,
    start_ns: u64,
    /// When the next packet is due, in picoseconds after `start_ns`.
    due_ps: u64,
}

impl Pacer {
    /// A pacer sending `pps` packets per second, allowing bursts of up to `depth` packets when behind.
    pub fn new(pps: f64, depth: usize) -> Pacer {
        let interval_ps = (PS_PER_S / pps).round().max(1.0) as u64;
        Pacer { interval_ps, depth_ps: interval_ps.saturating_mul(depth.max(1) as u64), start_ns: 0, due_ps: 0 }
    }

    /// How many of `want` packets may go at `now_ns` (the caller sends them, or gives them back with
    /// [`Pacer::unsend`]).
    #[inline]
    pub fn take(&mut self, now_ns: u64, want: usize) -> usize {
        if self.start_ns == 0 {
            self.start_ns = now_ns;
        }
        let now_ps = (now_ns - self.start_ns).saturating_mul(1000);
        if now_ps < self.due_ps {
            return 0;
        }
        // Behind by more than the bucket holds: the credit beyond it is lost (a stall is not made up at
        // line rate).
        self.due_ps = self.due_ps.max(now_ps.saturating_sub(self.depth_ps));
        let ready = (now_ps - self.due_ps) / self.interval_ps + 1;
        let n = ready.min(want as u64);
        self.due_ps += n * self.interval_ps;
        n as usize
    }

    /// Gives back credit for `n` packets taken but not sent.
    #[inline]
    pub fn unsend(&mut self, n: usize) {
        self.due_ps = self.due_ps.saturating_sub(n as u64 * self.interval_ps);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_parse_with_units() {
        assert_eq!(Rate::parse("1000"), Ok(Rate::Pps(1000.0)));
        assert_eq!(Rate::parse("1.5Mpps"), Ok(Rate::Pps(1.5e6)));
        assert_eq!(Rate::parse("10Gbps"), Ok(Rate::Bps(1e10)));
        assert_eq!(Rate::parse("64 kbps"), Ok(Rate::Bps(64e3)));
        for bad in ["", "0", "-5", "fast", "10Gb", "nan", "inf"] {
            assert!(Rate::parse(bad).is_err(), "{bad}");
        }
        assert!((Rate::Bps(1e10).pps(64.0) - 14_880_952.38).abs() < 0.01, "10 GbE line rate at 64 B");
    }

    #[test]
    fn a_pacer_that_keeps_up_sends_exactly_the_rate() {
        let mut p = Pacer::new(1e6, 32);
        let mut sent = 0u64;
        // Polled every 3 us for one second of virtual time.
        for t in (1..=1_000_000_000u64).step_by(3_000) {
            sent += p.take(t, 32) as u64;
        }
        assert!((999_990..=1_000_010).contains(&sent), "{sent}");
    }

    #[test]
    fn a_stall_loses_credit_beyond_the_depth_and_unsend_returns_it() {
        let mut p = Pacer::new(1e6, 8);
        assert_eq!(p.take(1, 100), 1);
        assert_eq!(p.take(1_000_001, 100), 9, "1 ms behind, the bucket holds 8 + the one due now");
        assert_eq!(p.take(1_000_001, 100), 0);
        p.unsend(3);
        assert_eq!(p.take(1_000_001, 100), 3);
    }
}
