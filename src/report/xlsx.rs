//! `report.xlsx`: the loss reports for people who open them in a spreadsheet. A first sheet with
//! the verdict, the hazards to decide, the totals and native charts; then one sheet per loss
//! report with the same rows and columns as its CSV file. Text is always a string cell (never a
//! formula, whatever it starts with), booleans are booleans, counts are numbers. A NULL is an
//! empty cell shaded grey; an empty string is an empty cell without shading (a spreadsheet cannot
//! hold an empty string). A report longer than a sheet continues on the next one.

use super::decisions::by_consequence;
use super::tables::{reports, Report, Value};
use crate::error::{Error, Result};
use crate::plan::{Plan, ServiceAction};
use rust_xlsxwriter::{Chart, ChartType, Color, Format, Workbook, Worksheet, XlsxError};
use std::path::Path;

/// Rows of one worksheet, header included: Excel's limit.
pub const SHEET_ROWS: u32 = 1_048_576;
/// Text of one cell, in UTF-16 code units: Excel's limit. Longer text is cut, and the summary
/// sheet says where (the CSV file holds it whole).
const CELL_UNITS: usize = 32_767;
/// Column widths, in characters.
const MIN_WIDTH: usize = 8;
const MAX_WIDTH: usize = 60;
/// Cells cut at `CELL_UNITS` that the summary sheet names one by one.
const LISTED_CUTS: usize = 20;

/// Where a report landed: its sheets and their data rows (1-based, as in the CSV file).
struct Placed {
    file: &'static str,
    sheets: Vec<(String, u64, u64)>,
}

struct Styles {
    bold: Format,
    header: Format,
    null: Format,
    wrap: Format,
}

fn styles() -> Styles {
    Styles {
        bold: Format::new().set_bold(),
        header: Format::new().set_bold().set_background_color(Color::RGB(0xDDEBF7)),
        null: Format::new().set_background_color(Color::RGB(0xD9D9D9)),
        wrap: Format::new().set_text_wrap(),
    }
}

/// Writes `report.xlsx` at `path`.
pub fn write(plan: &Plan, path: &Path) -> Result<()> {
    write_with_sheet_rows(plan, path, SHEET_ROWS)
}

fn write_with_sheet_rows(plan: &Plan, path: &Path, sheet_rows: u32) -> Result<()> {
    let fail = |e: XlsxError| match e {
        XlsxError::IoError(e) | XlsxError::TempFileError(_, e) => Error::io(path, e),
        other => Error::Internal(format!("writing {}: {other}", path.display())),
    };
    let styles = styles();
    let mut workbook = Workbook::new();
    if let Some(dir) = path.parent() {
        workbook.set_tempdir(dir).map_err(fail)?;
    }
    workbook.add_worksheet().set_name("summary").map_err(fail)?;
    let mut placed = Vec::new();
    let mut cuts = Vec::new();
    for report in reports(plan) {
        placed.push(write_report(&mut workbook, report, sheet_rows, &styles, &mut cuts).map_err(fail)?);
    }
    let summary = workbook.worksheet_from_index(0).map_err(fail)?;
    write_summary(summary, plan, &placed, &cuts, &styles).map_err(fail)?;
    workbook.save(path).map_err(fail)
}

/// `text` cut to Excel's cell limit, on a character boundary.
fn fit(text: &str) -> &str {
    // A character takes at least as many UTF-8 bytes as UTF-16 units: short text fits as it is.
    if text.len() <= CELL_UNITS {
        return text;
    }
    let mut units = 0;
    for (at, c) in text.char_indices() {
        units += c.len_utf16();
        if units > CELL_UNITS {
            return &text[..at];
        }
    }
    text
}

fn sheet_name(report: &str, part: usize) -> String {
    if part == 1 {
        report.to_string()
    } else {
        format!("{report} ({part})")
    }
}

