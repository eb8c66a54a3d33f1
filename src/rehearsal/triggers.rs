//! H16: the triggers that fire during the rollback, and on which rows. Every row statement of
//! the rehearsed run is followed: the shipped script's services UPDATE (legacy), the models
//! DELETE, the services DELETE of `--delete-orphans`, and every row that a foreign key deletes
//! or changes on their behalf. A `FOR EACH ROW` trigger fires once per row (its WHEN evaluated
//! where DuckDB can); a statement trigger once per statement, and a foreign key's action runs
//! one statement per parent row. What the trigger functions do is not rehearsed.

use super::effects::{CHANGED, DELETED};
use super::engine::{row_key, ORPHANS_PHASE, VERSIONS_PHASE};
use super::facts::TableRefs;
use crate::catalog::objects::{Event, Trigger};
use crate::catalog::{Catalog, ConstraintKind, FkAction, Table, TableName};
use crate::error::Result;
use crate::plan::{HazardRow, Step};
use crate::spec::Spec;
use crate::sql::{self, literal};
use crate::terms::HazardCode;
use duckdb::Connection;
use std::collections::BTreeSet;

/// Where a trigger's rows come from: a subquery of rowids of its table, and how the rows
/// change (for WHEN's OLD and NEW).
struct Rows {
    rowids: String,
    /// Columns that NEW has as NULL (SET NULL), with their replacement text.
    new_values: Vec<(String, String)>,
    how: String,
}

pub fn firings(
    conn: &Connection,
    catalog: &Catalog,
    loaded: &BTreeSet<TableName>,
    spec: &Spec,
    steps: &[Step],
    tables: &TableRefs,
) -> Result<Vec<HazardRow>> {
    let triggers: Vec<&Trigger> = catalog
        .objects
        .triggers
        .iter()
        .filter(|t| t.enabled && catalog.key_row_holders(&t.table).iter().any(|h| loaded.contains(h)))
        .collect();
    let mut hazards = Firings { rows: Vec::new(), tables };
    if triggers.is_empty() {
        return Ok(hazards.rows);
    }
    for step in steps {
        let (root, phase) = match step {
            Step::TouchServices { table } => {
                touch(conn, catalog, spec, table, step, &triggers, &mut hazards)?;
                continue;
            }
            Step::DeleteVersions { table } => (table, VERSIONS_PHASE),
            Step::DeleteOrphans { table } => (table, ORPHANS_PHASE),
            _ => continue,
        };
        let statement = step.short();
        // A row trigger on a partitioned table is cloned onto its partitions, at any depth, and
        // fires on their rows (an inheritance parent's is not inherited); a statement trigger
        // fires for the statements on its own table.
        let on_tables = triggers.iter().flat_map(|trigger| {
            let tables = if trigger.for_each_row {
                catalog.key_row_holders(&trigger.table)
            } else {
                vec![trigger.table.clone()]
            };
            tables.into_iter().filter_map(|t| catalog.table(&t)).map(move |table| (*trigger, table))
        });
        for (trigger, table) in on_tables {
            let fire = |rows: Rows, hazards: &mut Firings| -> Result<()> {
                fire_rows(conn, catalog, table, trigger, &statement, rows, hazards)
            };
            if trigger.fires_on(Event::Delete) {
                if trigger.for_each_row {
                    let rowids = format!(
                        "(SELECT rid FROM {DELETED} WHERE tbl = {} AND phase = {})",
                        literal(&table.name.to_string()),
                        literal(phase)
                    );
                    let how = if &table.name == root { "deleted".into() } else { "deleted by a foreign key".into() };
                    fire(Rows { rowids, new_values: Vec::new(), how }, &mut hazards)?;
                } else if &table.name == root {
                    hazards.push(trigger, &statement, format!("statement {statement}"), "once for the statement");
                } else {
                    statement_firings(
                        conn,
                        catalog,
                        loaded,
                        trigger,
                        phase,
                        &[FkAction::Cascade],
                        &statement,
                        &mut hazards,
                    )?;
                }
            }
            if trigger.fires_on(Event::Update) {
                let keys = catalog.foreign_keys().filter(|(c, fk)| {
                    catalog.key_row_holders(&c.table).contains(&table.name)
                        && matches!(fk.on_delete, FkAction::SetNull | FkAction::SetDefault)
                        && (trigger.update_columns.is_empty()
                            || fk.assigned(&c.columns).any(|col| trigger.update_columns.contains(col)))
                });
                for (constraint, fk) in keys {
                    if trigger.for_each_row {
                        let rowids = format!(
                            "(SELECT rid FROM {CHANGED} WHERE tbl = {} AND constraint_name = {} AND phase = {})",
                            literal(&table.name.to_string()),
                            literal(&constraint.name),
                            literal(phase)
                        );
                        let new_values = fk
                            .assigned_values(&constraint.columns, Some(table))
                            .map(|(c, value)| (c.clone(), value.unwrap_or("NULL").to_string()))
                            .collect();
                        let how = format!("{} by {}", fk.on_delete.sql(), constraint.name);
                        fire(Rows { rowids, new_values, how }, &mut hazards)?;
                    }
                }
                if !trigger.for_each_row {
                    statement_firings(
                        conn,
                        catalog,
                        loaded,
                        trigger,
                        phase,
                        &[FkAction::SetNull, FkAction::SetDefault],
                        &statement,
                        &mut hazards,
                    )?;
                }
            }
        }
    }
    Ok(hazards.rows)
}

