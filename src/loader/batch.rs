//! The reader's side of loading: rows of one table, as PostgreSQL text, gathered column by
//! column into Arrow record batches. uuid and bytea are decoded here by PostgreSQL's own input
//! grammar, integers, booleans, dates and timestamps in their output form (`typed`); every
//! other type travels as text and the loading `INSERT … SELECT` casts it, exactly as
//! `CAST(text AS type)` does. NULLs in NOT NULL columns and uuid or bytea values that do not
//! decode are refused here, at the row that holds them.

use super::typed::Typed;
use crate::catalog::{Column, TableName};
use crate::error::{Error, Result};
use crate::input::Origin;
use crate::pgtype::DuckType;
use duckdb::arrow::array::{ArrayRef, BinaryBuilder, FixedSizeBinaryBuilder, StringBuilder};
use duckdb::arrow::datatypes::{DataType, Field, Schema};
use duckdb::arrow::record_batch::RecordBatch;
use std::collections::HashMap;
use std::sync::Arc;

/// Rows per batch: DuckDB's vector size, so one batch is one appended chunk.
const BATCH_ROWS: usize = 2048;
/// A batch is sent early once its text passes this size, bounding memory for wide rows.
const BATCH_BYTES: usize = 8 << 20;

/// Rows of one table and where each came from (for errors that DuckDB's cast finds).
#[derive(Debug)]
pub struct Batch {
    pub record: RecordBatch,
    pub positions: Vec<u64>,
}

enum ColumnBuilder {
    /// Text columns, and the types DuckDB casts from PostgreSQL's text form.
    Text(StringBuilder),
    /// bytea, whose text form `\x…` DuckDB's cast reads differently: decoded here.
    Blob(BinaryBuilder),
    /// uuid as 16 bytes: cheaper for DuckDB than its text, 36 bytes that it would cast.
    Uuid(FixedSizeBinaryBuilder),
    /// Integers, booleans, dates and timestamps, decoded while their values are in output form.
    Typed(Typed),
}

/// The table whose rows are being gathered.
pub struct TableBatcher {
    pub table: TableName,
    pub columns: Vec<Column>,
    pub origin: Origin,
    builders: Vec<ColumnBuilder>,
    positions: Vec<u64>,
    bytes: usize,
}

impl TableBatcher {
    pub fn new(table: TableName, columns: Vec<Column>, origin: Origin) -> TableBatcher {
        let builders = columns.iter().map(|c| new_builder(&c.pg_type, 0)).collect();
        TableBatcher { table, columns, origin, builders, positions: Vec::with_capacity(BATCH_ROWS), bytes: 0 }
    }

    /// Adds one row; returns a full batch when this row completes one.
    pub fn push(&mut self, fields: &[Option<&str>], at: u64) -> Result<Option<Batch>> {
        self.check(fields, at)?;
        for (builder, field) in self.builders.iter_mut().zip(fields) {
            match (&mut *builder, field) {
                (ColumnBuilder::Text(b), Some(text)) => b.append_value(text),
                (ColumnBuilder::Text(b), None) => b.append_null(),
                (ColumnBuilder::Blob(b), Some(text)) => b.append_value(bytea_hex(text).expect("checked above")),
                (ColumnBuilder::Blob(b), None) => b.append_null(),
                (ColumnBuilder::Uuid(b), Some(text)) => {
                    b.append_value(pg_uuid(text).expect("checked above")).expect("16 bytes")
                }
                (ColumnBuilder::Uuid(b), None) => b.append_null(),
                (ColumnBuilder::Typed(t), Some(text)) => {
                    if !t.push(text) {
                        let mut as_text = t.take_as_text()?;
                        as_text.append_value(text);
                        *builder = ColumnBuilder::Text(as_text);
                    }
                }
                (ColumnBuilder::Typed(t), None) => t.push_null(),
            }
            self.bytes += field.map_or(0, str::len);
        }
        self.positions.push(at);
        if self.positions.len() >= BATCH_ROWS || self.bytes >= BATCH_BYTES {
            return self.take().map(Some);
        }
        Ok(None)
    }

