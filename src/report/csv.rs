//! The CSV loss reports. RFC 4180, with psql's convention so that NULL and the empty string stay
//! apart: a NULL is an empty unquoted field, an empty string is `""`. Text with commas, quotes,
//! tabs, newlines or backslashes round-trips.

use super::bytes::ByteSet;
use super::spreadsheet::{would_evaluate, RiskyFile};
use super::tables::{Report, Row};
use crate::error::{Error, Result};
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Whether a field needs quotes: empty (to tell it from NULL), or holding a separator, a quote, a
/// line break, or whitespace at either end.
fn needs_quotes(text: &str) -> bool {
    text.is_empty() || QUOTED.find(text.as_bytes()).is_some() || space_at_either_end(text)
}

/// Whether `text` starts or ends with whitespace as `char::is_whitespace` has it: looked up on
/// the byte where that is an ASCII character, decoded only where it is not.
fn space_at_either_end(text: &str) -> bool {
    let ascii_space = |byte: u8| matches!(byte, b'\t'..=b'\r' | b' ');
    let bytes = text.as_bytes();
    let starts = match bytes.first() {
        Some(&byte) if byte.is_ascii() => ascii_space(byte),
        _ => text.starts_with(char::is_whitespace),
    };
    let ends = match bytes.last() {
        Some(&byte) if byte.is_ascii() => ascii_space(byte),
        _ => text.ends_with(char::is_whitespace),
    };
    starts || ends
}

/// The bytes a field is quoted for.
const QUOTED: ByteSet = ByteSet::new(b",\"\n\r", 0, &[]);

/// Appends one CSV field to `out`: text, or NULL.
fn push_field(out: &mut Vec<u8>, value: Option<&str>) {
    match value {
        None => {}
        Some(text) if needs_quotes(text) => {
            out.push(b'"');
            let mut rest = text.as_bytes();
            // Each quote doubled: copied with what comes before it, then once more.
            while let Some(quote) = memchr::memchr(b'"', rest) {
                out.extend_from_slice(&rest[..=quote]);
                out.push(b'"');
                rest = &rest[quote + 1..];
            }
            out.extend_from_slice(rest);
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
        // Every row's first byte (for `observe`) before any row is written: see `plan::BATCH`.
        for row in batch {
            self.risky.observe(self.rows, header, row);
            self.rows += 1;
        }
        for row in batch {
            for (column, value) in row.iter().enumerate() {
                if column > 0 {
                    self.out.push(b',');
                }
                value.with_text(|text| (self.push)(&mut self.out, text));
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
            (
                Some("a long field, with a comma past its first words"),
                "\"a long field, with a comma past its first words\"",
            ),
            (Some("\"\"quotes\" at \"either\" end\""), "\"\"\"\"\"quotes\"\" at \"\"either\"\" end\"\"\""),
            (Some("trailing tab\t"), "\"trailing tab\t\""),
            (Some("\u{A0}no-break space"), "\"\u{A0}no-break space\""),
            (Some("ideographic space\u{3000}"), "\"ideographic space\u{3000}\""),
            (Some("é inside é"), "é inside é"),
        ];
        for (value, expected) in cases {
            assert_eq!(field(value), expected, "{value:?}");
        }
    }

    #[test]
    fn whitespace_at_either_end_is_what_char_is_whitespace_says() {
        for c in (0..=0x3000).filter_map(char::from_u32) {
            for text in [format!("{c}x"), format!("x{c}"), c.to_string()] {
                let expected = text.starts_with(char::is_whitespace) || text.ends_with(char::is_whitespace);
                assert_eq!(space_at_either_end(&text), expected, "{text:?}");
            }
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
