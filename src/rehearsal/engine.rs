//! Replays the rollback on a workspace and builds the plan: keepers under both policies, the
//! deletes and everything foreign keys make of them, what services end up serving, the guide's
//! verification on the simulated result, and every hazard with its rows.

use super::ddl_replay::{self, Replay, RowFailures};
use super::effects::{self, Seed, CHANGED, DELETED};
use super::facts::{
    show, Facts, FastHash, GroupChoice, Interner, ModelRow, ModelsOrder, RidBits, ServiceFact, TableRefs, TextsBy,
};
use super::keeper_collation;
use super::keepers::{self, Places, SpilledPlaces};
use super::policy::{Policy, VersionRow};
use super::rules::{ServicesIn, ServicesStored};
use super::{arrow_columns, fk_violations, rules, steps};
use crate::catalog::objects::{shown, ColumnOf, Event, InsteadRule, ObjectKind};
use crate::catalog::{quote_ident, Catalog, Table, TableName};
use crate::error::{Error, Result};
use crate::parallel::beside;
use crate::pgtype::DuckType;
use crate::plan::*;
use crate::spec::{rehearse_backup, Spec};
use crate::sql::{self, literal, Col, Dialect, Rows};
use crate::terms::HazardCode;
use crate::workspace::{release_freed_memory, TableStat, Workspace};
use duckdb::Connection;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::OnceLock;

#[derive(Debug, Clone)]
pub struct Options {
    pub policy: Policy,
    pub mode: Mode,
    pub delete_orphans: bool,
    /// The collation of `--collation`; `None`: the export's, or C when it says none.
    pub collation: Option<String>,
    /// Drop, explicitly, the objects that PostgreSQL drops silently with the version columns
    /// (H18); without it the emitted script refuses to lose them.
    pub drop_dependents: bool,
    /// Whether the steps run side by side; the plan is the same either way.
    pub schedule: Schedule,
}

/// Whether the rehearsal's steps run side by side (faster) or one after the other (less memory).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Schedule {
    /// Side by side up to `plan::SIDE_BY_SIDE_ROWS` models and services rows, else one after the
    /// other.
    #[default]
    BySize,
    SideBySide,
    /// As a large export's, whatever the size: the tests rehearse small exports so too.
    OneAfterAnother,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            policy: Policy::Documented,
            mode: Mode::Full,
            delete_orphans: false,
            collation: None,
            drop_dependents: false,
            schedule: Schedule::BySize,
        }
    }
}

/// The names of the row statements' phases in the effects tables.
pub const VERSIONS_PHASE: &str = "versions";
pub const ORPHANS_PHASE: &str = "orphans";

/// Services taken into one run on a large export: 65 536 take about 6 MB.
const SERVICES_RUN: usize = 1 << 16;

/// V3's rows before the rollback, as 02_rollback.sql keeps them.
const ORPHANS_BEFORE: &str = "_plan_orphans_before";
/// And after.
const ORPHANS_AFTER: &str = "_plan_orphans_after";

/// A services row as it comes in, its model_id where the batch holds it.
struct ServiceRow<'a> {
    rid: i64,
    /// Borrowed: a service is named by its id only when it has no service_id.
    id: Option<&'a str>,
    service_id: Option<Shared>,
    name: Option<Shared>,
    model_id: Option<&'a str>,
    /// One shared text per distinct version pinned.
    pin: Option<Shared>,
}

/// A column read as text, whatever its DuckDB type.
fn text(column: &str) -> String {
    format!("CAST({} AS VARCHAR)", quote_ident(column))
}

fn epoch_micros(table: &Table, column: &str) -> String {
    let pg_type = table.column(column).map(|c| c.pg_type.as_str()).unwrap_or("text");
    match DuckType::of(pg_type) {
        DuckType::Timestamp | DuckType::TimestampTz | DuckType::Date => {
            format!("epoch_us(CAST({} AS TIMESTAMP))", quote_ident(column))
        }
        _ => format!("epoch_us(TRY_CAST({} AS TIMESTAMP))", quote_ident(column)),
    }
}

/// The id as the keepers order it: its text (NULL as ''), or a uuid itself, which DuckDB
/// orders as its text (fixed-width lowercase hex) and compares far faster; NULL there.
fn id_order(table: &Table, column: &str) -> String {
    match table.column(column).map(|c| DuckType::of(&c.pg_type)) {
        Some(DuckType::Uuid) => quote_ident(column),
        _ => format!("coalesce({}, '')", text(column)),
    }
}

/// The models rows as keepers.rs reads them: every column it needs as text, created_at in
/// epoch microseconds, the flags as booleans, and the id's sort key.
fn models_query(spec: &Spec, table: &Table) -> String {
    let m = &spec.models;
    format!(
        "SELECT rowid AS rid, coalesce({}, '') AS id, {} AS id_order, {} AS model_id, {} AS version, {} AS status, {} AS created_at, TRY_CAST({} AS BOOLEAN) AS immutable, TRY_CAST({} AS BOOLEAN) AS published, {} AS notes FROM {}",
        text(&m.id),
        id_order(table, &m.id),
        text(&m.model_id),
        text(&m.version),
        text(&m.status),
        epoch_micros(table, &m.created_at),
        quote_ident(&m.is_immutable),
        quote_ident(&m.is_published),
        text(&m.release_notes),
        table.name.quoted()
    )
}

