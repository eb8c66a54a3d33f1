//! One source for SQL: every builder of `rehearse::sql` that the rehearsal (DuckDB) and the
//! emitted scripts (PostgreSQL) share, run in both engines on the same rows of
//! `tests/cases/sql_dialects.cases`; the results must agree row by row. The drift fingerprint's
//! DuckDB side is the digest the rehearsal streams, its PostgreSQL side the scripts' query.

use crate::support::{cluster, repo};
use rehearse::rehearsal::fingerprint;
use rehearse::sql::{self, literal, Col, Dialect, Rows};
use rehearse::workspace::Workspace;
use std::collections::BTreeMap;

type Row = Vec<Option<String>>;

const TABLES: [(&str, &str, &str); 3] = [
    ("model", "models", "id integer, model_id text, version text, version_status text"),
    ("service", "services", "id text, service_id text, model_id text, model_version text"),
    ("backup", "models_rehearse_backup", "id integer, model_id text, version text, version_status text"),
];

struct Case {
    title: String,
    rows: Vec<(&'static str, Row)>,
}

fn value(cell: &str) -> Option<String> {
    match cell {
        "NULL" => None,
        quoted if quoted.len() >= 2 && quoted.starts_with('\'') && quoted.ends_with('\'') => {
            Some(quoted[1..quoted.len() - 1].replace("''", "'"))
        }
        text => Some(text.to_string()),
    }
}

fn parse(text: &str) -> Vec<Case> {
    let mut cases: Vec<Case> = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty() && !l.starts_with('#')) {
        if let Some(title) = line.strip_prefix("case ") {
            cases.push(Case { title: title.to_string(), rows: Vec::new() });
            continue;
        }
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let (kind, _, _) = TABLES.iter().find(|(k, _, _)| *k == cells[0]).unwrap_or_else(|| panic!("line: {line}"));
        let case = cases.last_mut().expect("a case line first");
        case.rows.push((kind, cells[1..].iter().map(|c| value(c)).collect()));
    }
    cases
}

/// The tables and rows of a case, as SQL that both engines run unchanged.
fn setup(case: &Case) -> String {
    let mut sql = String::new();
    for (kind, table, columns) in TABLES {
        sql.push_str(&format!("CREATE TABLE {table} ({columns});\n"));
        for (_, row) in case.rows.iter().filter(|(k, _)| *k == kind) {
            let values: Vec<String> = row.iter().map(|v| v.as_deref().map_or("NULL".into(), literal)).collect();
            sql.push_str(&format!("INSERT INTO {table} VALUES ({});\n", values.join(", ")));
        }
    }
    // The orphans before the rollback, as 02_rollback.sql keeps them: the backup plays models.
    let v3_before =
        sql::services_without_model("services", "models_rehearse_backup", "service_id", "model_id", "model_id");
    sql.push_str(&format!("CREATE TABLE orphans_before AS {};\n", sql::named_orphans(&v3_before)));
    sql
}

type Builder = Box<dyn Fn(Dialect) -> String>;

/// Every shared builder, named, as a query whose result the two engines must agree on.
fn builders() -> Vec<(&'static str, Builder)> {
    let live = Rows { relation: "models", alias: "t", only: true };
    let backup = Rows { relation: "models_rehearse_backup", alias: "b", only: false };
    vec![
        ("V2 duplicate model_ids", Box::new(|_| sql::duplicate_model_ids("models", "model_id"))),
        (
            "V3 services without a model",
            Box::new(|_| sql::services_without_model("services", "models", "service_id", "model_id", "model_id")),
        ),
        (
            "V3 orphans the rollback caused",
            Box::new(|_| {
                let v3 = sql::services_without_model("services", "models", "service_id", "model_id", "model_id");
                sql::caused_orphans(&v3, "orphans_before")
            }),
        ),
        (
            "orphan delete",
            Box::new(|d| {
                let condition = sql::orphan_condition("s", "model_id", "models", "model_id", d);
                format!("SELECT CAST(s.id AS VARCHAR) FROM services s WHERE {condition}")
            }),
        ),
        (
            "services the touch UPDATE reaches",
            Box::new(|_| {
                format!(
                    "SELECT CAST(id AS VARCHAR) FROM services WHERE {}",
                    sql::model_exists("model_id", "models", "model_id")
                )
            }),
        ),
        (
            "live rows the backup lacks",
            Box::new(move |d| format!("SELECT count(*) FROM ({}) x", sql::rows_missing(live, backup, d))),
        ),
        (
            "backup rows the live table lacks",
            Box::new(move |d| format!("SELECT count(*) FROM ({}) x", sql::rows_missing(backup, live, d))),
        ),
    ]
}

