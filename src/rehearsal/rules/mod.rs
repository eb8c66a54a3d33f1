//! The hazards of ROLLBACK.md §4, one rule a file: its code, the unit its count is in, what it
//! means, what to do, and (with the engine) the function that finds its rows in the
//! rehearsal's facts. A new hazard is a new file, its name in `rules!` below and its code in
//! `terms::hazard_codes!`.

use crate::terms::HazardCode;
#[cfg(feature = "engine")]
use {
    super::facts::{ByKey, Facts, ServiceFact, TableRefs},
    crate::error::{Error, Result},
    crate::plan::{CodeRows, HazardRow, Hazards, ServiceAction, ServiceImpact, Shared, StoredRows, TableRef},
    crate::stored_list::{ListWriter, StoredList},
    duckdb::Connection,
};

pub struct Rule {
    pub code: HazardCode,
    pub unit: &'static str,
    pub title: &'static str,
    pub help: &'static str,
    /// The hazard's rows, found in the facts.
    #[cfg(feature = "engine")]
    pub(crate) find: Find,
}

/// How a rule finds its rows.
#[cfg(feature = "engine")]
pub(crate) enum Find {
    /// In the facts in memory only.
    Facts(fn(&Facts) -> Result<Rows>),
    /// Querying the workspace besides, on one of its connections.
    Workspace(fn(&Facts, &Connection) -> Result<Rows>),
    /// Querying the workspace's tables and the rehearsal's (its deletes and changes), without
    /// the models rows: on a large export before those are read, so that the rehearsal's tables
    /// can go first (`Facts::rows` is empty for them then).
    Tables(fn(&Facts, &Connection) -> Result<Rows>),
    /// In the facts in memory and a run of the services rows (`ServicesIn`): on a large export
    /// each run as it comes in, the services never held at once. Its rows are found as they
    /// come (`Rows::AsFound`), those of every run put together.
    Services(fn(&Facts, &[ServiceFact]) -> Result<Rows>),
}

/// A rule's rows: in key order already, or as found; or as found, and the cascade's rows of
/// the effects `by_effect` names (with their table and detail), `cascade_rows` in all.
#[cfg(feature = "engine")]
pub(crate) enum Rows {
    ByKey(ByKey),
    AsFound(Vec<HazardRow>),
    WithCascade { rows: Vec<HazardRow>, by_effect: Vec<Option<(TableRef, Shared)>>, cascade_rows: usize },
}

#[cfg(feature = "engine")]
impl From<ByKey> for Rows {
    fn from(rows: ByKey) -> Self {
        Rows::ByKey(rows)
    }
}

#[cfg(feature = "engine")]
impl From<Vec<HazardRow>> for Rows {
    fn from(rows: Vec<HazardRow>) -> Self {
        Rows::AsFound(rows)
    }
}

/// Declares each rule's module and `RULES`, in code order.
macro_rules! rules {
    ($($rule:ident),+ $(,)?) => {
        $(mod $rule;)+

        /// Every rule, in code order.
        pub const RULES: [Rule; HazardCode::ALL.len()] = [$($rule::RULE),+];
    };
}

rules!(
    h01_semantic_order,
    h02_loose_status,
    h03_no_active,
    h04_unparseable,
    h05_tie,
    h06_pinned_deleted,
    h07_dangling_pin,
    h08_orphan_service,
    h09_foreign_keys,
    h10_immutable,
    h11_published,
    h12_release_notes,
    h13_unique_constraint,
    h14_stale_backup,
    h15_unrestorable,
    h16_triggers,
    h17_failing_objects,
    h18_dropped_silently,
);

/// The rule of a code as summary.json spells it.
pub fn info(code: &str) -> Option<&'static Rule> {
    RULES.iter().find(|r| r.code == code)
}

/// The rules' rows found so far, by place in `RULES`.
#[cfg(feature = "engine")]
pub(crate) struct Found(Vec<Option<StoredRows>>);

#[cfg(feature = "engine")]
impl Default for Found {
    fn default() -> Self {
        Found(RULES.iter().map(|_| None).collect())
    }
}

#[cfg(feature = "engine")]
impl Found {
    /// Every rule's rows, by code (rows by key, those of one key in the order found).
    pub(crate) fn hazards(self, tables: &TableRefs) -> Result<Hazards> {
        let mut hazards = Hazards::naming(tables.take());
        for (rule, rows) in RULES.iter().zip(self.0) {
            let rows = rows.ok_or_else(|| Error::Internal(format!("{} was not run", rule.code)))?;
            hazards.set(rule.code, rows);
        }
        Ok(hazards)
    }
}