    /// Refuses the row before any of it is added, so a batch only ever holds whole rows.
    fn check(&self, fields: &[Option<&str>], at: u64) -> Result<()> {
        for ((column, builder), field) in self.columns.iter().zip(&self.builders).zip(fields) {
            match (field, builder) {
                (None, _) if column.not_null => {
                    return Err(Error::bad_input(
                        self.origin.locate(at),
                        format!("NULL in column \"{}\" of {}, which is NOT NULL", column.name, self.table),
                    ));
                }
                (Some(text), ColumnBuilder::Blob(_)) if bytea_hex(text).is_none() => {
                    return Err(invalid_value(&self.origin, at, text, column, &self.table));
                }
                (Some(text), ColumnBuilder::Uuid(_)) if pg_uuid(text).is_none() => {
                    return Err(invalid_value(&self.origin, at, text, column, &self.table));
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// The rows gathered so far as a batch (`None` when there are none).
    pub fn flush(&mut self) -> Result<Option<Batch>> {
        if self.positions.is_empty() {
            return Ok(None);
        }
        self.take().map(Some)
    }

    fn take(&mut self) -> Result<Batch> {
        let sizes: Vec<usize> = self.builders.iter().map(ColumnBuilder::value_bytes).collect();
        let arrays: Vec<ArrayRef> = self
            .builders
            .iter_mut()
            .map(|builder| match builder {
                ColumnBuilder::Text(b) => Arc::new(b.finish()) as ArrayRef,
                ColumnBuilder::Blob(b) => Arc::new(b.finish()) as ArrayRef,
                ColumnBuilder::Uuid(b) => Arc::new(b.finish()) as ArrayRef,
                ColumnBuilder::Typed(t) => t.finish(),
            })
            .collect();
        // A column that turned into text starts the next batch decoded again. Text columns start
        // as large as this batch's: growing them by doubling copied every value twice.
        self.builders = self.columns.iter().zip(sizes).map(|(c, bytes)| new_builder(&c.pg_type, bytes)).collect();
        let fields: Vec<Field> = self
            .columns
            .iter()
            .zip(&arrays)
            .enumerate()
            .map(|(i, (c, array))| field(format!("c{i}"), &c.pg_type, array.data_type()))
            .collect();
        let record = RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays)
            .map_err(|e| Error::Internal(format!("a batch of {} did not form: {e}", self.table)))?;
        self.bytes = 0;
        let positions = std::mem::replace(&mut self.positions, Vec::with_capacity(BATCH_ROWS));
        Ok(Batch { record, positions })
    }
}

/// The Arrow field a column travels in; a uuid is marked as such, so DuckDB reads its 16 bytes
/// as a UUID.
fn field(name: String, pg_type: &str, data_type: &DataType) -> Field {
    let field = Field::new(name, data_type.clone(), true);
    match DuckType::of(pg_type) {
        DuckType::Uuid => {
            field.with_metadata(HashMap::from([("ARROW:extension:name".to_string(), "arrow.uuid".to_string())]))
        }
        _ => field,
    }
}

impl ColumnBuilder {
    /// The bytes of the text or bytea values gathered (0 for other columns).
    fn value_bytes(&self) -> usize {
        match self {
            ColumnBuilder::Text(b) => b.values_slice().len(),
            ColumnBuilder::Blob(b) => b.values_slice().len(),
            ColumnBuilder::Uuid(_) | ColumnBuilder::Typed(_) => 0,
        }
    }
}

/// A builder for a batch of a column of `pg_type`, with room for `bytes` of text or bytea.
fn new_builder(pg_type: &str, bytes: usize) -> ColumnBuilder {
    let duck = DuckType::of(pg_type);
    match duck {
        DuckType::Blob => ColumnBuilder::Blob(BinaryBuilder::with_capacity(BATCH_ROWS, bytes)),
        DuckType::Uuid => ColumnBuilder::Uuid(FixedSizeBinaryBuilder::with_capacity(BATCH_ROWS, 16)),
        _ => Typed::of(duck, BATCH_ROWS)
            .map_or_else(|| ColumnBuilder::Text(StringBuilder::with_capacity(BATCH_ROWS, bytes)), ColumnBuilder::Typed),
    }
}

/// A uuid as PostgreSQL's `uuid_in` reads it: 32 hex digits in either case, optionally in
/// braces, with a `-` allowed after any group of four digits; `None` for anything else.
fn pg_uuid(text: &str) -> Option<[u8; 16]> {
    let text = text.as_bytes();
    let (mut rest, braces) = match text.strip_prefix(b"{") {
        Some(inner) => (inner, true),
        None => (text, false),
    };
    let mut uuid = [0u8; 16];
    for (i, byte) in uuid.iter_mut().enumerate() {
        let [high, low, after @ ..] = rest else { return None };
        *byte = hex_pair(*high, *low)?;
        rest = match after {
            [b'-', tail @ ..] if i % 2 == 1 && i < 15 => tail,
            _ => after,
        };
    }
    if braces {
        rest = rest.strip_prefix(b"}")?;
    }
    rest.is_empty().then_some(uuid)
}

/// The bytes of bytea's text form `\x` followed by pairs of hex digits (PostgreSQL's
/// `bytea_output = hex`, what pg_dump writes); `None` for anything else.
fn bytea_hex(text: &str) -> Option<Vec<u8>> {
    let digits = text.strip_prefix("\\x")?.as_bytes();
    if digits.len() % 2 != 0 {
        return None;
    }
    digits.chunks(2).map(|pair| hex_pair(pair[0], pair[1])).collect()
}

/// The byte two hex digits (either case) spell.
fn hex_pair(high: u8, low: u8) -> Option<u8> {
    const INVALID: u8 = 0xff;
    const DIGITS: [u8; 256] = {
        let mut digits = [INVALID; 256];
        let mut i = 0;
        while i < 10 {
            digits[b'0' as usize + i] = i as u8;
            i += 1;
        }
        let mut i = 0;
        while i < 6 {
            digits[b'a' as usize + i] = 10 + i as u8;
            digits[b'A' as usize + i] = 10 + i as u8;
            i += 1;
        }
        digits
    };
    let (high, low) = (DIGITS[high as usize], DIGITS[low as usize]);
    (high != INVALID && low != INVALID).then_some(high << 4 | low)
}

/// A value that is not of its column's type, named by its row.
pub fn invalid_value(origin: &Origin, at: u64, value: &str, column: &Column, table: &TableName) -> Error {
    let shown: String = value.chars().take(60).collect();
    Error::bad_input(
        origin.locate(at),
        format!("{shown:?} is not a valid {} for column \"{}\" of {table}", column.pg_type, column.name),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use duckdb::arrow::array::{Array, AsArray};
    use std::path::PathBuf;

    fn column(name: &str, pg_type: &str, not_null: bool) -> Column {
        Column { name: name.into(), pg_type: pg_type.into(), not_null, default: None, generated: None, collation: None }
    }

    fn batcher(columns: Vec<Column>) -> TableBatcher {
        TableBatcher::new(TableName::new("public", "t"), columns, Origin::Lines(PathBuf::from("dump.sql")))
    }

    #[test]
    fn a_batch_holds_text_nulls_and_decoded_bytea() {
        let mut rows = batcher(vec![column("a", "text", false), column("b", "bytea", false)]);
        assert!(rows.push(&[Some("x"), Some("\\x00ff")], 10).unwrap().is_none());
        assert!(rows.push(&[None, None], 11).unwrap().is_none());
        let batch = rows.flush().unwrap().unwrap();
        assert_eq!(batch.positions, [10, 11]);
        let text = batch.record.column(0).as_string::<i32>();
        assert_eq!((text.value(0), text.is_null(1)), ("x", true));
        let bytes = batch.record.column(1).as_binary::<i32>();
        assert_eq!((bytes.value(0), bytes.is_null(1)), (&[0u8, 255][..], true));
        assert!(rows.flush().unwrap().is_none());
    }

    #[test]
    fn uuids_read_as_postgresql_reads_them() {
        let canonical = "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11";
        let expected =
            Some([0xa0, 0xee, 0xbc, 0x99, 0x9c, 0x0b, 0x4e, 0xf8, 0xbb, 0x6d, 0x6b, 0xb9, 0xbd, 0x38, 0x0a, 0x11]);
        // The spellings of PostgreSQL's documentation (8.12), all the same value.
        for text in [
            canonical,
            "A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11",
            "{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}",
            "a0eebc999c0b4ef8bb6d6bb9bd380a11",
            "a0ee-bc99-9c0b-4ef8-bb6d-6bb9-bd38-0a11",
            "{a0eebc99-9c0b4ef8-bb6d6bb9-bd380a11}",
        ] {
            assert_eq!(pg_uuid(text), expected, "{text}");
        }
        for text in [
            "",
            "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1",
            "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a111",
            "a0eebc9-99c0b-4ef8-bb6d-6bb9bd380a11",
            "{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
            "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11-",
            " a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
            "g0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
        ] {
            assert_eq!(pg_uuid(text), None, "{text}");
        }
    }

    #[test]
    fn full_batches_come_out_as_rows_arrive() {
        let mut rows = batcher(vec![column("a", "integer", false)]);
        let full: Vec<Batch> =
            (0..BATCH_ROWS as u64 * 2 + 1).filter_map(|i| rows.push(&[Some("1")], i).unwrap()).collect();
        assert_eq!(full.iter().map(|b| b.record.num_rows()).collect::<Vec<_>>(), [BATCH_ROWS, BATCH_ROWS]);
        assert_eq!(rows.flush().unwrap().unwrap().positions, [BATCH_ROWS as u64 * 2]);
    }

    #[test]
    fn bad_rows_are_refused_whole_at_their_line() {
        let mut rows =
            batcher(vec![column("a", "text", false), column("id", "uuid", true), column("b", "bytea", false)]);
        let id = "00000000-0000-0000-0000-000000000001";
        rows.push(&[Some("kept"), Some(id), None], 1).unwrap();
        let null = rows.push(&[Some("x"), None, None], 2).unwrap_err().to_string();
        assert_eq!(null, "dump.sql:2: NULL in column \"id\" of public.t, which is NOT NULL");
        let hex = rows.push(&[Some("x"), Some(id), Some("\\x0g")], 3).unwrap_err().to_string();
        assert_eq!(hex, "dump.sql:3: \"\\\\x0g\" is not a valid bytea for column \"b\" of public.t");
        assert!(rows.push(&[None, Some(id), Some("\\x1")], 4).is_err());
        let uuid = rows.push(&[None, Some("not-a-uuid"), None], 5).unwrap_err().to_string();
        assert_eq!(uuid, "dump.sql:5: \"not-a-uuid\" is not a valid uuid for column \"id\" of public.t");
        let batch = rows.flush().unwrap().unwrap();
        assert_eq!((batch.record.num_rows(), batch.positions), (1, vec![1]));
    }
}
