//! Rendering query results: a table for people, CSV and JSON for scripts (floats at full round-trip precision).

use std::io::Write;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{DataType, Float32Type, Float64Type, TimeUnit};
use arrow::util::display::{ArrayFormatter, FormatOptions};
use serde_json::{Map, Number, Value};

/// Output formats of `bb sql` and other commands that print rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    Table,
    Csv,
    Json,
}

/// Writes `batches` in `format`.
pub fn write(out: &mut impl Write, batches: &[RecordBatch], format: OutputFormat) -> anyhow::Result<()> {
    match format {
        OutputFormat::Table => writeln!(out, "{}", arrow::util::pretty::pretty_format_batches(batches)?)?,
        OutputFormat::Csv => write_csv(out, batches)?,
        OutputFormat::Json => {
            serde_json::to_writer_pretty(&mut *out, &json_rows(batches)?)?;
            writeln!(out)?;
        }
    }
    Ok(())
}

/// A cell as text: floats in Rust's shortest round-trip form, timestamps as RFC 3339, NULL as `None`.
fn cell(array: &dyn Array, row: usize) -> anyhow::Result<Option<String>> {
    if array.is_null(row) {
        return Ok(None);
    }
    Ok(Some(match array.data_type() {
        DataType::Float64 => array.as_primitive::<Float64Type>().value(row).to_string(),
        DataType::Float32 => array.as_primitive::<Float32Type>().value(row).to_string(),
        DataType::Timestamp(unit, _) => {
            let v = arrow::compute::cast(&array.slice(row, 1), &DataType::Timestamp(TimeUnit::Microsecond, None))?;
            let us = arrow::compute::cast(&v, &DataType::Int64)?;
            let us = us.as_primitive::<arrow::datatypes::Int64Type>().value(0);
            let t = chrono::DateTime::from_timestamp_micros(us).ok_or_else(|| anyhow::anyhow!("timestamp out of range"))?;
            let _ = unit;
            t.format("%Y-%m-%dT%H:%M:%S%.fZ").to_string()
        }
        _ => {
            let options = FormatOptions::default();
            ArrayFormatter::try_new(array, &options)?.value(row).to_string()
        }
    }))
}

fn write_csv(out: &mut impl Write, batches: &[RecordBatch]) -> anyhow::Result<()> {
    let mut w = csv::Writer::from_writer(out);
    if let Some(b) = batches.first() {
        w.write_record(b.schema().fields().iter().map(|f| f.name().as_str()))?;
    }
    for b in batches {
        for row in 0..b.num_rows() {
            let cells = b.columns().iter().map(|c| cell(c.as_ref(), row).map(Option::unwrap_or_default)).collect::<anyhow::Result<Vec<_>>>()?;
            w.write_record(&cells)?;
        }
    }
    w.flush()?;
    Ok(())
}

/// Rows as JSON objects: numbers stay numbers (NaN/∞ become null), timestamps RFC 3339 strings.
pub fn json_rows(batches: &[RecordBatch]) -> anyhow::Result<Vec<Value>> {
    let mut rows = Vec::new();
    for b in batches {
        let schema = b.schema();
        for row in 0..b.num_rows() {
            let mut obj = Map::new();
            for (field, col) in schema.fields().iter().zip(b.columns()) {
                let v = if col.is_null(row) {
                    Value::Null
                } else {
                    match col.data_type() {
                        DataType::Float64 => Number::from_f64(col.as_primitive::<Float64Type>().value(row)).map_or(Value::Null, Value::Number),
                        DataType::Float32 => Number::from_f64(col.as_primitive::<Float32Type>().value(row) as f64).map_or(Value::Null, Value::Number),
                        DataType::Boolean => Value::Bool(col.as_boolean().value(row)),
                        DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::Int64 | DataType::UInt8 | DataType::UInt16 | DataType::UInt32 | DataType::UInt64 => {
                            let text = cell(col.as_ref(), row)?.unwrap_or_default();
                            serde_json::from_str::<Number>(&text).map_or(Value::String(text), Value::Number)
                        }
                        _ => cell(col.as_ref(), row)?.map_or(Value::Null, Value::String),
                    }
                };
                obj.insert(field.name().clone(), v);
            }
            rows.push(Value::Object(obj));
        }
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{Float64Array, StringArray, TimestampMicrosecondArray};
    use arrow::datatypes::{Field, Schema};

    use super::*;

    fn batch() -> RecordBatch {
        let schema = Schema::new(vec![
            Field::new("t", DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())), true),
            Field::new("x", DataType::Float64, true),
            Field::new("s", DataType::Utf8, true),
        ]);
        RecordBatch::try_new(
            Arc::new(schema),
            vec![
                Arc::new(TimestampMicrosecondArray::from(vec![Some(1_735_689_600_000_000), None]).with_timezone("UTC")),
                Arc::new(Float64Array::from(vec![Some(0.1 + 0.2), None])),
                Arc::new(StringArray::from(vec![Some("a,b"), None])),
            ],
        )
        .unwrap()
    }

    #[test]
    fn csv_keeps_full_precision_and_writes_null_as_empty() {
        let mut out = Vec::new();
        write(&mut out, &[batch()], OutputFormat::Csv).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "t,x,s\n2025-01-01T00:00:00Z,0.30000000000000004,\"a,b\"\n,,\n");
    }

    #[test]
    fn json_keeps_numbers_and_nulls() {
        let rows = json_rows(&[batch()]).unwrap();
        assert_eq!(rows[0]["x"].as_f64(), Some(0.1 + 0.2));
        assert_eq!(rows[0]["t"], "2025-01-01T00:00:00Z");
        assert!(rows[1]["x"].is_null() && rows[1]["s"].is_null());
    }
}