/// Whether a rule queries the workspace.
#[cfg(feature = "engine")]
pub(crate) fn queries_workspace(rule: &Rule) -> bool {
    matches!(rule.find, Find::Workspace(_) | Find::Tables(_))
}

/// Whether a rule reads no models rows (it queries the tables only).
#[cfg(feature = "engine")]
pub(crate) fn queries_tables_only(rule: &Rule) -> bool {
    matches!(rule.find, Find::Tables(_))
}

/// Runs the rules that `chosen` picks and `found` has no rows of yet, but those of the services
/// (`ServicesIn`): those querying the workspace here on `conn` (the rehearsal's tables are its
/// temp tables), first; the others each on the next free one of two threads. A rule of the
/// workspace run once the rehearsal's tables are dropped fails on them; it cannot pass
/// unnoticed.
#[cfg(feature = "engine")]
pub(crate) fn find(facts: &Facts, conn: &Connection, chosen: fn(&Rule) -> bool, found: &mut Found) -> Result<()> {
    let (mut workspace, mut in_memory) = (Vec::new(), Vec::new());
    for (place, rule) in RULES.iter().enumerate().filter(|(i, rule)| chosen(rule) && found.0[*i].is_none()) {
        match rule.find {
            Find::Workspace(find) | Find::Tables(find) => workspace.push((place, find)),
            Find::Facts(find) => in_memory.push((place, find)),
            Find::Services(_) => {}
        }
    }
    // The rules reading the workspace use its connection, here; the others are shared out.
    let (here, elsewhere) = crate::parallel::share(
        &in_memory,
        2,
        || {
            workspace
                .iter()
                .map(|&(place, find)| Ok((place, held(place, find(facts, conn))?)))
                .collect::<Result<Vec<_>>>()
        },
        |&(place, find)| Ok((place, held(place, find(facts))?)),
    );
    for (place, rows) in here?.into_iter().chain(elsewhere.into_iter().collect::<Result<Vec<_>>>()?) {
        found.0[place] = Some(rows);
    }
    Ok(())
}

/// The services as they come in, a run at a time: the services' rules find their rows in each
/// run, then its services go to the plan's list, on disk, so that they are never all held.
#[cfg(feature = "engine")]
pub(crate) struct ServicesIn<'f, 'a> {
    facts: &'f Facts<'a>,
    /// How many services a run takes.
    run_len: usize,
    run: Vec<ServiceFact>,
    list: ListWriter<ServiceImpact>,
    by_action: [u64; ServiceAction::ALL.len()],
    /// Each services' rule's rows so far, by its place in `RULES`.
    rows: Vec<(usize, Vec<HazardRow>)>,
}

/// The services as `ServicesIn` stored them, and how many each action has.
#[cfg(feature = "engine")]
pub(crate) struct ServicesStored {
    pub list: StoredList<ServiceImpact>,
    pub by_action: [u64; ServiceAction::ALL.len()],
}

#[cfg(feature = "engine")]
impl<'f, 'a> ServicesIn<'f, 'a> {
    pub(crate) fn new(facts: &'f Facts<'a>, run_len: usize) -> Self {
        ServicesIn {
            facts,
            run_len: run_len.max(1),
            run: Vec::new(),
            list: StoredList::writer(),
            by_action: [0; ServiceAction::ALL.len()],
            rows: Vec::new(),
        }
    }

    /// Takes the next service (in the services table's order).
    pub(crate) fn take(&mut self, service: ServiceFact) -> Result<()> {
        self.run.push(service);
        if self.run.len() == self.run_len {
            self.hand_on()?;
        }
        Ok(())
    }

    /// The run's services to the services' rules, then to the list.
    fn hand_on(&mut self) -> Result<()> {
        for (place, rule) in RULES.iter().enumerate() {
            let Find::Services(find) = rule.find else { continue };
            let Rows::AsFound(rows) = find(self.facts, &self.run)? else {
                return Err(Error::Internal(format!("{} finds services' rows in another order", rule.code)));
            };
            match self.rows.iter_mut().find(|(at, _)| *at == place) {
                Some((_, found)) => found.extend(rows),
                None => self.rows.push((place, rows)),
            }
        }
        for service in self.run.drain(..) {
            self.by_action[service.impact.action as usize] += 1;
            self.list.push(&service.impact)?;
        }
        Ok(())
    }

