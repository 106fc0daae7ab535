//! `LiveTable`: a provider that reads a lake table at its latest version on every scan, for
//! long-lived sessions (the SQL server) that must see what was written after they started.

use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::Result;
use datafusion::datasource::{MemTable, TableType};
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown};
use datafusion::physical_expr::expressions::{CastExpr, Column};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_plan::projection::ProjectionExec;
use datafusion::physical_plan::ExecutionPlan;

use crate::lake::{provider_of, Lake};
use crate::schema::LakeTable;

/// A lake table read at its latest version at each scan (an empty table until it is created).
/// Its schema is fixed when it is made; scans of a version whose column types differ (plain or
/// view strings) are cast to it.
#[derive(Debug)]
pub struct LiveTable {
    lake: Lake,
    table: LakeTable,
    schema: SchemaRef,
}

impl LiveTable {
    /// A live view of `table`, with the schema its current version has (the table's fixed schema
    /// when it does not exist yet).
    pub async fn new(lake: &Lake, table: LakeTable) -> crate::Result<Self> {
        let schema = match lake.open_existing(table).await? {
            Some(t) => provider_of(&t, None).await?.schema(),
            None => table.schema(),
        };
        Ok(Self { lake: lake.clone(), table, schema })
    }
}

fn external(e: crate::Error) -> datafusion::error::DataFusionError {
    datafusion::error::DataFusionError::External(Box::new(e))
}

#[async_trait::async_trait]
impl TableProvider for LiveTable {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    fn supports_filters_pushdown(&self, filters: &[&Expr]) -> Result<Vec<TableProviderFilterPushDown>> {
        // the Delta provider prunes files with them; DataFusion still applies them above the scan
        Ok(vec![TableProviderFilterPushDown::Inexact; filters.len()])
    }

    async fn scan(&self, state: &dyn Session, projection: Option<&Vec<usize>>, filters: &[Expr], limit: Option<usize>) -> Result<Arc<dyn ExecutionPlan>> {
        let Some(t) = self.lake.open_existing(self.table).await.map_err(external)? else {
            return MemTable::try_new(self.schema.clone(), vec![vec![]])?.scan(state, projection, filters, limit).await;
        };
        t.update_datafusion_session(state)?;
        let provider = provider_of(&t, None).await.map_err(external)?;
        let plan = provider.scan(state, projection, filters, limit).await?;
        let want = match projection {
            Some(p) => Arc::new(self.schema.project(p)?),
            None => self.schema.clone(),
        };
        let got = plan.schema();
        if got.fields().len() != want.fields().len() {
            return datafusion::common::plan_err!("{}: the scan returned {} columns, expected {}", self.table, got.fields().len(), want.fields().len());
        }
        if got.fields().iter().zip(want.fields()).all(|(a, b)| a.data_type() == b.data_type()) {
            return Ok(plan);
        }
        let exprs: Vec<(Arc<dyn PhysicalExpr>, String)> = want
            .fields()
            .iter()
            .enumerate()
            .map(|(i, f)| {
                let column: Arc<dyn PhysicalExpr> = Arc::new(Column::new(f.name(), i));
                let e: Arc<dyn PhysicalExpr> = if got.field(i).data_type() == f.data_type() { column } else { Arc::new(CastExpr::new(column, f.data_type().clone(), None)) };
                (e, f.name().clone())
            })
            .collect();
        Ok(Arc::new(ProjectionExec::try_new(exprs, plan)?))
    }
}