/// The services rows in rowid order, each handed to `each` as it comes in.
fn load_services(
    conn: &Connection,
    spec: &Spec,
    table: &Table,
    mut each: impl FnMut(ServiceRow) -> Result<()>,
) -> Result<()> {
    let s = &spec.services;
    let sql = format!(
        "SELECT rowid, {}, {}, {}, {}, {} FROM {}",
        text(&s.id),
        text(&s.service_id),
        text(&s.name),
        text(&s.model_id),
        text(&s.model_version),
        table.name.quoted()
    );
    let mut stmt = conn.prepare(&sql)?;
    let (mut names, mut pins) = (Interner::default(), Interner::default());
    let mut last_rid = -1;
    for batch in stmt.stream_arrow([])? {
        let batch = batch?;
        let rid = arrow_columns::integers(&batch, 0)?;
        let rid = arrow_columns::without_nulls(&batch, 0, rid)?;
        let texts = |i| arrow_columns::texts(&batch, i);
        let (id, service_id, name, model_id, pin) = (texts(1)?, texts(2)?, texts(3)?, texts(4)?, texts(5)?);
        for i in 0..batch.num_rows() {
            // A table's scan gives its rows in rowid order: the workspace keeps the insertion
            // order (its session's preserve_insertion_order).
            if rid.value(i) <= last_rid {
                return Err(Error::Internal(format!(
                    "the scan of {} gave rowid {} after {last_rid}",
                    table.name,
                    rid.value(i)
                )));
            }
            last_rid = rid.value(i);
            each(ServiceRow {
                rid: rid.value(i),
                id: arrow_columns::borrowed(id, i),
                service_id: arrow_columns::shared(service_id, i),
                name: arrow_columns::borrowed(name, i).map(|n| names.get(n)),
                model_id: arrow_columns::borrowed(model_id, i),
                pin: arrow_columns::borrowed(pin, i).map(|p| pins.get(p)),
            })?;
        }
    }
    Ok(())
}

fn count(conn: &Connection, sql: &str) -> Result<u64> {
    let n: i64 = conn.query_row(&format!("SELECT count(*) FROM ({sql})"), [], |r| r.get(0))?;
    Ok(n as u64)
}