    /// The services stored; the rows their rules found, of every run, into `found`.
    pub(crate) fn finish(mut self, found: &mut Found) -> Result<ServicesStored> {
        self.hand_on()?;
        for (place, rows) in self.rows {
            found.0[place] = Some(held(place, Ok(Rows::AsFound(rows)))?);
        }
        Ok(ServicesStored { list: self.list.finish()?, by_action: self.by_action })
    }
}

/// The rows of the rule at `place` in `RULES`, by key, stored as the plan keeps them (on the
/// thread that found them, which then frees them).
#[cfg(feature = "engine")]
fn held(place: usize, found: Result<Rows>) -> Result<StoredRows> {
    let code = RULES[place].code;
    // Most rules find their rows by key already; the others are sorted here, stably.
    let by_key = |mut rows: Vec<HazardRow>| {
        if !rows.is_sorted_by(|a, b| a.key <= b.key) {
            rows.sort_by(|a, b| a.key.cmp(&b.key));
        }
        CodeRows::hold(code, rows).map_err(Error::Internal)
    };
    let rows = match found? {
        Rows::ByKey(rows) => return rows.into_rows_of(code).map_err(Error::Internal),
        Rows::AsFound(rows) => by_key(rows)?,
        Rows::WithCascade { rows, by_effect, cascade_rows } => by_key(rows)?.listing_cascade(by_effect, cascade_rows),
    };
    StoredRows::write(rows)
}

#[cfg(feature = "engine")]
pub(crate) fn hazard(
    code: HazardCode,
    table: crate::plan::TableRef,
    key: impl Into<crate::plan::Shared>,
    detail: impl Into<crate::plan::Shared>,
) -> HazardRow {
    HazardRow { code, table, key: key.into(), detail: detail.into() }
}

