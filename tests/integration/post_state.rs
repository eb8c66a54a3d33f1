//! `validate` reads the predicted post-state from the plan: on a fresh connection to the
//! workspace, which never saw the rehearsal (the rehearsal drops its own tables), the plan's rows
//! give the tables as the rollback leaves them, as the plan's lists count them.

use crate::support::repo;
use rehearse::catalog::{Column, Table};
use rehearse::import::{import, ImportOptions};
use rehearse::plan::Mode;
use rehearse::rehearsal::policy::Policy;
use rehearse::rehearsal::{rehearse, Options};
use rehearse::spec::Spec;
use rehearse::validate::predicted_rows;
use rehearse::workspace::Workspace;
use std::collections::BTreeSet;

#[test]
fn the_plan_alone_gives_the_post_state_on_a_fresh_connection() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("example.duckdb");
    let spec = Spec::guide();
    let pending = Workspace::create(&file).unwrap();
    import(&repo().join("fixtures/example.sql"), &pending.workspace, &spec, ImportOptions::default()).unwrap();
    pending.commit().unwrap();

    let options = Options { policy: Policy::Legacy, mode: Mode::Full, delete_orphans: true, ..Options::default() };
    let rehearsed = Workspace::open(&file).unwrap();
    let plan = rehearse(&rehearsed, &spec, &options).unwrap();
    let catalog = rehearsed.catalog().unwrap();
    let loaded: Vec<&Table> = rehearsed
        .table_stats()
        .unwrap()
        .into_iter()
        .filter(|s| s.loaded)
        .map(|s| catalog.table(&s.table).unwrap())
        .collect();
    let live: Vec<_> = loaded.iter().map(|t| rehearsed.text_rows(t).unwrap()).collect();
    drop(rehearsed);

    let fresh = Workspace::open(&file).unwrap();
    let tables: Vec<(&Table, Vec<&Column>)> = loaded.iter().map(|t| (*t, t.columns.iter().collect())).collect();
    let predicted = predicted_rows(&fresh, &catalog, &plan, &tables).unwrap();
    for ((table, predicted), live) in loaded.iter().zip(&predicted).zip(&live) {
        let name = table.name.to_string();
        let lost = match table.name.name.as_str() {
            "models" => plan.models_before - plan.models_after,
            "services" => plan.services_before - plan.services_after,
            _ => plan.cascade_deleted.get(&name).copied().unwrap_or(0),
        };
        assert_eq!((live.len() - predicted.len()) as u64, lost, "{name}: rows the plan's lists say it loses");
        let changed = predicted != live;
        let expected = ["models", "services", "model_artifacts", "model_feedback"].contains(&table.name.name.as_str());
        assert!(!expected || changed, "{name}: the rollback deletes or changes rows of it");
        if table.name.name == "models" {
            let id = table.columns.iter().position(|c| c.name == "id").unwrap();
            let remaining: BTreeSet<String> = predicted.iter().map(|row| row[id].clone().unwrap()).collect();
            let kept: BTreeSet<String> = plan.kept.iter().map(|k| k.id.to_string()).collect();
            assert_eq!(remaining, kept, "the models rows left are the kept ones");
        }
    }
    let changed: u64 = plan.cascade_changed.values().sum();
    assert!(changed > 0, "the example's SET NULL changes rows");
}
