//! The columns that an SQL definition uses, resolved the way PostgreSQL's parser resolves names:
//! a view's query (joins, `USING`, subqueries, CTEs, correlated references, `*`), a rule's
//! actions (OLD and NEW), the expression of a policy, CHECK, index or generated column (the
//! table's own columns), a trigger's WHEN (OLD and NEW). pg_dump writes views with their `*`
//! expanded and, up to PostgreSQL 15, with every column qualified; later releases leave the
//! columns of a one-table query unqualified, which resolves the same way here.
//!
//! The parse tree is walked as pg_query's JSON form, so that every node kind is descended
//! into; only the nodes that open a scope or name a column are interpreted.

use crate::catalog::objects::ColumnOf;
use crate::catalog::{Catalog, TableName};
use serde_json::Value;
use std::collections::BTreeSet;

/// What a name in a FROM list stands for.
enum Source {
    Table(TableName),
    /// A subquery or CTE with these output columns.
    Derived(Vec<String>),
    /// A function, another view, or anything whose columns are unknown here.
    Opaque,
}

struct Item {
    alias: String,
    source: Source,
}

struct Scope<'p> {
    items: Vec<Item>,
    ctes: Vec<(String, Vec<String>)>,
    parent: Option<&'p Scope<'p>>,
}

impl<'p> Scope<'p> {
    fn new(parent: Option<&'p Scope<'p>>) -> Self {
        Scope { items: Vec::new(), ctes: Vec::new(), parent }
    }

    fn cte(&self, name: &str) -> Option<&Vec<String>> {
        self.ctes.iter().rev().find(|(n, _)| n == name).map(|(_, c)| c).or_else(|| self.parent?.cte(name))
    }
}

struct Resolver<'c> {
    catalog: &'c Catalog,
    uses: BTreeSet<ColumnOf>,
}

/// The JSON form of a parse-tree node.
pub fn json_of(node: &pg_query::protobuf::Node) -> Value {
    serde_json::to_value(node).unwrap_or(Value::Null)
}

/// The columns a query (a view's or a materialized view's) uses.
pub fn query_uses(catalog: &Catalog, query: &Value) -> Vec<ColumnOf> {
    let mut resolver = Resolver { catalog, uses: BTreeSet::new() };
    resolver.walk(query, &Scope::new(None));
    resolver.uses.into_iter().collect()
}

/// The columns an expression over `table` uses; `aliases` are the names it may qualify the
/// table's columns with besides its own (`old`, `new` for rules and triggers).
pub fn expression_uses(catalog: &Catalog, table: &TableName, aliases: &[&str], parts: &[&Value]) -> Vec<ColumnOf> {
    let mut resolver = Resolver { catalog, uses: BTreeSet::new() };
    let mut scope = Scope::new(None);
    for alias in std::iter::once(table.name.as_str()).chain(aliases.iter().copied()) {
        scope.items.push(Item { alias: alias.to_string(), source: Source::Table(table.clone()) });
    }
    for part in parts {
        resolver.walk(part, &scope);
    }
    resolver.uses.into_iter().collect()
}

fn strings(list: Option<&Value>) -> Vec<String> {
    list.and_then(Value::as_array)
        .map(|items| {
            items.iter().filter_map(|n| n.pointer("/node/String/sval")?.as_str().map(str::to_string)).collect()
        })
        .unwrap_or_default()
}

fn text<'v>(value: &'v Value, key: &str) -> &'v str {
    value.get(key).and_then(Value::as_str).unwrap_or("")
}

/// A field of a ColumnRef: a name, or `None` for `*`.
fn field(node: &Value) -> Option<Option<String>> {
    let inner = node.get("node")?;
    if let Some(name) = inner.pointer("/String/sval") {
        return Some(Some(name.as_str()?.to_string()));
    }
    inner.get("AStar").map(|_| None)
}

