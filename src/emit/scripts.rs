//! The text of each script. Names come from the spec and the catalog, values from the plan;
//! `quote_ident` and `literal` quote all of them, so hostile data cannot break a statement.

use super::check::dollar_quote;
use super::{restore, Context};
use crate::catalog::objects::{ObjectKind, SchemaObject};
use crate::catalog::{quote_ident, ConstraintKind, FkAction, Table, TableName};
use crate::plan::Step;
use crate::plan::{Mode, Plan, StepPrediction};
use crate::rehearsal::policy::Policy;
use crate::spec::rehearse_backup;
use crate::sql::{self, literal, Dialect, Rows};
use std::fmt::Write;

/// Makes text safe inside a `--` comment (one line, no control characters).
fn comment(text: &str) -> String {
    text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect()
}

/// The order the keepers were chosen in: legacy's depends on the database collation.
fn keeper_order(plan: &Plan) -> String {
    match plan.policy {
        Policy::Legacy => format!(
            "legacy order, version text in collation {} (from {}), pinned by id",
            plan.collation, plan.collation_source
        ),
        Policy::Documented => "documented order (version precedence, no collation), pinned by id".into(),
    }
}

fn header(ctx: &Context, name: &str, what: &str) -> String {
    let plan = ctx.plan;
    let input = |k: &str| comment(plan.input.get(k).map(String::as_str).unwrap_or(""));
    let mut out = String::new();
    let _ = writeln!(out, "-- rehearse {} {name}: {what}", env!("CARGO_PKG_VERSION"));
    let _ = writeln!(out, "-- input: {} ({}), sha256 {}", input("input_path"), input("format"), input("input_sha256"));
    let _ = writeln!(
        out,
        "-- policy: {}, mode: {:?}, orphans: {}",
        plan.policy.name(),
        plan.mode,
        if plan.delete_orphans { "deleted" } else { "kept" }
    );
    let _ = writeln!(out, "-- keepers: {}", comment(&keeper_order(plan)));
    let _ = writeln!(
        out,
        "-- predicted: models {} -> {}, services {} -> {}{}",
        plan.models_before,
        plan.models_after,
        plan.services_before,
        plan.services_after,
        plan.cascade_deleted
            .iter()
            .map(|(t, n)| format!(", {} -{n}", comment(t)))
            .chain(plan.cascade_changed.iter().map(|(t, n)| format!(", {} ~{n} changed", comment(t))))
            .collect::<String>()
    );
    let _ = writeln!(out, "-- run: psql -X -v ON_ERROR_STOP=1 -d <database> -f {name}");
    let _ = writeln!(out, "SET standard_conforming_strings = on;");
    out
}

/// rehearse's keep mapping, beside the guide's `model_version_keep_mapping`.
fn keep_mapping(ctx: &Context) -> TableName {
    TableName::new(&ctx.models.name.schema, "rehearse_keep_mapping")
}

/// The PostgreSQL type of the models `id` column.
fn id_type<'a>(ctx: &'a Context) -> &'a str {
    ctx.models.column(&ctx.spec.models.id).map_or("text", |c| c.pg_type.as_str())
}

/// Appends a temp table of the kept `id`s, filled in batches and analysed, so that the planner
/// joins it by hash or merge rather than guessing its size. Written into the script itself, its
/// room and the rest's reserved first: on a large export the list is 10 MB, which a list of its
/// own copied in, or a script doubling as it grows, would hold twice or more.
fn keepers(ctx: &Context, out: &mut String) {
    const INSERT: &str = "INSERT INTO rehearse_keepers (id) VALUES ";
    const CHUNK: usize = 1000;
    // Each id quoted, in parentheses, and a comma: its length and 6 (more if it holds quotes).
    let ids: usize = ctx.plan.kept.iter().map(|k| k.id.text().len() + 6).sum();
    let rest_of_script = 64 * 1024;
    out.reserve(ids + ctx.plan.kept.len().div_ceil(CHUNK) * (INSERT.len() + 2) + rest_of_script);
    let _ = writeln!(out, "CREATE TEMP TABLE rehearse_keepers (id {} PRIMARY KEY) ON COMMIT DROP;", id_type(ctx));
    for chunk in ctx.plan.kept.chunks(CHUNK) {
        out.push_str(INSERT);
        for (i, k) in chunk.iter().enumerate() {
            let _ = write!(out, "{}({})", if i == 0 { "" } else { ", " }, literal(&k.id.text()));
        }
        out.push_str(";\n");
    }
    out.push_str("ANALYZE rehearse_keepers;\n");
}

