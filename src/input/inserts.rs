//! Rows from `INSERT` statements (`pg_dump --inserts` / `--column-inserts`), read through
//! PostgreSQL's parser. Values come back as PostgreSQL text, like COPY fields.

use super::{Origin, RowSink};
use crate::catalog::TableName;
use crate::error::{Error, Result};
use pg_query::protobuf::{self, a_const};
use pg_query::NodeEnum;

/// Rows of one INSERT statement: its target, its column list (empty = all) and its values.
pub struct InsertRows {
    pub table: TableName,
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Option<String>>>,
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

/// Hands the rows of one table's INSERT statements to a sink. The first statement begins the
/// table with its column list (all the table's columns when it names none); the others must
/// name the same. Rows are located by the statement's line (`Origin::Lines`) or numbered
/// (`Origin::Rows`).
pub struct InsertLoader {
    table: TableName,
    all_columns: Vec<String>,
    origin: Origin,
    columns: Option<Vec<String>>,
    rows: u64,
}

impl InsertLoader {
    pub fn new(table: TableName, all_columns: Vec<String>, origin: Origin) -> Self {
        InsertLoader { table, all_columns, origin, columns: None, rows: 0 }
    }

    /// Loads the rows of one statement, which starts on line `line`.
    pub fn statement(&mut self, text: &str, line: u64, sink: &mut dyn RowSink) -> Result<()> {
        let by_line = matches!(self.origin, Origin::Lines(_));
        let at = |row: u64| if by_line { line } else { row };
        let insert = parse_insert(text).map_err(|e| Error::bad_input(self.origin.locate(at(self.rows + 1)), e))?;
        let named = if insert.columns.is_empty() { self.all_columns.clone() } else { insert.columns };
        let expected = match &self.columns {
            None => {
                sink.begin(&self.table, &named, self.origin.clone(), at(self.rows + 1))?;
                self.columns.insert(named).len()
            }
            Some(current) if *current != named => {
                return Err(Error::bad_input(
                    self.origin.locate(at(self.rows + 1)),
                    "INSERTs into one table name different columns",
                ));
            }
            Some(current) => current.len(),
        };
        for values in &insert.rows {
            self.rows += 1;
            if values.len() != expected {
                return Err(Error::bad_input(
                    self.origin.locate(at(self.rows)),
                    format!("INSERT has {} values, expected {expected}", values.len()),
                ));
            }
            let fields: Vec<Option<&str>> = values.iter().map(|v| v.as_deref()).collect();
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
    for list in &select.values_lists {
        let Some(NodeEnum::List(list)) = list.node.as_ref() else {
            return Err("malformed VALUES list".into());
        };
        rows.push(list.items.iter().map(value_text).collect::<Result<Vec<_>, _>>()?);
    }
    Ok(InsertRows { table: TableName::new(&relation.schemaname, &relation.relname), columns, rows })
}

/// A VALUES item as PostgreSQL text: constants, possibly cast (`'…'::jsonb`), or NULL.
fn value_text(node: &protobuf::Node) -> Result<Option<String>, String> {
    match node.node.as_ref() {
        Some(NodeEnum::AConst(c)) if c.isnull => Ok(None),
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
    }
}