/// A report on one sheet or more, each with its header frozen, an autofilter and fitted widths.
fn write_report(
    workbook: &mut Workbook,
    report: Report,
    sheet_rows: u32,
    styles: &Styles,
    cuts: &mut Vec<String>,
) -> std::result::Result<Placed, XlsxError> {
    let data_rows = u64::from(sheet_rows - 1);
    let columns = report.header.len() as u16;
    let name = report.name();
    let mut placed = Placed { file: report.file, sheets: Vec::new() };
    let mut widths: Vec<usize> = report.header.iter().map(|h| h.chars().count() + 2).collect();
    let mut sheet = new_sheet(workbook, &sheet_name(name, 1), report.header, styles)?;
    let (mut first, mut row_in_sheet) = (1u64, 0u32);
    let mut number = 0u64;
    for row in report.rows {
        number += 1;
        if u64::from(row_in_sheet) == data_rows {
            finish_sheet(sheet, row_in_sheet, columns, &widths)?;
            placed.sheets.push((sheet_name(name, placed.sheets.len() + 1), first, number - 1));
            sheet = new_sheet(workbook, &sheet_name(name, placed.sheets.len() + 1), report.header, styles)?;
            (first, row_in_sheet) = (number, 0);
        }
        row_in_sheet += 1;
        for (column, value) in row.into_iter().enumerate() {
            let col = column as u16;
            match value {
                Value::Text(None) | Value::Bool(None) => {
                    sheet.write_blank(row_in_sheet, col, &styles.null)?;
                }
                Value::Bool(Some(b)) => {
                    sheet.write_boolean(row_in_sheet, col, b)?;
                }
                Value::Text(Some(text)) => {
                    let shown = fit(text);
                    if shown.len() < text.len() {
                        cuts.push(format!(
                            "{}, row {number}, column {} ({} characters)",
                            report.file,
                            report.header[column],
                            text.chars().count()
                        ));
                    }
                    widths[column] = widths[column].max(shown.chars().take(MAX_WIDTH).count() + 2);
                    sheet.write_string(row_in_sheet, col, shown)?;
                }
            }
        }
    }
    finish_sheet(sheet, row_in_sheet, columns, &widths)?;
    placed.sheets.push((sheet_name(name, placed.sheets.len() + 1), first, number));
    Ok(placed)
}

fn new_sheet<'a>(
    workbook: &'a mut Workbook,
    name: &str,
    header: &[&str],
    styles: &Styles,
) -> std::result::Result<&'a mut Worksheet, XlsxError> {
    let sheet = workbook.add_worksheet_with_constant_memory()?;
    sheet.set_name(name)?;
    sheet.set_freeze_panes(1, 0)?;
    for (col, title) in header.iter().enumerate() {
        sheet.write_string_with_format(0, col as u16, *title, &styles.header)?;
    }
    Ok(sheet)
}

fn finish_sheet(
    sheet: &mut Worksheet,
    last_row: u32,
    columns: u16,
    widths: &[usize],
) -> std::result::Result<(), XlsxError> {
    sheet.autofilter(0, 0, last_row, columns - 1)?;
    for (col, width) in widths.iter().enumerate() {
        sheet.set_column_width(col as u16, (*width).clamp(MIN_WIDTH, MAX_WIDTH) as f64)?;
    }
    Ok(())
}

