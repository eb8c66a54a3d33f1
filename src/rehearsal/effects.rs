//! Foreign-key effects of the rollback's deletes, followed through every constraint the dump
//! declares: ON DELETE CASCADE recursively across any number of tables, SET NULL / SET DEFAULT
//! as changed rows, RESTRICT / NO ACTION as blockers that make the real script fail. Rows are
//! tracked by DuckDB rowid in two TEMP tables; the workspace itself is never modified. Each
//! row statement of the rollback is a phase: its rows are tagged with it as they are found, so
//! that its blockers and triggers are told apart from the next one's.

use super::arrow_columns;
use super::engine::{ORPHANS_PHASE, VERSIONS_PHASE};
use crate::catalog::{quote_ident, Catalog, Constraint, FkAction, FkEdge, ForeignKey, TableName};
use crate::error::Result;
use crate::plan::RowEffects;
use crate::sql::literal;
use duckdb::Connection;
use std::collections::{BTreeSet, HashMap};

pub const DELETED: &str = "_plan_deleted";
pub const CHANGED: &str = "_plan_changed";

/// A foreign key that forbids a delete the rollback makes.
#[derive(Debug, Clone)]
pub struct Blocker {
    pub constraint: String,
    pub table: TableName,
    pub parent: TableName,
    pub rows: u64,
    pub example: String,
}

/// What deleted the rows that the rollback's models DELETE deletes, and the orphans' DELETE.
pub const NOT_KEPT: &str = "rollback: not the keeper";
pub const ORPHAN_DELETE: &str = "orphan delete (--delete-orphans)";

/// The phases rows are tagged with: the rollback's row statements, and a loaded plan's.
const PHASES: [&str; 3] = [VERSIONS_PHASE, ORPHANS_PHASE, LOADED_PHASE];
const LOADED_PHASE: &str = "plan";

/// The effects tables, for rows of any table.
pub fn create(conn: &Connection) -> Result<()> {
    create_as(conn, "VARCHAR", "VARCHAR")
}

/// The effects tables for rows of `catalog`'s tables only: their table, phase and `via` columns
/// are enums, which the rehearsal's many filters by table and phase compare as small integers,
/// not as texts, and which hold a deleted row's foreign key in a byte or two instead of its text
/// (tens of MB on a large export).
pub fn create_for(conn: &Connection, catalog: &Catalog) -> Result<()> {
    if catalog.tables.is_empty() {
        return create(conn);
    }
    let vias = catalog.foreign_keys().map(|(constraint, fk)| via(constraint, fk));
    create_as(
        conn,
        &enum_of(catalog.tables.iter().map(|t| t.name.to_string())),
        &enum_of(vias.chain([NOT_KEPT, ORPHAN_DELETE].map(String::from))),
    )
}

/// An enum type of `values`.
fn enum_of(values: impl Iterator<Item = String>) -> String {
    let values: BTreeSet<String> = values.map(|v| literal(&v)).collect();
    format!("ENUM({})", values.into_iter().collect::<Vec<_>>().join(", "))
}

fn create_as(conn: &Connection, table_type: &str, via_type: &str) -> Result<()> {
    let phase_type = enum_of(PHASES.iter().map(|p| p.to_string()));
    conn.execute_batch(&format!(
        "CREATE OR REPLACE TEMP TABLE {DELETED} (tbl {table_type}, rid BIGINT, via {via_type}, phase {phase_type});
         CREATE OR REPLACE TEMP TABLE {CHANGED} (tbl {table_type}, rid BIGINT, via {via_type}, action VARCHAR, constraint_name VARCHAR, phase {phase_type});"
    ))?;
    Ok(())
}

/// The rows deleted and changed so far, for the plan.
pub fn recorded(conn: &Connection) -> Result<RowEffects> {
    // Rowids only, a query per table (and foreign key): the names are not read once a row.
    let mut effects = RowEffects::default();
    for table in texts(conn, &format!("SELECT DISTINCT tbl FROM {DELETED}"))? {
        let rids =
            arrow_columns::rid_bits(conn, &format!("SELECT rid FROM {DELETED} WHERE tbl = {}", literal(&table)))?;
        effects.deleted.insert(table, rids);
    }
    let mut stmt = conn.prepare(&format!("SELECT DISTINCT tbl, constraint_name FROM {CHANGED}"))?;
    let keys = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
    for key in keys {
        let (table, constraint) = key?;
        let rids = arrow_columns::rid_bits(
            conn,
            &format!(
                "SELECT rid FROM {CHANGED} WHERE tbl = {} AND constraint_name = {}",
                literal(&table),
                literal(&constraint)
            ),
        )?;
        effects.changed.insert((table, constraint), rids);
    }
    Ok(effects)
}

