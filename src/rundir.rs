//! Reading a run directory back (for `diff` and `restore-script`): its summary and its CSV
//! reports, with NULL and the empty string kept apart as the reports wrote them.

use crate::error::{Error, Location, Result};
use crate::input::copy_text::DecodedRow;
use crate::input::csv_text::{CsvError, CsvReader};
use crate::report::summary::Summary;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// One CSV report: rows as maps from column to value.
pub type Rows = Vec<BTreeMap<String, Option<String>>>;

pub struct RunDir {
    pub path: PathBuf,
    pub summary: Summary,
}

impl RunDir {
    pub fn open(path: &Path) -> Result<RunDir> {
        let summary = Summary::read(&path.join("summary.json"))?;
        Ok(RunDir { path: path.to_path_buf(), summary })
    }

    pub fn summary_file(&self) -> PathBuf {
        self.path.join("summary.json")
    }

    /// Reads `reports/<name>`.
    pub fn report(&self, name: &str) -> Result<Rows> {
        let file = self.path.join("reports").join(name);
        self.csv(&file)
    }

    pub fn script(&self, name: &str) -> Result<String> {
        let file = self.path.join("scripts").join(name);
        std::fs::read_to_string(&file).map_err(|e| Error::io(&file, e))
    }

    fn csv(&self, file: &Path) -> Result<Rows> {
        let handle = std::fs::File::open(file).map_err(|e| Error::io(file, e))?;
        let mut reader = CsvReader::new(std::io::BufReader::new(handle));
        let mut row = DecodedRow::default();
        let malformed = |e: CsvError| match e {
            CsvError::Io(e) => Error::io(file, e),
            CsvError::Malformed(line, message) => Error::bad_input(Location::line(file, line), message),
        };
        let not_utf8 = |line| Error::bad_input(Location::line(file, line), "invalid UTF-8");
        let header: Vec<String> = match reader.next_record(&mut row).map_err(malformed)? {
            Some(_) => row.texts().map_err(|_| not_utf8(1))?.into_iter().map(|t| t.unwrap_or("").to_string()).collect(),
            None => return Ok(Vec::new()),
        };
        let mut rows = Vec::new();
        while let Some(line) = reader.next_record(&mut row).map_err(malformed)? {
            let texts = row.texts().map_err(|_| not_utf8(line))?;
            rows.push(header.iter().cloned().zip(texts.into_iter().map(|t| t.map(str::to_string))).collect());
        }
        Ok(rows)
    }
}

/// A column of a report row as text ("" for NULL or missing).
pub fn text<'a>(row: &'a BTreeMap<String, Option<String>>, column: &str) -> &'a str {
    row.get(column).and_then(|v| v.as_deref()).unwrap_or("")
}
