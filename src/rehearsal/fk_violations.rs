//! The foreign-key actions of a row statement that PostgreSQL refuses: ON DELETE SET NULL into
//! a NOT NULL column (23502), SET DEFAULT to a default that is NULL in a NOT NULL column
//! (23502) or that no surviving parent row has (23503), and RESTRICT / NO ACTION keys still
//! held on deleted rows (23503). Read from one phase's rows of the effects tables.

use super::ddl_replay::{Pending, StatementOutcome};
use super::effects::{self, Blocker, CHANGED};
use crate::catalog::objects::{shown, ObjectKind};
use crate::catalog::{quote_ident, Catalog, Constraint, FkAction, ForeignKey, TableName};
use crate::error::Result;
use crate::plan::{FailingObject, StepFailure};
use crate::sql::literal;
use crate::terms::HazardCode;
use duckdb::Connection;
use std::collections::HashMap;

/// A refused action, with PostgreSQL's SQLSTATE and message.
struct Violation {
    sqlstate: &'static str,
    message: String,
    object: FailingObject,
    /// When PostgreSQL checks the key: the cascade level of the table it references (see
    /// `CascadeLevels`), then the key's place in the dump, which stands in for the order of the
    /// checks of one level.
    order: (usize, usize),
    /// A check of a DEFERRABLE INITIALLY DEFERRED key: it fails at COMMIT, not at the statement.
    deferred: bool,
}

/// How many CASCADE deletes lie between the table a statement deletes from and each table
/// they reach. A foreign key's action or check on a deleted row is a trigger queued behind the
/// statement; the statements those triggers run (a cascade's DELETE, a SET NULL's UPDATE)
/// queue theirs behind the rest of the statement's. So PostgreSQL runs every action and check
/// on the rows of one level before any on the rows the cascades reach next.
struct CascadeLevels(HashMap<TableName, usize>);

impl CascadeLevels {
    fn from(catalog: &Catalog, root: &TableName) -> CascadeLevels {
        let mut levels: HashMap<TableName, usize> = catalog.key_row_holders(root).into_iter().map(|t| (t, 0)).collect();
        for level in 0.. {
            let reached: Vec<TableName> = catalog
                .foreign_keys()
                .filter(|(_, fk)| fk.on_delete == FkAction::Cascade)
                .filter(|(_, fk)| catalog.key_row_holders(&fk.ref_table).iter().any(|t| levels.get(t) == Some(&level)))
                .flat_map(|(constraint, _)| catalog.key_row_holders(&constraint.table))
                .filter(|t| !levels.contains_key(t))
                .collect();
            if reached.is_empty() {
                break;
            }
            levels.extend(reached.into_iter().map(|t| (t, level + 1)));
        }
        CascadeLevels(levels)
    }

    /// When PostgreSQL checks `constraint`, whose key references `parent`.
    fn order(&self, catalog: &Catalog, constraint: &Constraint, parent: &TableName) -> (usize, usize) {
        let level =
            catalog.key_row_holders(parent).iter().filter_map(|t| self.0.get(t)).min().copied().unwrap_or(usize::MAX);
        (level, catalog.constraints.iter().position(|c| c == constraint).unwrap_or(usize::MAX))
    }
}

