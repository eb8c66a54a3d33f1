//! The CSV loss reports. RFC 4180, with psql's convention so that NULL and the empty string stay
//! apart: a NULL is an empty unquoted field, an empty string is `""`. Text with commas, quotes,
//! tabs, newlines or backslashes round-trips.

use super::spreadsheet::would_evaluate;
use super::tables::{reports, Report};
use crate::error::{Error, Result};
use crate::plan::Plan;
use std::io::Write;
use std::path::Path;

/// One CSV field: text, or NULL.
pub fn field(value: Option<&str>) -> String {
    match value {
        None => String::new(),
        Some(text) if text.is_empty() || text.contains([',', '"', '\n', '\r']) || text.trim() != text => {
            format!("\"{}\"", text.replace('"', "\"\""))
        }
        Some(text) => text.to_string(),
    }
}

/// One CSV field as `--csv-spreadsheet-safe` writes it: text that a spreadsheet would evaluate
/// gets a leading `'`, so that the spreadsheet shows it as text (and the file is no longer exact).
pub fn safe_field(value: Option<&str>) -> String {
    match value {
        Some(text) if would_evaluate(text) => field(Some(&format!("'{text}"))),
        _ => field(value),
    }
}

/// Writes a report row by row through a buffer, borrowing each row from the plan: a report of
/// millions of rows is never copied whole.
fn write_report(report: Report, dir: &Path, spreadsheet_safe: bool) -> Result<()> {
    let path = dir.join(report.file);
    let file = std::fs::File::create(&path).map_err(|e| Error::io(&path, e))?;
    let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
    let mut write = |line: String| out.write_all(line.as_bytes()).map_err(|e| Error::io(&path, e));
    write(format!("{}\r\n", report.header.join(",")))?;
    let render = if spreadsheet_safe { safe_field } else { field };
    for row in report.rows {
        let fields: Vec<String> = row.into_iter().map(|v| render(v.text())).collect();
        write(format!("{}\r\n", fields.join(",")))?;
    }
    out.flush().map_err(|e| Error::io(&path, e))
}

/// Writes every loss report; `spreadsheet_safe` as `--csv-spreadsheet-safe` asks.
pub fn write_all(plan: &Plan, dir: &Path, spreadsheet_safe: bool) -> Result<()> {
    for report in reports(plan) {
        write_report(report, dir, spreadsheet_safe)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

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