/// `information_schema.columns` restricted to the version columns that still exist.
fn version_columns(ctx: &Context) -> String {
    let d = &ctx.spec.drop;
    let tuples: Vec<String> = [(ctx.models, &d.models_columns), (ctx.services, &d.services_columns)]
        .iter()
        .flat_map(|(table, columns)| {
            columns.iter().map(move |c| {
                format!("({}, {}, {})", literal(&table.name.schema), literal(&table.name.name), literal(c))
            })
        })
        .collect();
    format!("information_schema.columns WHERE (table_schema, table_name, column_name) IN ({})", tuples.join(", "))
}

fn version_column_count(ctx: &Context) -> usize {
    ctx.spec.drop.models_columns.len() + ctx.spec.drop.services_columns.len()
}

pub fn backup(ctx: &Context) -> String {
    let mut out = header(ctx, "01_backup.sql", "complete copies of every row the rollback deletes or changes");
    out.push_str("BEGIN;\n");
    keepers(ctx, &mut out);
    let mut checks = String::from("DECLARE\n  stale text := '';\nBEGIN\n");
    for table in ctx.affected() {
        let backup = rehearse_backup(&table.name);
        let (live_name, backup_name) = (table.name.quoted(), backup.quoted());
        let live = Rows { relation: &live_name, alias: "t", only: true };
        let copy = Rows { relation: &backup_name, alias: "b", only: false };
        let columns_of = |t: &TableName| {
            format!(
                "(SELECT array_agg(column_name::text ORDER BY ordinal_position) FROM information_schema.columns WHERE table_schema = {} AND table_name = {})",
                literal(&t.schema),
                literal(&t.name)
            )
        };
        let _ = write!(
            checks,
            "  IF to_regclass({reg}) IS NOT NULL THEN\n    IF {bc} IS DISTINCT FROM {lc} THEN\n      stale := stale || ' ' || {name} || ' (other columns)';\n    ELSIF EXISTS ({lacks})\n       OR EXISTS ({extra}) THEN\n      stale := stale || ' ' || {name} || ' (other rows)';\n    END IF;\n  END IF;\n",
            reg = literal(&backup.quoted()),
            bc = columns_of(&backup),
            lc = columns_of(&table.name),
            name = literal(&backup.to_string()),
            lacks = sql::rows_missing(live, copy, Dialect::Postgres),
            extra = sql::rows_missing(copy, live, Dialect::Postgres),
        );
    }
    checks.push_str("  IF stale <> '' THEN\n    RAISE EXCEPTION 'rehearse: backup tables from an earlier run differ from the live rows:%. Drop or rename them, then run again (a stale backup is never kept silently).', stale;\n  END IF;\nEND\n");
    let _ = writeln!(out, "DO {};", dollar_quote(&checks));
    // Each table's own rows (`ONLY`): an inheritance child or partition that loses rows has its
    // own backup, and one that loses none needs none.
    for table in ctx.affected() {
        let _ = writeln!(
            out,
            "CREATE TABLE IF NOT EXISTS {} AS SELECT * FROM ONLY {};",
            rehearse_backup(&table.name).quoted(),
            table.name.quoted()
        );
    }
    let m = &ctx.spec.models;
    let (name, source_name) =
        if ctx.models.column("name").is_some() { (", m.\"name\"", ", \"name\"") } else { ("", "") };
    // The versions per model_id come from one pass over models (a window partitions NULLs
    // together, as `IS NOT DISTINCT FROM` does), not from a count per keeper.
    let _ = writeln!(
        out,
        "CREATE TABLE IF NOT EXISTS {mapping} AS\nSELECT m.{mid} AS model_id, m.{id} AS model_id_to_keep, m.{ver} AS version_to_keep, m.{st} AS version_status{name},\n       m.rehearse_versions - 1 AS versions_removed\nFROM (SELECT {mid}, {id}, {ver}, {st}{source_name}, count(*) OVER (PARTITION BY {mid}) AS rehearse_versions FROM {models}) m\nWHERE m.{id} IN (SELECT id FROM rehearse_keepers);",
        mapping = keep_mapping(ctx).quoted(),
        mid = quote_ident(&m.model_id),
        id = quote_ident(&m.id),
        ver = quote_ident(&m.version),
        st = quote_ident(&m.status),
        models = ctx.models.name.quoted(),
    );
    out.push_str("COMMIT;\n");
    out
}

/// The PL/pgSQL that raises unless 01_backup.sql's complete copies are there: without them
/// nothing the rollback deletes could be restored (04_restore_version.sql reads them, and
/// 03_verify.sql needs them to tell old orphans from new).
fn backups_present(ctx: &Context) -> String {
    let backups: Vec<String> = ctx.affected().iter().map(|t| literal(&rehearse_backup(&t.name).quoted())).collect();
    format!(
        "  SELECT string_agg(b, ', ') INTO missing FROM unnest(ARRAY[{}]) b WHERE to_regclass(b) IS NULL;\n  IF missing IS NOT NULL THEN\n    RAISE EXCEPTION 'rehearse: no backup from 01_backup.sql: % missing. Run 01_backup.sql first; nothing was changed.', missing;\n  END IF;\n",
        backups.join(", ")
    )
}

