//! The percentile spectrum as a hand-written SVG: latency against percentile, the percentile axis
//! log-scaled as 1/(1-p) (0%, 90%, 99%, 99.9%, ...), as HdrHistogram's plotter draws it. The latency axis is
//! linear, or logarithmic when the tail is more than 50 times the median (a linear axis would flatten
//! everything below the tail into the floor).

use crate::hgrm::{in_unit, NS_PER_UNIT, UNIT};
use hdrhistogram::Histogram;
use std::fmt::Write;

const W: f64 = 900.0;
const H: f64 = 560.0;
const LEFT: f64 = 90.0;
const RIGHT: f64 = 50.0;
const TOP: f64 = 60.0;
const BOTTOM: f64 = 70.0;
/// The plot's area.
const PLOT_W: f64 = W - LEFT - RIGHT;
const PLOT_H: f64 = H - TOP - BOTTOM;
const COLORS: [&str; 4] = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd"];

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// `"99.9%"` for decade 3 of the log axis.
fn percentile_label(decade: u32) -> String {
    if decade == 0 {
        return "0%".into();
    }
    let p = 100.0 - 100.0 / 10f64.powi(decade as i32);
    let decimals = decade.saturating_sub(2) as usize;
    format!("{p:.decimals$}%")
}

/// A step of 1, 2 or 5 times a power of ten giving at most about 8 ticks up to `max`.
fn nice_step(max: f64) -> f64 {
    let raw = (max / 8.0).max(1e-9);
    let mag = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0].iter().map(|m| m * mag).find(|s| *s >= raw).unwrap_or(10.0 * mag)
}

/// The points of one histogram: (decades = log10(1/(1-p)), value in [`UNIT`]).
fn points(h: &Histogram<u64>, max_decade: f64) -> Vec<(f64, f64)> {
    let mut pts = Vec::new();
    for v in h.iter_quantiles(5) {
        let q = v.quantile_iterated_to();
        let x = if q < 1.0 { (1.0 / (1.0 - q)).log10().min(max_decade) } else { max_decade };
        pts.push((x, v.value_iterated_to() as f64 / NS_PER_UNIT));
    }
    pts
}

/// The scales of one plot: how many percentile decades the data supports, and the latency axis.
struct Scales {
    /// Decades of the percentile axis (0% to 100 - 10^(2-decades) %).
    decades: u32,
    /// The latency axis is logarithmic, from 10^lo_dec to 10^hi_dec; else linear from 0 to `max_y`
    /// in ticks of `step`.
    log_y: bool,
    lo_dec: f64,
    hi_dec: f64,
    step: f64,
    max_y: f64,
}

impl Scales {
    fn of(series: &[(&str, &Histogram<u64>)]) -> Scales {
        let samples = series.iter().map(|(_, h)| h.len()).max().unwrap_or(0).max(10);
        // Show the percentiles the data can support: about one decade per factor of ten samples.
        let decades = ((samples as f64).log10().ceil() as u32).clamp(2, 7);
        let max_us = series.iter().map(|(_, h)| h.max() as f64 / NS_PER_UNIT).fold(0.0, f64::max).max(0.001);
        let min_us =
            series.iter().map(|(_, h)| h.min().max(1) as f64 / NS_PER_UNIT).fold(f64::MAX, f64::min).min(max_us);
        let p50_us = series.iter().map(|(_, h)| h.value_at_quantile(0.5) as f64 / NS_PER_UNIT).fold(0.0, f64::max);
        let step = nice_step(max_us);
        let lo_dec = min_us.log10().floor();
        Scales {
            decades,
            log_y: max_us > 50.0 * p50_us.max(0.001),
            lo_dec,
            hi_dec: max_us.log10().ceil().max(lo_dec + 1.0),
            step,
            max_y: (max_us / step).ceil() * step,
        }
    }

    /// The x coordinate of `x` decades.
    fn sx(&self, x: f64) -> f64 {
        LEFT + x / f64::from(self.decades) * PLOT_W
    }

