//! The DDL replay: the rollback's statements walked in the order they run, over a simulated
//! catalog, predicting what PostgreSQL does at each. A DROP that another object depends on
//! fails (2BP01: a view, materialized view, rule, policy, trigger or generated column reading a
//! dropped column; a foreign key relying on a dropped unique index or constraint); a DROP
//! COLUMN takes along, silently, the indexes, constraints and statistics that use the column
//! (H18); ADD CONSTRAINT fails on a name already taken. Row statements fail as the foreign-key
//! effects computed in DuckDB say. Nothing here touches rows.

use crate::catalog::objects::{shown, ColumnOf, ObjectKind, SchemaObject};
use crate::catalog::{Catalog, ConstraintKind, ForeignKey, TableName};
use crate::plan::Step;
use crate::plan::{DroppedObject, FailingObject, StepFailure, StepPrediction};
use crate::terms::HazardCode;
use std::collections::BTreeSet;

/// What the foreign-key effects make of one row statement.
#[derive(Debug, Default)]
pub struct StatementOutcome {
    /// The statement fails.
    pub failure: Option<StepFailure>,
    /// Checks of DEFERRABLE INITIALLY DEFERRED keys that fail at COMMIT.
    pub at_commit: Option<StepFailure>,
    /// The tables it leaves with deferred trigger events.
    pub pending: Vec<Pending>,
}

impl StatementOutcome {
    /// rehearse cannot predict the statement: `objects` change what it does to the rows. The
    /// refusal comes first; what the foreign keys would make of it follows.
    pub fn refuse(&mut self, statement: &str, objects: Vec<FailingObject>) {
        if objects.is_empty() {
            return;
        }
        let names: Vec<&str> = objects.iter().map(|o| o.object.as_str()).collect();
        let mut refusal = StepFailure {
            sqlstate: "P0001",
            message: format!(
                "rehearse: cannot predict {statement}: {} rewrites what it does to the rows, and rehearse does not replay it",
                names.join(", ")
            ),
            hazard: HazardCode::H17,
            remedy: "for the rollback, disable the rule (ALTER TABLE … DISABLE RULE …) or row-level security (ALTER TABLE … NO FORCE ROW LEVEL SECURITY), and restore it afterwards (the definitions are below); then rehearse again".into(),
            objects,
            next: Vec::new(),
        };
        if let Some(other) = self.failure.take() {
            refusal.next.extend(other.objects.into_iter().chain(other.next));
        }
        self.failure = Some(refusal);
    }
}

/// A table with deferred trigger events queued by a deferred foreign key: PostgreSQL refuses
/// to ALTER it until COMMIT.
#[derive(Debug, Clone)]
pub struct Pending {
    pub table: TableName,
    pub key: FailingObject,
}

/// The row statements' outcomes, from the foreign-key effects.
#[derive(Debug, Default)]
pub struct RowFailures {
    pub touch_services: StatementOutcome,
    pub delete_versions: StatementOutcome,
    pub delete_orphans: StatementOutcome,
}

impl RowFailures {
    /// What fails at COMMIT: the deferred checks queued first are checked first.
    fn at_commit(&mut self) -> Option<StepFailure> {
        let (first, second) = (self.delete_versions.at_commit.take(), self.delete_orphans.at_commit.take());
        match (first, second) {
            (Some(mut first), Some(second)) => {
                first.next.extend(second.objects);
                Some(first)
            }
            (first, second) => first.or(second),
        }
    }
}

/// The replay's result.
#[derive(Debug)]
pub struct Replay {
    pub steps: Vec<StepPrediction>,
    /// The columns that remain of `dropped` afterwards (V1): all of them when a statement
    /// fails, since the transaction is then rolled back.
    pub remaining: Vec<ColumnOf>,
}

impl Replay {
    pub fn first_failure(&self) -> Option<(usize, &StepPrediction, &StepFailure)> {
        self.steps.iter().enumerate().find_map(|(i, s)| s.failure.as_ref().map(|f| (i, s, f)))
    }
}

/// The simulated catalog: which objects and columns still exist.
struct State<'c> {
    catalog: &'c Catalog,
    objects: Vec<SchemaObject>,
    alive: Vec<bool>,
    columns: BTreeSet<ColumnOf>,
}

