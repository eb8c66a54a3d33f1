//! 04_restore_version.sql: `rehearse_restore_version(model_id, version, preview)` swaps the
//! current row of a model_id for a version kept by 01_backup.sql, and loses nothing doing it.
//! The tables and foreign keys are the run's catalog, known here, so every step is static SQL:
//! 1. it finds what the DELETE of the current row reaches (CASCADE at any depth, SET NULL/DEFAULT,
//!    RESTRICT/NO ACTION, which refuses with nothing changed) and what the backup holds of the
//!    restored version's own dependents at any depth;
//! 2. it names every one of those rows in a NOTICE, and what cannot come back (`preview` stops here);
//! 3. it copies the rows it displaces, complete, into the backup tables (`<table>_rehearse_backup`,
//!    by key), so that restoring the replaced version brings them back;
//! 4. it deletes the current row, checks that exactly the named rows went, and inserts the restored
//!    rows, parents first. All of it in the caller's transaction: an error changes nothing.

use super::Context;
use crate::catalog::{quote_ident, Catalog, FkAction, FkEdge, TableName};
use crate::emit::check::dollar_quote;
use crate::spec::rehearse_backup;
use crate::sql::literal;
use std::collections::BTreeSet;
use std::fmt::Write;

/// The function's signature, as DROP FUNCTION names it.
pub const SIGNATURE: &str = "rehearse_restore_version(text, text, boolean)";

/// A table whose rows a restore can delete, change or bring back.
struct Reached {
    name: TableName,
    backup: TableName,
    /// The columns after the rollback (the dropped version columns left out).
    columns: Vec<String>,
    /// The columns an INSERT writes: generated ones are computed by PostgreSQL.
    insertable: Vec<String>,
    /// The primary key; without one a row is told apart by all its columns.
    key: Option<Vec<String>>,
}

impl Reached {
    fn key_columns(&self) -> &[String] {
        self.key.as_deref().unwrap_or(&self.columns)
    }

    /// Rows `a` and `b` are the same row: equal keys (or equal text of every column).
    fn same(&self, a: &str, b: &str) -> String {
        let parts: Vec<String> = match &self.key {
            Some(key) => key.iter().map(|c| format!("{a}.{0} = {b}.{0}", quote_ident(c))).collect(),
            None => self
                .columns
                .iter()
                .map(|c| format!("{a}.{0}::text IS NOT DISTINCT FROM {b}.{0}::text", quote_ident(c)))
                .collect(),
        };
        parts.join(" AND ")
    }

    /// The row's key as text, `id=…, day=…`, for the NOTICEs.
    fn key_text(&self, alias: &str) -> String {
        let parts: Vec<String> = self
            .key_columns()
            .iter()
            .map(|c| format!("{} || coalesce({alias}.{}::text, 'NULL')", literal(&format!("{c}=")), quote_ident(c)))
            .collect();
        format!("concat_ws(', ', {})", parts.join(", "))
    }

    fn list(&self, alias: &str) -> String {
        list(alias, &self.columns)
    }

    fn label(&self) -> String {
        literal(&self.name.to_string())
    }
}

fn list(alias: &str, columns: &[String]) -> String {
    let columns: Vec<String> = columns.iter().map(|c| format!("{alias}.{}", quote_ident(c))).collect();
    columns.join(", ")
}

/// Text safe inside a RAISE format string, where `%` is a placeholder.
fn raise_text(text: &str) -> String {
    text.replace('\'', "''").replace('%', "%%")
}

/// The tables reached from models through the catalog's foreign keys, referenced tables before
/// referencing ones, and the keys between them.
struct Graph<'c> {
    tables: Vec<Reached>,
    edges: Vec<FkEdge<'c>>,
    /// A cycle of keys (a table referencing itself included): the walks repeat to a fixpoint.
    cyclic: bool,
}

impl<'c> Graph<'c> {
    fn new(ctx: &Context<'c>) -> Self {
        let drop = &ctx.spec.drop;
        let dropped = [(&ctx.models.name, &drop.models_columns[..]), (&ctx.services.name, &drop.services_columns[..])];
        Self::reached(ctx.catalog, &ctx.models.name, &dropped)
    }

    /// The graph from `models`; `dropped` names the columns the rollback drops, per table.
    fn reached(catalog: &'c Catalog, models: &TableName, dropped: &[(&TableName, &[String])]) -> Self {
        let mut remaining = catalog.reached_from(std::slice::from_ref(models));
        let set: BTreeSet<TableName> = remaining.iter().cloned().collect();
        let edges = catalog.fk_edges(&set);
        let mut order = Vec::new();
        while let Some(ready) = remaining
            .iter()
            .position(|t| !edges.iter().any(|e| e.child == *t && e.parent != *t && remaining.contains(&e.parent)))
        {
            order.push(remaining.remove(ready));
        }
        let cyclic = !remaining.is_empty() || edges.iter().any(|e| e.child == e.parent);
        order.extend(remaining);
        let tables = order
            .into_iter()
            .filter_map(|name| {
                let table = catalog.table(&name)?;
                let gone: &[String] = dropped.iter().find(|(t, _)| **t == name).map_or(&[], |(_, c)| c);
                let live: Vec<_> = table.columns.iter().filter(|c| !gone.contains(&c.name)).collect();
                Some(Reached {
                    backup: rehearse_backup(&name),
                    columns: live.iter().map(|c| c.name.clone()).collect(),
                    insertable: live.iter().filter(|c| c.generated.is_none()).map(|c| c.name.clone()).collect(),
                    key: catalog.primary_key(&name).map(<[String]>::to_vec),
                    name,
                })
            })
            .collect();
        Graph { tables, edges, cyclic }
    }