/// The relations the drift guard fingerprints, with their columns (the first orders the rows).
fn fingerprinted() -> [(&'static str, Vec<Col>); 2] {
    let col = |name: &str, text: bool| Col { name: name.into(), text };
    [
        ("models", vec![col("id", false), col("model_id", true), col("version", true), col("version_status", true)]),
        ("services", vec![col("id", true), col("service_id", true), col("model_id", true), col("model_version", true)]),
    ]
}

/// The drift fingerprint's chunk (rows hashed together) as the scripts take it, and chunks small
/// enough that the cases' tables fill several.
const CHUNKS: [u64; 3] = [sql::FINGERPRINT_CHUNK, 1, 2];

fn fingerprint_name(relation: &str, chunk: u64) -> String {
    format!("fingerprint of {relation} in chunks of {chunk}")
}

/// The rows of `query` in DuckDB, every value as text.
fn duckdb_rows(workspace: &Workspace, query: &str) -> Vec<Row> {
    let conn = workspace.connection();
    let mut stmt = conn
        .prepare(&format!("SELECT CAST(COLUMNS(*) AS VARCHAR) FROM ({query}) q"))
        .unwrap_or_else(|e| panic!("DuckDB refuses {query}: {e}"));
    let mut rows = stmt.query([]).unwrap();
    let mut out = Vec::new();
    while let Some(row) = rows.next().unwrap() {
        let width = row.as_ref().column_count();
        out.push((0..width).map(|i| row.get::<_, Option<String>>(i).unwrap()).collect());
    }
    out
}

/// A result that says nothing about the rows: none, a single zero count, or the fingerprint of
/// no rows.
fn trivial(rows: &[Row]) -> bool {
    let zero = Some("0".to_string());
    rows.is_empty() || rows == [vec![zero.clone()]] || rows == [vec![zero, Some(String::new())]]
}

#[test]
fn every_shared_builder_means_the_same_in_duckdb_and_postgres() {
    let cases = parse(&std::fs::read_to_string(repo().join("tests/cases/sql_dialects.cases")).unwrap());
    assert!(cases.len() >= 4, "the case file holds {} cases", cases.len());
    let pg = cluster();
    let (builders, fingerprinted) = (builders(), fingerprinted());
    let mut telling: BTreeMap<String, usize> = BTreeMap::new();
    let mut most_rows: BTreeMap<&str, u64> = BTreeMap::new();
    let mut failures = Vec::new();
    for (i, case) in cases.iter().enumerate() {
        let database = format!("dialects_{i}");
        // A collation other than C, as production databases have: text orders differently
        // there than in DuckDB unless the builder says `COLLATE "C"`.
        pg.psql(
            "postgres",
            &format!(
                "CREATE DATABASE {database} TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'"
            ),
        )
        .unwrap();
        let setup = setup(case);
        pg.psql(&database, &setup).unwrap_or_else(|e| panic!("{}: PostgreSQL setup: {e}", case.title));
        let workspace = Workspace::in_memory().unwrap();
        workspace.connection().execute_batch(&setup).unwrap_or_else(|e| panic!("{}: DuckDB setup: {e}", case.title));
        let mut compare = |name: &str, mut duck: Vec<Row>, duck_sql: &str, pg_sql: &str| {
            let mut postgres =
                pg.query(&database, pg_sql).unwrap_or_else(|e| panic!("PostgreSQL refuses {pg_sql}: {e}"));
            duck.sort();
            postgres.sort();
            if duck != postgres {
                failures.push(format!(
                    "{}: {name}\n  DuckDB     {duck:?}\n  PostgreSQL {postgres:?}\n  DuckDB SQL:     {duck_sql}\n  PostgreSQL SQL: {pg_sql}",
                    case.title
                ));
            }
            *telling.entry(name.to_string()).or_default() += usize::from(!trivial(&duck));
        };
        for (name, build) in &builders {
            let (duck_sql, pg_sql) = (build(Dialect::DuckDb), build(Dialect::Postgres));
            compare(name, duckdb_rows(&workspace, &duck_sql), &duck_sql, &pg_sql);
        }
        for ((relation, columns), chunk) in fingerprinted.iter().flat_map(|f| CHUNKS.map(|chunk| (f, chunk))) {
            let (rows, digest) = fingerprint::digest(workspace.connection(), relation, columns, &columns[..1], chunk)
                .unwrap_or_else(|e| panic!("{}: the streamed fingerprint of {relation}: {e}", case.title));
            let most = most_rows.entry(*relation).or_default();
            *most = rows.max(*most);
            let duck_sql = sql::fingerprint_rows(relation, columns, &columns[..1]);
            let pg_sql = sql::fingerprint(relation, columns, &columns[..1], chunk);
            let streamed = vec![vec![Some(rows.to_string()), Some(digest)]];
            compare(&fingerprint_name(relation, chunk), streamed, &duck_sql, &pg_sql);
        }
    }
    assert!(failures.is_empty(), "the engines disagree:\n{}", failures.join("\n"));
    // Agreeing on nothing proves nothing: every builder finds rows in some case.
    let names = builders.iter().map(|(name, _)| name.to_string());
    let fingerprints =
        fingerprinted.iter().flat_map(|(relation, _)| CHUNKS.map(|chunk| fingerprint_name(relation, chunk)));
    for name in names.chain(fingerprints) {
        assert!(telling.get(&name).copied().unwrap_or(0) > 0, "{name} finds no rows in any case");
    }
    // The small chunks are tried on tables of more rows than two chunks of 2 hold.
    for (relation, most) in most_rows {
        assert!(most > 4, "{relation} has at most {most} rows in any case: its chunks of 2 are never several");
    }
}
