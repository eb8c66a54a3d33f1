//! DDL → the catalog's schema objects (`catalog::objects`): views, materialized views, rules,
//! policies, generated columns, indexes, constraints, extended statistics and triggers, each
//! with the columns it uses (resolved by `refs`) and its definition.

use super::refs::{expression_uses, json_of, query_uses};
use super::{constraint_of, expression_text, parser_version, string_of, table_name};
use crate::catalog::objects::{ColumnOf, Event, InsteadRule, ObjectKind, RowSecurity, SchemaObject, Timing, Trigger};
use crate::catalog::{Catalog, TableName};
use crate::pgtype::format_type;
use pg_query::protobuf::{self, AlterTableType, CmdType, ConstrType, FunctionParameterMode, ObjectType};
use pg_query::NodeEnum;
use std::collections::BTreeSet;

/// `pg_trigger.tgtype` bits, as CREATE TRIGGER's parse tree carries them.
const TRIGGER_ROW: i32 = 1;
const TRIGGER_BEFORE: i32 = 1 << 1;
const TRIGGER_INSERT: i32 = 1 << 2;
const TRIGGER_DELETE: i32 = 1 << 3;
const TRIGGER_UPDATE: i32 = 1 << 4;
const TRIGGER_TRUNCATE: i32 = 1 << 5;
const TRIGGER_INSTEAD: i32 = 1 << 6;

fn object(kind: ObjectKind, name: &TableName, table: Option<&TableName>, definition: &str) -> SchemaObject {
    SchemaObject {
        kind,
        schema: name.schema.clone(),
        name: name.name.clone(),
        table: table.cloned(),
        uses: Vec::new(),
        unique_key: None,
        owns_index: false,
        definition: definition.to_string(),
    }
}

fn columns(table: &TableName, names: impl IntoIterator<Item = String>) -> Vec<ColumnOf> {
    let set: BTreeSet<ColumnOf> = names.into_iter().map(|n| ColumnOf::new(table, &n)).collect();
    set.into_iter().collect()
}

fn merged(mut a: Vec<ColumnOf>, b: Vec<ColumnOf>) -> Vec<ColumnOf> {
    a.extend(b);
    a.sort();
    a.dedup();
    a
}

fn json_parts(nodes: &[Option<&protobuf::Node>]) -> Vec<serde_json::Value> {
    nodes.iter().flatten().map(|n| json_of(n)).collect()
}

fn uses_of(catalog: &Catalog, table: &TableName, aliases: &[&str], nodes: &[Option<&protobuf::Node>]) -> Vec<ColumnOf> {
    let parts = json_parts(nodes);
    expression_uses(catalog, table, aliases, &parts.iter().collect::<Vec<_>>())
}

/// Generated columns and table constraints declared inside CREATE TABLE (the table is in the
/// catalog already).
pub fn create_table(create: &protobuf::CreateStmt, catalog: &mut Catalog) -> Result<(), String> {
    let Some(relation) = create.relation.as_ref() else { return Ok(()) };
    let table = table_name(relation);
    let mut built = Vec::new();
    for element in &create.table_elts {
        match element.node.as_ref() {
            Some(NodeEnum::ColumnDef(def)) => {
                for c in &def.constraints {
                    let Some(NodeEnum::Constraint(c)) = c.node.as_ref() else { continue };
                    if c.contype() == ConstrType::ConstrGenerated {
                        built.push(generated_column(catalog, &table, def, c)?);
                    } else if let Some(o) = constraint(catalog, &table, c, Some(&def.colname))? {
                        built.push(o);
                    }
                }
            }
            Some(NodeEnum::Constraint(c)) => built.extend(constraint(catalog, &table, c, None)?),
            _ => {}
        }
    }
    built.into_iter().for_each(|o| catalog.objects.put(o));
    Ok(())
}

fn generated_column(
    catalog: &Catalog,
    table: &TableName,
    def: &protobuf::ColumnDef,
    c: &protobuf::Constraint,
) -> Result<SchemaObject, String> {
    let expr = c.raw_expr.as_deref().ok_or("GENERATED without an expression")?;
    let pg_type = catalog.table(table).and_then(|t| t.column(&def.colname)).map_or("", |c| c.pg_type.as_str());
    let kind = if c.generated_kind == "v" { "VIRTUAL" } else { "STORED" };
    let definition = format!("{} {pg_type} GENERATED ALWAYS AS ({}) {kind}", def.colname, expression_text(expr)?);
    let mut o =
        object(ObjectKind::GeneratedColumn, &TableName::new(&table.schema, &def.colname), Some(table), &definition);
    o.uses = uses_of(catalog, table, &[], &[Some(expr)]);
    Ok(o)
}

