//! What keeps the SQL endpoint read-only and bounded: a query hook that refuses every statement
//! but reads (before anything is planned), and a physical plan wrapper that cuts a query that runs
//! too long or returns too many rows.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use async_trait::async_trait;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::{DataFusionError, ParamValues, Result};
use datafusion::config::ConfigOptions;
use datafusion::execution::{RecordBatchStream, SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::LogicalPlan;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::{DisplayAs, DisplayFormatType, ExecutionPlan, PlanProperties};
use datafusion::prelude::SessionContext;
use datafusion::sql::sqlparser::ast::{SetExpr, Statement};
use datafusion_postgres::hooks::cursor::CursorStatementHook;
use datafusion_postgres::hooks::set_show::SetShowHook;
use datafusion_postgres::hooks::transactions::TransactionStatementHook;
use datafusion_postgres::hooks::{HookClient, QueryHook};
use datafusion_postgres::pgwire::api::results::Response;
use datafusion_postgres::pgwire::api::ClientInfo;
use datafusion_postgres::pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use futures::{Stream, StreamExt};

/// How much one query may take.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Rows a result may have; one more is an error.
    pub max_rows: usize,
    /// Wall time a query may run.
    pub timeout: Duration,
}

fn selects_into(body: &SetExpr) -> bool {
    match body {
        SetExpr::Select(s) => s.into.is_some(),
        SetExpr::SetOperation { left, right, .. } => selects_into(left) || selects_into(right),
        SetExpr::Query(q) => selects_into(&q.body),
        _ => false,
    }
}

/// Whether `s` only reads: queries, EXPLAIN of one, SHOW, SET of session settings, transaction
/// control and cursors (what psql, psycopg and BI tools send around their queries).
pub fn read_only(s: &Statement) -> bool {
    match s {
        Statement::Query(q) => !selects_into(&q.body),
        Statement::Explain { statement, .. } => read_only(statement),
        Statement::ExplainTable { .. }
        | Statement::ShowVariable { .. }
        | Statement::ShowVariables { .. }
        | Statement::ShowTables { .. }
        | Statement::ShowColumns { .. }
        | Statement::ShowFunctions { .. }
        | Statement::ShowSchemas { .. }
        | Statement::ShowDatabases { .. }
        | Statement::ShowStatus { .. }
        | Statement::Set(_)
        | Statement::StartTransaction { .. }
        | Statement::Commit { .. }
        | Statement::Rollback { .. }
        | Statement::Declare { .. }
        | Statement::Fetch { .. }
        | Statement::Close { .. }
        | Statement::Discard { .. }
        | Statement::Deallocate { .. } => true,
        _ => false,
    }
}

/// The first words of a statement, for the error message (`INSERT`, `CREATE TABLE`, `COPY`...).
fn verb(s: &Statement) -> String {
    let text = s.to_string();
    let words: Vec<&str> = text.split_whitespace().take(2).collect();
    match words.as_slice() {
        [first, second] if matches!(first.to_ascii_uppercase().as_str(), "CREATE" | "DROP" | "ALTER") => format!("{} {}", first.to_uppercase(), second.to_uppercase()),
        [first, ..] => first.to_uppercase(),
        [] => "this statement".into(),
    }
}

fn refused(s: &Statement) -> PgWireError {
    PgWireError::UserError(Box::new(ErrorInfo::new(
        "ERROR".into(),
        "25006".into(),
        format!("{} is not allowed: the Blockbuilders SQL endpoint is read-only (SELECT, EXPLAIN, SHOW and SET only)", verb(s)),
    )))
}

/// Refuses every statement that could change anything, before it is planned or run.
#[derive(Debug)]
pub struct ReadOnlyHook;

#[async_trait]
impl QueryHook for ReadOnlyHook {
    async fn handle_simple_query(&self, statement: &Statement, _ctx: &SessionContext, _client: &mut dyn HookClient) -> Option<PgWireResult<Response>> {
        (!read_only(statement)).then(|| Err(refused(statement)))
    }

    async fn handle_extended_parse_query(&self, statement: &Statement, _ctx: &SessionContext, _client: &(dyn ClientInfo + Send + Sync)) -> Option<PgWireResult<LogicalPlan>> {
        (!read_only(statement)).then(|| Err(refused(statement)))
    }

    async fn handle_extended_query(
        &self,
        statement: &Statement,
        _plan: &LogicalPlan,
        _params: &ParamValues,
        _ctx: &SessionContext,
        _client: &mut dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        (!read_only(statement)).then(|| Err(refused(statement)))
    }
}

/// Wraps the root of every physical plan in [`LimitsExec`].
#[derive(Debug)]
pub struct LimitsRule(pub Limits);

impl PhysicalOptimizerRule for LimitsRule {
    fn optimize(&self, plan: Arc<dyn ExecutionPlan>, _config: &ConfigOptions) -> Result<Arc<dyn ExecutionPlan>> {
        if plan.name() == LimitsExec::NAME {
            return Ok(plan);
        }
        Ok(Arc::new(LimitsExec { input: plan, limits: self.0, rows: Arc::new(AtomicUsize::new(0)), deadline: tokio::time::Instant::now() + self.0.timeout }))
    }
    fn name(&self) -> &str {
        "bb_query_limits"
    }
    fn schema_check(&self) -> bool {
        true
    }
}

/// Passes its input through, failing the query once it has returned more than `max_rows` rows
/// (over all partitions) or run past its deadline.
#[derive(Debug)]
pub struct LimitsExec {
    input: Arc<dyn ExecutionPlan>,
    limits: Limits,
    rows: Arc<AtomicUsize>,
    deadline: tokio::time::Instant,
}

