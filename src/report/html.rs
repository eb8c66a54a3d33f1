//! `report.html`: one self-contained page for stakeholders — no network, no CDN. Totals, bar
//! charts drawn as inline SVG, tables of what is lost that sort on a click (a few lines of inline
//! script), and links to the CSV reports. Every number comes from the plan, as in summary.json.

use crate::plan::{Plan, ServiceAction};
use crate::rehearsal::hazards::CODES;
use std::collections::BTreeMap;
use std::fmt::Write;

/// Rows per table on the page; the CSV files hold them all.
const TABLE_ROWS: usize = 2000;

fn esc(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}

fn opt(value: &Option<impl AsRef<str>>) -> String {
    value.as_ref().map_or_else(|| "<i>NULL</i>".to_string(), |v| esc(v.as_ref()))
}

/// A horizontal bar chart of labelled counts, as inline SVG.
fn bars(id: &str, title: &str, data: &[(String, u64)]) -> String {
    let max = data.iter().map(|(_, n)| *n).max().unwrap_or(0).max(1);
    let row = 22;
    let height = row * data.len().max(1) + 10;
    let mut svg = format!(
        "<figure id=\"{id}\"><figcaption>{}</figcaption><svg role=\"img\" width=\"720\" height=\"{height}\" viewBox=\"0 0 720 {height}\">",
        esc(title)
    );
    for (i, (label, n)) in data.iter().enumerate() {
        let y = i * row + 5;
        let width = (*n as f64 / max as f64 * 420.0).round() as u64;
        let _ = write!(
            svg,
            "<text x=\"0\" y=\"{}\" class=\"label\">{}</text><rect class=\"bar\" x=\"250\" y=\"{y}\" width=\"{width}\" height=\"16\" data-value=\"{n}\"></rect><text x=\"{}\" y=\"{}\">{n}</text>",
            y + 13,
            esc(&label.chars().take(36).collect::<String>()),
            255 + width,
            y + 13
        );
    }
    if data.is_empty() {
        svg.push_str("<text x=\"0\" y=\"18\">none</text>");
    }
    svg.push_str("</svg></figure>");
    svg
}

/// A table of the first `TABLE_ROWS` rows; the rest are only counted, never held.
fn table(id: &str, header: &[&str], rows: impl Iterator<Item = Vec<String>>, csv: &str) -> String {
    let mut out = format!("<table id=\"{id}\" class=\"sortable\"><thead><tr>");
    for h in header {
        let _ = write!(out, "<th>{}</th>", esc(h));
    }
    out.push_str("</tr></thead><tbody>");
    let mut total = 0;
    for row in rows {
        total += 1;
        if total > TABLE_ROWS {
            continue;
        }
        out.push_str("<tr>");
        for cell in row {
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

pub fn report(plan: &Plan) -> String {
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
    let input = |k: &str| esc(plan.input.get(k).map(String::as_str).unwrap_or(""));
    let _ = write!(
        out,
        "<p>Input <code>{}</code> ({}), policy <b>{}</b>, orphans {}.</p>",
        input("input_path"),
        input("format"),
        plan.policy.name(),
        if plan.delete_orphans { "deleted" } else { "kept" }
    );
    let _ = write!(
        out,
        "<table class=\"totals\"><tr><th></th><th>before</th><th>after</th><th>lost</th></tr>\
         <tr><td>models rows (versions)</td><td id=\"models-before\">{}</td><td id=\"models-after\">{}</td><td id=\"versions-deleted\">{}</td></tr>\
         <tr><td>services</td><td id=\"services-before\">{}</td><td id=\"services-after\">{}</td><td id=\"services-deleted\">{}</td></tr></table>",
        plan.models_before,
        plan.models_after,
        plan.deleted.len(),
        plan.services_before,
        plan.services_after,
        plan.services_with(ServiceAction::Deleted)
    );
    let _ = write!(
        out,
        "<p>Services repointed to another version: <b id=\"services-repointed\">{}</b>.</p>",
        plan.services_with(ServiceAction::Repointed)
    );

    let mut per_model: BTreeMap<String, u64> = BTreeMap::new();
    for d in &plan.deleted {
        *per_model.entry(d.model_id.clone().unwrap_or_else(|| "NULL".into())).or_default() += 1;
    }
    let mut per_model: Vec<(String, u64)> = per_model.into_iter().collect();
    per_model.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    per_model.truncate(20);
    out.push_str(&bars("chart-versions", "Versions deleted per model (top 20)", &per_model));
    let actions = [ServiceAction::Repointed, ServiceAction::Unchanged, ServiceAction::Orphan, ServiceAction::Deleted];
    let by_action: Vec<(String, u64)> =
        actions.iter().map(|a| (a.name().to_string(), plan.services_with(*a))).collect();
    out.push_str(&bars("chart-services", "Services by action", &by_action));
    let counts = plan.hazard_counts();
    let by_code: Vec<(String, u64)> =
        CODES.iter().map(|h| (h.code.to_string(), counts.get(h.code).copied().unwrap_or(0))).collect();
    out.push_str(&bars("chart-hazards", "Hazards by code", &by_code));
    let mut lost: Vec<(String, u64)> = vec![("models".into(), plan.deleted.len() as u64)];
    lost.extend(plan.cascade_deleted.iter().map(|(t, n)| (t.clone(), *n)));
    out.push_str(&bars("chart-tables", "Rows deleted per table", &lost));

    out.push_str("<h2>Versions deleted</h2>");
    let rows = plan
        .deleted
        .iter()
        .map(|d| vec![opt(&d.model_id), opt(&d.version), opt(&d.version_status), opt(&d.kept_version), esc(&d.reason)]);
    out.push_str(&table(
        "versions-deleted-table",
        &["model_id", "version", "status", "kept version", "why"],
        rows,
        "versions_deleted.csv",
    ));
    out.push_str("<h2>Services affected</h2>");
    let rows = plan.services.iter().filter(|s| s.action != ServiceAction::Unchanged).map(|s| {
        vec![
            opt(&s.service_id),
            opt(&s.model_id),
            opt(&s.model_version_before),
            opt(&s.model_version_after),
            s.action.name().into(),
        ]
    });
    out.push_str(&table(
        "services-table",
        &["service_id", "model_id", "pinned", "after", "action"],
        rows,
        "services_affected.csv",
    ));
    out.push_str("<h2>Hazards</h2>");
    let rows = CODES.iter().map(|h| {
        vec![
            h.code.into(),
            counts.get(h.code).copied().unwrap_or(0).to_string(),
            esc(h.unit),
            esc(h.title),
            esc(h.help),
        ]
    });
    out.push_str(&table("hazards-table", &["code", "count", "unit", "meaning", "what to do"], rows, "hazards.csv"));
    let _ = writeln!(out, "<script>{SCRIPT}</script></body></html>");
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn escaping_keeps_markup_out() {
        assert_eq!(super::esc("<b>\"x\" & 'y'</b>"), "&lt;b&gt;&quot;x&quot; &amp; &#39;y&#39;&lt;/b&gt;");
    }
}
