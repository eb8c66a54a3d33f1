//! A directory of CSV exports: one `<table>.csv` per table, with a header, as psql's
//! `\copy … CSV HEADER` writes them, and optionally a schema-only dump (`*.sql`) beside them for
//! types and constraints. Without a schema, column types are inferred from the values and the
//! user is told so. The guide's backup files stand in for `models`/`services` when those are
//! absent.

use super::copy_text::DecodedRow;
use super::csv_text::{CsvError, CsvReader};
use super::fingerprint::Fingerprinting;
use super::plain::PlainDump;
use super::source::Compression;
use super::{Format, Input, Origin, RowSink, Scan, TableData};
use crate::catalog::{Catalog, Column, Table, TableName};
use crate::error::{Error, Location, Result};
use std::collections::BTreeSet;
use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

/// The guide's backup tables, and the versioned tables they copy.
const BACKUP_STAND_INS: [(&str, &str); 2] =
    [("models_version_backup", "models"), ("services_version_backup", "services")];

/// Columns a backup file has that its live table does not.
const BACKUP_ONLY_COLUMNS: [&str; 1] = ["backup_timestamp"];

pub struct CsvDirectory {
    dir: PathBuf,
    /// Each loaded table and the file holding its rows.
    files: Vec<(TableName, PathBuf)>,
}

impl CsvDirectory {
    pub fn new(dir: &Path) -> Self {
        CsvDirectory { dir: dir.to_path_buf(), files: Vec::new() }
    }

    fn list(&self, extension: &str) -> Result<Vec<PathBuf>> {
        let entries = std::fs::read_dir(&self.dir).map_err(|e| Error::io(&self.dir, e))?;
        let mut files = Vec::new();
        for entry in entries {
            let path = entry.map_err(|e| Error::io(&self.dir, e))?.path();
            if path.is_file() && path.extension().is_some_and(|e| e == extension) {
                files.push(path);
            }
        }
        files.sort();
        Ok(files)
    }
}

fn stem(path: &Path) -> String {
    path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default()
}

fn csv_error(file: &Path, error: CsvError) -> Error {
    match error {
        CsvError::Io(e) => Error::io(file, e),
        CsvError::Malformed(line, message) => Error::bad_input(Location::line(file, line), message),
    }
}

fn open_csv(file: &Path) -> Result<CsvReader<BufReader<File>>> {
    let handle = File::open(file).map_err(|e| Error::io(file, e))?;
    Ok(CsvReader::new(BufReader::with_capacity(1 << 20, handle)))
}

/// Reads the header: the column names, checked for UTF-8, emptiness and duplicates.
fn read_header(file: &Path, reader: &mut CsvReader<BufReader<File>>) -> Result<Vec<String>> {
    let mut row = DecodedRow::default();
    let at = |message: &str| Error::bad_input(Location::line(file, 1), message.to_string());
    if reader.next_record(&mut row).map_err(|e| csv_error(file, e))?.is_none() {
        return Err(at("the file is empty: a header line is expected"));
    }
    let texts = row.texts().map_err(|_| at("the header is not valid UTF-8"))?;
    let mut names = Vec::new();
    for name in texts {
        let name = name.filter(|n| !n.is_empty()).ok_or_else(|| at("the header has an empty column name"))?;
        if names.iter().any(|n| n == name) {
            return Err(at(&format!("the header names column \"{name}\" twice")));
        }
        names.push(name.to_string());
    }
    Ok(names)
}

/// Whether a value fits a type.
type Fits = fn(&str) -> bool;

/// The narrowest PostgreSQL type that every non-NULL value of a column fits.
fn infer_type<'a>(values: impl Iterator<Item = &'a str>) -> String {
    let candidates: [(&str, Fits); 4] = [
        ("bigint", |v| v.parse::<i64>().is_ok()),
        ("boolean", |v| matches!(v, "t" | "f" | "true" | "false")),
        ("uuid", |v| {
            v.len() == 36
                && v.char_indices()
                    .all(|(i, c)| if [8, 13, 18, 23].contains(&i) { c == '-' } else { c.is_ascii_hexdigit() })
        }),
        ("timestamp without time zone", |v| {
            let b = v.as_bytes();
            b.len() >= 19 && b[4] == b'-' && b[7] == b'-' && b[10] == b' ' && b[13] == b':' && !v.contains('+')
        }),
    ];
    let mut alive: Vec<bool> = vec![true; candidates.len()];
    let mut any = false;
    for value in values {
        any = true;
        for (alive, (_, fits)) in alive.iter_mut().zip(&candidates) {
            *alive = *alive && fits(value);
        }
    }
    match candidates.iter().zip(&alive).find(|(_, alive)| **alive) {
        Some(((name, _), _)) if any => name.to_string(),
        _ => "text".to_string(),
    }
}

