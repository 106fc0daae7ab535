//! Server-side charts: an equity curve as SVG, with its drawdowns (below the running peak) shaded.

use std::fmt::Write;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn money(v: f64) -> String {
    if v.abs() >= 1e6 { format!("{:.2}M", v / 1e6) } else if v.abs() >= 1e4 { format!("{:.1}k", v / 1e3) } else { format!("{v:.2}") }
}

fn day(us: i64) -> String {
    chrono::DateTime::from_timestamp_micros(us).map(|t| t.format("%Y-%m-%d %H:%M").to_string()).unwrap_or_default()
}

/// At most `n` points: each bucket keeps its lowest and its last point, so drawdowns stay visible.
fn thin(points: &[(i64, f64)], n: usize) -> Vec<(i64, f64)> {
    if points.len() <= n || n < 4 {
        return points.to_vec();
    }
    let per = points.len().div_ceil(n / 2);
    let mut out = Vec::with_capacity(n + 2);
    out.push(points[0]);
    for chunk in points[1..].chunks(per) {
        let low = chunk.iter().copied().min_by(|a, b| a.1.total_cmp(&b.1)).expect("chunk not empty");
        let last = *chunk.last().expect("chunk not empty");
        if low.0 < last.0 {
            out.push(low);
        }
        out.push(last);
    }
    out
}

/// The chart of `points` (time µs, equity) in a `width` × `height` SVG: the curve, the running
/// peak's drawdown area shaded red, axes with the value range and the first and last time, the
/// max drawdown in the legend. An empty series draws a "no data" frame.
pub fn equity_chart(points: &[(i64, f64)], title: &str, width: u32, height: u32) -> String {
    let (w, h) = (width as f64, height as f64);
    let (left, right, top, bottom) = (70.0, 20.0, 34.0, 30.0);
    let (pw, ph) = (w - left - right, h - top - bottom);
    let mut svg = String::new();
    let _ = write!(
        svg,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">"##
    );
    let _ = write!(svg, r##"<rect width="100%" height="100%" fill="#ffffff"/><text x="{left}" y="20" font-size="14" fill="#111827">{}</text>"##, esc(title));
    let _ = write!(svg, r##"<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="none" stroke="#d1d5db"/>"##);
    if points.is_empty() {
        let _ = write!(svg, r##"<text x="{}" y="{}" text-anchor="middle" fill="#6b7280">no equity data</text></svg>"##, left + pw / 2.0, top + ph / 2.0);
        return svg;
    }
    let pts = thin(points, (pw as usize).max(2) * 2);
    let (t0, t1) = (pts[0].0, pts[pts.len() - 1].0);
    let lo = pts.iter().map(|p| p.1).fold(f64::INFINITY, f64::min);
    let hi = pts.iter().map(|p| p.1).fold(f64::NEG_INFINITY, f64::max);
    let span = if hi > lo { hi - lo } else { hi.abs().max(1.0) * 0.01 };
    let (lo, hi) = (lo - span * 0.05, hi + span * 0.05);
    let x = |t: i64| if t1 > t0 { left + (t - t0) as f64 / (t1 - t0) as f64 * pw } else { left + pw / 2.0 };
    let y = |v: f64| top + (hi - v) / (hi - lo) * ph;
    // drawdown area: along the running peak, back along the curve
    let mut peak = f64::NEG_INFINITY;
    let peaks: Vec<f64> = pts.iter().map(|p| {
        peak = peak.max(p.1);
        peak
    }).collect();
    let mut area = String::new();
    for (p, pk) in pts.iter().zip(&peaks) {
        let _ = write!(area, "{}{:.1},{:.1}", if area.is_empty() { "M" } else { " L" }, x(p.0), y(*pk));
    }
    for p in pts.iter().rev() {
        let _ = write!(area, " L{:.1},{:.1}", x(p.0), y(p.1));
    }
    let _ = write!(svg, r##"<path d="{area} Z" fill="#dc2626" fill-opacity="0.25" stroke="none"><title>drawdown</title></path>"##);
    let mut line = String::new();
    for p in &pts {
        let _ = write!(line, "{}{:.1},{:.1}", if line.is_empty() { "M" } else { " L" }, x(p.0), y(p.1));
    }
    let _ = write!(svg, r##"<path d="{line}" fill="none" stroke="#2563eb" stroke-width="1.5"/>"##);
    for (v, anchor_y) in [(hi, top + 4.0), (lo, top + ph)] {
        let _ = write!(svg, r##"<text x="{}" y="{anchor_y:.1}" text-anchor="end" fill="#374151">{}</text>"##, left - 6.0, money(v));
    }
    let _ = write!(svg, r##"<text x="{left}" y="{}" fill="#374151">{}</text>"##, h - 10.0, day(t0));
    let _ = write!(svg, r##"<text x="{}" y="{}" text-anchor="end" fill="#374151">{}</text>"##, left + pw, h - 10.0, day(t1));
    let max_dd = points
        .iter()
        .scan(f64::NEG_INFINITY, |pk, p| {
            *pk = pk.max(p.1);
            Some(1.0 - p.1 / *pk)
        })
        .fold(0.0, f64::max);
    let (first, last) = (points[0].1, points[points.len() - 1].1);
    let _ = write!(
        svg,
        r##"<text x="{}" y="20" text-anchor="end" fill="#374151">{} → {} · max drawdown {:.2} %</text></svg>"##,
        left + pw,
        money(first),
        money(last),
        max_dd * 100.0
    );
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_the_curve_and_shades_drawdowns() {
        let pts: Vec<(i64, f64)> = vec![(0, 100.0), (3_600_000_000, 120.0), (7_200_000_000, 90.0), (10_800_000_000, 130.0)];
        let svg = equity_chart(&pts, "BTC <1h>", 400, 200);
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(svg.contains("BTC &lt;1h&gt;"));
        assert!(svg.contains("max drawdown 25.00 %"), "{svg}");
        assert!(svg.contains("<title>drawdown</title>"));
        assert!(equity_chart(&[], "x", 400, 200).contains("no equity data"));
    }

    #[test]
    fn thinning_keeps_the_lows() {
        let mut pts: Vec<(i64, f64)> = (0..10_000).map(|i| (i, 100.0)).collect();
        pts[5_000].1 = 1.0;
        let t = thin(&pts, 200);
        assert!(t.len() <= 204, "{}", t.len());
        assert!(t.iter().any(|p| p.1 == 1.0));
        assert_eq!(t.last(), pts.last());
    }
}