/// The PL/pgSQL that raises when a count differs from the prediction.
fn expect_count(variable: &str, predicted: u64, what: &str) -> String {
    format!(
        "  IF {variable} <> {predicted} THEN\n    RAISE EXCEPTION 'rehearse: {} is %, the rehearsal predicted {predicted}: everything is rolled back', {variable};\n  END IF;\n",
        what.replace('\'', "''").replace('%', "%%")
    )
}

/// `table WHERE` its SET NULL foreign-key columns are all NULL: what SET NULL effects add to.
fn null_refs(ctx: &Context, table: &Table) -> Option<String> {
    let columns: Vec<String> = ctx
        .catalog
        .foreign_keys()
        .filter(|(c, fk)| {
            ctx.catalog.key_row_holders(&c.table).contains(&table.name) && fk.on_delete == FkAction::SetNull
        })
        .flat_map(|(c, fk)| fk.assigned(&c.columns).map(|col| format!("{} IS NULL", quote_ident(col))))
        .collect();
    (!columns.is_empty()).then(|| format!("ONLY {} WHERE {}", table.name.quoted(), columns.join(" AND ")))
}

fn verification(ctx: &Context, body: &mut String, orphans_before: Option<&str>) {
    let m = &ctx.spec.models;
    let _ = writeln!(body, "  SELECT count(*) INTO n FROM {};", version_columns(ctx));
    body.push_str(
        "  IF n > 0 THEN\n    RAISE EXCEPTION 'rehearse: V1 failed: % version columns remain', n;\n  END IF;\n",
    );
    if ctx.plan.mode == Mode::Full {
        let _ = writeln!(
            body,
            "  SELECT count(*) INTO n FROM ({}) v;",
            sql::duplicate_model_ids(&ctx.models.name.quoted(), &m.model_id)
        );
        body.push_str("  IF n > 0 THEN\n    RAISE EXCEPTION 'rehearse: V2 failed: % model_ids appear more than once', n;\n  END IF;\n");
    }
    let v3 = ctx.spec.orphaned_services(&ctx.services.name.quoted(), &ctx.models.name.quoted());
    let _ = writeln!(body, "  SELECT count(*) INTO n FROM ({v3}) v;");
    body.push_str("  RAISE NOTICE 'rehearse: V3 as the guide writes it: % services reference a model_id absent from models', n;\n");
    if let Some(before) = orphans_before {
        let _ = write!(
            body,
            "  SELECT count(*) INTO n FROM ({v3}) v(service_id, model_id) WHERE NOT ({before});\n  IF n > 0 THEN\n    RAISE EXCEPTION 'rehearse: V3 failed: the rollback orphaned % services', n;\n  END IF;\n"
        );
    }
}

/// An index that the rollback builds for its own transaction on a foreign key into a table that
/// loses rows. PostgreSQL checks or cascades each deleted row with a query on the referencing
/// table: without an index on the key's columns, a sequential scan of that table per row. Where
/// it cannot be built (another owner, a lock held elsewhere, the name taken), the rollback goes
/// on without it, only slower.
struct TemporaryIndex {
    name: TableName,
    table: TableName,
    columns: Vec<String>,
}

/// Whether `table` has an index (or a primary key or unique constraint) that starts with
/// `columns`, in any order.
fn is_indexed(ctx: &Context, table: &TableName, columns: &[String]) -> bool {
    let leads =
        |keys: &[String]| keys.len() >= columns.len() && columns.iter().all(|c| keys[..columns.len()].contains(c));
    ctx.catalog.indexes_of(table).any(|i| leads(&i.columns))
        || ctx
            .catalog
            .constraints_of(table)
            .any(|c| matches!(c.kind, ConstraintKind::PrimaryKey | ConstraintKind::Unique) && leads(&c.columns))
}

/// The rows the rehearsal predicts the rollback deletes from `table`.
fn rows_deleted(ctx: &Context, table: &TableName) -> u64 {
    let plan = ctx.plan;
    if *table == ctx.models.name {
        plan.models_before - plan.models_after
    } else if *table == ctx.services.name {
        plan.services_before - plan.services_after
    } else {
        plan.cascade_deleted.get(&table.to_string()).copied().unwrap_or(0)
    }
}