impl<'c> State<'c> {
    fn new(catalog: &'c Catalog) -> Self {
        let objects = catalog.objects.objects.clone();
        let alive = vec![true; objects.len()];
        let columns = catalog
            .tables
            .iter()
            .flat_map(|t| t.columns.iter().map(move |c| ColumnOf::new(&t.name, &c.name)))
            .collect();
        State { catalog, objects, alive, columns }
    }

    fn live(&self) -> impl Iterator<Item = (usize, &SchemaObject)> {
        self.objects.iter().enumerate().filter(|(i, _)| self.alive[*i])
    }

    /// The live foreign keys, with their own schema object.
    fn foreign_keys(&self) -> Vec<(usize, &'c ForeignKey)> {
        self.catalog
            .constraints
            .iter()
            .filter_map(|c| match &c.kind {
                ConstraintKind::ForeignKey(fk) => {
                    let own = self.live().find(|(_, o)| {
                        o.kind == ObjectKind::Constraint && o.name == c.name && o.table.as_ref() == Some(&c.table)
                    });
                    own.map(|(i, _)| (i, fk))
                }
                _ => None,
            })
            .collect()
    }

    /// The unique index or constraint a foreign key relies on: the first of the referenced
    /// table's whose key is the referenced columns (PostgreSQL takes the oldest; a dump
    /// creates constraints before indexes).
    fn relied_on(&self, fk: &ForeignKey) -> Option<usize> {
        let wanted: BTreeSet<&String> = fk.ref_columns.iter().collect();
        let fits = |o: &SchemaObject| {
            o.table.as_ref() == Some(&fk.ref_table)
                && o.unique_key
                    .as_ref()
                    .is_some_and(|k| k.len() == wanted.len() && k.iter().collect::<BTreeSet<_>>() == wanted)
        };
        let of_kind = |kind: ObjectKind| self.live().filter(move |(_, o)| o.kind == kind && fits(o)).map(|(i, _)| i);
        of_kind(ObjectKind::Constraint).chain(of_kind(ObjectKind::Index)).next()
    }

    /// Foreign keys (not among `going`) that rely on one of `indexes`.
    fn dependent_keys(&self, indexes: &[usize], going: &[usize]) -> Vec<FailingObject> {
        self.foreign_keys()
            .into_iter()
            .filter(|(own, _)| !going.contains(own))
            .filter_map(|(own, fk)| {
                let index = self.relied_on(fk).filter(|i| indexes.contains(i))?;
                let key = &self.objects[own];
                let index = &self.objects[index];
                Some(failing(key, format!("depends on index {}", shown(&TableName::new(&index.schema, &index.name)))))
            })
            .collect()
    }

    fn find(&self, kinds: &[ObjectKind], schema: &str, name: &str) -> Option<usize> {
        self.live().find(|(_, o)| kinds.contains(&o.kind) && o.schema == schema && o.name == name).map(|(i, _)| i)
    }
}

fn failing(object: &SchemaObject, reason: String) -> FailingObject {
    let description = object.describe();
    FailingObject {
        hazard: HazardCode::H17,
        detail: format!("{description} {reason}"),
        table: object
            .table
            .as_ref()
            .map(|t| t.to_string())
            .unwrap_or_else(|| TableName::new(&object.schema, &object.name).to_string()),
        object: description,
        definition: object.definition.clone(),
    }
}

fn dependency(sqlstate: &'static str, message: String, objects: Vec<FailingObject>, remedy: &str) -> StepFailure {
    StepFailure { sqlstate, message, objects, hazard: HazardCode::H17, remedy: remedy.to_string(), next: Vec::new() }
}

const RECREATE: &str = "drop these objects before the rollback and recreate them afterwards without the dropped columns (their definitions are below)";