/// Builds a table from a CSV file when no schema is given.
fn inferred_table(file: &Path, name: &TableName) -> Result<Table> {
    let mut reader = open_csv(file)?;
    let header = read_header(file, &mut reader)?;
    let mut values: Vec<Vec<String>> = vec![Vec::new(); header.len()];
    let mut row = DecodedRow::default();
    while let Some(line) = reader.next_record(&mut row).map_err(|e| csv_error(file, e))? {
        check_width(file, line, row.len(), header.len())?;
        let texts = row.texts().map_err(|f| {
            Error::bad_input(Location::line(file, line), format!("invalid UTF-8 in field {f} ({})", header[f - 1]))
        })?;
        for (column, value) in values.iter_mut().zip(texts) {
            column.extend(value.map(str::to_string));
        }
    }
    let columns = header
        .into_iter()
        .zip(values)
        .map(|(name, values)| Column {
            generated: None,
            name,
            pg_type: infer_type(values.iter().map(String::as_str)),
            not_null: false,
            default: None,
            collation: None,
        })
        .collect();
    Ok(Table::new(name.clone(), columns))
}

fn check_width(file: &Path, line: u64, found: usize, expected: usize) -> Result<()> {
    if found == expected {
        return Ok(());
    }
    Err(Error::bad_input(Location::line(file, line), format!("the row has {found} fields, the header has {expected}")))
}

impl Input for CsvDirectory {
    fn scan(&mut self) -> Result<Scan> {
        let csv_files = self.list("csv")?;
        if csv_files.is_empty() {
            return Err(Error::bad_input(Location::file(&self.dir), "the directory holds no .csv file"));
        }
        let schema_files = self.list("sql")?;
        let mut notes = Vec::new();
        if schema_files.len() > 1 {
            return Err(Error::bad_input(
                Location::file(&self.dir),
                "more than one .sql file: keep exactly one schema-only dump beside the CSV files",
            ));
        }
        // One fingerprint of every file: the schema's scan carries it instead of hashing its
        // file on a thread of its own.
        let hashing = Fingerprinting::start([csv_files.clone(), schema_files.clone()].concat());
        let (mut catalog, version, server_version, hashing) = match schema_files.first() {
            None => (None, None, None, hashing),
            Some(schema) => {
                let mut dump = PlainDump::new(schema, Compression::of(schema)?, Default::default(), None);
                let scan = dump.scan_checked(hashing)?;
                notes.push(format!("types and constraints from {}", schema.display()));
                (Some(scan.catalog), scan.pg_dump_version, scan.server_version, scan.hashing)
            }
        };
        let stems: Vec<String> = csv_files.iter().map(|f| stem(f)).collect();
        let schema_given = catalog.is_some();
        let catalog_ref = catalog.get_or_insert_with(Catalog::default);
        let mut inferred = Vec::new();
        for (file, stem) in csv_files.iter().zip(&stems) {
            let stand_in = BACKUP_STAND_INS
                .iter()
                .find(|(backup, live)| backup == stem && !stems.iter().any(|s| s == live))
                .map(|(_, live)| *live);
            let name = stand_in.unwrap_or(stem);
            if let Some(live) = stand_in {
                notes.push(format!(
                    "{} stands in for the versioned `{live}` table (the guide's backup)",
                    file.display()
                ));
            }
            let table = match catalog_ref.find_table(name) {
                Some(table) => table.name.clone(),
                None if schema_given => {
                    notes.push(format!("{}: no table `{name}` in the schema; not loaded", file.display()));
                    continue;
                }
                None => {
                    let table = inferred_table(file, &TableName::new("public", name))?;
                    let name = table.name.clone();
                    inferred.push(name.to_string());
                    catalog_ref.tables.push(table);
                    name
                }
            };
            self.files.push((table, file.clone()));
        }
        if !inferred.is_empty() {
            notes.push(format!(
                "no schema-only dump beside the CSV files: column types of {} were inferred from their values, and no constraint or foreign key is known",
                inferred.join(", ")
            ));
        }
        let data = self.files.iter().map(|(table, _)| TableData { table: table.clone(), rows: None }).collect();
        Ok(Scan {
            format: Format::CsvDirectory,
            catalog: catalog.unwrap_or_default(),
            data,
            pg_dump_version: version,
            server_version,
            database: None,
            extensions: Vec::new(),
            hashing,
            notes,
        })
    }

