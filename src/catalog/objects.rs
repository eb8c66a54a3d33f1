//! The schema objects besides tables that the rollback's DDL and DML can run into: views and
//! materialized views, rules, policies, stored generated columns, indexes, constraints and
//! extended statistics, functions with SQL-standard bodies (each with the columns its definition
//! uses), and triggers. Built from
//! the dump's DDL by `input::ddl`; the DDL replay reads them to predict what PostgreSQL does.

use super::TableName;
use serde::{Deserialize, Serialize};

/// A column of a table.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ColumnOf {
    pub table: TableName,
    pub column: String,
}

impl ColumnOf {
    pub fn new(table: &TableName, column: &str) -> Self {
        ColumnOf { table: table.clone(), column: column.to_string() }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ObjectKind {
    View,
    MaterializedView,
    Rule,
    Policy,
    /// A stored generated column; its name is the column's.
    GeneratedColumn,
    Index,
    Constraint,
    Statistics,
    /// A function or procedure with a SQL-standard body (`BEGIN ATOMIC … END`, `RETURN …`),
    /// whose dependencies PostgreSQL records; its name carries its argument types.
    Function,
}

impl ObjectKind {
    /// The word PostgreSQL's messages use for the kind.
    pub fn label(self) -> &'static str {
        match self {
            ObjectKind::View => "view",
            ObjectKind::MaterializedView => "materialized view",
            ObjectKind::Rule => "rule",
            ObjectKind::Policy => "policy",
            ObjectKind::GeneratedColumn => "column",
            ObjectKind::Index => "index",
            ObjectKind::Constraint => "constraint",
            ObjectKind::Statistics => "statistics object",
            ObjectKind::Function => "function",
        }
    }
}

/// One object of the dump and the columns its definition uses.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SchemaObject {
    pub kind: ObjectKind,
    pub schema: String,
    pub name: String,
    /// The table the object belongs to (every kind but views).
    pub table: Option<TableName>,
    /// Every column its definition reads or writes: view and rule queries, policy and CHECK
    /// expressions, index keys, expressions and predicates, generation expressions.
    pub uses: Vec<ColumnOf>,
    /// For a unique index, unique constraint or primary key that a foreign key can rely on
    /// (plain columns, no predicate, not deferrable): its key columns.
    pub unique_key: Option<Vec<String>>,
    /// A primary key, unique or exclusion constraint: backed by an index of the same name.
    #[serde(default)]
    pub owns_index: bool,
    /// The statement that created it, as the dump has it.
    pub definition: String,
}

impl SchemaObject {
    /// How PostgreSQL names the object in a message (`view v`, `constraint c on table t`,
    /// `column c of table t`); the schema is shown unless it is `public`.
    pub fn describe(&self) -> String {
        let label = self.kind.label();
        match (&self.table, self.kind) {
            (Some(table), ObjectKind::GeneratedColumn) => format!("column {} of table {}", self.name, shown(table)),
            (Some(table), ObjectKind::Rule | ObjectKind::Policy | ObjectKind::Constraint) => {
                format!("{label} {} on table {}", self.name, shown(table))
            }
            _ => format!("{label} {}", shown(&TableName::new(&self.schema, &self.name))),
        }
    }

    pub fn uses_column(&self, column: &ColumnOf) -> bool {
        self.uses.contains(column)
    }
}

