//! pg_dump archives, read without pg_restore: custom (`-Fc`, compressed or not), directory
//! (`-Fd`) and tar (`-Ft`). The `libpgdump` crate reads the table of contents; every entry's DDL
//! goes through the same libpg_query path as a plain dump. Pass 2 opens only the data of the
//! wanted tables — a custom archive's block (see `custom`), one file of a directory, one member
//! of a tar — and streams it, decompressed, through the COPY text decoder. Other tables' data is
//! never decoded. A table whose data the table of contents lists but the archive does not hold
//! is an error, never an empty table.

use super::archive_toc;
use super::copy_text::DecodedRow;
use super::custom::CustomData;
use super::ddl::{self, Parsed};
use super::encoding::{self, ClientEncoding};
use super::fingerprint::Fingerprinting;
use super::inserts::{InsertLoader, InsertTarget};
use super::source::{trim_eol, Compression, Lines};
use super::statements::Splitter;
use super::{Format, Input, Origin, RowSink, Scan, TableData};
use crate::catalog::{Catalog, TableName};
use crate::error::{Error, Location, Place, Result};
use libpgdump::format::{directory, tar};
use libpgdump::{Entry, ObjectType};
use std::collections::BTreeSet;
use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Custom,
    Directory,
    Tar,
}

/// Which archive format `path` holds, if any: a directory with `toc.dat`, a file starting
/// with `PGDMP`, or a tar file (`ustar` at offset 257).
pub fn kind_of(path: &Path) -> Result<Option<Kind>> {
    if path.is_dir() {
        return Ok(path.join("toc.dat").is_file().then_some(Kind::Directory));
    }
    let mut head = [0u8; 262];
    let mut file = File::open(path).map_err(|e| Error::io(path, e))?;
    let n = file.read(&mut head).map_err(|e| Error::io(path, e))?;
    Ok(if n >= 5 && &head[..5] == b"PGDMP" {
        Some(Kind::Custom)
    } else if n == 262 && &head[257..262] == b"ustar" {
        Some(Kind::Tar)
    } else {
        None
    })
}

/// A table's data entry in the archive.
struct DataEntry {
    dump_id: i32,
    label: String,
    table: TableName,
    /// The COPY's columns; for INSERT statements, all the table's columns.
    columns: Vec<String>,
    /// Rows as INSERT statements (`pg_dump --inserts`), not COPY text: into this target.
    inserts: Option<InsertTarget>,
}

pub struct Archive {
    path: PathBuf,
    kind: Kind,
    entries: Vec<DataEntry>,
    /// Directory and tar: each data entry's file or member name.
    files: Vec<(i32, String)>,
    /// The client encoding of the data (the archive's ENCODING entry).
    encoding: ClientEncoding,
}

impl Archive {
    pub fn new(path: &Path, kind: Kind) -> Self {
        Archive {
            path: path.to_path_buf(),
            kind,
            entries: Vec::new(),
            files: Vec::new(),
            encoding: ClientEncoding::UTF8,
        }
    }

    /// The table of contents, the versions of pg_dump and of the server it dumped, and the
    /// database's name.
    fn toc(&self) -> Result<(Vec<Entry>, String, String, String)> {
        let unreadable = |e| unreadable(&self.path, e);
        self.check_toc().map_err(unreadable)?;
        match self.kind {
            Kind::Custom => {
                let (_, meta) = CustomData::open(&self.path).map_err(unreadable)?;
                Ok((meta.entries, meta.dump_version, meta.server_version, meta.dbname))
            }
            Kind::Directory => {
                let meta = directory::read_metadata(&self.path).map_err(unreadable)?;
                Ok((meta.entries, meta.dump_version, meta.server_version, meta.dbname))
            }
            Kind::Tar => {
                let meta = tar::read_metadata(&self.path).map_err(unreadable)?;
                Ok((meta.entries, meta.dump_version, meta.server_version, meta.dbname))
            }
        }
    }