pub(crate) fn strings(conn: &Connection, sql: &str) -> Result<Vec<(String, String)>> {
    let mut stmt = conn.prepare(sql)?;
    let rows = stmt.query_map([], |r| {
        Ok((r.get::<_, Option<String>>(0)?.unwrap_or_default(), r.get::<_, Option<String>>(1)?.unwrap_or_default()))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The text that identifies a row of `table` in reports: its primary key, or all its columns.
pub(super) fn row_key(catalog: &Catalog, table: &Table, alias: &str) -> String {
    let pk = catalog
        .primary_key(&table.name)
        .map(<[String]>::to_vec)
        .unwrap_or_else(|| table.columns.iter().map(|c| c.name.clone()).collect());
    let parts: Vec<String> = pk.iter().map(|c| format!("CAST({alias}.{} AS VARCHAR)", quote_ident(c))).collect();
    format!("concat_ws(', ', {})", parts.join(", "))
}

/// What every stage of one rehearsal reads: the connection, the catalog, the spec, the options,
/// and the two tables the rollback is about.
struct Rehearsal<'a> {
    conn: &'a Connection,
    catalog: &'a Catalog,
    spec: &'a Spec,
    options: &'a Options,
    models: &'a Table,
    services: &'a Table,
    loaded: BTreeSet<TableName>,
    models_table: Shared,
    services_table: Shared,
}

/// The rows other tables lose or see changed through foreign keys, with per-table counts.
struct Cascade {
    rows: CascadeRows,
    deleted: BTreeMap<String, u64>,
    changed: BTreeMap<String, u64>,
}

pub fn rehearse(workspace: &Workspace, spec: &Spec, options: &Options) -> Result<Plan> {
    let catalog = workspace.catalog()?;
    let (models, services) = spec.resolve(&catalog).map_err(Error::Spec)?;
    let stats = workspace.table_stats()?;
    let decided_rows: u64 =
        stats.iter().filter(|s| s.table == models.name || s.table == services.name).filter_map(|s| s.rows).sum();
    let side = match options.schedule {
        Schedule::BySize => runs_side_by_side(decided_rows),
        Schedule::SideBySide => true,
        Schedule::OneAfterAnother => false,
    };
    let steps = || rehearse_steps(workspace, spec, options, &catalog, (models, services), &stats, side);
    // On a small export the steps run two at a time, a query on each connection: both cores
    // are busy with them, and DuckDB's workers would only take CPU from the other query.
    if side {
        callers_only(workspace.connection(), steps)
    } else {
        steps()
    }
}

/// The rehearsal of `rehearse`, on the `(models, services)` tables of `catalog` that the spec
/// names; `side`: its steps run side by side.
fn rehearse_steps(
    workspace: &Workspace,
    spec: &Spec,
    options: &Options,
    catalog: &Catalog,
    (models, services): (&Table, &Table),
    stats: &[TableStat],
    side: bool,
) -> Result<Plan> {
    let r = Rehearsal {
        conn: workspace.connection(),
        catalog,
        spec,
        options,
        models,
        services,
        loaded: stats.iter().filter(|s| s.loaded).map(|s| s.table.clone()).collect(),
        models_table: models.name.to_string().into(),
        services_table: services.name.to_string().into(),
    };
    effects::create_for(r.conn, catalog)?;
    let version_column = models
        .column(&spec.models.version)
        .ok_or_else(|| Error::Spec(format!("table {} has no column {}", models.name, spec.models.version)))?;
    let collation =
        keeper_collation::resolve(options.collation.as_deref(), version_column, catalog.database_collation.as_deref())?;
    // The fingerprint reads only the workspace's tables. On a small export it is taken on a
    // second connection while the keepers are placed and the deletes simulated: its last part,
    // one md5 over every row's text, is a single thread's work, which they keep the other core
    // busy beside. On a large export their memory adds up: one after the other, the tables'
    // cache let go between.
    let models_query = models_query(spec, models);
    let collation_name = collation.collator.name();
    let read_groups =
        |conn: &Connection, places: &Places| keepers::read_groups(conn, &models_query, collation_name, places);
    let (fingerprint, models_rows, (blockers, row_failures)) = if side {
        // The deletes need only the rows not kept: the models rows come in on a second
        // connection meanwhile.
        let keepers_and_deletes =
            |places| side_by_side(r.conn, |conn| read_groups(conn, &places), || r.simulate_deletes());
        let (fingerprint, (groups, deletes)) = side_by_side(
            r.conn,
            |conn| fingerprint(conn, spec, models, services),
            || keepers_and_deletes(keepers::place(r.conn, &models_query, &collation)?),
        )?;
        keepers::forget(r.conn)?;
        (fingerprint, ModelsRows::Read(groups), deletes)
    } else {
        let fingerprint = fingerprint(r.conn, spec, models, services)?;
        workspace.release_table_cache()?;
        let places = keepers::place_on_disk(r.conn, &models_query, &collation)?;
        release(workspace)?;
        let deletes = r.simulate_deletes()?;
        keepers::forget(r.conn)?;
        release(workspace)?;
        (fingerprint, ModelsRows::Spilled(places), deletes)
    };
    let steps =
        steps::rollback(spec, &models.name, &services.name, options.policy, options.mode, options.delete_orphans);
    let dropped: Vec<ColumnOf> = [(models, &spec.drop.models_columns), (services, &spec.drop.services_columns)]
        .iter()
        .flat_map(|(table, columns)| columns.iter().map(|c| ColumnOf::new(&table.name, c)))
        .collect();
    let replay = ddl_replay::replay(catalog, &steps, row_failures, &dropped, options.drop_dependents);
    let deleted_models = rid_set(r.conn, &models.name)?;
    let deleted_services = rid_set(r.conn, &services.name)?;
    // The rows of the lists that follow take the room of the cached tables (twice: the queries
    // between read some back).
    workspace.release_table_cache()?;
    let checks = || -> Result<_> {
        let verification = r.verify(&replay)?;
        let cascade = r.cascade(&mut Interner::default())?;
        let predicted_failure = r.earlier_backups(&cascade)?.or_else(|| predicted_failure(&replay));
        Ok((verification, cascade, predicted_failure))
    };
    let hazard_tables = TableRefs::default();
    // A macro, not a closure: the facts borrow the cascade given, which a closure's signature
    // cannot say.
    macro_rules! facts_without_rows {
        ($verification:expr, $cascade:expr) => {
            Facts {
                catalog,
                spec,
                policy: options.policy,
                models,
                services,
                models_table: &r.models_table,
                services_table: &r.services_table,
                loaded: &r.loaded,
                steps: &steps,
                rows: &[],
                choices: &[],
                deleted_models: &deleted_models,
                cascade: &$cascade.rows,
                blockers: &blockers,
                replay: &replay,
                duplicates: $verification.v2.count,
                models_order: OnceLock::new(),
                null_model_id: OnceLock::new(),
                tables: &hazard_tables,
            }
        };
    }
    let mut found = rules::Found::default();
    // The plan has all it reads from the rehearsal's tables: their room goes to the lists built
    // last.
    let effects_then_drop = || -> Result<RowEffects> {
        let effects = effects::recorded(r.conn)?;
        r.conn.execute_batch(&format!(
            "DROP TABLE {DELETED}; DROP TABLE {CHANGED}; DROP TABLE {ORPHANS_BEFORE}; DROP TABLE {ORPHANS_AFTER};"
        ))?;
        release(workspace)?;
        Ok(effects)
    };
    // On a large export DuckDB's largest joins and sorts run before the models rows come in
    // (their memory, and that of the deletes and the keepers' tables, let go first): each
    // peaked about as high as the other did with both held. So do the rules that read the
    // rehearsal's tables and no models rows, and the tables go before the rows come in. Else the
    // services' rows come in on a second connection while the checks run, and the order of the
    // models rows' hazards is made there.
    let (checked, early_effects) = if side {
        (None, None)
    } else {
        let checked = checks()?;
        rules::find(&facts_without_rows!(checked.0, checked.1), r.conn, rules::queries_tables_only, &mut found)?;
        (Some(checked), Some(effects_then_drop()?))
    };
    let (rows, choices) = match models_rows {
        ModelsRows::Read(groups) => groups,
        ModelsRows::Spilled(places) => {
            let places = places.load()?;
            workspace.scan_uncached(|| read_groups(r.conn, &places))?
        }
    };
    let reading = ServicesReading {
        spec,
        table: services,
        mode: options.mode,
        policy: options.policy,
        rows: &rows,
        choices: &choices,
        deleted: &deleted_services,
    };
    let services_of = |conn: &Connection, each: &mut dyn FnMut(ServiceFact) -> Result<()>| reading.facts(conn, each);
    let all_services = |conn: &Connection| -> Result<Vec<ServiceFact>> {
        let mut all = Vec::new();
        services_of(conn, &mut |service| {
            all.push(service);
            Ok(())
        })?;
        Ok(all)
    };
    let ((verification, cascade, predicted_failure), early) = match checked {
        Some(checked) => (checked, None),
        None => {
            let (early, checked) = side_by_side(
                r.conn,
                |conn| Ok((all_services(conn)?, ModelsOrder::new(&rows, &deleted_models))),
                checks,
            )?;
            (checked, Some(early))
        }
    };
    workspace.release_table_cache()?;
    let (early_services, models_order) = early.unzip();
    let facts = Facts {
        rows: &rows,
        choices: &choices,
        models_order: models_order.map(OnceLock::from).unwrap_or_default(),
        ..facts_without_rows!(verification, cascade)
    };
    // Every rule but the services'; on a large export those querying the workspace first, alone
    // (H15 finds a row per deleted version, and the others' rows would come on top).
    if !side {
        rules::find(&facts, r.conn, rules::queries_workspace, &mut found)?;
    }
    rules::find(&facts, r.conn, |_| true, &mut found)?;
    // On a large export the services' rows come in last, a run at a time, never all held.
    let services_in = match early_services {
        Some(all) => {
            let mut services_in = ServicesIn::new(&facts, SERVICES_RUN);
            all.into_iter().try_for_each(|service| services_in.take(service))?;
            services_in
        }
        None => {
            let services_in = workspace.scan_uncached(|| {
                let mut services_in = ServicesIn::new(&facts, SERVICES_RUN);
                services_of(r.conn, &mut |service| services_in.take(service))?;
                Ok(services_in)
            })?;
            // The services table was the last one read: its room goes to the lists made last.
            workspace.drop_table_cache()?;
            services_in
        }
    };
    let ServicesStored { list: services_list, by_action: services_by_action } = services_in.finish(&mut found)?;
    let hazards = found.hazards(&hazard_tables)?;
    let services_before = services_list.len() as u64;
    let divergence = divergence(&rows, &choices);
    let collation_sensitive =
        choices.iter().filter(|c| c.collation_sensitive).map(|c| model_id_text(&rows[c.members.first()].row)).collect();
    let models_before = rows.len() as u64;
    let kept_and_deleted = || keep_and_delete(rows, &choices, &deleted_models, options.policy);
    let (KeptAndDeleted { kept, deleted, keepers }, effects) = match early_effects {
        Some(effects) => (kept_and_deleted()?, effects),
        // Else the lists are made while the effects are read and the tables dropped.
        None => beside(kept_and_deleted, effects_then_drop)?,
    };
    Ok(Plan {
        policy: options.policy,
        mode: options.mode,
        delete_orphans: options.delete_orphans,
        collation: collation.collator.name().to_string(),
        collation_source: collation.source.clone(),
        collation_alternatives: collation.alternatives.iter().map(|c| c.name().to_string()).collect(),
        input: workspace.provenance()?,
        fingerprint,
        models_before,
        models_after: models_before - deleted_models.count() as u64,
        services_before,
        services_after: services_before - deleted_services.count() as u64,
        kept,
        deleted,
        keepers,
        services: services_list,
        services_by_action,
        cascade: cascade.rows,
        cascade_by_parent: by_parent(catalog, &cascade.deleted),
        cascade_deleted: cascade.deleted,
        cascade_changed: cascade.changed,
        effects,
        divergence,
        collation_sensitive,
        hazards,
        verification,
        predicted_failure,
        ddl: replay.steps,
        drop_dependents: options.drop_dependents,
    })
}

/// The models rows with their groups' choices, read, or still to read from the keepers' places
/// on disk.
enum ModelsRows {
    Read((Vec<ModelRow>, Vec<GroupChoice>)),
    Spilled(SpilledPlaces),
}

/// Lets go of DuckDB's cached tables and of the memory that the queries before freed.
fn release(workspace: &Workspace) -> Result<()> {
    workspace.release_table_cache()?;
    release_freed_memory();
    Ok(())
}

/// Runs `job` on a second connection to the workspace of `conn` while `main` runs here.
fn side_by_side<A: Send, B>(
    conn: &Connection,
    job: impl FnOnce(&Connection) -> Result<A> + Send,
    main: impl FnOnce() -> Result<B>,
) -> Result<(A, B)> {
    let second = conn.try_clone()?;
    beside(move || job(&second), main)
}

/// Runs `work` with DuckDB's worker threads stood down (`threads` is the database's setting, for
/// every connection): each query runs on its caller alone. A caller whose query's last task runs
/// on a worker polls the executor in a loop meanwhile (about a tenth of the fingerprint's CPU).
fn callers_only<T>(conn: &Connection, work: impl FnOnce() -> Result<T>) -> Result<T> {
    let threads: i64 = conn.query_row("SELECT current_setting('threads')", [], |row| row.get(0))?;
    conn.execute_batch("SET threads = 1")?;
    let done = work();
    let restored = conn.execute_batch(&format!("SET threads = {threads}"));
    let value = done?;
    restored?;
    Ok(value)
}

/// Rows deleted per table with partitions or inheritance children, its descendants' included.
fn by_parent(catalog: &Catalog, deleted: &BTreeMap<String, u64>) -> BTreeMap<String, u64> {
    catalog
        .tables
        .iter()
        .filter(|t| catalog.children_of(&t.name).next().is_some())
        .map(|t| {
            let rows = catalog.row_holders(&t.name).iter().filter_map(|h| deleted.get(&h.to_string())).sum();
            (t.name.to_string(), rows)
        })
        .filter(|(_, rows)| *rows > 0)
        .collect()
}

fn rule_object(rule: &InsteadRule, reason: String) -> FailingObject {
    FailingObject {
        hazard: HazardCode::H17,
        object: rule.describe(),
        detail: format!("{} (DO INSTEAD) {reason}", rule.describe()),
        table: rule.table.to_string(),
        definition: rule.definition.clone(),
    }
}

/// What the services are read against: the models rows with their groups' choices, and the
/// services rows that the rollback deletes.
struct ServicesReading<'a> {
    spec: &'a Spec,
    table: &'a Table,
    mode: Mode,
    policy: Policy,
    rows: &'a [ModelRow],
    choices: &'a [GroupChoice],
    deleted: &'a RidBits,
}

impl ServicesReading<'_> {
    /// What each service serves afterwards, and whether its model and its pin existed, each
    /// handed to `each` as it comes in.
    fn facts(&self, conn: &Connection, each: &mut dyn FnMut(ServiceFact) -> Result<()>) -> Result<()> {
        let (mode, rows, deleted_services) = (self.mode, self.rows, self.deleted);
        // Rows are grouped by model_id: a service's model is a group, its pin one of its rows.
        // Each group's model_id and the version its services serve afterwards are one text,
        // shared by its services.
        let groups: HashMap<&str, (&GroupChoice, &Shared, Option<Shared>), FastHash> = self
            .choices
            .iter()
            .filter_map(|c| {
                let model_id = rows[c.members.first()].row.model_id.as_ref()?;
                let after = match mode {
                    Mode::Full => rows[c.keeper(self.policy)].row.version.clone(),
                    Mode::Selective => None,
                };
                Some((&**model_id, (c, model_id, after)))
            })
            .collect();
        let version = |member: usize| rows[member].row.version.as_deref();
        load_services(conn, self.spec, self.table, |svc| {
            let group = svc.model_id.and_then(|id| groups.get(id));
            let pin_existed = match (group, svc.pin.as_deref()) {
                (Some((group, ..)), Some(pin)) => group.members.iter().any(|m| version(m) == Some(pin)),
                _ => false,
            };
            let after = group.and_then(|(_, _, after)| after.clone());
            let model_id = match group {
                Some((_, model_id, _)) => Some(Shared::clone(model_id)),
                None => svc.model_id.map(Shared::from),
            };
            let action = if deleted_services.contains(svc.rid) {
                ServiceAction::Deleted
            } else if group.is_none() {
                ServiceAction::Orphan
            } else if mode == Mode::Selective || after.as_deref() == svc.pin.as_deref() {
                ServiceAction::Unchanged
            } else {
                ServiceAction::Repointed
            };
            each(ServiceFact {
                known_model: group.is_some(),
                pin_existed,
                impact: ServiceImpact {
                    key: svc.service_id.clone().unwrap_or_else(|| svc.id.map(Shared::from).unwrap_or_default()),
                    service_id: svc.service_id,
                    name: svc.name,
                    model_id,
                    model_version_before: svc.pin,
                    model_version_after: after,
                    action,
                },
            })
        })
    }
}