/// The deleted models rows whose boolean `marked` column holds true (H10 immutable, H11
/// published), each named "<word> version <version> deleted" (one shared text per version).
#[cfg(feature = "engine")]
pub(crate) fn deleted_marked(
    code: HazardCode,
    word: &str,
    marked: fn(&super::facts::ModelRow) -> Option<bool>,
    order: &super::facts::ModelsOrder,
    table: crate::plan::TableRef,
) -> Result<ByKey> {
    let mut texts = super::facts::TextsBy::default();
    let found = order.found_where(
        |r, deleted| deleted && marked(r) == Some(true),
        |r, _| {
            let version = &r.row.version;
            texts.get(version, || format!("{word} version {} deleted", super::facts::show(version)))
        },
    );
    order.sorted(code, table, found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_rule_per_code_in_code_order() {
        let codes: Vec<HazardCode> = RULES.iter().map(|r| r.code).collect();
        assert_eq!(codes, HazardCode::ALL);
        let texts: Vec<String> = HazardCode::ALL.iter().map(|c| c.to_string()).collect();
        assert_eq!(texts, (1..=18).map(|n| format!("H{n}")).collect::<Vec<_>>());
        assert_eq!(info("H9").unwrap().unit, "rows of other tables");
        assert!(info("H19").is_none());
    }
}

/// The rules run on one thread or two, all at once or the workspace's first, the services whole
/// or a run at a time, find the same rows.
#[cfg(all(test, feature = "engine"))]
mod find_tests {
    use super::sample::{groups, model, service, workspace_with};
    use super::*;
    use crate::plan::{CascadeRows, ServiceAction, Shared};
    use crate::rehearsal::ddl_replay::Replay;
    use crate::rehearsal::effects;
    use crate::rehearsal::facts::{RidBits, TableRefs};
    use crate::spec::Spec;
    use std::collections::BTreeSet;

    type Listed = Vec<(HazardCode, String, String, String)>;
    /// A call of `find`: the rules it picks.
    type Pass = fn(&Rule) -> bool;

    fn listed(found: Found, tables: &TableRefs) -> Listed {
        let hazards = found.hazards(tables).unwrap();
        let every = hazards.all_texts(&CascadeRows::default()).unwrap();
        every.into_iter().map(|h| (h.code, h.table, h.key, h.detail)).collect()
    }

    #[test]
    fn rules_on_two_threads_find_the_rows_of_one() {
        let (workspace, catalog) = workspace_with(&[
            (
                "models",
                &[
                    "id",
                    "model_id",
                    "version",
                    "status",
                    "created_at",
                    "is_immutable",
                    "is_published",
                    "release_notes",
                    "secret",
                ],
            ),
            ("services", &["id", "service_id", "name", "model_id", "model_version"]),
        ]);
        let conn = workspace.connection();
        conn.execute_batch(
            "INSERT INTO public.models (id, model_id, version, status, secret) VALUES
                 ('v1', 'a', '1.9.0', 'active', 's'), ('v2', 'a', '1.10.0', 'active', NULL),
                 ('v3', 'b', '2.0.0', 'active', NULL), ('v4', 'b', '1.0.0', 'Active', 't')",
        )
        .unwrap();
        effects::create(conn).unwrap();
        conn.execute_batch(
            "INSERT INTO _plan_deleted SELECT 'public.models', rowid, 'test', 'versions' FROM public.models WHERE id IN ('v2', 'v4')",
        )
        .unwrap();
        let mut models = [
            model(0, "a", Some("1.9.0"), "active"),
            model(1, "a", Some("1.10.0"), "active"),
            model(2, "b", Some("2.0.0"), "active"),
            model(3, "b", Some("1.0.0"), "Active"),
        ];
        for (i, row) in models.iter_mut().enumerate() {
            row.row.id = format!("v{}", i + 1).into();
        }
        let choices = groups(&mut models);
        let mut dangling = service("s2", Some("0.1"), Some("1.9.0"), ServiceAction::Repointed);
        dangling.pin_existed = false;
        // s9 comes first: the rows found a run at a time are listed by key all the same.
        let services = [
            service("s9", Some("1.10.0"), Some("1.9.0"), ServiceAction::Repointed),
            service("s1", Some("1.10.0"), Some("1.9.0"), ServiceAction::Repointed),
            dangling,
        ];
        let deleted = RidBits::from_iter([1, 3]);
        let replay = Replay { steps: Vec::new(), remaining: Vec::new() };
        let spec = Spec::guide();
        let (models_table, services_table): (Shared, Shared) = ("public.models".into(), "public.services".into());
        let loaded = catalog.tables.iter().map(|t| t.name.clone()).collect();
        let run = |passes: Option<&[Pass]>| -> Listed {
            let tables = TableRefs::default();
            let facts = Facts {
                catalog: &catalog,
                spec: &spec,
                policy: crate::terms::Policy::Legacy,
                models: &catalog.tables[0],
                services: &catalog.tables[1],
                models_table: &models_table,
                services_table: &services_table,
                loaded: &loaded,
                steps: &[],
                rows: &models,
                choices: &choices,
                deleted_models: &deleted,
                cascade: &CascadeRows::default(),
                blockers: &[],
                replay: &replay,
                duplicates: 1,
                models_order: Default::default(),
                null_model_id: Default::default(),
                tables: &tables,
            };
            let mut found = Found::default();
            match passes {
                // Each rule in turn on this thread, as the reference.
                None => {
                    for (place, rule) in RULES.iter().enumerate() {
                        let rows = match rule.find {
                            Find::Facts(find) => find(&facts),
                            Find::Workspace(find) | Find::Tables(find) => find(&facts, conn),
                            Find::Services(find) => find(&facts, &services),
                        };
                        found.0[place] = Some(held(place, rows).unwrap());
                    }
                }
                // The services a run of one at a time.
                Some(passes) => {
                    for &chosen in passes {
                        find(&facts, conn, chosen, &mut found).unwrap();
                    }
                    let mut services_in = ServicesIn::new(&facts, 1);
                    services.iter().try_for_each(|service| services_in.take(service.clone())).unwrap();
                    let stored = services_in.finish(&mut found).unwrap();
                    let keys = stored.list.first(usize::MAX, |s| Some((s.key.to_string(), s.action))).unwrap();
                    let expected: Vec<(String, ServiceAction)> =
                        services.iter().map(|s| (s.key().to_string(), s.impact.action)).collect();
                    assert_eq!(keys, expected, "the services stored in their order");
                    assert_eq!(stored.by_action[ServiceAction::Repointed as usize], 3);
                }
            }
            listed(found, &tables)
        };
        let one_thread = run(None);
        let codes: BTreeSet<HazardCode> = one_thread.iter().map(|h| h.0).collect();
        let expected =
            [HazardCode::H1, HazardCode::H2, HazardCode::H6, HazardCode::H7, HazardCode::H13, HazardCode::H15];
        assert!(expected.iter().all(|c| codes.contains(c)), "{one_thread:?}");
        let h6: Vec<&str> = one_thread.iter().filter(|h| h.0 == HazardCode::H6).map(|h| h.2.as_str()).collect();
        assert_eq!(h6, ["s1", "s9"]);
        assert_eq!(run(Some(&[|_| true])), one_thread);
        assert_eq!(run(Some(&[queries_workspace, |_| true])), one_thread);
        assert_eq!(run(Some(&[queries_tables_only, queries_workspace, |_| true])), one_thread);
    }

    #[test]
    fn a_rule_not_run_is_an_error() {
        let mut found = Found::default();
        found.0[0] = Some(StoredRows::default());
        assert!(found.hazards(&TableRefs::default()).is_err());
    }
}

/// Tiny facts for the rules' unit tests: models rows, groups and services without a workspace.
#[cfg(all(test, feature = "engine"))]
pub(crate) mod sample {
    use super::super::facts::{GroupChoice, ModelRow, ServiceFact};
    use super::super::keeper_collation::KeeperCollation;
    use super::super::keepers::tests::choose_dated;
    use super::super::policy::VersionRow;
    use crate::catalog::{Catalog, Column, Table, TableName};
    use crate::plan::{FailingObject, ServiceAction, ServiceImpact, Step, StepFailure, StepPrediction, TableRef};
    use crate::terms::HazardCode;
    use crate::workspace::Workspace;

    pub fn table() -> TableRef {
        TableRef::default()
    }

    pub fn model(rid: u32, model_id: &str, version: Option<&str>, status: &str) -> ModelRow {
        ModelRow {
            rid,
            row: VersionRow {
                id: format!("v{rid}").into(),
                model_id: Some(model_id.into()),
                version: version.map(Into::into),
                status: Some(status.into()),
            },
            ..ModelRow::default()
        }
    }

    /// Rows grouped by model_id, keepers chosen under both policies in C by the keeper query;
    /// `rows` are put in the groups' order, as the engine's models rows are.
    pub fn groups(rows: &mut [ModelRow]) -> Vec<GroupChoice> {
        // Created in rid order: the later row is the newer.
        let created_at: Vec<Option<i64>> = rows.iter().map(|row| Some(row.rid.into())).collect();
        let (chosen, choices) = choose_dated(rows, &created_at, &KeeperCollation::c());
        rows.clone_from_slice(&chosen);
        choices
    }

    pub fn service(id: &str, pin: Option<&str>, after: Option<&str>, action: ServiceAction) -> ServiceFact {
        ServiceFact {
            impact: ServiceImpact {
                key: id.into(),
                service_id: None,
                name: None,
                model_id: Some("m".into()),
                model_version_before: pin.map(Into::into),
                model_version_after: after.map(Into::into),
                action,
            },
            known_model: true,
            pin_existed: true,
        }
    }

    /// An object making `ALTER TABLE models DROP COLUMN version` fail.
    pub fn failing(object: &str, hazard: HazardCode) -> FailingObject {
        FailingObject {
            object: object.into(),
            detail: format!("{object} depends on a column"),
            table: "public.models".into(),
            definition: String::new(),
            hazard,
        }
    }

    /// That statement, failing on `objects`, not reached.
    pub fn prediction(objects: Vec<FailingObject>) -> StepPrediction {
        let table = TableName::new("public", "models");
        StepPrediction {
            step: Step::DropColumns { table, columns: vec!["version".into()] },
            sql: "ALTER TABLE models DROP COLUMN version".into(),
            failure: Some(StepFailure {
                sqlstate: "2BP01",
                message: "cannot drop column".into(),
                hazard: objects[0].hazard,
                objects,
                remedy: String::new(),
                next: Vec::new(),
            }),
            reached: false,
            dropped: Vec::new(),
        }
    }

    /// An in-memory workspace holding empty text tables `(name, columns)` in schema public.
    pub fn workspace_with(tables: &[(&str, &[&str])]) -> (Workspace, Catalog) {
        let mut catalog = Catalog::default();
        for (name, columns) in tables {
            let columns = columns
                .iter()
                .map(|c| Column {
                    name: c.to_string(),
                    pg_type: "text".into(),
                    not_null: false,
                    default: None,
                    generated: None,
                    collation: None,
                })
                .collect();
            catalog.tables.push(Table::new(TableName::new("public", name), columns));
        }
        let workspace = Workspace::in_memory().unwrap();
        let names: Vec<TableName> = catalog.tables.iter().map(|t| t.name.clone()).collect();
        workspace.create_tables(&catalog, &names).unwrap();
        (workspace, catalog)
    }
}
