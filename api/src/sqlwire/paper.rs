//! `paper_trades`: paper-trading run metadata from Postgres for the SQL endpoint, read afresh at
//! every scan (one user's runs, or everyone's for an admin); `paper_fills` and `paper_equity` are
//! narrowed to these runs the way the backtest tables are to `backtest_runs`.

use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use async_trait::async_trait;
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::{DataFusionError, Result};
use datafusion::datasource::{MemTable, TableType};
use datafusion::logical_expr::Expr;
use datafusion::physical_plan::ExecutionPlan;
use sqlx::PgPool;
use uuid::Uuid;

use crate::services::paper_trades::{runs, PaperRun};

fn ts() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
}

/// The columns of `paper_trades`.
pub fn paper_schema() -> SchemaRef {
    let f = |name: &str, t: DataType, null: bool| Field::new(name, t, null);
    Arc::new(Schema::new(vec![
        f("run_id", DataType::Utf8, false),
        f("user_id", DataType::Utf8, false),
        f("strategy_id", DataType::Utf8, false),
        f("strategy_version_id", DataType::Utf8, false),
        f("status", DataType::Utf8, false),
        f("exchange", DataType::Utf8, false),
        f("symbol", DataType::Utf8, false),
        f("timeframe", DataType::Utf8, false),
        f("capital", DataType::Float64, false),
        f("fill_policy", DataType::Utf8, false),
        f("params", DataType::Utf8, false),
        f("equity", DataType::Float64, true),
        f("return_pct", DataType::Float64, true),
        f("max_drawdown_pct", DataType::Float64, true),
        f("trades", DataType::Int64, true),
        f("bars_traded", DataType::Int64, false),
        f("last_bar_time", ts(), true),
        f("created_at", ts(), false),
    ]))
}

/// `paper_trades` of one user (`Some`) or everyone (`None`).
#[derive(Debug)]
pub struct PaperRunsTable {
    pub pool: PgPool,
    pub user: Option<Uuid>,
}

impl PaperRunsTable {
    async fn batch(&self) -> Result<RecordBatch, sqlx::Error> {
        let rows = runs::list(&self.pool, self.user, None, None, i64::MAX).await?;
        let s = |f: &dyn Fn(&PaperRun) -> Option<String>| -> ArrayRef { Arc::new(rows.iter().map(f).collect::<StringArray>()) };
        let i = |f: &dyn Fn(&PaperRun) -> Option<i64>| -> ArrayRef { Arc::new(rows.iter().map(f).collect::<Int64Array>()) };
        let x = |f: &dyn Fn(&PaperRun) -> Option<f64>| -> ArrayRef { Arc::new(rows.iter().map(f).collect::<Float64Array>()) };
        let t = |f: &dyn Fn(&PaperRun) -> Option<chrono::DateTime<chrono::Utc>>| -> ArrayRef {
            Arc::new(rows.iter().map(|r| f(r).map(|t| t.timestamp_micros())).collect::<TimestampMicrosecondArray>().with_timezone("UTC"))
        };
        let snap = |name: &'static str| move |r: &PaperRun| r.performance_snapshot.as_ref().and_then(|m| m[name].as_f64());
        let columns = vec![
            s(&|r| Some(r.id.to_string())),
            s(&|r| Some(r.user_id.to_string())),
            s(&|r| Some(r.strategy_id.to_string())),
            s(&|r| Some(r.strategy_version_id.to_string())),
            s(&|r| Some(r.status.to_string())),
            s(&|r| Some(r.schedule.exchange.clone())),
            s(&|r| Some(r.schedule.symbol.clone())),
            s(&|r| Some(r.schedule.timeframe.to_string())),
            x(&|r| Some(r.schedule.capital)),
            s(&|r| Some(r.schedule.fill_policy.to_string())),
            s(&|r| serde_json::to_string(&r.schedule.params).ok()),
            x(&snap("equity")),
            x(&snap("returnPct")),
            x(&snap("maxDrawdownPct")),
            i(&|r| r.performance_snapshot.as_ref().and_then(|m| m["trades"].as_i64())),
            i(&|r| Some(r.bars_traded)),
            t(&|r| r.last_bar_time),
            t(&|r| Some(r.created_at)),
        ];
        RecordBatch::try_new(paper_schema(), columns).map_err(|e| sqlx::Error::Decode(Box::new(e)))
    }
}

#[async_trait]
impl TableProvider for PaperRunsTable {
    fn schema(&self) -> SchemaRef {
        paper_schema()
    }
    fn table_type(&self) -> TableType {
        TableType::Base
    }
    async fn scan(&self, state: &dyn Session, projection: Option<&Vec<usize>>, filters: &[Expr], limit: Option<usize>) -> Result<Arc<dyn ExecutionPlan>> {
        let batch = self.batch().await.map_err(|e| DataFusionError::External(Box::new(e)))?;
        MemTable::try_new(paper_schema(), vec![vec![batch]])?.scan(state, projection, filters, limit).await
    }
}
