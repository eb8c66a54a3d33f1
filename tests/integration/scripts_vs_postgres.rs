//! The emitted scripts, run on real PostgreSQL: they do exactly what was rehearsed (row for row,
//! both policies, with and without --delete-orphans, hostile data included), refuse a drifted
//! database without touching it, are idempotent, refuse a predicted failure, and 04 restores a
//! deleted version.

use crate::support::{generated_database, pg_dump, DB};
use rehearse::catalog::Catalog;
use rehearse::emit::{self, Context};
use rehearse::import::{import, ImportOptions};
use rehearse::pg::Cluster;
use rehearse::plan::{Mode, Plan};
use rehearse::rehearsal::policy::Policy;
use rehearse::rehearsal::{rehearse, Options};
use rehearse::spec::Spec;
use rehearse::validate::{describe, restore, validate};
use rehearse::workspace::Workspace;
use std::path::{Path, PathBuf};

struct Run {
    workspace: Workspace,
    catalog: Catalog,
    plan: Plan,
    scripts: PathBuf,
}

fn rehearse_and_emit(dump: &Path, dir: &Path, policy: Policy, delete_orphans: bool) -> Run {
    let workspace = Workspace::in_memory().unwrap();
    let spec = Spec::guide();
    import(dump, &workspace, &spec, ImportOptions::default()).unwrap();
    let options = Options { policy, delete_orphans, mode: Mode::Full, ..Options::default() };
    let plan = rehearse(&workspace, &spec, &options).unwrap();
    let catalog = workspace.catalog().unwrap();
    let scripts = emit::render(&Context::new(&plan, &spec, &catalog).unwrap()).unwrap();
    let out = dir.join(format!("scripts-{}-{delete_orphans}", policy.name()));
    emit::write(&scripts, &out).unwrap();
    Run { workspace, catalog, plan, scripts: out }
}

fn psql_file(pg: &Cluster, db: &str, file: &Path) -> (bool, String) {
    let out = pg.psql_file(db, file).unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stderr).into_owned())
}

