//! The hazards of ROLLBACK.md §4, one rule a file: its code, the unit its count is in, what it
//! means, what to do, and (with the engine) the function that finds its rows in the
//! rehearsal's facts. A new hazard is a new file, a line in `RULES` and its `HazardCode`
//! (a variant, its text and its place in `HazardCode::ALL`).

use crate::terms::HazardCode;
#[cfg(feature = "engine")]
use {
    super::facts::Facts,
    crate::error::Result,
    crate::plan::{HazardRow, Hazards},
    duckdb::Connection,
};

mod h01_semantic_order;
mod h02_loose_status;
mod h03_no_active;
mod h04_unparseable;
mod h05_tie;
mod h06_pinned_deleted;
mod h07_dangling_pin;
mod h08_orphan_service;
mod h09_foreign_keys;
mod h10_immutable;
mod h11_published;
mod h12_release_notes;
mod h13_unique_constraint;
mod h14_stale_backup;
mod h15_unrestorable;
mod h16_triggers;
mod h17_failing_objects;
mod h18_dropped_silently;

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
    Facts(fn(&Facts) -> Result<Vec<HazardRow>>),
    /// Querying the workspace besides, on the rehearsal's connection, before the services' rows
    /// are read (`Facts::services_after` is empty for them).
    Workspace(fn(&Facts, &Connection) -> Result<Vec<HazardRow>>),
}

/// Every rule, in code order.
pub const RULES: [Rule; 18] = [
    h01_semantic_order::RULE,
    h02_loose_status::RULE,
    h03_no_active::RULE,
    h04_unparseable::RULE,
    h05_tie::RULE,
    h06_pinned_deleted::RULE,
    h07_dangling_pin::RULE,
    h08_orphan_service::RULE,
    h09_foreign_keys::RULE,
    h10_immutable::RULE,
    h11_published::RULE,
    h12_release_notes::RULE,
    h13_unique_constraint::RULE,
    h14_stale_backup::RULE,
    h15_unrestorable::RULE,
    h16_triggers::RULE,
    h17_failing_objects::RULE,
    h18_dropped_silently::RULE,
];

/// The rule of a code as summary.json spells it.
pub fn info(code: &str) -> Option<&'static Rule> {
    RULES.iter().find(|r| r.code == code)
}

/// The rows of the rules that query the workspace, run before the others: the rehearsal's
/// tables can then be dropped (a workspace rule run later fails on them, it cannot pass
/// unnoticed) before the largest lists are made. They run before the services' rows are read:
/// their facts hold no services.
#[cfg(feature = "engine")]
pub(crate) struct Queried(Vec<Option<Vec<HazardRow>>>);

#[cfg(feature = "engine")]
pub(crate) fn query_workspace(facts: &Facts, conn: &Connection) -> Result<Queried> {
    let rows = RULES.iter().map(|rule| match rule.find {
        Find::Workspace(find) => in_order(find(facts, conn)).map(Some),
        Find::Facts(_) => Ok(None),
    });
    Ok(Queried(rows.collect::<Result<_>>()?))
}

/// Every rule's rows, by code, then by key (rows of one key in the order found): the
/// workspace's from `queried`, then the rules of the facts. (Run on a second thread, those took
/// 0.1 s less on a quiet machine, but the second thread's allocations raised the peak by up to
/// 15 MiB.)
#[cfg(feature = "engine")]
pub(crate) fn find_all(facts: &Facts, queried: Queried) -> Result<Hazards> {
    let mut by_code = Vec::with_capacity(RULES.len());
    for (rule, queried) in RULES.iter().zip(queried.0) {
        let rows = match (queried, &rule.find) {
            (Some(found), _) => found,
            (None, Find::Facts(find)) => in_order(find(facts))?,
            (None, Find::Workspace(_)) => {
                return Err(crate::error::Error::Internal(format!("{} did not query the workspace", rule.code)))
            }
        };
        by_code.push((rule.code, rows));
    }
    let mut hazards = Hazards::naming(facts.tables.take());
    for (code, rows) in by_code {
        hazards.set(code, rows);
    }
    Ok(hazards)
}

/// A rule's rows by key.
#[cfg(feature = "engine")]
fn in_order(found: Result<Vec<HazardRow>>) -> Result<Vec<HazardRow>> {
    let mut rows = found?;
    // Most rules find their rows by key already; the others are sorted here, stably.
    if !rows.is_sorted_by(|a, b| a.key <= b.key) {
        rows.sort_by(|a, b| a.key.cmp(&b.key));
    }
    Ok(rows)
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
    models: &[super::facts::ModelRow],
    order: &super::facts::ModelsOrder,
    table: crate::plan::TableRef,
) -> Vec<HazardRow> {
    let mut texts = super::facts::TextsBy::default();
    let found = models
        .iter()
        .enumerate()
        .filter(|(i, r)| order.deleted[*i] && marked(r) == Some(true))
        .map(|(i, r)| {
            let version = &r.row.version;
            let detail = texts.get(version, || format!("{word} version {} deleted", super::facts::show(version)));
            order.found(i, detail)
        })
        .collect();
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

/// Tiny facts for the rules' unit tests: models rows, groups and services without a workspace.
#[cfg(all(test, feature = "engine"))]
pub(crate) mod sample {
    use super::super::facts::{GroupChoice, ModelRow, ServiceFact};
    use super::super::keeper_collation::KeeperCollation;
    use super::super::keepers::tests::choose_rows;
    use super::super::policy::VersionRow;
    use crate::catalog::{Catalog, Column, Table, TableName};
    use crate::plan::{FailingObject, ServiceAction, ServiceImpact, Step, StepFailure, StepPrediction, TableRef};
    use crate::terms::HazardCode;
    use crate::workspace::Workspace;

    pub fn table() -> TableRef {
        TableRef::default()
    }

    pub fn model(rid: i64, model_id: &str, version: Option<&str>, status: &str) -> ModelRow {
        ModelRow {
            rid,
            row: VersionRow {
                id: format!("v{rid}").into(),
                model_id: Some(model_id.into()),
                version: version.map(Into::into),
                status: Some(status.into()),
                created_at: Some(rid),
            },
            ..ModelRow::default()
        }
    }

    /// Rows grouped by model_id, keepers chosen under both policies in C by the keeper query;
    /// members index `rows` (whose rids must differ).
    pub fn groups(rows: &[ModelRow]) -> Vec<GroupChoice> {
        let (chosen, mut choices) = choose_rows(rows, &KeeperCollation::c());
        for choice in &mut choices {
            for member in &mut choice.members {
                *member = rows.iter().position(|r| r.rid == chosen[*member].rid).expect("a given row");
            }
        }
        choices
    }

    pub fn service(id: &str, pin: Option<&str>, after: Option<&str>, action: ServiceAction) -> ServiceFact {
        ServiceFact {
            impact: ServiceImpact {
                id: id.into(),
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