/// The first sheet: verdict, hazards by consequence, totals, where each report is, and charts.
fn write_summary(
    sheet: &mut Worksheet,
    plan: &Plan,
    placed: &[Placed],
    cuts: &[String],
    styles: &Styles,
) -> std::result::Result<(), XlsxError> {
    sheet.write_string_with_format(0, 0, "Rollback rehearsal: model versioning", &styles.bold)?;
    let verdict = match (&plan.predicted_failure, plan.fails()) {
        (Some(_), _) => "PREDICTED FAILURE",
        (None, true) => "VERIFICATION FAILS on the rehearsed result",
        (None, false) => "The rollback is predicted to succeed",
    };
    sheet.write_string_with_format(1, 0, "verdict", &styles.bold)?;
    sheet.write_string(1, 1, verdict)?;
    sheet.write_string_with_format(2, 0, "predicted failure", &styles.bold)?;
    sheet.write_boolean(2, 1, plan.predicted_failure.is_some())?;
    sheet.write_string_with_format(3, 0, "reason", &styles.bold)?;
    match &plan.predicted_failure {
        Some(reason) => sheet.write_string(3, 1, fit(reason))?,
        None => sheet.write_blank(3, 1, &styles.null)?,
    };
    sheet.write_string_with_format(4, 0, "policy", &styles.bold)?;
    sheet.write_string(4, 1, plan.policy.name())?;
    sheet.write_string_with_format(5, 0, "collation", &styles.bold)?;
    sheet.write_string(5, 1, &plan.collation)?;
    sheet.write_string(5, 2, "legacy keepers' version order")?;
    sheet.write_string_with_format(6, 0, "collation from", &styles.bold)?;
    sheet.write_string(6, 1, &plan.collation_source)?;
    sheet.write_string(
        7,
        0,
        "Empty cells shaded grey are NULL; empty cells without shading are empty strings. Every text is a string cell, never a formula.",
    )?;

    let top = 9;
    let first_hazard = top + 1;
    for (col, title) in ["code", "meaning", "unit", "count", "what to do", "chart label"].iter().enumerate() {
        sheet.write_string_with_format(top, col as u16, *title, &styles.header)?;
    }
    let counts = plan.hazard_counts();
    let hazards = by_consequence();
    for (i, hazard) in hazards.iter().enumerate() {
        let row = top + 1 + i as u32;
        let count = counts.get(hazard.code.as_str()).copied().unwrap_or(0);
        sheet.write_string(row, 0, hazard.code.as_str())?;
        sheet.write_string_with_format(row, 1, hazard.title, &styles.wrap)?;
        sheet.write_string(row, 2, hazard.unit)?;
        sheet.write_number(row, 3, count as f64)?;
        sheet.write_string_with_format(row, 4, hazard.help, &styles.wrap)?;
        sheet.write_string(row, 5, format!("{} {} ({})", hazard.code, hazard.title, hazard.unit))?;
    }
    let last_hazard = top + hazards.len() as u32;
    sheet.autofilter(top, 0, last_hazard, 5)?;

    let totals_top = last_hazard + 2;
    let top = totals_top;
    for (col, title) in ["totals", "before", "after", "lost"].iter().enumerate() {
        sheet.write_string_with_format(top, col as u16, *title, &styles.header)?;
    }
    let totals = [
        ("models rows (versions)", plan.models_before, plan.models_after),
        ("services rows", plan.services_before, plan.services_after),
    ];
    for (i, (what, before, after)) in totals.iter().enumerate() {
        let row = top + 1 + i as u32;
        sheet.write_string(row, 0, *what)?;
        sheet.write_number(row, 1, *before as f64)?;
        sheet.write_number(row, 2, *after as f64)?;
        sheet.write_number(row, 3, before.saturating_sub(*after) as f64)?;
    }
    let mut row = top + 1 + totals.len() as u32;
    let repointed = plan.services_with(ServiceAction::Repointed);
    let other_tables = plan.cascade_deleted.iter().map(|(t, n)| (format!("{t} rows deleted (foreign keys)"), *n));
    let changed = plan.cascade_changed.iter().map(|(t, n)| (format!("{t} rows changed (SET NULL/DEFAULT)"), *n));
    let by_parent =
        plan.cascade_by_parent.iter().map(|(t, n)| (format!("{t} with its partitions / children, in all"), *n));
    for (what, n) in std::iter::once(("services repointed to another version".to_string(), repointed))
        .chain(other_tables)
        .chain(changed)
        .chain(by_parent)
    {
        sheet.write_string(row, 0, &what)?;
        sheet.write_number(row, 3, n as f64)?;
        row += 1;
    }

    let top = row + 1;
    for (col, title) in ["report", "sheet", "first row", "last row"].iter().enumerate() {
        sheet.write_string_with_format(top, col as u16, *title, &styles.header)?;
    }
    let mut row = top + 1;
    for report in placed {
        for (name, first, last) in &report.sheets {
            sheet.write_string(row, 0, format!("reports/{}", report.file))?;
            sheet.write_string(row, 1, name)?;
            sheet.write_number(row, 2, *first as f64)?;
            sheet.write_number(row, 3, *last as f64)?;
            if report.sheets.len() > 1 {
                sheet.write_string(
                    row,
                    4,
                    "longer than one sheet: continued on the next sheet (rows numbered as in the CSV file)",
                )?;
            }
            row += 1;
        }
    }
    if !cuts.is_empty() {
        row += 1;
        sheet.write_string(
            row,
            0,
            format!("{} cells hold more than a spreadsheet cell can ({CELL_UNITS} characters): cut here, whole in the CSV file", cuts.len()),
        )?;
        for cut in cuts.iter().take(LISTED_CUTS) {
            row += 1;
            sheet.write_string(row, 0, cut)?;
        }
    }
    sheet.set_column_width(0, 30)?;
    sheet.set_column_width(1, 50)?;
    sheet.set_column_width(2, 18)?;
    sheet.set_column_width(4, 50)?;
    sheet.set_column_width(5, 40)?;
    insert_charts(sheet, (first_hazard, last_hazard), totals_top)
}

