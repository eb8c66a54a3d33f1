//! pg_dump plain format (`.sql`, or compressed: gzip `.sql.gz`, lz4, zstd). Pass 1 parses every statement
//! but INSERTs, records where each table's rows lie, and skips COPY data line by line without
//! decoding it; pass 2 jumps to the blocks of the wanted tables and decodes only those (in an
//! uncompressed file the largest tables' first, `largest_first`).

use super::copy_text::DecodedRow;
use super::ddl::{self, Parsed};
use super::encoding::{self, ClientEncoding};
use super::fingerprint::Fingerprinting;
use super::inserts::{insert_target, InsertLoader, InsertTarget};
use super::source::{trim_eol, Compression, LineSource};
use super::statements::Splitter;
use super::{Format, Input, Origin, RowSink, Scan, TableData};
use crate::catalog::{Catalog, TableName};
use crate::error::{Error, Location, Result};
use crate::progress::Progress;
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BlockKind {
    Copy,
    Inserts,
}

/// Where one table's rows lie in the dump.
#[derive(Debug, Clone)]
struct Block {
    table: TableName,
    columns: Vec<String>,
    kind: BlockKind,
    /// Offset of the first data line (COPY) or first INSERT, and the line before it.
    offset: u64,
    line: u64,
    /// Offset just past the block's last line.
    end: u64,
    rows: u64,
    /// The client encoding the block's text is in.
    encoding: ClientEncoding,
}

/// What one database of the file declares: a pg_dumpall file holds one section per
/// `\connect`, a pg_dump file one (named when written with `--create`).
#[derive(Default)]
struct Section {
    database: Option<String>,
    catalog: Catalog,
    blocks: Vec<Block>,
    extensions: Vec<String>,
}

pub struct PlainDump {
    path: PathBuf,
    compression: Compression,
    progress: Arc<Progress>,
    /// The database to read, when the file holds several (`--database`).
    database: Option<String>,
    catalog: Catalog,
    blocks: Vec<Block>,
}

impl PlainDump {
    pub fn new(path: &Path, compression: Compression, progress: Arc<Progress>, database: Option<String>) -> Self {
        PlainDump {
            path: path.to_path_buf(),
            compression,
            progress,
            database,
            catalog: Catalog::default(),
            blocks: Vec::new(),
        }
    }

    fn at(&self, line: u64, message: impl Into<String>) -> Error {
        Error::bad_input(Location::line(&self.path, line), message)
    }

    /// A statement as UTF-8 text, converted from the dump's client encoding.
    fn statement_text<'a>(&self, stmt: &'a [u8], line: u64, encoding: ClientEncoding) -> Result<Cow<'a, str>> {
        encoding.decode(stmt).ok_or_else(|| {
            // No character spans a line break, so lines decode on their own.
            let valid = stmt.split_inclusive(|&b| b == b'\n').take_while(|l| encoding.decode(l).is_some()).count();
            let message = if encoding == ClientEncoding::UTF8 {
                "invalid UTF-8: rehearse reads UTF-8 dumps (pg_dump -E UTF8)".to_string()
            } else {
                encoding.invalid_text()
            };
            self.at(line + valid as u64, message)
        })
    }

    fn columns_or_all(&self, table: &TableName, columns: &[String], line: u64) -> Result<Vec<String>> {
        if !columns.is_empty() {
            return Ok(columns.to_vec());
        }
        match self.catalog.table(table) {
            Some(t) if !t.inherits.is_empty() => {
                let parents: Vec<String> = t.inherits.iter().map(ToString::to_string).collect();
                Err(self.at(
                    line,
                    format!(
                        "rows for {table} without column names, and {table} inherits from {}: PostgreSQL orders an inheritance child's columns by when they were added, which the dump does not record (re-export with --column-inserts, or without --inserts)",
                        parents.join(", ")
                    ),
                ))
            }
            Some(t) => Ok(t.columns.iter().map(|c| c.name.clone()).collect()),
            None => Err(self.at(line, format!("rows for table {table}, which the dump never creates"))),
        }
    }

    fn load_copy(&self, src: &mut LineSource, block: &Block, sink: &mut dyn RowSink) -> Result<()> {
        let columns = self.columns_or_all(&block.table, &block.columns, block.line)?;
        sink.begin(&block.table, &columns, Origin::Lines(self.path.clone()), block.line)?;
        let mut row = DecodedRow::default();
        loop {
            if !src.next_line()? {
                return Err(self.at(src.line(), "COPY data ends without its \\. terminator"));
            }
            let data = trim_eol(src.text());
            if data == b"\\." {
                break;
            }
            let data =
                block.encoding.to_utf8(data).ok_or_else(|| self.at(src.line(), block.encoding.invalid_text()))?;
            let row = row.decode(&data);
            if row.width() != columns.len() {
                return Err(self.at(
                    src.line(),
                    format!(
                        "COPY row for {} has {} fields, expected {} ({})",
                        block.table,
                        row.width(),
                        columns.len(),
                        columns.join(", ")
                    ),
                ));
            }
            let fields = row.texts().map_err(|field| {
                self.at(src.line(), format!("invalid UTF-8 in field {field} ({})", columns[field - 1]))
            })?;
            sink.row(&fields, src.line())?;
        }
        sink.end()?;
        Ok(())
    }

    fn load_inserts(&self, src: &mut LineSource, block: &Block, sink: &mut dyn RowSink) -> Result<()> {
        let target = InsertTarget::of(&self.catalog, &block.table);
        let mut rows = InsertLoader::new(target, Origin::Lines(self.path.clone()));
        let mut splitter = Splitter::default();
        while src.offset() < block.end && src.next_line()? {
            let Some(stmt) = splitter.push(src.text(), src.line()) else { continue };
            let first = splitter.first_line();
            rows.statement(&self.statement_text(&stmt, first, block.encoding)?, first, sink)?;
        }
        rows.finish(sink)
    }
}