fn temporary_indexes(ctx: &Context) -> Vec<TemporaryIndex> {
    let mut indexes: Vec<TemporaryIndex> = Vec::new();
    for (constraint, fk) in ctx.catalog.foreign_keys() {
        let (table, columns) = (&constraint.table, &constraint.columns);
        let known = indexes.iter().any(|i| i.table == *table && i.columns == *columns);
        if rows_deleted(ctx, &fk.ref_table) > 0 && !known && !is_indexed(ctx, table, columns) {
            let name = TableName::new(&table.schema, &format!("rehearse_fk_{}", indexes.len() + 1));
            indexes.push(TemporaryIndex { name, table: table.clone(), columns: columns.clone() });
        }
    }
    indexes
}

/// Table names, quoted and comma-separated, each once.
fn table_list<'a>(tables: impl IntoIterator<Item = &'a TableName>) -> String {
    let mut names: Vec<String> = Vec::new();
    for table in tables {
        let quoted = table.quoted();
        if !names.contains(&quoted) {
            names.push(quoted);
        }
    }
    names.join(", ")
}

/// The orphans before the rollback, kept by 02_rollback.sql for V3.
const ORPHANS_BEFORE: &str = "rehearse_orphans_before";

/// The NOTICE that 02_rollback.sql ends with, read back by `rehearse validate`.
pub const LOCK_NOTICE: &str = "rehearse: locks held:";