/// A table name as PostgreSQL's messages show it: unqualified in `public`.
pub fn shown(table: &TableName) -> String {
    if table.schema == "public" {
        table.name.clone()
    } else {
        table.to_string()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Timing {
    Before,
    After,
    InsteadOf,
}

impl Timing {
    pub fn sql(self) -> &'static str {
        match self {
            Timing::Before => "BEFORE",
            Timing::After => "AFTER",
            Timing::InsteadOf => "INSTEAD OF",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Event {
    Insert,
    Update,
    Delete,
    Truncate,
}

impl Event {
    pub fn sql(self) -> &'static str {
        match self {
            Event::Insert => "INSERT",
            Event::Update => "UPDATE",
            Event::Delete => "DELETE",
            Event::Truncate => "TRUNCATE",
        }
    }
}

/// A trigger on a table, as `CREATE TRIGGER` declares it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trigger {
    pub name: String,
    pub table: TableName,
    pub timing: Timing,
    pub events: Vec<Event>,
    /// `UPDATE OF` columns (empty: any update).
    pub update_columns: Vec<String>,
    pub for_each_row: bool,
    pub function: String,
    /// The `WHEN` condition as the dump writes it.
    pub when: Option<String>,
    /// Columns of its table that `UPDATE OF` and `WHEN` name (PostgreSQL records a dependency).
    pub uses: Vec<ColumnOf>,
    /// False after `ALTER TABLE … DISABLE TRIGGER`.
    pub enabled: bool,
    pub definition: String,
}

impl Trigger {
    pub fn fires_on(&self, event: Event) -> bool {
        self.enabled && self.events.contains(&event)
    }

    /// `AFTER DELETE FOR EACH ROW` and the like.
    pub fn shape(&self) -> String {
        let events: Vec<&str> = self.events.iter().map(|e| e.sql()).collect();
        let of = if self.update_columns.is_empty() {
            String::new()
        } else {
            format!(" OF {}", self.update_columns.join(", "))
        };
        format!(
            "{} {}{of} FOR EACH {}",
            self.timing.sql(),
            events.join(" OR "),
            if self.for_each_row { "ROW" } else { "STATEMENT" }
        )
    }

    pub fn describe(&self) -> String {
        format!("trigger {} on table {}", self.name, shown(&self.table))
    }
}

/// A DO INSTEAD rule: PostgreSQL runs its actions in place of a DELETE or UPDATE of its table,
/// also those a foreign key's action runs. rehearse does not replay it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InsteadRule {
    pub name: String,
    pub table: TableName,
    pub event: Event,
    pub definition: String,
}

impl InsteadRule {
    pub fn describe(&self) -> String {
        format!("rule {} on table {}", self.name, shown(&self.table))
    }
}

/// Everything of the dump besides tables, columns and the catalog's constraint and index lists.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SchemaObjects {
    pub objects: Vec<SchemaObject>,
    pub triggers: Vec<Trigger>,
    #[serde(default)]
    pub instead_rules: Vec<InsteadRule>,
    /// Row-level security per table (`ALTER TABLE … ENABLE / FORCE ROW LEVEL SECURITY`).
    #[serde(default)]
    pub row_security: Vec<RowSecurity>,
}

/// A table's row-level security switches. Enabled, its policies filter other roles' rows;
/// forced too, also its owner's (superusers and foreign keys' own statements bypass it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RowSecurity {
    pub table: TableName,
    pub enabled: bool,
    pub forced: bool,
}

impl SchemaObjects {
    /// Whether the policies of `table` filter even its owner's statements.
    pub fn forced_row_security(&self, table: &TableName) -> bool {
        self.row_security.iter().any(|r| &r.table == table && r.enabled && r.forced)
    }
}

impl SchemaObjects {
    /// Adds an object, replacing one of the same kind and name (`CREATE OR REPLACE`).
    pub fn put(&mut self, object: SchemaObject) {
        let same = |o: &SchemaObject| {
            o.kind == object.kind && o.schema == object.schema && o.name == object.name && o.table == object.table
        };
        match self.objects.iter_mut().find(|o| same(o)) {
            Some(existing) => *existing = object,
            None => self.objects.push(object),
        }
    }

    pub fn find(&self, kind: ObjectKind, schema: &str, name: &str) -> Option<&SchemaObject> {
        self.objects.iter().find(|o| o.kind == kind && o.schema == schema && o.name == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(kind: ObjectKind, name: &str, table: Option<&str>) -> SchemaObject {
        SchemaObject {
            kind,
            schema: "public".into(),
            name: name.into(),
            table: table.map(|t| TableName::new("public", t)),
            uses: vec![],
            unique_key: None,
            owns_index: false,
            definition: String::new(),
        }
    }

    #[test]
    fn objects_are_described_as_postgresql_does() {
        assert_eq!(object(ObjectKind::View, "v", None).describe(), "view v");
        assert_eq!(object(ObjectKind::MaterializedView, "mv", None).describe(), "materialized view mv");
        assert_eq!(
            object(ObjectKind::GeneratedColumn, "is_active", Some("models")).describe(),
            "column is_active of table models"
        );
        assert_eq!(object(ObjectKind::Constraint, "fk", Some("deploys")).describe(), "constraint fk on table deploys");
        let mut other = object(ObjectKind::Policy, "p", None);
        other.table = Some(TableName::new("audit", "models"));
        assert_eq!(other.describe(), "policy p on table audit.models");
    }

    #[test]
    fn create_or_replace_replaces() {
        let mut objects = SchemaObjects::default();
        objects.put(object(ObjectKind::View, "v", None));
        let mut again = object(ObjectKind::View, "v", None);
        again.definition = "new".into();
        objects.put(again);
        assert_eq!(objects.objects.len(), 1);
        assert_eq!(objects.find(ObjectKind::View, "public", "v").unwrap().definition, "new");
    }
}
