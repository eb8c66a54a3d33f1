//! Readers: each kind of export becomes a catalog (pass 1, cheap: DDL only, data skipped at I/O
//! speed) and then streams the rows of just the tables asked for into a `RowSink` (pass 2).
//! Readers never touch the workspace; they only hand rows on.

pub mod archive;
mod archive_toc;
pub mod copy_text;
pub mod csv_dir;
pub mod csv_text;
pub mod custom;
pub mod ddl;
pub mod encoding;
pub mod fingerprint;
mod inflate;
pub mod inserts;
pub mod plain;
pub mod source;
pub mod statements;

use crate::catalog::{Catalog, TableName};
use crate::error::{Error, Location, Place, Result};
use crate::progress::Progress;
use fingerprint::Fingerprinting;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The kinds of export rehearse reads (ROLLBACK.md §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Plain,
    PlainGzip,
    PlainLz4,
    PlainZstd,
    Custom,
    Directory,
    Tar,
    CsvDirectory,
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Format::Plain => "pg_dump plain",
            Format::PlainGzip => "pg_dump plain (gzip)",
            Format::PlainLz4 => "pg_dump plain (lz4)",
            Format::PlainZstd => "pg_dump plain (zstd)",
            Format::Custom => "pg_dump custom archive",
            Format::Directory => "pg_dump directory archive",
            Format::Tar => "pg_dump tar archive",
            Format::CsvDirectory => "CSV directory",
        }
    }
}

/// Rows of a table that the input holds.
#[derive(Debug, Clone)]
pub struct TableData {
    pub table: TableName,
    /// Known without decoding (lines of a COPY block); `None` where only a parse could tell.
    pub rows: Option<u64>,
}

/// What pass 1 learned about an input.
#[derive(Debug)]
pub struct Scan {
    pub format: Format,
    pub catalog: Catalog,
    pub data: Vec<TableData>,
    pub pg_dump_version: Option<String>,
    /// The version of the PostgreSQL server dumped ("Dumped from database version").
    pub server_version: Option<String>,
    /// The database the export was taken from, when it names one (archives, `pg_dump
    /// --create`, the section of a `pg_dumpall` file that was read).
    pub database: Option<String>,
    /// Extensions the export creates (`CREATE EXTENSION`): their tables' DDL is not in it.
    pub extensions: Vec<String>,
    /// The thread that computes the input's size and SHA-256 beside the reading and the
    /// rehearsal (the workspace records them once done, `Workspace::fingerprint_later`).
    pub hashing: Fingerprinting,
    /// Things the user must know about how the input was read (for example inferred types).
    pub notes: Vec<String>,
}

/// How a reader's row positions read in an error message.
#[derive(Debug, Clone)]
pub enum Origin {
    /// Positions are 1-based lines of this file.
    Lines(PathBuf),
    /// Positions are 1-based rows of a table inside this file.
    Rows(PathBuf, String),
}

impl Origin {
    pub fn file(&self) -> &Path {
        match self {
            Origin::Lines(file) | Origin::Rows(file, _) => file,
        }
    }

    pub fn locate(&self, at: u64) -> Location {
        match self {
            Origin::Lines(file) => Location::line(file, at),
            Origin::Rows(file, table) => {
                Location { file: file.clone(), place: Place::Row { table: table.clone(), row: at } }
            }
        }
    }
}

/// Where rows go. Fields come as PostgreSQL text, in the order of `columns` given to `begin`.
pub trait RowSink {
    /// Whether this reader loads the rows of `table` that it reached. Readers that go through
    /// the export side by side (`Input::side_by_side`) ask before each table's rows, and skip
    /// them when another reader loads them.
    fn claim(&mut self, table: &TableName) -> bool;
    /// `at` is where the column list was declared (a COPY line, a CSV header), for errors.
    fn begin(&mut self, table: &TableName, columns: &[String], origin: Origin, at: u64) -> Result<()>;
    /// `at` is the row's position for error messages (see `Origin`).
    fn row(&mut self, fields: &[Option<&str>], at: u64) -> Result<()>;
    /// Ends the table's rows; returns how many were loaded.
    fn end(&mut self) -> Result<u64>;
}

pub trait Input: Sync {
    fn scan(&mut self) -> Result<Scan>;
    /// Whether several `load`s can go through the export at once, each reaching every table's
    /// rows without reading the others' (no stream to decompress from the start).
    fn side_by_side(&self) -> bool;
    /// Streams the rows of `tables` (only those, and only those the sink claims) into `sink`.
    /// Call after `scan`.
    fn load(&self, tables: &BTreeSet<TableName>, sink: &mut dyn RowSink) -> Result<()>;
}

/// The order in which a reader that can reach every table's rows on its own goes through the
/// export's data blocks, given each block's table and size (`None` when unknown): the tables
/// holding the most bytes first, each table's blocks in export order, tables of unknown size
/// last in export order. Side by side, a lane that met the largest table last would load it
/// alone while the other lane waits; met first, the other lanes load the rest beside it.
pub fn largest_first<'a>(blocks: impl IntoIterator<Item = (&'a TableName, Option<u64>)>) -> Vec<usize> {
    let blocks: Vec<(&TableName, Option<u64>)> = blocks.into_iter().collect();
    let mut sizes: Vec<(&TableName, Option<u64>)> = Vec::new();
    for &(table, size) in &blocks {
        match sizes.iter_mut().find(|(t, _)| *t == table) {
            Some((_, total)) => *total = total.zip(size).map(|(a, b)| a + b),
            None => sizes.push((table, size)),
        }
    }
    // Stable: tables of equal (or unknown) size keep the export's order.
    sizes.sort_by_key(|&(_, size)| std::cmp::Reverse(size));
    sizes
        .iter()
        .flat_map(|(table, _)| (0..blocks.len()).filter(|&i| blocks[i].0 == *table).collect::<Vec<_>>())
        .collect()
}

/// Opens an export, choosing the reader from what the path holds. `database` chooses one of
/// the databases of a `pg_dumpall` file. Readers count the bytes they stream into `progress`.
pub fn open(path: &Path, database: Option<&str>, progress: Arc<Progress>) -> Result<Box<dyn Input>> {
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
    if let Some(kind) = archive::kind_of(path)? {
        return Ok(Box::new(archive::Archive::new(path, kind)));
    }
    if meta.is_dir() {
        return Ok(Box::new(csv_dir::CsvDirectory::new(path)));
    }
    if meta.len() == 0 {
        return Err(Error::bad_input(Location::file(path), "the file is empty"));
    }
    let compression = source::Compression::of(path)?;
    Ok(Box::new(plain::PlainDump::new(path, compression, progress, database.map(str::to_string))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tables_holding_most_bytes_come_first_each_with_its_blocks_in_order() {
        let [a, b, c, d] = ["a", "b", "c", "d"].map(|t| TableName::new("public", t));
        let blocks = [(&a, Some(10)), (&b, Some(30)), (&a, Some(25)), (&c, None), (&d, Some(20)), (&b, Some(1))];
        assert_eq!(largest_first(blocks), [0, 2, 1, 5, 4, 3]);
        assert_eq!(largest_first([(&a, None), (&b, None)]), [0, 1]);
    }
}
