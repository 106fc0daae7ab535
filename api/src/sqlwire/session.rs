//! One authenticated connection's DataFusion context: the lake's candles, the backtest tables
//! narrowed to the caller's runs (admins see all), a `backtest_runs` table of run metadata read
//! from Postgres at each query, every indicator function, the pg_catalog that clients inspect,
//! and the query limits.

use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use async_trait::async_trait;
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::{DataFusionError, Result};
use datafusion::datasource::{provider_as_source, MemTable, TableType, ViewTable};
use datafusion::execution::SessionStateBuilder;
use datafusion::logical_expr::expr_fn::in_subquery;
use datafusion::logical_expr::{col, Expr, LogicalPlanBuilder};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::prelude::{SessionConfig, SessionContext};
use datafusion_postgres::datafusion_pg_catalog::pg_catalog::context::EmptyContextProvider;
use datafusion_postgres::datafusion_pg_catalog::pg_catalog::setup_pg_catalog;
use lake::{LakeTable, LiveTable};
use sqlx::{PgPool, Row};
use uuid::Uuid;

use super::guard::{Limits, LimitsRule};

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
        let rows = sqlx::query(
            "SELECT r.id::text, r.user_id::text, u.email, v.strategy_id::text, s.title, v.version::bigint, r.status,
                    r.exchange, r.symbol, r.timeframe, r.range_start, r.range_end, r.initial_capital, r.fee_rate,
                    r.slippage, r.fill_policy, r.params::text, r.combinations::bigint, r.best_combo::bigint,
                    (r.metrics ->> 'totalReturnPct')::float8, (r.metrics ->> 'sharpe')::float8,
                    (r.metrics ->> 'maxDrawdownPct')::float8, (r.metrics ->> 'trades')::float8,
                    r.metrics::text, r.anomalies::text, r.candles_version, r.error, r.created_at, r.started_at, r.finished_at
             FROM backtest_runs r
             JOIN strategy_versions v ON v.id = r.strategy_version_id
             JOIN strategies s ON s.id = v.strategy_id
             JOIN users u ON u.id = r.user_id
             WHERE $1::uuid IS NULL OR r.user_id = $1
             ORDER BY r.created_at, r.id",
        )
        .bind(self.user)
        .fetch_all(&self.pool)
        .await?;
        type T = chrono::DateTime<chrono::Utc>;
        let s = |i: usize| -> ArrayRef { Arc::new(rows.iter().map(|r| r.get::<Option<String>, _>(i)).collect::<StringArray>()) };
        let i = |i: usize| -> ArrayRef { Arc::new(rows.iter().map(|r| r.get::<Option<i64>, _>(i)).collect::<Int64Array>()) };
        let f = |i: usize| -> ArrayRef { Arc::new(rows.iter().map(|r| r.get::<Option<f64>, _>(i)).collect::<Float64Array>()) };
        let t = |i: usize| -> ArrayRef {
            Arc::new(rows.iter().map(|r| r.get::<Option<T>, _>(i).map(|t| t.timestamp_micros())).collect::<TimestampMicrosecondArray>().with_timezone("UTC"))
        };
        let columns = vec![
            s(0), s(1), s(2), s(3), s(4), i(5), s(6), s(7), s(8), s(9), t(10), t(11), f(12), f(13), f(14), s(15), s(16), i(17), i(18),
            f(19), f(20), f(21), f(22), s(23), s(24), i(25), s(26), t(27), t(28), t(29),
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
    let config = SessionConfig::new().with_information_schema(true).with_default_catalog_and_schema(DATABASE, "public");
    let state = SessionStateBuilder::new()
        .with_config(config)
        .with_default_features()
        .with_physical_optimizer_rule(Arc::new(LimitsRule(limits)))
        .build();
    let ctx = SessionContext::new_with_state(state);
    query::register_functions(&ctx);
    ctx.register_table("candles", Arc::new(LiveTable::new(lake, LakeTable::Candles).await.map_err(external)?))?;
    let runs = Arc::new(RunsTable { pool: pool.clone(), user: (!caller.admin).then_some(caller.id) });
    ctx.register_table("backtest_runs", runs.clone())?;
    for table in [LakeTable::BacktestMetrics, LakeTable::BacktestTrades, LakeTable::BacktestEquity] {
        let live: Arc<dyn TableProvider> = Arc::new(LiveTable::new(lake, table).await.map_err(external)?);
        if caller.admin {
            ctx.register_table(table.name(), live)?;
            continue;
        }
        // the caller's rows only: run_id IN (their runs), evaluated at each query
        let mine = LogicalPlanBuilder::scan("backtest_runs", provider_as_source(runs.clone()), None)?.project(vec![col("run_id")])?.build()?;
        let plan = LogicalPlanBuilder::scan(table.name(), provider_as_source(live), None)?.filter(in_subquery(col("run_id"), Arc::new(mine)))?.build()?;
        ctx.register_table(table.name(), Arc::new(AsTable(Arc::new(ViewTable::new(plan, None)))))?;
    }
    setup_pg_catalog(&ctx, DATABASE, EmptyContextProvider).map_err(|e| *e)?;
    Ok(ctx)
}
