//! DuckDB's side of loading, on a thread of its own. The batches of a table stream into one
//! `INSERT … SELECT` over DuckDB's own Arrow scan, in the order they arrive: DuckDB reads their
//! values in place (an appender converted and copied them twice before they reached the table,
//! a fifth of DuckDB's time). Text columns of other types are cast in that SELECT; a value that
//! does not cast is found again and named by its row.

use super::batch::{invalid_value, Batch};
use crate::catalog::{quote_ident, Column, TableName};
use crate::duckdb_raw::RawConnection;
use crate::error::{Error, Result};
use crate::input::Origin;
use crate::pgtype::DuckType;
use duckdb::arrow::array::{Array, ArrayRef, AsArray, RecordBatch, RecordBatchReader};
use duckdb::arrow::datatypes::{DataType, SchemaRef};
use duckdb::arrow::error::ArrowError;
use duckdb::arrow::ffi_stream::FFI_ArrowArrayStream;
use duckdb::Connection;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, Sender};
use std::sync::{Arc, Mutex, MutexGuard};

/// What the reader's thread sends. `claim` is the table's claim number (see `Claims`).
pub enum Message {
    Begin { table: TableName, columns: Vec<Column>, origin: Origin, claim: usize },
    Rows(Batch),
    End,
}

struct Target {
    table: TableName,
    columns: Vec<Column>,
    origin: Origin,
    claim: usize,
}

/// An in-memory database attached while loading, which holds the views over the Arrow streams of
/// the batches being inserted (one a lane): DuckDB cannot write such a view into the workspace's
/// log.
const FEED: &str = "_rehearse_feed";

/// The view over the batches that `lane` inserts.
fn incoming(lane: usize) -> String {
    format!("incoming_{lane}")
}

/// Batches whose cast values are kept after DuckDB took them, to name the row of a failed cast.
/// DuckDB's one thread casts a batch before it takes the next, so the failing one is the last.
const KEPT: usize = 2;

/// DuckDB's settings while loading. One thread for each statement: the lanes insert other tables
/// side by side, and with two threads for one table, DuckDB's ordered parallel insert gathers
/// each 2048-row batch apart and merges them again, which took 50 % more CPU time in all. A
/// memory cap for a workspace file: DuckDB then writes finished row groups out instead of
/// caching them all.
fn load_settings(capped: bool) -> String {
    let memory = if capped { "SET memory_limit = '256MB';" } else { "" };
    format!("SET threads = 1; {memory}")
}

/// Back to DuckDB's defaults for the queries that follow the load.
const DEFAULT_SETTINGS: &str = "RESET threads; RESET memory_limit;";

/// Readies the workspace for the lanes' inserts; `on_disk` says whether it is a file, which
/// DuckDB can write rows out to. `finish` undoes it once every lane is done.
pub fn prepare(raw: &RawConnection, on_disk: bool) -> Result<()> {
    raw.execute(&format!("{} ATTACH ':memory:' AS {FEED};", load_settings(on_disk)))
}

pub fn finish(raw: &RawConnection) -> Result<()> {
    raw.execute(&format!("DETACH {FEED}; {DEFAULT_SETTINGS}"))
}

/// A failed insert, and the claim number of its table.
pub struct Failure {
    pub claim: usize,
    pub error: Error,
}

/// Whether DuckDB inserted a table's rows (sent at the end of each table): `Err` holds the
/// claim number of a table whose rows did not load.
pub type Inserted = std::result::Result<(), usize>;

/// Inserts the rows of `lane` until its reader hangs up, a statement for each table, so that
/// DuckDB writes full row groups straight to the workspace file instead of logging every row
/// first. A table that fails is passed over to its end and the next one inserted: the lane may
/// still hold a table before it in the export (see `Claims`). Returns the failure of the table
/// first in the export; the import then fails and its workspace goes. `conn` looks for the value
/// at fault when an insert fails.
pub fn run(
    conn: Connection,
    raw: RawConnection,
    messages: Receiver<Message>,
    lane: usize,
    inserted: Sender<Inserted>,
    refused: &AtomicUsize,
) -> Result<(), Failure> {
    let workspace: String = conn
        .query_row("SELECT current_database()", [], |r| r.get(0))
        .map_err(|e| Failure { claim: 0, error: e.into() })?;
    let lane = Lane { conn: &conn, raw: &raw, workspace: quote_ident(&workspace), view: incoming(lane) };
    lane.insert_all(messages, &inserted, refused)
}

