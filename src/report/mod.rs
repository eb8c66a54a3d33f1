//! Renders the plan for people and machines: `summary.json`, `report.md`, `report.html`,
//! `report.xlsx` and the CSV loss reports of ROLLBACK.md §6. Rendering only: nothing here decides anything.

pub mod csv;
pub mod decisions;
pub mod html;
mod igzip;
pub mod markdown;
pub mod package;
pub mod sheet_xml;
pub mod spreadsheet;
pub mod summary;
pub mod tables;
pub mod xlsx;

use crate::error::{Error, Result};
use crate::plan::Plan;
use std::path::Path;

/// Writes every report of the run directory into `dir` (which exists and is empty).
/// `csv_spreadsheet_safe`: fields a spreadsheet would evaluate get a leading `'` in the CSV files.
pub fn write_all(plan: &Plan, dir: &Path, csv_spreadsheet_safe: bool) -> Result<()> {
    let reports = dir.join("reports");
    std::fs::create_dir_all(&reports).map_err(|e| Error::io(&reports, e))?;
    // report.xlsx costs more than the rest together (mostly its deflate): it is written on a
    // thread of its own while the others are.
    std::thread::scope(|scope| {
        let spreadsheet = scope.spawn(|| xlsx::write(plan, &dir.join("report.xlsx")));
        let others = write_text_reports(plan, dir, &reports, csv_spreadsheet_safe);
        let spreadsheet = spreadsheet.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        others.and(spreadsheet)
    })
}

/// The CSV reports, summary.json, report.md and report.html.
fn write_text_reports(plan: &Plan, dir: &Path, reports: &Path, csv_spreadsheet_safe: bool) -> Result<()> {
    let risky = csv::write_all(plan, reports, csv_spreadsheet_safe)?;
    write(&dir.join("summary.json"), &summary::Summary::of(plan).to_json())?;
    write(&dir.join("report.md"), &markdown::report(plan, csv_spreadsheet_safe, &risky))?;
    write(&dir.join("report.html"), &html::report(plan, csv_spreadsheet_safe, &risky))
}

/// Text on one line for logs and tables: control characters shown as escapes, quotes left alone.
pub fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '\n' => "\\n".to_string(),
            '\t' => "\\t".to_string(),
            '\r' => "\\r".to_string(),
            c if c.is_control() => c.escape_unicode().to_string(),
            c => c.to_string(),
        })
        .collect()
}

pub fn write(path: &Path, text: &str) -> Result<()> {
    std::fs::write(path, text).map_err(|e| Error::io(path, e))
}

#[cfg(test)]
mod tests {
    #[test]
    fn one_line_shows_control_characters() {
        assert_eq!(super::one_line("a\n\tb \"c\" \u{7}"), "a\\n\\tb \"c\" \\u{7}");
    }
}
