//! SQL that must mean the same in DuckDB (the rehearsal) and in PostgreSQL (the emitted
//! scripts): built once here, with a dialect switch only where the two engines differ. The
//! drift fingerprint, the guide's verification V2 and V3, the orphan delete, the services the
//! touch UPDATE reaches, the orphans the rollback causes and the stale-backup comparison come
//! from these builders;
//! `tests/cases/sql_dialects.cases` runs each in both engines on the same rows.

use crate::catalog::quote_ident;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    DuckDb,
    Postgres,
}

/// A string literal, safe for any content: quotes doubled, and no backslash escapes in either
/// engine (PostgreSQL with standard_conforming_strings, DuckDB always).
pub fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// A column that takes part in an ordering or a fingerprint.
#[derive(Debug, Clone)]
pub struct Col {
    pub name: String,
    /// Text-typed columns order by bytes in PostgreSQL only with `COLLATE "C"`.
    pub text: bool,
}

fn order_key(col: &Col, dialect: Dialect) -> String {
    match (dialect, col.text) {
        (Dialect::Postgres, true) => format!("{} COLLATE \"C\"", quote_ident(&col.name)),
        _ => quote_ident(&col.name),
    }
}

/// A fingerprinted value as text: the same text in both engines, which md5 then reads.
fn fingerprint_value(col: &Col) -> String {
    format!("CAST({} AS VARCHAR)", quote_ident(&col.name))
}

/// One row's fingerprint text: each of `columns` as its length in bytes, `:` and its text (NULL
/// as `N:`), joined by `,`; no two rows spell the same text. Spelled with the faster concatenation
/// in each engine: DuckDB's `concat` (which skips a NULL), PostgreSQL's `||`.
fn fingerprint_row(columns: &[Col], dialect: Dialect) -> String {
    let values = columns.iter().map(|c| {
        let value = fingerprint_value(c);
        match dialect {
            Dialect::DuckDb => format!("coalesce(CAST(strlen({value}) AS VARCHAR), 'N'), ':', {value}"),
            Dialect::Postgres => format!("coalesce(CAST(octet_length({value}) AS VARCHAR) || ':' || {value}, 'N:')"),
        }
    });
    match dialect {
        Dialect::DuckDb => format!("concat({})", values.collect::<Vec<_>>().join(", ',', ")),
        Dialect::Postgres => values.collect::<Vec<_>>().join(" || ',' || "),
    }
}

fn order_keys(order_by: &[Col], dialect: Dialect) -> String {
    let order: Vec<String> = order_by.iter().map(|c| order_key(c, dialect)).collect();
    order.join(", ")
}

/// Rows a chunk of the drift fingerprint: the md5s of a chunk's rows are joined and hashed, then
/// the chunks' md5s. PostgreSQL's `string_agg` builds one text, which holds at most 1 GB: joined
/// over every row at once (133 bytes a row until session 26) the guard failed on 8.3 M rows.
pub const FINGERPRINT_CHUNK: u64 = 100_000;

/// An md5 over every row of `columns` in byte order of `order_by`, as the emitted scripts take it
/// in PostgreSQL: each row's text hashed, the hashes of each `chunk` rows in turn joined by `|`
/// and hashed, and those joined by `|` and hashed. The rehearsal gets the same digest from the
/// rows `fingerprint_rows` streams out of DuckDB (`rehearsal::fingerprint`). Its columns are
/// named in full where they are read: the scripts run it in PL/pgSQL, whose variables (`n`, …)
/// a bare name could mean.
pub fn fingerprint(relation: &str, columns: &[Col], order_by: &[Col], chunk: u64) -> String {
    format!(
        "SELECT coalesce(sum(chunks.rows_in_chunk), 0)::bigint AS row_count, \
         coalesce(md5(string_agg(chunks.chunk_md5, '|' ORDER BY chunks.chunk)), '') AS digest \
         FROM (SELECT (numbered.position - 1) / {chunk} AS chunk, count(*) AS rows_in_chunk, \
         md5(string_agg(numbered.row_md5, '|' ORDER BY numbered.position)) AS chunk_md5 \
         FROM (SELECT row_number() OVER (ORDER BY {}) AS position, md5({}) AS row_md5 FROM {relation}) numbered \
         GROUP BY 1) chunks",
        order_keys(order_by, Dialect::Postgres),
        fingerprint_row(columns, Dialect::Postgres),
    )
}

/// The rows `fingerprint` hashes, in its order, in DuckDB: each row's md5 as a number
/// (`md5_number`). The rehearsal streams them and hashes the chunks (an ORDER BY can spill to
/// disk where DuckDB's ordered aggregate holds every row in memory).
pub fn fingerprint_rows(relation: &str, columns: &[Col], order_by: &[Col]) -> String {
    format!(
        "SELECT md5_number({}) FROM {relation} ORDER BY {}",
        fingerprint_row(columns, Dialect::DuckDb),
        order_keys(order_by, Dialect::DuckDb)
    )
}

/// V2 as the guide writes it: `model_id`s that appear more than once.
pub fn duplicate_model_ids(models: &str, model_id: &str) -> String {
    let key = quote_ident(model_id);
    format!("SELECT {key}, count(*) FROM {models} GROUP BY {key} HAVING count(*) > 1")
}

/// V3 as the guide writes it: services whose `model_id` finds no models row (LEFT JOIN). The
/// selected columns are cast to text so both engines return them alike.
pub fn services_without_model(
    services: &str,
    models: &str,
    service_id: &str,
    service_model_id: &str,
    model_id: &str,
) -> String {
    format!(
        "SELECT CAST(s.{} AS VARCHAR), CAST(s.{} AS VARCHAR) FROM {services} s LEFT JOIN {models} m ON s.{} = m.{} WHERE m.{} IS NULL",
        quote_ident(service_id),
        quote_ident(service_model_id),
        quote_ident(service_model_id),
        quote_ident(model_id),
        quote_ident(model_id),
    )
}

