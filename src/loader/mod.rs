//! Loading rows into the workspace on two cores: the reader decodes rows and gathers them into
//! record batches on the calling thread (`batch`), while DuckDB appends the batches on another
//! (`append`), with a short queue between them so that memory stays bounded whatever the size.

mod append;
mod batch;
mod typed;

use crate::catalog::{Catalog, TableName};
use crate::error::{Error, Result};
use crate::input::{Origin, RowSink};
use crate::progress::Progress;
use crate::workspace::Workspace;
use append::Message;
use batch::TableBatcher;
use std::collections::BTreeMap;
use std::sync::mpsc::{sync_channel, SyncSender};

/// Batches waiting for DuckDB: enough that neither side waits on the other's hiccups.
const QUEUE: usize = 4;

/// Runs `read`, which streams rows into the sink it is given, and loads those rows into the
/// tables made by `Workspace::create_tables`. Returns the rows loaded per table. When both sides
/// fail, DuckDB's error wins: it concerns rows that the reader had already passed.
pub fn load_rows(
    workspace: &Workspace,
    catalog: &Catalog,
    progress: &Progress,
    read: impl FnOnce(&mut dyn RowSink) -> Result<()>,
) -> Result<BTreeMap<TableName, u64>> {
    let conn = workspace.connection().try_clone()?;
    let raw = workspace.raw_connection()?;
    let on_disk = workspace.on_disk();
    let (sender, receiver) = sync_channel(QUEUE);
    std::thread::scope(|scope| {
        let appending = scope.spawn(move || append::run(conn, raw, receiver, on_disk));
        let mut sink = BatchSink { catalog, sender, current: None, counts: BTreeMap::new(), progress };
        let read = read(&mut sink);
        // Whole rows read before a failure still go to DuckDB: its error, if it finds one
        // there, comes first in the input.
        let sent = sink.flush();
        let counts = std::mem::take(&mut sink.counts);
        drop(sink); // hangs up: the appending thread ends after the last message
        let appended = appending.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        appended?;
        read?;
        sent?;
        Ok(counts)
    })
}

struct BatchSink<'a> {
    catalog: &'a Catalog,
    sender: SyncSender<Message>,
    current: Option<(TableBatcher, u64)>,
    counts: BTreeMap<TableName, u64>,
    progress: &'a Progress,
}

impl BatchSink<'_> {
    fn send(&self, message: Message) -> Result<()> {
        // Only a failed append hangs up; the caller reports that failure instead of this one.
        self.sender.send(message).map_err(|_| Error::Internal("the appending thread stopped".into()))
    }

    /// Sends the rows gathered of the open table.
    fn flush(&mut self) -> Result<()> {
        let Some((batcher, _)) = self.current.as_mut() else { return Ok(()) };
        match batcher.flush()? {
            Some(batch) => self.send(Message::Rows(batch)),
            None => Ok(()),
        }
    }
}

impl RowSink for BatchSink<'_> {
    fn begin(&mut self, table: &TableName, columns: &[String], origin: Origin, at: u64) -> Result<()> {
        let declared = self.catalog.table(table).ok_or_else(|| {
            Error::bad_input(origin.locate(at), format!("rows for table {table}, which the schema does not declare"))
        })?;
        let mut chosen = Vec::with_capacity(columns.len());
        for name in columns {
            let column = declared.column(name).ok_or_else(|| {
                Error::bad_input(origin.locate(at), format!("column \"{name}\" is not in table {table}"))
            })?;
            chosen.push(column.clone());
        }
        self.send(Message::Begin { table: table.clone(), columns: chosen.clone(), origin: origin.clone() })?;
        self.current = Some((TableBatcher::new(table.clone(), chosen, origin), 0));
        Ok(())
    }

    fn row(&mut self, fields: &[Option<&str>], at: u64) -> Result<()> {
        let (batcher, rows) = self.current.as_mut().expect("row() before begin()");
        let full = batcher.push(fields, at)?;
        *rows += 1;
        self.progress.add(1);
        match full {
            Some(batch) => self.send(Message::Rows(batch)),
            None => Ok(()),
        }
    }

    fn end(&mut self) -> Result<u64> {
        self.flush()?;
        let (batcher, rows) = self.current.take().expect("end() before begin()");
        self.send(Message::End)?;
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
    fn load(rows: u64, value: impl Fn(u64, usize) -> Option<String>, reader_error: Option<Error>) -> Result<Workspace> {
        let columns = vec![column("id", "uuid"), column("n", "integer"), column("at", "timestamp without time zone")];
        let columns = [columns, vec![column("data", "bytea"), column("note", "text")]].concat();
        let names: Vec<String> = columns.iter().map(|c| c.name.clone()).collect();
        let (workspace, catalog, table) = workspace_with("t", columns);
        let counts = load_rows(&workspace, &catalog, &Progress::default(), |sink| {
            sink.begin(&table, &names, origin(), 1)?;
            for i in 0..rows {
                let fields: Vec<Option<String>> = (0..names.len()).map(|c| value(i, c)).collect();
                let fields: Vec<Option<&str>> = fields.iter().map(Option::as_deref).collect();
                sink.row(&fields, i + 2)?;
            }
            match reader_error {
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
        load_rows(&workspace, &catalog, &Progress::default(), |sink| {
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

    #[test]
    fn other_spellings_of_integers_and_booleans_load_as_duckdb_casts_them() {
        let (workspace, catalog, table) = workspace_with("t", vec![column("n", "smallint"), column("b", "boolean")]);
        let rows = [("1", "t"), ("-2", "f"), (" 3 ", "TRUE"), ("+4", "no"), ("005", "t")];
        load_rows(&workspace, &catalog, &Progress::default(), |sink| {
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
        load_rows(&workspace, &catalog, &Progress::default(), |sink| {
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
        load_rows(&workspace, &catalog, &Progress::default(), |sink| {
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