    /// Counts in the TOC that libpgdump would trust with its memory (see `archive_toc`).
    fn check_toc(&self) -> libpgdump::Result<()> {
        let toc = if self.kind == Kind::Directory { self.path.join("toc.dat") } else { self.path.clone() };
        let mut file = File::open(&toc)?;
        let len = file.metadata()?.len();
        if self.kind != Kind::Tar {
            return archive_toc::check(BufReader::new(file), len);
        }
        let members = tar_members(&self.path)?;
        let Some((name, offset, size)) = members.into_iter().find(|(name, _, _)| name == "toc.dat") else {
            return Ok(());
        };
        archive_toc::check_member(&name, offset, size, len)?;
        file.seek(SeekFrom::Start(offset))?;
        archive_toc::check(BufReader::new(file.take(size)), size)
    }

    fn at_entry(&self, entry: &str, message: impl Into<String>) -> Error {
        Error::bad_input(Location { file: self.path.clone(), place: Place::Entry(entry.to_string()) }, message)
    }
}

fn unreadable(path: &Path, error: libpgdump::Error) -> Error {
    let hint = match error {
        // Names and definitions are in the dump's client encoding.
        libpgdump::Error::InvalidUtf8(_) => {
            " (its table of contents is not UTF-8: the dump is in another client encoding; re-export with pg_dump -E UTF8, or as a plain dump, which rehearse converts)"
        }
        _ => "",
    };
    Error::bad_input(Location::file(path), format!("not a readable pg_dump archive: {error}{hint}"))
}

fn label(desc: &ObjectType, namespace: Option<&str>, tag: Option<&str>) -> String {
    format!("{desc} {}.{}", namespace.unwrap_or(""), tag.unwrap_or(""))
}

/// The archive's files: the file itself, or every file of a directory in name order.
fn archive_files(path: &Path) -> Result<Vec<PathBuf>> {
    if !path.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut files: Vec<PathBuf> =
        std::fs::read_dir(path).map_err(|e| Error::io(path, e))?.flatten().map(|e| e.path()).collect();
    files.sort();
    Ok(files)
}

/// Offset and size of each member of a tar file, read from its 512-byte headers.
fn tar_members(path: &Path) -> std::io::Result<Vec<(String, u64, u64)>> {
    let mut file = BufReader::new(File::open(path)?);
    let mut members = Vec::new();
    let mut offset = 0u64;
    let mut header = [0u8; 512];
    loop {
        if file.read_exact(&mut header).is_err() || header.iter().all(|&b| b == 0) {
            return Ok(members);
        }
        let name_end = header[..100].iter().position(|&b| b == 0).unwrap_or(100);
        let name = String::from_utf8_lossy(&header[..name_end]).into_owned();
        let size_text = String::from_utf8_lossy(&header[124..136]).trim_matches(|c| c == '\0' || c == ' ').to_string();
        let size = u64::from_str_radix(&size_text, 8).unwrap_or(0);
        members.push((name, offset + 512, size));
        let padded = size.div_ceil(512) * 512;
        offset += 512 + padded;
        file.seek(SeekFrom::Start(offset))?;
    }
}

impl Archive {
    /// Streams one table's COPY data into the sink.
    fn load_copy(&self, lines: &mut Lines<impl Read>, entry: &DataEntry, sink: &mut dyn RowSink) -> Result<()> {
        let origin = Origin::Rows(self.path.clone(), entry.table.to_string());
        sink.begin(&entry.table, &entry.columns, origin, 0)?;
        let mut row = DecodedRow::default();
        let mut number = 0u64;
        loop {
            let n = lines
                .next_line()
                .map_err(|e| self.at_entry(&entry.label, format!("corrupt or truncated data: {e}")))?;
            let data = trim_eol(lines.text());
            if n == 0 || data == b"\\." {
                sink.end()?;
                return Ok(());
            }
            number += 1;
            let data = self.encoding.to_utf8(data).ok_or_else(|| {
                self.at_entry(&entry.label, format!("row {number}: {}", self.encoding.invalid_text()))
            })?;
            let row = row.decode(&data);
            if row.width() != entry.columns.len() {
                return Err(self.at_entry(
                    &entry.label,
                    format!("row {number} has {} fields, expected {}", row.width(), entry.columns.len()),
                ));
            }
            let fields = row.texts().map_err(|field| {
                self.at_entry(&entry.label, format!("row {number}: invalid UTF-8 in field {field}"))
            })?;
            sink.row(&fields, number)?;
        }
    }

