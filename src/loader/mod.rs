//! Loading rows into the workspace. A lane is a pipeline on two threads: its reader decodes rows
//! and gathers them into record batches (`batch`), while DuckDB appends the batches on another
//! (`append`), with a short queue between them so that memory stays bounded whatever the size.
//! Where the export lets readers reach each table's rows on their own, two lanes go through it
//! side by side and each loads the tables it reaches first (`claims`): DuckDB inserts a table on
//! one core only, and the lanes keep both cores busy.

mod append;
mod batch;
mod claims;
mod typed;

use crate::catalog::{Catalog, TableName};
use crate::duckdb_raw::RawConnection;
use crate::error::{Error, Result};
use crate::input::{Origin, RowSink};
use crate::progress::Progress;
use crate::workspace::{release_freed_memory, Workspace};
use append::{Failure, Inserted, Message};
use batch::{Batch, TableBatcher};
use claims::Claims;
use duckdb::Connection;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{channel, sync_channel, Receiver, SyncSender};

/// Batches waiting for DuckDB: enough that neither side waits on the other's hiccups.
const QUEUE: usize = 4;

/// Lanes for an export whose tables readers reach on their own: one for each of the two cores
/// that the loading is made for; more would hold more row groups in memory at once.
pub const LANES: usize = 2;

/// Runs `read` on each of `lanes` lanes; it streams rows into the sink it is given, which loads
/// them into the tables made by `Workspace::create_tables`. Returns the rows loaded per table.
/// With several lanes, `read` must ask the sink to `claim` each table before its rows.
/// `export_order` lists the tables in the order the export holds their rows: of several
/// failures, the one of the table first in the export is reported; within a lane, DuckDB's
/// error wins over the reader's: it concerns rows that the reader had already passed.
pub fn load_rows(
    workspace: &Workspace,
    catalog: &Catalog,
    progress: &Progress,
    lanes: usize,
    export_order: &[TableName],
    read: impl Fn(&mut dyn RowSink) -> Result<()> + Sync,
) -> Result<BTreeMap<TableName, u64>> {
    let setup = workspace.raw_connection()?;
    append::prepare(&setup, workspace.on_disk())?;
    let claims = Claims::new(export_order);
    let shared = &Shared { catalog, progress, claims: &claims, read: &read };
    let mut counts = BTreeMap::new();
    let mut first_failure: Option<Failure> = None;
    // A lane whose reader fails stops there. Tables before that failure which no lane reached
    // yet are read in another round, so that the failure reported is the first in the export.
    let mut round = 0;
    let rounds = loop {
        let claimed = claims.claimed();
        let outcomes = match shared.round(workspace, lanes.max(1), round) {
            Ok(outcomes) => outcomes,
            Err(error) => break Err(error),
        };
        for outcome in outcomes {
            match outcome {
                Ok(loaded) => loaded.into_iter().for_each(|(table, rows)| *counts.entry(table).or_default() += rows),
                Err(failure) if first_failure.as_ref().is_none_or(|first| failure.claim < first.claim) => {
                    first_failure = Some(failure)
                }
                Err(_) => {}
            }
        }
        match &first_failure {
            Some(failure) if claims.unclaimed_before(failure.claim) && claims.claimed() > claimed => round += 1,
            _ => break Ok(()),
        }
    };
    let finished = append::finish(&setup);
    // The allocator keeps what the lanes' threads freed in their arenas, where the rehearsal
    // that follows on the main thread does not reuse it (30 MB more peak RSS with two lanes).
    release_freed_memory();
    rounds?;
    match first_failure {
        Some(failure) => Err(failure.error),
        None => finished.map(|()| counts),
    }
}

/// What the lanes share.
struct Shared<'a, R> {
    catalog: &'a Catalog,
    progress: &'a Progress,
    claims: &'a Claims,
    read: &'a R,
}

