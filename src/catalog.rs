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
    /// The expression of a generated column (`GENERATED ALWAYS AS (…)`), whose values pg_dump
    /// does not write.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generated: Option<String>,
    /// The column's own collation (`COLLATE …`), as PostgreSQL names it; `None`: the
    /// database's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collation: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Table {
    pub name: TableName,
    pub columns: Vec<Column>,
    /// `INHERITS (…)`: the parents, in declaration order. PostgreSQL counts this table's rows
    /// among each parent's.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inherits: Vec<TableName>,
    /// When the table is a declarative partition: its parent and bound.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition_of: Option<Partition>,
    /// When the table is partitioned: its key as pg_dump writes it, e.g. `RANGE (logdate)`. Its
    /// rows live in its partitions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partitioned_by: Option<String>,
}

/// A declarative partition's place in its parent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Partition {
    pub parent: TableName,
    /// The bound as pg_dump writes it: `FOR VALUES FROM (…) TO (…)`, `FOR VALUES IN (…)`,
    /// `FOR VALUES WITH (…)` or `DEFAULT`.
    pub bound: String,
}

impl Table {
    pub fn new(name: TableName, columns: Vec<Column>) -> Self {
        Table { name, columns, inherits: Vec::new(), partition_of: None, partitioned_by: None }
    }

    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// The tables this one descends from directly: its `INHERITS` parents or its partition parent.
    pub fn parents(&self) -> impl Iterator<Item = &TableName> {
        self.inherits.iter().chain(self.partition_of.as_ref().map(|p| &p.parent))
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
    /// `ON DELETE SET NULL (col, …)` / `SET DEFAULT (col, …)` (PostgreSQL 15+): the only key
    /// columns the action assigns. Empty: all of them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub set_columns: Vec<String>,
    /// `DEFERRABLE INITIALLY DEFERRED`: its checks wait for COMMIT. (`DEFERRABLE INITIALLY
    /// IMMEDIATE` checks at the end of each statement, as a key that is not deferrable does.)
    #[serde(default)]
    pub deferred: bool,
}

impl ForeignKey {
    /// The columns of `key` (the constraint's own columns) that ON DELETE SET NULL / SET
    /// DEFAULT assigns.
    pub fn assigned<'k>(&'k self, key: &'k [String]) -> impl Iterator<Item = &'k String> {
        key.iter().filter(move |c| self.set_columns.is_empty() || self.set_columns.contains(c))
    }

    /// Each column of `key` that the action assigns in `holder` (the referencing table or one
    /// of its partitions), with what it gets: NULL (`None`), or under SET DEFAULT the column's
    /// default expression (NULL when it has none). The rehearsal's post-state, its triggers and
    /// NOT NULL checks, and 04_restore_version.sql all take the new values from here.
    pub fn assigned_values<'k>(
        &'k self,
        key: &'k [String],
        holder: Option<&'k Table>,
    ) -> impl Iterator<Item = (&'k String, Option<&'k str>)> {
        let set_default = self.on_delete == FkAction::SetDefault;
        self.assigned(key).map(move |c| {
            let default = holder.filter(|_| set_default).and_then(|t| t.column(c)).and_then(|c| c.default.as_deref());
            (c, default)
        })
    }
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

/// One foreign key between one table holding referencing rows and one holding referenced rows:
/// a key on (or to) a partitioned table is one edge per partition (`Catalog::key_row_holders`).
#[derive(Debug, Clone)]
pub struct FkEdge<'c> {
    pub constraint: &'c Constraint,
    pub fk: &'c ForeignKey,
    pub child: TableName,
    pub parent: TableName,
}

