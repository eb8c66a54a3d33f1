//! `report.html`: one self-contained page for stakeholders — no network, no CDN. What to do
//! before running anything first (the predicted failure, the hazards to decide), then totals, bar
//! charts drawn as inline SVG (each bar labelled with its meaning and unit), the CSV fields a
//! spreadsheet would evaluate, tables of what is lost that sort on a click (a few lines of inline
//! script), and links to the CSV reports. Every number comes from the plan, as in summary.json.

use super::decisions;
use super::spreadsheet::{self, RiskyFile};
use crate::error::Result;
use crate::plan::{Plan, ServiceAction};
use crate::rehearsal::rules::{Rule, RULES};
use std::fmt::Write;

/// Rows per table on the page; the CSV files hold them all.
const TABLE_ROWS: usize = 2000;

fn esc(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}

fn opt(value: &Option<impl AsRef<str>>) -> String {
    value.as_ref().map_or_else(|| "<i>NULL</i>".to_string(), |v| esc(v.as_ref()))
}

/// One bar: what it counts (a label that says what it means), how many, and in what unit.
struct Bar {
    label: String,
    count: u64,
    unit: &'static str,
}

/// Characters of a bar's label drawn beside it; the whole label is its tooltip.
const LABEL_CHARS: usize = 80;

/// A horizontal bar chart as inline SVG: each bar labelled with its meaning, and its count with
/// the unit.
fn bars(id: &str, title: &str, data: &[Bar]) -> String {
    let max = data.iter().map(|b| b.count).max().unwrap_or(0).max(1);
    let row = 22;
    let height = row * data.len().max(1) + 10;
    let mut svg = format!(
        "<figure id=\"{id}\"><figcaption>{}</figcaption><svg role=\"img\" width=\"1100\" height=\"{height}\" viewBox=\"0 0 1100 {height}\">",
        esc(title)
    );
    for (i, bar) in data.iter().enumerate() {
        let y = i * row + 5;
        let width = (bar.count as f64 / max as f64 * 300.0).round() as u64;
        let shown: String = bar.label.chars().take(LABEL_CHARS).collect();
        let shown = if bar.label.chars().count() > LABEL_CHARS { format!("{shown}…") } else { shown };
        let _ = write!(
            svg,
            "<g><title>{}: {} {}</title><text x=\"0\" y=\"{}\" class=\"label\">{}</text><rect class=\"bar\" x=\"560\" y=\"{y}\" width=\"{width}\" height=\"16\" data-value=\"{}\"></rect><text x=\"{}\" y=\"{}\" class=\"value\">{} {}</text></g>",
            esc(&bar.label),
            bar.count,
            esc(bar.unit),
            y + 13,
            esc(&shown),
            bar.count,
            565 + width,
            y + 13,
            bar.count,
            esc(bar.unit)
        );
    }
    if data.is_empty() {
        svg.push_str("<text x=\"0\" y=\"18\">none</text>");
    }
    svg.push_str("</svg></figure>");
    svg
}

