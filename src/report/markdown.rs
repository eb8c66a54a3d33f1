//! `report.md`: the same facts for a release manager. What to do before running anything first
//! (the predicted failure, the hazards to decide), then the totals, the CSV fields a spreadsheet
//! would evaluate, what is lost and why, every hazard with its meaning, then the verification.

use super::decisions;
use super::spreadsheet::{self, RiskyFile};
use crate::error::Result;
use crate::plan::{Check, Plan, ServiceAction, Shared};
use crate::rehearsal::rules::RULES;
use crate::terms::HazardCode;
use std::fmt::Write;

/// Markdown table cell: one line, pipes escaped.
fn cell(text: &str) -> String {
    let flat = super::one_line(text);
    let short: String = flat.chars().take(120).collect();
    let short = if flat.chars().count() > 120 { format!("{short}…") } else { short };
    short.replace('|', "\\|").replace('`', "'")
}

fn opt(value: &Option<impl AsRef<str>>) -> String {
    value.as_ref().map_or("NULL".to_string(), |v| format!("`{}`", cell(v.as_ref())))
}

fn verdict(check: &Check) -> &'static str {
    match (check.applicable, check.pass) {
        (false, _) => "n/a",
        (true, true) => "pass",
        (true, false) => "FAIL",
    }
}

const SAMPLE: usize = 20;

/// What to do before running anything: the predicted failure, then the hazards to decide, most
/// consequential first.
fn before_anything(out: &mut String, plan: &Plan) {
    let _ = writeln!(out, "## Before you run anything\n");
    let outcome = match (&plan.predicted_failure, plan.fails()) {
        (Some(reason), _) => {
            format!("**PREDICTED FAILURE**: {reason}. The real script would fail: resolve this first.")
        }
        (None, true) => "**VERIFICATION FAILS**: see Verification below".to_string(),
        (None, false) => "No failure is predicted: the rollback is predicted to succeed.".to_string(),
    };
    let _ = writeln!(out, "{outcome}\n");
    let hazards = decisions::to_decide(plan);
    if hazards.is_empty() {
        let _ = writeln!(out, "No hazard needs a decision.\n");
        return;
    }
    let _ = writeln!(out, "Decide on these hazards first, most consequential first (rows in `reports/hazards.csv`):\n");
    let _ = writeln!(out, "| code | count | unit | meaning | what to do |\n|---|---:|---|---|---|");
    for (hazard, n) in hazards {
        let _ = writeln!(
            out,
            "| {} | {n} | {} | {} | {} |",
            hazard.code,
            hazard.unit,
            cell(hazard.title),
            cell(hazard.help)
        );
    }
    let _ = writeln!(out);
}

/// The CSV fields a spreadsheet would evaluate as formulas, by file, and where to look instead.
fn spreadsheet_fields(out: &mut String, files: &[RiskyFile], csv_spreadsheet_safe: bool) {
    let _ = writeln!(out, "## Opening the reports in a spreadsheet\n");
    let _ = writeln!(
        out,
        "Open `report.xlsx`: it holds every loss report, and every text in it is a string cell, never a formula.\n"
    );
    if files.is_empty() {
        let _ =
            writeln!(out, "No field of the CSV files starts with `=`, `+`, `-`, `@`, a tab or a carriage return.\n");
        return;
    }
    if csv_spreadsheet_safe {
        let _ = writeln!(
            out,
            "These CSV fields start with `=`, `+`, `-`, `@`, a tab or a carriage return; this run wrote them with a leading `'` (--csv-spreadsheet-safe), so the CSV files differ from the data there.\n"
        );
    } else {
        let _ = writeln!(
            out,
            "The CSV files are exact, for machines: a spreadsheet that opens them evaluates these fields as formulas (they start with `=`, `+`, `-`, `@`, a tab or a carriage return). Do not open them in a spreadsheet; `--csv-spreadsheet-safe` writes them with a leading `'`.\n"
        );
    }
    let _ = writeln!(out, "| file | rows | row | column | text |\n|---|---:|---:|---|---|");
    for file in files {
        for risky in &file.listed {
            let _ = writeln!(
                out,
                "| `reports/{}` | {} | {} | {} | `{}` |",
                file.file,
                file.rows,
                risky.row,
                risky.column,
                cell(&risky.text)
            );
        }
    }
    let _ = writeln!(
        out,
        "\nRows are numbered from the first row after the header; the first {} fields of each file are listed.\n",
        spreadsheet::LISTED_ROWS
    );
}

