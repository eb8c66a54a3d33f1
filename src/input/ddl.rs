//! DDL → catalog, through PostgreSQL's own parser (libpg_query). The statements that shape
//! tables are read (CREATE TABLE, ALTER TABLE: constraints, defaults, NOT NULL, triggers
//! enabled; CREATE INDEX), and those of the objects the rollback can run into (`objects`:
//! views, materialized views, rules, policies, statistics, triggers); the parser still checks
//! every statement it is given.

mod objects;
mod refs;

use crate::catalog::{
    quote_ident, Catalog, Column, Constraint, ConstraintKind, FkAction, ForeignKey, Index, Partition, Table, TableName,
};
use crate::pgtype::format_type;
use crate::sql::literal;
use pg_query::protobuf::{self, a_const, AlterTableType, ConstrType, ObjectType};
use pg_query::NodeEnum;

/// A `COPY table (cols) FROM stdin` header.
#[derive(Debug, Clone, PartialEq)]
pub struct CopyHeader {
    pub table: TableName,
    pub columns: Vec<String>,
}

/// What one chunk of SQL turned out to be.
#[derive(Debug)]
pub enum Parsed {
    /// A COPY FROM stdin: data lines follow.
    Copy(CopyHeader),
    /// `CREATE EXTENSION name`: the tables it creates are not in the dump.
    Extension(String),
    /// `CREATE DATABASE name …` (archives' DATABASE entry, `pg_dump --create`): its name and
    /// its collation as PostgreSQL names one (`en_US.UTF-8`, `en-US-x-icu`), when it says.
    Database { name: String, collation: Option<String> },
    /// Anything else (already applied to the catalog when it was DDL).
    Other,
}

/// Parses a chunk of SQL (one or more statements), applies its DDL to `catalog` and reports
/// whether it opens a COPY block. Errors are the parser's message, without location.
pub fn apply(sql: &str, catalog: &mut Catalog) -> Result<Parsed, String> {
    let parsed = pg_query::parse(sql, pg_query::ParserOptions::DEFAULT).map_err(|e| e.to_string())?;
    let mut outcome = Parsed::Other;
    for raw in &parsed.protobuf.stmts {
        let Some(node) = raw.stmt.as_ref().and_then(|s| s.node.as_ref()) else { continue };
        let text = || statement_text(sql, raw);
        match node {
            NodeEnum::CreateStmt(create) => {
                create_table(create, catalog)?;
                objects::create_table(create, catalog)?;
            }
            NodeEnum::AlterTableStmt(alter) => {
                alter_table(alter, catalog)?;
                objects::alter_table(alter, catalog)?;
            }
            NodeEnum::IndexStmt(index) => {
                create_index(index, catalog)?;
                objects::index(index, &text(), catalog)?;
            }
            NodeEnum::ViewStmt(view) => objects::view(view, &text(), catalog)?,
            NodeEnum::CreateTableAsStmt(ctas) => objects::materialized_view(ctas, &text(), catalog)?,
            NodeEnum::RuleStmt(rule) => objects::rule(rule, &text(), catalog)?,
            NodeEnum::CreatePolicyStmt(policy) => objects::policy(policy, &text(), catalog)?,
            NodeEnum::CreateStatsStmt(stats) => objects::statistics(stats, &text(), catalog)?,
            NodeEnum::CreateTrigStmt(trigger) => objects::trigger(trigger, &text(), catalog)?,
            NodeEnum::CreateFunctionStmt(function) => objects::function(function, &text(), catalog)?,
            NodeEnum::CompositeTypeStmt(composite) => create_composite_type(composite, catalog)?,
            NodeEnum::CreateExtensionStmt(extension) => outcome = Parsed::Extension(extension.extname.clone()),
            NodeEnum::CreatedbStmt(database) => {
                outcome = Parsed::Database { name: database.dbname.clone(), collation: database_collation(database) }
            }
            NodeEnum::CopyStmt(copy) if copy.is_from && copy.filename.is_empty() => {
                let relation = copy.relation.as_ref().ok_or("COPY without a table")?;
                outcome = Parsed::Copy(CopyHeader {
                    table: table_name(relation),
                    columns: copy.attlist.iter().filter_map(string_of).collect(),
                });
            }
            _ => {}
        }
    }
    Ok(outcome)
}

/// One statement's text as the input has it, without the comments before it.
fn statement_text(sql: &str, raw: &protobuf::RawStmt) -> String {
    let start = usize::try_from(raw.stmt_location).unwrap_or(0).min(sql.len());
    let end = match usize::try_from(raw.stmt_len) {
        Ok(0) | Err(_) => sql.len(),
        Ok(len) => (start + len).min(sql.len()),
    };
    let text = sql.get(start..end).unwrap_or("");
    let body: Vec<&str> = text.trim().lines().skip_while(|l| l.trim().is_empty() || l.starts_with("--")).collect();
    format!("{};", body.join("\n").trim_end().trim_end_matches(';'))
}

