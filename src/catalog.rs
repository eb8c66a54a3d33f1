//! What the dump declares: tables, columns with their PostgreSQL types, constraints, indexes and
//! the foreign-key graph. Built from DDL by `input::ddl`, stored in the workspace, read by
//! everything downstream. It never holds row data.

pub mod objects;

use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, VecDeque};
use std::fmt;

/// A schema-qualified table name, exactly as PostgreSQL knows it (case preserved).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct TableName {
    pub schema: String,
    pub name: String,
}

impl TableName {
    pub fn new(schema: &str, name: &str) -> Self {
        let schema = if schema.is_empty() { "public" } else { schema };
        TableName { schema: schema.to_string(), name: name.to_string() }
    }

    /// The name as an SQL identifier pair, always quoted: safe for DuckDB and PostgreSQL alike.
    pub fn quoted(&self) -> String {
        format!("{}.{}", quote_ident(&self.schema), quote_ident(&self.name))
    }
}

impl fmt::Display for TableName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.schema, self.name)
    }
}

/// Quotes an identifier for SQL (doubling embedded quotes), whatever it contains.
pub fn quote_ident(ident: &str) -> String {
    format!("\"{}\"", ident.replace('"', "\"\""))
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Column {
    pub name: String,
    /// The type as PostgreSQL's `format_type` spells it, e.g. `character varying(100)`.
    pub pg_type: String,
    pub not_null: bool,
    /// The default expression as PostgreSQL text, when one is declared.
    pub default: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Table {
    pub name: TableName,
    pub columns: Vec<Column>,
}

impl Table {
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }
}

/// What a foreign key does to referencing rows when the referenced row goes away.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum FkAction {
    NoAction,
    Restrict,
    Cascade,
    SetNull,
    SetDefault,
}

impl FkAction {
    /// Decodes libpg_query's one-letter action code.
    pub fn from_code(code: &str) -> Self {
        match code {
            "r" => FkAction::Restrict,
            "c" => FkAction::Cascade,
            "n" => FkAction::SetNull,
            "d" => FkAction::SetDefault,
            _ => FkAction::NoAction,
        }
    }

    pub fn sql(self) -> &'static str {
        match self {
            FkAction::NoAction => "NO ACTION",
            FkAction::Restrict => "RESTRICT",
            FkAction::Cascade => "CASCADE",
            FkAction::SetNull => "SET NULL",
            FkAction::SetDefault => "SET DEFAULT",
        }
    }

    pub fn from_sql(text: &str) -> Option<Self> {
        [Self::NoAction, Self::Restrict, Self::Cascade, Self::SetNull, Self::SetDefault]
            .into_iter()
            .find(|action| action.sql() == text)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ForeignKey {
    pub ref_table: TableName,
    pub ref_columns: Vec<String>,
    pub on_delete: FkAction,
    pub on_update: FkAction,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ConstraintKind {
    PrimaryKey,
    Unique,
    ForeignKey(ForeignKey),
    Check,
}

impl ConstraintKind {
    pub fn label(&self) -> &'static str {
        match self {
            ConstraintKind::PrimaryKey => "PRIMARY KEY",
            ConstraintKind::Unique => "UNIQUE",
            ConstraintKind::ForeignKey(_) => "FOREIGN KEY",
            ConstraintKind::Check => "CHECK",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Constraint {
    pub name: String,
    pub table: TableName,
    pub kind: ConstraintKind,
    pub columns: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Index {
    pub name: String,
    pub table: TableName,
    pub unique: bool,
    /// Column names, or the expression text for expression indexes.
    pub columns: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Catalog {
    pub tables: Vec<Table>,
    pub constraints: Vec<Constraint>,
    pub indexes: Vec<Index>,
    /// Views, rules, policies, generated columns, triggers, statistics, and the columns that
    /// indexes and constraints use: what the DDL replay checks each step against.
    #[serde(default)]
    pub objects: objects::SchemaObjects,
}

impl Catalog {
    pub fn table(&self, name: &TableName) -> Option<&Table> {
        self.tables.iter().find(|t| &t.name == name)
    }

    pub fn table_mut(&mut self, name: &TableName) -> Option<&mut Table> {
        self.tables.iter_mut().find(|t| &t.name == name)
    }

    /// Finds a table by its unqualified name, preferring the `public` schema.
    pub fn find_table(&self, name: &str) -> Option<&Table> {
        let mut matches = self.tables.iter().filter(|t| t.name.name == name);
        let first = matches.next()?;
        Some(std::iter::once(first).chain(matches).find(|t| t.name.schema == "public").unwrap_or(first))
    }

    pub fn foreign_keys(&self) -> impl Iterator<Item = (&Constraint, &ForeignKey)> {
        self.constraints.iter().filter_map(|c| match &c.kind {
            ConstraintKind::ForeignKey(fk) => Some((c, fk)),
            _ => None,
        })
    }

    pub fn constraints_of<'a>(&'a self, table: &'a TableName) -> impl Iterator<Item = &'a Constraint> {
        self.constraints.iter().filter(move |c| &c.table == table)
    }

    pub fn indexes_of<'a>(&'a self, table: &'a TableName) -> impl Iterator<Item = &'a Index> {
        self.indexes.iter().filter(move |i| &i.table == table)
    }

    /// The roots and every table whose rows a delete from them can reach: tables that reference
    /// a reached table through a foreign key, transitively. In breadth-first order from the roots.
    pub fn reached_from(&self, roots: &[TableName]) -> Vec<TableName> {
        let mut seen: BTreeSet<TableName> = BTreeSet::new();
        let mut order = Vec::new();
        let mut queue: VecDeque<TableName> = roots.iter().cloned().collect();
        while let Some(table) = queue.pop_front() {
            if !seen.insert(table.clone()) {
                continue;
            }
            for (constraint, fk) in self.foreign_keys() {
                if fk.ref_table == table && !seen.contains(&constraint.table) {
                    queue.push_back(constraint.table.clone());
                }
            }
            order.push(table);
        }
        order
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fk(from: &str, to: &str) -> Constraint {
        Constraint {
            name: format!("{from}_fkey"),
            table: TableName::new("public", from),
            kind: ConstraintKind::ForeignKey(ForeignKey {
                ref_table: TableName::new("public", to),
                ref_columns: vec!["id".into()],
                on_delete: FkAction::Cascade,
                on_update: FkAction::NoAction,
            }),
            columns: vec![format!("{to}_id")],
        }
    }

    #[test]
    fn reach_follows_references_transitively_and_ignores_parents() {
        let catalog = Catalog {
            tables: vec![],
            constraints: vec![
                fk("variants", "services"),
                fk("metrics", "variants"),
                fk("models", "owners"),
                fk("services", "services"),
            ],
            ..Catalog::default()
        };
        let reached = catalog.reached_from(&[TableName::new("public", "services")]);
        let names: Vec<_> = reached.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["services", "variants", "metrics"]);
    }

    #[test]
    fn quoting_doubles_embedded_quotes() {
        assert_eq!(quote_ident(r#"a"b"#), r#""a""b""#);
        assert_eq!(TableName::new("", "x").quoted(), r#""public"."x""#);
    }
}