/// A definition as an SQL block.
fn sql_block(definition: &str) -> String {
    format!("```sql\n{}\n```\n", definition.replace("```", "` ` `"))
}

/// The rollback statement by statement: what PostgreSQL does at each, what makes one fail and
/// what to do, and what is dropped without a word.
fn statements(plan: &Plan) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "\n## Statement by statement\n");
    let _ = writeln!(
        out,
        "In the order they run ({}). Each is replayed over the dump's views, rules, policies, triggers, generated columns, indexes, constraints and statistics.\n",
        match plan.policy {
            crate::rehearsal::policy::Policy::Legacy => "the shipped script's order; 02_rollback.sql keeps it",
            crate::rehearsal::policy::Policy::Documented => "02_rollback.sql's order",
        }
    );
    let _ = writeln!(out, "| # | statement | PostgreSQL |\n|---:|---|---|");
    for (i, step) in plan.ddl.iter().enumerate() {
        let verdict = match (&step.failure, step.reached) {
            (Some(f), true) => format!("**fails**: {} {}", f.sqlstate, cell(&f.message)),
            (Some(f), false) => format!("not reached; would fail next: {} {}", f.sqlstate, cell(&f.message)),
            (None, false) => "not reached".to_string(),
            (None, true) if step.dropped.is_empty() => "succeeds".to_string(),
            (None, true) => format!("succeeds, dropping {} more objects", step.dropped.len()),
        };
        let _ = writeln!(out, "| {} | `{}` | {verdict} |", i + 1, cell(&step.sql));
    }
    for (i, step) in plan.ddl.iter().enumerate() {
        let Some(failure) = &step.failure else { continue };
        let _ = writeln!(
            out,
            "\n### Statement {} fails{}\n\n`ERROR: {}: {}`\n",
            i + 1,
            if step.reached { "" } else { " once the failure before it is fixed" },
            failure.sqlstate,
            cell(&failure.message)
        );
        for object in &failure.objects {
            let _ = writeln!(out, "- {}", cell(&object.detail));
        }
        if !failure.next.is_empty() {
            let _ = writeln!(out, "\nOnce these are dealt with, the same statement fails on:\n");
            for object in &failure.next {
                let _ = writeln!(out, "- {}", cell(&object.detail));
            }
        }
        let _ = writeln!(out, "\nWhat to do: {}.\n", failure.remedy);
        for object in failure.objects.iter().chain(&failure.next).filter(|o| !o.definition.is_empty()) {
            let _ = writeln!(out, "Definition of {}:\n\n{}", cell(&object.object), sql_block(&object.definition));
        }
    }
    let dropped: Vec<_> = plan.ddl.iter().flat_map(|s| s.dropped.iter().map(move |d| (s, d))).collect();
    if !dropped.is_empty() {
        let _ = writeln!(
            out,
            "\n### Dropped with the version columns, without a word (H18)\n\n{}\n",
            if plan.drop_dependents {
                "02_rollback.sql drops them explicitly, by name (--drop-dependents). Recreate the ones still needed from their definitions:"
            } else {
                "The shipped script loses them silently; 02_rollback.sql refuses to (rerun with --drop-dependents to drop them explicitly). Their definitions:"
            }
        );
        for (step, d) in dropped {
            let _ = writeln!(
                out,
                "- {} (with column {}, by `{}`)\n\n{}",
                cell(&d.object.describe()),
                cell(&d.with_column),
                cell(&step.sql),
                sql_block(&d.object.definition)
            );
        }
    }
    out
}

