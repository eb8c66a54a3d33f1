//! pg_dump plain format (`.sql`, or compressed: gzip `.sql.gz`, lz4, zstd). Pass 1 parses every statement
//! but INSERTs, records where each table's rows lie, and skips COPY data line by line without
//! decoding it; pass 2 jumps to the blocks of the wanted tables and decodes only those.

use super::copy_text::DecodedRow;
use super::ddl::{self, Parsed};
use super::inserts::{insert_target, InsertLoader};
use super::source::{fingerprint, trim_eol, Compression, LineSource};
use super::statements::Splitter;
use super::{Format, Input, Origin, RowSink, Scan, TableData};
use crate::catalog::{Catalog, TableName};
use crate::error::{Error, Location, Result};
use crate::progress::Progress;
use std::collections::BTreeSet;
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
}

pub struct PlainDump {
    path: PathBuf,
    compression: Compression,
    progress: Arc<Progress>,
    catalog: Catalog,
    blocks: Vec<Block>,
}

impl PlainDump {
    pub fn new(path: &Path, compression: Compression, progress: Arc<Progress>) -> Self {
        PlainDump { path: path.to_path_buf(), compression, progress, catalog: Catalog::default(), blocks: Vec::new() }
    }

    fn at(&self, line: u64, message: impl Into<String>) -> Error {
        Error::bad_input(Location::line(&self.path, line), message)
    }

