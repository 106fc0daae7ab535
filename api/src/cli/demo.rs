//! `bb demo`: the main job on embedded defaults — ingest the bundled sample into the local lake and summarise.

use std::process::ExitCode;

use clap::Args;
use ingest::{ingest_file, IngestOptions};

use super::output::{self, OutputFormat};
use super::GlobalArgs;

/// The bundled sample (real Binance candles, see sample/PROVENANCE.md), embedded in the binary.
const SAMPLE: &[(&str, &[u8])] = &[
    ("BTC_USDT-1h.json.gz", include_bytes!("../../../sample/BTC_USDT-1h.json.gz")),
    ("ETH_USDT-1h.json.gz", include_bytes!("../../../sample/ETH_USDT-1h.json.gz")),
    ("BTC_USDT-1m.json.gz", include_bytes!("../../../sample/BTC_USDT-1m.json.gz")),
    ("ETH_USDT-1m.json.gz", include_bytes!("../../../sample/ETH_USDT-1m.json.gz")),
];

#[derive(Debug, Args)]
pub struct DemoArgs {}

pub async fn run(global: &GlobalArgs, _args: DemoArgs) -> anyhow::Result<ExitCode> {
    let lake = global.open_lake()?;
    println!("lake: {}", lake.root());
    let sample_dir = global.data_dir.join("sample");
    std::fs::create_dir_all(&sample_dir)?;
    for (name, bytes) in SAMPLE {
        let path = sample_dir.join(name);
        std::fs::write(&path, bytes)?;
        let r = ingest_file(&lake, &path, &IngestOptions::default(), &|_| {}).await?;
        println!(
            "ingested {name}: {} rows, {} new, {} already present, {} quarantined, {}",
            r.rows_read,
            r.candles.inserted,
            r.candles.already_present(),
            r.quarantined,
            r.gaps
        );
    }
    let ctx = query::session(&lake).await?;
    let summary = query::sql(
        &ctx,
        "SELECT exchange, symbol, timeframe, count(*) AS candles, min(open_time) AS first, max(open_time) AS last, \
         round(avg(close), 2) AS avg_close, round(max(high) / min(low) - 1, 4) AS range_ratio \
         FROM candles GROUP BY exchange, symbol, timeframe ORDER BY symbol, timeframe",
    )
    .await?;
    println!("\ncandles in the lake:");
    output::write(&mut std::io::stdout().lock(), &summary, OutputFormat::Table)?;
    println!("try: bb sql \"SELECT * FROM candles WHERE symbol = 'BTCUSDT' AND timeframe = '1h' ORDER BY open_time DESC LIMIT 5\"");
    Ok(ExitCode::SUCCESS)
}