/// A constraint as a schema object, named as the catalog names it.
fn constraint(
    catalog: &Catalog,
    table: &TableName,
    c: &protobuf::Constraint,
    column: Option<&str>,
) -> Result<Option<SchemaObject>, String> {
    let own = |keys: &[protobuf::Node]| -> Vec<String> {
        match column {
            Some(column) if keys.is_empty() => vec![column.to_string()],
            _ => keys.iter().filter_map(string_of).collect(),
        }
    };
    let name = match constraint_of(c, table, column)? {
        Some(built) => built.name,
        None if c.contype() == ConstrType::ConstrExclusion => {
            if c.conname.is_empty() {
                format!("{}_excl", table.name)
            } else {
                c.conname.clone()
            }
        }
        None => return Ok(None),
    };
    let (uses, unique_key) = match c.contype() {
        ConstrType::ConstrPrimary | ConstrType::ConstrUnique => {
            let keys = own(&c.keys);
            let all = keys.iter().cloned().chain(c.including.iter().filter_map(string_of));
            (columns(table, all), (!c.deferrable).then_some(keys))
        }
        ConstrType::ConstrForeign => (columns(table, own(&c.fk_attrs)), None),
        ConstrType::ConstrCheck => {
            let own_column = columns(table, column.map(str::to_string));
            (merged(own_column, uses_of(catalog, table, &[], &[c.raw_expr.as_deref()])), None)
        }
        ConstrType::ConstrExclusion => {
            let mut uses = Vec::new();
            for exclusion in &c.exclusions {
                let Some(NodeEnum::List(pair)) = exclusion.node.as_ref() else { continue };
                if let Some(NodeEnum::IndexElem(elem)) = pair.items.first().and_then(|n| n.node.as_ref()) {
                    uses = merged(uses, index_elem_uses(catalog, table, elem));
                }
            }
            (merged(uses, uses_of(catalog, table, &[], &[c.where_clause.as_deref()])), None)
        }
        _ => return Ok(None),
    };
    let mut o = object(
        ObjectKind::Constraint,
        &TableName::new(&table.schema, &name),
        Some(table),
        &constraint_definition(table, c, &name, column)?,
    );
    o.uses = uses;
    o.unique_key = unique_key;
    o.owns_index =
        matches!(c.contype(), ConstrType::ConstrPrimary | ConstrType::ConstrUnique | ConstrType::ConstrExclusion);
    Ok(Some(o))
}

/// `ALTER TABLE ONLY t ADD CONSTRAINT name …`, deparsed: a column constraint written as the
/// equivalent table constraint.
fn constraint_definition(
    table: &TableName,
    c: &protobuf::Constraint,
    name: &str,
    column: Option<&str>,
) -> Result<String, String> {
    let mut c = c.clone();
    c.conname = name.to_string();
    if let Some(column) = column {
        let node = protobuf::Node { node: Some(NodeEnum::String(protobuf::String { sval: column.to_string() })) };
        match c.contype() {
            ConstrType::ConstrPrimary | ConstrType::ConstrUnique if c.keys.is_empty() => c.keys = vec![node],
            ConstrType::ConstrForeign if c.fk_attrs.is_empty() => c.fk_attrs = vec![node],
            _ => {}
        }
    }
    let cmd = protobuf::AlterTableCmd {
        subtype: AlterTableType::AtAddConstraint as i32,
        def: Some(Box::new(protobuf::Node { node: Some(NodeEnum::Constraint(Box::new(c))) })),
        behavior: protobuf::DropBehavior::DropRestrict as i32,
        ..Default::default()
    };
    let stmt = protobuf::AlterTableStmt {
        relation: Some(protobuf::RangeVar {
            schemaname: table.schema.clone(),
            relname: table.name.clone(),
            relpersistence: "p".into(),
            ..Default::default()
        }),
        cmds: vec![protobuf::Node { node: Some(NodeEnum::AlterTableCmd(Box::new(cmd))) }],
        objtype: ObjectType::ObjectTable as i32,
        missing_ok: false,
    };
    let tree = protobuf::ParseResult {
        version: parser_version()?,
        stmts: vec![protobuf::RawStmt {
            stmt: Some(Box::new(protobuf::Node { node: Some(NodeEnum::AlterTableStmt(stmt)) })),
            stmt_location: 0,
            stmt_len: 0,
        }],
    };
    Ok(format!("{};", pg_query::deparse(&tree, Default::default()).map_err(|e| e.to_string())?))
}