    /// Streams one table's INSERT statements (`pg_dump --inserts` in an archive) into the sink.
    fn load_inserts(&self, lines: &mut Lines<impl Read>, entry: &DataEntry, sink: &mut dyn RowSink) -> Result<()> {
        let origin = Origin::Rows(self.path.clone(), entry.table.to_string());
        let target = entry.inserts.clone().expect("an entry of INSERT statements");
        let mut rows = InsertLoader::new(target, origin);
        let mut splitter = Splitter::default();
        let mut number = 0;
        loop {
            let n = lines
                .next_line()
                .map_err(|e| self.at_entry(&entry.label, format!("corrupt or truncated data: {e}")))?;
            if n == 0 {
                break;
            }
            number += 1;
            let Some(stmt) = splitter.push(lines.text(), number) else { continue };
            let text = self.encoding.decode(&stmt).ok_or_else(|| {
                self.at_entry(&entry.label, format!("line {number}: {}", self.encoding.invalid_text()))
            })?;
            rows.statement(&text, splitter.first_line(), sink)?;
        }
        if splitter.pending().is_some() {
            return Err(self.at_entry(&entry.label, "its last INSERT statement never ends: the archive is truncated"));
        }
        rows.finish(sink)
    }
}

impl Input for Archive {
    fn scan(&mut self) -> Result<Scan> {
        let (toc, version, server_version, database) = self.toc()?;
        let mut catalog = Catalog::default();
        let mut entries = Vec::new();
        let mut files = Vec::new();
        let mut extensions = Vec::new();
        for entry in &toc {
            let name = label(&entry.desc, entry.namespace.as_deref(), entry.tag.as_deref());
            if entry.desc == ObjectType::TableData {
                let data = match entry.copy_stmt.as_deref().filter(|c| !c.trim().is_empty()) {
                    Some(copy) => {
                        match ddl::apply(copy, &mut catalog).map_err(|e| self.at_entry(&name, format!("SQL: {e}")))? {
                            Parsed::Copy(header) => Some((header.table, header.columns, None)),
                            Parsed::Extension(_) | Parsed::Database { .. } | Parsed::Other => None,
                        }
                    }
                    // No COPY statement: the data is INSERT statements into the entry's table.
                    None => {
                        let table = TableName::new(
                            entry.namespace.as_deref().unwrap_or(""),
                            entry.tag.as_deref().unwrap_or(""),
                        );
                        let columns = catalog.table(&table).map(|t| t.columns.iter().map(|c| c.name.clone()).collect());
                        let target = InsertTarget::of(&catalog, &table);
                        Some((table, columns.unwrap_or_default(), Some(target)))
                    }
                };
                if let Some((table, columns, inserts)) = data {
                    files.extend(entry.filename.clone().map(|f| (entry.dump_id, f)));
                    entries.push(DataEntry { dump_id: entry.dump_id, label: name, table, columns, inserts });
                }
                continue;
            }
            if let Some(defn) = entry.defn.as_deref().filter(|d| !d.trim().is_empty()) {
                if let Some(declared) = encoding::declared_in(defn) {
                    self.encoding = ClientEncoding::named(declared).map_err(|e| self.at_entry(&name, e))?;
                }
                match ddl::apply(defn, &mut catalog).map_err(|e| self.at_entry(&name, format!("SQL: {e}")))? {
                    Parsed::Extension(extension) => extensions.push(extension),
                    Parsed::Database { collation, .. } => catalog.database_collation = collation,
                    Parsed::Copy(_) | Parsed::Other => {}
                }
            }
        }
        if catalog.tables.is_empty() {
            return Err(Error::bad_input(Location::file(&self.path), "the archive creates no table"));
        }
        let hashing = Fingerprinting::start(archive_files(&self.path)?);
        let data = entries.iter().map(|e| TableData { table: e.table.clone(), rows: None }).collect();
        self.entries = entries;
        self.files = files;
        Ok(Scan {
            format: match self.kind {
                Kind::Custom => Format::Custom,
                Kind::Directory => Format::Directory,
                Kind::Tar => Format::Tar,
            },
            catalog,
            data,
            pg_dump_version: Some(version),
            server_version: Some(server_version),
            database: Some(database),
            extensions,
            hashing,
            notes: Vec::new(),
        })
    }