fn texts(conn: &Connection, sql: &str) -> Result<Vec<String>> {
    let mut stmt = conn.prepare(sql)?;
    let texts = stmt.query_map([], |r| r.get::<_, String>(0))?;
    Ok(texts.collect::<Result<_, _>>()?)
}

/// Puts a plan's rows back into the effects tables of `conn`, which need not be the
/// connection that rehearsed: `post_relation` then reads the post-state that plan predicts.
pub fn load(conn: &Connection, effects: &RowEffects) -> Result<()> {
    create(conn)?;
    // One closed phase; which foreign key did it is the plan's cascade rows' to tell.
    const UNKNOWN: Option<&str> = None;
    const PHASE: &str = LOADED_PHASE;
    let mut deleted = conn.appender_to_catalog_and_db(DELETED, "temp", "main")?;
    for (table, rids) in &effects.deleted {
        for rid in rids.iter() {
            deleted.append_row(duckdb::params![table, rid, UNKNOWN, PHASE])?;
        }
    }
    deleted.flush()?;
    let mut changed = conn.appender_to_catalog_and_db(CHANGED, "temp", "main")?;
    for ((table, constraint), rids) in &effects.changed {
        for rid in rids.iter() {
            changed.append_row(duckdb::params![table, rid, UNKNOWN, UNKNOWN, constraint, PHASE])?;
        }
    }
    changed.flush()?;
    Ok(())
}

/// The rowids of `table` deleted by `phase`, as a subquery.
pub(super) fn deleted_in(phase: &str, table: &TableName) -> String {
    format!("(SELECT rid FROM {DELETED} WHERE tbl = {} AND phase = {})", literal(&table.to_string()), literal(phase))
}

/// The rows `phase` has deleted so far, per table.
fn deleted_counts(conn: &Connection, phase: &str) -> Result<HashMap<String, usize>> {
    let mut stmt = conn.prepare(&format!("SELECT tbl, count(*) FROM {DELETED} WHERE phase = ? GROUP BY tbl"))?;
    let counts = stmt.query_map([phase], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as usize)))?;
    Ok(counts.collect::<Result<_, _>>()?)
}

/// `rowid` (a row of `table`) is not deleted yet: an anti-join, where `NOT IN` would make
/// DuckDB mark every row for NULL semantics that rowids never need.
fn not_deleted(table: &TableName, rowid: &str) -> String {
    format!("NOT EXISTS (SELECT 1 FROM {DELETED} d WHERE d.tbl = {} AND d.rid = {rowid})", literal(&table.to_string()))
}