    fn statement_text<'a>(&self, stmt: &'a [u8], line: u64) -> Result<&'a str> {
        std::str::from_utf8(stmt).map_err(|e| {
            let bad_line = line + stmt[..e.valid_up_to()].iter().filter(|&&b| b == b'\n').count() as u64;
            self.at(bad_line, "invalid UTF-8: rehearse reads UTF-8 dumps (pg_dump -E UTF8)")
        })
    }

    fn columns_or_all(&self, table: &TableName, columns: &[String], line: u64) -> Result<Vec<String>> {
        if !columns.is_empty() {
            return Ok(columns.to_vec());
        }
        match self.catalog.table(table) {
            Some(t) => Ok(t.columns.iter().map(|c| c.name.clone()).collect()),
            None => Err(self.at(line, format!("rows for table {table}, which the dump never creates"))),
        }
    }

    fn load_copy(&self, src: &mut LineSource, block: &Block, sink: &mut dyn RowSink) -> Result<()> {
        let columns = self.columns_or_all(&block.table, &block.columns, block.line)?;
        sink.begin(&block.table, &columns, Origin::Lines(self.path.clone()), block.line)?;
        let mut line = Vec::new();
        let mut row = DecodedRow::default();
        loop {
            if !src.next_line(&mut line)? {
                return Err(self.at(src.line(), "COPY data ends without its \\. terminator"));
            }
            let data = trim_eol(&line);
            if data == b"\\." {
                break;
            }
            row.decode(data);
            if row.len() != columns.len() {
                return Err(self.at(
                    src.line(),
                    format!(
                        "COPY row for {} has {} fields, expected {} ({})",
                        block.table,
                        row.len(),
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
        let all_columns = self.columns_or_all(&block.table, &[], block.line + 1)?;
        let mut rows = InsertLoader::new(block.table.clone(), all_columns, Origin::Lines(self.path.clone()));
        let mut splitter = Splitter::default();
        let mut line = Vec::new();
        while src.offset() < block.end && src.next_line(&mut line)? {
            let Some(stmt) = splitter.push(&line, src.line()) else { continue };
            let first = splitter.first_line();
            rows.statement(self.statement_text(&stmt, first)?, first, sink)?;
        }
        rows.finish(sink)
    }
}

/// Reads a `SET client_encoding = '…';` statement; anything but UTF-8 is refused.
fn declared_encoding(stmt: &str) -> Option<String> {
    let rest = stmt.trim_start().strip_prefix("SET client_encoding")?;
    let value = rest.split('\'').nth(1)?;
    Some(value.to_string())
}

impl Input for PlainDump {
    fn scan(&mut self) -> Result<Scan> {
        // The fingerprint reads the file on the other core while the first pass parses it.
        let files = [self.path.clone()];
        let (scan, fingerprint) = std::thread::scope(|scope| {
            let hashing = scope.spawn(|| fingerprint(&files));
            let scan = self.scan_checked();
            self.progress.phase("finishing the SHA-256", "", 0);
            (scan, hashing.join().expect("the fingerprint thread does not panic"))
        });
        let (size, sha256) = fingerprint?;
        Ok(Scan { size, sha256, ..scan? })
    }

    fn load(&mut self, tables: &BTreeSet<TableName>, sink: &mut dyn RowSink) -> Result<()> {
        let mut src = LineSource::open(&self.path)?;
        for block in self.blocks.iter().filter(|b| tables.contains(&b.table)) {
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
    fn scan_checked(&mut self) -> Result<Scan> {
        let mut src = LineSource::open(&self.path)?;
        match self.scan_from(&mut src) {
            // Corrupt compressed data often decodes into garbage before the checksum fails:
            // when it does, the corruption is the error to report.
            Err(error @ Error::BadInput { .. }) if self.compression != Compression::None => {
                Err(src.drain().err().unwrap_or(error))
            }
            other => other,
        }
    }

    fn scan_from(&mut self, src: &mut LineSource) -> Result<Scan> {
        let mut splitter = Splitter::default();
        let mut catalog = Catalog::default();
        let mut blocks: Vec<Block> = Vec::new();
        let mut version = None;
        let mut server_version = None;
        let mut line = Vec::new();
        let mut statement_offset = 0;
        let total = if self.compression != Compression::None {
            0
        } else {
            std::fs::metadata(&self.path).map(|m| m.len()).unwrap_or(0)
        };
        self.progress.phase("reading the dump", "bytes", total);
        let mut unreported = 0;
        while src.next_line(&mut line)? {
            unreported += line.len() as u64;
            if unreported >= 1 << 20 {
                self.progress.add(std::mem::take(&mut unreported));
            }
            if splitter.is_idle() {
                statement_offset = src.offset() - line.len() as u64;
                if line.first() == Some(&b'\\') {
                    continue; // psql meta-command: \restrict, \unrestrict, \connect
                }
                if let Some(rest) = line.strip_prefix(b"-- Dumped by pg_dump version ") {
                    version = Some(String::from_utf8_lossy(trim_eol(rest)).into_owned());
                }
                if let Some(rest) = line.strip_prefix(b"-- Dumped from database version ") {
                    server_version = Some(String::from_utf8_lossy(trim_eol(rest)).into_owned());
                }
            }
            let Some(stmt) = splitter.push(&line, src.line()) else { continue };
            let first = splitter.first_line();
            let text = self.statement_text(&stmt, first)?;
            if let Some(table) = insert_target(text) {
                match blocks.last_mut() {
                    Some(b) if b.kind == BlockKind::Inserts && b.table == table && b.end == statement_offset => {
                        b.end = src.offset();
                        b.rows += 1;
                    }
                    _ => blocks.push(Block {
                        table,
                        columns: Vec::new(),
                        kind: BlockKind::Inserts,
                        offset: statement_offset,
                        line: first - 1,
                        end: src.offset(),
                        rows: 1,
                    }),
                }
                continue;
            }
            if let Some(encoding) = declared_encoding(text) {
                if !encoding.eq_ignore_ascii_case("UTF8") && !encoding.eq_ignore_ascii_case("UTF-8") {
                    return Err(self.at(
                        first,
                        format!("the dump is encoded in {encoding}; rehearse reads UTF-8 dumps (re-export with pg_dump -E UTF8)"),
                    ));
                }
            }
            match ddl::apply(text, &mut catalog).map_err(|e| self.at(first, format!("SQL: {e}")))? {
                Parsed::Copy(header) => {
                    let (offset, line) = (src.offset(), src.line());
                    let Some(rows) = src.skip_copy_data()? else {
                        return Err(self.at(
                            line,
                            format!(
                                "COPY data for {} ends without its \\. terminator: the dump is truncated",
                                header.table
                            ),
                        ));
                    };
                    self.progress.add(src.offset() - offset);
                    blocks.push(Block {
                        table: header.table,
                        columns: header.columns,
                        kind: BlockKind::Copy,
                        offset,
                        line,
                        end: src.offset(),
                        rows,
                    });
                }
                Parsed::Other => {}
            }
        }
        self.progress.add(unreported);
        if catalog.tables.is_empty() {
            if let Some(pending) = splitter.pending() {
                let what = match std::str::from_utf8(pending) {
                    Err(_) => "invalid UTF-8: not a SQL text dump",
                    Ok(_) => "not a pg_dump export: the text from here on is no complete SQL statement",
                };
                return Err(self.at(splitter.first_line(), what));
            }
            return Err(Error::bad_input(Location::file(&self.path), "not a pg_dump export: it creates no table"));
        }
        if splitter.pending().is_some() {
            return Err(self.at(splitter.first_line(), "statement never ends (no closing `;`): the dump is truncated"));
        }
        // COPY rows are lines; INSERT statements may hold several rows each (--rows-per-insert),
        // which only a parse would count.
        let data = blocks
            .iter()
            .map(|b| TableData { table: b.table.clone(), rows: (b.kind == BlockKind::Copy).then_some(b.rows) })
            .collect();
        self.catalog = catalog.clone();
        self.blocks = blocks;
        Ok(Scan {
            format: match self.compression {
                Compression::None => Format::Plain,
                Compression::Gzip => Format::PlainGzip,
                Compression::Lz4 => Format::PlainLz4,
                Compression::Zstd => Format::PlainZstd,
            },
            catalog,
            data,
            pg_dump_version: version,
            server_version,
            size: 0,
            sha256: String::new(),
            notes: Vec::new(),
        })
    }
}
