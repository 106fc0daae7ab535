//! Readers: one per file format, each turning a file's bytes into candle or trade rows.

pub mod columnar;
pub mod columns;
pub mod csv;
pub mod json;
pub mod time;

use std::io::Read;
use std::path::Path;

use crate::error::{Error, Result};
use crate::format::{detect, is_gzip, Format};
use crate::record::Rows;
pub use columns::ColumnMap;

/// Reads the whole file, gunzipping `.gz` files; a truncated gzip stream is an error with its offset.
pub fn load(path: &Path) -> Result<Vec<u8>> {
    let bytes = std::fs::read(path).map_err(|source| Error::Io { file: path.to_path_buf(), source })?;
    if !is_gzip(path) {
        return Ok(bytes);
    }
    let mut out = Vec::with_capacity(bytes.len() * 8);
    flate2::read::MultiGzDecoder::new(&bytes[..]).read_to_end(&mut out).map_err(|e| {
        Error::parse(path, format!("decompressed byte {}", out.len()), format!("gzip stream broken: {e} (truncated file?)"))
    })?;
    Ok(out)
}

/// Reads `path` as `format` (detected when `None`); returns the format used and the rows.
pub fn read(path: &Path, format: Option<Format>, map: &ColumnMap) -> Result<(Format, Rows)> {
    let bytes = load(path)?;
    let format = match format {
        Some(f) => f,
        None => detect(path, &bytes)?,
    };
    let rows = match format {
        Format::Json => json::read(path, &bytes)?,
        Format::Feather => columnar::read_feather(path, &bytes, map)?,
        Format::Parquet => columnar::read_parquet(path, bytes, map)?,
        Format::BinanceCsv => csv::read_binance(path, &bytes)?,
        Format::Csv => csv::read_mapped(path, &bytes, map)?,
    };
    Ok((format, rows))
}