/// The rows of a table that a phase starts from.
pub enum Seed<'a> {
    /// Those a condition over alias `t` selects.
    Matching(&'a str),
    /// Those whose rowids a subquery (column `rid`) returns: the table itself is not read.
    Rowids(&'a str),
}

/// Marks the `rows` of `table` as deleted by `phase`, for `via`.
pub fn seed(conn: &Connection, phase: &str, table: &TableName, rows: Seed, via: &str) -> Result<usize> {
    let (rid, from, condition) = match rows {
        Seed::Matching(condition) => ("t.rowid", format!("{} t", table.quoted()), condition),
        Seed::Rowids(rids) => ("t.rid", format!("{rids} t"), "true"),
    };
    Ok(conn.execute(
        &format!(
            "INSERT INTO {DELETED} SELECT {}, {rid}, {}, {} FROM {from} WHERE ({condition}) AND {}",
            literal(&table.to_string()),
            literal(via),
            literal(phase),
            not_deleted(table, rid)
        ),
        [],
    )?)
}

fn via(constraint: &Constraint, fk: &ForeignKey) -> String {
    format!("{} -> {}", constraint.name, fk.ref_table)
}

/// `FROM child c WHERE …` for `edge`: the child rows not deleted whose key a parent row of
/// `parents` (a subquery of rowids) holds, each once (a semi-join).
fn referencing(edge: &FkEdge, parents: &str) -> String {
    format!(
        "FROM {} c WHERE EXISTS (SELECT 1 FROM {} p WHERE {} AND p.rowid IN {parents}) AND {}",
        edge.child.quoted(),
        edge.parent.quoted(),
        edge.matches("c", "p"),
        not_deleted(&edge.child, "c.rowid")
    )
}

/// Follows every ON DELETE CASCADE between loaded tables from the rows `phase` deletes until no
/// new row is deleted. The rows of earlier phases were followed already, and a key is followed
/// again only once its parent table has lost more rows (before that it would find none).
pub fn cascade(conn: &Connection, catalog: &Catalog, loaded: &BTreeSet<TableName>, phase: &str) -> Result<()> {
    let edges: Vec<FkEdge> =
        catalog.fk_edges(loaded).into_iter().filter(|e| e.fk.on_delete == FkAction::Cascade).collect();
    let mut deleted = deleted_counts(conn, phase)?;
    let mut followed = vec![0; edges.len()];
    loop {
        let mut ran = false;
        for (edge, followed) in edges.iter().zip(&mut followed) {
            let parent_rows = deleted.get(&edge.parent.to_string()).copied().unwrap_or(0);
            if parent_rows == *followed {
                continue;
            }
            *followed = parent_rows;
            ran = true;
            let added = conn.execute(
                &format!(
                    "INSERT INTO {DELETED} SELECT {}, c.rowid, {}, {} {}",
                    literal(&edge.child.to_string()),
                    literal(&via(edge.constraint, edge.fk)),
                    literal(phase),
                    referencing(edge, &deleted_in(phase, &edge.parent))
                ),
                [],
            )?;
            *deleted.entry(edge.child.to_string()).or_insert(0) += added;
        }
        if !ran {
            return Ok(());
        }
    }
}

/// Once every delete of `phase` is known: records SET NULL / SET DEFAULT changes of surviving
/// rows, and returns the RESTRICT / NO ACTION keys that surviving rows still hold on the rows
/// the phase deletes.
pub fn consequences(
    conn: &Connection,
    catalog: &Catalog,
    loaded: &BTreeSet<TableName>,
    phase: &str,
) -> Result<Vec<Blocker>> {
    let mut blockers = Vec::new();
    let deleted = deleted_counts(conn, phase)?;
    for edge in catalog.fk_edges(loaded) {
        if !deleted.contains_key(&edge.parent.to_string()) {
            continue;
        }
        let (constraint, fk) = (edge.constraint, edge.fk);
        let parents = deleted_in(phase, &edge.parent);
        match fk.on_delete {
            FkAction::Cascade => {}
            FkAction::SetNull | FkAction::SetDefault => {
                conn.execute(
                    &format!(
                        "INSERT INTO {CHANGED} SELECT {}, c.rowid, {}, {}, {}, {} {}",
                        literal(&edge.child.to_string()),
                        literal(&via(constraint, fk)),
                        literal(&fk.on_delete.sql().to_lowercase()),
                        literal(&constraint.name),
                        literal(phase),
                        referencing(&edge, &parents)
                    ),
                    [],
                )?;
            }
            FkAction::Restrict | FkAction::NoAction => {
                let columns: Vec<String> =
                    constraint.columns.iter().map(|c| format!("CAST(c.{} AS VARCHAR)", quote_ident(c))).collect();
                let (rows, example): (i64, Option<String>) = conn.query_row(
                    &format!(
                        "SELECT count(*), min(concat_ws(', ', {})) {}",
                        columns.join(", "),
                        referencing(&edge, &parents)
                    ),
                    [],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )?;
                if rows > 0 {
                    blockers.push(Blocker {
                        constraint: constraint.name.clone(),
                        table: edge.child.clone(),
                        parent: edge.parent.clone(),
                        rows: rows as u64,
                        example: example.unwrap_or_default(),
                    });
                }
            }
        }
    }
    Ok(blockers)
}

/// The table as the rollback leaves it: deleted rows gone, SET NULL / SET DEFAULT applied.
pub fn post_relation(catalog: &Catalog, table: &TableName) -> String {
    let mut replaced = Vec::new();
    for (constraint, fk) in catalog.foreign_keys().filter(|(c, _)| catalog.key_row_holders(&c.table).contains(table)) {
        if !matches!(fk.on_delete, FkAction::SetNull | FkAction::SetDefault) {
            continue;
        }
        for (column, value) in fk.assigned_values(&constraint.columns, catalog.table(table)) {
            replaced.push(format!(
                "CASE WHEN rowid IN (SELECT rid FROM {CHANGED} WHERE tbl = {} AND constraint_name = {}) THEN {} ELSE {} END AS {}",
                literal(&table.to_string()),
                literal(&constraint.name),
                value.unwrap_or("NULL"),
                quote_ident(column),
                quote_ident(column)
            ));
        }
    }
    let replace = if replaced.is_empty() { String::new() } else { format!(" REPLACE ({})", replaced.join(", ")) };
    format!("(SELECT *{replace} FROM {} t WHERE {})", table.quoted(), not_deleted(table, "t.rowid"))
}