    /// The y coordinate of latency `y` (in [`UNIT`]).
    fn sy(&self, y: f64) -> f64 {
        if self.log_y {
            TOP + PLOT_H - (y.max(1e-9).log10() - self.lo_dec) / (self.hi_dec - self.lo_dec) * PLOT_H
        } else {
            TOP + PLOT_H - y / self.max_y * PLOT_H
        }
    }

    /// The latency axis's ticks: (value, labelled). A log axis has 1, 2 and 5 per decade, labelled at 1.
    fn latency_ticks(&self) -> Vec<(f64, bool)> {
        let mut ticks = Vec::new();
        if self.log_y {
            let mut d = self.lo_dec;
            while d <= self.hi_dec {
                ticks.push((10f64.powf(d), true));
                if d < self.hi_dec {
                    ticks.extend([2.0, 5.0].iter().map(|m| (m * 10f64.powf(d), false)));
                }
                d += 1.0;
            }
        } else {
            let mut y = 0.0;
            while y <= self.max_y + self.step / 2.0 {
                ticks.push((y, true));
                y += self.step;
            }
        }
        ticks
    }

    /// A latency tick's label, with as many decimals as the ticks need.
    fn latency_label(&self, y: f64) -> String {
        if self.log_y && y < 1.0 {
            format!("{y:.*}", (-y.log10().floor()) as usize)
        } else if self.step >= 1.0 || self.log_y {
            format!("{y:.0}")
        } else {
            format!("{y:.*}", (-self.step.log10().floor()) as usize)
        }
    }
}

/// An SVG of the percentile spectra of `series` (label, histogram of nanoseconds), titled `title`.
pub fn percentile_spectrum(title: &str, series: &[(&str, &Histogram<u64>)]) -> String {
    let scales = Scales::of(series);
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-family="Helvetica, Arial, sans-serif">"#
    );
    let _ = writeln!(s, r#"<rect width="{W}" height="{H}" fill="white"/>"#);
    let _ = writeln!(
        s,
        r#"<text x="{}" y="32" text-anchor="middle" font-size="18" font-weight="bold">{}</text>"#,
        W / 2.0,
        escape(title)
    );
    percentile_axis(&mut s, &scales);
    latency_axis(&mut s, &scales);
    axes(&mut s, &scales);
    for (i, (label, h)) in series.iter().enumerate() {
        spectrum(&mut s, &scales, i, label, h);
    }
    s.push_str("</svg>\n");
    s
}

