//! The lake's tables: their names, fixed Arrow schemas, partition columns and natural keys.

use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use deltalake::kernel::{DataType as DeltaType, StructField};

use crate::error::{Error, Result};

/// A column kind, mapped to both an Arrow and a Delta type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Utf8,
    Float64,
    Int64,
    /// Microsecond timestamp in UTC (Delta's `timestamp`).
    Timestamp,
}

/// One column of a lake table.
#[derive(Debug, Clone, Copy)]
pub struct Column {
    pub name: &'static str,
    pub kind: Kind,
    pub nullable: bool,
}

const fn col(name: &'static str, kind: Kind, nullable: bool) -> Column {
    Column { name, kind, nullable }
}

/// A string column as plain UTF-8: Delta scans may hand out string views (or dictionaries), and
/// readers want one type.
pub fn utf8(a: &arrow::array::ArrayRef) -> std::result::Result<arrow::array::StringArray, arrow::error::ArrowError> {
    use arrow::array::AsArray;
    Ok(arrow::compute::cast(a, &DataType::Utf8)?.as_string::<i32>().clone())
}

/// The Arrow type of lake timestamps: microseconds, UTC.
pub fn timestamp_type() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
}

impl Kind {
    fn arrow(self) -> DataType {
        match self {
            Kind::Utf8 => DataType::Utf8,
            Kind::Float64 => DataType::Float64,
            Kind::Int64 => DataType::Int64,
            Kind::Timestamp => timestamp_type(),
        }
    }
    fn delta(self) -> DeltaType {
        match self {
            Kind::Utf8 => DeltaType::STRING,
            Kind::Float64 => DeltaType::DOUBLE,
            Kind::Int64 => DeltaType::LONG,
            Kind::Timestamp => DeltaType::TIMESTAMP,
        }
    }
}

const CANDLES: &[Column] = &[
    col("exchange", Kind::Utf8, false),
    col("symbol", Kind::Utf8, false),
    col("timeframe", Kind::Utf8, false),
    col("open_time", Kind::Timestamp, false),
    col("open", Kind::Float64, false),
    col("high", Kind::Float64, false),
    col("low", Kind::Float64, false),
    col("close", Kind::Float64, false),
    col("volume", Kind::Float64, false),
    col("trade_count", Kind::Int64, true),
    col("quote_volume", Kind::Float64, true),
];

const TRADES_RAW: &[Column] = &[
    col("exchange", Kind::Utf8, false),
    col("symbol", Kind::Utf8, false),
    col("trade_time", Kind::Timestamp, false),
    col("trade_id", Kind::Utf8, false),
    col("price", Kind::Float64, false),
    col("qty", Kind::Float64, false),
    col("side", Kind::Utf8, true),
    col("source_file", Kind::Utf8, false),
];

const QUARANTINE: &[Column] = &[
    col("source_file", Kind::Utf8, false),
    col("row_number", Kind::Int64, false),
    col("raw_row", Kind::Utf8, false),
    col("reason", Kind::Utf8, false),
    col("ingested_at", Kind::Timestamp, false),
    col("exchange", Kind::Utf8, true),
    col("symbol", Kind::Utf8, true),
    col("timeframe", Kind::Utf8, true),
];

const BACKTEST_METRICS: &[Column] = &[
    col("run_id", Kind::Utf8, false),
    col("combo", Kind::Int64, false),
    col("params", Kind::Utf8, false),
    col("exchange", Kind::Utf8, false),
    col("symbol", Kind::Utf8, false),
    col("timeframe", Kind::Utf8, false),
    col("start_time", Kind::Timestamp, true),
    col("end_time", Kind::Timestamp, true),
    col("candles_version", Kind::Int64, true),
    col("bars", Kind::Int64, false),
    col("created_at", Kind::Timestamp, false),
    col("total_return_pct", Kind::Float64, false),
    col("cagr_pct", Kind::Float64, false),
    col("volatility_ann_pct", Kind::Float64, false),
    col("sharpe", Kind::Float64, false),
    col("sortino", Kind::Float64, false),
    col("max_drawdown_pct", Kind::Float64, false),
    col("calmar", Kind::Float64, false),
    col("trades", Kind::Int64, false),
    col("win_rate_pct", Kind::Float64, false),
    col("profit_factor", Kind::Float64, true),
    col("avg_trade_return_pct", Kind::Float64, true),
    col("best_trade_pct", Kind::Float64, true),
    col("worst_trade_pct", Kind::Float64, true),
    col("avg_bars_held", Kind::Float64, true),
    col("exposure_pct", Kind::Float64, false),
    col("sqn", Kind::Float64, true),
    col("fees_paid", Kind::Float64, false),
    col("buy_and_hold_return_pct", Kind::Float64, false),
];