fn index_elem_uses(catalog: &Catalog, table: &TableName, elem: &protobuf::IndexElem) -> Vec<ColumnOf> {
    if !elem.name.is_empty() {
        return vec![ColumnOf::new(table, &elem.name)];
    }
    uses_of(catalog, table, &[], &[elem.expr.as_deref()])
}

/// Constraints added by ALTER TABLE, and triggers enabled or disabled.
pub fn alter_table(alter: &protobuf::AlterTableStmt, catalog: &mut Catalog) -> Result<(), String> {
    let Some(relation) = alter.relation.as_ref() else { return Ok(()) };
    let table = table_name(relation);
    for cmd in &alter.cmds {
        let Some(NodeEnum::AlterTableCmd(cmd)) = cmd.node.as_ref() else { continue };
        let enable = |catalog: &mut Catalog, name: Option<&str>, enabled: bool| {
            for trigger in catalog.objects.triggers.iter_mut().filter(|t| t.table == table) {
                if name.is_none_or(|n| n == trigger.name) {
                    trigger.enabled = enabled;
                }
            }
        };
        match cmd.subtype() {
            AlterTableType::AtAddConstraint => {
                let Some(NodeEnum::Constraint(c)) = cmd.def.as_ref().and_then(|d| d.node.as_ref()) else { continue };
                if let Some(o) = constraint(catalog, &table, c, None)? {
                    catalog.objects.put(o);
                }
            }
            AlterTableType::AtEnableTrig | AlterTableType::AtEnableAlwaysTrig => enable(catalog, Some(&cmd.name), true),
            // A REPLICA trigger fires only under session_replication_role = replica.
            AlterTableType::AtDisableTrig | AlterTableType::AtEnableReplicaTrig => {
                enable(catalog, Some(&cmd.name), false)
            }
            AlterTableType::AtEnableTrigAll | AlterTableType::AtEnableTrigUser => enable(catalog, None, true),
            AlterTableType::AtDisableTrigAll | AlterTableType::AtDisableTrigUser => enable(catalog, None, false),
            subtype @ (AlterTableType::AtEnableRowSecurity
            | AlterTableType::AtDisableRowSecurity
            | AlterTableType::AtForceRowSecurity
            | AlterTableType::AtNoForceRowSecurity) => {
                let all = &mut catalog.objects.row_security;
                let at = match all.iter().position(|r| r.table == table) {
                    Some(at) => at,
                    None => {
                        all.push(RowSecurity { table: table.clone(), enabled: false, forced: false });
                        all.len() - 1
                    }
                };
                match subtype {
                    AlterTableType::AtEnableRowSecurity => all[at].enabled = true,
                    AlterTableType::AtDisableRowSecurity => all[at].enabled = false,
                    AlterTableType::AtForceRowSecurity => all[at].forced = true,
                    _ => all[at].forced = false,
                }
            }
            _ => {}
        }
    }
    Ok(())
}

pub fn index(index: &protobuf::IndexStmt, text: &str, catalog: &mut Catalog) -> Result<(), String> {
    let relation = index.relation.as_ref().ok_or("CREATE INDEX without a table")?;
    let table = table_name(relation);
    let mut uses = Vec::new();
    for param in index.index_params.iter().chain(&index.index_including_params) {
        if let Some(NodeEnum::IndexElem(elem)) = param.node.as_ref() {
            uses = merged(uses, index_elem_uses(catalog, &table, elem));
        }
    }
    uses = merged(uses, uses_of(catalog, &table, &[], &[index.where_clause.as_deref()]));
    // A foreign key can rely on a unique index of plain columns without a predicate.
    let keys: Option<Vec<String>> = index
        .index_params
        .iter()
        .map(|param| match param.node.as_ref() {
            Some(NodeEnum::IndexElem(elem)) if !elem.name.is_empty() => Some(elem.name.clone()),
            _ => None,
        })
        .collect();
    let usable = index.unique && index.where_clause.is_none() && !index.deferrable;
    let mut o = object(ObjectKind::Index, &TableName::new(&table.schema, &index.idxname), Some(&table), text);
    o.uses = uses;
    o.unique_key = keys.filter(|_| usable);
    catalog.objects.put(o);
    Ok(())
}