/// A table of the first `TABLE_ROWS` of `rows`, of `total` in all; the rest are never read.
fn table<T>(
    id: &str,
    header: &[&str],
    (rows, total): (impl Iterator<Item = T>, usize),
    cells: impl Fn(T) -> Vec<String>,
    csv: &str,
) -> String {
    let mut out = format!("<table id=\"{id}\" class=\"sortable\"><thead><tr>");
    for h in header {
        let _ = write!(out, "<th>{}</th>", esc(h));
    }
    out.push_str("</tr></thead><tbody>");
    for row in rows.take(TABLE_ROWS) {
        out.push_str("<tr>");
        for cell in cells(row) {
            let _ = write!(out, "<td>{cell}</td>");
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table>");
    let shown = total.min(TABLE_ROWS);
    let _ = write!(
        out,
        "<p class=\"note\">{shown} of {total} rows shown; all in <a href=\"reports/{csv}\">reports/{csv}</a>.</p>"
    );
    out
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2em;color:#222}h1{font-size:1.6em}\
table{border-collapse:collapse;margin:1em 0;font-size:.9em}td,th{border:1px solid #ccc;padding:3px 6px;text-align:left}\
th{background:#eee;cursor:pointer}.bar{fill:#c0392b}.label{font-size:12px}figure{margin:1em 0}\
.totals td:nth-child(n+2){text-align:right}.fail{color:#c0392b;font-weight:bold}.pass{color:#27ae60}.note{color:#666}";

/// Sorts a table on a click on its header; numbers numerically. Marks the page ready.
const SCRIPT: &str = "document.querySelectorAll('table.sortable').forEach(function(t){\
t.querySelectorAll('th').forEach(function(th,i){th.addEventListener('click',function(){\
var b=t.tBodies[0],r=Array.prototype.slice.call(b.rows),d=th.dataset.dir==='asc'?-1:1;th.dataset.dir=d>0?'asc':'desc';\
r.sort(function(x,y){var a=x.cells[i].textContent,c=y.cells[i].textContent,n=parseFloat(a),m=parseFloat(c);\
return d*(!isNaN(n)&&!isNaN(m)?n-m:a.localeCompare(c));});r.forEach(function(e){b.appendChild(e);});});});});\
document.body.dataset.ready='yes';";

/// What to do before running anything: the predicted failure, then the hazards to decide, most
/// consequential first.
fn before_anything(plan: &Plan) -> String {
    let mut out = String::from("<section id=\"before-anything\"><h2>Before you run anything</h2>");
    match &plan.predicted_failure {
        Some(reason) => {
            let _ = write!(
                out,
                "<p class=\"fail\">Predicted failure: <span id=\"predicted-failure\">{}</span>. The real script would fail: resolve this first.</p>",
                esc(reason)
            );
        }
        None => out.push_str("<p>No failure is predicted.</p>"),
    }
    let hazards = decisions::to_decide(plan);
    if hazards.is_empty() {
        out.push_str("<p id=\"no-decisions\">No hazard needs a decision.</p></section>");
        return out;
    }
    out.push_str(
        "<p>Decide on these hazards first, most consequential first (rows in <a href=\"reports/hazards.csv\">reports/hazards.csv</a>):</p>\
         <table id=\"decisions\"><thead><tr><th>code</th><th>count</th><th>unit</th><th>meaning</th><th>what to do</th></tr></thead><tbody>",
    );
    for (hazard, n) in hazards {
        let _ = write!(
            out,
            "<tr data-code=\"{}\" data-count=\"{n}\"><td>{}</td><td>{n}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            hazard.code,
            hazard.code,
            esc(hazard.unit),
            esc(hazard.title),
            esc(hazard.help)
        );
    }
    out.push_str("</tbody></table></section>");
    out
}

/// The CSV fields a spreadsheet would evaluate as formulas, by file, and where to look instead.
fn spreadsheet_fields(files: &[RiskyFile], csv_spreadsheet_safe: bool) -> String {
    let mut out = String::from(
        "<section id=\"spreadsheet-fields\"><h2>Opening the reports in a spreadsheet</h2>\
         <p>Open <a href=\"report.xlsx\">report.xlsx</a>: it holds every loss report, and every text in it is a string cell, never a formula.</p>",
    );
    if files.is_empty() {
        out.push_str("<p>No field of the CSV files starts with =, +, -, @, a tab or a carriage return.</p></section>");
        return out;
    }
    out.push_str(if csv_spreadsheet_safe {
        "<p>These CSV fields start with =, +, -, @, a tab or a carriage return; this run wrote them with a leading <code>'</code> (--csv-spreadsheet-safe), so the CSV files differ from the data there.</p>"
    } else {
        "<p class=\"fail\">The CSV files are exact, for machines: a spreadsheet that opens them evaluates these fields as formulas (they start with =, +, -, @, a tab or a carriage return). Do not open them in a spreadsheet; <code>--csv-spreadsheet-safe</code> writes them with a leading <code>'</code>.</p>"
    });
    out.push_str("<table id=\"spreadsheet-fields-table\"><thead><tr><th>file</th><th>rows</th><th>row</th><th>column</th><th>text</th></tr></thead><tbody>");
    for file in files {
        for risky in &file.listed {
            let _ = write!(
                out,
                "<tr data-file=\"{}\" data-rows=\"{}\"><td>reports/{}</td><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
                file.file,
                file.rows,
                file.file,
                file.rows,
                risky.row,
                risky.column,
                esc(&super::one_line(&risky.text))
            );
        }
    }
    let _ = write!(
        out,
        "</tbody></table><p class=\"note\">Rows are numbered from the first row after the header; the first {} fields of each file are listed.</p></section>",
        spreadsheet::LISTED_ROWS
    );
    out
}

/// `risky`: the report files with fields a spreadsheet would evaluate (`spreadsheet::risky_files`).
pub fn report(plan: &Plan, csv_spreadsheet_safe: bool, risky: &[RiskyFile]) -> Result<String> {
    let mut out = String::from(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Rollback rehearsal</title>",
    );
    let _ = write!(out, "<style>{STYLE}</style></head><body>");
    out.push_str("<h1>Rollback rehearsal: model versioning</h1>");
    let verdict = match &plan.predicted_failure {
        Some(reason) => format!("<p id=\"verdict\" class=\"fail\">Predicted failure: {}</p>", esc(reason)),
        None if plan.fails() => {
            "<p id=\"verdict\" class=\"fail\">Verification fails on the rehearsed result.</p>".into()
        }
        None => "<p id=\"verdict\" class=\"pass\">The rollback is predicted to succeed.</p>".into(),
    };
    out.push_str(&verdict);
    out.push_str(&before_anything(plan));
    let input = |k: &str| esc(plan.input.get(k).map(String::as_str).unwrap_or(""));
    let _ = write!(
        out,
        "<p>Input <code>{}</code> ({}), policy <b>{}</b>, orphans {}, collation <code id=\"collation\">{}</code> (legacy keepers' version order; from <span id=\"collation-source\">{}</span>).</p>",
        input("input_path"),
        input("format"),
        plan.policy.name(),
        if plan.delete_orphans { "deleted" } else { "kept" },
        esc(&plan.collation),
        esc(&plan.collation_source)
    );
    let _ = write!(
        out,
        "<table class=\"totals\"><tr><th></th><th>before</th><th>after</th><th>lost</th></tr>\
         <tr><td>models rows (versions)</td><td id=\"models-before\">{}</td><td id=\"models-after\">{}</td><td id=\"versions-deleted\">{}</td></tr>\
         <tr><td>services</td><td id=\"services-before\">{}</td><td id=\"services-after\">{}</td><td id=\"services-deleted\">{}</td></tr>",
        plan.models_before,
        plan.models_after,
        plan.deleted.len(),
        plan.services_before,
        plan.services_after,
        plan.services_with(ServiceAction::Deleted)
    );
    for (table, rows) in &plan.cascade_by_parent {
        let _ = write!(
            out,
            "<tr data-parent=\"{0}\"><td>{0} with its partitions / children, in all</td><td></td><td></td><td>{rows}</td></tr>",
            esc(table)
        );
    }
    out.push_str("</table>");
    let _ = write!(
        out,
        "<p>Services repointed to another version: <b id=\"services-repointed\">{}</b>.</p>",
        plan.services_with(ServiceAction::Repointed)
    );

    // The deleted rows come grouped by model, as the rehearsal chooses them: counted a run at a
    // time, the runs of one model_id brought together by sorting (right in any order), and only
    // the top 20 labelled (the labels share their prefix: the model_ids order them as the labels
    // would).
    let mut runs: Vec<(&str, u64)> = plan
        .deleted
        .chunk_by(|a, b| a.model_id == b.model_id)
        .map(|run| (run[0].model_id.as_deref().unwrap_or("NULL"), run.len() as u64))
        .collect();
    runs.sort_unstable_by_key(|&(model_id, _)| model_id);
    let mut per_model: Vec<(&str, u64)> =
        runs.chunk_by(|a, b| a.0 == b.0).map(|same| (same[0].0, same.iter().map(|(_, n)| n).sum())).collect();
    let by_count = |a: &(&str, u64), b: &(&str, u64)| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0));
    if per_model.len() > 20 {
        per_model.select_nth_unstable_by(20, by_count);
        per_model.truncate(20);
    }
    per_model.sort_unstable_by(by_count);
    let per_model: Vec<Bar> = per_model
        .into_iter()
        .map(|(model_id, count)| Bar { label: format!("model_id {model_id}"), count, unit: "versions deleted" })
        .collect();
    out.push_str(&bars("chart-versions", "Versions deleted per model (top 20)", &per_model));
    let actions = [
        (ServiceAction::Repointed, "repointed: silently serves another version"),
        (ServiceAction::Unchanged, "unchanged"),
        (ServiceAction::Orphan, "orphan: no models row before the rollback"),
        (ServiceAction::Deleted, "deleted"),
    ];
    let by_action: Vec<Bar> = actions
        .iter()
        .map(|(a, meaning)| Bar { label: meaning.to_string(), count: plan.services_with(*a), unit: "services rows" })
        .collect();
    out.push_str(&bars("chart-services", "Services by action", &by_action));
    let counts = plan.hazard_counts();
    let by_code: Vec<Bar> = RULES
        .iter()
        .map(|h| Bar {
            label: format!("{} {}", h.code, h.title),
            count: counts.get(h.code.as_str()).copied().unwrap_or(0),
            unit: h.unit,
        })
        .collect();
    out.push_str(&bars("chart-hazards", "Hazards: rows per code, in each hazard's unit", &by_code));
    let mut lost =
        vec![Bar { label: "models (versions)".into(), count: plan.deleted.len() as u64, unit: "rows deleted" }];
    lost.extend(plan.cascade_deleted.iter().map(|(t, n)| Bar {
        label: format!("{t} (foreign keys)"),
        count: *n,
        unit: "rows deleted",
    }));
    out.push_str(&bars("chart-tables", "Rows deleted per table", &lost));
    out.push_str(&spreadsheet_fields(risky, csv_spreadsheet_safe));

    out.push_str("<h2>Versions deleted</h2>");
    out.push_str(&table(
        "versions-deleted-table",
        &["model_id", "version", "status", "kept version", "why"],
        (plan.deleted.iter(), plan.deleted.len()),
        |d| {
            let (keeper, reason) = d.kept_instead(&plan.keepers);
            vec![opt(&d.model_id), opt(&d.version), opt(&d.version_status), opt(&keeper.version), esc(reason)]
        },
        "versions_deleted.csv",
    ));
    out.push_str("<h2>Services affected</h2>");
    let shown = plan.services.first(TABLE_ROWS, |s| {
        (s.action != ServiceAction::Unchanged).then(|| {
            vec![
                opt(&s.service_id),
                opt(&s.model_id),
                opt(&s.model_version_before),
                opt(&s.model_version_after),
                s.action.name().into(),
            ]
        })
    })?;
    let affected = plan.services_before - plan.services_with(ServiceAction::Unchanged);
    out.push_str(&table(
        "services-table",
        &["service_id", "model_id", "pinned", "after", "action"],
        (shown.into_iter(), affected as usize),
        |cells| cells,
        "services_affected.csv",
    ));
    out.push_str("<h2>Hazards</h2>");
    let cells = |h: &Rule| {
        vec![
            h.code.to_string(),
            counts.get(h.code.as_str()).copied().unwrap_or(0).to_string(),
            esc(h.unit),
            esc(h.title),
            esc(h.help),
        ]
    };
    out.push_str(&table(
        "hazards-table",
        &["code", "count", "unit", "meaning", "what to do"],
        (RULES.iter(), RULES.len()),
        cells,
        "hazards.csv",
    ));
    let _ = writeln!(out, "<script>{SCRIPT}</script></body></html>");
    Ok(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn escaping_keeps_markup_out() {
        assert_eq!(super::esc("<b>\"x\" & 'y'</b>"), "&lt;b&gt;&quot;x&quot; &amp; &#39;y&#39;&lt;/b&gt;");
    }
}