/// The first statement that fails, in PostgreSQL's words.
fn predicted_failure(replay: &Replay) -> Option<String> {
    let (index, step, failure) = replay.first_failure()?;
    let details: Vec<&str> = failure.objects.iter().map(|o| o.detail.as_str()).collect();
    Some(format!(
        "statement {} of the rollback, `{}`, fails with SQLSTATE {}: {} ({})",
        index + 1,
        step.sql,
        failure.sqlstate,
        failure.message,
        details.join("; ")
    ))
}

impl Rehearsal<'_> {
    /// Marks the deletes, and all that the foreign keys make of them, in the plan's temp tables,
    /// one statement (phase) at a time; returns the foreign keys that would refuse them, and
    /// how each statement fails.
    fn simulate_deletes(&self) -> Result<(Vec<effects::Blocker>, RowFailures)> {
        let mut blockers = Vec::new();
        let mut failures = RowFailures::default();
        let (conn, catalog, loaded) = (self.conn, self.catalog, &self.loaded);
        if self.options.mode == Mode::Full {
            effects::seed(
                conn,
                VERSIONS_PHASE,
                &self.models.name,
                Seed::Rowids(&keepers::not_kept(self.options.policy)),
                effects::NOT_KEPT,
            )?;
            effects::cascade(conn, catalog, loaded, VERSIONS_PHASE)?;
            failures.delete_versions =
                self.close_phase(VERSIONS_PHASE, &self.models.name, "the models DELETE", &mut blockers)?;
            failures.delete_versions.refuse("the models DELETE", self.forced_row_security(&self.models.name));
        }
        if self.options.delete_orphans {
            let post_models = effects::post_relation(catalog, &self.models.name);
            effects::seed(
                conn,
                ORPHANS_PHASE,
                &self.services.name,
                Seed::Matching(&sql::orphan_condition(
                    "t",
                    &self.spec.services.model_id,
                    &post_models,
                    &self.spec.models.model_id,
                    Dialect::DuckDb,
                )),
                effects::ORPHAN_DELETE,
            )?;
            effects::cascade(conn, catalog, loaded, ORPHANS_PHASE)?;
            failures.delete_orphans =
                self.close_phase(ORPHANS_PHASE, &self.services.name, "the services DELETE", &mut blockers)?;
            failures.delete_orphans.refuse("the services DELETE", self.forced_row_security(&self.services.name));
        }
        let touch_rules = catalog
            .objects
            .instead_rules
            .iter()
            .filter(|r| r.table == self.services.name && r.event == Event::Update)
            .map(|r| rule_object(r, "rewrites the UPDATE of every service".into()))
            .collect();
        failures.touch_services.refuse("the services UPDATE", touch_rules);
        failures.touch_services.refuse("the services UPDATE", self.forced_row_security(&self.services.name));
        Ok((blockers, failures))
    }

    /// Ends the row statement of `phase`, which deletes rows of `root`: its SET NULL / SET
    /// DEFAULT effects and blockers, and what PostgreSQL makes of them.
    fn close_phase(
        &self,
        phase: &str,
        root: &TableName,
        statement: &str,
        blockers: &mut Vec<effects::Blocker>,
    ) -> Result<ddl_replay::StatementOutcome> {
        let found = effects::consequences(self.conn, self.catalog, &self.loaded, phase)?;
        let mut outcome = fk_violations::statement_outcome(self.conn, self.catalog, phase, root, &found)?;
        blockers.extend(found);
        outcome.refuse(statement, self.rewriting_rules(phase)?);
        Ok(outcome)
    }

    /// Forced row-level security on the table a statement of the rollback names: its policies
    /// filter the rows even for the table's owner, unless a superuser runs it; rehearse cannot
    /// tell who will. (A foreign key's own statements bypass it.)
    fn forced_row_security(&self, table: &TableName) -> Vec<FailingObject> {
        if !self.catalog.objects.forced_row_security(table) {
            return Vec::new();
        }
        let policies: Vec<String> = self
            .catalog
            .objects
            .objects
            .iter()
            .filter(|o| o.kind == ObjectKind::Policy && o.table.as_ref() == Some(table))
            .map(|o| o.definition.trim().to_string())
            .collect();
        let object = format!("row-level security on table {}", shown(table));
        vec![FailingObject {
            hazard: HazardCode::H17,
            detail: format!(
                "{object} is forced: its policies filter the rows of the rollback's statements unless a superuser runs them"
            ),
            table: table.to_string(),
            definition: format!("ALTER TABLE {} FORCE ROW LEVEL SECURITY; {}", table.quoted(), policies.join(" ")),
            object,
        }]
    }

    /// The DO INSTEAD rules that rewrite what a phase's statement does to rows: on its own
    /// table, or on one that a foreign key's action deletes from or updates (PostgreSQL rewrites
    /// those statements too).
    fn rewriting_rules(&self, phase: &str) -> Result<Vec<FailingObject>> {
        let mut found = Vec::new();
        for rule in &self.catalog.objects.instead_rules {
            let rows = if rule.event == Event::Delete { DELETED } else { CHANGED };
            let n = count(
                self.conn,
                &format!(
                    "SELECT count(*) FROM {rows} WHERE tbl = {} AND phase = {}",
                    literal(&rule.table.to_string()),
                    literal(phase)
                ),
            )?;
            if n > 0 {
                found.push(rule_object(rule, format!("rewrites the {} of {n} rows", rule.event.sql())));
            }
        }
        Ok(found)
    }

    /// The rows of other tables that the foreign keys delete or change.
    fn cascade(&self, texts: &mut Interner) -> Result<Cascade> {
        let models = literal(&self.models.name.to_string());
        // Each table is queried only for the effects it has rows in.
        let with_rows: BTreeMap<(String, String), i64> = self
            .conn
            .prepare(&format!(
                "SELECT '{DELETED}', tbl, count(*) FROM {DELETED} WHERE tbl <> {models} GROUP BY tbl UNION ALL SELECT '{CHANGED}', tbl, count(*) FROM {CHANGED} GROUP BY tbl"
            ))?
            .query_map([], |r| Ok(((r.get(0)?, r.get(1)?), r.get(2)?)))?
            .collect::<Result<_, _>>()?;
        let mut cascade = Cascade { rows: CascadeRows::default(), deleted: BTreeMap::new(), changed: BTreeMap::new() };
        let tables = self.loaded.iter().filter(|t| **t != self.models.name).filter_map(|t| self.catalog.table(t));
        for table in tables {
            let key = row_key(self.catalog, table, "t");
            let table_name = texts.get(&table.name.to_string());
            let name = literal(&table_name);
            for (effects, action, counts) in
                [(DELETED, "'deleted'", &mut cascade.deleted), (CHANGED, "d.action", &mut cascade.changed)]
            {
                let Some(&rows) = with_rows.get(&(effects.to_string(), table_name.to_string())) else { continue };
                // A row per effect row (one per row and foreign key).
                cascade.rows.reserve(rows as usize);
                let mut stmt = self.conn.prepare(&format!(
                    "SELECT {key}, CAST(d.via AS VARCHAR), {action} FROM {} t JOIN {effects} d ON d.tbl = {name} AND d.rid = t.rowid",
                    table.name.quoted()
                ))?;
                // A table's rows come through a few foreign keys: an effect is looked up once per
                // run of rows that repeat it.
                for batch in stmt.stream_arrow([])? {
                    let batch = batch?;
                    let mut last: Option<((&str, &str), u32)> = None;
                    let column = |i| arrow_columns::texts(&batch, i);
                    let (keys, vias, actions) = (column(0)?, column(1)?, column(2)?);
                    for i in 0..batch.num_rows() {
                        let (action, via) =
                            (arrow_columns::value_or_empty(actions, i), arrow_columns::value_or_empty(vias, i));
                        let effect = match last {
                            Some((seen, effect)) if seen == (action, via) => effect,
                            _ => {
                                let effect = cascade.rows.effect(CascadeEffect {
                                    table: table_name.clone(),
                                    action: texts.get(action),
                                    via: texts.get(via),
                                });
                                last.insert(((action, via), effect)).1
                            }
                        };
                        cascade.rows.push(arrow_columns::value_or_empty(keys, i), effect)?;
                    }
                }
                // In the key's text order, as DuckDB orders VARCHAR (and a uuid, as its text);
                // sorted here, the texts are not held twice while DuckDB sorts them (50 MB at
                // this step of issue 17's 2 GB dump, 25 MB of its peak). Then spilled: only the
                // reports read them again.
                let rows = cascade.rows.end_run()?;
                if rows > 0 {
                    counts.insert(table.name.to_string(), rows as u64);
                }
            }
        }
        Ok(cascade)
    }

    /// The guide's verification V1-V3 on the simulated result.
    fn verify(&self, replay: &Replay) -> Result<Verification> {
        let (spec, models, services) = (self.spec, self.models, self.services);
        let post_models = effects::post_relation(self.catalog, &models.name);
        let post_services = effects::post_relation(self.catalog, &services.name);
        // V1 reads the simulated catalog: every column still there after the DDL replay (all
        // of them when a statement fails and the transaction is rolled back).
        let still_there = &replay.remaining;
        let v1 = Check::counting(
            still_there.len() as u64,
            format!(
                "{} of the {} version columns remain{}",
                still_there.len(),
                spec.drop.models_columns.len() + spec.drop.services_columns.len(),
                if replay.first_failure().is_some() {
                    " (a statement fails: the transaction is rolled back)"
                } else {
                    ""
                }
            ),
        );
        let duplicates = count(self.conn, &sql::duplicate_model_ids(&post_models, &spec.models.model_id))?;
        let v2 = match self.options.mode {
            Mode::Full => Check::counting(duplicates, format!("{duplicates} model_ids appear more than once")),
            Mode::Selective => Check {
                applicable: false,
                ..Check::counting(duplicates, format!("selective rollback keeps every version: {duplicates} model_ids keep several rows and UNIQUE(model_id) is not restored"))
            },
        };
        let v3_before = spec.orphaned_services(&services.name.quoted(), &models.name.quoted());
        self.conn.execute_batch(&format!(
            "CREATE OR REPLACE TEMP TABLE {ORPHANS_BEFORE} AS {}",
            sql::named_orphans(&v3_before)
        ))?;
        let v3_after = spec.orphaned_services(&post_services, &post_models);
        // Taken once, then counted and compared with the rows before.
        self.conn.execute_batch(&format!(
            "CREATE OR REPLACE TEMP TABLE {ORPHANS_AFTER} AS {}",
            sql::named_orphans(&v3_after)
        ))?;
        let orphans = count(self.conn, &format!("SELECT * FROM {ORPHANS_AFTER}"))?;
        let v3_after = format!("SELECT service_id, model_id FROM {ORPHANS_AFTER}");
        let caused = count(self.conn, &sql::caused_orphans(&v3_after, ORPHANS_BEFORE))?;
        let v3 = Check::counting(
            orphans,
            format!("{orphans} services reference a model_id absent from models (the guide's LEFT JOIN)"),
        );
        let v3_caused = Check::counting(caused, format!("{caused} of them orphaned by the rollback itself"));
        Ok(Verification { v1, v2, v3, v3_caused })
    }

    /// 01_backup.sql's refusal (ROLLBACK.md §7): rehearse's own backups from an earlier run that
    /// differ from the live rows of a table it backs up.
    fn earlier_backups(&self, cascade: &Cascade) -> Result<Option<String>> {
        let touched = cascade.deleted.keys().chain(cascade.changed.keys());
        let affected: Vec<&Table> = [self.models, self.services]
            .into_iter()
            .chain(self.catalog.tables.iter().filter(|t| touched.clone().any(|name| *name == t.name.to_string())))
            .collect();
        let mut stale = Vec::new();
        for table in affected {
            let name = rehearse_backup(&table.name);
            let Some(backup) = self.catalog.table(&name).filter(|b| self.loaded.contains(&b.name)) else { continue };
            let names = |t: &Table| t.columns.iter().map(|c| c.name.clone()).collect::<Vec<_>>();
            if names(backup) != names(table) {
                stale.push(format!("{name} (other columns)"));
                continue;
            }
            let (live_name, copy_name) = (table.name.quoted(), backup.name.quoted());
            let live = Rows { relation: &live_name, alias: "t", only: true };
            let copy = Rows { relation: &copy_name, alias: "b", only: false };
            let differs = count(self.conn, &sql::rows_missing(live, copy, Dialect::DuckDb))?
                + count(self.conn, &sql::rows_missing(copy, live, Dialect::DuckDb))?;
            if differs > 0 {
                stale.push(format!("{name} (other rows)"));
            }
        }
        Ok((!stale.is_empty()).then(|| {
            format!(
                "01_backup.sql refuses: backup tables from an earlier run differ from the live rows: {}. Drop or rename them, then rehearse again",
                stale.join(", ")
            )
        }))
    }
}

