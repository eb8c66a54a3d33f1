//! DuckDB's side of loading, on a thread of its own: batches go through an appender straight
//! into the table, in the order they arrive. The appender casts each text column to its
//! column's type; a value it cannot cast is found again and named by its row.

use super::batch::{invalid_value, Batch};
use crate::catalog::{Column, TableName};
use crate::error::{Error, Result};
use crate::input::Origin;
use crate::pgtype::DuckType;
use duckdb::arrow::array::{Array, AsArray};
use duckdb::{Appender, Connection};
use std::sync::mpsc::Receiver;

/// What the reader's thread sends.
pub enum Message {
    Begin { table: TableName, columns: Vec<Column>, origin: Origin },
    Rows(Batch),
    End,
}

struct Target<'c> {
    table: TableName,
    columns: Vec<Column>,
    origin: Origin,
    appender: Appender<'c>,
}

/// The appender gathers rows until this much text is waiting, then inserts them: its own
/// threshold (204 800 rows) would hold some 130 MB of wide rows.
const FLUSH_BYTES: usize = 16 << 20;

/// DuckDB's settings while loading. One thread: the reader has the other core, and a second
/// DuckDB thread mostly spins waiting for the first (a tenth of the CPU time). A memory cap for
/// a workspace file: DuckDB then writes finished row groups out instead of caching them all.
fn load_settings(capped: bool) -> String {
    let memory = if capped { "SET memory_limit = '256MB';" } else { "" };
    format!("SET threads = 1; {memory}")
}

/// Back to DuckDB's defaults for the queries that follow the load.
const DEFAULT_SETTINGS: &str = "RESET threads; RESET memory_limit;";

/// Appends until the reader hangs up, in one transaction: DuckDB then writes full row groups
/// straight to the workspace file instead of logging every row first. Stops at the first
/// failure, which drops `messages` and so stops the reader too. `on_disk` says whether the
/// workspace is a file, which DuckDB can write rows out to.
pub fn run(conn: Connection, messages: Receiver<Message>, on_disk: bool) -> Result<()> {
    conn.execute_batch(&load_settings(on_disk))?;
    let appended = append_in_transaction(&conn, messages);
    conn.execute_batch(DEFAULT_SETTINGS)?;
    appended
}

fn append_in_transaction(conn: &Connection, messages: Receiver<Message>) -> Result<()> {
    conn.execute_batch("BEGIN TRANSACTION")?;
    append_all(conn, messages)?;
    conn.execute_batch("COMMIT")?;
    Ok(())
}

fn append_all(conn: &Connection, messages: Receiver<Message>) -> Result<()> {
    let mut target: Option<Target> = None;
    let mut waiting = 0;
    for message in messages {
        match message {
            Message::Begin { table, columns, origin } => {
                let names: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
                let appender = conn.appender_with_columns_to_db(&table.name, &table.schema, &names)?;
                target = Some(Target { table, columns, origin, appender });
            }
            Message::Rows(batch) => {
                let target = target.as_mut().expect("rows after begin");
                let positions = batch.positions;
                if let Err(error) = target.appender.append_record_batch(batch.record.clone()) {
                    return Err(cast_failure(conn, target, &batch.record, &positions)
                        .unwrap_or_else(|| unexplained(target, error)));
                }
                waiting += batch.bytes;
                if waiting >= FLUSH_BYTES {
                    target.appender.flush()?;
                    waiting = 0;
                }
            }
            Message::End => {
                let mut ended = target.take().expect("end after begin");
                ended.appender.flush()?;
                waiting = 0;
            }
        }
    }
    Ok(())
}

fn unexplained(target: &Target, error: duckdb::Error) -> Error {
    match Error::from(error) {
        Error::Internal(detail) => Error::Internal(format!(
            "no value of {} in {} is at fault, yet its rows did not load: {detail}",
            target.table,
            target.origin.file().display()
        )),
        environment => environment,
    }
}

/// The first value of the batch, in row order, that does not cast to its column's type (of
/// those that travel as text).
fn cast_failure(
    conn: &Connection,
    target: &Target,
    record: &duckdb::arrow::record_batch::RecordBatch,
    positions: &[u64],
) -> Option<Error> {
    let mut first: Option<(usize, usize)> = None;
    for (i, column) in target.columns.iter().enumerate() {
        let duck = DuckType::of(&column.pg_type);
        let Some(values) = record.column(i).as_string_opt::<i32>().filter(|_| duck != DuckType::Text) else {
            continue;
        };
        let rows: Vec<String> = (0..values.len())
            .filter(|&row| !values.is_null(row))
            .map(|row| format!("({row}, '{}')", values.value(row).replace('\'', "''")))
            .collect();
        if rows.is_empty() {
            continue;
        }
        let sql = format!(
            "SELECT min(r) FROM (VALUES {}) v(r, t) WHERE TRY_CAST(t AS {}) IS NULL",
            rows.join(", "),
            duck.sql()
        );
        let row: Option<i64> = conn.query_row(&sql, [], |r| r.get(0)).ok()?;
        if let Some(row) = row.map(|r| r as usize) {
            if first.is_none_or(|(earliest, _)| row < earliest) {
                first = Some((row, i));
            }
        }
    }
    let (row, i) = first?;
    let value = record.column(i).as_string::<i32>().value(row);
    Some(invalid_value(&target.origin, positions[row], value, &target.columns[i], &target.table))
}