impl<R: Fn(&mut dyn RowSink) -> Result<()> + Sync> Shared<'_, R> {
    /// Runs `lanes` lanes side by side until each has read what it could claim. Each round's
    /// lanes are new ones: a lane of an earlier round holds the table it failed at.
    fn round(
        &self,
        workspace: &Workspace,
        lanes: usize,
        round: usize,
    ) -> Result<Vec<Result<BTreeMap<TableName, u64>, Failure>>> {
        let connections = (0..lanes)
            .map(|_| Ok((workspace.connection().try_clone()?, workspace.raw_connection()?)))
            .collect::<Result<Vec<(Connection, RawConnection)>>>()?;
        Ok(std::thread::scope(|scope| {
            let mut connections = (round * lanes..).zip(connections);
            let first = connections.next().expect("one lane at least");
            let others: Vec<_> =
                connections.map(|(lane, (conn, raw))| scope.spawn(move || self.lane(lane, conn, raw))).collect();
            let (lane, (conn, raw)) = first;
            let mut outcomes = vec![self.lane(lane, conn, raw)];
            outcomes
                .extend(others.into_iter().map(|l| l.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))));
            outcomes
        }))
    }

    /// Loads the tables that lane `lane` claims; on a failure the other lanes take only tables
    /// before the failed one.
    fn lane(&self, lane: usize, conn: Connection, raw: RawConnection) -> Result<BTreeMap<TableName, u64>, Failure> {
        let (sender, receiver) = sync_channel(QUEUE);
        let (inserted_sender, inserted) = channel();
        let refused = &AtomicUsize::new(usize::MAX);
        let outcome = std::thread::scope(|scope| {
            let appending = scope.spawn(move || append::run(conn, raw, receiver, lane, inserted_sender, refused));
            let mut sink = BatchSink {
                catalog: self.catalog,
                claims: self.claims,
                lane,
                claim: 0,
                sender,
                inserted,
                awaited: 0,
                refused,
                current: None,
                counts: BTreeMap::new(),
                progress: self.progress,
            };
            let read = (self.read)(&mut sink);
            // Whole rows read before a failure still go to DuckDB: its error, if it finds one
            // in the same table, comes first in the input.
            let sent = sink.flush();
            let (counts, claim) = (std::mem::take(&mut sink.counts), sink.claim);
            drop(sink); // hangs up: the appending thread ends after the last message
            let appended = appending.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            match (appended, read.and(sent).map_err(|error| Failure { claim, error })) {
                (Err(inserting), Err(reading)) if reading.claim < inserting.claim => Err(reading),
                (Err(failure), _) | (Ok(()), Err(failure)) => Err(failure),
                (Ok(()), Ok(())) => Ok(counts),
            }
        });
        if let Err(failure) = &outcome {
            self.claims.fail(failure.claim);
        }
        outcome
    }
}

struct BatchSink<'a> {
    catalog: &'a Catalog,
    claims: &'a Claims,
    lane: usize,
    /// The claim number of the table being read.
    claim: usize,
    sender: SyncSender<Message>,
    /// DuckDB's word on each table the lane sent, and how many are still to come.
    inserted: Receiver<Inserted>,
    awaited: usize,
    /// The claim number of a table whose rows DuckDB refused: its reader stops there.
    refused: &'a AtomicUsize,
    current: Option<(TableBatcher, u64)>,
    counts: BTreeMap<TableName, u64>,
    progress: &'a Progress,
}

impl BatchSink<'_> {
    fn send(&self, message: Message) -> Result<()> {
        // Only a failed append hangs up; the caller reports that failure instead of this one.
        self.sender.send(message).map_err(|_| Error::Internal("the appending thread stopped".into()))
    }

    /// Sends a batch, counting its rows as done: a count for each row, shared by the lanes,
    /// cost as much as a tenth of the reading.
    fn send_rows(&self, batch: Batch) -> Result<()> {
        if self.refused.load(Ordering::Relaxed) == self.claim {
            // DuckDB's failure, earlier in this table, is the one reported.
            return Err(Error::Internal(format!("DuckDB refused rows of claim {} before these", self.claim)));
        }
        self.progress.add(batch.record.num_rows() as u64);
        self.send(Message::Rows(batch))
    }

    /// Sends the rows gathered of the open table.
    fn flush(&mut self) -> Result<()> {
        let Some((batcher, _)) = self.current.as_mut() else { return Ok(()) };
        match batcher.flush()? {
            Some(batch) => self.send_rows(batch),
            None => Ok(()),
        }
    }
}