pub fn rollback(ctx: &Context) -> String {
    let plan = ctx.plan;
    let mut out = header(ctx, "02_rollback.sql", "the rollback exactly as rehearsed, or nothing");
    if let Some(reason) = plan.predicted_failure.clone().or_else(|| {
        (!plan.verification.gating_pass()).then(|| "verification fails on the rehearsed result".to_string())
    }) {
        let body = format!(
            "BEGIN\n  RAISE EXCEPTION 'rehearse predicted that this rollback fails: %. Nothing was changed; see report.md.', {};\nEND\n",
            literal(&reason)
        );
        let _ = writeln!(out, "DO {};", dollar_quote(&body));
        return out;
    }
    let all = ctx.affected();
    let indexes = temporary_indexes(ctx);
    // Three stages. Unlocked, while other sessions read and write: the drift guard's digests,
    // the orphans before, the temporary indexes (each keeps writers out of its own table from
    // its build on). SHARE ROW EXCLUSIVE on every touched table then keeps other writers out
    // until COMMIT: a cheap re-check proves that nobody wrote since the digests, and the row
    // statements run while readers go on. ACCESS EXCLUSIVE, which stops readers too, from the
    // first DDL statement to the end.
    let exclusive = table_list([&ctx.models.name, &ctx.services.name]);
    out.push_str("-- locks: the drift guard runs first without locks; other sessions cannot write to the tables of the\n-- SHARE ROW EXCLUSIVE lock from then until COMMIT, and cannot read the tables of the ACCESS EXCLUSIVE\n-- lock from the rollback's first DDL statement on, after its row statements.\n");
    out.push_str("BEGIN;\nSET LOCAL lock_timeout = '10s';\nSET LOCAL statement_timeout = '30min';\n");
    keepers(ctx, &mut out);
    let mut body = String::from(
        "DECLARE\n  n bigint;\n  digest text;\n  horizon xid8;\n  horizon_age integer;\n  next_age integer;\n  written boolean;\n  inventory_before text[];\n  vanished text[];\n  missing text;\n  writes_from timestamptz;\n  exclusive_from timestamptz;\n",
    );
    for i in 0..all.len() {
        let _ = writeln!(body, "  before_{i} bigint;\n  nulls_{i} bigint;");
    }
    for i in 0..indexes.len() {
        let _ = writeln!(body, "  indexed_{i} boolean := false;");
    }
    body.push_str("BEGIN\n");
    let total = version_column_count(ctx);
    let _ = write!(
        body,
        "  SELECT count(*) INTO n FROM {};\n  IF n = 0 THEN\n    RAISE NOTICE 'rehearse: the version columns are gone: this database is already rolled back. Nothing was changed.';\n    RETURN;\n  END IF;\n  IF n <> {total} THEN\n    RAISE EXCEPTION 'rehearse: only % of the {total} version columns remain: the database is partially rolled back. Nothing was changed.', n;\n  END IF;\n",
        version_columns(ctx)
    );
    let _ = writeln!(
        body,
        "  -- drift guard: the keepers below were chosen on these rows, {}",
        comment(&keeper_order(plan))
    );
    let guard = drift_guard(ctx);
    body.push_str(&guard);
    body.push_str(&backups_present(ctx));
    let v3_before = ctx.spec.orphaned_services(&ctx.services.name.quoted(), &ctx.models.name.quoted());
    let _ = writeln!(
        body,
        "  CREATE TEMP TABLE {ORPHANS_BEFORE} ON COMMIT DROP AS {};\n  ANALYZE {ORPHANS_BEFORE};",
        sql::named_orphans(&v3_before)
    );
    body.push_str("  writes_from := clock_timestamp();\n");
    for (i, index) in indexes.iter().enumerate() {
        let columns: Vec<String> = index.columns.iter().map(|c| quote_ident(c)).collect();
        let _ = writeln!(
            body,
            "  BEGIN\n    CREATE INDEX {} ON {} ({});\n    indexed_{i} := true;\n  EXCEPTION WHEN insufficient_privilege OR lock_not_available OR duplicate_table THEN\n    RAISE NOTICE 'rehearse: no temporary index on {} ({}): %. Each deleted row scans that table instead.', SQLERRM;\n  END;",
            quote_ident(&index.name.name),
            index.table.quoted(),
            columns.join(", "),
            index.table.to_string().replace('\'', "''").replace('%', "%%"),
            index.columns.join(", ").replace('\'', "''").replace('%', "%%"),
        );
    }
    let _ = writeln!(body, "  LOCK TABLE {} IN SHARE ROW EXCLUSIVE MODE;", table_list(all.iter().map(|t| &t.name)));
    body.push_str(&recheck(ctx, &guard, &v3_before));
    for (i, table) in all.iter().enumerate() {
        let _ = writeln!(body, "  SELECT count(*) INTO before_{i} FROM ONLY {};", table.name.quoted());
        if let Some(nulls) = null_refs(ctx, table) {
            let _ = writeln!(body, "  SELECT count(*) INTO nulls_{i} FROM {nulls};");
        }
    }
    let guarded = guarded_tables(plan);
    let _ = writeln!(body, "  inventory_before := {};", inventory(&guarded));
    // The row statements before the DDL, each group in the replay's order: PostgreSQL's result
    // is the same (see README, "The emitted scripts on PostgreSQL"), and readers wait only for
    // the DDL and the checks.
    let (rows, ddl): (Vec<&StepPrediction>, Vec<&StepPrediction>) =
        plan.ddl.iter().partition(|p| !p.step.changes_schema());
    for prediction in rows {
        body.push_str(&statement(ctx, prediction));
    }
    // The DDL changes no row: the row counts are checked before readers are stopped.
    for (i, table) in all.iter().enumerate() {
        let name = table.name.to_string();
        let deleted = rows_deleted(ctx, &table.name);
        let _ = writeln!(body, "  SELECT before_{i} - count(*) INTO n FROM ONLY {};", table.name.quoted());
        body.push_str(&expect_count("n", deleted, &format!("the number of rows deleted from {name}")));
        if let Some(nulls) = null_refs(ctx, table) {
            let changed = plan.cascade_changed.get(&name).copied().unwrap_or(0);
            let _ = writeln!(body, "  SELECT count(*) - nulls_{i} INTO n FROM {nulls};");
            body.push_str(&expect_count("n", changed, &format!("the number of rows of {name} set to NULL")));
        }
    }
    let _ =
        writeln!(body, "  exclusive_from := clock_timestamp();\n  LOCK TABLE {exclusive} IN ACCESS EXCLUSIVE MODE;");
    for prediction in ddl {
        body.push_str(&statement(ctx, prediction));
    }
    for (i, index) in indexes.iter().enumerate() {
        let _ = writeln!(body, "  IF indexed_{i} THEN\n    DROP INDEX IF EXISTS {};\n  END IF;", index.name.quoted());
    }
    body.push_str(&inventory_check(plan, &guarded));
    verification(ctx, &mut body, Some(&sql::known_orphan(ORPHANS_BEFORE)));
    let _ = writeln!(
        body,
        "  RAISE NOTICE 'rehearse: rollback applied as rehearsed: {} models rows and {} services deleted, verification passed.';",
        plan.models_before - plan.models_after,
        plan.services_before - plan.services_after
    );
    let _ = write!(
        body,
        "  RAISE NOTICE '{LOCK_NOTICE} writes blocked for % s (SHARE ROW EXCLUSIVE{}), reads blocked for % s (ACCESS EXCLUSIVE on {}{}); unlocked checks before them % s',\n    round(extract(epoch FROM clock_timestamp() - writes_from)::numeric, 3), round(extract(epoch FROM clock_timestamp() - exclusive_from)::numeric, 3), round(extract(epoch FROM writes_from - now())::numeric, 3);\nEND\n",
        if indexes.is_empty() { "" } else { ", and SHARE from the build of each temporary index" },
        exclusive.replace('\'', "''").replace('%', "%%"),
        if indexes.is_empty() { "" } else { ", then on the tables of the temporary indexes it drops" }
    );
    let _ = writeln!(out, "DO {};", dollar_quote(&body));
    out.push_str("COMMIT;\n");
    out
}

