//! Rows from `INSERT` statements (`pg_dump --inserts` / `--column-inserts`), read through
//! PostgreSQL's parser. Values come back as PostgreSQL text, like COPY fields.

use super::{Origin, RowSink};
use crate::catalog::{Catalog, TableName};
use crate::error::{Error, Result};
use pg_query::protobuf::{self, a_const};
use pg_query::NodeEnum;
use std::collections::BTreeSet;

/// Rows of one INSERT statement: its target, its column list (empty = all) and its values.
pub struct InsertRows {
    pub table: TableName,
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Option<String>>>,
    /// Positions where a row says DEFAULT (its value there reads as NULL).
    pub defaults: BTreeSet<usize>,
}

/// The target table of an INSERT, read without the parser: pass 1 only needs to know where a
/// table's rows are, not what they hold.
pub fn insert_target(stmt: &str) -> Option<TableName> {
    let rest = strip_keyword(stmt.trim_start(), "INSERT")?;
    let rest = strip_keyword(rest.trim_start(), "INTO")?.trim_start();
    let (first, rest) = identifier(rest)?;
    match rest.strip_prefix('.') {
        Some(rest) => identifier(rest).map(|(name, _)| TableName::new(&first, &name)),
        None => Some(TableName::new("public", &first)),
    }
}

fn strip_keyword<'a>(text: &'a str, keyword: &str) -> Option<&'a str> {
    let head = text.get(..keyword.len())?;
    head.eq_ignore_ascii_case(keyword).then(|| &text[keyword.len()..])
}

fn identifier(text: &str) -> Option<(String, &str)> {
    if let Some(mut rest) = text.strip_prefix('"') {
        let mut name = String::new();
        loop {
            let end = rest.find('"')?;
            name.push_str(&rest[..end]);
            rest = &rest[end + 1..];
            match rest.strip_prefix('"') {
                Some(after) => {
                    name.push('"');
                    rest = after;
                }
                None => return Some((name, rest)),
            }
        }
    }
    let end = text.find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '$')).unwrap_or(text.len());
    (end > 0).then(|| (text[..end].to_lowercase(), &text[end..]))
}

/// What INSERT statements into one table need to know of it.
#[derive(Debug, Clone)]
pub struct InsertTarget {
    table: TableName,
    /// Its columns in order, for INSERTs that name none; or why that order cannot be known.
    columns: Result<Vec<String>, String>,
    /// Its generated columns, for which pg_dump writes DEFAULT: it has no values for them.
    generated: BTreeSet<String>,
}

impl InsertTarget {
    pub fn of(catalog: &Catalog, table: &TableName) -> Self {
        let known = catalog.table(table);
        let columns = match known {
            Some(t) if !t.inherits.is_empty() => {
                let parents: Vec<String> = t.inherits.iter().map(ToString::to_string).collect();
                Err(format!(
                    "rows for {table} without column names, and {table} inherits from {}: PostgreSQL orders an inheritance child's columns by when they were added, which the dump does not record (re-export with --column-inserts, or without --inserts)",
                    parents.join(", ")
                ))
            }
            Some(t) => Ok(t.columns.iter().map(|c| c.name.clone()).collect()),
            None => Err(format!("rows for table {table}, which the dump never creates")),
        };
        let generated = known
            .map(|t| t.columns.iter().filter(|c| c.generated.is_some()).map(|c| c.name.clone()).collect())
            .unwrap_or_default();
        InsertTarget { table: table.clone(), columns, generated }
    }
}

/// Loads one table's INSERT statements into a sink: the rows of every statement, checked to
/// name the same columns, without the generated columns' DEFAULTs.
pub struct InsertLoader {
    target: InsertTarget,
    origin: Origin,
    columns: Option<Vec<String>>,
    rows: u64,
}

impl InsertLoader {
    pub fn new(target: InsertTarget, origin: Origin) -> Self {
        InsertLoader { target, origin, columns: None, rows: 0 }
    }

    /// Loads the rows of one statement, which starts on line `line`.
    pub fn statement(&mut self, text: &str, line: u64, sink: &mut dyn RowSink) -> Result<()> {
        let by_line = matches!(self.origin, Origin::Lines(_));
        let at = |row: u64| if by_line { line } else { row };
        let bad = |row: u64, message: String| Error::bad_input(self.origin.locate(at(row)), message);
        let insert = parse_insert(text).map_err(|e| bad(self.rows + 1, e))?;
        let named = if insert.columns.is_empty() {
            self.target.columns.clone().map_err(|e| bad(self.rows + 1, e))?
        } else {
            insert.columns
        };
        let generated = |i: usize| named.get(i).is_some_and(|n| self.target.generated.contains(n));
        if let Some(&position) = insert.defaults.iter().find(|&&i| !generated(i)) {
            let column = named.get(position).map_or("?", String::as_str);
            let table = &self.target.table;
            return Err(bad(
                self.rows + 1,
                format!("DEFAULT for column \"{column}\" of {table}, which is not generated: rehearse does not evaluate defaults"),
            ));
        }
        let stored: Vec<usize> = (0..named.len()).filter(|&i| !generated(i)).collect();
        let wanted: Vec<String> = stored.iter().map(|&i| named[i].clone()).collect();
        match &self.columns {
            None => {
                sink.begin(&self.target.table, &wanted, self.origin.clone(), at(self.rows + 1))?;
                self.columns = Some(wanted);
            }
            Some(current) if *current != wanted => {
                return Err(bad(self.rows + 1, "INSERTs into one table name different columns".to_string()));
            }
            Some(_) => {}
        }
        for values in &insert.rows {
            self.rows += 1;
            if values.len() != named.len() {
                return Err(bad(self.rows, format!("INSERT has {} values, expected {}", values.len(), named.len())));
            }
            let fields: Vec<Option<&str>> = stored.iter().map(|&i| values[i].as_deref()).collect();
            sink.row(&fields, at(self.rows))?;
        }
        Ok(())
    }