    fn side_by_side(&self) -> bool {
        true
    }

    fn load(&self, tables: &BTreeSet<TableName>, sink: &mut dyn RowSink) -> Result<()> {
        let mut custom = match self.kind {
            Kind::Custom => Some(CustomData::open(&self.path).map_err(|e| unreadable(&self.path, e))?.0),
            _ => None,
        };
        let members = if self.kind == Kind::Tar {
            tar_members(&self.path)
                .map_err(|e| Error::bad_input(Location::file(&self.path), format!("unreadable tar: {e}")))?
        } else {
            Vec::new()
        };
        let wanted: Vec<&DataEntry> = self.entries.iter().filter(|e| tables.contains(&e.table)).collect();
        let sizes = custom.as_ref().map(CustomData::stored_sizes).unwrap_or_default();
        let order = super::largest_first(wanted.iter().map(|e| (&e.table, sizes.get(&e.dump_id).copied())));
        for entry in order.into_iter().map(|i| wanted[i]) {
            if !sink.claim(&entry.table) {
                continue;
            }
            let stream: Box<dyn Read + '_> = match custom.as_mut() {
                Some(data) => match data.table_data(entry.dump_id) {
                    Ok(Some(reader)) => reader,
                    Ok(None) => {
                        return Err(self.at_entry(
                            &entry.label,
                            "the table of contents lists its data, but the archive holds no data block for it: the archive is truncated or damaged",
                        ))
                    }
                    Err(e) => return Err(self.at_entry(&entry.label, format!("cannot read its data: {e}"))),
                },
                None => self.data_file(entry, &members)?,
            };
            let mut lines = Lines::new(stream);
            let loaded = if entry.inserts.is_some() {
                self.load_inserts(&mut lines, entry, sink)
            } else {
                self.load_copy(&mut lines, entry, sink)
            };
            if let Err(error) = loaded {
                // Corrupt compressed data can decode into garbage before its checksum
                // fails: when the rest of the block does not decode, that is the error.
                let mut rest = Vec::new();
                return Err(match lines.reader().read_to_end(&mut rest) {
                    Err(e) => self.at_entry(&entry.label, format!("corrupt or truncated data: {e}")),
                    Ok(_) => error,
                });
            }
        }
        Ok(())
    }
}

impl Archive {
    /// The data of a directory entry (`N.dat`, `N.dat.gz`, `N.dat.lz4`, `N.dat.zst`) or of a tar member.
    fn data_file(&self, entry: &DataEntry, members: &[(String, u64, u64)]) -> Result<Box<dyn Read>> {
        let Some((_, name)) = self.files.iter().find(|(id, _)| *id == entry.dump_id) else {
            return Err(self.at_entry(&entry.label, "the table of contents lists its data but names no data file"));
        };
        let missing = || self.at_entry(&entry.label, format!("its data file {name} is missing from the archive"));
        if self.kind == Kind::Tar {
            let (_, offset, size) = members.iter().find(|(member, _, _)| member == name).ok_or_else(missing)?;
            let mut file = File::open(&self.path).map_err(|e| Error::io(&self.path, e))?;
            file.seek(SeekFrom::Start(*offset)).map_err(|e| Error::io(&self.path, e))?;
            return Ok(Box::new(file.take(*size)));
        }
        // pg_dump names a directory's data file after its compression.
        let compressions = [
            ("", Compression::None),
            (".gz", Compression::Gzip),
            (".lz4", Compression::Lz4),
            (".zst", Compression::Zstd),
        ];
        let Some((path, compression)) = compressions
            .into_iter()
            .map(|(ext, compression)| (self.path.join(format!("{name}{ext}")), compression))
            .find(|(path, _)| path.is_file())
        else {
            return Err(missing());
        };
        let file = File::open(&path).map_err(|e| Error::io(&path, e))?;
        compression.decoder(file).map_err(|e| Error::io(&path, e))
    }
}
