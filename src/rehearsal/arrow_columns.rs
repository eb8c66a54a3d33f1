//! Typed columns of the Arrow batches DuckDB streams: a large result is read column by column
//! instead of converting every value through a row accessor.

use crate::error::{Error, Result};
use crate::plan::RidBits;
use duckdb::arrow::array::{Array, AsArray, BooleanArray, Decimal128Array, Int64Array, StringArray};
use duckdb::arrow::datatypes::{Decimal128Type, Int64Type};
use duckdb::arrow::record_batch::RecordBatch;
use duckdb::Connection;

fn unexpected(batch: &RecordBatch, index: usize, wanted: &str) -> Error {
    let field = batch.schema_ref().field(index).clone();
    Error::Internal(format!("column {} of a rehearsal query is {}, not {wanted}", field.name(), field.data_type()))
}

/// The one BIGINT column of `sql`'s rows, rowids without NULLs, as a set.
pub fn rid_bits(conn: &Connection, sql: &str) -> Result<RidBits> {
    let mut stmt = conn.prepare(sql)?;
    let mut rids = RidBits::default();
    for batch in stmt.stream_arrow([])? {
        let batch = batch?;
        rids.extend(without_nulls(&batch, 0, integers(&batch, 0)?)?.values().iter().copied());
    }
    Ok(rids)
}

/// A VARCHAR column.
pub fn texts(batch: &RecordBatch, index: usize) -> Result<&StringArray> {
    batch.column(index).as_string_opt::<i32>().ok_or_else(|| unexpected(batch, index, "text"))
}

/// A BIGINT column.
pub fn integers(batch: &RecordBatch, index: usize) -> Result<&Int64Array> {
    batch.column(index).as_primitive_opt::<Int64Type>().ok_or_else(|| unexpected(batch, index, "BIGINT"))
}

/// A column of `md5_number`: DuckDB hands its UHUGEINT over as a 128-bit decimal with the same
/// bits.
pub fn md5_numbers(batch: &RecordBatch, index: usize) -> Result<&Decimal128Array> {
    batch.column(index).as_primitive_opt::<Decimal128Type>().ok_or_else(|| unexpected(batch, index, "md5_number"))
}

/// Row `row` of an `md5_number` column as the md5 digest's bytes (the number's, least
/// significant first), NULL as `None`.
pub fn md5_digest(column: &Decimal128Array, row: usize) -> Option<[u8; 16]> {
    column.is_valid(row).then(|| column.value(row).to_le_bytes())
}

/// A BOOLEAN column.
pub fn flags(batch: &RecordBatch, index: usize) -> Result<&BooleanArray> {
    batch.column(index).as_boolean_opt().ok_or_else(|| unexpected(batch, index, "BOOLEAN"))
}

/// Column `index` as `column` read it, refused when it holds a NULL.
pub fn without_nulls<'a, A: Array>(batch: &RecordBatch, index: usize, column: &'a A) -> Result<&'a A> {
    match column.null_count() {
        0 => Ok(column),
        _ => Err(Error::Internal(format!(
            "column {} of a rehearsal query holds NULL",
            batch.schema_ref().field(index).name()
        ))),
    }
}

/// Row `row` of a text column where it lies, NULL as `None`.
pub fn borrowed(column: &StringArray, row: usize) -> Option<&str> {
    column.is_valid(row).then(|| column.value(row))
}

/// Row `row` of a text column, NULL as empty, without a copy.
pub fn value_or_empty(column: &StringArray, row: usize) -> &str {
    if column.is_valid(row) {
        column.value(row)
    } else {
        ""
    }
}

/// Row `row` of a text column as one shared allocation, NULL as `None`.
pub fn shared(column: &StringArray, row: usize) -> Option<crate::plan::Shared> {
    borrowed(column, row).map(Into::into)
}

/// Row `row` of a BOOLEAN column, NULL as `None`.
pub fn flag(column: &BooleanArray, row: usize) -> Option<bool> {
    column.is_valid(row).then(|| column.value(row))
}