fn key_object(catalog: &Catalog, constraint: &Constraint, detail: String, hazard: HazardCode) -> FailingObject {
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

/// The rowids of `holder` that `constraint` changes in `phase`, as a subquery.
fn changed_in(phase: &str, holder: &TableName, constraint: &Constraint) -> String {
    format!(
        "(SELECT rid FROM {CHANGED} WHERE phase = {} AND tbl = {} AND constraint_name = {})",
        literal(phase),
        literal(&holder.to_string()),
        literal(&constraint.name)
    )
}

fn count(conn: &Connection, sql: &str) -> Result<u64> {
    Ok(conn.query_row(sql, [], |r| r.get::<_, i64>(0))? as u64)
}

/// The rows `constraint` changes in `phase`, per table holding its rows (a
/// partitioned table's partitions), in `Catalog::key_row_holders` order; only tables with some.
fn changed_rows(
    conn: &Connection,
    catalog: &Catalog,
    phase: &str,
    constraint: &Constraint,
) -> Result<Vec<(TableName, u64)>> {
    let mut changed = Vec::new();
    for holder in catalog.key_row_holders(&constraint.table) {
        let n = count(conn, &format!("SELECT count(*) FROM {}", changed_in(phase, &holder, constraint)))?;
        if n > 0 {
            changed.push((holder, n));
        }
    }
    Ok(changed)
}

/// The table PostgreSQL names when the first changed row of `constraint` is refused: the
/// foreign key's action runs once per deleted parent row, in the order they were deleted, and
/// changes that row's referencing rows table by table.
fn first_refused(
    conn: &Connection,
    catalog: &Catalog,
    phase: &str,
    constraint: &Constraint,
    fk: &ForeignKey,
    changed: &[(TableName, u64)],
) -> Result<TableName> {
    let parents = catalog.key_row_holders(&fk.ref_table);
    let mut first: Option<((usize, i64), &TableName)> = None;
    for (holder, _) in changed {
        for (position, parent) in parents.iter().enumerate() {
            let on: Vec<String> = constraint
                .columns
                .iter()
                .zip(&fk.ref_columns)
                .map(|(c, p)| format!("c.{} = p.{}", quote_ident(c), quote_ident(p)))
                .collect();
            let sql = format!(
                "SELECT min(p.rowid) FROM {} c JOIN {} p ON {} WHERE c.rowid IN {} AND p.rowid IN \
                 {}",
                holder.quoted(),
                parent.quoted(),
                on.join(" AND "),
                changed_in(phase, holder, constraint),
                effects::deleted_in(phase, parent)
            );
            let rowid: Option<i64> = conn.query_row(&sql, [], |r| r.get(0))?;
            if let Some(rowid) = rowid {
                if first.is_none_or(|(order, _)| (position, rowid) < order) {
                    first = Some(((position, rowid), holder));
                }
            }
        }
    }
    Ok(first.map(|(_, holder)| holder.clone()).unwrap_or_else(|| changed[0].0.clone()))
}

/// SET NULL / SET DEFAULT actions of `phase` that PostgreSQL refuses.
fn refused_actions(
    conn: &Connection,
    catalog: &Catalog,
    phase: &str,
    levels: &CascadeLevels,
) -> Result<Vec<Violation>> {
    let mut violations = Vec::new();
    for (constraint, fk) in catalog.foreign_keys() {
        if !matches!(fk.on_delete, FkAction::SetNull | FkAction::SetDefault) {
            continue;
        }
        let Some(child) = catalog.table(&constraint.table) else { continue };
        let changed = changed_rows(conn, catalog, phase, constraint)?;
        if changed.is_empty() {
            continue;
        }
        let rows: u64 = changed.iter().map(|(_, n)| n).sum();
        let set_default = fk.on_delete == FkAction::SetDefault;
        let assigned: Vec<(&String, Option<&str>)> = fk.assigned_values(&constraint.columns, Some(child)).collect();
        // PostgreSQL checks NOT NULL in the table's column order.
        let not_null = child.columns.iter().find(|column| {
            column.not_null && assigned.iter().any(|(name, value)| **name == column.name && value.is_none())
        });
        if let Some(column) = not_null {
            let holder = first_refused(conn, catalog, phase, constraint, fk, &changed)?;
            violations.push(Violation {
                sqlstate: "23502",
                message: format!(
                    "null value in column \"{}\" of relation \"{}\" violates not-null constraint",
                    column.name, holder.name
                ),
                object: key_object(
                    catalog,
                    constraint,
                    format!("sets {} to NULL in {rows} rows ({} is NOT NULL)", column.name, fk.on_delete.sql()),
                    HazardCode::H17,
                ),
                order: levels.order(catalog, constraint, &fk.ref_table),
                deferred: false,
            });
            continue;
        }
        if !set_default {
            continue;
        }
        if let Some(holder) = default_without_parent(conn, catalog, phase, constraint, fk, &assigned, &changed)? {
            let defaults: Vec<&str> = assigned.iter().filter_map(|(_, v)| *v).collect();
            violations.push(Violation {
                sqlstate: "23503",
                message: format!(
                    "insert or update on table \"{}\" violates foreign key constraint \"{}\"",
                    holder.name, constraint.name
                ),
                object: key_object(
                    catalog,
                    constraint,
                    format!(
                        "sets {rows} rows to the default ({}), which no remaining {} row has",
                        defaults.join(", "),
                        fk.ref_table
                    ),
                    HazardCode::H17,
                ),
                order: levels.order(catalog, constraint, &fk.ref_table),
                deferred: fk.deferred,
            });
        }
    }
    Ok(violations)
}

/// The first table (of `changed`) holding a row that SET DEFAULT leaves with a key no
/// surviving parent row has, in any table holding the parent's rows (a partitioned parent's
/// partitions). A key with a NULL column is not checked (MATCH SIMPLE). A default that DuckDB
/// cannot evaluate (a function of the live database) counts as held: rehearse then cannot
/// tell, and does not predict a failure it cannot show.
fn default_without_parent(
    conn: &Connection,
    catalog: &Catalog,
    phase: &str,
    constraint: &Constraint,
    fk: &ForeignKey,
    assigned: &[(&String, Option<&str>)],
    changed: &[(TableName, u64)],
) -> Result<Option<TableName>> {
    let values: Vec<String> = constraint
        .columns
        .iter()
        .map(|column| match assigned.iter().find(|(name, _)| *name == column) {
            Some((_, value)) => format!("CAST(({}) AS VARCHAR)", value.unwrap_or("NULL")),
            None => format!("CAST(c.{} AS VARCHAR)", quote_ident(column)),
        })
        .collect();
    let referenced: Vec<String> = fk.ref_columns.iter().map(|c| quote_ident(c)).collect();
    let parents: Vec<String> = catalog
        .key_row_holders(&fk.ref_table)
        .iter()
        .map(|p| format!("SELECT {} FROM {}", referenced.join(", "), effects::post_relation(catalog, p)))
        .collect();
    let parents = parents.join(" UNION ALL ");
    let matches: Vec<String> = fk
        .ref_columns
        .iter()
        .zip(&values)
        .map(|(column, value)| format!("CAST(p.{} AS VARCHAR) = {value}", quote_ident(column)))
        .collect();
    let not_null: Vec<String> = values.iter().map(|v| format!("{v} IS NOT NULL")).collect();
    for (holder, _) in changed {
        let sql = format!(
            "SELECT count(*) FROM {} c WHERE c.rowid IN {} AND {} AND NOT EXISTS (SELECT 1 FROM ({parents}) p WHERE {})",
            holder.quoted(),
            changed_in(phase, holder, constraint),
            not_null.join(" AND "),
            matches.join(" AND ")
        );
        match count(conn, &sql) {
            Ok(0) | Err(_) => {}
            Ok(_) => return Ok(Some(holder.clone())),
        }
    }
    Ok(None)
}

/// What PostgreSQL makes of the row statement of `phase`, which deletes rows of `root`: whether
/// it fails, what fails at COMMIT, and the tables it leaves with deferred checks pending.
pub fn statement_outcome(
    conn: &Connection,
    catalog: &Catalog,
    phase: &str,
    root: &TableName,
    blockers: &[Blocker],
) -> Result<StatementOutcome> {
    let levels = CascadeLevels::from(catalog, root);
    let mut violations = refused_actions(conn, catalog, phase, &levels)?;
    for blocker in blockers {
        let (constraint, fk) = catalog
            .foreign_keys()
            .find(|(c, _)| c.name == blocker.constraint && catalog.key_row_holders(&c.table).contains(&blocker.table))
            .expect("a blocker is a catalog foreign key");
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
                HazardCode::H9,
            ),
            order: levels.order(catalog, constraint, &blocker.parent),
            deferred: fk.deferred && fk.on_delete == FkAction::NoAction,
        });
    }
    let (deferred, immediate): (Vec<Violation>, Vec<Violation>) = violations.into_iter().partition(|v| v.deferred);
    Ok(StatementOutcome {
        failure: first_failure(immediate),
        at_commit: first_failure(deferred),
        pending: pending_events(conn, catalog, phase)?,
    })
}

