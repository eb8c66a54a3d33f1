//! The CSV loss reports. RFC 4180, with psql's convention so that NULL and the empty string stay
//! apart: a NULL is an empty unquoted field, an empty string is `""`. Text with commas, quotes,
//! tabs, newlines or backslashes round-trips.

use super::spreadsheet::{would_evaluate, RiskyFile};
use super::tables::{in_batches, reports, Report};
use crate::error::{Error, Result};
use crate::plan::Plan;
use std::io::Write;
use std::path::Path;

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

/// Writes a report row by row through a buffer, borrowing each row from the plan (a report of
/// millions of rows is never copied whole), and notes the fields a spreadsheet would evaluate.
fn write_report(report: Report, dir: &Path, spreadsheet_safe: bool) -> Result<RiskyFile> {
    let path = dir.join(report.file);
    let mut file = std::fs::File::create(&path).map_err(|e| Error::io(&path, e))?;
    let mut risky = RiskyFile::new(report.file);
    let push = if spreadsheet_safe { push_safe_field } else { push_field };
    let mut out = Vec::with_capacity(1 << 20);
    out.extend_from_slice(report.header.join(",").as_bytes());
    out.extend_from_slice(b"\r\n");
    let mut index = 0;
    in_batches(report.rows, |batch| {
        // Every row's first byte (for `observe`) before any row is written: see `in_batches`.
        for row in batch {
            risky.observe(index, report.header, row);
            index += 1;
        }
        for row in batch {
            for (column, value) in row.iter().enumerate() {
                if column > 0 {
                    out.push(b',');
                }
                push(&mut out, value.text());
            }
            out.extend_from_slice(b"\r\n");
        }
        if out.len() >= 1 << 20 {
            file.write_all(&out).map_err(|e| Error::io(&path, e))?;
            out.clear();
        }
        Ok::<_, Error>(())
    })?;
    file.write_all(&out).map_err(|e| Error::io(&path, e))?;
    Ok(risky)
}

/// Writes every loss report; `spreadsheet_safe` as `--csv-spreadsheet-safe` asks. Returns the
/// files holding fields a spreadsheet would evaluate, as `spreadsheet::risky_files` finds them.
pub fn write_all(plan: &Plan, dir: &Path, spreadsheet_safe: bool) -> Result<Vec<RiskyFile>> {
    let mut risky = Vec::new();
    for report in reports(plan) {
        risky.push(write_report(report, dir, spreadsheet_safe)?);
    }
    risky.retain(|file| file.rows > 0);
    Ok(risky)
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