pub fn view(view: &protobuf::ViewStmt, text: &str, catalog: &mut Catalog) -> Result<(), String> {
    let name = table_name(view.view.as_ref().ok_or("CREATE VIEW without a name")?);
    let query = view.query.as_deref().ok_or("CREATE VIEW without a query")?;
    let mut o = object(ObjectKind::View, &name, None, text);
    o.uses = query_uses(catalog, &json_of(query));
    catalog.objects.put(o);
    Ok(())
}

pub fn materialized_view(ctas: &protobuf::CreateTableAsStmt, text: &str, catalog: &mut Catalog) -> Result<(), String> {
    if ctas.objtype() != ObjectType::ObjectMatview {
        return Ok(());
    }
    let into = ctas.into.as_ref().and_then(|i| i.rel.as_ref()).ok_or("CREATE MATERIALIZED VIEW without a name")?;
    let query = ctas.query.as_deref().ok_or("CREATE MATERIALIZED VIEW without a query")?;
    let mut o = object(ObjectKind::MaterializedView, &table_name(into), None, text);
    o.uses = query_uses(catalog, &json_of(query));
    catalog.objects.put(o);
    Ok(())
}

/// A rule; `_RETURN` (a view that pg_dump wrote as a table plus its SELECT rule) is the view.
pub fn rule(rule: &protobuf::RuleStmt, text: &str, catalog: &mut Catalog) -> Result<(), String> {
    let table = table_name(rule.relation.as_ref().ok_or("CREATE RULE without a table")?);
    let mut parts: Vec<Option<&protobuf::Node>> = vec![rule.where_clause.as_deref()];
    parts.extend(rule.actions.iter().map(Some));
    let uses = uses_of(catalog, &table, &["old", "new"], &parts);
    let mut o = if rule.rulename == "_RETURN" && rule.event() == CmdType::CmdSelect {
        object(ObjectKind::View, &table, None, text)
    } else {
        object(ObjectKind::Rule, &TableName::new(&table.schema, &rule.rulename), Some(&table), text)
    };
    o.uses = uses;
    catalog.objects.put(o);
    let event = match rule.event() {
        CmdType::CmdDelete => Some(Event::Delete),
        CmdType::CmdUpdate => Some(Event::Update),
        _ => None,
    };
    if let Some(event) = event.filter(|_| rule.instead) {
        let name = rule.rulename.clone();
        catalog.objects.instead_rules.retain(|r| !(r.name == name && r.table == table));
        catalog.objects.instead_rules.push(InsteadRule { name, table, event, definition: text.to_string() });
    }
    Ok(())
}

pub fn policy(policy: &protobuf::CreatePolicyStmt, text: &str, catalog: &mut Catalog) -> Result<(), String> {
    let table = table_name(policy.table.as_ref().ok_or("CREATE POLICY without a table")?);
    let mut o = object(ObjectKind::Policy, &TableName::new(&table.schema, &policy.policy_name), Some(&table), text);
    o.uses = uses_of(catalog, &table, &[], &[policy.qual.as_deref(), policy.with_check.as_deref()]);
    catalog.objects.put(o);
    Ok(())
}