/// The drift guard: row counts and digests of models and services, computed as the rehearsal
/// computed them; raises when the database is not the one rehearsed. `horizon` keeps the oldest
/// transaction that the first digest could not see: every row written since has an `xmin` from
/// it on.
fn drift_guard(ctx: &Context) -> String {
    let plan = ctx.plan;
    let [model_cols, service_cols] = ctx.spec.fingerprint_columns(ctx.models, ctx.services);
    let fp = &plan.fingerprint;
    let mut guard = String::new();
    for (table, cols, rows, expected, horizon) in [
        (ctx.models, &model_cols, fp.models_rows, &fp.models_digest, ", pg_snapshot_xmin(pg_current_snapshot())"),
        (ctx.services, &service_cols, fp.services_rows, &fp.services_digest, ""),
    ] {
        let _ = write!(
            guard,
            "  SELECT f.row_count, f.digest{horizon} INTO n, digest{into} FROM ({}) f;\n  IF n <> {rows} OR digest <> {lit} THEN\n    RAISE EXCEPTION 'rehearse: drift: % has % rows (digest %), the rehearsed export had {rows} ({expected}). This database is not the one rehearsed; nothing was changed.', {name}, n, digest;\n  END IF;\n",
            sql::fingerprint(&table.name.quoted(), cols, &cols[..1], sql::FINGERPRINT_CHUNK),
            into = if horizon.is_empty() { "" } else { ", horizon" },
            lit = literal(expected),
            name = literal(&table.name.to_string()),
        );
    }
    guard
}

/// Under SHARE ROW EXCLUSIVE: models and services still hold the rows that the drift guard saw
/// when they hold as many and none was written since its horizon (an `xmin` from the horizon up
/// to the next transaction id; a row frozen long ago whose `xmin` falls there by wraparound only
/// makes it look written). One scan of each, no digest. Otherwise the guard runs again, now
/// under the lock, and the orphans before are taken again.
fn recheck(ctx: &Context, guard: &str, v3_before: &str) -> String {
    let fp = &ctx.plan.fingerprint;
    let mut out = String::from(
        "  horizon_age := age(horizon::xid);\n  next_age := age(pg_snapshot_xmax(pg_current_snapshot())::xid);\n  written := false;\n",
    );
    for (table, rows) in [(ctx.models, fp.models_rows), (ctx.services, fp.services_rows)] {
        let _ = writeln!(
            out,
            "  SELECT written OR count(*) <> {rows} OR coalesce(bool_or(age(xmin) <= horizon_age AND age(xmin) > next_age), false) INTO written FROM {};",
            table.name.quoted()
        );
    }
    let _ = write!(
        out,
        "  IF written THEN\n    RAISE NOTICE 'rehearse: rows were written since the drift guard ran: it runs again, under the lock';\n{}    DELETE FROM {ORPHANS_BEFORE};\n    INSERT INTO {ORPHANS_BEFORE} {}\n  END IF;\n",
        guard.lines().map(|l| format!("  {l}\n")).collect::<String>(),
        sql::named_orphans(v3_before) + ";"
    );
    out
}

/// One statement of the rollback, as the DDL replay walked it; the objects the operator asked
/// to drop with a column (`--drop-dependents`) are dropped by name just before it.
fn statement(ctx: &Context, prediction: &StepPrediction) -> String {
    let (m, s) = (&ctx.spec.models, &ctx.spec.services);
    let mut out = String::new();
    if ctx.plan.drop_dependents {
        for dropped in &prediction.dropped {
            let _ = writeln!(out, "  {};", explicit_drop(&dropped.object));
        }
    }
    let _ = match &prediction.step {
        Step::DropIndex { index } => writeln!(out, "  DROP INDEX IF EXISTS {};", index.quoted()),
        Step::DropConstraint { table, name } => {
            writeln!(out, "  ALTER TABLE {} DROP CONSTRAINT IF EXISTS {};", table.quoted(), quote_ident(name))
        }
        Step::TouchServices { table } => writeln!(
            out,
            "  IF {observed} THEN\n    UPDATE {quoted} SET {mid} = {mid} WHERE {touched};\n  END IF;",
            observed = update_observed(table),
            quoted = table.quoted(),
            mid = quote_ident(&s.model_id),
            touched = sql::model_exists(&s.model_id, &ctx.models.name.quoted(), &m.model_id)
        ),
        Step::DeleteVersions { table } => writeln!(
            out,
            "  DELETE FROM {} x WHERE NOT EXISTS (SELECT 1 FROM rehearse_keepers k WHERE k.id = x.{});",
            table.quoted(),
            quote_ident(&m.id)
        ),
        Step::DeleteOrphans { table } => writeln!(
            out,
            "  DELETE FROM {} s WHERE {};",
            table.quoted(),
            sql::orphan_condition("s", &s.model_id, &ctx.models.name.quoted(), &m.model_id, Dialect::Postgres)
        ),
        Step::DropColumns { table, columns } => {
            let list: Vec<String> = columns.iter().map(|c| format!("DROP COLUMN {}", quote_ident(c))).collect();
            writeln!(out, "  ALTER TABLE {} {};", table.quoted(), list.join(", "))
        }
        Step::AddUnique { table, name, columns } => {
            let columns: Vec<String> = columns.iter().map(|c| quote_ident(c)).collect();
            writeln!(
                out,
                "  ALTER TABLE {} ADD CONSTRAINT {} UNIQUE ({});",
                table.quoted(),
                quote_ident(name),
                columns.join(", ")
            )
        }
        // The script's own COMMIT ends it, after the verification.
        Step::Commit => Ok(()),
    };
    out
}