    fn side_by_side(&self) -> bool {
        true
    }

    fn load(&self, tables: &BTreeSet<TableName>, sink: &mut dyn RowSink) -> Result<()> {
        let wanted: Vec<&(TableName, PathBuf)> = self.files.iter().filter(|(t, _)| tables.contains(t)).collect();
        let sizes = wanted.iter().map(|(table, file)| (table, std::fs::metadata(file).ok().map(|m| m.len())));
        for (table, file) in super::largest_first(sizes).into_iter().map(|i| wanted[i]) {
            if !sink.claim(table) {
                continue;
            }
            let mut reader = open_csv(file)?;
            let header = read_header(file, &mut reader)?;
            let keep: Vec<bool> = header.iter().map(|h| !BACKUP_ONLY_COLUMNS.contains(&h.as_str())).collect();
            let columns: Vec<String> =
                header.iter().zip(&keep).filter(|(_, keep)| **keep).map(|(h, _)| h.clone()).collect();
            sink.begin(table, &columns, Origin::Lines(file.clone()), 1)?;
            let mut row = DecodedRow::default();
            while let Some(line) = reader.next_record(&mut row).map_err(|e| csv_error(file, e))? {
                // The width first: a field past the header has no column to name.
                check_width(file, line, row.len(), header.len())?;
                let texts = row.texts().map_err(|f| {
                    Error::bad_input(
                        Location::line(file, line),
                        format!("invalid UTF-8 in field {f} ({})", header[f - 1]),
                    )
                })?;
                let fields: Vec<Option<&str>> =
                    texts.into_iter().zip(&keep).filter(|(_, keep)| **keep).map(|(t, _)| t).collect();
                sink.row(&fields, line)?;
            }
            sink.end()?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inference_picks_the_narrowest_type() {
        let cases: [(&[&str], &str); 6] = [
            (&["1", "-2"], "bigint"),
            (&["t", "false"], "boolean"),
            (&["0b7d4a4e-9a3c-4f35-9d6a-7f2d2f1c1a01"], "uuid"),
            (&["2024-01-02 03:04:05", "2024-01-02 03:04:05.123"], "timestamp without time zone"),
            (&["1", "x"], "text"),
            (&[], "text"),
        ];
        for (values, expected) in cases {
            assert_eq!(infer_type(values.iter().copied()), expected, "{values:?}");
        }
    }

    #[test]
    fn the_fingerprint_covers_the_csv_files_then_the_schema() {
        use sha2::{Digest, Sha256};
        let dir = tempfile::tempdir().unwrap();
        let schema = "CREATE TABLE public.b (n bigint);\nCREATE TABLE public.a (n bigint);\n";
        let files = [("b.csv", "n\n2\n"), ("a.csv", "n\n1\n"), ("schema.sql", schema)];
        for (name, text) in files {
            std::fs::write(dir.path().join(name), text).unwrap();
        }
        let scan = CsvDirectory::new(dir.path()).scan().unwrap();
        let tables: Vec<String> = scan.catalog.tables.iter().map(|t| t.name.to_string()).collect();
        assert_eq!(tables, ["public.b", "public.a"]);
        let bytes = ["n\n1\n", "n\n2\n", schema].concat();
        let expected = (bytes.len() as u64, super::super::source::hex(&Sha256::digest(&bytes)));
        assert_eq!(scan.hashing.finish().unwrap(), expected);
    }
}