/// The percentile axis's grid, ticks and labels.
fn percentile_axis(s: &mut String, scales: &Scales) {
    for d in 0..=scales.decades {
        let x = scales.sx(f64::from(d));
        let _ =
            writeln!(s, r##"<line x1="{x:.1}" y1="{TOP}" x2="{x:.1}" y2="{:.1}" stroke="#e0e0e0"/>"##, TOP + PLOT_H);
        let _ = writeln!(
            s,
            r#"<line x1="{x:.1}" y1="{:.1}" x2="{x:.1}" y2="{:.1}" stroke="black"/>"#,
            TOP + PLOT_H,
            TOP + PLOT_H + 6.0
        );
        let _ = writeln!(
            s,
            r#"<text x="{x:.1}" y="{:.1}" text-anchor="middle" font-size="13">{}</text>"#,
            TOP + PLOT_H + 22.0,
            percentile_label(d)
        );
    }
}

/// The latency axis's grid, ticks and labels.
fn latency_axis(s: &mut String, scales: &Scales) {
    for (y, labelled) in scales.latency_ticks() {
        let py = scales.sy(y);
        let grid = if labelled { "#e0e0e0" } else { "#f2f2f2" };
        let _ =
            writeln!(s, r#"<line x1="{LEFT}" y1="{py:.1}" x2="{:.1}" y2="{py:.1}" stroke="{grid}"/>"#, LEFT + PLOT_W);
        if !labelled {
            continue;
        }
        let _ = writeln!(s, r#"<line x1="{:.1}" y1="{py:.1}" x2="{LEFT}" y2="{py:.1}" stroke="black"/>"#, LEFT - 6.0);
        let _ = writeln!(
            s,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="end" font-size="13">{}</text>"#,
            LEFT - 10.0,
            py + 4.0,
            scales.latency_label(y)
        );
    }
}

/// The two axes and their titles.
fn axes(s: &mut String, scales: &Scales) {
    let _ = writeln!(
        s,
        r#"<polyline points="{LEFT},{TOP} {LEFT},{:.1} {:.1},{:.1}" fill="none" stroke="black" stroke-width="1.5"/>"#,
        TOP + PLOT_H,
        LEFT + PLOT_W,
        TOP + PLOT_H
    );
    let _ = writeln!(
        s,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle" font-size="14">Percentile (log scale of 1/(1-p))</text>"#,
        LEFT + PLOT_W / 2.0,
        H - 18.0
    );
    let _ = writeln!(
        s,
        r#"<text x="22" y="{:.1}" text-anchor="middle" font-size="14" transform="rotate(-90 22 {:.1})">Round-trip latency ({UNIT}{})</text>"#,
        TOP + PLOT_H / 2.0,
        TOP + PLOT_H / 2.0,
        if scales.log_y { ", log scale" } else { "" }
    );
}

/// Series `i`'s spectrum and its line in the legend.
fn spectrum(s: &mut String, scales: &Scales, i: usize, label: &str, h: &Histogram<u64>) {
    let color = COLORS[i % COLORS.len()];
    let max_x = f64::from(scales.decades);
    let pts: Vec<String> =
        points(h, max_x).iter().map(|(x, y)| format!("{:.1},{:.1}", scales.sx(*x), scales.sy(*y))).collect();
    let _ = writeln!(s, r#"<polyline points="{}" fill="none" stroke="{color}" stroke-width="2"/>"#, pts.join(" "));
    let ly = TOP + 20.0 + 22.0 * i as f64;
    let _ = writeln!(
        s,
        r#"<line x1="{:.1}" y1="{ly:.1}" x2="{:.1}" y2="{ly:.1}" stroke="{color}" stroke-width="3"/>"#,
        LEFT + 16.0,
        LEFT + 46.0
    );
    let _ = writeln!(
        s,
        r#"<text x="{:.1}" y="{:.1}" font-size="13">{} (p50 {} {UNIT}, p99.9 {} {UNIT}, {} samples)</text>"#,
        LEFT + 54.0,
        ly + 4.0,
        escape(label),
        in_unit(h.value_at_quantile(0.5) as f64),
        in_unit(h.value_at_quantile(0.999) as f64),
        h.len()
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_and_steps() {
        assert_eq!((0..5).map(percentile_label).collect::<Vec<_>>(), vec!["0%", "90%", "99%", "99.9%", "99.99%"]);
        assert_eq!(nice_step(10.0), 2.0);
        assert_eq!(nice_step(0.8), 0.1);
        assert_eq!(nice_step(37.0), 5.0);
    }

    #[test]
    fn svg_has_axes_ticks_title_and_one_line_per_series() {
        let mut h = Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3).unwrap();
        for v in 1..=10_000u64 {
            h.record(200 + v % 300).unwrap();
        }
        let svg = percentile_spectrum("t <&> t", &[("a", &h), ("b", &h)]);
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        assert!(svg.contains("t &lt;&amp;&gt; t"));
        assert!(svg.contains(">99.99%</text>") && svg.contains(">0%</text>"));
        assert_eq!(svg.matches("stroke-width=\"2\"").count(), 2);
        assert!(svg.contains("Round-trip latency (µs)"));
    }

    #[test]
    fn a_long_tail_switches_the_latency_axis_to_log() {
        let mut h = Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3).unwrap();
        for v in 0..10_000u64 {
            h.record(800 + v % 50).unwrap();
        }
        h.record(20_000_000).unwrap();
        let svg = percentile_spectrum("tail", &[("a", &h)]);
        assert!(svg.contains("log scale)</text>"));
        assert!(svg.contains(">0.1</text>") && svg.contains(">100000</text>"), "{svg}");
    }
}
