//! Pacing (`--rate`): a token bucket on a virtual clock. Each packet is due one interval after the one
//! before; a poll may send every packet already due, so a generator that keeps up sends exactly the asked
//! rate whatever its burst size, and one that fell behind (preempted, back-pressured) catches up with at
//! most the bucket's depth at once instead of the whole backlog.

/// Picoseconds per second (intervals are kept in picoseconds so that high rates stay exact).
const PS_PER_S: f64 = 1e12;

/// Bytes a frame takes on an Ethernet wire beyond the FCS-less length `--pkt-len` gives: its FCS (4), the
/// preamble and start delimiter (8) and the gap after it (12). A 60-byte frame (64 with its FCS) takes 84,
/// so 10 Gbit/s carries 14.88 Mpps of them.
pub const WIRE_OVERHEAD: usize = 24;

/// Bytes of an Ethernet FCS: part of [`WIRE_OVERHEAD`], unless the frames counted carry theirs (feth's
/// `--fcs` appends it), when it is in their length already.
pub const FCS_LEN: usize = 4;

/// A rate as asked: packets per second, or bits per second on the wire.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Rate {
    /// Packets per second.
    Pps(f64),
    /// Bits per second on the wire, each frame counted with its FCS, preamble, start delimiter and gap
    /// ([`WIRE_OVERHEAD`] bytes more than its length, as a line rate is).
    Bps(f64),
}

impl Rate {
    /// Parses `1000000`, `1.5Mpps`, `200kpps`, `10Gbps`, `100Mbps`, `64kbps` (case-insensitive).
    ///
    /// # Errors
    /// A text that is none of these, or a rate that is not positive and finite.
    pub fn parse(text: &str) -> Result<Rate, String> {
        let t = text.trim().to_ascii_lowercase();
        // A bare number may have an exponent (1e6); a unit starts at the first letter that is not one.
        let unit_at = if t.parse::<f64>().is_ok() {
            t.len()
        } else {
            t.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(t.len())
        };
        let (num, unit) = t.split_at(unit_at);
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
            Rate::Bps(b) => b / ((mean_len + WIRE_OVERHEAD as f64) * 8.0),
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
    /// When the packet after those already credited is due, in picoseconds after `start_ns`.
    due_ps: u64,
    /// Packets already due at the last clock read and not yet handed out: while there are enough, a
    /// grant reads no clock (at full speed one read serves many bursts).
    credit: u64,
}

impl Pacer {
    /// A pacer sending `pps` packets per second, allowing bursts of up to `depth` packets when behind.
    pub fn new(pps: f64, depth: usize) -> Pacer {
        let interval_ps = (PS_PER_S / pps).round().max(1.0) as u64;
        let depth_ps = interval_ps.saturating_mul(depth.max(1) as u64);
        Pacer { interval_ps, depth_ps, start_ns: 0, due_ps: 0, credit: 0 }
    }

    /// How many of `want` packets may go now; `now_ns` is read only when the credit in hand does not cover
    /// them. The caller sends them, or gives them back with [`Pacer::unsend`].
    #[inline]
    pub fn take(&mut self, want: usize, now_ns: impl FnOnce() -> u64) -> usize {
        let want = want as u64;
        if self.credit < want {
            self.credit += self.due_now(now_ns());
        }
        let n = self.credit.min(want);
        self.credit -= n;
        n as usize
    }

    /// Credits every packet due at `now_ns` (one division per clock read).
    #[inline]
    fn due_now(&mut self, now_ns: u64) -> u64 {
        if self.start_ns == 0 {
            self.start_ns = now_ns;
        }
        let now_ps = now_ns.saturating_sub(self.start_ns).saturating_mul(1000);
        if now_ps < self.due_ps {
            return 0;
        }
        // Behind by more than the bucket holds: the credit beyond it is lost (a stall is not made up at
        // line rate).
        let floor = now_ps.saturating_sub(self.depth_ps.saturating_sub(self.credit * self.interval_ps));
        self.due_ps = self.due_ps.max(floor);
        let ready = (now_ps - self.due_ps) / self.interval_ps + 1;
        self.due_ps += ready * self.interval_ps;
        ready
    }

    /// Gives back credit for `n` packets taken but not sent.
    #[inline]
    pub fn unsend(&mut self, n: usize) {
        self.credit += n as u64;
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
        assert_eq!(Rate::parse("1e6"), Ok(Rate::Pps(1e6)));
        for bad in ["", "0", "-5", "fast", "10Gb", "nan", "inf"] {
            assert!(Rate::parse(bad).is_err(), "{bad}");
        }
        assert!((Rate::Bps(1e10).pps(60.0) - 14_880_952.38).abs() < 0.01, "10 GbE line rate at 64 B with FCS");
        assert!((Rate::Bps(1e10).pps(1514.0) - 812_743.82).abs() < 0.01, "and at 1518 B with FCS");
    }

    #[test]
    fn a_pacer_that_keeps_up_sends_exactly_the_rate() {
        let mut p = Pacer::new(1e6, 32);
        let mut sent = 0u64;
        // Polled every 3 us for one second of virtual time.
        for t in (1..=1_000_000_000u64).step_by(3_000) {
            sent += p.take(32, || t) as u64;
        }
        assert!((999_990..=1_000_010).contains(&sent), "{sent}");
    }

    #[test]
    fn a_stall_loses_credit_beyond_the_depth_and_unsend_returns_it() {
        let mut p = Pacer::new(1e6, 8);
        assert_eq!(p.take(100, || 1), 1);
        assert_eq!(p.take(100, || 1_000_001), 9, "1 ms behind, the bucket holds 8 + the one due now");
        assert_eq!(p.take(100, || 1_000_001), 0);
        p.unsend(3);
        assert_eq!(p.take(2, || panic!("credit in hand needs no clock")), 2);
        assert_eq!(p.take(100, || 1_000_001), 1);
    }

    #[test]
    fn credit_in_hand_serves_bursts_without_a_clock_read_and_never_exceeds_the_depth() {
        let mut p = Pacer::new(1e6, 100);
        assert_eq!(p.take(1, || 1), 1);
        // 1 s later: far behind, the bucket gives its depth (+ the one due now), burst by burst.
        assert_eq!(p.take(32, || 1_000_000_001), 32);
        assert_eq!(p.take(32, || panic!("credit covers it")), 32);
        assert_eq!(p.take(32, || panic!("credit covers it")), 32);
        assert_eq!(p.take(32, || 1_000_000_001), 5, "101 in all, then nothing more is due");
        assert_eq!(p.take(32, || 1_000_000_001), 0);
    }
}
