//! Bad rows go to quarantine with their reason; good rows land.

use arrow::array::AsArray;

use crate::*;

#[tokio::test]
async fn bad_rows_are_quarantined_with_reasons_and_good_rows_land() {
    let (dir, lake) = temp_lake();
    let text = std::fs::read_to_string(local("ADAUSDT-1m-2025-01.csv")).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    // line numbers below are 1-based file lines (line 1 is the header)
    let edit = |l: &str, col: usize, v: &str| {
        let mut f: Vec<&str> = l.split(',').collect();
        f[col] = v;
        f.join(",")
    };
    lines[2] = edit(&lines[2], 2, "0.80000"); // line 3: high below open/close
    lines[4] = edit(&lines[4], 5, "-5"); // line 5: negative volume
    lines[6] = edit(&lines[6], 0, "1735689930000"); // line 7: 30 s off the minute grid
    lines[8] = lines[7].clone(); // line 9: repeats line 8's time
    lines[10] = edit(&lines[10], 3, "0"); // line 11: zero price
    let p = dir.path().join("ADAUSDT-1m-2025-01.csv");
    std::fs::write(&p, lines.join("\n")).unwrap();
    let r = ingest(&lake, &p).await;
    assert_eq!((r.rows_read, r.candles.inserted, r.quarantined), (20, 15, 5));
    assert_eq!(candles(&lake, "ADAUSDT", "1m").await, 15);
    let q = sql(&lake, "SELECT row_number, reason, raw_row, source_file, symbol FROM quarantine ORDER BY row_number").await;
    let q = &q[0];
    let rows: Vec<i64> = q.column(0).as_primitive::<arrow::datatypes::Int64Type>().values().to_vec();
    assert_eq!(rows, vec![3, 5, 7, 9, 11]);
    let reasons = strings(q, 1);
    assert!(reasons[0].starts_with("high 0.8 is below max(open"), "{}", reasons[0]);
    assert!(reasons[1].starts_with("negative volume -5"), "{}", reasons[1]);
    assert!(reasons[2].contains("2025-01-01T00:05:30Z is not aligned to the 1m timeframe"), "{}", reasons[2]);
    assert!(reasons[3].contains("duplicate open_time") && reasons[3].contains("first at row 8"), "{}", reasons[3]);
    assert!(reasons[4].starts_with("low 0 is not a positive price"), "{}", reasons[4]);
    assert_eq!(strings(q, 2)[1], lines[4], "the raw row is kept as written");
    assert!(strings(q, 3)[0].ends_with("ADAUSDT-1m-2025-01.csv"));
    assert_eq!(strings(q, 4)[0], "ADAUSDT");
    // each refused row leaves its minute missing in the landed series (line 9's own minute included)
    assert_eq!((r.gaps.missing, r.gaps.holes), (5, 5), "{}", r.gaps);
}

#[tokio::test]
async fn real_gaps_are_reported() {
    // PROVENANCE: 28 gaps, the largest 1 day 10:00 between candles (33 missing hours, 2018-02-08/09)
    let (_d, lake) = temp_lake();
    let r = ingest(&lake, &shared("nic-tradingstrategyga/BTC_USDT-1h.feather")).await;
    assert_eq!(r.rows_read, 58_419);
    assert_eq!(r.gaps.holes, 28);
    let (from, to, n) = r.gaps.longest.unwrap();
    assert_eq!(n, 33);
    assert!(ingest::fmt_us(from).starts_with("2018-02-08"), "{}", ingest::fmt_us(from));
    assert!(ingest::fmt_us(to).starts_with("2018-02-09"), "{}", ingest::fmt_us(to));
}