/// V3's rows named `v(service_id, model_id)`: what the script keeps as the orphans before the
/// rollback, and what `known_orphan` reads.
pub fn named_orphans(v3: &str) -> String {
    format!("SELECT * FROM ({v3}) v(service_id, model_id)")
}

/// `left` and `right` (text) are equal or both NULL: `IS NOT DISTINCT FROM` spelled as two
/// equalities, which a hash join can serve.
pub fn same_text(left: &str, right: &str) -> String {
    format!("coalesce({left}, '') = coalesce({right}, '') AND ({left} IS NULL) = ({right} IS NULL)")
}

/// The V3 row `v` was an orphan before the rollback: `before` (V3's rows taken then, as
/// `named_orphans` names them) holds its service_id, a NULL one matching NULL only.
pub fn known_orphan(before: &str) -> String {
    format!("EXISTS (SELECT 1 FROM {before} b WHERE {})", same_text("b.service_id", "v.service_id"))
}

/// V3's rows that `before` does not hold: the services the rollback itself orphans.
pub fn caused_orphans(v3: &str, before: &str) -> String {
    format!("{} WHERE NOT ({})", named_orphans(v3), known_orphan(before))
}

/// The shipped script's orphan delete condition on the services row `alias`:
/// `model_id NOT IN (SELECT model_id FROM models)`, with SQL's NULL semantics (a NULL
/// `models.model_id` makes it match nothing; a NULL service `model_id` matches only when models
/// is empty). DuckDB runs the guide's text. PostgreSQL runs `NOT IN` as a hashed subplan only
/// while the list fits in `work_mem`, and otherwise scans models once per service: it gets the
/// same truth table as an anti-join and two one-off checks.
pub fn orphan_condition(alias: &str, service_model_id: &str, models: &str, model_id: &str, dialect: Dialect) -> String {
    let (smid, mid) = (format!("{alias}.{}", quote_ident(service_model_id)), quote_ident(model_id));
    match dialect {
        Dialect::DuckDb => format!("{smid} NOT IN (SELECT {mid} FROM {models})"),
        Dialect::Postgres => format!(
            "NOT EXISTS (SELECT 1 FROM {models} m WHERE m.{mid} = {smid}) AND (NOT EXISTS (SELECT 1 FROM {models}) OR ({smid} IS NOT NULL AND NOT EXISTS (SELECT 1 FROM {models} m WHERE m.{mid} IS NULL)))"
        ),
    }
}

/// The services rows that the shipped script's `UPDATE services SET model_id = model_id`
/// touches: those whose `model_id` a models row holds (`IN`: a NULL one touches nothing).
pub fn model_exists(service_model_id: &str, models: &str, model_id: &str) -> String {
    format!("{} IN (SELECT {} FROM {models})", quote_ident(service_model_id), quote_ident(model_id))
}

/// One side of a comparison of whole rows: a relation and the alias its rows go by.
#[derive(Debug, Clone, Copy)]
pub struct Rows<'a> {
    pub relation: &'a str,
    pub alias: &'a str,
    /// The table's own rows, not its inheritance children's (PostgreSQL's `ONLY`; a workspace
    /// table holds its own rows alone).
    pub only: bool,
}

/// The rows of `first` that `second` lacks, duplicates counted (`EXCEPT ALL`): a backup from
/// an earlier run is stale when either direction finds a row. PostgreSQL compares each row's
/// text, which needs no equality operator whatever the column types (json, point); DuckDB
/// compares the values.
pub fn rows_missing(first: Rows, second: Rows, dialect: Dialect) -> String {
    let side = |rows: Rows| match dialect {
        Dialect::DuckDb => format!("SELECT * FROM {}", rows.relation),
        Dialect::Postgres => format!(
            "SELECT {alias}::text FROM {only}{} {alias}",
            rows.relation,
            alias = rows.alias,
            only = if rows.only { "ONLY " } else { "" }
        ),
    };
    format!("{} EXCEPT ALL {}", side(first), side(second))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_survive_hostile_text() {
        assert_eq!(literal("o'brien"), "'o''brien'");
        assert_eq!(literal("a\\b$$;--"), "'a\\b$$;--'");
    }

    #[test]
    fn fingerprints_differ_only_in_collation() {
        let cols = [Col { name: "id".into(), text: false }, Col { name: "version".into(), text: true }];
        let duck = fingerprint_rows("m", &cols, &cols);
        let pg = fingerprint("m", &cols, &cols, FINGERPRINT_CHUNK);
        assert!(pg.contains("\"version\" COLLATE \"C\""));
        assert!(!pg.contains("\"id\" COLLATE"));
        assert!(duck.ends_with(&format!("ORDER BY {}", order_keys(&cols, Dialect::DuckDb))), "{duck}");
        assert_eq!(
            order_keys(&cols, Dialect::Postgres).replace(" COLLATE \"C\"", ""),
            order_keys(&cols, Dialect::DuckDb)
        );
        let (duck_row, pg_row) = (fingerprint_row(&cols, Dialect::DuckDb), fingerprint_row(&cols, Dialect::Postgres));
        assert!(duck.contains(&format!("md5_number({duck_row})")) && pg.contains(&format!("md5({pg_row})")));
        for col in &cols {
            let value = fingerprint_value(col);
            assert!(
                duck_row.contains(&format!("strlen({value})")) && pg_row.contains(&format!("octet_length({value})"))
            );
        }
    }
}
