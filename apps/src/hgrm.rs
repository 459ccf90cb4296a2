//! The `.hgrm` percentile distribution text, as HdrHistogram's `outputPercentileDistribution` writes it
//! (5 ticks per half distance), which HdrHistogram's plotter and wrk2-style tools read.

use hdrhistogram::Histogram;
use std::fmt::Write;

/// The unit `pktloop latency`'s table, `.hgrm` file and plot all give latency in: microseconds, the
/// `.hgrm` convention (HdrHistogram's plotter and wrk2 assume it), so the three can be read side by side.
pub const UNIT: &str = "µs";
/// The unit's name, as the `.hgrm` footer states it (the format has no unit field of its own).
pub const UNIT_NAME: &str = "microseconds";
/// Nanoseconds (what the histograms record) per [`UNIT`].
pub const NS_PER_UNIT: f64 = 1000.0;

/// `ns` nanoseconds in [`UNIT`], three decimals so no nanosecond is lost.
pub fn in_unit(ns: f64) -> String {
    format!("{:.3}", ns / NS_PER_UNIT)
}

/// The distribution of `h` (nanoseconds recorded) in [`UNIT`], the unit named in a last footer line.
pub fn percentile_distribution(h: &Histogram<u64>) -> String {
    let scale = NS_PER_UNIT;
    let digits = usize::from(h.sigfig());
    let mut out = String::new();
    let _ = writeln!(out, "{:>12} {:>14} {:>10} {:>14}\n", "Value", "Percentile", "TotalCount", "1/(1-Percentile)");
    let mut total = 0u64;
    for v in h.iter_quantiles(5) {
        total += v.count_since_last_iteration();
        let value = v.value_iterated_to() as f64 / scale;
        let q = v.quantile_iterated_to();
        if q < 1.0 {
            let _ = writeln!(out, "{value:>12.digits$} {q:>2.12} {total:>10} {:>14.2}", 1.0 / (1.0 - q));
        } else {
            let _ = writeln!(out, "{value:>12.digits$} {q:>2.12} {total:>10}");
        }
    }
    let (mean, sd, max) = (h.mean() / scale, h.stdev() / scale, h.max() as f64 / scale);
    let _ = writeln!(out, "#[Mean    = {mean:>12.digits$}, StdDeviation   = {sd:>12.digits$}]");
    let _ = writeln!(out, "#[Max     = {max:>12.digits$}, Total count    = {:>12}]", h.len());
    // Sub-buckets: the smallest power of two covering 2 x 10^sigfig, as HdrHistogram sizes them.
    let sub_buckets = (2 * 10u64.pow(u32::from(h.sigfig()))).next_power_of_two();
    let _ = writeln!(out, "#[Buckets = {:>12}, SubBuckets     = {sub_buckets:>12}]", h.buckets());
    // A comment line: plotters skip lines starting with '#', so the file stays readable by them.
    let _ = writeln!(out, "#[Unit    = {UNIT_NAME}]");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_matches_hdrhistogram() {
        let mut h = Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3).unwrap();
        for v in 1..=1000u64 {
            h.record(v * 1000).unwrap();
        }
        let text = percentile_distribution(&h);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "       Value     Percentile TotalCount 1/(1-Percentile)");
        assert_eq!(lines[1], "");
        assert_eq!(lines[2], "       1.000 0.000000000000          1           1.00");
        let last_value = lines.iter().rev().find(|l| !l.starts_with('#')).unwrap();
        assert!(last_value.starts_with("    1000.447 1.000000000000       1000"), "{last_value}");
        assert!(lines.iter().any(|l| l.starts_with("#[Mean    =      500.")), "{text}");
        assert!(text.contains("#[Max     =     1000.447, Total count    =         1000]"), "{text}");
        assert!(text.contains("SubBuckets     =         2048]"));
        assert_eq!(lines.last(), Some(&"#[Unit    = microseconds]"));
        // Every data row parses as four (or, last, three) numbers with rising percentiles.
        let mut last_q = -1.0;
        for l in &lines[2..lines.len() - 4] {
            let cols: Vec<f64> = l.split_whitespace().map(|c| c.parse().unwrap()).collect();
            assert!(cols.len() == 4 || cols.len() == 3);
            assert!(cols[1] >= last_q);
            last_q = cols[1];
        }
    }
}