/// The firings found so far, and the tables they name.
struct Firings<'a> {
    rows: Vec<HazardRow>,
    tables: &'a TableRefs,
}

impl Firings<'_> {
    fn push(&mut self, trigger: &Trigger, statement: &str, key: String, how: &str) {
        let detail = format!(
            "{} ({}, {}()) fires {how} in {statement}; effects not rehearsed",
            trigger.name,
            trigger.shape(),
            trigger.function
        );
        self.rows.push(HazardRow {
            code: HazardCode::H16,
            table: self.tables.get(&trigger.table.to_string()),
            key: key.into(),
            detail: detail.into(),
        });
    }
}

/// The shipped script's `UPDATE services SET model_id = model_id` over every service whose
/// model exists: UPDATE triggers fire on each (UPDATE OF only when it names model_id).
fn touch(
    conn: &Connection,
    catalog: &Catalog,
    spec: &Spec,
    services: &TableName,
    step: &Step,
    triggers: &[&Trigger],
    hazards: &mut Firings,
) -> Result<()> {
    let Some(table) = catalog.table(services) else { return Ok(()) };
    let Some(models) = catalog.find_table(&spec.models.table) else { return Ok(()) };
    let model_id = &spec.services.model_id;
    let statement = step.short();
    for trigger in triggers.iter().filter(|t| t.table == *services && t.fires_on(Event::Update)) {
        if !trigger.update_columns.is_empty() && !trigger.update_columns.contains(model_id) {
            continue;
        }
        if !trigger.for_each_row {
            hazards.push(trigger, &statement, format!("statement {statement}"), "once for the statement");
            continue;
        }
        let rowids = format!(
            "(SELECT rowid FROM {} WHERE {})",
            table.name.quoted(),
            sql::model_exists(model_id, &models.name.quoted(), &spec.models.model_id)
        );
        let rows = Rows { rowids, new_values: Vec::new(), how: "updated (no change)".into() };
        fire_rows(conn, catalog, table, trigger, &statement, rows, hazards)?;
    }
    Ok(())
}

/// A row trigger's firings: one per row, where its WHEN holds.
fn fire_rows(
    conn: &Connection,
    catalog: &Catalog,
    table: &Table,
    trigger: &Trigger,
    statement: &str,
    rows: Rows,
    hazards: &mut Firings,
) -> Result<()> {
    let key = row_key(catalog, table, "t");
    let base = format!("SELECT {key} FROM {} t WHERE t.rowid IN {}", table.name.quoted(), rows.rowids);
    let (keys, evaluated) = match trigger.when.as_deref() {
        None => (keys(conn, &base)?, true),
        Some(when) => match keys(conn, &format!("{base} AND ({})", when_over_row(when, &rows.new_values))) {
            Ok(found) => (found, true),
            // A condition DuckDB cannot evaluate: every row is a firing it may make.
            Err(_) => (keys(conn, &base)?, false),
        },
    };
    let how = if evaluated {
        format!("on a row {}", rows.how)
    } else {
        format!("on a row {} (if its WHEN holds: rehearse could not evaluate it)", rows.how)
    };
    for key in keys {
        hazards.push(trigger, statement, key, &how);
    }
    Ok(())
}

fn keys(conn: &Connection, sql: &str) -> Result<Vec<String>> {
    let mut stmt = conn.prepare(&format!("{sql} ORDER BY 1"))?;
    let rows = stmt.query_map([], |r| r.get::<_, Option<String>>(0))?;
    Ok(rows.map(|r| r.map(Option::unwrap_or_default)).collect::<Result<_, _>>()?)
}

