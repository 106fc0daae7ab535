//! Query integration tests: indicators through SQL against TA-Lib's own outputs, NULL rules, errors.

mod errors;
mod fixtures;
mod lake_tables;
mod nulls;

use std::path::PathBuf;
use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array, Int64Array, RecordBatch};
use arrow::datatypes::{DataType, Field, Schema};
use datafusion::datasource::MemTable;
use datafusion::prelude::SessionContext;

pub fn fixture(name: &str) -> PathBuf {
    crate::crate_dir().join("../../shared/fixtures/indicators").join(name)
}

/// A fixture CSV: its header and its columns as optional f64 (empty cell = NULL).
pub struct Fixture {
    pub header: Vec<String>,
    pub columns: Vec<Vec<Option<f64>>>,
}

pub fn read_fixture(name: &str) -> Fixture {
    let text = std::fs::read_to_string(fixture(name)).unwrap();
    let mut lines = text.lines();
    let header: Vec<String> = lines.next().unwrap().split(',').map(str::to_string).collect();
    let mut columns = vec![Vec::new(); header.len()];
    for line in lines {
        for (i, cell) in line.split(',').enumerate() {
            columns[i].push(if cell.is_empty() { None } else { Some(cell.parse().unwrap()) });
        }
    }
    Fixture { header, columns }
}

/// A session with the platform's functions and the fixture's candles as table `t`
/// (open_time as epoch ms, plus symbol = 'X').
pub fn session_with(f: &Fixture) -> SessionContext {
    let ctx = SessionContext::new();
    query::register_functions(&ctx);
    let n = f.columns[0].len();
    let mut fields = vec![Field::new("open_time", DataType::Int64, false), Field::new("symbol", DataType::Utf8, false)];
    let mut arrays: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from_iter_values(f.columns[0].iter().map(|v| v.unwrap() as i64))),
        Arc::new(arrow::array::StringArray::from(vec!["X"; n])),
    ];
    for (i, name) in f.header.iter().enumerate().take(6).skip(1) {
        fields.push(Field::new(name, DataType::Float64, true));
        arrays.push(Arc::new(Float64Array::from(f.columns[i].clone())));
    }
    let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays).unwrap();
    ctx.register_table("t", Arc::new(MemTable::try_new(batch.schema(), vec![vec![batch]]).unwrap())).unwrap();
    ctx
}

/// Agreement within 1e-9 relative (1e-9 absolute near zero).
pub fn close_enough(got: f64, want: f64) -> bool {
    let d = (got - want).abs();
    d <= 1e-9 * want.abs() || d <= 1e-9
}

/// This crate's folder, read at run time (cargo and nextest set it), so that a test binary built
/// from another clone sharing the target folder still finds `../shared` beside this checkout.
pub fn crate_dir() -> PathBuf {
    PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").into()))
}