impl BatchSink<'_> {
    /// Waits until DuckDB has inserted the tables sent, and passes on their failures; `false`
    /// when DuckDB stopped. A lane thus holds no table unfinished but the one it reads: the
    /// tables it did not reach yet are left to the other lanes, and a failure is known before
    /// another table is claimed.
    fn await_inserts(&mut self) -> bool {
        while self.awaited > 0 {
            match self.inserted.recv() {
                Ok(Ok(())) => {}
                Ok(Err(claim)) => self.claims.fail(claim),
                Err(_) => return false,
            }
            self.awaited -= 1;
        }
        true
    }
}

impl RowSink for BatchSink<'_> {
    fn claim(&mut self, table: &TableName) -> bool {
        if !self.await_inserts() {
            return false;
        }
        // The reader fails at this table from here on, even before its first row.
        match self.claims.claim(self.lane, table) {
            Some(claim) => {
                self.claim = claim;
                true
            }
            None => false,
        }
    }

    fn begin(&mut self, table: &TableName, columns: &[String], origin: Origin, at: u64) -> Result<()> {
        let declared = self.catalog.table(table).ok_or_else(|| {
            Error::bad_input(origin.locate(at), format!("rows for table {table}, which the schema does not declare"))
        })?;
        self.claim = self
            .claims
            .claim(self.lane, table)
            .ok_or_else(|| Error::Internal(format!("rows of {table} were read by a lane that did not claim them")))?;
        let mut chosen = Vec::with_capacity(columns.len());
        for name in columns {
            let column = declared.column(name).ok_or_else(|| {
                Error::bad_input(origin.locate(at), format!("column \"{name}\" is not in table {table}"))
            })?;
            chosen.push(column.clone());
        }
        let begin =
            Message::Begin { table: table.clone(), columns: chosen.clone(), origin: origin.clone(), claim: self.claim };
        self.send(begin)?;
        self.current = Some((TableBatcher::new(table.clone(), chosen, origin), 0));
        Ok(())
    }

    fn row(&mut self, fields: &[Option<&str>], at: u64) -> Result<()> {
        let (batcher, rows) = self.current.as_mut().expect("row() before begin()");
        let full = batcher.push(fields, at)?;
        *rows += 1;
        match full {
            Some(batch) => self.send_rows(batch),
            None => Ok(()),
        }
    }

    fn end(&mut self) -> Result<u64> {
        self.flush()?;
        let (batcher, rows) = self.current.take().expect("end() before begin()");
        self.send(Message::End)?;
        self.awaited += 1;
        *self.counts.entry(batcher.table).or_default() += rows;
        Ok(rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{Column, Table};
    use std::path::PathBuf;

    fn column(name: &str, pg_type: &str) -> Column {
        Column {
            name: name.into(),
            pg_type: pg_type.into(),
            not_null: false,
            default: None,
            generated: None,
            collation: None,
        }
    }

    fn workspace_with(table: &str, columns: Vec<Column>) -> (Workspace, Catalog, TableName) {
        let name = TableName::new("public", table);
        let mut catalog = Catalog::default();
        catalog.tables.push(Table::new(name.clone(), columns));
        let workspace = Workspace::in_memory().unwrap();
        workspace.create_tables(&catalog, std::slice::from_ref(&name)).unwrap();
        (workspace, catalog, name)
    }

    fn origin() -> Origin {
        Origin::Lines(PathBuf::from("dump.sql"))
    }

    fn uuid(i: u64) -> String {
        format!("00000000-0000-4000-8000-{i:012x}")
    }

    /// Loads `rows` rows of (id uuid, n integer, at timestamp, data bytea, note text), the
    /// values of row `i` made by `value`, then fails with `reader_error` if given.
    fn load(
        rows: u64,
        value: impl Fn(u64, usize) -> Option<String> + Sync,
        reader_error: Option<Error>,
    ) -> Result<Workspace> {
        let columns = vec![column("id", "uuid"), column("n", "integer"), column("at", "timestamp without time zone")];
        let columns = [columns, vec![column("data", "bytea"), column("note", "text")]].concat();
        let names: Vec<String> = columns.iter().map(|c| c.name.clone()).collect();
        let (workspace, catalog, table) = workspace_with("t", columns);
        let reader_error = std::sync::Mutex::new(reader_error);
        let counts = load_rows(&workspace, &catalog, &Progress::default(), 1, &[], |sink| {
            sink.begin(&table, &names, origin(), 1)?;
            for i in 0..rows {
                let fields: Vec<Option<String>> = (0..names.len()).map(|c| value(i, c)).collect();
                let fields: Vec<Option<&str>> = fields.iter().map(Option::as_deref).collect();
                sink.row(&fields, i + 2)?;
            }
            match reader_error.lock().unwrap().take() {
                Some(error) => Err(error),
                None => sink.end().map(|_| ()),
            }
        })?;
        assert_eq!(counts.get(&table), Some(&rows));
        Ok(workspace)
    }

    fn good(i: u64, c: usize) -> Option<String> {
        match c {
            0 => Some(uuid(i)),
            1 => Some(i.to_string()),
            2 => Some(format!("2024-01-02 03:{:02}:{:02}", i / 60 % 60, i % 60)),
            3 => (!i.is_multiple_of(3)).then(|| format!("\\x{:02x}ff", i % 256)),
            _ => (!i.is_multiple_of(5)).then(|| format!("row\t{i} 'quoted' ünïcode")),
        }
    }

    #[test]
    fn rows_load_typed_whole_and_in_order_across_batches() {
        let rows = 5_000;
        let workspace = load(rows, good, None).unwrap();
        let mut stmt = workspace
            .connection()
            .prepare(
                "SELECT CAST(id AS VARCHAR), n, CAST(\"at\" AS VARCHAR), '\\x' || lower(hex(data)), note FROM public.t",
            )
            .unwrap();
        let loaded: Vec<Vec<Option<String>>> = stmt
            .query_map([], |r| {
                Ok(vec![
                    r.get::<_, Option<String>>(0)?,
                    r.get::<_, Option<i64>>(1)?.map(|n| n.to_string()),
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                ])
            })
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(loaded.len() as u64, rows);
        for (i, row) in loaded.iter().enumerate() {
            let expected: Vec<Option<String>> = (0..5).map(|c| good(i as u64, c)).collect();
            assert_eq!(row, &expected, "row {i}");
        }
    }

    #[test]
    fn a_workspace_file_loads_many_batches_in_one_insert_and_gets_its_settings_back() {
        let defaults = "SELECT CAST(current_setting('threads') AS VARCHAR), current_setting('memory_limit')";
        let fresh = Workspace::in_memory().unwrap();
        let default: (String, String) =
            fresh.connection().query_row(defaults, [], |r| Ok((r.get(0)?, r.get(1)?))).unwrap();
        let workspace = Workspace::scratch().unwrap();
        let name = TableName::new("public", "t");
        let mut catalog = Catalog::default();
        catalog.tables.push(Table::new(name.clone(), vec![column("n", "bigint"), column("note", "text")]));
        workspace.create_tables(&catalog, std::slice::from_ref(&name)).unwrap();
        // 40 MB of text in ten batches of one table: one INSERT over the stream of them all.
        let (rows, note) = (20_000u64, "x".repeat(2_000));
        load_rows(&workspace, &catalog, &Progress::default(), 1, &[], |sink| {
            sink.begin(&name, &["n".to_string(), "note".to_string()], origin(), 1)?;
            for i in 0..rows {
                sink.row(&[Some(&i.to_string()), Some(&note)], i + 2)?;
            }
            sink.end().map(|_| ())
        })
        .unwrap();
        let (count, sum, length): (i64, i64, i64) = workspace
            .connection()
            .query_row("SELECT count(*), sum(n), sum(length(note)) FROM public.t", [], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .unwrap();
        assert_eq!((count, sum, length), (20_000, 199_990_000, 40_000_000));
        let after: (String, String) =
            workspace.connection().query_row(defaults, [], |r| Ok((r.get(0)?, r.get(1)?))).unwrap();
        assert_eq!(after, default);
    }

    /// A scratch workspace with tables t0… t`tables - 1` of (n bigint), in the export's order.
    fn bigint_tables(tables: usize) -> (Workspace, Catalog, Vec<TableName>) {
        let names: Vec<TableName> = (0..tables).map(|t| TableName::new("public", &format!("t{t}"))).collect();
        let mut catalog = Catalog::default();
        for name in &names {
            catalog.tables.push(Table::new(name.clone(), vec![column("n", "bigint")]));
        }
        let workspace = Workspace::scratch().unwrap();
        workspace.create_tables(&catalog, &names).unwrap();
        (workspace, catalog, names)
    }

    /// Loads tables t0… of (n bigint) on two lanes, table `t` holding `rows(t)` rows 0, 1, …, the
    /// row of `bad` (table, row) spelled `12x`. Both lanes go through the tables in the order
    /// of `visit` (the export's order is t0, t1, …) and read every table they claim.
    fn load_on_two_lanes(
        rows: impl Fn(usize) -> u64 + Sync,
        visit: &[usize],
        bad: &[(usize, u64)],
    ) -> Result<Workspace> {
        let (workspace, catalog, names) = bigint_tables(visit.len());
        let counts = load_rows(&workspace, &catalog, &Progress::default(), LANES, &names, |sink| {
            for (t, name) in visit.iter().map(|&t| (t, &names[t])) {
                if !sink.claim(name) {
                    continue;
                }
                sink.begin(name, &["n".to_string()], Origin::Lines(PathBuf::from(format!("t{t}.copy"))), 1)?;
                for i in 0..rows(t) {
                    let value = if bad.contains(&(t, i)) { "12x".to_string() } else { i.to_string() };
                    sink.row(&[Some(&value)], i + 2)?;
                }
                sink.end()?;
            }
            Ok(())
        })?;
        let expected: BTreeMap<TableName, u64> = names.iter().enumerate().map(|(t, n)| (n.clone(), rows(t))).collect();
        assert_eq!(counts, expected);
        Ok(workspace)
    }

    #[test]
    fn two_lanes_load_every_table_once_with_its_rows_in_order() {
        let rows = |t: usize| (t as u64 % 3 + 1) * 3_000;
        let workspace = load_on_two_lanes(rows, &[0, 1, 2, 3, 4, 5, 6], &[]).unwrap();
        for t in 0..7 {
            let sql = format!("SELECT count(*), bool_and(n = rowid) FROM public.t{t}");
            let (count, in_order): (i64, bool) =
                workspace.connection().query_row(&sql, [], |r| Ok((r.get(0)?, r.get(1)?))).unwrap();
            assert_eq!((count as u64, in_order), (rows(t), true), "t{t}");
        }
    }

    #[test]
    fn of_two_lanes_failing_the_table_first_in_the_export_is_reported() {
        // t1 fails at once on the other lane, t0 only after 60 000 rows: t0 is the one reported.
        let rows = |t: usize| if t == 0 { 60_001 } else { 10 };
        let error = load_on_two_lanes(rows, &[0, 1, 2], &[(0, 60_000), (1, 0)]).err().unwrap().to_string();
        assert_eq!(error, "t0.copy:60002: \"12x\" is not a valid bigint for column \"n\" of public.t0");
    }

    #[test]
    fn lanes_going_the_largest_first_still_report_the_failure_first_in_the_export() {
        // The lanes reach t3 and t2 first, both failing at once; t0 and t1, before them in the
        // export, are still loaded after those failures, and t1's is the one reported.
        let rows = |t: usize| [5_000, 5_000, 10, 10][t];
        let error = load_on_two_lanes(rows, &[3, 2, 1, 0], &[(3, 0), (2, 0), (1, 4_000)]).err().unwrap().to_string();
        assert_eq!(error, "t1.copy:4002: \"12x\" is not a valid bigint for column \"n\" of public.t1");
        let visited_last = load_on_two_lanes(rows, &[3, 2, 1, 0], &[(3, 0), (0, 4_999)]).err().unwrap().to_string();
        assert_eq!(visited_last, "t0.copy:5001: \"12x\" is not a valid bigint for column \"n\" of public.t0");
    }

    #[test]
    fn when_readers_fail_on_every_lane_the_tables_before_their_failures_are_still_read() {
        // Both lanes' readers fail at once on t3 and t2, which they reach first; t1 and t0
        // are read in another round, and t0's failure, first in the export, is reported.
        let (workspace, catalog, names) = bigint_tables(4);
        let error = load_rows(&workspace, &catalog, &Progress::default(), LANES, &names, |sink| {
            for (t, name) in names.iter().enumerate().rev() {
                if !sink.claim(name) {
                    continue;
                }
                let origin = Origin::Lines(PathBuf::from(format!("t{t}.copy")));
                sink.begin(name, &["n".to_string()], origin.clone(), 1)?;
                for i in 0..1_000 {
                    if t != 1 && i == 500 {
                        return Err(Error::bad_input(origin.locate(i + 2), "the reader's own complaint"));
                    }
                    sink.row(&[Some(&i.to_string())], i + 2)?;
                }
                sink.end()?;
            }
            Ok(())
        })
        .err()
        .unwrap();
        assert_eq!(error.to_string(), "t0.copy:502: the reader's own complaint");
    }

    #[test]
    fn other_spellings_of_integers_and_booleans_load_as_duckdb_casts_them() {
        let (workspace, catalog, table) = workspace_with("t", vec![column("n", "smallint"), column("b", "boolean")]);
        let rows = [("1", "t"), ("-2", "f"), (" 3 ", "TRUE"), ("+4", "no"), ("005", "t")];
        load_rows(&workspace, &catalog, &Progress::default(), 1, &[], |sink| {
            sink.begin(&table, &["n".to_string(), "b".to_string()], origin(), 1)?;
            for (i, (n, b)) in rows.iter().enumerate() {
                sink.row(&[Some(n), Some(b)], i as u64 + 2)?;
            }
            sink.row(&[None, None], 9)?;
            sink.end().map(|_| ())
        })
        .unwrap();
        let mut stmt = workspace.connection().prepare("SELECT n, b FROM public.t").unwrap();
        let loaded: Vec<(Option<i16>, Option<bool>)> =
            stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap().collect::<Result<_, _>>().unwrap();
        let expected = [(1, true), (-2, false), (3, true), (4, false), (5, true)].map(|(n, b)| (Some(n), Some(b)));
        assert_eq!(loaded, [&expected[..], &[(None, None)]].concat());
    }

    #[test]
    fn a_batch_with_a_column_gone_to_text_loads_between_typed_ones_in_order() {
        let (workspace, catalog, table) = workspace_with("t", vec![column("i", "bigint"), column("n", "integer")]);
        let rows = 3 * 2048 + 5;
        let spelled = |i: u64| if i == 3_000 { " 7 ".to_string() } else { (i % 1000).to_string() };
        load_rows(&workspace, &catalog, &Progress::default(), 1, &[], |sink| {
            sink.begin(&table, &["i".to_string(), "n".to_string()], origin(), 1)?;
            for i in 0..rows {
                sink.row(&[Some(&i.to_string()), Some(&spelled(i))], i + 2)?;
            }
            sink.end().map(|_| ())
        })
        .unwrap();
        let mut stmt = workspace.connection().prepare("SELECT i, n FROM public.t").unwrap();
        let loaded: Vec<(i64, i32)> =
            stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap().collect::<Result<_, _>>().unwrap();
        let expected: Vec<(i64, i32)> =
            (0..rows).map(|i| (i as i64, if i == 3_000 { 7 } else { (i % 1000) as i32 })).collect();
        assert_eq!(loaded, expected);
    }

    #[test]
    fn dates_and_timestamps_load_as_duckdb_casts_their_text() {
        let (workspace, catalog, table) = workspace_with(
            "t",
            vec![column("i", "integer"), column("d", "date"), column("ts", "timestamp(3) without time zone")],
        );
        let values = [
            ("1970-01-01", "1970-01-01 00:00:00"),
            ("2024-02-29", "2024-02-29 23:59:59.5"),
            ("0001-01-01", "0001-01-01 00:00:00.000001"),
            ("9999-12-31", "9999-12-31 23:59:59.999999"),
            ("1900-03-01", "1969-12-31 23:59:59.12"),
            ("2000-02-29", "2038-01-19 03:14:08.123"),
            // Spellings decoded by DuckDB's cast, not here; the rows after them again here.
            ("2024-1-5", "2024-01-05T10:00:00"),
            ("1999-12-31", "1999-12-31 12:00"),
            ("infinity", "2024-01-01 24:00:00"),
            ("2023-06-15", "2023-06-15 08:30:00"),
        ];
        load_rows(&workspace, &catalog, &Progress::default(), 1, &[], |sink| {
            sink.begin(&table, &["i".to_string(), "d".to_string(), "ts".to_string()], origin(), 1)?;
            for (i, (d, ts)) in values.iter().enumerate() {
                sink.row(&[Some(&i.to_string()), Some(d), Some(ts)], i as u64 + 2)?;
            }
            sink.end().map(|_| ())
        })
        .unwrap();
        let conn = workspace.connection();
        for (i, (d, ts)) in values.iter().enumerate() {
            let sql =
                "SELECT d = CAST(? AS DATE), ts = CAST(? AS TIMESTAMP), CAST(ts AS VARCHAR) FROM public.t WHERE i = ?";
            let (same_date, same_timestamp, shown): (bool, bool, String) = conn
                .query_row(sql, duckdb::params![d, ts, i as i64], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .unwrap();
            assert!(same_date && same_timestamp, "row {i}: {d} {ts} loaded as {shown}");
        }
    }

    #[test]
    fn a_value_duckdb_cannot_cast_is_named_by_its_line() {
        let bad = |i, c| if i == 3_000 && c == 1 { Some("12x".to_string()) } else { good(i, c) };
        let error = load(4_000, bad, None).err().unwrap().to_string();
        assert_eq!(error, "dump.sql:3002: \"12x\" is not a valid integer for column \"n\" of public.t");
    }

    #[test]
    fn a_reader_stops_soon_after_duckdb_refused_its_table() {
        let (workspace, catalog, table) = workspace_with("t", vec![column("n", "bigint")]);
        let (rows, read) = (400_000, std::sync::atomic::AtomicU64::new(0));
        let error = load_rows(&workspace, &catalog, &Progress::default(), 1, &[], |sink| {
            sink.begin(&table, &["n".to_string()], origin(), 1)?;
            for i in 0..rows {
                read.fetch_add(1, Ordering::Relaxed);
                sink.row(&[Some(if i == 10 { "12x" } else { "1" })], i + 2)?;
            }
            sink.end().map(|_| ())
        })
        .err()
        .unwrap();
        assert_eq!(error.to_string(), "dump.sql:12: \"12x\" is not a valid bigint for column \"n\" of public.t");
        let read = read.load(Ordering::Relaxed);
        assert!(read < rows / 2, "{read} of {rows} rows read after DuckDB refused the table");
    }

    #[test]
    fn a_bad_value_before_a_reader_error_is_the_one_reported() {
        let bad = |i, c| if i == 10 && c == 2 { Some("2024-13-45".to_string()) } else { good(i, c) };
        let reader = Error::bad_input(origin().locate(99), "the reader's own complaint");
        let error = load(50, bad, Some(reader)).err().unwrap().to_string();
        assert_eq!(
            error,
            "dump.sql:12: \"2024-13-45\" is not a valid timestamp without time zone for column \"at\" of public.t"
        );
        let reader = Error::bad_input(origin().locate(99), "the reader's own complaint");
        let error = load(50, good, Some(reader)).err().unwrap().to_string();
        assert_eq!(error, "dump.sql:99: the reader's own complaint");
    }
}