/// A statement trigger on a table that a foreign key's action reaches: PostgreSQL runs the
/// action as statements of its own, one per parent row, but fires the child's statement
/// triggers once for the statement that caused them (and not again when that statement is on
/// the same table).
#[allow(clippy::too_many_arguments)]
fn statement_firings(
    conn: &Connection,
    catalog: &Catalog,
    loaded: &BTreeSet<TableName>,
    trigger: &Trigger,
    phase: &str,
    actions: &[FkAction],
    statement: &str,
    hazards: &mut Firings,
) -> Result<()> {
    let mut parents_deleted = 0;
    let mut via = Vec::new();
    for constraint in &catalog.constraints {
        let ConstraintKind::ForeignKey(fk) = &constraint.kind else { continue };
        if constraint.table != trigger.table || !actions.contains(&fk.on_delete) {
            continue;
        }
        let parents: Vec<String> = catalog
            .key_row_holders(&fk.ref_table)
            .iter()
            .filter(|t| loaded.contains(*t))
            .map(|t| literal(&t.to_string()))
            .collect();
        if parents.is_empty() {
            continue;
        }
        let n: i64 = conn.query_row(
            &format!("SELECT count(*) FROM {DELETED} WHERE tbl IN ({}) AND phase = ?", parents.join(", ")),
            [phase.to_string()],
            |r| r.get(0),
        )?;
        if n > 0 {
            parents_deleted += n;
            via.push(constraint.name.clone());
        }
    }
    if parents_deleted > 0 {
        let how = format!(
            "once, for the {} actions of {}",
            actions.iter().map(|a| a.sql()).collect::<Vec<_>>().join("/"),
            via.join(", ")
        );
        hazards.push(trigger, statement, format!("statement {statement}"), &how);
    }
    Ok(())
}

/// A trigger's WHEN over the row `t`: `old.x` and `new.x` read the row, except the columns
/// that the action sets (`new_values`). Quoted literals and identifiers are left alone.
fn when_over_row(when: &str, new_values: &[(String, String)]) -> String {
    let chars: Vec<char> = when.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    let word_start =
        |i: usize| i == 0 || !(chars[i - 1].is_alphanumeric() || chars[i - 1] == '_' || chars[i - 1] == '.');
    while i < chars.len() {
        let c = chars[i];
        if c == '\'' {
            let start = i;
            i += 1;
            while i < chars.len() {
                if chars[i] == '\'' {
                    if chars.get(i + 1) == Some(&'\'') {
                        i += 2;
                        continue;
                    }
                    break;
                }
                i += 1;
            }
            out.extend(&chars[start..(i + 1).min(chars.len())]);
            i += 1;
            continue;
        }
        let rest: String = chars[i..(i + 4).min(chars.len())].iter().collect::<String>().to_lowercase();
        if word_start(i) && (rest == "old." || rest == "new.") {
            let is_new = rest == "new.";
            let (column, end) = identifier(&chars, i + 4);
            let replaced = new_values.iter().find(|(name, _)| is_new && *name == column).map(|(_, v)| format!("({v})"));
            out.push_str(&replaced.unwrap_or_else(|| format!("t.{}", crate::catalog::quote_ident(&column))));
            i = end;
            continue;
        }
        out.push(c);
        i += 1;
    }
    out
}

/// An identifier starting at `start` (bare, folded to lower case, or double-quoted).
fn identifier(chars: &[char], start: usize) -> (String, usize) {
    let mut i = start;
    if chars.get(i) == Some(&'"') {
        let mut name = String::new();
        i += 1;
        while i < chars.len() {
            if chars[i] == '"' {
                if chars.get(i + 1) == Some(&'"') {
                    name.push('"');
                    i += 2;
                    continue;
                }
                return (name, i + 1);
            }
            name.push(chars[i]);
            i += 1;
        }
        return (name, i);
    }
    while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_' || chars[i] == '$') {
        i += 1;
    }
    (chars[start..i].iter().collect::<String>().to_lowercase(), i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn when_reads_the_row_and_the_values_the_action_sets() {
        assert_eq!(
            when_over_row("(old.version_status)::text = 'old.x'::text", &[]),
            "(t.\"version_status\")::text = 'old.x'::text"
        );
        let nulled = [("model_row_id".to_string(), "NULL".to_string())];
        assert_eq!(
            when_over_row("NEW.model_row_id IS NULL AND old.\"Odd\"\"name\" > 1", &nulled),
            "(NULL) IS NULL AND t.\"Odd\"\"name\" > 1"
        );
        assert_eq!(when_over_row("gold.x = 1", &[]), "gold.x = 1");
    }
}