/// Walks `steps` over `catalog`. `dropped` names the columns V1 looks for.
pub fn replay(
    catalog: &Catalog,
    steps: &[Step],
    rows: RowFailures,
    dropped: &[ColumnOf],
    drop_dependents: bool,
) -> Replay {
    let mut state = State::new(catalog);
    let mut rows = rows;
    let mut predictions = Vec::new();
    let mut failed = false;
    let mut pending: Vec<Pending> = Vec::new();
    for step in steps {
        let (failure, dropped_here) = match step {
            Step::DropIndex { index } => (drop_index(&mut state, index), Vec::new()),
            Step::DropConstraint { table, name } => (drop_constraint(&mut state, table, name), Vec::new()),
            Step::Commit => (None, Vec::new()),
            Step::TouchServices { .. } => row_statement(&mut rows.touch_services, &mut pending),
            Step::DeleteVersions { .. } => row_statement(&mut rows.delete_versions, &mut pending),
            Step::DeleteOrphans { .. } => row_statement(&mut rows.delete_orphans, &mut pending),
            Step::DropColumns { table, columns } => drop_columns(&mut state, table, columns, drop_dependents),
            Step::AddUnique { table, name, columns } => (add_unique(&mut state, table, name, columns), Vec::new()),
        };
        // PostgreSQL refuses an ALTER TABLE with deferred checks pending before anything else.
        let failure = match step.altered_table().and_then(|table| in_use(catalog, &pending, table)) {
            Some(mut busy) => {
                busy.next.extend(failure.into_iter().flat_map(|f| f.objects.into_iter().chain(f.next)));
                Some(busy)
            }
            None => failure,
        };
        predictions.push(prediction(step, !failed, failure.clone(), dropped_here));
        failed |= failure.is_some();
    }
    // The deferred checks run at COMMIT, when every statement has succeeded.
    if let Some(failure) = rows.at_commit() {
        predictions.push(prediction(&Step::Commit, !failed, Some(failure), Vec::new()));
        failed = true;
    }
    let remaining = dropped.iter().filter(|c| failed || state.columns.contains(*c)).cloned().collect();
    Replay { steps: predictions, remaining }
}

fn prediction(step: &Step, reached: bool, failure: Option<StepFailure>, dropped: Vec<DroppedObject>) -> StepPrediction {
    StepPrediction { step: step.clone(), sql: step.sql(), reached, failure, dropped }
}

/// A row statement: its own failure; the tables it leaves with deferred checks are noted.
fn row_statement(
    outcome: &mut StatementOutcome,
    pending: &mut Vec<Pending>,
) -> (Option<StepFailure>, Vec<DroppedObject>) {
    pending.append(&mut outcome.pending);
    (outcome.failure.take(), Vec::new())
}

/// ALTER TABLE on a table (or a descendant it recurses to) with deferred trigger events fails.
fn in_use(catalog: &Catalog, pending: &[Pending], table: &TableName) -> Option<StepFailure> {
    let holders = catalog.row_holders(table);
    let blocked = pending.iter().find(|p| holders.contains(&p.table))?;
    Some(StepFailure {
        sqlstate: "55006",
        message: format!("cannot ALTER TABLE \"{}\" because it has pending trigger events", blocked.table.name),
        objects: pending.iter().filter(|p| p.table == blocked.table).map(|p| p.key.clone()).collect(),
        hazard: HazardCode::H17,
        remedy: "make these foreign keys check at once during the rollback: `SET CONSTRAINTS name IMMEDIATE` right after BEGIN (or ALTER the constraint NOT DEFERRABLE before, and back after)".into(),
        next: Vec::new(),
    })
}

fn drop_index(state: &mut State, index: &TableName) -> Option<StepFailure> {
    let Some(found) = state.find(&[ObjectKind::Index], &index.schema, &index.name) else {
        let owner = state.find(&[ObjectKind::Constraint], &index.schema, &index.name)?;
        let constraint = &state.objects[owner];
        if !constraint.owns_index {
            return None;
        }
        let table = constraint.table.as_ref().map(shown).unwrap_or_default();
        return Some(dependency(
            "2BP01",
            format!(
                "cannot drop index {} because constraint {} on table {table} requires it",
                shown(index),
                index.name
            ),
            vec![failing(constraint, format!("requires index {}", shown(index)))],
            "the index belongs to a constraint: drop the constraint instead, or leave the index out of the rollback",
        ));
    };
    let keys = state.dependent_keys(&[found], &[]);
    if !keys.is_empty() {
        return Some(dependency(
            "2BP01",
            format!("cannot drop index {} because other objects depend on it", shown(index)),
            keys,
            RECREATE,
        ));
    }
    state.alive[found] = false;
    None
}