/// H16: which triggers fire, how often, and the plain warning that their effects are not rehearsed.
fn triggers(plan: &Plan) -> Result<String> {
    // A trigger fires on every row it is on: the rows are read back from the plan's spill.
    let mut groups: Vec<(Shared, Shared, u64)> = Vec::new();
    plan.hazard_rows(HazardCode::H16, |rows| -> Result<()> {
        for row in rows {
            match groups.iter_mut().find(|(t, detail, _)| t == row.table && detail == row.detail) {
                Some(group) => group.2 += 1,
                None => groups.push((row.table.clone(), row.detail.clone(), 1)),
            }
        }
        Ok(())
    })?;
    if groups.is_empty() {
        return Ok(String::new());
    }
    let mut out = String::from("\n## Triggers that fire (H16)\n\n");
    out.push_str("**Their effects are not rehearsed.** rehearse does not run trigger functions: whatever they write, change or refuse is missing from every count in this report, and the emitted script's row-count checks stop the rollback if a trigger changes what it deletes. Each firing, with its row, is in `reports/hazards.csv`.\n\n");
    let _ = writeln!(out, "| table | firings | trigger and when it fires |\n|---|---:|---|");
    for (table, detail, n) in groups {
        let _ = writeln!(out, "| {} | {n} | {} |", cell(&table), cell(&detail));
    }
    Ok(out)
}