/// A function or procedure whose body is SQL-standard (`BEGIN ATOMIC … END` or `RETURN …`):
/// PostgreSQL records the columns its body uses as dependencies, as it does for a view. (A body
/// in a string, `AS $$ … $$`, is not parsed until it runs, and depends on nothing.)
pub fn function(function: &protobuf::CreateFunctionStmt, text: &str, catalog: &mut Catalog) -> Result<(), String> {
    let Some(body) = function.sql_body.as_deref() else { return Ok(()) };
    let names: Vec<String> = function.funcname.iter().filter_map(string_of).collect();
    let Some(name) = names.last() else { return Ok(()) };
    let schema = if names.len() > 1 { names[0].as_str() } else { "public" };
    // Its identity as PostgreSQL's messages print it: the input argument types, without
    // modifiers, joined by bare commas.
    let arguments: Vec<String> = function
        .parameters
        .iter()
        .filter_map(|p| match p.node.as_ref() {
            Some(NodeEnum::FunctionParameter(p))
                if !matches!(p.mode(), FunctionParameterMode::FuncParamOut | FunctionParameterMode::FuncParamTable) =>
            {
                p.arg_type.as_ref()
            }
            _ => None,
        })
        .map(|t| {
            format_type(&t.names.iter().filter_map(string_of).collect::<Vec<_>>(), &[], !t.array_bounds.is_empty())
        })
        .collect();
    let identity = TableName::new(schema, &format!("{name}({})", arguments.join(",")));
    let mut o = object(ObjectKind::Function, &identity, None, text);
    o.uses = query_uses(catalog, &json_of(body));
    catalog.objects.put(o);
    Ok(())
}

pub fn statistics(stats: &protobuf::CreateStatsStmt, text: &str, catalog: &mut Catalog) -> Result<(), String> {
    let names: Vec<String> = stats.defnames.iter().filter_map(string_of).collect();
    let Some(NodeEnum::RangeVar(relation)) = stats.relations.first().and_then(|r| r.node.as_ref()) else {
        return Ok(());
    };
    let table = table_name(relation);
    let name = match names.as_slice() {
        [schema, name] => TableName::new(schema, name),
        [.., name] => TableName::new(&table.schema, name),
        [] => TableName::new(&table.schema, &format!("{}_stat", table.name)),
    };
    let mut uses = Vec::new();
    for expr in &stats.exprs {
        let Some(NodeEnum::StatsElem(elem)) = expr.node.as_ref() else { continue };
        if !elem.name.is_empty() {
            uses.push(ColumnOf::new(&table, &elem.name));
        } else {
            uses = merged(uses, uses_of(catalog, &table, &[], &[elem.expr.as_deref()]));
        }
    }
    let mut o = object(ObjectKind::Statistics, &name, Some(&table), text);
    o.uses = merged(uses, Vec::new());
    catalog.objects.put(o);
    Ok(())
}

pub fn trigger(trigger: &protobuf::CreateTrigStmt, text: &str, catalog: &mut Catalog) -> Result<(), String> {
    let table = table_name(trigger.relation.as_ref().ok_or("CREATE TRIGGER without a table")?);
    let timing = match trigger.timing {
        t if t & TRIGGER_INSTEAD != 0 => Timing::InsteadOf,
        t if t & TRIGGER_BEFORE != 0 => Timing::Before,
        _ => Timing::After,
    };
    let events: Vec<Event> = [
        (TRIGGER_INSERT, Event::Insert),
        (TRIGGER_UPDATE, Event::Update),
        (TRIGGER_DELETE, Event::Delete),
        (TRIGGER_TRUNCATE, Event::Truncate),
    ]
    .into_iter()
    .filter(|(bit, _)| trigger.events & bit != 0)
    .map(|(_, event)| event)
    .collect();
    let update_columns: Vec<String> = trigger.columns.iter().filter_map(string_of).collect();
    let when = trigger.when_clause.as_deref();
    let uses =
        merged(columns(&table, update_columns.iter().cloned()), uses_of(catalog, &table, &["old", "new"], &[when]));
    let built = Trigger {
        name: trigger.trigname.clone(),
        table: table.clone(),
        timing,
        events,
        update_columns,
        for_each_row: trigger.row || trigger.isconstraint || trigger.timing & TRIGGER_ROW != 0,
        function: trigger.funcname.iter().filter_map(string_of).collect::<Vec<_>>().join("."),
        when: when.map(expression_text).transpose()?,
        uses,
        enabled: true,
        definition: text.to_string(),
    };
    let triggers = &mut catalog.objects.triggers;
    match triggers.iter_mut().find(|t| t.table == table && t.name == built.name) {
        Some(existing) => *existing = built,
        None => triggers.push(built),
    }
    Ok(())
}