/// Whether a statement is pg_dump's `COPY … FROM stdin;`, read without the parser (in any
/// client encoding pg_dump writes, ASCII is ASCII).
fn is_copy_from_stdin(stmt: &[u8]) -> bool {
    let stmt = stmt.trim_ascii();
    stmt.get(..5).is_some_and(|head| head.eq_ignore_ascii_case(b"COPY ")) && stmt.ends_with(b" FROM stdin;")
}

/// The database a psql `\\connect` line switches to, as pg_dump and pg_dumpall write it:
/// `\\connect name`, `\\connect "Name"` or `\\connect -reuse-previous=on "dbname='…'"`.
fn connect_target(line: &str) -> Option<String> {
    let rest = line.strip_prefix("\\connect").or_else(|| line.strip_prefix("\\c"))?;
    if !rest.starts_with(char::is_whitespace) {
        return None;
    }
    let mut rest = rest.trim_start();
    while rest.starts_with('-') {
        rest = rest.split_once(char::is_whitespace).map_or("", |(_, after)| after).trim_start();
    }
    let argument = match rest.strip_prefix('"') {
        Some(quoted) => {
            let mut text = String::new();
            let mut chars = quoted.chars().peekable();
            while let Some(c) = chars.next() {
                match c {
                    '"' if chars.peek() == Some(&'"') => {
                        chars.next();
                        text.push('"');
                    }
                    '"' => break,
                    c => text.push(c),
                }
            }
            text
        }
        None => rest.split_whitespace().next()?.to_string(),
    };
    match argument.strip_prefix("dbname=") {
        Some(value) => Some(connection_string_value(value)),
        None => Some(argument),
    }
}

/// A libpq connection-string value: bare up to white space, or '…' with backslash escapes.
fn connection_string_value(value: &str) -> String {
    let Some(quoted) = value.strip_prefix('\'') else {
        return value.split_whitespace().next().unwrap_or_default().to_string();
    };
    let mut text = String::new();
    let mut chars = quoted.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => text.extend(chars.next()),
            '\'' => break,
            c => text.push(c),
        }
    }
    text
}

impl Input for PlainDump {
    fn scan(&mut self) -> Result<Scan> {
        // The fingerprint reads the file on the other core while the first pass parses it.
        let hashing = Fingerprinting::start(vec![self.path.clone()]);
        self.scan_checked(hashing)
    }

    fn side_by_side(&self) -> bool {
        self.compression == Compression::None
    }

    fn load(&self, tables: &BTreeSet<TableName>, sink: &mut dyn RowSink) -> Result<()> {
        let mut src = LineSource::open(&self.path)?;
        let wanted: Vec<&Block> = self.blocks.iter().filter(|b| tables.contains(&b.table)).collect();
        // A compressed stream is read once, in order; a file is reached anywhere.
        let order: Vec<usize> = match self.compression {
            Compression::None => super::largest_first(wanted.iter().map(|b| (&b.table, Some(b.end - b.offset)))),
            _ => (0..wanted.len()).collect(),
        };
        for block in order.into_iter().map(|i| wanted[i]) {
            if !sink.claim(&block.table) {
                continue;
            }
            src.skip_to(block.offset, block.line)?;
            match block.kind {
                BlockKind::Copy => self.load_copy(&mut src, block, sink)?,
                BlockKind::Inserts => self.load_inserts(&mut src, block, sink)?,
            }
        }
        Ok(())
    }
}