    fn index(&self, table: &TableName) -> usize {
        self.tables.iter().position(|t| t.name == *table).expect("every edge joins reached tables")
    }

    /// The edges whose delete action is one of `actions`, in the order of their child tables.
    fn edges_with(&self, actions: &[FkAction]) -> Vec<(usize, &FkEdge<'c>)> {
        let mut edges: Vec<(usize, &FkEdge)> =
            self.edges.iter().enumerate().filter(|(_, e)| actions.contains(&e.fk.on_delete)).collect();
        edges.sort_by_key(|(_, e)| self.index(&e.child));
        edges
    }
}

const NULLING: [FkAction; 2] = [FkAction::SetNull, FkAction::SetDefault];
const BLOCKING: [FkAction; 2] = [FkAction::Restrict, FkAction::NoAction];

fn displaced(i: usize) -> String {
    format!("rehearse_displaced_{i}")
}

fn nulled(i: usize) -> String {
    format!("rehearse_nulled_{i}")
}

fn restored(i: usize) -> String {
    format!("rehearse_restored_{i}")
}

fn repointed(e: usize) -> String {
    format!("rehearse_repointed_{e}")
}

/// The key columns a SET NULL / SET DEFAULT key assigns (`SET NULL (col, …)` names some).
fn assigned<'e>(edge: &'e FkEdge) -> Vec<&'e String> {
    edge.fk.assigned(&edge.constraint.columns).collect()
}

/// `SET col = x.col, …` for the assigned columns only: the others kept their values.
fn point_back(edge: &FkEdge, alias: &str) -> String {
    let set: Vec<String> = assigned(edge).into_iter().map(|c| format!("{0} = {alias}.{0}", quote_ident(c))).collect();
    set.join(", ")
}

/// What a SET NULL / SET DEFAULT key leaves in the child row's assigned columns (alias `l`).
fn detached(catalog: &Catalog, edge: &FkEdge, alias: &str) -> String {
    let parts: Vec<String> = edge
        .fk
        .assigned_values(&edge.constraint.columns, catalog.table(&edge.child))
        .map(|(c, value)| format!("{alias}.{} IS NOT DISTINCT FROM ({})", quote_ident(c), value.unwrap_or("NULL")))
        .collect();
    parts.join(" AND ")
}

/// The backup tables that a restore makes for displaced rows of tables the rollback left alone.
pub fn backups_it_may_create(ctx: &Context) -> Vec<TableName> {
    let affected: Vec<TableName> = ctx.affected().iter().map(|t| rehearse_backup(&t.name)).collect();
    Graph::new(ctx).tables.into_iter().map(|t| t.backup).filter(|b| !affected.contains(b)).collect()
}

/// Comment lines for the script's header: what the DELETE of a current row can reach.
pub fn reach_comment(ctx: &Context) -> String {
    let graph = Graph::new(ctx);
    let mut out =
        String::from("-- Replacing the current row deletes it; through the dump's foreign keys that reaches:\n");
    if graph.edges.is_empty() {
        out.push_str("--   no other table.\n");
    }
    for edge in &graph.edges {
        let _ = writeln!(
            out,
            "--   {} ({}) -> {}: ON DELETE {}",
            edge.child,
            edge.constraint.columns.join(", "),
            edge.parent,
            edge.fk.on_delete.sql()
        );
    }
    out.chars().map(|c| if c.is_control() && c != '\n' { ' ' } else { c }).collect()
}

