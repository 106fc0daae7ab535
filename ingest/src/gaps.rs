//! Gap report: candles missing inside an ingested span.

use lake::Timeframe;

use crate::record::fmt_us;

/// Missing candles between the first and last candle of a sorted series.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GapReport {
    /// Candles missing in total.
    pub missing: u64,
    /// Number of holes (runs of missing candles).
    pub holes: u64,
    /// The longest hole: open time of its first and last missing candle (µs), and its length.
    pub longest: Option<(i64, i64, u64)>,
}

impl GapReport {
    /// Finds the holes in `open_times_us` (sorted ascending, no duplicates).
    pub fn of(open_times_us: impl IntoIterator<Item = i64>, timeframe: Timeframe) -> Self {
        let step = timeframe.millis() * 1_000;
        let mut report = GapReport::default();
        let mut prev: Option<i64> = None;
        for t in open_times_us {
            if let Some(p) = prev {
                let missing = ((t - p) / step - 1).max(0) as u64;
                if missing > 0 {
                    report.missing += missing;
                    report.holes += 1;
                    if report.longest.is_none_or(|(_, _, n)| missing > n) {
                        report.longest = Some((p + step, t - step, missing));
                    }
                }
            }
            prev = Some(t);
        }
        report
    }
}

impl std::fmt::Display for GapReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.longest {
            None => write!(f, "no gaps"),
            Some((from, to, n)) => write!(
                f,
                "{} missing candles in {} gap(s), longest {} candles from {} to {}",
                self.missing,
                self.holes,
                n,
                fmt_us(from),
                fmt_us(to)
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_holes_and_finds_the_longest() {
        let tf = Timeframe::parse("1m").unwrap();
        let m = |i: i64| i * 60_000_000;
        let r = GapReport::of([m(0), m(1), m(3), m(4), m(9), m(10)], tf);
        assert_eq!(r.missing, 1 + 4);
        assert_eq!(r.holes, 2);
        assert_eq!(r.longest, Some((m(5), m(8), 4)));
        assert_eq!(GapReport::of([m(0), m(1)], tf).to_string(), "no gaps");
    }
}