/// The collation a `CREATE DATABASE` gives its text, named as PostgreSQL names collations: the
/// ICU locale with `-x-icu` (`LOCALE_PROVIDER = icu`), the builtin provider's code-point
/// orders, else the libc `LC_COLLATE` or `LOCALE`; ICU tailoring rules (`ICU_RULES`), which
/// rehearse does not model, follow the name. `None` when it says nothing.
fn database_collation(database: &protobuf::CreatedbStmt) -> Option<String> {
    let option = |wanted: &str| {
        database.options.iter().find_map(|o| match o.node.as_ref()? {
            NodeEnum::DefElem(d) if d.defname.eq_ignore_ascii_case(wanted) => d.arg.as_deref().and_then(string_of),
            _ => None,
        })
    };
    let libc = || option("lc_collate").or_else(|| option("locale"));
    match option("locale_provider").map(|p| p.to_ascii_lowercase()).as_deref() {
        Some("icu") => {
            let locale = option("icu_locale").or_else(|| option("locale")).map(|l| format!("{l}-x-icu"));
            match option("icu_rules").filter(|r| !r.is_empty()) {
                // Kept visible, so that reading it refuses rather than ignores the rules.
                Some(rules) => locale.map(|l| format!("{l} ICU_RULES {}", literal(&rules))),
                None => locale,
            }
        }
        Some("builtin") => match option("builtin_locale").or_else(|| option("locale")).as_deref() {
            Some("C.UTF-8") => Some("pg_c_utf8".into()),
            Some("PG_UNICODE_FAST") => Some("pg_unicode_fast".into()),
            other => other.map(str::to_string),
        },
        _ => libc(),
    }
}

/// The collation a `COLLATE` clause names: `pg_catalog`'s collations by their own name,
/// others (`CREATE COLLATION`) quoted and schema-qualified.
fn collation_name(clause: &protobuf::CollateClause) -> String {
    let names: Vec<String> = clause.collname.iter().filter_map(string_of).collect();
    match names.as_slice() {
        [schema, name] if schema == "pg_catalog" => name.clone(),
        [name] => name.clone(),
        _ => names.iter().map(|n| quote_ident(n)).collect::<Vec<_>>().join("."),
    }
}

fn table_name(relation: &protobuf::RangeVar) -> TableName {
    TableName::new(&relation.schemaname, &relation.relname)
}

fn string_of(node: &protobuf::Node) -> Option<String> {
    match node.node.as_ref()? {
        NodeEnum::String(s) => Some(s.sval.clone()),
        _ => None,
    }
}

fn int_of(node: &protobuf::Node) -> Option<i64> {
    match node.node.as_ref()? {
        NodeEnum::Integer(i) => Some(i64::from(i.ival)),
        NodeEnum::AConst(c) => match c.val.as_ref()? {
            a_const::Val::Ival(i) => Some(i64::from(i.ival)),
            _ => None,
        },
        _ => None,
    }
}

fn type_of(type_name: &protobuf::TypeName) -> String {
    let names: Vec<String> = type_name.names.iter().filter_map(string_of).collect();
    let mods: Vec<i64> = type_name.typmods.iter().filter_map(int_of).collect();
    format_type(&names, &mods, !type_name.array_bounds.is_empty())
}

/// The parse-tree version of the linked libpg_query (the deparser checks it).
fn parser_version() -> Result<i32, String> {
    let parsed = pg_query::parse("SELECT", pg_query::ParserOptions::DEFAULT).map_err(|e| e.to_string())?;
    Ok(parsed.protobuf.version)
}

/// The text of an expression, as PostgreSQL's deparser writes it.
fn expression_text(expr: &protobuf::Node) -> Result<String, String> {
    let select = protobuf::SelectStmt {
        target_list: vec![protobuf::Node {
            node: Some(NodeEnum::ResTarget(Box::new(protobuf::ResTarget {
                val: Some(Box::new(expr.clone())),
                ..Default::default()
            }))),
        }],
        ..Default::default()
    };
    deparse_after(NodeEnum::SelectStmt(Box::new(select)), "SELECT ")
}

fn create_table(create: &protobuf::CreateStmt, catalog: &mut Catalog) -> Result<(), String> {
    let relation = create.relation.as_ref().ok_or("CREATE TABLE without a name")?;
    let name = table_name(relation);
    if catalog.table(&name).is_some() {
        return Err(format!("table {name} is created twice"));
    }
    let parents: Vec<TableName> = create
        .inh_relations
        .iter()
        .filter_map(|n| match n.node.as_ref() {
            Some(NodeEnum::RangeVar(parent)) => Some(table_name(parent)),
            _ => None,
        })
        .collect();
    let columns = match create.of_typename.as_ref() {
        Some(type_name) => typed_columns(catalog, &name, type_name)?,
        None => inherited_columns(catalog, &name, &parents)?,
    };
    let mut table = Table::new(name.clone(), columns);
    match create.partbound.as_ref() {
        Some(bound) => {
            let parent = parents.first().ok_or("PARTITION OF without a parent")?.clone();
            table.partition_of = Some(Partition { parent, bound: bound_text(bound)? });
        }
        None => table.inherits = parents,
    }
    table.partitioned_by = create.partspec.as_ref().map(partition_key_text).transpose()?;
    let mut constraints = Vec::new();
    for element in &create.table_elts {
        match element.node.as_ref() {
            Some(NodeEnum::ColumnDef(def)) => {
                let column = local_column(&mut table, def)?;
                for constraint in &def.constraints {
                    if let Some(NodeEnum::Constraint(c)) = constraint.node.as_ref() {
                        match c.contype() {
                            ConstrType::ConstrNotnull | ConstrType::ConstrPrimary => column.not_null = true,
                            ConstrType::ConstrDefault => {
                                if let Some(expr) = c.raw_expr.as_ref() {
                                    column.default = Some(expression_text(expr)?);
                                }
                            }
                            ConstrType::ConstrGenerated => {
                                if let Some(expr) = c.raw_expr.as_ref() {
                                    column.generated = Some(expression_text(expr)?);
                                }
                            }
                            _ => {}
                        }
                        if let Some(built) = constraint_of(c, &name, Some(&def.colname))? {
                            constraints.push(built);
                        }
                    }
                }
            }
            Some(NodeEnum::Constraint(c)) => {
                if c.contype() == ConstrType::ConstrNotnull {
                    let keys: Vec<String> = c.keys.iter().filter_map(string_of).collect();
                    for column in table.columns.iter_mut().filter(|column| keys.contains(&column.name)) {
                        column.not_null = true;
                    }
                }
                if let Some(built) = constraint_of(c, &name, None)? {
                    constraints.push(built);
                }
            }
            _ => {}
        }
    }
    for constraint in &constraints {
        if constraint.kind == ConstraintKind::PrimaryKey {
            for column in table.columns.iter_mut().filter(|c| constraint.columns.contains(&c.name)) {
                column.not_null = true;
            }
        }
    }
    catalog.tables.push(table);
    catalog.constraints.extend(constraints);
    Ok(())
}