impl FkEdge<'_> {
    /// `c.col = p.ref_col AND …` for the key's columns, over the aliases of a child and a
    /// parent row.
    pub fn matches(&self, child: &str, parent: &str) -> String {
        let pairs: Vec<String> = self
            .constraint
            .columns
            .iter()
            .zip(&self.fk.ref_columns)
            .map(|(c, p)| format!("{child}.{} = {parent}.{}", quote_ident(c), quote_ident(p)))
            .collect();
        pairs.join(" AND ")
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Catalog {
    pub tables: Vec<Table>,
    pub constraints: Vec<Constraint>,
    pub indexes: Vec<Index>,
    /// Composite types (`CREATE TYPE … AS (…)`), whose attributes typed tables
    /// (`CREATE TABLE … OF type`) take as columns. Needed while the DDL is read only.
    #[serde(skip)]
    pub composite_types: Vec<Table>,
    /// Views, rules, policies, generated columns, triggers, statistics, and the columns that
    /// indexes and constraints use: what the DDL replay checks each step against.
    #[serde(default)]
    pub objects: objects::SchemaObjects,
    /// The database's collation, when the export's `CREATE DATABASE` names it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database_collation: Option<String>,
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

    /// The tables that descend directly from `table`: inheritance children and partitions.
    pub fn children_of<'a>(&'a self, table: &'a TableName) -> impl Iterator<Item = &'a Table> {
        self.tables.iter().filter(move |t| t.parents().any(|p| p == table))
    }

    /// The tables whose own rows PostgreSQL counts as `table`'s rows (`SELECT … FROM table`):
    /// the table itself, then every inheritance child and partition, recursively, parents
    /// before children. A partitioned table holds no rows itself unless the dump loads them
    /// through it (`pg_dump --load-via-partition-root`); it is listed all the same.
    pub fn row_holders(&self, table: &TableName) -> Vec<TableName> {
        let mut holders = vec![table.clone()];
        let mut next = 0;
        while next < holders.len() {
            let children: Vec<TableName> = self
                .children_of(&holders[next])
                .map(|t| t.name.clone())
                .filter(|name| !holders.contains(name))
                .collect();
            holders.extend(children);
            next += 1;
        }
        holders
    }

    /// The tables whose rows a foreign key declared on `table`, or referencing it, applies to.
    /// A partitioned table's key covers the rows of all its partitions, at any depth (and rows
    /// loaded into it with `--load-via-partition-root`); an inheritance parent's key covers its
    /// own rows only: PostgreSQL neither inherits foreign keys nor lets them see children.
    pub fn key_row_holders(&self, table: &TableName) -> Vec<TableName> {
        match self.table(table) {
            Some(t) if t.partitioned_by.is_some() => self.row_holders(table),
            _ => vec![table.clone()],
        }
    }

    /// The foreign keys between tables of `tables`, one edge per pair of tables holding their
    /// rows (keys leading out of `tables` cannot be followed, and need not be when `tables` is
    /// closed under `reached_from`).
    pub fn fk_edges(&self, tables: &BTreeSet<TableName>) -> Vec<FkEdge<'_>> {
        let mut edges = Vec::new();
        for (constraint, fk) in self.foreign_keys() {
            let parents: Vec<TableName> =
                self.key_row_holders(&fk.ref_table).into_iter().filter(|t| tables.contains(t)).collect();
            for child in self.key_row_holders(&constraint.table).into_iter().filter(|t| tables.contains(t)) {
                for parent in &parents {
                    edges.push(FkEdge { constraint, fk, child: child.clone(), parent: parent.clone() });
                }
            }
        }
        edges
    }

    /// The primary key columns that hold for `table`'s rows: its own, or the one declared on a
    /// partitioned table it is a partition of.
    pub fn primary_key(&self, table: &TableName) -> Option<&[String]> {
        std::iter::once(table.clone()).chain(self.partition_ancestors(table)).find_map(|t| {
            self.constraints
                .iter()
                .find(|c| c.table == t && c.kind == ConstraintKind::PrimaryKey)
                .map(|c| c.columns.as_slice())
        })
    }

    /// The partitioned tables `table` is a partition of, nearest first. Foreign keys that
    /// reference one of them see `table`'s rows; an inheritance parent's keys do not.
    pub fn partition_ancestors(&self, table: &TableName) -> Vec<TableName> {
        let mut ancestors: Vec<TableName> = Vec::new();
        let mut current = table;
        while let Some(partition) = self.table(current).and_then(|t| t.partition_of.as_ref()) {
            if ancestors.contains(&partition.parent) {
                break;
            }
            ancestors.push(partition.parent.clone());
            current = &partition.parent;
        }
        ancestors
    }

    /// The roots and every table whose rows a delete from them can reach: the tables that hold
    /// a reached table's rows (inheritance children, partitions), and tables that reference a
    /// reached table (or a partitioned table it belongs to) through a foreign key, transitively.
    /// In breadth-first order from the roots.
    pub fn reached_from(&self, roots: &[TableName]) -> Vec<TableName> {
        let mut seen: BTreeSet<TableName> = BTreeSet::new();
        let mut order = Vec::new();
        let mut queue: VecDeque<TableName> = roots.iter().cloned().collect();
        while let Some(table) = queue.pop_front() {
            if !seen.insert(table.clone()) {
                continue;
            }
            queue.extend(self.children_of(&table).map(|t| t.name.clone()));
            let referenced: Vec<TableName> =
                std::iter::once(table.clone()).chain(self.partition_ancestors(&table)).collect();
            for (constraint, fk) in self.foreign_keys() {
                if referenced.contains(&fk.ref_table) && !seen.contains(&constraint.table) {
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
                set_columns: Vec::new(),
                deferred: false,
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

    fn table(name: &str, inherits: &[&str], partition_of: Option<&str>) -> Table {
        let mut table = Table::new(TableName::new("public", name), Vec::new());
        table.inherits = inherits.iter().map(|p| TableName::new("public", p)).collect();
        table.partition_of =
            partition_of.map(|p| Partition { parent: TableName::new("public", p), bound: "DEFAULT".into() });
        table
    }

    fn names(tables: &[TableName]) -> Vec<&str> {
        tables.iter().map(|t| t.name.as_str()).collect()
    }

    #[test]
    fn a_tables_rows_are_held_by_it_and_all_its_descendants() {
        let catalog = Catalog {
            tables: vec![
                table("events", &[], None),
                table("events_2023", &[], Some("events")),
                table("events_2024", &[], Some("events")),
                table("events_2024_a", &[], Some("events_2024")),
                table("vehicles", &[], None),
                table("tagged", &[], None),
                table("trucks", &["vehicles", "tagged"], None),
            ],
            ..Catalog::default()
        };
        let holders = |t: &str| catalog.row_holders(&TableName::new("public", t));
        assert_eq!(names(&holders("events")), ["events", "events_2023", "events_2024", "events_2024_a"]);
        assert_eq!(names(&holders("events_2024")), ["events_2024", "events_2024_a"]);
        assert_eq!(names(&holders("tagged")), ["tagged", "trucks"]);
        assert_eq!(names(&holders("trucks")), ["trucks"]);
        let ancestors = catalog.partition_ancestors(&TableName::new("public", "events_2024_a"));
        assert_eq!(names(&ancestors), ["events_2024", "events"]);
        assert!(catalog.partition_ancestors(&TableName::new("public", "trucks")).is_empty());
    }

    #[test]
    fn keys_of_partitioned_tables_cover_their_partitions_and_inheritance_parents_only_themselves() {
        let mut events = table("events", &[], None);
        events.partitioned_by = Some("RANGE (day)".into());
        let mut events_2024 = table("events_2024", &[], Some("events"));
        events_2024.partitioned_by = Some("LIST (region)".into());
        let catalog = Catalog {
            tables: vec![
                events,
                table("events_2023", &[], Some("events")),
                events_2024,
                table("events_2024_eu", &[], Some("events_2024")),
                table("vehicles", &[], None),
                table("trucks", &["vehicles"], None),
            ],
            ..Catalog::default()
        };
        let holders = |t: &str| catalog.key_row_holders(&TableName::new("public", t));
        assert_eq!(names(&holders("events")), ["events", "events_2023", "events_2024", "events_2024_eu"]);
        assert_eq!(names(&holders("events_2024")), ["events_2024", "events_2024_eu"]);
        assert_eq!(names(&holders("events_2023")), ["events_2023"]);
        assert_eq!(names(&holders("vehicles")), ["vehicles"]);
    }

    #[test]
    fn reach_loads_every_partition_and_follows_keys_into_partitioned_tables() {
        let catalog = Catalog {
            tables: vec![
                table("models", &[], None),
                table("events", &[], None),
                table("events_2023", &[], Some("events")),
                table("events_2024", &[], Some("events")),
                table("events_2024_a", &[], Some("events_2024")),
                table("notes", &[], None),
                table("pinned", &[], None),
                table("unrelated", &[], None),
            ],
            // A key declared on the partitioned parent, one into it, one into a partition.
            constraints: vec![fk("events", "models"), fk("notes", "events"), fk("pinned", "events_2024_a")],
            ..Catalog::default()
        };
        let reached = catalog.reached_from(&[TableName::new("public", "models")]);
        assert_eq!(
            names(&reached),
            ["models", "events", "events_2023", "events_2024", "notes", "events_2024_a", "pinned"]
        );
    }

    #[test]
    fn quoting_doubles_embedded_quotes() {
        assert_eq!(quote_ident(r#"a"b"#), r#""a""b""#);
        assert_eq!(TableName::new("", "x").quoted(), r#""public"."x""#);
    }
}
