//! The CSV loss reports. RFC 4180, with psql's convention so that NULL and the empty string stay
//! apart: a NULL is an empty unquoted field, an empty string is `""`. Text with commas, quotes,
//! tabs, newlines or backslashes round-trips.

use super::spreadsheet::{would_evaluate, RiskyFile};
use super::tables::{Report, Row};
use crate::error::{Error, Result};
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Whether a field needs quotes: empty (to tell it from NULL), or holding a separator, a quote, a
/// line break, or whitespace at either end.
fn needs_quotes(text: &str) -> bool {
    text.is_empty()
        || text.bytes().any(|b| QUOTED[usize::from(b)])
        || text.starts_with(char::is_whitespace)
        || text.ends_with(char::is_whitespace)
}

/// The bytes a field is quoted for, as a table: a look-up a byte.
const QUOTED: [bool; 256] = {
    let mut table = [false; 256];
    table[b',' as usize] = true;
    table[b'"' as usize] = true;
    table[b'\n' as usize] = true;
    table[b'\r' as usize] = true;
    table
};

/// Appends one CSV field to `out`: text, or NULL.
fn push_field(out: &mut Vec<u8>, value: Option<&str>) {
    match value {
        None => {}
        Some(text) if needs_quotes(text) => {
            out.push(b'"');
            let mut pieces = text.split('"');
            out.extend_from_slice(pieces.next().unwrap_or("").as_bytes());
            for piece in pieces {
                out.extend_from_slice(b"\"\"");
                out.extend_from_slice(piece.as_bytes());
            }
            out.push(b'"');
        }
        Some(text) => out.extend_from_slice(text.as_bytes()),
    }
}

/// Appends one CSV field as `--csv-spreadsheet-safe` writes it: text that a spreadsheet would
/// evaluate gets a leading `'`, so that the spreadsheet shows it as text (and the file is no
/// longer exact).
fn push_safe_field(out: &mut Vec<u8>, value: Option<&str>) {
    match value {
        Some(text) if would_evaluate(text) => push_field(out, Some(&format!("'{text}"))),
        _ => push_field(out, value),
    }
}

/// A report's CSV file being written through a buffer, batch by batch of rows borrowed from the
/// plan (a report of millions of rows is never copied whole), noting the fields a spreadsheet
/// would evaluate.
pub struct CsvFile {
    path: PathBuf,
    file: File,
    out: Vec<u8>,
    push: fn(&mut Vec<u8>, Option<&str>),
    risky: RiskyFile,
    rows: usize,
}

/// Bytes gathered before they are written.
const BUFFER: usize = 1 << 20;

impl CsvFile {
    /// `report`'s file in `dir`, with its header; `spreadsheet_safe` as `--csv-spreadsheet-safe` asks.
    pub fn create(report: &Report, dir: &Path, spreadsheet_safe: bool) -> Result<CsvFile> {
        let path = dir.join(report.file);
        let file = File::create(&path).map_err(|e| Error::io(&path, e))?;
        let mut out = Vec::with_capacity(BUFFER + (1 << 16));
        out.extend_from_slice(report.header.join(",").as_bytes());
        out.extend_from_slice(b"\r\n");
        let push = if spreadsheet_safe { push_safe_field } else { push_field };
        Ok(CsvFile { path, file, out, push, risky: RiskyFile::new(report.file), rows: 0 })
    }

    /// The next rows of `header`'s report.
    pub fn push(&mut self, header: &'static [&'static str], batch: &[Row]) -> Result<()> {
        // Every row's first byte (for `observe`) before any row is written: see `in_batches`.
        for row in batch {
            self.risky.observe(self.rows, header, row);
            self.rows += 1;
        }
        for row in batch {
            for (column, value) in row.iter().enumerate() {
                if column > 0 {
                    self.out.push(b',');
                }
                (self.push)(&mut self.out, value.text());
            }
            self.out.extend_from_slice(b"\r\n");
        }
        if self.out.len() >= BUFFER {
            self.file.write_all(&self.out).map_err(|e| Error::io(&self.path, e))?;
            self.out.clear();
        }
        Ok(())
    }

    /// Writes what is left; returns the fields a spreadsheet would evaluate.
    pub fn finish(mut self) -> Result<RiskyFile> {
        self.file.write_all(&self.out).map_err(|e| Error::io(&self.path, e))?;
        Ok(self.risky)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(value: Option<&str>) -> String {
        let mut out = Vec::new();
        push_field(&mut out, value);
        String::from_utf8(out).unwrap()
    }

    fn safe_field(value: Option<&str>) -> String {
        let mut out = Vec::new();
        push_safe_field(&mut out, value);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn fields_keep_null_and_empty_apart_and_quote_hostile_text() {
        let cases = [
            (None, ""),
            (Some(""), "\"\""),
            (Some("plain"), "plain"),
            (Some("a,b"), "\"a,b\""),
            (Some("say \"hi\""), "\"say \"\"hi\"\"\""),
            (Some("line\nbreak"), "\"line\nbreak\""),
            (Some(" padded"), "\" padded\""),
            (Some("back\\slash\ttab"), "back\\slash\ttab"),
        ];
        for (value, expected) in cases {
            assert_eq!(field(value), expected, "{value:?}");
        }
    }

    #[test]
    fn spreadsheet_safe_fields_quote_only_formula_starts() {
        let cases = [
            (None, ""),
            (Some(""), "\"\""),
            (Some("1.0.0"), "1.0.0"),
            (Some("=1+1"), "'=1+1"),
            (Some("-x"), "'-x"),
            (Some("@x,y"), "\"'@x,y\""),
            (Some("\tx"), "'\tx"),
            (Some("=HYPERLINK(\"a\")"), "\"'=HYPERLINK(\"\"a\"\")\""),
        ];
        for (value, expected) in cases {
            assert_eq!(safe_field(value), expected, "{value:?}");
        }
    }
}