/// The function's definition (after the script's header).
pub fn function(ctx: &Context) -> String {
    let graph = Graph::new(ctx);
    let models = graph.index(&ctx.models.name);
    let mut body = String::from(
        "DECLARE\n  n bigint;\n  expected bigint;\n  restored_id text;\n  restored_key text;\n  lost text;\n  blocked text := '';\n  displaced_rows bigint := 0;\n  restored_rows bigint := 0;\n  copied_rows bigint := 0;\n  r record;\n",
    );
    for i in 0..graph.tables.len() {
        let _ = writeln!(body, "  before_{i} bigint;");
    }
    body.push_str("BEGIN\n");
    find_version(ctx, &graph, models, &mut body);
    prepare(&graph, &mut body);
    walk_displaced(ctx, &graph, models, &mut body);
    check_blockers(&graph, &mut body);
    walk_restored(ctx, &graph, models, &mut body);
    announce(ctx, &graph, models, &mut body);
    body.push_str(
        "  IF p_preview THEN\n    RAISE NOTICE 'rehearse: preview: nothing was changed';\n    RETURN;\n  END IF;\n",
    );
    keep_displaced(&graph, &mut body);
    swap(ctx, &graph, models, &mut body);
    body.push_str("  RAISE NOTICE 'rehearse: restored version % of model %: % rows deleted or changed (kept in the backup tables, % rows copied), % rows brought back', p_version, p_model_id, displaced_rows, copied_rows, restored_rows;\nEND\n");
    let mut out = format!(
        "-- Defines rehearse_restore_version(model_id, version, preview). After the rollback, UNIQUE(model_id)\n-- allows one row per model_id: the restored version replaces the current one. Every row that this\n-- deletes, changes or brings back is named in a NOTICE first; the rows it displaces are copied,\n-- complete, into the backup tables, so that restoring the replaced version brings them back. A row\n-- that may not lose the current row (ON DELETE RESTRICT / NO ACTION) makes it fail, changing nothing.\n-- Call it in a transaction (preview => true only names the rows):\n--   BEGIN; SELECT rehearse_restore_version('<model_id>', '<version>'); COMMIT;\n{}",
        reach_comment(ctx)
    );
    // The two-argument function of earlier versions would make a two-argument call ambiguous.
    out.push_str("DO $$BEGIN\n  IF to_regprocedure('rehearse_restore_version(text, text)') IS NOT NULL THEN\n    DROP FUNCTION rehearse_restore_version(text, text);\n  END IF;\nEND$$;\n");
    let _ = writeln!(
        out,
        "CREATE OR REPLACE FUNCTION rehearse_restore_version(p_model_id text, p_version text, p_preview boolean DEFAULT false) RETURNS void LANGUAGE plpgsql AS {};",
        dollar_quote(&body)
    );
    out
}

/// Locks the reached tables and finds the version in the models backup.
fn find_version(ctx: &Context, graph: &Graph, models: usize, body: &mut String) {
    let m = &ctx.spec.models;
    let backup = &graph.tables[models].backup;
    let names: Vec<String> = graph.tables.iter().map(|t| t.name.quoted()).collect();
    let _ = write!(
        body,
        "  LOCK TABLE {tables} IN SHARE ROW EXCLUSIVE MODE;\n  SELECT count(*), min(CAST(b.{id} AS text)) INTO n, restored_id FROM {backup} b WHERE CAST(b.{mid} AS text) IS NOT DISTINCT FROM p_model_id AND CAST(b.{ver} AS text) IS NOT DISTINCT FROM p_version;\n  IF n = 0 THEN\n    RAISE EXCEPTION 'rehearse: no version % of model % in {bname}: nothing was changed', p_version, p_model_id;\n  END IF;\n  IF n > 1 THEN\n    RAISE EXCEPTION 'rehearse: % rows of {bname} hold version % of model %: nothing was changed', n, p_version, p_model_id;\n  END IF;\n  IF EXISTS (SELECT 1 FROM ONLY {live} t WHERE t.{id} = CAST(restored_id AS {id_type})) THEN\n    RAISE EXCEPTION 'rehearse: version % of model % is the current row: nothing to restore', p_version, p_model_id;\n  END IF;\n",
        tables = names.join(", "),
        id = quote_ident(&m.id),
        mid = quote_ident(&m.model_id),
        ver = quote_ident(&m.version),
        backup = backup.quoted(),
        bname = raise_text(&backup.to_string()),
        live = ctx.models.name.quoted(),
        id_type = ctx.models.column(&m.id).map_or("text", |c| c.pg_type.as_str()),
    );
}

/// The work tables, made once per transaction (a second call in it empties them).
fn prepare(graph: &Graph, body: &mut String) {
    let mut create = String::new();
    let mut all = Vec::new();
    for (i, table) in graph.tables.iter().enumerate() {
        let _ = write!(
            create,
            "    CREATE TEMP TABLE {d} ON COMMIT DROP AS SELECT t.ctid AS rehearse_ctid, {cols} FROM ONLY {name} t WHERE false;\n    CREATE TEMP TABLE {n} (LIKE {d}) ON COMMIT DROP;\n    CREATE TEMP TABLE {r} ON COMMIT DROP AS SELECT {cols} FROM ONLY {name} t WHERE false;\n",
            d = displaced(i),
            n = nulled(i),
            r = restored(i),
            cols = table.list("t"),
            name = table.name.quoted(),
        );
        all.extend([displaced(i), nulled(i), restored(i)]);
    }
    for (e, edge) in graph.edges_with(&NULLING) {
        let table = &graph.tables[graph.index(&edge.child)];
        let _ = writeln!(
            create,
            "    CREATE TEMP TABLE {} ON COMMIT DROP AS SELECT {} FROM ONLY {} t WHERE false;",
            repointed(e),
            table.list("t"),
            table.name.quoted()
        );
        all.push(repointed(e));
    }
    let _ = write!(
        body,
        "  IF to_regclass('pg_temp.{}') IS NULL THEN\n{create}  ELSE\n    TRUNCATE {};\n  END IF;\n",
        displaced(0),
        all.join(", ")
    );
}

