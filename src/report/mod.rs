//! Renders the plan for people and machines: `summary.json`, `report.md`, `report.html`,
//! `report.xlsx` and the CSV loss reports of ROLLBACK.md §6. Rendering only: nothing here decides anything.

mod bytes;
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
use spreadsheet::RiskyFile;
use std::path::Path;
use tables::{reports, Report};

/// Writes every report of the run directory into `dir` (which exists and is empty).
/// `csv_spreadsheet_safe`: fields a spreadsheet would evaluate get a leading `'` in the CSV files.
pub fn write_all(plan: &Plan, dir: &Path, csv_spreadsheet_safe: bool) -> Result<()> {
    let reports = dir.join("reports");
    std::fs::create_dir_all(&reports).map_err(|e| Error::io(&reports, e))?;
    let (mut risky, sheets): (Vec<RiskyFile>, Vec<xlsx::Sheets>) =
        write_loss_reports(plan, dir, csv_spreadsheet_safe)?.into_iter().unzip();
    risky.retain(|file| file.rows > 0);
    // report.xlsx is put together while the other reports are written (their failure first).
    let others = || write_text_reports(plan, dir, csv_spreadsheet_safe, &risky);
    crate::parallel::beside(others, || xlsx::write(plan, &dir.join("report.xlsx"), sheets)).map(|((), ())| ())
}

/// A loss report written: the fields of its CSV file a spreadsheet would evaluate, its sheets.
type LossReport = (RiskyFile, xlsx::Sheets);

/// Each loss report's CSV file and the data rows of its sheets in report.xlsx, in one walk over
/// its rows (each text is fetched from memory once for both). The reports are shared out among as
/// many threads as there are cores, the largest first. Returns, in report order, the fields a
/// spreadsheet would evaluate and the sheets.
fn write_loss_reports(plan: &Plan, dir: &Path, spreadsheet_safe: bool) -> Result<Vec<LossReport>> {
    let mut order: Vec<(usize, usize)> =
        reports(plan).iter().enumerate().map(|(at, report)| (at, report.len * report.header.len())).collect();
    order.sort_by_key(|&(_, work)| std::cmp::Reverse(work));
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let ((), mut written) = crate::parallel::share(
        &order,
        cores,
        || (),
        |&(at, _)| {
            let report = reports(plan).into_iter().nth(at).expect("a report at each position");
            (at, write_loss_report(report, dir, spreadsheet_safe))
        },
    );
    written.sort_unstable_by_key(|&(at, _)| at);
    written.into_iter().map(|(_, report)| report).collect()
}

/// One loss report's CSV file, and its sheets' data rows.
fn write_loss_report(report: Report, dir: &Path, spreadsheet_safe: bool) -> Result<LossReport> {
    let mut csv = csv::CsvFile::create(&report, &dir.join("reports"), spreadsheet_safe)?;
    let spreadsheet = dir.join("report.xlsx");
    let io_error = |e| Error::io(&spreadsheet, e);
    let mut sheets = xlsx::SheetWriter::create(&report, dir, xlsx::SHEET_ROWS).map_err(io_error)?;
    (report.rows)(&mut |batch| {
        csv.push(report.header, batch)?;
        sheets.push(batch).map_err(io_error)
    })?;
    Ok((csv.finish()?, sheets.finish().map_err(io_error)?))
}

/// summary.json, report.md and report.html.
fn write_text_reports(plan: &Plan, dir: &Path, csv_spreadsheet_safe: bool, risky: &[RiskyFile]) -> Result<()> {
    write(&dir.join("summary.json"), &summary::Summary::of(plan).to_json())?;
    write(&dir.join("report.md"), &markdown::report(plan, csv_spreadsheet_safe, risky)?)?;
    write(&dir.join("report.html"), &html::report(plan, csv_spreadsheet_safe, risky)?)
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