impl Resolver<'_> {
    fn columns_of(&self, table: &TableName) -> Vec<String> {
        self.catalog.table(table).map(|t| t.columns.iter().map(|c| c.name.clone()).collect()).unwrap_or_default()
    }

    /// Whether `table` has `column`; a table the catalog does not know yet (its own CREATE
    /// TABLE is being read) is assumed to.
    fn has_column(&self, table: &TableName, column: &str) -> bool {
        self.catalog.table(table).is_none_or(|t| t.column(column).is_some())
    }

    fn use_column(&mut self, table: &TableName, column: &str) {
        self.uses.insert(ColumnOf::new(table, column));
    }

    fn use_all(&mut self, source: &Source) {
        if let Source::Table(table) = source {
            for column in self.columns_of(table) {
                self.use_column(table, &column);
            }
        }
    }

    /// Walks any node: interprets the ones that name columns or open a scope.
    fn walk(&mut self, value: &Value, scope: &Scope) {
        match value {
            Value::Array(items) => items.iter().for_each(|item| self.walk(item, scope)),
            Value::Object(map) => {
                for (key, inner) in map {
                    match key.as_str() {
                        "ColumnRef" => self.column_ref(inner, scope),
                        "SelectStmt" => {
                            self.select(inner, Some(scope));
                        }
                        "InsertStmt" | "UpdateStmt" | "DeleteStmt" => self.dml(key, inner, scope),
                        "RangeVar" => {}
                        _ => self.walk(inner, scope),
                    }
                }
            }
            _ => {}
        }
    }

    fn column_ref(&mut self, node: &Value, scope: &Scope) {
        let fields: Vec<Option<String>> =
            node.get("fields").and_then(Value::as_array).into_iter().flatten().filter_map(field).collect();
        match fields.as_slice() {
            [None] => {
                for item in &scope.items {
                    self.use_all(&item.source);
                }
            }
            [Some(column)] => self.unqualified(column, scope),
            [Some(relation), rest @ ..] => {
                let (schema, relation, column) = match rest {
                    [Some(relation2), column, ..] => (Some(relation.as_str()), relation2.as_str(), column.clone()),
                    [column, ..] => (None, relation.as_str(), column.clone()),
                    [] => return,
                };
                if !self.qualified(schema, relation, column.as_deref(), scope) && schema.is_none() {
                    // `composite_column.field`: the first name is a column.
                    self.unqualified(relation, scope);
                }
            }
            _ => {}
        }
    }

    /// Resolves `relation.column` (or `relation.*`); false when no range item is so named.
    fn qualified(&mut self, schema: Option<&str>, relation: &str, column: Option<&str>, scope: &Scope) -> bool {
        let mut level = Some(scope);
        while let Some(current) = level {
            let found = current.items.iter().find(|item| {
                item.alias == relation
                    && match (&item.source, schema) {
                        (Source::Table(table), Some(schema)) => table.schema == schema,
                        (_, Some(_)) => false,
                        _ => true,
                    }
            });
            if let Some(item) = found {
                if let Source::Table(table) = &item.source {
                    match column {
                        None => self.use_all(&item.source),
                        Some(column) if self.has_column(table, column) => {
                            let table = table.clone();
                            self.use_column(&table, column);
                        }
                        Some(_) => {}
                    }
                }
                return true;
            }
            level = current.parent;
        }
        false
    }

    fn tables_with(&self, items: &[Item], column: &str) -> Vec<TableName> {
        items
            .iter()
            .filter_map(|item| match &item.source {
                Source::Table(table) if self.has_column(table, column) => Some(table.clone()),
                _ => None,
            })
            .collect()
    }

    fn unqualified(&mut self, column: &str, scope: &Scope) {
        let mut level = Some(scope);
        while let Some(current) = level {
            let tables = self.tables_with(&current.items, column);
            if !tables.is_empty() {
                tables.iter().for_each(|table| self.use_column(table, column));
                return;
            }
            let derived = current.items.iter().any(|item| match &item.source {
                Source::Derived(columns) => columns.iter().any(|c| c == column),
                _ => false,
            });
            if derived {
                return;
            }
            level = current.parent;
        }
    }

    /// A SELECT (or set operation): resolves everything in it and returns its output columns.
    fn select(&mut self, stmt: &Value, parent: Option<&Scope>) -> Vec<String> {
        let mut scope = Scope::new(parent);
        if let Some(with) = stmt.get("with_clause") {
            for cte in with.get("ctes").and_then(Value::as_array).into_iter().flatten() {
                let Some(cte) = cte.pointer("/node/CommonTableExpr") else { continue };
                let name = text(cte, "ctename").to_string();
                // A recursive CTE reads itself: visible (columns unknown) while it is resolved.
                scope.ctes.push((name.clone(), Vec::new()));
                let mut columns = match cte.pointer("/ctequery/node/SelectStmt") {
                    Some(query) => self.select(query, Some(&scope)),
                    None => Vec::new(),
                };
                let aliased = strings(cte.get("aliascolnames"));
                if !aliased.is_empty() {
                    columns = aliased;
                }
                scope.ctes.pop();
                scope.ctes.push((name, columns));
            }
        }
        let branch = |key: &str| stmt.get(key).filter(|v| !v.is_null());
        if let (Some(left), Some(right)) = (branch("larg"), branch("rarg")) {
            let columns = self.select(left, Some(&scope));
            self.select(right, Some(&scope));
            for key in ["limit_offset", "limit_count"] {
                if let Some(part) = stmt.get(key) {
                    self.walk(part, &scope);
                }
            }
            return columns;
        }
        for item in stmt.get("from_clause").and_then(Value::as_array).into_iter().flatten() {
            self.range_item(item, &mut scope);
        }
        for (key, part) in stmt.as_object().into_iter().flatten() {
            if !matches!(key.as_str(), "from_clause" | "with_clause" | "larg" | "rarg" | "into_clause") {
                self.walk(part, &scope);
            }
        }
        self.outputs(stmt, &scope)
    }

    fn outputs(&self, stmt: &Value, scope: &Scope) -> Vec<String> {
        let mut columns = Vec::new();
        for target in stmt.get("target_list").and_then(Value::as_array).into_iter().flatten() {
            let Some(target) = target.pointer("/node/ResTarget") else { continue };
            let name = text(target, "name");
            if !name.is_empty() {
                columns.push(name.to_string());
                continue;
            }
            let fields: Vec<Option<String>> = target
                .pointer("/val/node/ColumnRef/fields")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(field)
                .collect();
            match fields.last() {
                Some(Some(column)) => columns.push(column.clone()),
                Some(None) => {
                    for item in &scope.items {
                        match &item.source {
                            Source::Table(table) => columns.extend(self.columns_of(table)),
                            Source::Derived(derived) => columns.extend(derived.iter().cloned()),
                            Source::Opaque => {}
                        }
                    }
                }
                None => columns.push("?column?".into()),
            }
        }
        columns
    }

    /// Adds a FROM item (and whatever it joins) to `scope`.
    fn range_item(&mut self, item: &Value, scope: &mut Scope) {
        let Some(node) = item.get("node") else { return };
        if let Some(range) = node.get("RangeVar") {
            self.range_var(range, scope);
        } else if let Some(join) = node.get("JoinExpr") {
            let first = scope.items.len();
            if let Some(left) = join.get("larg") {
                self.range_item(left, scope);
            }
            let middle = scope.items.len();
            if let Some(right) = join.get("rarg") {
                self.range_item(right, scope);
            }
            for column in strings(join.get("using_clause")) {
                for side in [first..middle, middle..scope.items.len()] {
                    for table in self.tables_with(&scope.items[side], &column) {
                        self.use_column(&table, &column);
                    }
                }
            }
            if let Some(quals) = join.get("quals") {
                self.walk(quals, scope);
            }
        } else if let Some(sub) = node.get("RangeSubselect") {
            let mut columns = match sub.pointer("/subquery/node/SelectStmt") {
                Some(query) => self.select(query, Some(scope)),
                None => Vec::new(),
            };
            let alias = sub.get("alias");
            let aliased = strings(alias.and_then(|a| a.get("colnames")));
            if !aliased.is_empty() {
                columns = aliased;
            }
            let alias = alias.map(|a| text(a, "aliasname")).unwrap_or("").to_string();
            scope.items.push(Item { alias, source: Source::Derived(columns) });
        } else if let Some(function) = node.get("RangeFunction") {
            self.walk(function.get("functions").unwrap_or(&Value::Null), scope);
            let alias = function.get("alias").map(|a| text(a, "aliasname")).unwrap_or("").to_string();
            let columns = strings(function.get("alias").and_then(|a| a.get("colnames")));
            let source = if columns.is_empty() { Source::Opaque } else { Source::Derived(columns) };
            scope.items.push(Item { alias, source });
        } else if let Some(sample) = node.get("RangeTableSample") {
            if let Some(relation) = sample.get("relation") {
                self.range_item(relation, scope);
            }
            for key in ["args", "repeatable"] {
                self.walk(sample.get(key).unwrap_or(&Value::Null), scope);
            }
        } else {
            self.walk(item, scope);
            scope.items.push(Item { alias: String::new(), source: Source::Opaque });
        }
    }

    fn range_var(&mut self, range: &Value, scope: &mut Scope) {
        let (schema, name) = (text(range, "schemaname"), text(range, "relname"));
        let alias = range.pointer("/alias/aliasname").and_then(Value::as_str).unwrap_or(name).to_string();
        let source = match scope.cte(name).filter(|_| schema.is_empty()) {
            Some(columns) => Source::Derived(columns.clone()),
            None => {
                let table = TableName::new(schema, name);
                if self.catalog.table(&table).is_some() {
                    Source::Table(table)
                } else {
                    Source::Opaque
                }
            }
        };
        scope.items.push(Item { alias, source });
    }

    /// INSERT, UPDATE or DELETE (a rule's action): the target's written columns are used too.
    fn dml(&mut self, kind: &str, stmt: &Value, parent: &Scope) {
        let mut scope = Scope::new(Some(parent));
        let Some(target) = stmt.get("relation") else { return };
        self.range_var(target, &mut scope);
        let target_table = match &scope.items[0].source {
            Source::Table(table) => Some(table.clone()),
            _ => None,
        };
        let written = if kind == "InsertStmt" { stmt.get("cols") } else { stmt.get("target_list") };
        for target in written.and_then(Value::as_array).into_iter().flatten() {
            let Some(res) = target.pointer("/node/ResTarget") else { continue };
            if let Some(table) = &target_table {
                let name = text(res, "name");
                if !name.is_empty() {
                    self.use_column(table, name);
                }
            }
            if let Some(value) = res.get("val") {
                self.walk(value, &scope);
            }
        }
        for key in ["from_clause", "using_clause"] {
            for item in stmt.get(key).and_then(Value::as_array).into_iter().flatten() {
                self.range_item(item, &mut scope);
            }
        }
        if let Some(select) = stmt.pointer("/select_stmt/node/SelectStmt") {
            self.select(select, Some(parent));
        }
        for key in ["where_clause", "returning_list", "on_conflict_clause"] {
            if let Some(part) = stmt.get(key) {
                self.walk(part, &scope);
            }
        }
    }
}