/// A statement of a walk, run only when `guard` (a backup table it reads) exists.
struct WalkStep {
    guard: Option<TableName>,
    sql: String,
}

impl WalkStep {
    fn render(&self, counted: bool) -> String {
        let count = if counted { "\n    GET DIAGNOSTICS n = ROW_COUNT;\n    expected := expected + n;" } else { "" };
        match &self.guard {
            Some(table) => format!(
                "  IF to_regclass({}) IS NOT NULL THEN\n    {}{count}\n  END IF;\n",
                literal(&table.quoted()),
                self.sql
            ),
            None => format!("  {}{count}\n", self.sql),
        }
    }
}

/// Runs `steps` once, when every referenced table comes before the tables referencing it;
/// repeats them until they add no row when the keys form a cycle.
fn to_fixpoint(cyclic: bool, steps: &[WalkStep]) -> String {
    if !cyclic {
        return steps.iter().map(|s| s.render(false)).collect();
    }
    let mut out = String::from("  LOOP\n    expected := 0;\n");
    out.extend(steps.iter().map(|s| s.render(true)));
    out.push_str("    EXIT WHEN expected = 0;\n  END LOOP;\n");
    out
}

/// Row `alias` is not among the rows of work table `table`: its ctid is compared with an array
/// built once (an InitPlan), never by a lookup per row.
fn not_in(alias: &str, table: &str) -> String {
    format!("{alias}.ctid <> ALL (ARRAY(SELECT rehearse_ctid FROM {table}))")
}

/// The current row, every row its DELETE cascades to, and the rows SET NULL / SET DEFAULT change.
fn walk_displaced(ctx: &Context, graph: &Graph, models: usize, body: &mut String) {
    let m = ctx.models;
    let mid = &ctx.spec.models.model_id;
    let _ = writeln!(
        body,
        "  INSERT INTO {} SELECT t.ctid, {} FROM ONLY {} t WHERE t.{} = CAST(p_model_id AS {});\n  GET DIAGNOSTICS n = ROW_COUNT;\n  IF n > 1 THEN\n    RAISE EXCEPTION 'rehearse: % rows of {} hold model %: without UNIQUE(model_id) there is no current row to replace; nothing was changed', n, p_model_id;\n  END IF;",
        displaced(models),
        graph.tables[models].list("t"),
        m.name.quoted(),
        quote_ident(mid),
        m.column(mid).map_or("text", |c| c.pg_type.as_str()),
        raise_text(&m.name.to_string()),
    );
    let steps: Vec<WalkStep> = graph
        .edges_with(&[FkAction::Cascade])
        .into_iter()
        .map(|(_, edge)| {
            let into = displaced(graph.index(&edge.child));
            WalkStep { guard: None, sql: referencing_displaced(graph, edge, &into, std::slice::from_ref(&into)) }
        })
        .collect();
    body.push_str(&to_fixpoint(graph.cyclic, &steps));
    for (_, edge) in graph.edges_with(&NULLING) {
        let c = graph.index(&edge.child);
        let sql = referencing_displaced(graph, edge, &nulled(c), &[displaced(c), nulled(c)]);
        let _ = writeln!(body, "  {sql}");
    }
}

/// Adds to work table `into` the live rows of `edge`'s child that reference a displaced row of
/// its parent and are in none of the work tables `seen`.
fn referencing_displaced(graph: &Graph, edge: &FkEdge, into: &str, seen: &[String]) -> String {
    let (c, p) = (graph.index(&edge.child), graph.index(&edge.parent));
    let fresh: Vec<String> = seen.iter().map(|t| not_in("c", t)).collect();
    format!(
        "INSERT INTO {into} SELECT c.ctid, {cols} FROM ONLY {child} c WHERE EXISTS (SELECT 1 FROM {pd} p WHERE {on}) AND {fresh};",
        cols = graph.tables[c].list("c"),
        child = edge.child.quoted(),
        pd = displaced(p),
        on = edge.matches("c", "p"),
        fresh = fresh.join(" AND "),
    )
}

/// Refuses, changing nothing, when a RESTRICT / NO ACTION key holds on a row the DELETE removes.
fn check_blockers(graph: &Graph, body: &mut String) {
    for (_, edge) in graph.edges_with(&BLOCKING) {
        let (c, p) = (graph.index(&edge.child), graph.index(&edge.parent));
        let child = &graph.tables[c];
        let _ = write!(
            body,
            "  SELECT count(*), string_agg({key}, '; ') INTO n, lost FROM ONLY {name} c WHERE EXISTS (SELECT 1 FROM {pd} p WHERE {on}) AND {kept};\n  IF n > 0 THEN\n    blocked := blocked || format(' %s rows of %s through %s (ON DELETE %s): %s;', n, {label}, {constraint}, {action}, lost);\n  END IF;\n",
            key = child.key_text("c"),
            name = child.name.quoted(),
            pd = displaced(p),
            on = edge.matches("c", "p"),
            kept = not_in("c", &displaced(c)),
            label = child.label(),
            constraint = literal(&edge.constraint.name),
            action = literal(edge.fk.on_delete.sql()),
        );
    }
    body.push_str("  IF blocked <> '' THEN\n    RAISE EXCEPTION 'rehearse: the current row of model % cannot be replaced: rows that may not lose it reference it:%. Nothing was changed.', p_model_id, blocked;\n  END IF;\n");
}