fn dump_text(pg: &Cluster, db: &str, dir: &Path, name: &str) -> String {
    let file = dir.join(name);
    let out = pg.client("pg_dump").args(["--no-owner", "-f"]).arg(&file).arg(db).output().unwrap();
    assert!(out.status.success());
    // \restrict keys differ from dump to dump; everything else must be identical.
    std::fs::read_to_string(file)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with("\\restrict") && !l.starts_with("\\unrestrict"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn emitted_scripts_do_exactly_what_was_rehearsed() {
    for seed in ["9", "13"] {
        let dir = tempfile::tempdir().unwrap();
        let pg = generated_database(dir.path(), &["--models", "40", "--seed", seed]);
        let dump = dir.path().join("dump.sql");
        pg_dump(&pg, &["--no-owner"], &dump);
        let spec = Spec::guide();
        let mut n = 0;
        for policy in [Policy::Legacy, Policy::Documented] {
            for delete_orphans in [false, true] {
                n += 1;
                let run = rehearse_and_emit(&dump, dir.path(), policy, delete_orphans);
                let context = Context::new(&run.plan, &spec, &run.catalog).unwrap();
                let db = format!("scripts_{n}");
                let validation =
                    validate(&pg, &db, &dump, &run.workspace, &run.catalog, &spec, &context, &run.scripts).unwrap();
                let label = format!("seed {seed}, {}, delete_orphans={delete_orphans}", policy.name());
                assert!(validation.matches(), "{label}:\n{}", describe(&validation));
                assert!(validation.tables.len() >= 4, "{label}: models, services and the cascaded tables are compared");
                assert!(validation.second_run_changed_nothing, "{label}");
            }
        }
    }
}

#[test]
fn drift_idempotency_refusal_and_restore() {
    let dir = tempfile::tempdir().unwrap();
    let pg = generated_database(dir.path(), &["--models", "30", "--seed", "4"]);
    let dump = dir.path().join("dump.sql");
    pg_dump(&pg, &["--no-owner"], &dump);
    let run = rehearse_and_emit(&dump, dir.path(), Policy::Documented, false);
    let script = |name: &str| run.scripts.join(name);

    // Drift: each change to the live database makes 02 refuse, changing nothing.
    let drifts = [
        "INSERT INTO models (id, model_id, version, version_status, name, task, inference_endpoint, submitter) SELECT gen_random_uuid(), model_id, '99.0.0', 'active', name, task, inference_endpoint, submitter FROM models LIMIT 1",
        "UPDATE models SET version_status = 'deprecated' WHERE id = (SELECT id FROM models WHERE version_status = 'active' ORDER BY id LIMIT 1)",
        "DELETE FROM services WHERE id = (SELECT id FROM services WHERE service_id NOT IN (SELECT service_id FROM billing_contracts) ORDER BY id LIMIT 1)",
        "UPDATE models SET version = version || '.1' WHERE id = (SELECT id FROM models WHERE version IS NOT NULL ORDER BY id LIMIT 1)",
    ];
    for (i, change) in drifts.iter().enumerate() {
        let db = format!("drift_{i}");
        restore(&pg, &dump, &db).unwrap();
        pg.psql(&db, change).unwrap();
        let before = dump_text(&pg, &db, dir.path(), "before.sql");
        let (ok, messages) = psql_file(&pg, &db, &script("02_rollback.sql"));
        assert!(!ok, "drift {i} must be refused");
        assert!(messages.contains("drift"), "drift {i}: {messages}");
        assert_eq!(before, dump_text(&pg, &db, dir.path(), "after.sql"), "drift {i}: the database must be unchanged");
    }

    // A blocking row that appeared after the export: PostgreSQL's own foreign key stops the
    // transaction, and nothing is changed.
    let orphans_deleted = rehearse_and_emit(&dump, dir.path(), Policy::Legacy, true);
    restore(&pg, &dump, "blocked").unwrap();
    pg.psql("blocked", "INSERT INTO billing_contracts (service_id, amount) VALUES ('svc-h8-orphan-a2', 1)").unwrap();
    let before = dump_text(&pg, "blocked", dir.path(), "before.sql");
    let (ok, messages) = psql_file(&pg, "blocked", &orphans_deleted.scripts.join("02_rollback.sql"));
    assert!(!ok && messages.contains("billing_contracts"), "{messages}");
    assert_eq!(before, dump_text(&pg, "blocked", dir.path(), "after.sql"));

    // An index on a version column made after the export: PostgreSQL would drop it silently
    // with the column; 02 sees it gone, names it, and changes nothing.
    restore(&pg, &dump, "silent").unwrap();
    pg.psql("silent", "CREATE INDEX late_status ON models (model_id) WHERE version_status <> 'active'").unwrap();
    let before = dump_text(&pg, "silent", dir.path(), "before.sql");
    let (ok, messages) = psql_file(&pg, "silent", &script("02_rollback.sql"));
    assert!(!ok && messages.contains("objects that it does not name: index public.late_status"), "{messages}");
    assert_eq!(before, dump_text(&pg, "silent", dir.path(), "after.sql"));

    // Idempotency: 01 twice, 02 twice, 05 then 02.
    let db = "idempotent";
    restore(&pg, &dump, db).unwrap();
    for name in ["01_backup.sql", "01_backup.sql", "02_rollback.sql"] {
        let (ok, messages) = psql_file(&pg, db, &script(name));
        assert!(ok, "{name}: {messages}");
    }
    let after_rollback = dump_text(&pg, db, dir.path(), "rolled.sql");
    let (ok, messages) = psql_file(&pg, db, &script("02_rollback.sql"));
    assert!(ok && messages.contains("already rolled back"), "{messages}");
    assert_eq!(after_rollback, dump_text(&pg, db, dir.path(), "again.sql"));
    let (ok, messages) = psql_file(&pg, db, &script("03_verify.sql"));
    assert!(ok && messages.contains("verification passed"), "{messages}");

    // Restore: a deleted version comes back with all its surviving columns and its artifacts.
    let (ok, messages) = psql_file(&pg, db, &script("04_restore_version.sql"));
    assert!(ok, "{messages}");
    let victim = run
        .plan
        .deleted
        .iter()
        .find(|d| d.model_id.as_deref() == Some("trap-semver-major"))
        .expect("a deleted version of trap-semver-major");
    let call = format!(
        "SELECT rehearse_restore_version({}, {})",
        rehearse::sql::literal(victim.model_id.as_deref().unwrap()),
        rehearse::sql::literal(victim.version.as_deref().unwrap())
    );
    pg.psql(db, &call).unwrap();
    let dropped = Spec::guide().drop.models_columns;
    let differs: Vec<String> = run
        .catalog
        .find_table("models")
        .unwrap()
        .columns
        .iter()
        .filter(|c| !dropped.contains(&c.name))
        .map(|c| format!("m.{0} IS DISTINCT FROM b.{0}", rehearse::catalog::quote_ident(&c.name)))
        .collect();
    let restored = pg
        .query(db, &format!(
            "SELECT count(*), count(*) FILTER (WHERE {}) FROM models m JOIN models_rehearse_backup b ON b.id = m.id WHERE m.id = '{}'",
            differs.join(" OR "),
            victim.id
        ))
        .unwrap();
    assert_eq!(
        restored[0],
        [Some("1".to_string()), Some("0".to_string())],
        "the restored row is back, every surviving column equal"
    );
    let artifacts_back = pg.query(db, &format!("SELECT (SELECT count(*) FROM model_artifacts WHERE model_row_id = '{0}') = (SELECT count(*) FROM model_artifacts_rehearse_backup WHERE model_row_id = '{0}')", victim.id)).unwrap();
    assert_eq!(artifacts_back[0][0].as_deref(), Some("t"), "its artifacts are restored");
    let unique = pg.query(db, "SELECT count(*) FROM pg_constraint WHERE conname = 'models_model_id_key'").unwrap();
    assert_eq!(unique[0][0].as_deref(), Some("1"), "the unique constraint stays");
    let (ok, messages) = psql_file(&pg, db, &script("05_cleanup.sql"));
    assert!(ok, "{messages}");
    let (ok, messages) = psql_file(&pg, db, &script("02_rollback.sql"));
    assert!(ok && messages.contains("already rolled back"), "05 then 02: {messages}");

    // A predicted failure is emitted as a script that refuses to run.
    let trap_dir = tempfile::tempdir().unwrap();
    let trapped = generated_database(trap_dir.path(), &["--models", "22", "--seed", "2", "--restrict-trap"]);
    let trap_dump = trap_dir.path().join("dump.sql");
    pg_dump(&trapped, &["--no-owner"], &trap_dump);
    let failing = rehearse_and_emit(&trap_dump, trap_dir.path(), Policy::Legacy, true);
    assert!(failing.plan.predicted_failure.is_some());
    let before = dump_text(&trapped, DB, trap_dir.path(), "before.sql");
    let (ok, messages) = psql_file(&trapped, DB, &failing.scripts.join("02_rollback.sql"));
    assert!(!ok && messages.contains("predicted that this rollback fails"), "{messages}");
    assert_eq!(before, dump_text(&trapped, DB, trap_dir.path(), "after.sql"));
}

#[test]
fn backups_the_guide_left_do_not_stop_01_but_an_earlier_01_that_differs_does() {
    let dir = tempfile::tempdir().unwrap();
    let pg = generated_database(dir.path(), &["--models", "20", "--seed", "6", "--stale-backup"]);
    let dump = dir.path().join("dump.sql");
    pg_dump(&pg, &["--no-owner"], &dump);
    // The guide's stale copies are H14; rehearse backs up under its own names and goes on.
    let run = rehearse_and_emit(&dump, dir.path(), Policy::Documented, false);
    assert!(run.plan.hazards.iter().any(|h| h.code == "H14"));
    assert!(run.plan.predicted_failure.is_none(), "{:?}", run.plan.predicted_failure);
    let (ok, messages) = psql_file(&pg, DB, &run.scripts.join("01_backup.sql"));
    assert!(ok, "{messages}");

    // The live rows change after 01 ran; the next export carries the now stale rehearse backup.
    pg.psql(DB, "UPDATE services SET name = name || ' (renamed)' WHERE service_id = 'svc-h2-spaces'").unwrap();
    let later = dir.path().join("later.sql");
    pg_dump(&pg, &["--no-owner"], &later);
    let again = rehearse_and_emit(&later, dir.path(), Policy::Documented, false);
    let failure = again.plan.predicted_failure.clone().expect("the rehearsal predicts 01's refusal");
    assert!(
        failure.contains("01_backup.sql refuses") && failure.contains("public.services_rehearse_backup (other rows)"),
        "{failure}"
    );
    let before = dump_text(&pg, DB, dir.path(), "before.sql");
    let (ok, messages) = psql_file(&pg, DB, &again.scripts.join("01_backup.sql"));
    assert!(!ok && messages.contains("public.services_rehearse_backup (other rows)"), "{messages}");
    assert!(!messages.contains("models_rehearse_backup"), "models did not change: {messages}");
    assert_eq!(before, dump_text(&pg, DB, dir.path(), "after.sql"), "nothing is created or changed");
}