fn drop_constraint(state: &mut State, table: &TableName, name: &str) -> Option<StepFailure> {
    let found = state
        .live()
        .find(|(_, o)| o.kind == ObjectKind::Constraint && o.name == name && o.table.as_ref() == Some(table));
    let (found, _) = found?;
    let keys = state.dependent_keys(&[found], &[found]);
    if !keys.is_empty() {
        return Some(dependency(
            "2BP01",
            format!("cannot drop constraint {name} on table {} because other objects depend on it", shown(table)),
            keys,
            RECREATE,
        ));
    }
    state.alive[found] = false;
    None
}

/// One `ALTER TABLE … DROP COLUMN a, DROP COLUMN b`: the columns go in order; the first that
/// something depends on fails the statement.
fn drop_columns(
    state: &mut State,
    table: &TableName,
    columns: &[String],
    drop_dependents: bool,
) -> (Option<StepFailure>, Vec<DroppedObject>) {
    let mut taken = Vec::new();
    let mut failure = None;
    for column in columns {
        let target = ColumnOf::new(table, column);
        // Auto dependencies: dropped with the column.
        let going: Vec<usize> = state
            .live()
            .filter(|(_, o)| matches!(o.kind, ObjectKind::Index | ObjectKind::Constraint | ObjectKind::Statistics))
            .filter(|(_, o)| o.uses_column(&target))
            .map(|(i, _)| i)
            .collect();
        let reason = format!("depends on column {column} of table {}", shown(table));
        // Normal dependencies: they make the drop fail.
        let mut blockers: Vec<FailingObject> = state
            .live()
            .filter(|(i, o)| {
                !going.contains(i)
                    && !matches!(o.kind, ObjectKind::Index | ObjectKind::Constraint | ObjectKind::Statistics)
            })
            .filter(|(_, o)| o.uses_column(&target))
            .map(|(_, o)| failing(o, reason.clone()))
            .collect();
        blockers.extend(state.catalog.objects.triggers.iter().filter(|t| t.uses.contains(&target)).map(|t| {
            FailingObject {
                hazard: HazardCode::H17,
                object: t.describe(),
                detail: format!("{} {reason}", t.describe()),
                table: t.table.to_string(),
                definition: t.definition.clone(),
            }
        }));
        for (own, fk) in state.foreign_keys() {
            if !going.contains(&own) && fk.ref_table == *table && fk.ref_columns.contains(column) {
                blockers.push(failing(&state.objects[own], reason.clone()));
            }
        }
        blockers.extend(state.dependent_keys(&going, &going));
        // PostgreSQL stops at the first column something depends on; the walk goes on as if
        // its blockers were dealt with, to find the next ones and what the drop takes along.
        if !blockers.is_empty() {
            match &mut failure {
                None => {
                    failure = Some(dependency(
                        "2BP01",
                        format!(
                            "cannot drop column {column} of table {} because other objects depend on it",
                            shown(table)
                        ),
                        blockers,
                        RECREATE,
                    ))
                }
                Some(first) => first.next.extend(blockers),
            }
        }
        for index in going {
            state.alive[index] = false;
            taken.push(DroppedObject { object: state.objects[index].clone(), with_column: column.clone() });
        }
        // A dropped generated column no longer reads anything.
        let generated = state.find(&[ObjectKind::GeneratedColumn], &table.schema, column);
        if let Some(i) = generated.filter(|&i| state.objects[i].table.as_ref() == Some(table)) {
            state.alive[i] = false;
        }
        state.columns.remove(&target);
    }
    if failure.is_none() && !taken.is_empty() && !drop_dependents {
        let names: Vec<String> = taken.iter().map(|d| d.object.describe()).collect();
        failure = Some(StepFailure {
            sqlstate: "P0001",
            message: format!(
                "rehearse: 02_rollback.sql refuses to drop {} that the rollback does not name: {} (PostgreSQL drops them silently with the columns; the shipped script loses them without a word)",
                if taken.len() == 1 { "an object" } else { "objects" },
                names.join(", ")
            ),
            objects: taken
                .iter()
                .map(|d| FailingObject {
                    hazard: HazardCode::H18,
                    ..failing(&d.object, format!("is dropped with column {} of table {}", d.with_column, shown(table)))
                })
                .collect(),
            hazard: HazardCode::H18,
            remedy: "rerun with --drop-dependents to drop them explicitly in 02_rollback.sql, or drop them yourself first; their definitions are below, to recreate them without the dropped columns".into(),
            next: Vec::new(),
        });
    }
    (failure, taken)
}