/// The columns a new table takes from its parents, as PostgreSQL builds them: each parent's
/// columns in order, a name met again merged into its first place, with type, NOT NULL and
/// default.
fn inherited_columns(catalog: &Catalog, table: &TableName, parents: &[TableName]) -> Result<Vec<Column>, String> {
    let mut columns: Vec<Column> = Vec::new();
    for parent in parents {
        let parent_table = catalog
            .table(parent)
            .ok_or_else(|| format!("table {table} descends from {parent}, which is not created before it"))?;
        for column in &parent_table.columns {
            match columns.iter_mut().find(|c| c.name == column.name) {
                Some(merged) => merged.not_null |= column.not_null,
                None => columns.push(column.clone()),
            }
        }
    }
    Ok(columns)
}

/// The columns of a typed table: its composite type's attributes.
fn typed_columns(catalog: &Catalog, table: &TableName, type_name: &protobuf::TypeName) -> Result<Vec<Column>, String> {
    let names: Vec<String> = type_name.names.iter().filter_map(string_of).collect();
    let of = match &names[..] {
        [schema, name] => TableName::new(schema, name),
        [name] => TableName::new("public", name),
        _ => return Err(format!("table {table} is of type {}, which is no composite type", names.join("."))),
    };
    let composite = catalog
        .composite_types
        .iter()
        .find(|t| t.name == of)
        .ok_or_else(|| format!("table {table} is of type {of}, which is not created before it"))?;
    Ok(composite.columns.clone())
}

fn create_composite_type(composite: &protobuf::CompositeTypeStmt, catalog: &mut Catalog) -> Result<(), String> {
    let name = table_name(composite.typevar.as_ref().ok_or("CREATE TYPE without a name")?);
    let mut columns = Vec::new();
    for element in &composite.coldeflist {
        if let Some(NodeEnum::ColumnDef(def)) = element.node.as_ref() {
            let pg_type = type_of(def.type_name.as_ref().ok_or("a composite type's attribute without a type")?);
            columns.push(Column {
                name: def.colname.clone(),
                pg_type,
                not_null: false,
                default: None,
                generated: None,
                collation: None,
            });
        }
    }
    catalog.composite_types.push(Table::new(name, columns));
    Ok(())
}

/// The column a column definition declares: a new one at the end, or an inherited one it
/// merges with (`col type` repeated in a child, or `col WITH OPTIONS …` in a partition).
fn local_column<'t>(table: &'t mut Table, def: &protobuf::ColumnDef) -> Result<&'t mut Column, String> {
    let serial = def
        .type_name
        .as_ref()
        .is_some_and(|t| t.names.last().and_then(string_of).is_some_and(|name| name.contains("serial")));
    let position = match (table.columns.iter().position(|c| c.name == def.colname), def.type_name.as_ref()) {
        (Some(position), _) => position,
        (None, Some(type_name)) => {
            let pg_type = type_of(type_name);
            table.columns.push(Column {
                name: def.colname.clone(),
                pg_type,
                not_null: false,
                default: None,
                generated: None,
                collation: None,
            });
            table.columns.len() - 1
        }
        (None, None) => {
            return Err(format!("column \"{}\" of {} has no type and is not inherited", def.colname, table.name))
        }
    };
    let column = &mut table.columns[position];
    column.not_null |= def.is_not_null || serial;
    if let Some(clause) = def.coll_clause.as_ref() {
        column.collation = Some(collation_name(clause));
    }
    Ok(column)
}

/// A statement parsed from `template`, for the deparser to print a node inside it.
fn template(sql: &str) -> Result<NodeEnum, String> {
    let parsed = pg_query::parse(sql, pg_query::ParserOptions::DEFAULT).map_err(|e| e.to_string())?;
    parsed.protobuf.stmts[0].stmt.as_ref().and_then(|s| s.node.clone()).ok_or_else(|| "empty template".to_string())
}

/// Deparses one statement, and cuts the text after `prefix` out of it.
fn deparse_after(stmt: NodeEnum, prefix: &str) -> Result<String, String> {
    let tree = protobuf::ParseResult {
        version: parser_version()?,
        stmts: vec![protobuf::RawStmt {
            stmt: Some(Box::new(protobuf::Node { node: Some(stmt) })),
            stmt_location: 0,
            stmt_len: 0,
        }],
    };
    let text = pg_query::deparse(&tree, Default::default()).map_err(|e| e.to_string())?;
    text.strip_prefix(prefix).map(str::to_string).ok_or_else(|| format!("the deparser wrote {text:?}"))
}

