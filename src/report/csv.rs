//! The CSV loss reports. RFC 4180, with psql's convention so that NULL and the empty string stay
//! apart: a NULL is an empty unquoted field, an empty string is `""`. Text with commas, quotes,
//! tabs, newlines or backslashes round-trips.

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

fn bool_text(value: Option<bool>) -> Option<&'static str> {
    value.map(|b| if b { "true" } else { "false" })
}

struct Table<'a> {
    header: &'a [&'a str],
    rows: Vec<Vec<Option<String>>>,
}

/// Writes a table row by row through a buffer: a report of millions of rows is never held whole.
fn write_table(path: &Path, table: &Table) -> Result<()> {
    let file = std::fs::File::create(path).map_err(|e| Error::io(path, e))?;
    let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
    let mut write = |line: String| out.write_all(line.as_bytes()).map_err(|e| Error::io(path, e));
    write(format!("{}\r\n", table.header.join(",")))?;
    for row in &table.rows {
        let fields: Vec<String> = row.iter().map(|v| field(v.as_deref())).collect();
        write(format!("{}\r\n", fields.join(",")))?;
    }
    out.flush().map_err(|e| Error::io(path, e))
}

fn s(value: &str) -> Option<String> {
    Some(value.to_string())
}

pub fn write_all(plan: &Plan, dir: &Path) -> Result<()> {
    write_table(
        &dir.join("versions_kept.csv"),
        &Table {
            header: &["id", "model_id", "version", "version_status", "reason"],
            rows: plan
                .kept
                .iter()
                .map(|k| vec![s(&k.id), k.model_id.clone(), k.version.clone(), k.version_status.clone(), s(&k.reason)])
                .collect(),
        },
    )?;
    write_table(
        &dir.join("versions_deleted.csv"),
        &Table {
            header: &[
                "id",
                "model_id",
                "version",
                "version_status",
                "is_immutable",
                "is_published",
                "release_notes",
                "kept_id",
                "kept_version",
                "reason",
            ],
            rows: plan
                .deleted
                .iter()
                .map(|d| {
                    vec![
                        s(&d.id),
                        d.model_id.clone(),
                        d.version.clone(),
                        d.version_status.clone(),
                        bool_text(d.is_immutable).map(String::from),
                        bool_text(d.is_published).map(String::from),
                        d.release_notes.clone(),
                        s(&d.kept_id),
                        d.kept_version.clone(),
                        s(&d.reason),
                    ]
                })
                .collect(),
        },
    )?;
    write_table(
        &dir.join("services_affected.csv"),
        &Table {
            header: &["service_id", "name", "model_id", "model_version_before", "model_version_after", "action"],
            rows: plan
                .services
                .iter()
                .map(|v| {
                    vec![
                        v.service_id.clone(),
                        v.name.clone(),
                        v.model_id.clone(),
                        v.model_version_before.clone(),
                        v.model_version_after.clone(),
                        s(v.action.name()),
                    ]
                })
                .collect(),
        },
    )?;
    write_table(
        &dir.join("cascade.csv"),
        &Table {
            header: &["table", "key", "action", "via"],
            rows: plan.cascade.iter().map(|c| vec![s(&c.table), s(&c.key), s(&c.action), s(&c.via)]).collect(),
        },
    )?;
    write_table(
        &dir.join("policy_divergence.csv"),
        &Table {
            header: &["model_id", "documented_id", "documented_version", "legacy_id", "legacy_version"],
            rows: plan
                .divergence
                .iter()
                .map(|d| {
                    vec![
                        d.model_id.clone(),
                        s(&d.documented_id),
                        d.documented_version.clone(),
                        s(&d.legacy_id),
                        d.legacy_version.clone(),
                    ]
                })
                .collect(),
        },
    )?;
    write_table(
        &dir.join("hazards.csv"),
        &Table {
            header: &["code", "table", "key", "detail"],
            rows: plan.hazards.iter().map(|h| vec![s(h.code), s(&h.table), s(&h.key), s(&h.detail)]).collect(),
        },
    )?;
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
}