impl PlainDump {
    /// Pass 1 with a fingerprint already under way: a CSV directory's covers all its files,
    /// this schema-only dump among them.
    pub fn scan_checked(&mut self, hashing: Fingerprinting) -> Result<Scan> {
        let mut src = LineSource::open(&self.path)?;
        match self.scan_from(&mut src, hashing) {
            // Corrupt compressed data often decodes into garbage before the checksum fails:
            // when it does, the corruption is the error to report.
            Err(error @ Error::BadInput { .. }) if self.compression != Compression::None => {
                Err(src.drain().err().unwrap_or(error))
            }
            other => other,
        }
    }

    fn scan_from(&mut self, src: &mut LineSource, hashing: Fingerprinting) -> Result<Scan> {
        let mut splitter = Splitter::default();
        let mut sections = vec![Section::default()];
        // `CREATE DATABASE` comes just before the `\connect` that starts its section.
        let mut collations: BTreeMap<String, Option<String>> = BTreeMap::new();
        let mut encoding = ClientEncoding::UTF8;
        let mut version = None;
        let mut server_version = None;
        let mut statement_offset = 0;
        let total = if self.compression != Compression::None {
            0
        } else {
            std::fs::metadata(&self.path).map(|m| m.len()).unwrap_or(0)
        };
        self.progress.phase("reading the dump", "bytes", total);
        let mut unreported = 0;
        while src.next_line()? {
            let line = src.text();
            unreported += line.len() as u64;
            if unreported >= 1 << 20 {
                self.progress.add(std::mem::take(&mut unreported));
            }
            if splitter.is_idle() {
                statement_offset = src.offset() - line.len() as u64;
                if line.first() == Some(&b'\\') {
                    // psql meta-commands: \restrict, \unrestrict, and \connect, which starts a
                    // database's section.
                    let command = self.statement_text(trim_eol(line), src.line(), encoding)?;
                    if let Some(database) = connect_target(&command) {
                        let mut section = Section { database: Some(database.clone()), ..Section::default() };
                        section.catalog.database_collation = collations.get(&database).cloned().flatten();
                        sections.push(section);
                    }
                    continue;
                }
                if let Some(rest) = line.strip_prefix(b"-- Dumped by pg_dump version ") {
                    version.get_or_insert_with(|| String::from_utf8_lossy(trim_eol(rest)).into_owned());
                }
                if let Some(rest) = line.strip_prefix(b"-- Dumped from database version ") {
                    server_version = Some(String::from_utf8_lossy(trim_eol(rest)).into_owned());
                }
            }
            let Some(stmt) = splitter.push(line, src.line()) else { continue };
            let first = splitter.first_line();
            let section = sections.last_mut().expect("there is always a section");
            if !self.reads(section) {
                // Another database than --database names: only its COPY data is passed over,
                // and the CREATE DATABASE of the next one (pg_dumpall) read.
                if is_copy_from_stdin(&stmt) {
                    self.pass_copy_data(src, "a table of another database")?;
                } else if stmt.starts_with(b"CREATE DATABASE ") {
                    let text = self.statement_text(&stmt, first, encoding)?;
                    if let Ok(Parsed::Database { name, collation }) = ddl::apply(&text, &mut Catalog::default()) {
                        collations.insert(name, collation);
                    }
                }
                continue;
            }
            let text = self.statement_text(&stmt, first, encoding)?;
            if let Some(table) = insert_target(&text) {
                match section.blocks.last_mut() {
                    Some(b) if b.kind == BlockKind::Inserts && b.table == table && b.end == statement_offset => {
                        b.end = src.offset();
                        b.rows += 1;
                    }
                    _ => section.blocks.push(Block {
                        table,
                        columns: Vec::new(),
                        kind: BlockKind::Inserts,
                        offset: statement_offset,
                        line: first - 1,
                        end: src.offset(),
                        rows: 1,
                        encoding,
                    }),
                }
                continue;
            }
            if let Some(declared) = encoding::declared_in(&text) {
                encoding = ClientEncoding::named(declared).map_err(|e| self.at(first, e))?;
            }
            match ddl::apply(&text, &mut section.catalog).map_err(|e| self.at(first, format!("SQL: {e}")))? {
                Parsed::Copy(header) => {
                    let (offset, line, rows) = self.pass_copy_data(src, &header.table.to_string())?;
                    section.blocks.push(Block {
                        table: header.table,
                        columns: header.columns,
                        kind: BlockKind::Copy,
                        offset,
                        line,
                        end: src.offset(),
                        rows,
                        encoding,
                    });
                }
                Parsed::Extension(name) => section.extensions.push(name),
                Parsed::Database { name, collation } => {
                    collations.insert(name, collation);
                }
                Parsed::Other => {}
            }
        }
        self.progress.add(unreported);
        if splitter.pending().is_some() && sections.iter().all(|s| s.catalog.tables.is_empty()) {
            let what = match splitter.pending().map(std::str::from_utf8) {
                Some(Err(_)) => "invalid UTF-8: not a SQL text dump",
                _ => "not a pg_dump export: the text from here on is no complete SQL statement",
            };
            return Err(self.at(splitter.first_line(), what));
        }
        if splitter.pending().is_some() {
            return Err(self.at(splitter.first_line(), "statement never ends (no closing `;`): the dump is truncated"));
        }
        let (section, notes) = self.choose(sections)?;
        // COPY rows are lines; INSERT statements may hold several rows each (--rows-per-insert),
        // which only a parse would count.
        let data = section
            .blocks
            .iter()
            .map(|b| TableData { table: b.table.clone(), rows: (b.kind == BlockKind::Copy).then_some(b.rows) })
            .collect();
        self.catalog = section.catalog.clone();
        self.blocks = section.blocks;
        Ok(Scan {
            format: match self.compression {
                Compression::None => Format::Plain,
                Compression::Gzip => Format::PlainGzip,
                Compression::Lz4 => Format::PlainLz4,
                Compression::Zstd => Format::PlainZstd,
            },
            catalog: section.catalog,
            data,
            pg_dump_version: version,
            server_version,
            database: section.database,
            extensions: section.extensions,
            hashing,
            notes,
        })
    }