fn add_unique(state: &mut State, table: &TableName, name: &str, columns: &[String]) -> Option<StepFailure> {
    let relation = state
        .find(&[ObjectKind::Index, ObjectKind::View, ObjectKind::MaterializedView], &table.schema, name)
        .or_else(|| state.find(&[ObjectKind::Constraint], &table.schema, name).filter(|&i| state.objects[i].owns_index))
        .map(|i| state.objects[i].describe())
        .or_else(|| {
            state.catalog.table(&TableName::new(&table.schema, name)).map(|t| format!("table {}", shown(&t.name)))
        });
    let remedy = "rename or drop the object that holds the name before the rollback";
    if let Some(holder) = relation {
        return Some(StepFailure {
            sqlstate: "42P07",
            message: format!("relation \"{name}\" already exists"),
            objects: vec![FailingObject {
                object: holder.clone(),
                detail: format!("{holder} already has the name {name}"),
                table: table.to_string(),
                definition: String::new(),
                hazard: HazardCode::H13,
            }],
            hazard: HazardCode::H13,
            remedy: remedy.into(),
            next: Vec::new(),
        });
    }
    let same_name = state
        .live()
        .find(|(_, o)| o.kind == ObjectKind::Constraint && o.name == name && o.table.as_ref() == Some(table));
    if let Some((_, existing)) = same_name {
        return Some(StepFailure {
            sqlstate: "42710",
            message: format!("constraint \"{name}\" for relation \"{}\" already exists", table.name),
            objects: vec![FailingObject {
                hazard: HazardCode::H13,
                ..failing(existing, format!("already has the name {name}"))
            }],
            hazard: HazardCode::H13,
            remedy: remedy.into(),
            next: Vec::new(),
        });
    }
    state.objects.push(SchemaObject {
        kind: ObjectKind::Constraint,
        schema: table.schema.clone(),
        name: name.to_string(),
        table: Some(table.clone()),
        uses: columns.iter().map(|c| ColumnOf::new(table, c)).collect(),
        unique_key: Some(columns.to_vec()),
        owns_index: true,
        definition: String::new(),
    });
    state.alive.push(true);
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::ddl::apply;
    use crate::rehearsal::steps;
    use crate::spec::Spec;
    use crate::terms::{Mode, Policy};

    const SCHEMA: &str = r#"
CREATE TABLE public.models (id uuid PRIMARY KEY, model_id varchar, version varchar, version_status varchar,
    release_notes text, is_immutable boolean, CONSTRAINT uq_model_id_version UNIQUE (model_id, version));
CREATE INDEX idx_model_id_version ON public.models (model_id, version);
CREATE INDEX idx_model_id_version_status ON public.models (model_id, version_status);
CREATE TABLE public.services (id uuid PRIMARY KEY, model_id varchar, model_version varchar, version_updated_at bigint);
CREATE INDEX idx_service_model_version ON public.services (model_id, model_version);
"#;

    fn replay_with(extra: &str, policy: Policy, drop_dependents: bool) -> Replay {
        let mut catalog = Catalog::default();
        apply(&format!("{SCHEMA}{extra}"), &mut catalog).unwrap();
        let spec = Spec::guide();
        let (m, s) = (TableName::new("public", "models"), TableName::new("public", "services"));
        let steps = steps::rollback(&spec, &m, &s, policy, Mode::Full, false);
        let dropped: Vec<ColumnOf> = spec.drop.models_columns.iter().map(|c| ColumnOf::new(&m, c)).collect();
        replay(&catalog, &steps, RowFailures::default(), &dropped, drop_dependents)
    }

    #[test]
    fn the_guide_alone_proceeds_and_v1_finds_no_column() {
        let replay = replay_with("", Policy::Legacy, false);
        assert!(replay.first_failure().is_none());
        assert!(replay.remaining.is_empty());
        assert!(replay.steps.iter().all(|s| s.dropped.is_empty()), "the guide's indexes are dropped by name first");
    }

    #[test]
    fn a_view_on_a_dropped_column_fails_its_drop_and_keeps_every_column() {
        let replay = replay_with(
            "CREATE VIEW public.v AS SELECT m.id FROM public.models m WHERE m.version_status = 'active';",
            Policy::Documented,
            false,
        );
        let (_, step, failure) = replay.first_failure().unwrap();
        assert!(matches!(&step.step, Step::DropColumns { table, .. } if table.name == "models"));
        assert_eq!(failure.sqlstate, "2BP01");
        assert_eq!(
            failure.message,
            "cannot drop column version_status of table models because other objects depend on it"
        );
        assert_eq!(failure.objects[0].detail, "view v depends on column version_status of table models");
        assert_eq!(replay.remaining.len(), 3, "the transaction is rolled back: V1 finds all three");
    }

    #[test]
    fn later_columns_of_a_failing_drop_are_walked_too() {
        let replay = replay_with(
            "CREATE VIEW public.v AS SELECT m.version_status FROM public.models m;
             CREATE VIEW public.w AS SELECT m.release_notes FROM public.models m;
             CREATE INDEX idx_mutable ON public.models (is_immutable);",
            Policy::Legacy,
            false,
        );
        let (_, step, failure) = replay.first_failure().unwrap();
        assert_eq!(failure.objects.len(), 1, "PostgreSQL names the first column's dependents only");
        assert_eq!(failure.next[0].detail, "view w depends on column release_notes of table models");
        assert_eq!(step.dropped[0].object.name, "idx_mutable");
    }

    #[test]
    fn a_foreign_key_on_the_versioned_key_blocks_dropping_its_constraint() {
        let replay = replay_with(
            "CREATE TABLE public.d (m varchar, v varchar, CONSTRAINT d_fkey FOREIGN KEY (m, v) REFERENCES public.models (model_id, version));",
            Policy::Legacy,
            false,
        );
        let (index, step, failure) = replay.first_failure().unwrap();
        assert_eq!(index, 3);
        assert!(step.sql.contains("DROP CONSTRAINT IF EXISTS \"uq_model_id_version\""));
        assert_eq!(failure.objects[0].detail, "constraint d_fkey on table d depends on index uq_model_id_version");
    }

    #[test]
    fn objects_dropped_with_a_column_are_listed_and_refused_unless_asked_for() {
        let extra = "CREATE INDEX idx_active ON public.models (model_id) WHERE version_status = 'active';
            ALTER TABLE public.models ADD CONSTRAINT notes_short CHECK (length(release_notes) < 100);
            CREATE STATISTICS public.st ON model_id, is_immutable FROM public.models;";
        let refused = replay_with(extra, Policy::Legacy, false);
        let (_, step, failure) = refused.first_failure().unwrap();
        assert_eq!((failure.sqlstate, failure.hazard), ("P0001", HazardCode::H18));
        let names: Vec<String> = step.dropped.iter().map(|d| d.object.describe()).collect();
        assert_eq!(names, ["index idx_active", "constraint notes_short on table models", "statistics object st"]);
        let asked = replay_with(extra, Policy::Legacy, true);
        assert!(asked.first_failure().is_none());
        assert!(asked.remaining.is_empty());
    }

    #[test]
    fn a_name_already_taken_fails_adding_the_unique_constraint() {
        let replay =
            replay_with("CREATE INDEX models_model_id_key ON public.models (model_id);", Policy::Legacy, false);
        let (_, step, failure) = replay.first_failure().unwrap();
        assert!(matches!(step.step, Step::AddUnique { .. }));
        assert_eq!(
            (failure.sqlstate, failure.message.as_str()),
            ("42P07", "relation \"models_model_id_key\" already exists")
        );
    }
}
