//! One authenticated connection's DataFusion context: the lake's candles, the backtest and paper
//! tables narrowed to the caller's runs (admins see all), `backtest_runs` and `paper_trades` tables
//! of run metadata read from Postgres at each query, every indicator function, the pg_catalog that clients inspect,
//! and the query limits.

use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use async_trait::async_trait;
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::{DataFusionError, Result};
use datafusion::datasource::{provider_as_source, MemTable, TableType, ViewTable};
use datafusion::logical_expr::expr_fn::in_subquery;
use datafusion::logical_expr::{col, Expr, LogicalPlanBuilder};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::prelude::SessionContext;
use datafusion_postgres::datafusion_pg_catalog::pg_catalog::context::EmptyContextProvider;
use datafusion_postgres::datafusion_pg_catalog::pg_catalog::setup_pg_catalog;
use lake::{LakeTable, LiveTable};
use sqlx::PgPool;
use uuid::Uuid;

use super::guard::{Limits, LimitsRule};
use super::paper::PaperRunsTable;
use crate::services::backtests::runs::RunRecord;

/// The database name clients connect to (and the DataFusion catalog of the tables).
pub const DATABASE: &str = "blockbuilders";

fn ts() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
}

/// The columns of `backtest_runs`.
pub fn runs_schema() -> SchemaRef {
    let f = |name: &str, t: DataType, null: bool| Field::new(name, t, null);
    Arc::new(Schema::new(vec![
        f("run_id", DataType::Utf8, false),
        f("user_id", DataType::Utf8, false),
        f("owner_email", DataType::Utf8, true),
        f("strategy_id", DataType::Utf8, false),
        f("strategy_title", DataType::Utf8, false),
        f("strategy_version", DataType::Int64, false),
        f("status", DataType::Utf8, false),
        f("exchange", DataType::Utf8, false),
        f("symbol", DataType::Utf8, false),
        f("timeframe", DataType::Utf8, false),
        f("range_start", ts(), false),
        f("range_end", ts(), false),
        f("initial_capital", DataType::Float64, false),
        f("fee_rate", DataType::Float64, false),
        f("slippage", DataType::Float64, false),
        f("fill_policy", DataType::Utf8, false),
        f("params", DataType::Utf8, false),
        f("combinations", DataType::Int64, false),
        f("best_combo", DataType::Int64, true),
        f("total_return_pct", DataType::Float64, true),
        f("sharpe", DataType::Float64, true),
        f("max_drawdown_pct", DataType::Float64, true),
        f("trades", DataType::Float64, true),
        f("metrics", DataType::Utf8, true),
        f("anomalies", DataType::Utf8, true),
        f("candles_version", DataType::Int64, true),
        f("error", DataType::Utf8, true),
        f("created_at", ts(), false),
        f("started_at", ts(), true),
        f("finished_at", ts(), true),
    ]))
}

/// `backtest_runs`: run metadata from Postgres, read afresh at every scan; one user's runs, or
/// everyone's for an admin (`user: None`).
#[derive(Debug)]
pub struct RunsTable {
    pool: PgPool,
    user: Option<Uuid>,
}

impl RunsTable {
    async fn batch(&self) -> Result<RecordBatch, sqlx::Error> {
        let rows = crate::services::backtests::runs::records(&self.pool, self.user).await?;
        let s = |f: &dyn Fn(&RunRecord) -> Option<String>| -> ArrayRef { Arc::new(rows.iter().map(f).collect::<StringArray>()) };
        let i = |f: &dyn Fn(&RunRecord) -> Option<i64>| -> ArrayRef { Arc::new(rows.iter().map(f).collect::<Int64Array>()) };
        let x = |f: &dyn Fn(&RunRecord) -> Option<f64>| -> ArrayRef { Arc::new(rows.iter().map(f).collect::<Float64Array>()) };
        let t = |f: &dyn Fn(&RunRecord) -> Option<chrono::DateTime<chrono::Utc>>| -> ArrayRef {
            Arc::new(rows.iter().map(|r| f(r).map(|t| t.timestamp_micros())).collect::<TimestampMicrosecondArray>().with_timezone("UTC"))
        };
        let metric = |name: &'static str| move |r: &RunRecord| r.run.metrics.as_ref().and_then(|m| m[name].as_f64());
        let json = |v: &Option<serde_json::Value>| v.as_ref().map(|v| v.to_string());
        let columns = vec![
            s(&|r| Some(r.run.id.to_string())),
            s(&|r| Some(r.run.user_id.to_string())),
            s(&|r| r.owner_email.clone()),
            s(&|r| Some(r.run.strategy_id.to_string())),
            s(&|r| Some(r.strategy_title.clone())),
            i(&|r| Some(r.strategy_version as i64)),
            s(&|r| Some(r.run.status.to_string())),
            s(&|r| Some(r.run.exchange.clone())),
            s(&|r| Some(r.run.symbol.clone())),
            s(&|r| Some(r.run.timeframe.to_string())),
            t(&|r| Some(r.run.range_start)),
            t(&|r| Some(r.run.range_end)),
            x(&|r| Some(r.run.initial_capital)),
            x(&|r| Some(r.run.fee_rate)),
            x(&|r| Some(r.run.slippage)),
            s(&|r| Some(r.run.fill_policy.to_string())),
            s(&|r| Some(r.run.params.to_string())),
            i(&|r| Some(r.run.combinations as i64)),
            i(&|r| r.run.best_combo.map(i64::from)),
            x(&metric("totalReturnPct")),
            x(&metric("sharpe")),
            x(&metric("maxDrawdownPct")),
            x(&metric("trades")),
            s(&|r| json(&r.run.metrics)),
            s(&|r| json(&r.run.anomalies)),
            i(&|r| r.run.candles_version),
            s(&|r| r.run.error.clone()),
            t(&|r| Some(r.run.created_at)),
            t(&|r| r.run.started_at),
            t(&|r| r.run.finished_at),
        ];
        RecordBatch::try_new(runs_schema(), columns).map_err(|e| sqlx::Error::Decode(Box::new(e)))
    }
}