/// A row's model_id as the plan's lists of models have it.
fn model_id_text(row: &VersionRow) -> Option<String> {
    row.model_id.as_deref().map(str::to_string)
}

/// The models whose keeper differs between the two policies.
fn divergence(rows: &[ModelRow], choices: &[GroupChoice]) -> Vec<Divergence> {
    choices
        .iter()
        .filter(|c| c.documented.keeper != c.legacy.keeper)
        .map(|c| {
            let (d, l) = (&rows[c.keeper(Policy::Documented)].row, &rows[c.keeper(Policy::Legacy)].row);
            Divergence {
                model_id: model_id_text(d),
                documented_id: d.id.to_string(),
                documented_version: d.version.clone(),
                legacy_id: l.id.to_string(),
                legacy_version: l.version.clone(),
            }
        })
        .collect()
}

/// Keepers and deleted versions, built last: their text moves out of `rows` instead of being
/// copied (on a large export these are most of the plan's memory). The rows are taken from the
/// end (the last group's rows are the last rows) and their list shrinks as it empties, so the
/// rows and the lists made of them are not held whole at once; the lists are then turned
/// around into the groups' order.
fn keep_and_delete(
    mut rows: Vec<ModelRow>,
    choices: &[GroupChoice],
    deleted_models: &RidBits,
    policy: Policy,
) -> Result<KeptAndDeleted> {
    let mut kept = Vec::with_capacity(rows.len().saturating_sub(deleted_models.count()));
    let mut deleted = Vec::with_capacity(deleted_models.count());
    let mut keepers = Vec::new();
    let selective_reason: Shared = "selective: every version kept".into();
    // A few distinct reasons for every keeper.
    let mut keeper_reasons = TextsBy::default();
    // Shrunk in steps of a sixteenth: a large list shrinks in place, and its tail's pages go
    // back at once (the allocator would keep them for seconds: while the lists made of the rows
    // grow, about 20 MiB of a 5.4 GB export's); a small one is not worth it.
    let step = (rows.len() / 16).max(4096);
    // The groups come last first: their keepers are numbered from the end, then turned round.
    for choice in choices.iter().rev() {
        let keeper = choice.keeper(policy);
        let chosen_reason = &choice.chosen(policy).reason;
        let keeper_reason = keeper_reasons.get(&**chosen_reason, || format!("{}: {chosen_reason}", policy.name()));
        let group_deletes = deleted.len();
        let (kept_id, kept_version) = (rows[keeper].row.id.clone(), rows[keeper].row.version.clone());
        // Groups number at most the models rows, which `keepers::place` checks fit in 32 bits.
        let place = keepers.len() as u32;
        for member in choice.members.iter().rev() {
            let r = rows
                .pop()
                .filter(|_| member == rows.len())
                .ok_or_else(|| Error::Internal(format!("models row {member} is not where its group's rows end")))?;
            if !deleted_models.contains(r.rid.into()) {
                kept.push(KeptVersion {
                    id: r.row.id,
                    model_id: r.row.model_id,
                    version: r.row.version,
                    version_status: r.row.status,
                    reason: if member == keeper { keeper_reason.clone() } else { selective_reason.clone() },
                });
            } else {
                deleted.push(DeletedVersion {
                    id: r.row.id,
                    model_id: r.row.model_id,
                    version: r.row.version,
                    version_status: r.row.status,
                    release_notes: r.notes,
                    is_immutable: r.immutable,
                    is_published: r.published,
                    is_keeper: member == keeper,
                    keeper: place,
                });
            }
        }
        if deleted.len() > group_deletes {
            let reason = format!("{} keeps {} ({})", policy.name(), show(&kept_version), chosen_reason).into();
            keepers.push(Keeper { id: kept_id, version: kept_version, reason });
        }
        if rows.capacity() - rows.len() >= step {
            rows.shrink_to_fit();
            release_freed_memory();
        }
    }
    if !rows.is_empty() {
        return Err(Error::Internal(format!("{} models rows belong to no group", rows.len())));
    }
    kept.reverse();
    deleted.reverse();
    keepers.reverse();
    let last = keepers.len() as u32;
    for d in &mut deleted {
        d.keeper = last - 1 - d.keeper;
    }
    Ok(KeptAndDeleted { kept, deleted, keepers })
}