/// `risky`: the report files with fields a spreadsheet would evaluate (`spreadsheet::risky_files`).
pub fn report(plan: &Plan, csv_spreadsheet_safe: bool, risky: &[RiskyFile]) -> Result<String> {
    let mut out = String::new();
    let input = |k: &str| plan.input.get(k).cloned().unwrap_or_default();
    let _ = writeln!(out, "# Rollback rehearsal: model versioning\n");
    before_anything(&mut out, plan);
    let _ = writeln!(
        out,
        "Input `{}` ({}, sha256 `{}`), policy **{}**, mode **{:?}**, orphans {}, collation `{}` (legacy keepers' version order; from {}).\n",
        cell(&input("input_path")),
        input("format"),
        input("input_sha256"),
        plan.policy.name(),
        plan.mode,
        if plan.delete_orphans { "deleted (--delete-orphans)" } else { "kept and listed" },
        plan.collation,
        plan.collation_source
    );
    let _ = writeln!(out, "## Totals\n");
    let _ = writeln!(out, "| | before | after | lost |\n|---|---:|---:|---:|");
    let _ = writeln!(
        out,
        "| models rows (versions) | {} | {} | {} |",
        plan.models_before,
        plan.models_after,
        plan.models_before - plan.models_after
    );
    let _ = writeln!(
        out,
        "| services | {} | {} | {} |",
        plan.services_before,
        plan.services_after,
        plan.services_before - plan.services_after
    );
    for (table, rows) in &plan.cascade_deleted {
        let _ = writeln!(out, "| {} (foreign keys) | | | {rows} |", cell(table));
    }
    for (table, rows) in &plan.cascade_changed {
        let _ = writeln!(out, "| {} rows changed (SET NULL/DEFAULT) | | | {rows} |", cell(table));
    }
    for (table, rows) in &plan.cascade_by_parent {
        let _ = writeln!(out, "| {} with its partitions / children, in all | | | {rows} |", cell(table));
    }
    let _ = writeln!(
        out,
        "\nServices: {} repointed to another version, {} unchanged, {} orphaned before the rollback, {} deleted.",
        plan.services_with(ServiceAction::Repointed),
        plan.services_with(ServiceAction::Unchanged),
        plan.services_with(ServiceAction::Orphan),
        plan.services_with(ServiceAction::Deleted)
    );
    let _ = writeln!(
        out,
        "The documented and legacy policies keep different rows for {} model_ids (`reports/policy_divergence.csv`).\n",
        plan.divergence.len()
    );

    spreadsheet_fields(&mut out, risky, csv_spreadsheet_safe);

    let _ = writeln!(out, "## What is lost, and why\n");
    let _ = writeln!(out, "Every deleted version is in `reports/versions_deleted.csv` with the version kept instead. The first {SAMPLE}:\n");
    let _ = writeln!(out, "| model_id | deleted version | status | kept version | why |\n|---|---|---|---|---|");
    for d in plan.deleted.iter().take(SAMPLE) {
        let (keeper, reason) = d.kept_instead(&plan.keepers);
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} |",
            opt(&d.model_id),
            opt(&d.version),
            opt(&d.version_status),
            opt(&keeper.version),
            cell(reason)
        );
    }
    let repointed = plan.services.first(SAMPLE, |s| {
        (s.action == ServiceAction::Repointed).then(|| {
            format!(
                "| {} | {} | {} | {} |",
                opt(&s.service_id),
                opt(&s.model_id),
                opt(&s.model_version_before),
                opt(&s.model_version_after)
            )
        })
    })?;
    if !repointed.is_empty() {
        let _ = writeln!(
            out,
            "\nServices that silently serve another version afterwards (`reports/services_affected.csv`):\n"
        );
        let _ = writeln!(out, "| service_id | model_id | pinned | serves after |\n|---|---|---|---|");
        for row in repointed {
            let _ = writeln!(out, "{row}");
        }
    }

    if !plan.collation_sensitive.is_empty() {
        let ids: Vec<String> = plan.collation_sensitive.iter().take(SAMPLE).map(opt).collect();
        let _ = writeln!(
            out,
            "\n**Collation:** the export does not say which collation the database runs in, and the legacy keeper of {} model_ids depends on it (rehearsed in `{}`; {} keeps another row): {}. Give the production database's collation with --collation.",
            plan.collation_sensitive.len(),
            plan.collation,
            plan.collation_alternatives.iter().map(|c| format!("`{c}`")).collect::<Vec<_>>().join(" or "),
            ids.join(", ")
        );
    }
    if plan.mode == crate::plan::Mode::Selective {
        let _ = writeln!(out, "\nSelective rollback: every version stays, but every service loses its `model_version` pin and `UNIQUE(model_id)` cannot be restored (H13).");
    }
    out.push_str(&statements(plan));
    out.push_str(&triggers(plan)?);
    let _ = writeln!(out, "\n## Hazards\n");
    let counts = plan.hazard_counts();
    let _ = writeln!(out, "| code | count | unit | meaning | what to do |\n|---|---:|---|---|---|");
    for hazard in &RULES {
        let n = counts.get(hazard.code.as_str()).copied().unwrap_or(0);
        let _ = writeln!(
            out,
            "| {} | {n} | {} | {} | {} |",
            hazard.code,
            hazard.unit,
            cell(hazard.title),
            cell(hazard.help)
        );
    }
    let _ = writeln!(out, "\nEvery hazard row is in `reports/hazards.csv`.");

    let v = &plan.verification;
    let _ = writeln!(out, "\n## Verification (on the simulated result)\n");
    let _ = writeln!(out, "| check | result | count | detail |\n|---|---|---:|---|");
    for (name, check) in [
        ("V1 version columns gone", &v.v1),
        ("V2 no duplicate model_id", &v.v2),
        ("V3 as the guide writes it", &v.v3),
        ("V3 caused by the rollback", &v.v3_caused),
    ] {
        let _ = writeln!(out, "| {name} | {} | {} | {} |", verdict(check), check.count, cell(&check.detail));
    }
    let _ = writeln!(
        out,
        "\nThe emitted script fails hard on V1, V2 and V3-caused; pre-existing orphans (H8) fail the guide's V3 only."
    );
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::{cell, opt};

    #[test]
    fn a_cell_stays_in_its_column_on_one_line() {
        assert_eq!(cell("a|b"), "a\\|b");
        assert_eq!(cell("`x`"), "'x'");
        assert_eq!(cell("two\nlines"), "two\\nlines");
        let long = "é".repeat(130);
        assert_eq!(cell(&long), format!("{}…", "é".repeat(120)));
        assert_eq!(cell(&"é".repeat(120)), "é".repeat(120));
        assert_eq!(opt(&Some("1.0|rc")), "`1.0\\|rc`");
        assert_eq!(opt(&None::<&str>), "NULL");
    }
}
