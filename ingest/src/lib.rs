//! Ingest: readers for the exchange formats we meet (freqtrade JSON and Feather, Binance kline
//! CSV, mapped CSV, Parquet, trade files), row validation with quarantine, trades → candles,
//! resampling, gap reports, and exactly-once landing of candles in the lake.
//!
//! ```no_run
//! # async fn demo() -> ingest::Result<()> {
//! use ingest::{ingest_file, IngestOptions};
//! let lake = lake::Lake::new(lake::LakeConfig::new("./data/lake"))?;
//! let report = ingest_file(&lake, "BTC_USDT-1h.json".as_ref(), &IngestOptions::default(), &|_| {}).await?;
//! println!("{} rows landed, {}", report.candles.inserted, report.gaps);
//! # Ok(()) }
//! ```

mod aggregate;
mod batches;
mod error;
mod format;
mod gaps;
mod ingest;
mod land;
mod naming;
pub mod readers;
mod record;
mod resample;
mod validate;

pub use aggregate::{resample as resample_candles, trades_to_candles};
pub use error::{Error, Result};
pub use format::Format;
pub use gaps::GapReport;
pub use ingest::{ingest_file, ingest_trades, IngestOptions, IngestReport, Stage};
pub use land::Landed;
pub use naming::from_file_name;
pub use readers::ColumnMap;
pub use record::{epoch_to_us, fmt_us, RawCandle, RawTrade, Rows};
pub use resample::{read_market, resample_market, ResampleReport};
pub use validate::Rejected;