/// The models rows as the plan lists them.
struct KeptAndDeleted {
    kept: Vec<KeptVersion>,
    deleted: Vec<DeletedVersion>,
    keepers: Vec<Keeper>,
}

fn rid_set(conn: &Connection, table: &TableName) -> Result<RidBits> {
    arrow_columns::rid_bits(conn, &format!("SELECT rid FROM {DELETED} WHERE tbl = {}", literal(&table.to_string())))
}

/// Row counts and digests of the rows the rollback decides on (same SQL as the drift guard).
fn fingerprint(conn: &Connection, spec: &Spec, models: &Table, services: &Table) -> Result<Fingerprint> {
    let [model_cols, service_cols] = spec.fingerprint_columns(models, services);
    let digest = |table: &Table, columns: &[Col]| -> Result<(u64, String)> {
        super::fingerprint::digest(conn, &table.name.quoted(), columns, &columns[..1], sql::FINGERPRINT_CHUNK)
    };
    let (models_rows, models_digest) = digest(models, &model_cols)?;
    let (services_rows, services_digest) = digest(services, &service_cols)?;
    Ok(Fingerprint { models_rows, models_digest, services_rows, services_digest })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn threads(conn: &Connection) -> i64 {
        conn.query_row("SELECT current_setting('threads')", [], |row| row.get(0)).unwrap()
    }

    #[test]
    fn callers_only_runs_without_workers_and_restores_them() {
        let workspace = Workspace::in_memory().unwrap();
        let conn = workspace.connection();
        conn.execute_batch("SET threads = 3").unwrap();
        let inside = callers_only(conn, || Ok(threads(conn))).unwrap();
        assert_eq!((inside, threads(conn)), (1, 3));
        let failed = callers_only(conn, || -> Result<()> { Err(Error::Internal("stop".into())) });
        assert!(failed.is_err());
        assert_eq!(threads(conn), 3);
    }

    #[test]
    fn each_deleted_row_names_what_its_group_keeps() {
        use super::rules::sample::{groups, model};
        let mut rows = vec![
            model(0, "m1", Some("1.0"), "active"),
            model(1, "m1", Some("2.0"), "active"),
            model(2, "m2", Some("1.0"), "active"),
            model(3, "m3", Some("1.0"), "active"),
            model(4, "m3", Some("3.0"), "active"),
            model(5, "m3", Some("2.0"), "active"),
            model(6, "m4", Some("0.1"), "active"),
            model(7, "m4", Some("0.2"), "active"),
        ];
        let choices = groups(&mut rows);
        // m3's keeper goes too, through a foreign key.
        let deleted_models = RidBits::from_iter([0, 3, 4, 5, 6]);
        let KeptAndDeleted { kept, deleted, keepers } =
            keep_and_delete(rows, &choices, &deleted_models, Policy::Documented).unwrap();
        let mut named: Vec<(String, String, Option<String>, String)> = deleted
            .iter()
            .map(|d| {
                let (keeper, reason) = d.kept_instead(&keepers);
                (d.id.to_string(), keeper.id.to_string(), keeper.version.as_deref().map(str::to_string), reason.into())
            })
            .collect();
        named.sort();
        let kept_as = |id: &str, version: &str| (id.to_string(), Some(version.to_string()));
        let expected = [
            ("v0", kept_as("v1", "2.0")),
            ("v3", kept_as("v4", "3.0")),
            ("v4", kept_as("v4", "3.0")),
            ("v5", kept_as("v4", "3.0")),
            ("v6", kept_as("v7", "0.2")),
        ];
        for ((id, kept_id, kept_version, reason), (want_id, (want_kept, want_version))) in named.iter().zip(&expected) {
            assert_eq!((id, kept_id, kept_version), (&want_id.to_string(), want_kept, want_version));
            let keeps = format!("documented keeps {:?} (", want_version.as_deref().unwrap());
            assert_eq!(reason == DELETED_THROUGH_FOREIGN_KEY, id == "v4", "{id}: {reason}");
            assert!(id == "v4" || reason.starts_with(&keeps), "{id}: {reason}");
        }
        assert_eq!(named.len(), expected.len());
        // One keeper per group that loses rows: m2 loses none.
        assert_eq!(keepers.len(), 3);
        let mut kept_ids: Vec<String> = kept.iter().map(|k| k.id.to_string()).collect();
        kept_ids.sort();
        assert_eq!(kept_ids, ["v1", "v2", "v7"]);
    }
}
