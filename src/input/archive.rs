//! pg_dump custom-format archives (`-Fc`, compressed or not), read with the `libpgdump` crate
//! without pg_restore. Pass 1 reads only the table of contents: every entry's DDL goes through
//! the same libpg_query path as a plain dump. Pass 2 seeks straight to the data blocks of the
//! wanted tables and streams them, decompressed, through the COPY text decoder; the other
//! tables' blocks are never read.

use super::copy_text::DecodedRow;
use super::ddl::{self, Parsed};
use super::source::{hex, trim_eol};
use super::{Format, Input, Origin, RowSink, Scan, TableData};
use crate::catalog::{Catalog, TableName};
use crate::error::{Error, Location, Place, Result};
use libpgdump::{CustomReader, ObjectType};
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

/// Whether a file starts with the archive magic `PGDMP`.
pub fn is_custom(path: &Path) -> Result<bool> {
    let mut magic = [0u8; 5];
    let mut file = File::open(path).map_err(|e| Error::io(path, e))?;
    let n = file.read(&mut magic).map_err(|e| Error::io(path, e))?;
    Ok(n == 5 && &magic == b"PGDMP")
}

/// A table's data entry in the archive.
struct DataEntry {
    dump_id: i32,
    label: String,
    table: TableName,
    columns: Vec<String>,
}

pub struct CustomArchive {
    path: PathBuf,
    entries: Vec<DataEntry>,
}

impl CustomArchive {
    pub fn new(path: &Path) -> Self {
        CustomArchive { path: path.to_path_buf(), entries: Vec::new() }
    }

    fn at_entry(&self, entry: &str, message: impl Into<String>) -> Error {
        Error::bad_input(Location { file: self.path.clone(), place: Place::Entry(entry.to_string()) }, message)
    }

    fn open(&self) -> Result<CustomReader<BufReader<File>>> {
        let file = File::open(&self.path).map_err(|e| Error::io(&self.path, e))?;
        CustomReader::open(BufReader::with_capacity(1 << 20, file)).map_err(|e| {
            Error::bad_input(Location::file(&self.path), format!("not a readable pg_dump custom archive: {e}"))
        })
    }
}

fn label(desc: &ObjectType, namespace: Option<&str>, tag: Option<&str>) -> String {
    format!("{desc} {}.{}", namespace.unwrap_or(""), tag.unwrap_or(""))
}

/// SHA-256 and size of the archive file.
fn fingerprint(path: &Path) -> Result<(u64, String)> {
    let mut file = File::open(path).map_err(|e| Error::io(path, e))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut size = 0;
    loop {
        let n = file.read(&mut buf).map_err(|e| Error::io(path, e))?;
        if n == 0 {
            return Ok((size, hex(&hasher.finalize())));
        }
        size += n as u64;
        hasher.update(&buf[..n]);
    }
}

impl CustomArchive {
    /// Streams one table's COPY data into the sink.
    fn load_entry(&self, lines: &mut impl BufRead, entry: &DataEntry, sink: &mut dyn RowSink) -> Result<()> {
        let mut line = Vec::new();
        let mut row = DecodedRow::default();
        let mut number = 0u64;
        loop {
            line.clear();
            let n = lines
                .read_until(b'\n', &mut line)
                .map_err(|e| self.at_entry(&entry.label, format!("corrupt or truncated data: {e}")))?;
            let data = trim_eol(&line);
            if n == 0 || data == b"\\." {
                return Ok(());
            }
            number += 1;
            row.decode(data);
            if row.len() != entry.columns.len() {
                return Err(self.at_entry(
                    &entry.label,
                    format!("row {number} has {} fields, expected {}", row.len(), entry.columns.len()),
                ));
            }
            let fields = row.texts().map_err(|field| {
                self.at_entry(&entry.label, format!("row {number}: invalid UTF-8 in field {field}"))
            })?;
            sink.row(&fields, number)?;
        }
    }
}

impl Input for CustomArchive {
    fn scan(&mut self) -> Result<Scan> {
        let reader = self.open()?;
        let mut catalog = Catalog::default();
        let mut entries = Vec::new();
        for entry in reader.entries() {
            let name = label(&entry.desc, entry.namespace.as_deref(), entry.tag.as_deref());
            if entry.desc == ObjectType::TableData {
                let Some(copy) = entry.copy_stmt.as_deref() else { continue };
                match ddl::apply(copy, &mut catalog).map_err(|e| self.at_entry(&name, format!("SQL: {e}")))? {
                    Parsed::Copy(header) => entries.push(DataEntry {
                        dump_id: entry.dump_id,
                        label: name,
                        table: header.table,
                        columns: header.columns,
                    }),
                    Parsed::Other => {}
                }
                continue;
            }
            if let Some(defn) = entry.defn.as_deref().filter(|d| !d.trim().is_empty()) {
                ddl::apply(defn, &mut catalog).map_err(|e| self.at_entry(&name, format!("SQL: {e}")))?;
            }
        }
        if catalog.tables.is_empty() {
            return Err(Error::bad_input(Location::file(&self.path), "the archive creates no table"));
        }
        let (size, sha256) = fingerprint(&self.path)?;
        let data = entries.iter().map(|e| TableData { table: e.table.clone(), rows: None }).collect();
        let version = reader.dump_version().to_string();
        self.entries = entries;
        Ok(Scan {
            format: Format::Custom,
            catalog,
            data,
            pg_dump_version: Some(version),
            size,
            sha256,
            notes: Vec::new(),
        })
    }

    fn load(&mut self, tables: &BTreeSet<TableName>, sink: &mut dyn RowSink) -> Result<()> {
        let mut reader = self.open()?;
        for entry in self.entries.iter().filter(|e| tables.contains(&e.table)) {
            let origin = Origin::Rows(self.path.clone(), entry.table.to_string());
            sink.begin(&entry.table, &entry.columns, origin, 0)?;
            let stream = reader
                .read_entry_reader(entry.dump_id)
                .map_err(|e| self.at_entry(&entry.label, format!("cannot read its data: {e}")))?;
            if let Some(stream) = stream {
                let mut lines = BufReader::with_capacity(1 << 20, stream);
                if let Err(error) = self.load_entry(&mut lines, entry, sink) {
                    // Corrupt compressed data can decode into garbage before its checksum
                    // fails: when the rest of the block does not decode, that is the error.
                    let mut rest = Vec::new();
                    return Err(match lines.read_to_end(&mut rest) {
                        Err(e) => self.at_entry(&entry.label, format!("corrupt or truncated data: {e}")),
                        Ok(_) => error,
                    });
                }
            }
            sink.end()?;
        }
        Ok(())
    }
}