/// The version's row from the backup, its dependents there at every depth (CASCADE keys), and
/// the live rows that SET NULL / SET DEFAULT detached from it; rows whose key a live row holds
/// cannot come back and are named.
fn walk_restored(ctx: &Context, graph: &Graph, models: usize, body: &mut String) {
    let m = &graph.tables[models];
    let _ = writeln!(
        body,
        "  INSERT INTO {} SELECT {} FROM {} b WHERE CAST(b.{} AS text) = restored_id;",
        restored(models),
        m.list("b"),
        m.backup.quoted(),
        quote_ident(&ctx.spec.models.id)
    );
    let cascades = graph.edges_with(&[FkAction::Cascade]);
    let mut steps = Vec::new();
    let mut conflicts = String::new();
    for (c, child) in graph.tables.iter().enumerate().filter(|(c, _)| *c != models) {
        for (_, edge) in cascades.iter().filter(|(_, e)| e.child == child.name) {
            let sql = format!(
                "INSERT INTO {r} SELECT {cols} FROM {backup} b WHERE EXISTS (SELECT 1 FROM {pr} p WHERE {on}) AND NOT EXISTS (SELECT 1 FROM {r} x WHERE {same});",
                r = restored(c),
                cols = child.list("b"),
                backup = child.backup.quoted(),
                pr = restored(graph.index(&edge.parent)),
                on = edge.matches("b", "p"),
                same = child.same("x", "b"),
            );
            steps.push(WalkStep { guard: Some(child.backup.clone()), sql });
        }
        let _ = write!(
            conflicts,
            "  FOR r IN DELETE FROM {r} x WHERE EXISTS (SELECT 1 FROM ONLY {name} l WHERE {same} AND {kept}) RETURNING {key} AS k LOOP\n    RAISE NOTICE 'rehearse: not restorable: % % (in %): a live row holds its key', {label}, r.k, {backup};\n  END LOOP;\n",
            r = restored(c),
            name = child.name.quoted(),
            same = child.same("l", "x"),
            kept = not_in("l", &displaced(c)),
            key = child.key_text("x"),
            label = child.label(),
            backup = literal(&child.backup.to_string()),
        );
        // In key order, a table's rows that cannot come back are dropped before its children are
        // looked for; in a cycle, after the walk.
        if !graph.cyclic {
            body.push_str(&to_fixpoint(false, &std::mem::take(&mut steps)));
            body.push_str(&std::mem::take(&mut conflicts));
        }
    }
    body.push_str(&to_fixpoint(graph.cyclic, &steps));
    body.push_str(&conflicts);
    let guarded = |table: &Reached, sql: String| WalkStep { guard: Some(table.backup.clone()), sql }.render(false);
    for (e, edge) in graph.edges_with(&NULLING) {
        let (c, p) = (graph.index(&edge.child), graph.index(&edge.parent));
        let child = &graph.tables[c];
        let live_detached = format!(
            "EXISTS (SELECT 1 FROM ONLY {} l WHERE {} AND {})",
            child.name.quoted(),
            child.same("l", "b"),
            detached(ctx.catalog, edge, "l")
        );
        let from_backup = format!(
            "FROM {} b WHERE EXISTS (SELECT 1 FROM {} p WHERE {}) AND NOT EXISTS (SELECT 1 FROM {} x WHERE {})",
            child.backup.quoted(),
            restored(p),
            edge.matches("b", "p"),
            restored(c),
            child.same("x", "b")
        );
        let _ = write!(
            body,
            "{}{}",
            guarded(child, format!("INSERT INTO {} SELECT {} {from_backup} AND {live_detached};", repointed(e), child.list("b"))),
            guarded(
                child,
                format!(
                    "FOR r IN SELECT {key} AS k {from_backup} AND NOT {live_detached} LOOP\n      RAISE NOTICE 'rehearse: not restorable: % % (in %) referenced the restored row through %: the live row is gone or references another row now', {label}, r.k, {backup}, {constraint};\n    END LOOP;",
                    key = child.key_text("b"),
                    label = child.label(),
                    backup = literal(&child.backup.to_string()),
                    constraint = literal(&edge.constraint.name),
                )
            )
        );
    }
}