const BACKTEST_TRADES: &[Column] = &[
    col("run_id", Kind::Utf8, false),
    col("combo", Kind::Int64, false),
    col("trade_no", Kind::Int64, false),
    col("side", Kind::Utf8, false),
    col("entry_time", Kind::Timestamp, false),
    col("entry_price", Kind::Float64, false),
    col("exit_time", Kind::Timestamp, false),
    col("exit_price", Kind::Float64, false),
    col("qty", Kind::Float64, false),
    col("fees", Kind::Float64, false),
    col("pnl", Kind::Float64, false),
    col("return_pct", Kind::Float64, false),
    col("exit_reason", Kind::Utf8, false),
    col("bars_held", Kind::Int64, false),
];

const BACKTEST_EQUITY: &[Column] = &[
    col("run_id", Kind::Utf8, false),
    col("combo", Kind::Int64, false),
    col("equity_time", Kind::Timestamp, false),
    col("equity", Kind::Float64, false),
];

const PAPER_FILLS: &[Column] = &[
    col("run_id", Kind::Utf8, false),
    col("seq", Kind::Int64, false),
    col("bar_time", Kind::Timestamp, false),
    col("action", Kind::Utf8, false),
    col("side", Kind::Utf8, false),
    col("price", Kind::Float64, false),
    col("qty", Kind::Float64, false),
    col("fee", Kind::Float64, false),
    col("exit_reason", Kind::Utf8, true),
    col("pnl", Kind::Float64, true),
    col("cash", Kind::Float64, false),
];

const PAPER_EQUITY: &[Column] = &[
    col("run_id", Kind::Utf8, false),
    col("equity_time", Kind::Timestamp, false),
    col("equity", Kind::Float64, false),
];

const AUDIT_LOG: &[Column] = &[
    col("seq", Kind::Int64, false),
    col("actor", Kind::Utf8, true),
    col("action", Kind::Utf8, false),
    col("entity_type", Kind::Utf8, false),
    col("entity_id", Kind::Utf8, false),
    col("before_json", Kind::Utf8, true),
    col("after_json", Kind::Utf8, true),
    col("request_id", Kind::Utf8, true),
    col("created_at", Kind::Timestamp, false),
    col("prev_hash", Kind::Utf8, false),
    col("hash", Kind::Utf8, false),
];

/// A table the lake defines. Each is the Delta folder `<lake uri>/<name>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LakeTable {
    /// OHLCV candles, one row per (exchange, symbol, timeframe, open_time).
    Candles,
    /// Individual trades as ingested, one row per (exchange, symbol, trade_time, trade_id).
    TradesRaw,
    /// Rows that failed validation, with the reason.
    Quarantine,
    /// One row per backtest combination: its parameters, the candles version read, every metric.
    BacktestMetrics,
    /// Closed trades of each backtest combination.
    BacktestTrades,
    /// Per-bar equity of each backtest combination (single backtests, or sweeps when asked).
    BacktestEquity,
    /// Fills of paper-trading runs (flushed from Postgres), partitioned by run.
    PaperFills,
    /// Per-bar equity of paper-trading runs (flushed from Postgres), partitioned by run.
    PaperEquity,
    /// The audit trail's hash chain, mirrored from Postgres in order.
    AuditLog,
}

impl LakeTable {
    /// Every table, in listing order.
    pub const ALL: [LakeTable; 9] = [
        LakeTable::Candles,
        LakeTable::TradesRaw,
        LakeTable::Quarantine,
        LakeTable::BacktestMetrics,
        LakeTable::BacktestTrades,
        LakeTable::BacktestEquity,
        LakeTable::PaperFills,
        LakeTable::PaperEquity,
        LakeTable::AuditLog,
    ];