/// One lane's connections; `workspace` is the quoted name of the workspace's catalog, which the
/// tables are in, `view` the name of the lane's view over its batches.
struct Lane<'a> {
    conn: &'a Connection,
    raw: &'a RawConnection<'a>,
    workspace: String,
    view: String,
}

impl Lane<'_> {
    /// `refused` is set to the claim number of a table whose rows failed, for its reader.
    fn insert_all(
        &self,
        messages: Receiver<Message>,
        inserted: &Sender<Inserted>,
        refused: &AtomicUsize,
    ) -> Result<(), Failure> {
        let messages = Arc::new(Mutex::new(messages));
        let mut target: Option<Target> = None;
        let mut first_failure: Option<Failure> = None;
        let mut failed = false;
        let mut next = receive(&messages);
        while let Some(message) = next.take() {
            next = match message {
                Message::Begin { table, columns, origin, claim } => {
                    target = Some(Target { table, columns, origin, claim });
                    failed = false;
                    receive(&messages)
                }
                Message::Rows(_) if failed => receive(&messages),
                Message::Rows(batch) => {
                    let target = target.as_ref().expect("rows after begin");
                    let (inserted, stop) = self.insert_run(target, batch, &messages);
                    if let Err(error) = inserted {
                        failed = true;
                        refused.store(target.claim, Ordering::Relaxed);
                        if first_failure.as_ref().is_none_or(|first| target.claim < first.claim) {
                            first_failure = Some(Failure { claim: target.claim, error });
                        }
                    }
                    stop
                }
                Message::End => {
                    let claim = target.take().expect("end after begin").claim;
                    // The reader may have stopped waiting; then nothing needs the answer.
                    let _ = inserted.send(if failed { Err(claim) } else { Ok(()) });
                    receive(&messages)
                }
            };
        }
        first_failure.map_or(Ok(()), Err)
    }

    /// Inserts `first` and the batches after it that share its schema (a column that turned into
    /// text starts another run), in one statement. Returns whether they loaded, and the message
    /// after the run (`None` when the reader hung up).
    fn insert_run(
        &self,
        target: &Target,
        first: Batch,
        messages: &Arc<Mutex<Receiver<Message>>>,
    ) -> (Result<()>, Option<Message>) {
        let (conn, raw, workspace, view) = (self.conn, self.raw, &self.workspace, &self.view);
        let schema = first.record.schema();
        let feed = Arc::new(Mutex::new(Feed {
            messages: messages.clone(),
            schema: schema.clone(),
            cast: cast_columns(target, &schema),
            first: Some(first),
            kept: VecDeque::with_capacity(KEPT),
            stop: None,
            ended: false,
        }));
        let mut stream = FFI_ArrowArrayStream::new(Box::new(FeedReader(feed.clone())));
        let inserted = (|| {
            raw.execute(&format!("USE {FEED}"))?;
            // SAFETY: `stream` stays in place until after the view is dropped; when that DROP
            // fails, the load fails and its workspace is discarded unscanned.
            unsafe { raw.scan_arrow(view, &mut stream)? };
            raw.execute(&format!("USE {workspace}"))?;
            let into = format!("{workspace}.{}", target.table.quoted());
            let from = format!("{FEED}.main.{view}");
            let inserted = raw.execute(&insert_sql(&into, &from, target, &schema));
            let dropped = raw.execute(&format!("DROP VIEW {from}"));
            if let Err(error) = inserted {
                let found = cast_failure(conn, target, &lock(&feed).kept);
                return Err(found.unwrap_or_else(|| unexplained(target, error)));
            }
            dropped
        })();
        drop(stream);
        let mut feed = lock(&feed);
        // A run that failed before its end leaves the rest of its batches to the caller.
        let stop = if feed.ended { feed.stop.take() } else { receive(&feed.messages) };
        (inserted, stop)
    }
}

