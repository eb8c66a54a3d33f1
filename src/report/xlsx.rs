//! `report.xlsx`: the loss reports for people who open them in a spreadsheet. A first sheet with
//! the verdict, the hazards to decide, the totals and native charts; then one sheet per loss
//! report with the same rows and columns as its CSV file. Text is always a string cell (never a
//! formula, whatever it starts with), booleans are booleans, counts are numbers. A NULL is an
//! empty cell shaded grey; an empty string is an empty cell without shading (a spreadsheet cannot
//! hold an empty string). A report longer than a sheet continues on the next one.
//!
//! The data rows, most of the file, are written by `sheet_xml` while the report's CSV file is
//! (`SheetWriter`, one walk over the rows for both), deflated by ISA-L into a temporary file a
//! sheet (never all in memory). rust_xlsxwriter then writes the workbook with each report
//! sheet's header, widths and filter, known once the rows are; each report sheet's part of the
//! package (`package`) is its frame's head and tail deflated around the rows' piece.

use super::decisions::by_consequence;
use super::package::{Deflated, Deflater, Package, Piece, DEFLATED, STORED};
use super::sheet_xml::{self, fit, CELL_UNITS};
use super::tables::{Report, Row, Value};
use crate::error::{Error, Result};
use crate::plan::{Plan, ServiceAction};
use crate::row_id;
use rust_xlsxwriter::{Chart, ChartType, Color, Format, Workbook, Worksheet, XlsxError};
use std::fs::File;
use std::io::{self, BufWriter, Cursor, Read, Write};
use std::path::Path;
use zip::result::ZipError;
use zip::{CompressionMethod, ZipArchive};

/// Rows of one worksheet, header included: Excel's limit.
pub const SHEET_ROWS: u32 = 1_048_576;
/// Column widths, in characters.
const MIN_WIDTH: usize = 8;
const MAX_WIDTH: usize = 60;
/// Cells cut at `CELL_UNITS` that the summary sheet names one by one.
const LISTED_CUTS: usize = 20;

/// The style index of a NULL cell: the second format the report sheets use, after the header's.
const NULL_STYLE: u32 = 2;

/// One sheet of a report.
struct Part {
    name: String,
    /// Its data rows, 1-based as in the CSV file (`last` = `first` - 1 when there are none).
    first: u64,
    last: u64,
    /// Column widths in characters, over the report's rows up to this sheet's last.
    widths: Vec<usize>,
    /// The last sheet row (0 = the header) that holds a cell: the sheet's dimension.
    last_stored: u32,
    /// Its data rows' XML, deflated in a temporary file: a piece of the sheet's part.
    rows: (File, Deflated),
}

/// Where a report's rows land: its sheets, and whether it has a NULL.
struct Layout {
    file: &'static str,
    header: &'static [&'static str],
    parts: Vec<Part>,
    has_null: bool,
}

impl Layout {
    /// The name of the report's next sheet.
    fn next_sheet_name(&self) -> String {
        sheet_name(self.file.trim_end_matches(".csv"), self.parts.len() + 1)
    }
}

/// A report's sheets with their rows written, and the cells cut to fit.
pub struct Sheets {
    layout: Layout,
    cuts: Vec<String>,
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

/// Writes a report's sheets' data rows as they go by, into temporary files in a directory, and
/// lays the sheets out: where each row lands, the column widths, NULLs and cut cells.
pub struct SheetWriter<'a> {
    dir: &'a Path,
    data_rows: u64,
    layout: Layout,
    cuts: Vec<String>,
    /// Column widths in characters, over the rows so far.
    widths: Vec<usize>,
    /// The last row so far (1-based, as in the CSV file).
    number: u64,
    xml: sheet_xml::Rows,
    sheet: OpenSheet,
}

/// The sheet the rows go to.
struct OpenSheet {
    /// Its first data row (1-based, as in the CSV file).
    first: u64,
    /// Its last row holding a cell (0 = the header).
    last_stored: u32,
    deflater: Deflater<BufWriter<File>>,
}