    /// The table's name (and folder name).
    pub fn name(self) -> &'static str {
        match self {
            LakeTable::Candles => "candles",
            LakeTable::TradesRaw => "trades_raw",
            LakeTable::Quarantine => "quarantine",
            LakeTable::BacktestMetrics => "backtest_metrics",
            LakeTable::BacktestTrades => "backtest_trades",
            LakeTable::BacktestEquity => "backtest_equity",
            LakeTable::PaperFills => "paper_fills",
            LakeTable::PaperEquity => "paper_equity",
            LakeTable::AuditLog => "audit_log",
        }
    }

    /// Looks a table up by name.
    pub fn from_name(name: &str) -> Result<Self> {
        Self::ALL.into_iter().find(|t| t.name() == name).ok_or_else(|| Error::UnknownTable(name.into()))
    }

    /// The table's columns, in order.
    pub fn columns(self) -> &'static [Column] {
        match self {
            LakeTable::Candles => CANDLES,
            LakeTable::TradesRaw => TRADES_RAW,
            LakeTable::Quarantine => QUARANTINE,
            LakeTable::BacktestMetrics => BACKTEST_METRICS,
            LakeTable::BacktestTrades => BACKTEST_TRADES,
            LakeTable::BacktestEquity => BACKTEST_EQUITY,
            LakeTable::PaperFills => PAPER_FILLS,
            LakeTable::PaperEquity => PAPER_EQUITY,
            LakeTable::AuditLog => AUDIT_LOG,
        }
    }

    /// The fixed Arrow schema that batches written to this table must have.
    pub fn schema(self) -> SchemaRef {
        let fields: Vec<Field> =
            self.columns().iter().map(|c| Field::new(c.name, c.kind.arrow(), c.nullable)).collect();
        Arc::new(Schema::new(fields))
    }

    /// The Delta columns used when the table is created.
    pub fn delta_columns(self) -> Vec<StructField> {
        self.columns().iter().map(|c| StructField::new(c.name, c.kind.delta(), c.nullable)).collect()
    }

    /// Hive-style partition columns.
    pub fn partition_columns(self) -> &'static [&'static str] {
        match self {
            LakeTable::Candles => &["exchange", "symbol", "timeframe"],
            LakeTable::TradesRaw => &["exchange", "symbol"],
            LakeTable::Quarantine => &[],
            LakeTable::BacktestMetrics | LakeTable::BacktestTrades | LakeTable::BacktestEquity => &["run_id"],
            LakeTable::PaperFills | LakeTable::PaperEquity => &["run_id"],
            LakeTable::AuditLog => &[],
        }
    }

    /// The columns that identify a row; merges upsert on them. Empty for append-only tables.
    pub fn natural_key(self) -> &'static [&'static str] {
        match self {
            LakeTable::Candles => &["exchange", "symbol", "timeframe", "open_time"],
            LakeTable::TradesRaw => &["exchange", "symbol", "trade_time", "trade_id"],
            LakeTable::Quarantine => &[],
            LakeTable::BacktestMetrics => &["run_id", "combo"],
            LakeTable::BacktestTrades => &["run_id", "combo", "trade_no"],
            LakeTable::BacktestEquity => &["run_id", "combo", "equity_time"],
            LakeTable::PaperFills => &["run_id", "seq"],
            LakeTable::PaperEquity => &["run_id", "equity_time"],
            LakeTable::AuditLog => &["seq"],
        }
    }
}

impl std::fmt::Display for LakeTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_partitions_are_columns_of_their_table() {
        for t in LakeTable::ALL {
            let schema = t.schema();
            for c in t.partition_columns().iter().chain(t.natural_key()) {
                assert!(schema.field_with_name(c).is_ok(), "{t}: {c}");
            }
            assert_eq!(LakeTable::from_name(t.name()).unwrap(), t);
        }
    }

    #[test]
    fn no_column_is_named_after_an_sql_keyword_that_needs_quoting() {
        for t in LakeTable::ALL {
            for c in t.columns() {
                assert!(!["interval", "time", "timestamp", "date", "count"].contains(&c.name), "{t}.{}", c.name);
            }
        }
    }
}