    /// Ends the table's rows, if any statement began them.
    pub fn finish(self, sink: &mut dyn RowSink) -> Result<()> {
        if self.columns.is_some() {
            sink.end()?;
        }
        Ok(())
    }
}

/// Parses one INSERT … VALUES statement.
pub fn parse_insert(stmt: &str) -> Result<InsertRows, String> {
    let parsed = pg_query::parse(stmt, pg_query::ParserOptions::DEFAULT).map_err(|e| e.to_string())?;
    let [raw] = &parsed.protobuf.stmts[..] else {
        return Err("expected exactly one INSERT statement".into());
    };
    let Some(NodeEnum::InsertStmt(insert)) = raw.stmt.as_ref().and_then(|s| s.node.as_ref()) else {
        return Err("expected an INSERT statement".into());
    };
    let relation = insert.relation.as_ref().ok_or("INSERT without a table")?;
    let columns = insert
        .cols
        .iter()
        .filter_map(|c| match c.node.as_ref() {
            Some(NodeEnum::ResTarget(target)) => Some(target.name.clone()),
            _ => None,
        })
        .collect();
    let Some(NodeEnum::SelectStmt(select)) = insert.select_stmt.as_ref().and_then(|s| s.node.as_ref()) else {
        return Err("INSERT without VALUES".into());
    };
    let mut rows = Vec::with_capacity(select.values_lists.len());
    let mut defaults = BTreeSet::new();
    for list in &select.values_lists {
        let Some(NodeEnum::List(list)) = list.node.as_ref() else {
            return Err("malformed VALUES list".into());
        };
        for (position, item) in list.items.iter().enumerate() {
            if matches!(item.node, Some(NodeEnum::SetToDefault(_))) {
                defaults.insert(position);
            }
        }
        rows.push(list.items.iter().map(value_text).collect::<Result<Vec<_>, _>>()?);
    }
    Ok(InsertRows { table: TableName::new(&relation.schemaname, &relation.relname), columns, rows, defaults })
}

/// A VALUES item as PostgreSQL text: constants, possibly cast (`'…'::jsonb`), or NULL.
fn value_text(node: &protobuf::Node) -> Result<Option<String>, String> {
    match node.node.as_ref() {
        Some(NodeEnum::AConst(c)) if c.isnull => Ok(None),
        Some(NodeEnum::SetToDefault(_)) => Ok(None),
        Some(NodeEnum::AConst(c)) => Ok(Some(match c.val.as_ref() {
            Some(a_const::Val::Ival(i)) => i.ival.to_string(),
            Some(a_const::Val::Fval(f)) => f.fval.clone(),
            Some(a_const::Val::Boolval(b)) => if b.boolval { "t" } else { "f" }.to_string(),
            Some(a_const::Val::Sval(s)) => s.sval.clone(),
            Some(a_const::Val::Bsval(b)) => b.bsval.clone(),
            None => return Ok(None),
        })),
        Some(NodeEnum::TypeCast(cast)) => match cast.arg.as_deref() {
            Some(arg) => value_text(arg),
            None => Err("empty cast in VALUES".into()),
        },
        _ => Err("VALUES item is not a constant".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_read_without_the_parser() {
        let cases = [
            ("INSERT INTO public.models VALUES (1);", Some(("public", "models"))),
            ("insert into Models (a) VALUES (1);", Some(("public", "models"))),
            (r#"INSERT INTO "odd"".s"."T x" VALUES (1);"#, Some((r#"odd".s"#, "T x"))),
            ("UPDATE t SET a = 1;", None),
        ];
        for (stmt, expected) in cases {
            let expected = expected.map(|(s, n)| TableName::new(s, n));
            assert_eq!(insert_target(stmt), expected, "{stmt}");
        }
    }

    #[test]
    fn values_come_back_as_postgresql_text() {
        let stmt = "INSERT INTO public.t (a, b, c, d, e, f) VALUES (-12, 1.50, 'it''s\n\\x', NULL, true, '{\"k\": 1}'::jsonb), (9999999999, 'NaN', '', NULL, false, '[]');";
        let rows = parse_insert(stmt).unwrap();
        assert_eq!(rows.table, TableName::new("public", "t"));
        assert_eq!(rows.columns, ["a", "b", "c", "d", "e", "f"]);
        let text = |v: &Option<String>| v.clone();
        assert_eq!(
            rows.rows[0].iter().map(text).collect::<Vec<_>>(),
            [
                Some("-12".into()),
                Some("1.50".into()),
                Some("it's\n\\x".into()),
                None,
                Some("t".into()),
                Some("{\"k\": 1}".into())
            ]
        );
        assert_eq!(rows.rows[1][0].as_deref(), Some("9999999999"));
        assert_eq!(rows.rows[1][2].as_deref(), Some(""));
        assert!(rows.defaults.is_empty());
        let rows = parse_insert("INSERT INTO t VALUES (1, DEFAULT), (2, DEFAULT);").unwrap();
        assert_eq!(rows.defaults, BTreeSet::from([1]));
        assert_eq!(rows.rows[1], [Some("2".to_string()), None]);
    }
}
