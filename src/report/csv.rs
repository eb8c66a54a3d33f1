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

/// Writes a table row by row through a buffer, borrowing each row from the plan: a report of
/// millions of rows is never copied whole.
fn write_table<'a, const N: usize>(
    path: &Path,
    header: [&str; N],
    rows: impl Iterator<Item = [Option<&'a str>; N]>,
) -> Result<()> {
    let file = std::fs::File::create(path).map_err(|e| Error::io(path, e))?;
    let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
    let mut write = |line: String| out.write_all(line.as_bytes()).map_err(|e| Error::io(path, e));
    write(format!("{}\r\n", header.join(",")))?;
    for row in rows {
        let fields: Vec<String> = row.iter().map(|v| field(*v)).collect();
        write(format!("{}\r\n", fields.join(",")))?;
    }
    out.flush().map_err(|e| Error::io(path, e))
}

pub fn write_all(plan: &Plan, dir: &Path) -> Result<()> {
    write_table(
        &dir.join("versions_kept.csv"),
        ["id", "model_id", "version", "version_status", "reason"],
        plan.kept.iter().map(|k| {
            [
                Some(k.id.as_str()),
                k.model_id.as_deref(),
                k.version.as_deref(),
                k.version_status.as_deref(),
                Some(&k.reason),
            ]
        }),
    )?;
    write_table(
        &dir.join("versions_deleted.csv"),
        [
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
        plan.deleted.iter().map(|d| {
            [
                Some(d.id.as_str()),
                d.model_id.as_deref(),
                d.version.as_deref(),
                d.version_status.as_deref(),
                bool_text(d.is_immutable),
                bool_text(d.is_published),
                d.release_notes.as_deref(),
                Some(&d.kept_id),
                d.kept_version.as_deref(),
                Some(&d.reason),
            ]
        }),
    )?;
    write_table(
        &dir.join("services_affected.csv"),
        ["service_id", "name", "model_id", "model_version_before", "model_version_after", "action"],
        plan.services.iter().map(|v| {
            [
                v.service_id.as_deref(),
                v.name.as_deref(),
                v.model_id.as_deref(),
                v.model_version_before.as_deref(),
                v.model_version_after.as_deref(),
                Some(v.action.name()),
            ]
        }),
    )?;
    write_table(
        &dir.join("cascade.csv"),
        ["table", "key", "action", "via"],
        plan.cascade.iter().map(|c| [Some(&*c.table), Some(&c.key), Some(&c.action), Some(&c.via)]),
    )?;
    write_table(
        &dir.join("policy_divergence.csv"),
        ["model_id", "documented_id", "documented_version", "legacy_id", "legacy_version"],
        plan.divergence.iter().map(|d| {
            [
                d.model_id.as_deref(),
                Some(d.documented_id.as_str()),
                d.documented_version.as_deref(),
                Some(&d.legacy_id),
                d.legacy_version.as_deref(),
            ]
        }),
    )?;
    write_table(
        &dir.join("hazards.csv"),
        ["code", "table", "key", "detail"],
        plan.hazards.iter().map(|h| [Some(h.code), Some(&*h.table), Some(&h.key), Some(&h.detail)]),
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
