//! `rehearse inspect`: what an export or workspace holds, and what the rollback would touch.

use super::output;
use crate::cli::InspectArgs;
use anyhow::Result;
use rehearse::catalog::{Catalog, ConstraintKind, TableName};
use rehearse::import::{workspace_for, ImportOptions};
use rehearse::spec::Spec;
use rehearse::workspace::{family_view, TableStat, Workspace};
use serde_json::json;
use std::collections::BTreeMap;
use std::fmt::Write;

struct View {
    provenance: BTreeMap<String, String>,
    catalog: Catalog,
    stats: Vec<TableStat>,
    notes: Vec<String>,
    reached: Vec<TableName>,
}

fn view_of(workspace: &Workspace) -> Result<View> {
    let catalog = workspace.catalog()?;
    let spec = Spec::guide();
    let roots: Vec<TableName> = [&spec.models.table, &spec.services.table]
        .iter()
        .filter_map(|r| catalog.find_table(r))
        .map(|t| t.name.clone())
        .collect();
    let reached = catalog.reached_from(&roots);
    Ok(View {
        provenance: workspace.provenance()?,
        stats: workspace.table_stats()?,
        notes: workspace.notes()?,
        catalog,
        reached,
    })
}

pub fn run(args: &InspectArgs) -> Result<()> {
    let options = ImportOptions { database: args.database.clone(), ..ImportOptions::default() };
    let workspace = workspace_for(&args.source, &Spec::guide(), options)?;
    let view = view_of(&workspace)?;
    if args.json {
        output::print(&(serde_json::to_string_pretty(&to_json(&view))? + "\n"))
    } else {
        output::print(&to_text(&view))
    }
}

fn to_json(view: &View) -> serde_json::Value {
    json!({
        "provenance": view.provenance,
        "tables": view.stats.iter().map(|s| {
            let table = view.catalog.table(&s.table);
            json!({
                "table": s.table.to_string(),
                "loaded": s.loaded,
                "rows": s.rows,
                "reached_by_rollback": view.reached.contains(&s.table),
                "columns": table.map(|t| &t.columns),
                "inherits": table.map(|t| t.inherits.iter().map(ToString::to_string).collect::<Vec<_>>()),
                "partition_of": table.and_then(|t| t.partition_of.as_ref()).map(|p| json!({
                    "parent": p.parent.to_string(),
                    "bound": p.bound,
                })),
                "partitioned_by": table.and_then(|t| t.partitioned_by.as_ref()),
            })
        }).collect::<Vec<_>>(),
        "constraints": view.catalog.constraints,
        "indexes": view.catalog.indexes,
        "rollback_reaches": view.reached.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "notes": view.notes,
    })
}

fn to_text(view: &View) -> String {
    let mut out = String::new();
    let p = |key: &str| view.provenance.get(key).cloned().unwrap_or_default();
    let _ = writeln!(out, "input    {} ({}, {} bytes)", p("input_path"), p("format"), p("input_size"));
    let _ = writeln!(out, "sha256   {}", p("input_sha256"));
    if !p("pg_dump_version").is_empty() {
        let _ = writeln!(out, "pg_dump  {}", p("pg_dump_version"));
    }
    if !p("server_version").is_empty() {
        let _ = writeln!(out, "server   PostgreSQL {}", p("server_version"));
    }
    let _ = writeln!(out, "\nTABLES ({})", view.stats.len());
    let width = view.stats.iter().map(|s| s.table.to_string().len()).max().unwrap_or(0);
    for stat in &view.stats {
        let rows = stat.rows.map_or("?".to_string(), |r| r.to_string());
        let state = if stat.loaded { "loaded " } else { "skipped" };
        let reach = if view.reached.contains(&stat.table) { "  <- rollback reaches it" } else { "" };
        let _ = writeln!(out, "  {:width$}  {state}  {rows:>9} rows{reach}", stat.table.to_string());
    }
    for table in &view.catalog.tables {
        let _ = writeln!(out, "\n{}", table.name);
        if !table.inherits.is_empty() {
            let parents: Vec<String> = table.inherits.iter().map(ToString::to_string).collect();
            let _ = writeln!(out, "  inherits {}", parents.join(", "));
        }
        if let Some(partition) = &table.partition_of {
            let _ = writeln!(out, "  partition of {} {}", partition.parent, partition.bound);
        }
        if let Some(key) = &table.partitioned_by {
            let _ = writeln!(out, "  partitioned by {key}");
        }
        let loaded = view.stats.iter().any(|s| s.table == table.name && s.loaded);
        if loaded && view.catalog.row_holders(&table.name).len() > 1 {
            let _ = writeln!(out, "  with its descendants' rows: view {}", family_view(&table.name).quoted());
        }
        for c in &table.columns {
            let not_null = if c.not_null { " NOT NULL" } else { "" };
            let default = match (&c.generated, &c.default) {
                (Some(expr), _) => format!(" GENERATED ALWAYS AS ({expr})"),
                (None, Some(default)) => format!(" DEFAULT {default}"),
                (None, None) => String::new(),
            };
            let _ = writeln!(out, "  {:24} {}{not_null}{default}", c.name, c.pg_type);
        }
        for c in view.catalog.constraints_of(&table.name) {
            let target = match &c.kind {
                ConstraintKind::ForeignKey(fk) => format!(
                    " -> {} ({}) ON DELETE {} ON UPDATE {}",
                    fk.ref_table,
                    fk.ref_columns.join(", "),
                    fk.on_delete.sql(),
                    fk.on_update.sql()
                ),
                _ => String::new(),
            };
            let _ = writeln!(out, "  constraint {} {} ({}){target}", c.name, c.kind.label(), c.columns.join(", "));
        }
        for i in view.catalog.indexes_of(&table.name) {
            let unique = if i.unique { "unique " } else { "" };
            let _ = writeln!(out, "  {unique}index {} ({})", i.name, i.columns.join(", "));
        }
    }
    let _ = writeln!(out, "\nFOREIGN KEYS");
    for (c, fk) in view.catalog.foreign_keys() {
        let _ = writeln!(
            out,
            "  {} ({}) -> {} ({})  ON DELETE {}",
            c.table,
            c.columns.join(", "),
            fk.ref_table,
            fk.ref_columns.join(", "),
            fk.on_delete.sql()
        );
    }
    let reached: Vec<String> = view.reached.iter().map(ToString::to_string).collect();
    let reached =
        if reached.is_empty() { "(no table: the export has no models or services)".into() } else { reached.join(", ") };
    let _ = writeln!(out, "\nROLLBACK REACHES\n  {reached}");
    for note in &view.notes {
        let _ = writeln!(out, "\nnote: {note}");
    }
    out
}
