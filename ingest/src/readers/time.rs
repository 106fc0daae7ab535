//! Reading times written as epoch numbers (s, ms, µs, ns) or date-time strings (taken as UTC).

use chrono::{DateTime, NaiveDate, NaiveDateTime};

use crate::record::epoch_to_us;

/// Parses a time cell to epoch microseconds.
pub fn parse_time(s: &str) -> Option<i64> {
    let s = s.trim();
    if let Ok(v) = s.parse::<i64>() {
        return Some(epoch_to_us(v));
    }
    if let Ok(v) = s.parse::<f64>() {
        // Fractional epoch seconds (e.g. 1735689600.25); larger magnitudes are integers written as floats.
        if v.is_finite() && v.fract() != 0.0 && v.abs() < 1e11 {
            return Some((v * 1e6).round() as i64);
        }
        if v.is_finite() && v.fract() == 0.0 && v.abs() < 9e18 {
            return Some(epoch_to_us(v as i64));
        }
        return None;
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.timestamp_micros());
    }
    for fmt in ["%Y-%m-%d %H:%M:%S%.f%:z", "%Y-%m-%d %H:%M:%S%.f%z", "%Y-%m-%dT%H:%M:%S%.f%z"] {
        if let Ok(t) = DateTime::parse_from_str(s, fmt) {
            return Some(t.timestamp_micros());
        }
    }
    for fmt in ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M", "%Y/%m/%d %H:%M:%S%.f"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, fmt) {
            return Some(t.and_utc().timestamp_micros());
        }
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d").ok().and_then(|d| d.and_hms_opt(0, 0, 0)).map(|t| t.and_utc().timestamp_micros())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_numbers_and_date_strings() {
        let us = 1_735_689_600_000_000;
        for s in [
            "1735689600000",
            "1735689600000000",
            "1735689600",
            "2025-01-01T00:00:00Z",
            "2025-01-01 00:00:00+00:00",
            "2025-01-01 00:00:00",
            "2025-01-01",
            "1735689600000.0",
        ] {
            assert_eq!(parse_time(s), Some(us), "{s}");
        }
        assert_eq!(parse_time("1735689600.5"), Some(us + 500_000));
        assert_eq!(parse_time("yesterday"), None);
    }
}
