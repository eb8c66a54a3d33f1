//! `validate` reads the predicted post-state from the plan: on a fresh connection to the
//! workspace, which never saw the rehearsal, the plan's rows give exactly the tables that the
//! rehearsal itself left.

use crate::support::repo;
use rehearse::catalog::{Column, Table};
use rehearse::import::{import, ImportOptions};
use rehearse::plan::Mode;
use rehearse::rehearsal::effects::post_relation;
use rehearse::rehearsal::policy::Policy;
use rehearse::rehearsal::{rehearse, Options};
use rehearse::spec::Spec;
use rehearse::validate::predicted_rows;
use rehearse::workspace::Workspace;

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
    // What the rehearsal's own effects tables say, on the connection that rehearsed.
    let left: Vec<_> = loaded
        .iter()
        .map(|t| rehearsed.relation_text_rows(&post_relation(&catalog, &t.name), &t.columns).unwrap())
        .collect();
    let live: Vec<_> = loaded.iter().map(|t| rehearsed.text_rows(t).unwrap()).collect();
    drop(rehearsed);

    let fresh = Workspace::open(&file).unwrap();
    let tables: Vec<(&Table, Vec<&Column>)> = loaded.iter().map(|t| (*t, t.columns.iter().collect())).collect();
    let predicted = predicted_rows(&fresh, &catalog, &plan, &tables).unwrap();
    for (((table, left), predicted), live) in loaded.iter().zip(&left).zip(&predicted).zip(&live) {
        assert_eq!(predicted, left, "{}: the plan's post-state differs from the rehearsal's", table.name);
        let changed = predicted != live;
        let expected = ["models", "services", "model_artifacts", "model_feedback"].contains(&table.name.name.as_str());
        assert!(!expected || changed, "{}: the rollback deletes or changes rows of it", table.name);
    }
}