/// Whether anything in `table`'s database sees the shipped script's `UPDATE … SET model_id =
/// model_id`: an enabled trigger on UPDATE or a rule on UPDATE (they fire on each row or once),
/// a constraint not yet validated (the new row versions are checked against it), or inheritors
/// (their own triggers and rules). Without any of them the statement changes no value and
/// PostgreSQL's result is the same without it, so it is skipped: it rewrites every service.
fn update_observed(table: &TableName) -> String {
    let oid = regclass(table);
    format!(
        "EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = {oid} AND NOT tgisinternal AND tgenabled <> 'D' AND tgtype & 16 <> 0)\n     OR EXISTS (SELECT 1 FROM pg_rewrite WHERE ev_class = {oid} AND ev_type = '2')\n     OR EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = {oid} AND NOT convalidated)\n     OR EXISTS (SELECT 1 FROM pg_inherits WHERE inhparent = {oid})"
    )
}

fn explicit_drop(object: &SchemaObject) -> String {
    let name = TableName::new(&object.schema, &object.name).quoted();
    match (object.kind, &object.table) {
        (ObjectKind::Constraint, Some(table)) => {
            format!("ALTER TABLE {} DROP CONSTRAINT IF EXISTS {}", table.quoted(), quote_ident(&object.name))
        }
        (ObjectKind::Statistics, _) => format!("DROP STATISTICS IF EXISTS {name}"),
        _ => format!("DROP INDEX IF EXISTS {name}"),
    }
}

/// The tables whose columns the rollback drops: their objects are inventoried.
fn guarded_tables(plan: &Plan) -> Vec<TableName> {
    plan.ddl
        .iter()
        .filter_map(|p| match &p.step {
            Step::DropColumns { table, .. } => Some(table.clone()),
            _ => None,
        })
        .collect()
}

fn regclass(table: &TableName) -> String {
    format!("{}::regclass", literal(&table.quoted()))
}

/// Every index, constraint, statistics object, column, trigger, policy and owned sequence of
/// `tables`, as text: what the rollback may take along without naming it. NOT NULL constraints
/// (catalogued from PostgreSQL 18 on, contype 'n') belong to their column and go with it.
fn inventory(tables: &[TableName]) -> String {
    let oids: Vec<String> = tables.iter().map(regclass).collect();
    let oids = oids.join(", ");
    format!(
        "(SELECT coalesce(array_agg(o ORDER BY o), '{{}}') FROM (\
         SELECT 'index ' || n.nspname || '.' || c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace WHERE i.indrelid IN ({oids}) \
         UNION ALL SELECT 'constraint ' || conrelid::regclass::text || '.' || conname FROM pg_constraint WHERE conrelid IN ({oids}) AND contype <> 'n' \
         UNION ALL SELECT 'statistics ' || stxnamespace::regnamespace::text || '.' || stxname FROM pg_statistic_ext WHERE stxrelid IN ({oids}) \
         UNION ALL SELECT 'column ' || attrelid::regclass::text || '.' || attname FROM pg_attribute WHERE attrelid IN ({oids}) AND attnum > 0 AND NOT attisdropped \
         UNION ALL SELECT 'trigger ' || tgrelid::regclass::text || '.' || tgname FROM pg_trigger WHERE tgrelid IN ({oids}) AND NOT tgisinternal \
         UNION ALL SELECT 'policy ' || polrelid::regclass::text || '.' || polname FROM pg_policy WHERE polrelid IN ({oids}) \
         UNION ALL SELECT 'sequence ' || d.objid::regclass::text FROM pg_depend d JOIN pg_class q ON q.oid = d.objid AND q.relkind = 'S' WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass AND d.refobjid IN ({oids}) AND d.deptype IN ('a', 'i')\
         ) x(o))"
    )
}