/// A partition bound as pg_dump writes it: `FOR VALUES …` or `DEFAULT`.
fn bound_text(bound: &protobuf::PartitionBoundSpec) -> Result<String, String> {
    let NodeEnum::CreateStmt(mut probe) = template("CREATE TABLE x PARTITION OF y DEFAULT")? else {
        return Err("template is no CREATE TABLE".into());
    };
    probe.partbound = Some(bound.clone());
    let text = deparse_after(NodeEnum::CreateStmt(probe), "CREATE TABLE x PARTITION OF y ")?;
    // The grammar reads MINVALUE and MAXVALUE as column names, and the deparser prints them so.
    let parts: Vec<String> = text
        .split('\'')
        .enumerate()
        .map(|(i, part)| match i % 2 {
            0 => part.replace("minvalue", "MINVALUE").replace("maxvalue", "MAXVALUE"),
            _ => part.to_string(),
        })
        .collect();
    Ok(parts.join("'"))
}

/// A partition key as pg_dump writes it, e.g. `RANGE (logdate)`.
fn partition_key_text(spec: &protobuf::PartitionSpec) -> Result<String, String> {
    let NodeEnum::CreateStmt(mut probe) = template("CREATE TABLE x (a int) PARTITION BY LIST (a)")? else {
        return Err("template is no CREATE TABLE".into());
    };
    probe.partspec = Some(spec.clone());
    deparse_after(NodeEnum::CreateStmt(probe), "CREATE TABLE x (a int) PARTITION BY ")
}

/// Builds a catalog constraint from a parsed one; `None` for kinds the catalog does not track
/// (NOT NULL and DEFAULT live on the column). Unnamed constraints get PostgreSQL's default names.
fn constraint_of(
    c: &protobuf::Constraint,
    table: &TableName,
    column: Option<&str>,
) -> Result<Option<Constraint>, String> {
    let own_columns = |keys: &[protobuf::Node]| -> Vec<String> {
        match column {
            Some(column) if keys.is_empty() => vec![column.to_string()],
            _ => keys.iter().filter_map(string_of).collect(),
        }
    };
    let (kind, columns, suffix) = match c.contype() {
        ConstrType::ConstrPrimary => (ConstraintKind::PrimaryKey, own_columns(&c.keys), "pkey"),
        ConstrType::ConstrUnique => (ConstraintKind::Unique, own_columns(&c.keys), "key"),
        ConstrType::ConstrCheck => (ConstraintKind::Check, own_columns(&[]), "check"),
        ConstrType::ConstrForeign => {
            let pktable = c.pktable.as_ref().ok_or("FOREIGN KEY without a referenced table")?;
            let fk = ForeignKey {
                ref_table: table_name(pktable),
                ref_columns: c.pk_attrs.iter().filter_map(string_of).collect(),
                on_delete: FkAction::from_code(&c.fk_del_action),
                on_update: FkAction::from_code(&c.fk_upd_action),
                set_columns: c.fk_del_set_cols.iter().filter_map(string_of).collect(),
                deferred: c.deferrable && c.initdeferred,
            };
            (ConstraintKind::ForeignKey(fk), own_columns(&c.fk_attrs), "fkey")
        }
        _ => return Ok(None),
    };
    let name = if c.conname.is_empty() {
        match suffix {
            "pkey" => format!("{}_pkey", table.name),
            _ => format!("{}_{}_{suffix}", table.name, columns.join("_")),
        }
    } else {
        c.conname.clone()
    };
    Ok(Some(Constraint { name, table: table.clone(), kind, columns }))
}

fn alter_table(alter: &protobuf::AlterTableStmt, catalog: &mut Catalog) -> Result<(), String> {
    // ALTER INDEX … ATTACH PARTITION, ALTER VIEW … and the like change no table.
    if !matches!(alter.objtype(), ObjectType::ObjectTable | ObjectType::ObjectForeignTable) {
        return Ok(());
    }
    let Some(relation) = alter.relation.as_ref() else { return Ok(()) };
    let name = table_name(relation);
    // Without ONLY, a column change reaches every table that descends from this one.
    let targets = if relation.inh { catalog.row_holders(&name) } else { vec![name.clone()] };
    for cmd in &alter.cmds {
        let Some(NodeEnum::AlterTableCmd(cmd)) = cmd.node.as_ref() else { continue };
        match cmd.subtype() {
            AlterTableType::AtAddConstraint => {
                let Some(NodeEnum::Constraint(c)) = cmd.def.as_ref().and_then(|d| d.node.as_ref()) else {
                    continue;
                };
                if c.contype() == ConstrType::ConstrNotnull {
                    let keys: Vec<String> = c.keys.iter().filter_map(string_of).collect();
                    set_not_null(catalog, &targets, &keys);
                }
                if let Some(constraint) = constraint_of(c, &name, None)? {
                    if constraint.kind == ConstraintKind::PrimaryKey {
                        set_not_null(catalog, std::slice::from_ref(&name), &constraint.columns);
                    }
                    catalog.constraints.push(constraint);
                }
            }
            AlterTableType::AtColumnDefault => {
                let default = cmd.def.as_ref().map(|d| expression_text(d)).transpose()?;
                for table in &targets {
                    if let Some(column) = column_mut(catalog, table, &cmd.name) {
                        column.default = default.clone();
                    }
                }
            }
            AlterTableType::AtSetNotNull => set_not_null(catalog, &targets, std::slice::from_ref(&cmd.name)),
            AlterTableType::AtAttachPartition => {
                let Some(NodeEnum::PartitionCmd(attach)) = cmd.def.as_ref().and_then(|d| d.node.as_ref()) else {
                    continue;
                };
                let child = table_name(attach.name.as_ref().ok_or("ATTACH PARTITION without a table")?);
                let bound = bound_text(attach.bound.as_ref().ok_or("ATTACH PARTITION without a bound")?)?;
                let partition = catalog
                    .table_mut(&child)
                    .ok_or_else(|| format!("{child} is attached to {name} as a partition before it is created"))?;
                partition.partition_of = Some(Partition { parent: name.clone(), bound });
            }
            AlterTableType::AtAddInherit => {
                let Some(NodeEnum::RangeVar(parent)) = cmd.def.as_ref().and_then(|d| d.node.as_ref()) else {
                    continue;
                };
                let parent = table_name(parent);
                let child = catalog.table_mut(&name).ok_or_else(|| format!("{name} inherits before it is created"))?;
                child.inherits.push(parent);
            }
            _ => {}
        }
    }
    Ok(())
}