/// Native charts beside the tables: rows per hazard (labelled with meaning and unit), and the
/// models and services rows before and after.
fn insert_charts(sheet: &mut Worksheet, (first, last): (u32, u32), totals: u32) -> std::result::Result<(), XlsxError> {
    let mut hazards = Chart::new(ChartType::Bar);
    hazards.title().set_name("Rows per hazard (count in the hazard's unit)");
    hazards
        .add_series()
        .set_name("count")
        .set_categories(("summary", first, 5, last, 5))
        .set_values(("summary", first, 3, last, 3));
    hazards.legend().set_hidden();
    hazards.set_width(900).set_height(520);
    sheet.insert_chart(1, 7, &hazards)?;

    let mut totals_chart = Chart::new(ChartType::Column);
    totals_chart.title().set_name("Rows before and after the rollback");
    for (col, name) in [(1, "before"), (2, "after")] {
        totals_chart
            .add_series()
            .set_name(name)
            .set_categories(("summary", totals + 1, 0, totals + 2, 0))
            .set_values(("summary", totals + 1, col, totals + 2, col));
    }
    totals_chart.y_axis().set_name("rows");
    sheet.insert_chart(29, 7, &totals_chart)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utf16_units(text: &str) -> usize {
        text.chars().map(char::len_utf16).sum()
    }

    fn numbered(rows: usize) -> Report<'static> {
        const TEXT: [&str; 7] = ["1", "2", "3", "4", "5", "6", "7"];
        Report {
            file: "versions_kept.csv",
            header: &["id", "flag"],
            rows: Box::new(TEXT.into_iter().take(rows).map(|t| vec![Value::Text(Some(t)), Value::Bool(None)])),
        }
    }

    fn placed_sheets(rows: usize, sheet_rows: u32) -> (Vec<(String, u64, u64)>, Vec<String>) {
        let mut workbook = Workbook::new();
        let placed = write_report(&mut workbook, numbered(rows), sheet_rows, &styles(), &mut Vec::new()).unwrap();
        let names = workbook.worksheets().iter().map(|s| s.name()).collect();
        (placed.sheets, names)
    }

    #[test]
    fn a_report_longer_than_a_sheet_continues_on_the_next_ones() {
        let (sheets, names) = placed_sheets(7, 3);
        let expected = [
            ("versions_kept", 1, 2),
            ("versions_kept (2)", 3, 4),
            ("versions_kept (3)", 5, 6),
            ("versions_kept (4)", 7, 7),
        ];
        let expected: Vec<(String, u64, u64)> = expected.iter().map(|(n, a, b)| (n.to_string(), *a, *b)).collect();
        assert_eq!(sheets, expected);
        assert_eq!(names, ["versions_kept", "versions_kept (2)", "versions_kept (3)", "versions_kept (4)"]);
    }

    #[test]
    fn a_full_last_sheet_is_not_followed_by_an_empty_one_and_an_empty_report_keeps_its_header() {
        assert_eq!(placed_sheets(6, 3).0.len(), 3);
        assert_eq!(placed_sheets(0, 3).0, [("versions_kept".to_string(), 1, 0)]);
        assert_eq!(placed_sheets(7, SHEET_ROWS).0, [("versions_kept".to_string(), 1, 7)]);
    }

    #[test]
    fn text_beyond_a_cell_is_cut_on_a_character_boundary() {
        let long = "é".repeat(CELL_UNITS + 5);
        assert_eq!(fit(&long).chars().count(), CELL_UNITS);
        let emoji = "🚀".repeat(CELL_UNITS);
        assert_eq!(utf16_units(fit(&emoji)), CELL_UNITS - 1, "a surrogate pair is never split");
        assert_eq!(fit("short"), "short");
    }
}