/// Raises when an object of the guarded tables vanished that no statement names: PostgreSQL
/// dropped it silently with a column (H18), and the operator did not ask for that.
fn inventory_check(plan: &Plan, tables: &[TableName]) -> String {
    let mut named: Vec<String> = Vec::new();
    let in_table = |kind: &str, table: &TableName, name: &str| {
        format!("'{kind} ' || {}::text || '.' || {}", regclass(table), literal(name))
    };
    for prediction in &plan.ddl {
        match &prediction.step {
            Step::DropIndex { index } => named.push(literal(&format!("index {}.{}", index.schema, index.name))),
            Step::DropConstraint { table, name } => {
                named.push(in_table("constraint", table, name));
                named.push(literal(&format!("index {}.{name}", table.schema)));
            }
            Step::DropColumns { table, columns } => {
                named.extend(columns.iter().map(|c| in_table("column", table, c)));
            }
            _ => {}
        }
        for dropped in prediction.dropped.iter().filter(|_| plan.drop_dependents) {
            let o = &dropped.object;
            match (o.kind, &o.table) {
                (ObjectKind::Constraint, Some(table)) => {
                    named.push(in_table("constraint", table, &o.name));
                    named.push(literal(&format!("index {}.{}", o.schema, o.name)));
                }
                (ObjectKind::Statistics, _) => named.push(literal(&format!("statistics {}.{}", o.schema, o.name))),
                _ => named.push(literal(&format!("index {}.{}", o.schema, o.name))),
            }
        }
    }
    format!(
        "  SELECT coalesce(array_agg(o ORDER BY o), '{{}}') INTO vanished FROM (SELECT unnest(inventory_before) EXCEPT SELECT unnest({}) EXCEPT SELECT unnest(ARRAY[{}]::text[])) x(o);\n  IF cardinality(vanished) > 0 THEN\n    RAISE EXCEPTION 'rehearse: the rollback would also drop objects that it does not name: %. Nothing was changed; see report.md (H18).', array_to_string(vanished, ', ');\n  END IF;\n",
        inventory(tables),
        named.join(", ")
    )
}

pub fn verify(ctx: &Context) -> String {
    let mut out = header(ctx, "03_verify.sql", "the guide's verification, failing loudly");
    let m = &ctx.spec.models;
    let backup = rehearse_backup(&ctx.models.name);
    let before = format!(
        "EXISTS (SELECT 1 FROM {} b WHERE {})",
        backup.quoted(),
        sql::same_text(&format!("CAST(b.{} AS VARCHAR)", quote_ident(&m.model_id)), "v.model_id")
    );
    let mut body = String::from("DECLARE\n  n bigint;\nBEGIN\n");
    // A service is orphaned by the rollback when its model_id had a row before (the backup).
    let _ = write!(
        body,
        "  IF to_regclass({}) IS NULL THEN\n    RAISE EXCEPTION 'rehearse: {} is missing: run 01_backup.sql before the rollback, or V3 cannot tell old orphans from new';\n  END IF;\n",
        literal(&backup.quoted()),
        backup.to_string().replace('\'', "''").replace('%', "%%")
    );
    let mut checks = String::new();
    verification(ctx, &mut checks, None);
    body.push_str(&checks);
    let v3 = ctx.spec.orphaned_services(&ctx.services.name.quoted(), &ctx.models.name.quoted());
    let _ = write!(
        body,
        "  SELECT count(*) INTO n FROM ({v3}) v(service_id, model_id) WHERE {before};\n  IF n > 0 THEN\n    RAISE EXCEPTION 'rehearse: V3 failed: the rollback orphaned % services', n;\n  END IF;\n  RAISE NOTICE 'rehearse: verification passed (V1, V2, V3 caused by the rollback)';\nEND\n"
    );
    let _ = writeln!(out, "DO {};", dollar_quote(&body));
    out
}

pub fn restore_version(ctx: &Context) -> String {
    let mut out = header(ctx, "04_restore_version.sql", "restore one deleted version from 01_backup.sql's copy");
    out.push_str(&restore::function(ctx));
    out
}

pub fn cleanup(ctx: &Context) -> String {
    let mut out = header(ctx, "05_cleanup.sql", "drop the backups once the rollback is verified and accepted");
    out.push_str("BEGIN;\n");
    let affected = ctx.affected().into_iter().map(|t| rehearse_backup(&t.name));
    for backup in affected.chain(restore::backups_it_may_create(ctx)) {
        let _ = writeln!(out, "DROP TABLE IF EXISTS {};", backup.quoted());
    }
    let _ = writeln!(out, "DROP TABLE IF EXISTS {};", keep_mapping(ctx).quoted());
    let _ = writeln!(out, "DROP FUNCTION IF EXISTS {};\nCOMMIT;", restore::SIGNATURE);
    out
}
