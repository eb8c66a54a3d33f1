//! The foreign-key actions of a row statement that PostgreSQL refuses: ON DELETE SET NULL into
//! a NOT NULL column (23502), SET DEFAULT to a default that is NULL in a NOT NULL column
//! (23502) or that no surviving parent row has (23503), and RESTRICT / NO ACTION keys still
//! held on deleted rows (23503). Read from the phase under way of the effects tables.

use super::effects::{self, Blocker, CHANGED};
use crate::catalog::objects::{shown, ObjectKind};
use crate::catalog::{quote_ident, Catalog, Constraint, FkAction, ForeignKey};
use crate::error::Result;
use crate::plan::{FailingObject, StepFailure};
use crate::sql::literal;
use duckdb::Connection;

/// A refused action, with PostgreSQL's SQLSTATE and message.
struct Violation {
    sqlstate: &'static str,
    message: String,
    object: FailingObject,
    /// The key's place in the dump, which stands in for the order PostgreSQL checks keys in.
    position: usize,
}

fn position(catalog: &Catalog, constraint: &Constraint) -> usize {
    catalog.constraints.iter().position(|c| c == constraint).unwrap_or(usize::MAX)
}

fn key_object(catalog: &Catalog, constraint: &Constraint, detail: String, hazard: &'static str) -> FailingObject {
    let definition = catalog
        .objects
        .objects
        .iter()
        .find(|o| {
            o.kind == ObjectKind::Constraint && o.name == constraint.name && o.table.as_ref() == Some(&constraint.table)
        })
        .map(|o| o.definition.clone())
        .unwrap_or_default();
    let object = format!("constraint {} on table {}", constraint.name, shown(&constraint.table));
    FailingObject {
        detail: format!("{object} {detail}"),
        object,
        table: constraint.table.to_string(),
        definition,
        hazard,
    }
}

/// The rows `constraint` changes in the phase under way, in every table holding its rows.
fn changed_rows(conn: &Connection, catalog: &Catalog, constraint: &Constraint) -> Result<u64> {
    let holders: Vec<String> =
        catalog.key_row_holders(&constraint.table).iter().map(|t| literal(&t.to_string())).collect();
    let n: i64 = conn.query_row(
        &format!(
            "SELECT count(*) FROM {CHANGED} WHERE phase IS NULL AND tbl IN ({}) AND constraint_name = ?",
            holders.join(", ")
        ),
        [constraint.name.clone()],
        |r| r.get(0),
    )?;
    Ok(n as u64)
}

/// SET NULL / SET DEFAULT actions of the phase under way that PostgreSQL refuses.
fn refused_actions(conn: &Connection, catalog: &Catalog) -> Result<Vec<Violation>> {
    let mut violations = Vec::new();
    for (constraint, fk) in catalog.foreign_keys() {
        if !matches!(fk.on_delete, FkAction::SetNull | FkAction::SetDefault) {
            continue;
        }
        let Some(child) = catalog.table(&constraint.table) else { continue };
        let rows = changed_rows(conn, catalog, constraint)?;
        if rows == 0 {
            continue;
        }
        let set_default = fk.on_delete == FkAction::SetDefault;
        // The new value of each key column: NULL, or its default (NULL when it has none).
        let values: Vec<Option<&str>> = constraint
            .columns
            .iter()
            .map(|c| if set_default { child.column(c).and_then(|c| c.default.as_deref()) } else { None })
            .collect();
        // PostgreSQL checks NOT NULL in the table's column order.
        let not_null = child.columns.iter().find(|column| {
            column.not_null
                && constraint.columns.iter().zip(&values).any(|(name, value)| *name == column.name && value.is_none())
        });
        if let Some(column) = not_null {
            violations.push(Violation {
                sqlstate: "23502",
                message: format!(
                    "null value in column \"{}\" of relation \"{}\" violates not-null constraint",
                    column.name, constraint.table.name
                ),
                object: key_object(
                    catalog,
                    constraint,
                    format!("sets {} to NULL in {rows} rows ({} is NOT NULL)", column.name, fk.on_delete.sql()),
                    "H17",
                ),
                position: position(catalog, constraint),
            });
            continue;
        }
        if set_default && values.iter().all(Option::is_some) && !default_has_parent(conn, catalog, fk, &values)? {
            violations.push(Violation {
                sqlstate: "23503",
                message: format!(
                    "insert or update on table \"{}\" violates foreign key constraint \"{}\"",
                    constraint.table.name, constraint.name
                ),
                object: key_object(
                    catalog,
                    constraint,
                    format!(
                        "sets {rows} rows to the default ({}), which no remaining {} row has",
                        values.iter().flatten().copied().collect::<Vec<_>>().join(", "),
                        fk.ref_table
                    ),
                    "H17",
                ),
                position: position(catalog, constraint),
            });
        }
    }
    Ok(violations)
}

/// Whether a parent row that survives the rollback holds the default key. A default that
/// DuckDB cannot evaluate (a function of the live database) counts as held: rehearse then
/// cannot tell, and does not predict a failure it cannot show.
fn default_has_parent(conn: &Connection, catalog: &Catalog, fk: &ForeignKey, values: &[Option<&str>]) -> Result<bool> {
    let parent = effects::post_relation(catalog, &fk.ref_table);
    let matches: Vec<String> = fk
        .ref_columns
        .iter()
        .zip(values)
        .map(|(column, value)| {
            format!("CAST(p.{} AS VARCHAR) = CAST(({}) AS VARCHAR)", quote_ident(column), value.unwrap_or("NULL"))
        })
        .collect();
    let sql = format!("SELECT count(*) FROM {parent} p WHERE {}", matches.join(" AND "));
    match conn.query_row(&sql, [], |r| r.get::<_, i64>(0)) {
        Ok(n) => Ok(n > 0),
        Err(_) => Ok(true),
    }
}

/// The failure of the row statement whose phase is under way, if PostgreSQL refuses it.
pub fn statement_failure(conn: &Connection, catalog: &Catalog, blockers: &[Blocker]) -> Result<Option<StepFailure>> {
    let mut violations = refused_actions(conn, catalog)?;
    for blocker in blockers {
        let constraint = catalog
            .constraints
            .iter()
            .find(|c| c.name == blocker.constraint && c.table == blocker.table)
            .expect("a blocker is a catalog constraint");
        violations.push(Violation {
            sqlstate: "23503",
            message: format!(
                "update or delete on table \"{}\" violates foreign key constraint \"{}\" on table \"{}\"",
                blocker.parent.name, blocker.constraint, blocker.table.name
            ),
            object: key_object(
                catalog,
                constraint,
                format!(
                    "still references deleted {} rows from {} rows (e.g. {})",
                    blocker.parent, blocker.rows, blocker.example
                ),
                "H9",
            ),
            position: position(catalog, constraint),
        });
    }
    // PostgreSQL reports the first key it checks.
    violations.sort_by_key(|v| v.position);
    let Some(first) = violations.first() else { return Ok(None) };
    Ok(Some(StepFailure {
        sqlstate: first.sqlstate,
        message: first.message.clone(),
        hazard: first.object.hazard,
        remedy: match first.object.hazard {
            "H9" => "delete or repoint the referencing rows first, or change the foreign key's ON DELETE action".into(),
            _ => "change the foreign key's ON DELETE action, or make the column nullable / give it a default that exists, before the rollback".into(),
        },
        objects: violations.into_iter().map(|v| v.object).collect(),
        next: Vec::new(),
    }))
}