/// Names every row before anything changes: the one replaced, those its DELETE removes or
/// changes, those brought back, and what of the version cannot come back.
fn announce(ctx: &Context, graph: &Graph, models: usize, body: &mut String) {
    let m = &graph.tables[models];
    let _ = write!(
        body,
        "  SELECT {key} INTO restored_key FROM {r} x;\n  RAISE NOTICE 'rehearse: restoring version % of model %: {name} % from {backup}', p_version, p_model_id, restored_key;\n  SELECT count(*) INTO n FROM {d};\n  IF n = 0 THEN\n    RAISE NOTICE 'rehearse: model % has no current row: nothing is replaced', p_model_id;\n  END IF;\n",
        name = raise_text(&m.name.to_string()),
        backup = raise_text(&m.backup.to_string()),
        key = m.key_text("x"),
        r = restored(models),
        d = displaced(models),
    );
    let gone: Vec<&String> = ctx.spec.drop.models_columns.iter().filter(|c| ctx.models.column(c).is_some()).collect();
    if !gone.is_empty() {
        let values: Vec<String> = gone
            .iter()
            .map(|c| {
                format!("{} || coalesce(quote_literal(b.{}::text), 'NULL')", literal(&format!("{c}=")), quote_ident(c))
            })
            .collect();
        let _ = writeln!(
            body,
            "  SELECT concat_ws(', ', {}) INTO lost FROM {} b WHERE CAST(b.{} AS text) = restored_id;\n  RAISE NOTICE 'rehearse: not restorable: {} % (the rollback dropped these columns; the values stay in {}): %', restored_key, lost;",
            values.join(", "),
            m.backup.quoted(),
            quote_ident(&ctx.spec.models.id),
            raise_text(&m.name.to_string()),
            raise_text(&m.backup.to_string()),
        );
    }
    for (i, table) in graph.tables.iter().enumerate() {
        let what = if i == models { "replaces the current row" } else { "deletes (ON DELETE CASCADE)" };
        let _ = writeln!(
            body,
            "  FOR r IN SELECT {} AS k FROM {} x LOOP\n    RAISE NOTICE 'rehearse: {what} % %', {}, r.k;\n    displaced_rows := displaced_rows + 1;\n  END LOOP;",
            table.key_text("x"),
            displaced(i),
            table.label()
        );
    }
    for (_, edge) in graph.edges_with(&NULLING) {
        let (c, p) = (graph.index(&edge.child), graph.index(&edge.parent));
        let _ = writeln!(
            body,
            "  FOR r IN SELECT {} AS k FROM {} c WHERE EXISTS (SELECT 1 FROM {} p WHERE {}) LOOP\n    RAISE NOTICE 'rehearse: sets % of % % to {} (%)', {}, {}, r.k, {};\n    displaced_rows := displaced_rows + 1;\n  END LOOP;",
            graph.tables[c].key_text("c"),
            nulled(c),
            displaced(p),
            edge.matches("c", "p"),
            if edge.fk.on_delete == FkAction::SetNull { "NULL" } else { "its default" },
            literal(&assigned_text(edge)),
            graph.tables[c].label(),
            literal(&edge.constraint.name),
        );
    }
    for (i, table) in graph.tables.iter().enumerate().filter(|(i, _)| *i != models) {
        let _ = writeln!(
            body,
            "  FOR r IN SELECT {} AS k FROM {} x LOOP\n    RAISE NOTICE 'rehearse: brings back % % from %', {}, r.k, {};\n    restored_rows := restored_rows + 1;\n  END LOOP;",
            table.key_text("x"),
            restored(i),
            table.label(),
            literal(&table.backup.to_string()),
        );
    }
    for (e, edge) in graph.edges_with(&NULLING) {
        let child = &graph.tables[graph.index(&edge.child)];
        let _ = writeln!(
            body,
            "  FOR r IN SELECT {} AS k FROM {} x LOOP\n    RAISE NOTICE 'rehearse: points % % back at a restored row (%)', {}, r.k, {};\n    restored_rows := restored_rows + 1;\n  END LOOP;",
            child.key_text("x"),
            repointed(e),
            child.label(),
            literal(&assigned_text(edge)),
        );
    }
    body.push_str("  restored_rows := restored_rows + 1;\n");
}

/// Copies every displaced row, complete, into its table's backup: an earlier copy of the same
/// row (same key) is brought up to date, columns the live table lost keep their values.
fn keep_displaced(graph: &Graph, body: &mut String) {
    for (i, table) in graph.tables.iter().enumerate() {
        let rows = format!(
            "(SELECT {cols} FROM {d} x UNION ALL SELECT {cols} FROM {n} x) d",
            cols = table.list("x"),
            d = displaced(i),
            n = nulled(i)
        );
        let backup = table.backup.quoted();
        let _ = write!(
            body,
            "  IF EXISTS (SELECT 1 FROM {d}) OR EXISTS (SELECT 1 FROM {n}) THEN\n    IF to_regclass({reg}) IS NULL THEN\n      CREATE TABLE {backup} AS SELECT * FROM ONLY {name} WHERE false;\n      RAISE NOTICE 'rehearse: created the backup table %', {label};\n    END IF;\n",
            d = displaced(i),
            n = nulled(i),
            reg = literal(&backup),
            name = table.name.quoted(),
            label = literal(&table.backup.to_string()),
        );
        if table.key.is_some() {
            let set: Vec<String> = table.columns.iter().map(|c| format!("{0} = d.{0}", quote_ident(c))).collect();
            let _ = writeln!(
                body,
                "    UPDATE {backup} b SET {} FROM {rows} WHERE {};\n    GET DIAGNOSTICS n = ROW_COUNT;\n    copied_rows := copied_rows + n;",
                set.join(", "),
                table.same("b", "d")
            );
        }
        let _ = write!(
            body,
            "    INSERT INTO {backup} ({}) SELECT {} FROM {rows} WHERE NOT EXISTS (SELECT 1 FROM {backup} b WHERE {});\n    GET DIAGNOSTICS n = ROW_COUNT;\n    copied_rows := copied_rows + n;\n  END IF;\n",
            list_names(&table.columns),
            table.list("d"),
            table.same("b", "d")
        );
    }
}