/// The failure PostgreSQL reports for `violations`: the first key it checks.
fn first_failure(mut violations: Vec<Violation>) -> Option<StepFailure> {
    violations.sort_by_key(|v| v.order);
    let first = violations.first()?;
    Some(StepFailure {
        sqlstate: first.sqlstate,
        message: first.message.clone(),
        hazard: first.object.hazard,
        remedy: match first.object.hazard {
            HazardCode::H9 => "delete or repoint the referencing rows first, or change the foreign key's ON DELETE action".into(),
            _ => "change the foreign key's ON DELETE action, or make the column nullable / give it a default that exists, before the rollback".into(),
        },
        objects: violations.into_iter().map(|v| v.object).collect(),
        next: Vec::new(),
    })
}

/// The tables that `phase` leaves with deferred trigger events: a DEFERRABLE
/// INITIALLY DEFERRED NO ACTION key queues a check on its referenced table for every row deleted
/// there, and one on its own table for every row SET DEFAULT gives a key. (CASCADE, SET NULL,
/// SET DEFAULT and RESTRICT themselves act at once, deferrable or not.) PostgreSQL refuses to
/// ALTER such a table until COMMIT (55006).
fn pending_events(conn: &Connection, catalog: &Catalog, phase: &str) -> Result<Vec<Pending>> {
    let mut pending = Vec::new();
    for (constraint, fk) in catalog.foreign_keys().filter(|(_, fk)| fk.deferred) {
        let tables = match fk.on_delete {
            FkAction::NoAction => {
                let mut deleted = Vec::new();
                for holder in catalog.key_row_holders(&fk.ref_table) {
                    let n = count(conn, &format!("SELECT count(*) FROM {}", effects::deleted_in(phase, &holder)))?;
                    if n > 0 {
                        deleted.push((holder, format!("checks the {n} rows deleted from it")));
                    }
                }
                deleted
            }
            FkAction::SetDefault => changed_rows(conn, catalog, phase, constraint)?
                .into_iter()
                .map(|(holder, n)| (holder, format!("checks the {n} rows SET DEFAULT gave a key")))
                .collect(),
            _ => Vec::new(),
        };
        for (table, what) in tables {
            let detail = format!("is DEFERRABLE INITIALLY DEFERRED: it {what} in {table} only at COMMIT");
            pending.push(Pending { key: key_object(catalog, constraint, detail, HazardCode::H17), table });
        }
    }
    Ok(pending)
}
