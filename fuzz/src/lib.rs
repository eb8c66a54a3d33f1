//! What the reader targets share: the fuzz input laid out where a reader can open it, a sink
//! that holds the reader to the `RowSink` contract, and the rule that a reader either reads the
//! input whole or refuses it with an error naming the input (never a panic).

use rehearse::catalog::TableName;
use rehearse::error::{Error, Result};
use rehearse::input::{Input, Origin, RowSink};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

pub mod tree;

/// The per-process scratch directory the inputs are written to.
fn scratch() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| tempfile::Builder::new().prefix("rehearse-fuzz-").tempdir().expect("a scratch dir")).path()
}

/// Writes `data` as the file `name` of the scratch directory.
pub fn write_file(name: &str, data: &[u8]) -> PathBuf {
    let path = scratch().join(name);
    std::fs::write(&path, data).expect("the scratch file is written");
    path
}

/// Lays a directory input (see `tree`) out in a fresh directory.
pub fn write_tree(data: &[u8]) -> PathBuf {
    let root = scratch().join("tree");
    if root.exists() {
        std::fs::remove_dir_all(&root).expect("the previous tree is removed");
    }
    std::fs::create_dir(&root).expect("the tree dir is created");
    tree::write(data, &root).expect("the tree is written");
    root
}

/// Holds a reader to the sink contract: `begin` (of a wanted table, none open) before rows,
/// every row as wide as the columns begun, `end` after `begin`.
#[derive(Default)]
struct ContractSink {
    wanted: BTreeSet<TableName>,
    open: Option<(TableName, usize, u64)>,
    delivered: BTreeMap<TableName, u64>,
}

impl RowSink for ContractSink {
    fn begin(&mut self, table: &TableName, columns: &[String], _origin: Origin, _at: u64) -> Result<()> {
        assert!(self.open.is_none(), "begin({table}) while another table is open");
        assert!(self.wanted.contains(table), "rows of {table}, which was not asked for");
        self.open = Some((table.clone(), columns.len(), 0));
        Ok(())
    }

    fn row(&mut self, fields: &[Option<&str>], _at: u64) -> Result<()> {
        let (table, width, rows) = self.open.as_mut().expect("row() before begin()");
        assert_eq!(fields.len(), *width, "a row of {table} as wide as its columns");
        *rows += 1;
        Ok(())
    }

    fn end(&mut self) -> Result<u64> {
        let (table, _, rows) = self.open.take().expect("end() before begin()");
        *self.delivered.entry(table).or_default() += rows;
        Ok(rows)
    }
}

/// Reads `input` whole, as `rehearse import --all-tables` does: the catalog, then the rows of
/// every table the input holds rows for. A refusal must be a bad-input (or I/O) error naming a
/// file under `under`; rows counted by the scan must all be delivered.
pub fn read_whole(input: &mut dyn Input, under: &Path) {
    let scan = match input.scan() {
        Ok(scan) => scan,
        Err(error) => return refused(error, under),
    };
    let mut sink = ContractSink { wanted: scan.data.iter().map(|d| d.table.clone()).collect(), ..Default::default() };
    if let Err(error) = input.load(&sink.wanted.clone(), &mut sink) {
        return refused(error, under);
    }
    assert!(sink.open.is_none(), "load() returned with a table left open");
    let mut counted: BTreeMap<&TableName, u64> = BTreeMap::new();
    for data in &scan.data {
        if let Some(rows) = data.rows {
            *counted.entry(&data.table).or_default() += rows;
        }
    }
    for (table, rows) in counted {
        assert_eq!(sink.delivered.get(table).copied().unwrap_or(0), rows, "rows of {table}: scanned vs loaded");
    }
}

fn refused(error: Error, under: &Path) {
    let file = match &error {
        Error::BadInput { location, .. } => &location.file,
        Error::Io { path, .. } => path,
        other => panic!("a reader failed with an error that is not about its input: {other}"),
    };
    assert!(file.starts_with(under), "the error names {}, not the input: {error}", file.display());
}
