//! The heart of the suite: the guide's rollback run for real in PostgreSQL (tests/sql/
//! guide_rollback.sql, written from the guide and ROLLBACK.md §3 independently of rehearse)
//! against `rehearse`'s prediction from a real pg_dump of the same database. Kept and deleted
//! ids, surviving services, every cascaded or nulled row, and the verification counts must
//! agree row for row, for both policies, with and without --delete-orphans, on several seeds, and
//! with the rehearsal's steps side by side (a small export's schedule) or one after the other (a
//! large export's).

use crate::support::{generated_database, pg_dump, repo, DB};
use rehearse::import::{import, ImportOptions};
use rehearse::pg::Cluster;
use rehearse::plan::{Mode, Plan, ServiceAction};
use rehearse::rehearsal::policy::Policy;
use rehearse::rehearsal::{rehearse, Options, Schedule};
use rehearse::spec::Spec;
use rehearse::workspace::Workspace;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Tables other than models and services that foreign keys reach, with their primary key.
const LINKED: [(&str, &str); 5] = [
    ("experiment_variants", "id"),
    ("variant_metrics", "id"),
    ("model_artifacts", "id"),
    ("model_feedback", "id"),
    ("billing_contracts", "id"),
];

fn plan_for(dump: &Path, policy: Policy, delete_orphans: bool, schedule: Schedule) -> Plan {
    // Steps one after the other are a large export's, which `run` imports into a workspace file:
    // its tables' cache is then let go between steps and held small while Rust reads them.
    let workspace = match schedule {
        Schedule::OneAfterAnother => Workspace::scratch(),
        _ => Workspace::in_memory(),
    }
    .unwrap();
    let spec = Spec::guide();
    import(dump, &workspace, &spec, ImportOptions::default()).unwrap();
    let options = Options { policy, delete_orphans, mode: Mode::Full, schedule, ..Options::default() };
    rehearse(&workspace, &spec, &options).unwrap()
}

fn set(pg: &Cluster, db: &str, sql: &str) -> BTreeSet<String> {
    pg.query(db, sql).unwrap().into_iter().map(|r| r[0].clone().unwrap_or_else(|| "NULL".into())).collect()
}

fn run_guide_rollback(pg: &Cluster, db: &str, legacy: bool, delete_orphans: bool) -> std::process::Output {
    let on = |b: bool| if b { "legacy=on" } else { "legacy=off" };
    let orphans = if delete_orphans { "delete_orphans=on" } else { "delete_orphans=off" };
    pg.client("psql")
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-v", on(legacy), "-v", orphans, "-d", db, "-f"])
        .arg(repo().join("tests/sql/guide_rollback.sql"))
        .output()
        .unwrap()
}

struct Snapshot {
    models: BTreeSet<String>,
    services: BTreeSet<String>,
    linked: Vec<BTreeSet<String>>,
    feedback_unlinked: BTreeSet<String>,
}

fn snapshot(pg: &Cluster, db: &str) -> Snapshot {
    Snapshot {
        models: set(pg, db, "SELECT id::text FROM models"),
        // Each service as the plan names it (its service_id, or its id when it has none), with
        // its model_id, and how many services are so.
        services: set(
            pg,
            db,
            "SELECT concat_ws('|', k, m, count(*)) FROM (SELECT coalesce(service_id::text, id::text) AS k, coalesce(model_id::text, '\\N') AS m FROM services) s GROUP BY k, m",
        ),
        linked: LINKED.iter().map(|(t, pk)| set(pg, db, &format!("SELECT {pk}::text FROM {t}"))).collect(),
        feedback_unlinked: set(pg, db, "SELECT id::text FROM model_feedback WHERE model_row_id IS NULL"),
    }
}