fn receive(messages: &Mutex<Receiver<Message>>) -> Option<Message> {
    lock(messages).recv().ok()
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// `INSERT INTO into (columns) SELECT … FROM from`, casting the text of columns of other types.
fn insert_sql(into: &str, from: &str, target: &Target, schema: &SchemaRef) -> String {
    let names: Vec<String> = target.columns.iter().map(|c| quote_ident(&c.name)).collect();
    let values: Vec<String> = target
        .columns
        .iter()
        .zip(schema.fields())
        .map(|(column, field)| match field.data_type() {
            DataType::Utf8 => DuckType::of(&column.pg_type).cast_from_text(&quote_ident(field.name())),
            _ => quote_ident(field.name()),
        })
        .collect();
    format!("INSERT INTO {into} ({}) SELECT {} FROM {from}", names.join(", "), values.join(", "))
}

/// The columns whose text DuckDB casts to another type.
fn cast_columns(target: &Target, schema: &SchemaRef) -> Vec<usize> {
    (0..target.columns.len())
        .filter(|&i| {
            schema.field(i).data_type() == &DataType::Utf8 && DuckType::of(&target.columns[i].pg_type) != DuckType::Text
        })
        .collect()
}

/// A batch DuckDB took: where its rows came from, and its columns that DuckDB casts.
struct Taken {
    positions: Vec<u64>,
    cast: Vec<(usize, ArrayRef)>,
}

/// The batches of one run, handed to DuckDB's Arrow scan as it asks for them.
struct Feed {
    messages: Arc<Mutex<Receiver<Message>>>,
    schema: SchemaRef,
    cast: Vec<usize>,
    first: Option<Batch>,
    kept: VecDeque<Taken>,
    /// The message that ended the run, for the next one.
    stop: Option<Message>,
    ended: bool,
}

impl Feed {
    fn next_batch(&mut self) -> Option<Batch> {
        if self.ended {
            return None;
        }
        if let Some(first) = self.first.take() {
            return Some(first);
        }
        match receive(&self.messages) {
            Some(Message::Rows(batch)) if batch.record.schema() == self.schema => Some(batch),
            other => {
                self.stop = other;
                self.ended = true;
                None
            }
        }
    }

    fn take(&mut self) -> Option<RecordBatch> {
        let batch = self.next_batch()?;
        if self.kept.len() == KEPT {
            self.kept.pop_front();
        }
        let cast = self.cast.iter().map(|&i| (i, batch.record.column(i).clone())).collect();
        self.kept.push_back(Taken { positions: batch.positions, cast });
        Some(batch.record)
    }
}

struct FeedReader(Arc<Mutex<Feed>>);

impl Iterator for FeedReader {
    type Item = std::result::Result<RecordBatch, ArrowError>;

    fn next(&mut self) -> Option<Self::Item> {
        lock(&self.0).take().map(Ok)
    }
}

impl RecordBatchReader for FeedReader {
    fn schema(&self) -> SchemaRef {
        lock(&self.0).schema.clone()
    }
}

fn unexplained(target: &Target, error: Error) -> Error {
    match error {
        Error::Internal(detail) => Error::Internal(format!(
            "no value of {} in {} is at fault, yet its rows did not load: {detail}",
            target.table,
            target.origin.file().display()
        )),
        environment => environment,
    }
}

/// The first value of the batches, in row order, that does not cast to its column's type.
fn cast_failure(conn: &Connection, target: &Target, batches: &VecDeque<Taken>) -> Option<Error> {
    batches.iter().find_map(|batch| {
        let mut first: Option<(usize, usize)> = None;
        for (i, values) in &batch.cast {
            let values = values.as_string::<i32>();
            let duck = DuckType::of(&target.columns[*i].pg_type);
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
                    first = Some((row, *i));
                }
            }
        }
        let (row, i) = first?;
        let (_, values) = batch.cast.iter().find(|(column, _)| *column == i)?;
        let value = values.as_string::<i32>().value(row);
        Some(invalid_value(&target.origin, batch.positions[row], value, &target.columns[i], &target.table))
    })
}