fn column_mut<'a>(catalog: &'a mut Catalog, table: &TableName, column: &str) -> Option<&'a mut Column> {
    catalog.table_mut(table)?.columns.iter_mut().find(|c| c.name == column)
}

fn set_not_null(catalog: &mut Catalog, tables: &[TableName], columns: &[String]) {
    for table in tables {
        for column in columns {
            if let Some(column) = column_mut(catalog, table, column) {
                column.not_null = true;
            }
        }
    }
}

fn create_index(index: &protobuf::IndexStmt, catalog: &mut Catalog) -> Result<(), String> {
    let relation = index.relation.as_ref().ok_or("CREATE INDEX without a table")?;
    let mut columns = Vec::new();
    for param in &index.index_params {
        if let Some(NodeEnum::IndexElem(elem)) = param.node.as_ref() {
            if !elem.name.is_empty() {
                columns.push(elem.name.clone());
            } else if let Some(expr) = elem.expr.as_ref() {
                columns.push(expression_text(expr)?);
            }
        }
    }
    catalog.indexes.push(Index {
        name: index.idxname.clone(),
        table: table_name(relation),
        unique: index.unique,
        columns,
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::objects::ObjectKind;

    #[test]
    fn create_database_names_its_collation_as_postgresql_does() {
        let collation = |sql: &str| match apply(sql, &mut Catalog::default()).unwrap() {
            Parsed::Database { collation, .. } => collation,
            other => panic!("{other:?}"),
        };
        // As pg_dump 15-18 and older ones write the DATABASE entry.
        for (sql, expected) in [
            ("CREATE DATABASE d WITH TEMPLATE = template0 ENCODING = 'UTF8' LOCALE_PROVIDER = libc LOCALE = 'en_US.UTF-8';", Some("en_US.UTF-8")),
            ("CREATE DATABASE d WITH TEMPLATE = template0 ENCODING = 'UTF8' LOCALE_PROVIDER = icu LOCALE = 'en_US.UTF-8' ICU_LOCALE = 'en-US';", Some("en-US-x-icu")),
            ("CREATE DATABASE d WITH TEMPLATE = template0 ENCODING = 'UTF8' LC_COLLATE = 'de_DE.utf8' LC_CTYPE = 'de_DE.utf8';", Some("de_DE.utf8")),
            ("CREATE DATABASE d WITH TEMPLATE = template0 ENCODING = 'UTF8' LOCALE_PROVIDER = builtin LOCALE = 'C.UTF-8' BUILTIN_LOCALE = 'C.UTF-8';", Some("pg_c_utf8")),
            ("CREATE DATABASE d WITH TEMPLATE = template0 ENCODING = 'UTF8' LOCALE_PROVIDER = icu LOCALE = 'C' ICU_LOCALE = 'und' ICU_RULES = '&a < b';", Some("und-x-icu ICU_RULES '&a < b'")),
            ("CREATE DATABASE d WITH TEMPLATE = template0 ENCODING = 'UTF8';", None),
        ] {
            assert_eq!(collation(sql).as_deref(), expected, "{sql}");
        }
    }

    #[test]
    fn column_collations_are_read() {
        let mut catalog = Catalog::default();
        apply(
            r#"CREATE TABLE t (a text COLLATE pg_catalog."en-US-x-icu", b text, c text COLLATE public."mine", d text COLLATE "C");"#,
            &mut catalog,
        )
        .unwrap();
        let collations: Vec<Option<&str>> = catalog.tables[0].columns.iter().map(|c| c.collation.as_deref()).collect();
        assert_eq!(collations, [Some("en-US-x-icu"), None, Some("\"public\".\"mine\""), Some("C")]);
    }

    const DDL: &str = r#"
CREATE TABLE public.models (
    id uuid NOT NULL,
    model_id character varying(255),
    version character varying(100),
    version_status character varying(50) DEFAULT 'active'::character varying NOT NULL,
    tags text[],
    price numeric(12,2),
    created_at timestamp without time zone
);
CREATE TABLE public.variants (id serial PRIMARY KEY, service_id varchar REFERENCES public.services(service_id) ON DELETE CASCADE);
ALTER TABLE ONLY public.models ADD CONSTRAINT models_pkey PRIMARY KEY (id);
ALTER TABLE ONLY public.models ADD CONSTRAINT uq_model_id_version UNIQUE (model_id, version);
ALTER TABLE ONLY public.notes ADD CONSTRAINT notes_model_fkey FOREIGN KEY (model_row, model_id) REFERENCES public.models(id, model_id) ON DELETE SET NULL (model_row) DEFERRABLE INITIALLY DEFERRED;
CREATE INDEX idx_model_id_version ON public.models USING btree (model_id, version);
CREATE UNIQUE INDEX idx_lower ON public.models USING btree (lower((model_id)::text));
"#;

    #[test]
    fn ddl_builds_tables_constraints_and_indexes() {
        let mut catalog = Catalog::default();
        assert!(matches!(apply(DDL, &mut catalog), Ok(Parsed::Other)));
        let models = catalog.find_table("models").unwrap();
        let status = models.column("version_status").unwrap();
        assert_eq!(status.pg_type, "character varying(50)");
        assert!(status.not_null);
        assert_eq!(status.default.as_deref(), Some("'active'::varchar"));
        assert!(models.column("id").unwrap().not_null);
        assert_eq!(models.column("tags").unwrap().pg_type, "text[]");
        assert_eq!(models.column("price").unwrap().pg_type, "numeric(12,2)");

        let variants = catalog.find_table("variants").unwrap();
        assert_eq!(variants.column("id").unwrap().pg_type, "integer");
        let names: Vec<_> = catalog.constraints.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(
            names,
            ["variants_pkey", "variants_service_id_fkey", "models_pkey", "uq_model_id_version", "notes_model_fkey"]
        );
        let (_, fk) = catalog.foreign_keys().next().unwrap();
        assert_eq!(fk.on_delete, FkAction::Cascade);
        let (key, fk) = catalog.foreign_keys().nth(1).unwrap();
        assert_eq!(fk.on_delete, FkAction::SetNull);
        assert_eq!(fk.assigned(&key.columns).collect::<Vec<_>>(), ["model_row"]);
        assert!(fk.deferred);
        assert!(!catalog.foreign_keys().next().unwrap().1.deferred);
        assert_eq!(catalog.indexes[1].columns, ["lower(model_id::text)"]);
        assert!(catalog.indexes[1].unique);
    }

    #[test]
    fn copy_header_names_table_and_columns() {
        let mut catalog = Catalog::default();
        let parsed = apply(r#"COPY public."we""ird" (id, "Name") FROM stdin;"#, &mut catalog).unwrap();
        let Parsed::Copy(header) = parsed else { panic!("not a COPY") };
        assert_eq!(header.table, TableName::new("public", r#"we"ird"#));
        assert_eq!(header.columns, ["id", "Name"]);
    }

    fn columns(catalog: &Catalog, table: &str) -> Vec<(String, bool, Option<String>)> {
        let table = catalog.find_table(table).unwrap();
        table.columns.iter().map(|c| (c.name.clone(), c.not_null, c.default.clone())).collect()
    }

    fn column(name: &str, not_null: bool, default: Option<&str>) -> (String, bool, Option<String>) {
        (name.to_string(), not_null, default.map(str::to_string))
    }

    #[test]
    fn children_take_their_parents_columns_first_merging_repeated_names() {
        let mut catalog = Catalog::default();
        let ddl = r#"
CREATE TABLE public.vehicles (id integer NOT NULL, name text DEFAULT 'unnamed'::text NOT NULL, wheels integer);
CREATE TABLE public.tagged (tag text, wheels integer NOT NULL);
CREATE TABLE public.trucks (payload numeric, name text DEFAULT 'truck'::text) INHERITS (public.vehicles, public.tagged);
CREATE TABLE public.bare_trucks (
)
INHERITS (public.trucks);
ALTER TABLE public.vehicles ALTER COLUMN wheels SET DEFAULT 6;
ALTER TABLE ONLY public.trucks ALTER COLUMN payload SET NOT NULL;
"#;
        apply(ddl, &mut catalog).unwrap();
        let trucks = catalog.find_table("trucks").unwrap();
        assert_eq!(trucks.inherits, [TableName::new("public", "vehicles"), TableName::new("public", "tagged")]);
        assert_eq!(
            columns(&catalog, "trucks"),
            [
                column("id", true, None),
                column("name", true, Some("'truck'::text")),
                column("wheels", true, Some("6")),
                column("tag", false, None),
                column("payload", true, None),
            ]
        );
        // Created before trucks' payload became NOT NULL, with ONLY; reached by the default.
        assert_eq!(
            columns(&catalog, "bare_trucks"),
            [
                column("id", true, None),
                column("name", true, Some("'truck'::text")),
                column("wheels", true, Some("6")),
                column("tag", false, None),
                column("payload", false, None),
            ]
        );
        assert_eq!(catalog.find_table("bare_trucks").unwrap().inherits, [TableName::new("public", "trucks")]);
    }

    #[test]
    fn a_parent_must_come_before_its_children() {
        let mut catalog = Catalog::default();
        let error = apply("CREATE TABLE public.child (a int) INHERITS (public.missing);", &mut catalog).unwrap_err();
        assert!(error.contains("public.child descends from public.missing"), "{error}");
    }

    #[test]
    fn partitions_record_their_parent_and_bound_in_both_forms_pg_dump_writes() {
        let mut catalog = Catalog::default();
        let ddl = r#"
CREATE TABLE public.events (id bigint NOT NULL, at date NOT NULL, kind text) PARTITION BY RANGE (at);
CREATE TABLE public.events_2023 (id bigint NOT NULL, at date NOT NULL, kind text);
ALTER TABLE ONLY public.events ATTACH PARTITION public.events_2023 FOR VALUES FROM ('2023-01-01') TO ('2024-01-01');
CREATE TABLE public.events_old PARTITION OF public.events (kind WITH OPTIONS DEFAULT 'old'::text NOT NULL)
FOR VALUES FROM (MINVALUE) TO ('2023-01-01');
CREATE TABLE public.events_max PARTITION OF public.events FOR VALUES FROM ('2030-01-01') TO (MAXVALUE);
CREATE TABLE public.events_rest PARTITION OF public.events DEFAULT PARTITION BY LIST (kind);
CREATE TABLE public.events_rest_a PARTITION OF public.events_rest FOR VALUES IN ('a', 'b');
CREATE TABLE public.hashed (id int) PARTITION BY HASH (id);
CREATE TABLE public.hashed_0 PARTITION OF public.hashed FOR VALUES WITH (modulus 2, remainder 0);
"#;
        apply(ddl, &mut catalog).unwrap();
        let bound = |table: &str| {
            let partition = catalog.find_table(table).unwrap().partition_of.clone().unwrap();
            (partition.parent.name, partition.bound)
        };
        assert_eq!(bound("events_2023"), ("events".into(), "FOR VALUES FROM ('2023-01-01') TO ('2024-01-01')".into()));
        assert_eq!(bound("events_old"), ("events".into(), "FOR VALUES FROM (MINVALUE) TO ('2023-01-01')".into()));
        assert_eq!(bound("events_max"), ("events".into(), "FOR VALUES FROM ('2030-01-01') TO (MAXVALUE)".into()));
        assert_eq!(bound("events_rest"), ("events".into(), "DEFAULT".into()));
        assert_eq!(bound("events_rest_a"), ("events_rest".into(), "FOR VALUES IN ('a', 'b')".into()));
        assert_eq!(bound("hashed_0"), ("hashed".into(), "FOR VALUES WITH (MODULUS 2, REMAINDER 0)".into()));
        let key = |table: &str| catalog.find_table(table).unwrap().partitioned_by.clone();
        assert_eq!(key("events").as_deref(), Some("RANGE (at)"));
        assert_eq!(key("events_rest").as_deref(), Some("LIST (kind)"));
        assert_eq!(key("events_2023"), None);
        // A partition written as PARTITION OF takes its parent's columns and adds options.
        assert_eq!(
            columns(&catalog, "events_old"),
            [column("id", true, None), column("at", true, None), column("kind", true, Some("'old'::text"))]
        );
        assert!(catalog.find_table("events_2023").unwrap().inherits.is_empty());
    }

    #[test]
    fn typed_tables_take_their_types_attributes() {
        let mut catalog = Catalog::default();
        let ddl = r#"
CREATE TYPE public.person AS (
    name text,
    age integer
);
CREATE TABLE public.people OF public.person (
    age WITH OPTIONS DEFAULT 0 NOT NULL
);
"#;
        apply(ddl, &mut catalog).unwrap();
        assert_eq!(columns(&catalog, "people"), [column("name", false, None), column("age", true, Some("0"))]);
        assert_eq!(catalog.find_table("people").unwrap().columns[1].pg_type, "integer");
        let error = apply("CREATE TABLE public.t OF public.missing;", &mut catalog).unwrap_err();
        assert!(error.contains("public.t is of type public.missing, which is not created before it"), "{error}");
    }

    #[test]
    fn create_extension_is_reported() {
        let mut catalog = Catalog::default();
        let parsed = apply("CREATE EXTENSION IF NOT EXISTS postgis WITH SCHEMA public;", &mut catalog).unwrap();
        assert!(matches!(parsed, Parsed::Extension(name) if name == "postgis"));
    }

    /// What pg_dump 15 writes for the objects the rollback can run into.
    const OBJECTS: &str = r#"
CREATE TABLE public.models (
    id uuid NOT NULL,
    model_id character varying(255),
    version character varying(100),
    version_status character varying(50) DEFAULT 'active'::character varying NOT NULL,
    is_published boolean,
    is_active boolean GENERATED ALWAYS AS (((version_status)::text = 'active'::text)) STORED,
    CONSTRAINT models_status_present CHECK ((length((version_status)::text) <= 50)),
    CONSTRAINT uq_model_id_version UNIQUE (model_id, version)
);
CREATE TABLE public.services (id uuid NOT NULL, model_id character varying(255), model_version character varying(100));
CREATE TABLE public.model_deletions (model_row_id uuid, status text);
CREATE VIEW public.active_models AS
 SELECT m.id,
    m.model_id
   FROM public.models m
  WHERE ((m.version_status)::text = 'active'::text);
CREATE VIEW public.pins AS
 SELECT s.id, x.name FROM (public.services s
     JOIN LATERAL ( SELECT models.model_id AS name FROM public.models WHERE ((models.model_id)::text = (s.model_id)::text)) x ON (true))
  WHERE (EXISTS ( SELECT 1 FROM public.models mm WHERE ((mm.version)::text = (s.model_version)::text)));
CREATE VIEW public.unqualified AS
 WITH recent AS (SELECT version_status AS st FROM public.models)
 SELECT st FROM recent;
CREATE VIEW public.joined AS SELECT model_id FROM public.models JOIN public.services USING (model_id);
CREATE MATERIALIZED VIEW public.service_pins AS
 SELECT s.model_version FROM public.services s
  WITH NO DATA;
CREATE RULE log_model_delete AS
    ON DELETE TO public.models DO  INSERT INTO public.model_deletions (model_row_id, status)
  VALUES (old.id, old.version_status);
CREATE POLICY active_only ON public.models FOR SELECT USING (((version_status)::text = 'active'::text));
CREATE INDEX idx_models_active ON public.models USING btree (model_id) WHERE ((version_status)::text = 'active'::text);
CREATE UNIQUE INDEX idx_lower_version ON public.models USING btree (lower((version)::text));
CREATE STATISTICS public.models_status_stats (dependencies) ON model_id, version_status FROM public.models;
CREATE TRIGGER models_audit AFTER DELETE ON public.models FOR EACH ROW WHEN (old.is_published) EXECUTE FUNCTION public.rehearse_audit();
CREATE TRIGGER services_pin AFTER UPDATE OF model_version ON public.services FOR EACH ROW EXECUTE FUNCTION public.rehearse_audit();
ALTER TABLE public.services DISABLE TRIGGER services_pin;
ALTER TABLE ONLY public.services ADD CONSTRAINT services_model_fkey FOREIGN KEY (model_id, model_version) REFERENCES public.models(model_id, version);
"#;

    fn uses(catalog: &Catalog, kind: ObjectKind, name: &str) -> Vec<String> {
        let object = catalog.objects.objects.iter().find(|o| o.kind == kind && o.name == name).unwrap();
        object.uses.iter().map(|c| format!("{}.{}", c.table.name, c.column)).collect()
    }

    #[test]
    fn schema_objects_record_the_columns_they_use() {
        let mut catalog = Catalog::default();
        apply(OBJECTS, &mut catalog).unwrap();
        assert_eq!(
            uses(&catalog, ObjectKind::View, "active_models"),
            ["models.id", "models.model_id", "models.version_status"]
        );
        assert_eq!(
            uses(&catalog, ObjectKind::View, "pins"),
            ["models.model_id", "models.version", "services.id", "services.model_id", "services.model_version"]
        );
        assert_eq!(uses(&catalog, ObjectKind::View, "unqualified"), ["models.version_status"]);
        assert_eq!(uses(&catalog, ObjectKind::View, "joined"), ["models.model_id", "services.model_id"]);
        assert_eq!(uses(&catalog, ObjectKind::MaterializedView, "service_pins"), ["services.model_version"]);
        assert_eq!(
            uses(&catalog, ObjectKind::Rule, "log_model_delete"),
            ["model_deletions.model_row_id", "model_deletions.status", "models.id", "models.version_status"]
        );
        assert_eq!(uses(&catalog, ObjectKind::Policy, "active_only"), ["models.version_status"]);
        assert_eq!(uses(&catalog, ObjectKind::GeneratedColumn, "is_active"), ["models.version_status"]);
        assert_eq!(uses(&catalog, ObjectKind::Constraint, "models_status_present"), ["models.version_status"]);
        assert_eq!(
            uses(&catalog, ObjectKind::Index, "idx_models_active"),
            ["models.model_id", "models.version_status"]
        );
        assert_eq!(
            uses(&catalog, ObjectKind::Statistics, "models_status_stats"),
            ["models.model_id", "models.version_status"]
        );
        assert_eq!(
            uses(&catalog, ObjectKind::Constraint, "services_model_fkey"),
            ["services.model_id", "services.model_version"]
        );

        let key = |name: &str| catalog.objects.objects.iter().find(|o| o.name == name).unwrap().unique_key.clone();
        assert_eq!(key("uq_model_id_version"), Some(vec!["model_id".to_string(), "version".to_string()]));
        assert_eq!(key("idx_lower_version"), None, "an expression index cannot back a foreign key");
        assert_eq!(key("idx_models_active"), None);

        let definition =
            &catalog.objects.find(ObjectKind::Constraint, "public", "models_status_present").unwrap().definition;
        assert!(
            definition.starts_with("ALTER TABLE ONLY public.models ADD CONSTRAINT models_status_present CHECK"),
            "{definition}"
        );
        let view = &catalog.objects.find(ObjectKind::View, "public", "active_models").unwrap().definition;
        assert!(
            view.starts_with("CREATE VIEW public.active_models AS") && view.ends_with("'active'::text);"),
            "{view}"
        );

        let audit = &catalog.objects.triggers[0];
        assert_eq!(audit.shape(), "AFTER DELETE FOR EACH ROW");
        assert_eq!(audit.when.as_deref(), Some("old.is_published"));
        assert!(audit.enabled && audit.uses.iter().map(|c| c.column.as_str()).eq(["is_published"]));
        let pin = &catalog.objects.triggers[1];
        assert_eq!(pin.shape(), "AFTER UPDATE OF model_version FOR EACH ROW");
        assert!(!pin.enabled, "DISABLE TRIGGER is read");
        assert_eq!(pin.function, "public.rehearse_audit");
    }

    #[test]
    fn syntax_errors_are_reported() {
        let mut catalog = Catalog::default();
        assert!(apply("CREATE TABLE (", &mut catalog).is_err());
    }
}