    /// Whether the scan reads `section`: every one, unless `--database` names one.
    fn reads(&self, section: &Section) -> bool {
        self.database.as_ref().is_none_or(|wanted| section.database.as_ref() == Some(wanted))
    }

    /// Passes over a COPY block's data, counting its rows without decoding them; returns where
    /// the data starts (offset, and the line before it) and the number of rows.
    fn pass_copy_data(&self, src: &mut LineSource, table: &str) -> Result<(u64, u64, u64)> {
        let (offset, line) = (src.offset(), src.line());
        let Some(rows) = src.skip_copy_data()? else {
            return Err(
                self.at(line, format!("COPY data for {table} ends without its \\. terminator: the dump is truncated"))
            );
        };
        self.progress.add(src.offset() - offset);
        Ok((offset, line, rows))
    }

    /// The database to read: the one `--database` names, or else the only one with tables.
    fn choose(&self, sections: Vec<Section>) -> Result<(Section, Vec<String>)> {
        let names: Vec<&str> = sections.iter().filter_map(|s| s.database.as_deref()).collect();
        let listed = |names: &[&str]| names.iter().map(|n| format!("\"{n}\"")).collect::<Vec<_>>().join(", ");
        let position = match &self.database {
            Some(wanted) => sections.iter().position(|s| s.database.as_ref() == Some(wanted)).ok_or_else(|| {
                let held = if names.is_empty() {
                    "the dump names no database (pg_dumpall files and pg_dump --create dumps do)".to_string()
                } else {
                    format!("the dump holds the databases {}", listed(&names))
                };
                Error::bad_input(Location::file(&self.path), format!("--database {wanted}: {held}"))
            })?,
            None => {
                let with_tables: Vec<usize> =
                    (0..sections.len()).filter(|&i| !sections[i].catalog.tables.is_empty()).collect();
                match with_tables[..] {
                    [] => {
                        return Err(Error::bad_input(
                            Location::file(&self.path),
                            "not a pg_dump export: it creates no table",
                        ))
                    }
                    [only] => only,
                    _ => {
                        let holding: Vec<&str> =
                            with_tables.iter().map(|&i| sections[i].database.as_deref().unwrap_or("")).collect();
                        return Err(Error::bad_input(
                            Location::file(&self.path),
                            format!(
                                "the file holds {} databases with tables ({}): choose one with --database NAME",
                                holding.len(),
                                listed(&holding)
                            ),
                        ));
                    }
                }
            }
        };
        let mut notes = Vec::new();
        if names.len() > 1 {
            notes.push(format!(
                "the file holds the databases {} (pg_dumpall): database \"{}\" was read",
                listed(&names),
                sections[position].database.as_deref().unwrap_or_default()
            ));
        }
        let section = sections.into_iter().nth(position).expect("the position is in range");
        if section.catalog.tables.is_empty() {
            let name = section.database.as_deref().unwrap_or_default();
            return Err(Error::bad_input(
                Location::file(&self.path),
                format!("database \"{name}\" of the dump creates no table"),
            ));
        }
        Ok((section, notes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connect_lines_name_the_database_as_psql_reads_them() {
        let cases = [
            ("\\connect shop", Some("shop")),
            ("\\connect \"Shop\"", Some("Shop")),
            ("\\c shop", Some("shop")),
            ("\\connect -reuse-previous=on \"dbname='my shop'\"", Some("my shop")),
            ("\\connect -reuse-previous=on \"dbname='it\\'s \"\"q\"\"'\"", Some("it's \"q\"")),
            ("\\restrict abc", None),
            ("\\copyright", None),
        ];
        for (line, expected) in cases {
            assert_eq!(connect_target(line).as_deref(), expected, "{line}");
        }
    }
}