fn compare(pg: &Cluster, db: &str, before: &Snapshot, plan: &Plan, label: &str) {
    let after = snapshot(pg, db);
    let kept: BTreeSet<String> = plan.kept.iter().map(|k| k.id.to_string()).collect();
    assert_eq!(kept, after.models, "{label}: kept models rows");
    let deleted: BTreeSet<String> = plan.deleted.iter().map(|d| d.id.to_string()).collect();
    let really_deleted: BTreeSet<String> = before.models.difference(&after.models).cloned().collect();
    assert_eq!(deleted, really_deleted, "{label}: deleted models rows");
    let services = plan.services.first(usize::MAX, |s| {
        (s.action != ServiceAction::Deleted).then(|| (s.key.to_string(), s.model_id.unwrap_or("\\N").to_string()))
    });
    let mut surviving: BTreeMap<(String, String), usize> = BTreeMap::new();
    for service in services.unwrap() {
        *surviving.entry(service).or_default() += 1;
    }
    let surviving: BTreeSet<String> =
        surviving.into_iter().map(|((key, model_id), count)| format!("{key}|{model_id}|{count}")).collect();
    assert_eq!(surviving, after.services, "{label}: surviving services");
    let cascade = plan.cascade_texts().unwrap();
    for (i, (table, _)) in LINKED.iter().enumerate() {
        let predicted: BTreeSet<String> = cascade
            .iter()
            .filter(|c| c.table == format!("public.{table}") && c.action == "deleted")
            .map(|c| c.key.to_string())
            .collect();
        let real: BTreeSet<String> = before.linked[i].difference(&after.linked[i]).cloned().collect();
        assert_eq!(predicted, real, "{label}: rows deleted from {table}");
    }
    let nulled: BTreeSet<String> = cascade
        .iter()
        .filter(|c| c.table == "public.model_feedback" && c.action == "set null")
        .map(|c| c.key.to_string())
        .collect();
    let real_nulled: BTreeSet<String> =
        after.feedback_unlinked.difference(&before.feedback_unlinked).cloned().collect();
    assert_eq!(nulled, real_nulled, "{label}: feedback rows set to NULL");
    let v3 = pg
        .query(
            db,
            "SELECT count(*) FROM services s LEFT JOIN models m ON s.model_id = m.model_id WHERE m.model_id IS NULL",
        )
        .unwrap();
    assert_eq!(v3[0][0].as_deref(), Some(plan.verification.v3.count.to_string().as_str()), "{label}: V3 rows");
    assert_eq!(plan.verification.v2.count, 0, "{label}: V2 (PostgreSQL added UNIQUE(model_id))");
    assert!(
        !deleted.is_empty() && !real_nulled.is_empty(),
        "{label}: the comparison must exercise deletes and SET NULL"
    );
}

#[test]
fn the_rehearsal_predicts_postgresql_row_for_row() {
    let scenarios: [(&str, &[&str]); 2] = [
        ("seed 1", &["--models", "30", "--seed", "1"]),
        ("seed 5, NULL model_id", &["--models", "60", "--seed", "5", "--null-model-id", "--stale-backup"]),
    ];
    for (name, args) in scenarios {
        let dir = tempfile::tempdir().unwrap();
        let pg = generated_database(dir.path(), args);
        let dump = dir.path().join("dump.sql");
        pg_dump(&pg, &["--no-owner"], &dump);
        let before = snapshot(&pg, DB);
        let mut run = 0;
        for policy in [Policy::Legacy, Policy::Documented] {
            for delete_orphans in [false, true] {
                run += 1;
                let db = format!("run_{run}");
                pg.psql("postgres", &format!("CREATE DATABASE {db} TEMPLATE {DB}")).unwrap();
                let out = run_guide_rollback(&pg, &db, policy == Policy::Legacy, delete_orphans);
                let label = format!("{name}, {}, delete_orphans={delete_orphans}", policy.name());
                assert!(out.status.success(), "{label}: {}", String::from_utf8_lossy(&out.stderr));
                for schedule in [Schedule::SideBySide, Schedule::OneAfterAnother] {
                    let plan = plan_for(&dump, policy, delete_orphans, schedule);
                    let label = format!("{label}, {schedule:?}");
                    assert!(plan.predicted_failure.is_none(), "{label}: {:?}", plan.predicted_failure);
                    compare(&pg, &db, &before, &plan, &label);
                }
            }
        }
    }
}

#[test]
fn blocking_foreign_keys_and_name_clashes_are_predicted_failures() {
    let dir = tempfile::tempdir().unwrap();
    let pg = generated_database(dir.path(), &["--models", "25", "--seed", "2", "--restrict-trap", "--unique-key-trap"]);
    let dump = dir.path().join("dump.sql");
    pg_dump(&pg, &["--no-owner"], &dump);
    // Each order fails where PostgreSQL fails first: the shipped script adds the unique
    // constraint before its orphan DELETE, rehearse's order deletes first.
    let runs = [
        (Policy::Legacy, true, "relation \"models_model_id_key\" already exists"),
        (Policy::Documented, true, "violates foreign key constraint \"billing_contracts_service_id_fkey\""),
        (Policy::Legacy, false, "relation \"models_model_id_key\" already exists"),
    ];
    for (n, (policy, delete_orphans, error)) in runs.into_iter().enumerate() {
        let db = format!("blocked_{n}");
        pg.psql("postgres", &format!("CREATE DATABASE {db} TEMPLATE {DB}")).unwrap();
        let out = run_guide_rollback(&pg, &db, policy == Policy::Legacy, delete_orphans);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && stderr.contains(error), "PostgreSQL must refuse with {error}: {stderr}");
        for schedule in [Schedule::SideBySide, Schedule::OneAfterAnother] {
            let plan = plan_for(&dump, policy, delete_orphans, schedule);
            let failure = plan.predicted_failure.clone().expect("a predicted failure");
            assert!(failure.contains(error), "{schedule:?}: {failure}");
            assert!(plan.fails());
            assert!(plan.all_hazard_texts().unwrap().iter().any(|h| h.code == "H13" && h.key == "models_model_id_key"));
            if delete_orphans {
                assert!(plan
                    .all_hazard_texts()
                    .unwrap()
                    .iter()
                    .any(|h| h.code == "H9" && h.detail.contains("blocks the delete")));
            }
        }
    }
}