#[async_trait]
impl TableProvider for RunsTable {
    fn schema(&self) -> SchemaRef {
        runs_schema()
    }
    fn table_type(&self) -> TableType {
        TableType::Base
    }
    async fn scan(&self, state: &dyn Session, projection: Option<&Vec<usize>>, filters: &[Expr], limit: Option<usize>) -> Result<Arc<dyn ExecutionPlan>> {
        let batch = self.batch().await.map_err(|e| DataFusionError::External(Box::new(e)))?;
        MemTable::try_new(runs_schema(), vec![vec![batch]])?.scan(state, projection, filters, limit).await
    }
}

/// A user-narrowed view that clients list and describe as a table (psql's `\dt`, BI tools'
/// table pickers), planned through the view it wraps.
#[derive(Debug)]
struct AsTable(Arc<dyn TableProvider>);

#[async_trait]
impl TableProvider for AsTable {
    fn schema(&self) -> SchemaRef {
        self.0.schema()
    }
    fn table_type(&self) -> TableType {
        TableType::Base
    }
    fn supports_filters_pushdown(&self, filters: &[&Expr]) -> Result<Vec<datafusion::logical_expr::TableProviderFilterPushDown>> {
        self.0.supports_filters_pushdown(filters)
    }
    async fn scan(&self, state: &dyn Session, projection: Option<&Vec<usize>>, filters: &[Expr], limit: Option<usize>) -> Result<Arc<dyn ExecutionPlan>> {
        self.0.scan(state, projection, filters, limit).await
    }
}

/// Who is connected.
#[derive(Debug, Clone)]
pub struct Caller {
    pub id: Uuid,
    pub email: String,
    pub admin: bool,
}

fn external(e: impl std::error::Error + Send + Sync + 'static) -> DataFusionError {
    DataFusionError::External(Box::new(e))
}

/// The context a connection of `caller` queries.
pub async fn context(pool: &PgPool, lake: &lake::Lake, caller: &Caller, limits: Limits) -> Result<SessionContext> {
    let config = query::config().with_default_catalog_and_schema(DATABASE, "public");
    let ctx = query::context_from(query::state_builder(config).with_physical_optimizer_rule(Arc::new(LimitsRule(limits))).build());
    ctx.register_table("candles", Arc::new(LiveTable::new(lake, LakeTable::Candles).await.map_err(external)?))?;
    let runs = Arc::new(RunsTable { pool: pool.clone(), user: (!caller.admin).then_some(caller.id) });
    ctx.register_table("backtest_runs", runs.clone())?;
    let paper: Arc<dyn TableProvider> = Arc::new(PaperRunsTable { pool: pool.clone(), user: (!caller.admin).then_some(caller.id) });
    ctx.register_table("paper_trades", paper.clone())?;
    let backtests: Arc<dyn TableProvider> = runs.clone();
    let scoped = [
        (LakeTable::BacktestMetrics, "backtest_runs", &backtests),
        (LakeTable::BacktestTrades, "backtest_runs", &backtests),
        (LakeTable::BacktestEquity, "backtest_runs", &backtests),
        (LakeTable::PaperFills, "paper_trades", &paper),
        (LakeTable::PaperEquity, "paper_trades", &paper),
    ];
    for (table, owners_name, owners) in scoped {
        let live: Arc<dyn TableProvider> = Arc::new(LiveTable::new(lake, table).await.map_err(external)?);
        if caller.admin {
            ctx.register_table(table.name(), live)?;
            continue;
        }
        // the caller's rows only: run_id IN (their runs), evaluated at each query
        let mine = LogicalPlanBuilder::scan(owners_name, provider_as_source(owners.clone()), None)?.project(vec![col("run_id")])?.build()?;
        let plan = LogicalPlanBuilder::scan(table.name(), provider_as_source(live), None)?.filter(in_subquery(col("run_id"), Arc::new(mine)))?.build()?;
        ctx.register_table(table.name(), Arc::new(AsTable(Arc::new(ViewTable::new(plan, None)))))?;
    }
    setup_pg_catalog(&ctx, DATABASE, EmptyContextProvider).map_err(|e| *e)?;
    Ok(ctx)
}