/// XML gathered before it is deflated.
const XML_BUFFER: usize = 1 << 16;

impl OpenSheet {
    /// A sheet from data row `first` on, its rows deflated into a temporary file in `dir`.
    fn new(dir: &Path, first: u64) -> io::Result<OpenSheet> {
        let file = tempfile::tempfile_in(dir)?;
        Ok(OpenSheet { first, last_stored: 0, deflater: Deflater::new(BufWriter::with_capacity(1 << 20, file)) })
    }

    /// Ends the sheet with the rows left in `xml`: its rows up to `last`, its `widths`.
    fn close(mut self, xml: &mut sheet_xml::Rows, name: String, last: u64, widths: &[usize]) -> io::Result<Part> {
        self.deflater.write_all(&xml.out)?;
        xml.out.clear();
        let (file, deflated) = self.deflater.sync()?;
        let file = file.into_inner().map_err(|e| e.into_error())?;
        let (first, last_stored, widths) = (self.first, self.last_stored, widths.to_vec());
        Ok(Part { name, first, last, widths, last_stored, rows: (file, deflated) })
    }
}

impl<'a> SheetWriter<'a> {
    /// `report`'s sheets, of `sheet_rows` rows each (Excel's `SHEET_ROWS` but in tests), their
    /// rows kept in `dir` until the package is written.
    pub fn create(report: &Report, dir: &'a Path, sheet_rows: u32) -> io::Result<SheetWriter<'a>> {
        Ok(SheetWriter {
            dir,
            data_rows: u64::from(sheet_rows - 1),
            layout: Layout { file: report.file, header: report.header, parts: Vec::new(), has_null: false },
            cuts: Vec::new(),
            widths: report.header.iter().map(|h| h.chars().count() + 2).collect(),
            number: 0,
            xml: sheet_xml::Rows::new(report.header.len(), NULL_STYLE),
            sheet: OpenSheet::new(dir, 1)?,
        })
    }

    /// The next rows of the report; a sheet that is full continues on the next.
    pub fn push(&mut self, mut batch: &[Row]) -> io::Result<()> {
        while !batch.is_empty() {
            let mut in_sheet = self.number + 1 - self.sheet.first;
            if in_sheet == self.data_rows {
                let full = std::mem::replace(&mut self.sheet, OpenSheet::new(self.dir, self.number + 1)?);
                let part = self.close(full)?;
                self.layout.parts.push(part);
                in_sheet = 0;
            }
            let (here, rest) = batch.split_at(batch.len().min((self.data_rows - in_sheet) as usize));
            for row in here {
                self.lay_out(row);
            }
            // The header is sheet row 1.
            self.xml.push_all(in_sheet as u32 + 2, here);
            if self.xml.out.len() >= XML_BUFFER {
                self.sheet.deflater.write_all(&self.xml.out)?;
                self.xml.out.clear();
            }
            batch = rest;
        }
        Ok(())
    }

    /// Notes where the next row lands, what it widens, and whether it has a NULL or a cut cell.
    fn lay_out(&mut self, row: &[Value]) {
        self.number += 1;
        for (column, &value) in row.iter().enumerate() {
            match value {
                Value::Text(Some("")) => continue,
                Value::Text(None) | Value::Bool(None) => self.layout.has_null = true,
                Value::Bool(Some(_)) => {}
                Value::Text(Some(text)) => self.lay_out_text(column, text),
                Value::Uuid(bytes) => self.lay_out_text(column, &row_id::spelled(bytes)),
            }
            self.sheet.last_stored = (self.number - self.sheet.first + 1) as u32;
        }
    }

    /// Notes whether `text`, in `column` of the next row, is cut and what it widens.
    fn lay_out_text(&mut self, column: usize, text: &str) {
        let shown = fit(text);
        if shown.len() < text.len() {
            self.cuts.push(format!(
                "{}, row {}, column {} ({} characters)",
                self.layout.file,
                self.number,
                self.layout.header[column],
                text.chars().count()
            ));
        }
        // Text no longer in bytes than the column is wide in characters cannot widen it, nor can
        // anything once the column is as wide as it gets.
        let width = &mut self.widths[column];
        if *width < (MAX_WIDTH + 2).min(shown.len() + 2) {
            *width = (*width).max(shown.chars().take(MAX_WIDTH).count() + 2);
        }
    }

    /// `sheet` ended with the rows so far, as the report's next part.
    fn close(&mut self, sheet: OpenSheet) -> io::Result<Part> {
        sheet.close(&mut self.xml, self.layout.next_sheet_name(), self.number, &self.widths)
    }

    /// Ends the last sheet (an empty report keeps one, with its header).
    pub fn finish(self) -> io::Result<Sheets> {
        let SheetWriter { mut layout, cuts, widths, number, mut xml, sheet, .. } = self;
        layout.parts.push(sheet.close(&mut xml, layout.next_sheet_name(), number, &widths)?);
        Ok(Sheets { layout, cuts })
    }
}

/// Writes `report.xlsx` at `path`, with each report's `sheets` (in report order).
pub fn write(plan: &Plan, path: &Path, sheets: Vec<Sheets>) -> Result<()> {
    let fail = |e: XlsxError| match e {
        XlsxError::IoError(e) | XlsxError::TempFileError(_, e) => Error::io(path, e),
        other => Error::Internal(format!("writing {}: {other}", path.display())),
    };
    let (layouts, cuts): (Vec<Layout>, Vec<Vec<String>>) = sheets.into_iter().map(|s| (s.layout, s.cuts)).unzip();
    let frame = frame(plan, &layouts, &cuts.concat(), path).map_err(fail)?;
    let file = File::create(path).map_err(|e| Error::io(path, e))?;
    let package = Package::new(BufWriter::with_capacity(1 << 20, file));
    write_package(&layouts, &frame, package).map_err(|e| zip_error(path, e))?;
    Ok(())
}

fn zip_error(path: &Path, error: ZipError) -> Error {
    match error {
        ZipError::Io(e) => Error::io(path, e),
        other => Error::Internal(format!("writing {}: {other}", path.display())),
    }
}

fn sheet_name(report: &str, part: usize) -> String {
    if part == 1 {
        report.to_string()
    } else {
        format!("{report} ({part})")
    }
}

/// The workbook without the report sheets' data rows: the summary sheet, and each report sheet
/// with its header, frozen, filtered and with its widths. The formats the data rows use are
/// registered in the order rust_xlsxwriter would meet them (header, then NULL).
fn frame(plan: &Plan, layouts: &[Layout], cuts: &[String], path: &Path) -> std::result::Result<Vec<u8>, XlsxError> {
    let styles = styles();
    let mut workbook = Workbook::new();
    if let Some(dir) = path.parent() {
        workbook.set_tempdir(dir)?;
    }
    workbook.add_worksheet().set_name("summary")?;
    frame_report_sheets(&mut workbook, layouts, &styles)?;
    let summary = workbook.worksheet_from_index(0)?;
    write_summary(summary, plan, layouts, cuts, &styles)?;
    workbook.save_to_buffer()
}

/// Each report sheet without its data rows.
fn frame_report_sheets(
    workbook: &mut Workbook,
    layouts: &[Layout],
    styles: &Styles,
) -> std::result::Result<(), XlsxError> {
    for layout in layouts {
        for part in &layout.parts {
            let sheet = new_sheet(workbook, &part.name, layout.header, styles)?;
            let rows = (part.last + 1 - part.first) as u32;
            sheet.autofilter(0, 0, rows, layout.header.len() as u16 - 1)?;
            for (col, width) in part.widths.iter().enumerate() {
                sheet.set_column_width(col as u16, (*width).clamp(MIN_WIDTH, MAX_WIDTH) as f64)?;
            }
        }
    }
    if layouts.iter().any(|l| l.has_null) {
        workbook.register_format(&styles.null);
    }
    Ok(())
}

/// The package into `package`: the frame's parts, each report sheet's rows put in its own.
fn write_package<W: Write>(layouts: &[Layout], frame: &[u8], mut package: Package<W>) -> Result<(), ZipError> {
    let mut archive = ZipArchive::new(Cursor::new(frame))?;
    // The summary is sheet1.xml; the report sheets follow in order.
    let sheets: Vec<(String, &Layout, &Part)> = layouts
        .iter()
        .flat_map(|layout| layout.parts.iter().map(move |part| (layout, part)))
        .enumerate()
        .map(|(at, (layout, part))| (format!("xl/worksheets/sheet{}.xml", at + 2), layout, part))
        .collect();
    for index in 0..archive.len() {
        let mut part = archive.by_index_raw(index)?;
        let name = part.name()?.to_string();
        if sheets.iter().any(|(entry, ..)| *entry == name) {
            continue;
        }
        let method = match part.compression() {
            CompressionMethod::Stored => STORED,
            CompressionMethod::Deflated => DEFLATED,
            other => return Err(io::Error::other(format!("{name}: compressed with {other}")).into()),
        };
        let (crc, size) = (part.crc32(), part.size());
        let mut raw = Vec::new();
        part.read_to_end(&mut raw)?;
        package.copy(&name, method, crc, size, &raw)?;
    }
    for (entry, layout, part) in &sheets {
        let mut frame = String::new();
        archive.by_name(entry)?.read_to_string(&mut frame)?;
        append_sheet(&mut package, entry, &frame, layout, part)?;
    }
    package.finish()?;
    Ok(())
}

/// One report sheet's part: the frame's XML of it (`frame`), its data rows and their dimension
/// put in.
fn append_sheet<W: Write>(
    package: &mut Package<W>,
    entry: &str,
    frame: &str,
    layout: &Layout,
    part: &Part,
) -> io::Result<()> {
    let end = frame
        .find("</sheetData>")
        .ok_or_else(|| io::Error::other(format!("{entry}: no </sheetData> in rust_xlsxwriter's sheet")))?;
    let last_column = layout.header.len() as u16 - 1;
    let dimension =
        |last: u32| format!("<dimension ref=\"{}\"/>", rust_xlsxwriter::utility::cell_range(0, 0, last, last_column));
    let head = frame[..end].replacen(&dimension(0), &dimension(part.last_stored), 1);
    let mut deflater = Deflater::new(Vec::new());
    deflater.write_all(head.as_bytes())?;
    let (head, head_deflated) = deflater.sync()?;
    let mut deflater = Deflater::new(Vec::new());
    deflater.write_all(&frame.as_bytes()[end..])?;
    let (tail, tail_deflated) = deflater.finish()?;
    let (rows, rows_deflated) = &part.rows;
    let pieces = [
        (Piece::Memory(&head), head_deflated),
        (Piece::File(rows), *rows_deflated),
        (Piece::Memory(&tail), tail_deflated),
    ];
    package.append(entry, &pieces)
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

/// The first sheet: verdict, hazards by consequence, totals, where each report is, and charts.
fn write_summary(
    sheet: &mut Worksheet,
    plan: &Plan,
    layouts: &[Layout],
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
    for layout in layouts {
        for part in &layout.parts {
            sheet.write_string(row, 0, format!("reports/{}", layout.file))?;
            sheet.write_string(row, 1, &part.name)?;
            sheet.write_number(row, 2, part.first as f64)?;
            sheet.write_number(row, 3, part.last as f64)?;
            if layout.parts.len() > 1 {
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

    fn numbered(rows: usize) -> Report<'static> {
        const TEXT: [&str; 7] = ["1", "2", "3", "4", "5", "6", "7"];
        Report {
            file: "versions_kept.csv",
            header: &["id", "flag"],
            rows: Box::new(move |each| {
                let rows: Vec<Row> =
                    TEXT.into_iter().take(rows).map(|t| Row::new([Value::Text(Some(t)), Value::Bool(None)])).collect();
                // Two rows at a time: the writer takes a report in batches.
                rows.chunks(2).try_for_each(each)
            }),
            len: rows,
        }
    }

    /// `report`'s rows through a `SheetWriter`, in batches as the run writes them.
    fn laid_out(report: Report<'static>, sheet_rows: u32) -> Sheets {
        let dir = std::env::temp_dir();
        let mut writer = SheetWriter::create(&report, &dir, sheet_rows).unwrap();
        (report.rows)(&mut |batch| writer.push(batch).map_err(|e| crate::Error::io(&dir, e))).unwrap();
        writer.finish().unwrap()
    }

    fn placed_sheets(rows: usize, sheet_rows: u32) -> Vec<(String, u64, u64)> {
        let layout = laid_out(numbered(rows), sheet_rows).layout;
        layout.parts.into_iter().map(|p| (p.name, p.first, p.last)).collect()
    }

    /// The package of `layout`'s sheets, with a summary sheet before them.
    fn package_of(layout: &Layout) -> Vec<u8> {
        let mut workbook = Workbook::new();
        workbook.add_worksheet().set_name("summary").unwrap();
        frame_report_sheets(&mut workbook, std::slice::from_ref(layout), &styles()).unwrap();
        let frame = workbook.save_to_buffer().unwrap();
        let mut package = Cursor::new(Vec::new());
        write_package(std::slice::from_ref(layout), &frame, Package::new(&mut package)).unwrap();
        package.into_inner()
    }

    #[test]
    fn each_sheet_of_a_long_report_holds_its_own_rows_numbered_from_its_header() {
        let layout = laid_out(numbered(7), 3).layout;
        let package = package_of(&layout);
        let rows_of = |sheet: usize| {
            let xml = part_xml(&package, &format!("xl/worksheets/sheet{sheet}.xml"));
            let texts: Vec<String> = xml.split("<t>").skip(1).map(|t| t[..t.find('<').unwrap()].to_string()).collect();
            let numbers: Vec<String> =
                xml.split("<row r=\"").skip(1).map(|r| r[..r.find('"').unwrap()].to_string()).collect();
            (texts, numbers)
        };
        let sheet = |texts: &[&str], numbers: &[&str]| {
            (texts.iter().map(|t| t.to_string()).collect(), numbers.iter().map(|n| n.to_string()).collect())
        };
        assert_eq!(rows_of(2), sheet(&["id", "flag", "1", "2"], &["1", "2", "3"]));
        assert_eq!(rows_of(3), sheet(&["id", "flag", "3", "4"], &["1", "2", "3"]));
        assert_eq!(rows_of(5), sheet(&["id", "flag", "7"], &["1", "2"]));
        assert!(part_xml(&package, "xl/worksheets/sheet5.xml").contains("<dimension ref=\"A1:B2\"/>"));
    }

    #[test]
    fn a_report_longer_than_a_sheet_continues_on_the_next_ones() {
        let expected = [
            ("versions_kept", 1, 2),
            ("versions_kept (2)", 3, 4),
            ("versions_kept (3)", 5, 6),
            ("versions_kept (4)", 7, 7),
        ];
        let expected: Vec<(String, u64, u64)> = expected.iter().map(|(n, a, b)| (n.to_string(), *a, *b)).collect();
        assert_eq!(placed_sheets(7, 3), expected);
    }

    #[test]
    fn a_full_last_sheet_is_not_followed_by_an_empty_one_and_an_empty_report_keeps_its_header() {
        assert_eq!(placed_sheets(6, 3).len(), 3);
        assert_eq!(placed_sheets(0, 3), [("versions_kept".to_string(), 1, 0)]);
        assert_eq!(placed_sheets(7, SHEET_ROWS), [("versions_kept".to_string(), 1, 7)]);
    }

    const HEADER: &[&str] = &["id", "flag", "note"];

    /// Rows with every kind of cell: hostile text, NULLs, booleans, empty strings, text beyond a
    /// cell, and a last row of empty strings only (no cell: it is not in the dimension).
    fn hostile() -> Vec<Row<'static>> {
        let long: &'static str = Box::leak("é<".repeat(CELL_UNITS).into_boxed_str());
        let texts = [
            "plain",
            "a<b>&c",
            " padded",
            "tab\t",
            "\nnew",
            "cr\r",
            "\u{1}\u{1F}",
            "_x0041_ _x00G1_ _x004",
            "\u{FFFE}\u{FFFF}",
            "=HYPERLINK(\"x\")",
            long,
        ];
        let mut rows: Vec<Row> = texts
            .iter()
            .enumerate()
            .map(|(i, t)| {
                Row::new([Value::Text(Some(t)), Value::Bool([None, Some(true), Some(false)][i % 3]), Value::Text(None)])
            })
            .collect();
        rows.push(Row::new([Value::Text(Some("")), Value::Text(None), Value::Text(Some("x"))]));
        rows.push(Row::new([Value::Text(Some("")), Value::Text(Some("")), Value::Text(Some(""))]));
        rows
    }

    fn report_of(rows: Vec<Row<'static>>) -> Report<'static> {
        let len = rows.len();
        Report { file: "hostile.csv", header: HEADER, len, rows: Box::new(move |each| each(&rows)) }
    }

    fn part_xml(package: &[u8], entry: &str) -> String {
        let mut archive = ZipArchive::new(Cursor::new(package)).unwrap();
        let mut xml = String::new();
        archive.by_name(entry).unwrap().read_to_string(&mut xml).unwrap();
        xml
    }

    /// The report written cell by cell through rust_xlsxwriter's own API, as report.xlsx was
    /// written before its rows were written here: the reference for the XML.
    fn written_by_rust_xlsxwriter(layout: &Layout) -> String {
        let styles = styles();
        let mut workbook = Workbook::new();
        workbook.add_worksheet().set_name("summary").unwrap();
        let part = &layout.parts[0];
        let sheet = new_sheet(&mut workbook, &part.name, HEADER, &styles).unwrap();
        for (row, values) in (1..).zip(hostile()) {
            for (col, &value) in (0..).zip(values.iter()) {
                match value {
                    Value::Text(None) | Value::Bool(None) => sheet.write_blank(row, col, &styles.null).map(|_| ()),
                    Value::Bool(Some(b)) => sheet.write_boolean(row, col, b).map(|_| ()),
                    Value::Text(Some(text)) => sheet.write_string(row, col, fit(text)).map(|_| ()),
                    Value::Uuid(bytes) => sheet.write_string(row, col, &*row_id::spelled(bytes)).map(|_| ()),
                }
                .unwrap();
            }
        }
        sheet.autofilter(0, 0, part.last as u32, 2).unwrap();
        for (col, width) in part.widths.iter().enumerate() {
            sheet.set_column_width(col as u16, (*width).clamp(MIN_WIDTH, MAX_WIDTH) as f64).unwrap();
        }
        part_xml(&workbook.save_to_buffer().unwrap(), "xl/worksheets/sheet2.xml")
    }

    #[test]
    fn sheet_rows_are_written_as_rust_xlsxwriter_writes_them() {
        let Sheets { layout, cuts } = laid_out(report_of(hostile()), SHEET_ROWS);
        assert_eq!(cuts, ["hostile.csv, row 11, column id (65534 characters)"]);
        assert!(layout.has_null);
        assert_eq!(layout.parts[0].last_stored, 12, "the row of empty strings holds no cell");
        let xml = part_xml(&package_of(&layout), "xl/worksheets/sheet2.xml");
        assert_eq!(xml, written_by_rust_xlsxwriter(&layout));
    }
}