impl LimitsExec {
    const NAME: &'static str = "LimitsExec";
}

impl DisplayAs for LimitsExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "LimitsExec: max_rows={}, timeout={:?}", self.limits.max_rows, self.limits.timeout)
    }
}

#[allow(deprecated)]
impl ExecutionPlan for LimitsExec {
    fn name(&self) -> &str {
        Self::NAME
    }
    fn properties(&self) -> &Arc<PlanProperties> {
        self.input.properties()
    }
    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
    }
    fn maintains_input_order(&self) -> Vec<bool> {
        vec![true]
    }
    fn apply_expressions(&self, _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }
    fn with_new_children(self: Arc<Self>, mut children: Vec<Arc<dyn ExecutionPlan>>) -> Result<Arc<dyn ExecutionPlan>> {
        if children.len() != 1 {
            return datafusion::common::internal_err!("LimitsExec takes one child");
        }
        Ok(Arc::new(LimitsExec { input: children.remove(0), limits: self.limits, rows: self.rows.clone(), deadline: self.deadline }))
    }
    fn execute(&self, partition: usize, context: Arc<TaskContext>) -> Result<SendableRecordBatchStream> {
        let mut inner = self.input.execute(partition, context)?;
        let schema = inner.schema();
        // the work runs on the query runtime, so the connection's task (and the timer) stay
        // responsive however busy the query keeps the cores
        let (tx, rx) = tokio::sync::mpsc::channel(2);
        let work = query_runtime().spawn(async move {
            while let Some(item) = inner.next().await {
                if tx.send(item).await.is_err() {
                    break;
                }
            }
        });
        Ok(Box::pin(LimitsStream {
            schema,
            rx,
            work,
            limits: self.limits,
            rows: self.rows.clone(),
            timer: Box::pin(tokio::time::sleep_until(self.deadline)),
            done: false,
        }))
    }
}

/// The runtime queries execute on (one worker per core), apart from the one serving connections.
fn query_runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: std::sync::OnceLock<tokio::runtime::Runtime> = std::sync::OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread().thread_name("bb-sql-query").enable_all().build().expect("the query runtime starts")
    })
}

struct LimitsStream {
    schema: SchemaRef,
    rx: tokio::sync::mpsc::Receiver<Result<RecordBatch>>,
    work: tokio::task::JoinHandle<()>,
    limits: Limits,
    rows: Arc<AtomicUsize>,
    timer: Pin<Box<tokio::time::Sleep>>,
    done: bool,
}

impl Drop for LimitsStream {
    fn drop(&mut self) {
        // a cut or abandoned query stops at its next yield point
        self.work.abort();
    }
}

impl LimitsStream {
    fn fail(&mut self, message: String) -> Poll<Option<Result<RecordBatch>>> {
        self.done = true;
        self.work.abort();
        Poll::Ready(Some(Err(DataFusionError::Execution(message))))
    }
}

impl Stream for LimitsStream {
    type Item = Result<RecordBatch>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.done {
            return Poll::Ready(None);
        }
        if self.timer.as_mut().poll(cx).is_ready() {
            let t = self.limits.timeout;
            return self.fail(format!("query cancelled: it ran longer than the {:.1} s limit (narrow it, or ask for a larger --query-timeout)", t.as_secs_f64()));
        }
        match self.rx.poll_recv(cx) {
            Poll::Ready(Some(Ok(batch))) => {
                let total = self.rows.fetch_add(batch.num_rows(), Ordering::Relaxed) + batch.num_rows();
                if total > self.limits.max_rows {
                    let max = self.limits.max_rows;
                    return self.fail(format!("query returned more than {max} rows: add a LIMIT or aggregate (the limit is --max-rows)"));
                }
                Poll::Ready(Some(Ok(batch)))
            }
            other => other,
        }
    }
}

impl RecordBatchStream for LimitsStream {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }
}

/// The statement hooks of every session: the read-only guard first, then datafusion-postgres's
/// cursors, `SET`/`SHOW` and transaction statements.
pub fn hooks() -> Vec<Arc<dyn QueryHook>> {
    vec![Arc::new(ReadOnlyHook), Arc::new(CursorStatementHook), Arc::new(SetShowHook), Arc::new(TransactionStatementHook)]
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
    use datafusion::sql::sqlparser::parser::Parser;

    fn allowed(sql: &str) -> bool {
        read_only(&Parser::parse_sql(&PostgreSqlDialect {}, sql).unwrap()[0])
    }

    #[test]
    fn only_reads_pass() {
        for sql in ["SELECT 1", "WITH a AS (SELECT 1) SELECT * FROM a", "EXPLAIN SELECT 1", "SHOW search_path", "SET extra_float_digits = 3", "BEGIN", "COMMIT", "ROLLBACK"] {
            assert!(allowed(sql), "{sql}");
        }
        for sql in [
            "INSERT INTO candles VALUES (1)",
            "UPDATE candles SET close = 0",
            "DELETE FROM candles",
            "CREATE TABLE x (a INT)",
            "CREATE VIEW v AS SELECT 1",
            "DROP TABLE candles",
            "COPY candles TO '/tmp/x.csv'",
            "SELECT * INTO copy_of FROM candles",
            "EXPLAIN ANALYZE INSERT INTO candles VALUES (1)",
            "TRUNCATE candles",
        ] {
            assert!(!allowed(sql), "{sql}");
        }
        let s = &Parser::parse_sql(&PostgreSqlDialect {}, "create table x (a int)").unwrap()[0];
        assert!(refused(s).to_string().contains("CREATE TABLE is not allowed"), "{}", refused(s));
    }
}