/// The assigned columns as the NOTICEs name them.
fn assigned_text(edge: &FkEdge) -> String {
    assigned(edge).into_iter().map(String::as_str).collect::<Vec<_>>().join(", ")
}

fn list_names(columns: &[String]) -> String {
    columns.iter().map(|c| quote_ident(c)).collect::<Vec<_>>().join(", ")
}

/// Deletes the current row, checks that exactly the named rows went or changed, then inserts
/// the restored rows (referenced tables first) and points detached rows back.
fn swap(ctx: &Context, graph: &Graph, models: usize, body: &mut String) {
    for (i, table) in graph.tables.iter().enumerate() {
        let _ = writeln!(body, "  SELECT count(*) INTO before_{i} FROM ONLY {};", table.name.quoted());
    }
    let _ = writeln!(
        body,
        "  DELETE FROM ONLY {} t WHERE t.ctid = ANY (ARRAY(SELECT rehearse_ctid FROM {}));",
        ctx.models.name.quoted(),
        displaced(models)
    );
    for (i, table) in graph.tables.iter().enumerate() {
        let name = raise_text(&table.name.to_string());
        let _ = write!(
            body,
            "  SELECT before_{i} - count(*) INTO n FROM ONLY {q};\n  SELECT count(*) INTO expected FROM {d};\n  IF n <> expected THEN\n    RAISE EXCEPTION 'rehearse: the DELETE removed % rows of {name}, % were named: everything is rolled back', n, expected;\n  END IF;\n  SELECT count(*) INTO n FROM ONLY {q} t WHERE t.ctid = ANY (ARRAY(SELECT rehearse_ctid FROM {d} UNION ALL SELECT rehearse_ctid FROM {nl}));\n  IF n > 0 THEN\n    RAISE EXCEPTION 'rehearse: % named rows of {name} were left as they were: everything is rolled back', n;\n  END IF;\n",
            q = table.name.quoted(),
            d = displaced(i),
            nl = nulled(i),
        );
    }
    for (i, table) in graph.tables.iter().enumerate() {
        let _ = writeln!(
            body,
            "  INSERT INTO {} ({cols}) OVERRIDING SYSTEM VALUE SELECT {} FROM {} x;",
            table.name.quoted(),
            list("x", &table.insertable),
            restored(i),
            cols = list_names(&table.insertable),
        );
    }
    for (e, edge) in graph.edges_with(&NULLING) {
        let child = &graph.tables[graph.index(&edge.child)];
        let _ = write!(
            body,
            "  UPDATE ONLY {name} l SET {set} FROM {x} x WHERE {same} AND {detached};\n  GET DIAGNOSTICS n = ROW_COUNT;\n  SELECT count(*) INTO expected FROM {x};\n  IF n <> expected THEN\n    RAISE EXCEPTION 'rehearse: % rows of {label} pointed back, % were named: everything is rolled back', n, expected;\n  END IF;\n",
            name = child.name.quoted(),
            set = point_back(edge, "x"),
            x = repointed(e),
            same = child.same("l", "x"),
            detached = detached(ctx.catalog, edge, "l"),
            label = raise_text(&child.name.to_string()),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{Column, Constraint, ConstraintKind, ForeignKey, Table};

    fn name(table: &str) -> TableName {
        TableName::new("public", table)
    }

    fn table(table: &str, columns: &[&str]) -> Table {
        let column = |c: &&str| Column {
            name: c.to_string(),
            pg_type: "integer".into(),
            not_null: false,
            default: None,
            generated: (*c == "total").then(|| "(id * 2)".into()),
            collation: None,
        };
        Table::new(name(table), columns.iter().map(column).collect())
    }

    fn primary_key(table: &str) -> Constraint {
        Constraint {
            name: format!("{table}_pkey"),
            table: name(table),
            kind: ConstraintKind::PrimaryKey,
            columns: vec!["id".into()],
        }
    }

    fn fk(child: &str, column: &str, parent: &str, on_delete: FkAction) -> Constraint {
        Constraint {
            name: format!("{child}_{column}_fkey"),
            table: name(child),
            kind: ConstraintKind::ForeignKey(ForeignKey {
                ref_table: name(parent),
                ref_columns: vec!["id".into()],
                on_delete,
                on_update: FkAction::NoAction,
                set_columns: Vec::new(),
                deferred: false,
            }),
            columns: vec![column.into()],
        }
    }

    fn catalog(constraints: Vec<Constraint>) -> Catalog {
        Catalog {
            tables: vec![
                table("signatures", &["id", "artifact_id"]),
                table("artifacts", &["id", "model_row_id", "total"]),
                table("models", &["id", "model_id", "version_status"]),
                table("notes", &["model_row_id", "text"]),
            ],
            constraints,
            ..Catalog::default()
        }
    }

    fn names(graph: &Graph) -> Vec<String> {
        graph.tables.iter().map(|t| t.name.name.clone()).collect()
    }

    #[test]
    fn referenced_tables_come_first_and_a_chain_of_keys_is_walked_once() {
        let catalog = catalog(vec![
            fk("signatures", "artifact_id", "artifacts", FkAction::Cascade),
            fk("notes", "model_row_id", "models", FkAction::SetNull),
            fk("artifacts", "model_row_id", "models", FkAction::Cascade),
            primary_key("models"),
            primary_key("artifacts"),
        ]);
        let dropped = ["version_status".to_string()];
        let graph = Graph::reached(&catalog, &name("models"), &[(&name("models"), &dropped)]);
        assert_eq!(names(&graph), ["models", "notes", "artifacts", "signatures"], "breadth first, parents first");
        assert!(!graph.cyclic);
        let models = &graph.tables[0];
        assert_eq!(models.columns, ["id", "model_id"], "the dropped column is not restored");
        let artifacts = &graph.tables[graph.index(&name("artifacts"))];
        assert_eq!(artifacts.insertable, ["id", "model_row_id"], "a generated column is computed, not inserted");
        assert_eq!(artifacts.same("l", "x"), r#"l."id" = x."id""#);
        let notes = &graph.tables[graph.index(&name("notes"))];
        assert_eq!(
            notes.same("l", "x"),
            r#"l."model_row_id"::text IS NOT DISTINCT FROM x."model_row_id"::text AND l."text"::text IS NOT DISTINCT FROM x."text"::text"#,
            "without a key, every column tells rows apart"
        );
        let cascades: Vec<String> =
            graph.edges_with(&[FkAction::Cascade]).iter().map(|(_, e)| e.child.name.clone()).collect();
        assert_eq!(cascades, ["artifacts", "signatures"], "each key once, parents' first");
        let steps = [WalkStep { guard: None, sql: "INSERT …;".into() }];
        assert!(!to_fixpoint(graph.cyclic, &steps).contains("LOOP"));
    }

    #[test]
    fn set_null_with_a_column_list_points_back_only_the_columns_it_assigned() {
        let mut key = fk("notes", "model_row_id", "models", FkAction::SetNull);
        key.columns = vec!["text".into(), "model_row_id".into()];
        if let ConstraintKind::ForeignKey(fk) = &mut key.kind {
            fk.ref_columns = vec!["model_id".into(), "id".into()];
            fk.set_columns = vec!["model_row_id".into()];
        }
        let catalog = catalog(vec![key]);
        let graph = Graph::reached(&catalog, &name("models"), &[]);
        let edge = &graph.edges[0];
        assert_eq!(detached(&catalog, edge, "l"), r#"l."model_row_id" IS NOT DISTINCT FROM (NULL)"#);
        assert_eq!(point_back(edge, "x"), r#""model_row_id" = x."model_row_id""#);
        assert_eq!(assigned_text(edge), "model_row_id");
        let mut all = graph.edges[0].fk.clone();
        all.set_columns.clear();
        let every = FkEdge { fk: &all, ..graph.edges[0].clone() };
        assert_eq!(point_back(&every, "x"), r#""text" = x."text", "model_row_id" = x."model_row_id""#, "no list: all");
    }

    #[test]
    fn a_cycle_of_keys_is_walked_to_a_fixpoint() {
        let catalog = catalog(vec![
            fk("artifacts", "model_row_id", "models", FkAction::Cascade),
            fk("signatures", "artifact_id", "artifacts", FkAction::Cascade),
            fk("artifacts", "total", "signatures", FkAction::Restrict),
        ]);
        let graph = Graph::reached(&catalog, &name("models"), &[]);
        assert!(graph.cyclic);
        assert_eq!(names(&graph)[0], "models");
        let steps = [WalkStep { guard: Some(name("x_rehearse_backup")), sql: "INSERT …;".into() }];
        let walk = to_fixpoint(graph.cyclic, &steps);
        assert!(walk.starts_with("  LOOP\n") && walk.contains("EXIT WHEN expected = 0"), "{walk}");
        assert!(walk.contains("IF to_regclass('\"public\".\"x_rehearse_backup\"') IS NOT NULL THEN\n    INSERT …;\n    GET DIAGNOSTICS n = ROW_COUNT;"), "{walk}");
    }
}
