//! The emitted scripts, run on real PostgreSQL: they do exactly what was rehearsed (row for row,
//! both policies, with and without --delete-orphans, hostile data included), refuse a drifted
//! database without touching it, are idempotent, refuse a predicted failure, and 04 restores a
//! deleted version.

use crate::support::{cluster, generated_database, pg_dump, DB};
use rehearse::catalog::Catalog;
use rehearse::emit::{self, Context};
use rehearse::import::{import, ImportOptions};
use rehearse::pg::Cluster;
use rehearse::plan::{Mode, Plan};
use rehearse::rehearsal::policy::Policy;
use rehearse::rehearsal::{rehearse, Options};
use rehearse::spec::Spec;
use rehearse::sql::{orphan_condition, Dialect};
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

/// The generator's database (`generator` its options) in PostgreSQL, its plain dump in `dir`,
/// and the dump rehearsed under `policy` with the orphans kept.
fn exported_and_rehearsed(dir: &Path, generator: &[&str], policy: Policy) -> (Cluster, PathBuf, Run) {
    let pg = generated_database(dir, generator);
    let dump = dir.join("dump.sql");
    pg_dump(&pg, &["--no-owner"], &dump);
    let run = rehearse_and_emit(&dump, dir, policy, false);
    (pg, dump, run)
}

fn psql_file(pg: &Cluster, db: &str, file: &Path) -> (bool, String) {
    let out = pg.psql_file(db, file).unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// `dump` restored as `db`, with `scripts`' 01_backup.sql run on it, as an operator runs the
/// rollback.
fn backed_up(pg: &Cluster, dump: &Path, db: &str, scripts: &Path) {
    restore(pg, dump, db).unwrap();
    let (ok, messages) = psql_file(pg, db, &scripts.join("01_backup.sql"));
    assert!(ok, "{db}: {messages}");
}

/// Runs `script` on `db`, which must refuse with a message holding `refusal` and leave the
/// database as it was (its pg_dump before and after, written in `dir`); returns the messages.
fn refused_unchanged(pg: &Cluster, db: &str, dir: &Path, script: &Path, refusal: &str) -> String {
    let before = dump_text(pg, db, dir, "before.sql");
    let (ok, messages) = psql_file(pg, db, script);
    assert!(!ok && messages.contains(refusal), "{db}: {} must refuse with `{refusal}`: {messages}", script.display());
    assert_eq!(before, dump_text(pg, db, dir, "after.sql"), "{db}: the database must be unchanged");
    messages
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
    // (policy, delete_orphans) for each run.
    type Runs = &'static [(Policy, bool)];
    let every_run: Runs =
        &[(Policy::Legacy, false), (Policy::Legacy, true), (Policy::Documented, false), (Policy::Documented, true)];
    // A NULL models.model_id makes the guide's orphan delete (NOT IN) delete nothing.
    let scenarios: [(&[&str], Runs); 3] = [
        (&["--models", "40", "--seed", "9"], every_run),
        (&["--models", "40", "--seed", "13"], every_run),
        (&["--models", "40", "--seed", "5", "--null-model-id"], &[(Policy::Legacy, true)]),
    ];
    for (args, runs) in scenarios {
        let args_text = args.join(" ");
        let dir = tempfile::tempdir().unwrap();
        let pg = generated_database(dir.path(), args);
        let dump = dir.path().join("dump.sql");
        pg_dump(&pg, &["--no-owner"], &dump);
        let spec = Spec::guide();
        for (n, &(policy, delete_orphans)) in runs.iter().enumerate() {
            let run = rehearse_and_emit(&dump, dir.path(), policy, delete_orphans);
            let context = Context::new(&run.plan, &spec, &run.catalog).unwrap();
            let db = format!("scripts_{n}");
            let validation =
                validate(&pg, &db, &dump, &run.workspace, &run.catalog, &spec, &context, &run.scripts).unwrap();
            let label = format!("{args_text}, {}, delete_orphans={delete_orphans}", policy.name());
            assert!(validation.matches(), "{label}:\n{}", describe(&validation));
            assert!(validation.tables.len() >= 4, "{label}: models, services and the cascaded tables are compared");
            assert!(validation.second_run_changed_nothing, "{label}");
            let timed = validation.scripts.iter().find(|r| r.script == "02_rollback.sql").and_then(|r| r.locks);
            assert!(timed.is_some_and(|t| t.reads_blocked_seconds <= t.writes_blocked_seconds), "{label}: lock times");
        }
    }
}

/// `validate` tells a prediction that PostgreSQL does not bear out: the same scripts, compared
/// with a plan that keeps a models row they delete, or deletes a cascaded row they keep.
#[test]
fn validate_finds_a_prediction_that_postgresql_does_not_bear_out() {
    let dir = tempfile::tempdir().unwrap();
    let (pg, dump, run) = exported_and_rehearsed(dir.path(), &["--models", "30", "--seed", "6"], Policy::Documented);
    let spec = Spec::guide();
    let (kept_instead, deleted_instead) = (run.plan.effects.clone(), run.plan.effects.clone());
    let mut wrong = [(kept_instead, "public.models", (1, 0)), (deleted_instead, "public.model_artifacts", (0, 1))];
    // One deleted models row said kept; one model_artifacts row that stays said deleted.
    let models = wrong[0].0.deleted.get_mut("public.models").unwrap();
    let spared = models.iter().next().unwrap();
    *models = models.iter().filter(|&rid| rid != spared).collect();
    let artifacts = wrong[1].0.deleted.get_mut("public.model_artifacts").unwrap();
    let stays = (0..).find(|&rid| !artifacts.contains(rid)).unwrap();
    artifacts.extend([stays]);
    for (n, (effects, table, (missing, unexpected))) in wrong.into_iter().enumerate() {
        let plan = Plan { effects, ..run.plan.clone() };
        let context = Context::new(&plan, &spec, &run.catalog).unwrap();
        let db = format!("wrong_{n}");
        let validation =
            validate(&pg, &db, &dump, &run.workspace, &run.catalog, &spec, &context, &run.scripts).unwrap();
        assert!(!validation.matches(), "{table}: {}", describe(&validation));
        assert!(validation.scripts.iter().all(|s| s.success), "{table}: the scripts themselves ran");
        let diff = validation.tables.iter().find(|t| t.table == table).unwrap();
        assert_eq!((diff.missing.len(), diff.unexpected.len()), (missing, unexpected), "{table}");
        assert_eq!(diff.predicted_rows + unexpected, diff.actual_rows + missing, "{table}");
        let others = validation.tables.iter().filter(|t| t.table != table);
        assert!(others.map(|t| (&t.missing, &t.unexpected)).all(|(m, u)| m.is_empty() && u.is_empty()), "{table}");
    }
}

#[test]
fn drift_idempotency_refusal_and_restore() {
    let dir = tempfile::tempdir().unwrap();
    let (pg, dump, run) = exported_and_rehearsed(dir.path(), &["--models", "30", "--seed", "4"], Policy::Documented);
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
        refused_unchanged(&pg, &db, dir.path(), &script("02_rollback.sql"), "drift");
    }

    // 02 refuses, changing nothing, before 01 has run, and on a database whose version columns
    // are partly gone already.
    let refusals = [
        ("no_backup", None, "no backup from 01_backup.sql: \"public\".\"models_rehearse_backup\", "),
        (
            "partial",
            Some("ALTER TABLE services DROP COLUMN version_updated_at"),
            "only 4 of the 5 version columns remain: the database is partially rolled back",
        ),
    ];
    for (db, change, refusal) in refusals {
        match change {
            Some(change) => {
                backed_up(&pg, &dump, db, &run.scripts);
                pg.psql(db, change).unwrap();
            }
            None => restore(&pg, &dump, db).unwrap(),
        }
        refused_unchanged(&pg, db, dir.path(), &script("02_rollback.sql"), refusal);
    }

    // A blocking row that appeared after the export: PostgreSQL's own foreign key stops the
    // transaction, and nothing is changed.
    let orphans_deleted = rehearse_and_emit(&dump, dir.path(), Policy::Legacy, true);
    backed_up(&pg, &dump, "blocked", &orphans_deleted.scripts);
    pg.psql("blocked", "INSERT INTO billing_contracts (service_id, amount) VALUES ('svc-h8-orphan-a2', 1)").unwrap();
    refused_unchanged(
        &pg,
        "blocked",
        dir.path(),
        &orphans_deleted.scripts.join("02_rollback.sql"),
        "billing_contracts",
    );

    // An index on a version column made after the export: PostgreSQL would drop it silently
    // with the column; 02 sees it gone, names it, and changes nothing.
    backed_up(&pg, &dump, "silent", &run.scripts);
    pg.psql("silent", "CREATE INDEX late_status ON models (model_id) WHERE version_status <> 'active'").unwrap();
    let unnamed = "objects that it does not name: index public.late_status";
    refused_unchanged(&pg, "silent", dir.path(), &script("02_rollback.sql"), unnamed);

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
    let left = pg
        .query(
            db,
            "SELECT (SELECT count(*) FROM pg_tables WHERE tablename LIKE '%rehearse%') + \
             (SELECT count(*) FROM pg_proc WHERE proname LIKE 'rehearse%')",
        )
        .unwrap();
    assert_eq!(left[0][0].as_deref(), Some("0"), "05 leaves no backup, keep mapping or restore function");
    let (ok, messages) = psql_file(&pg, db, &script("02_rollback.sql"));
    assert!(ok && messages.contains("already rolled back"), "05 then 02: {messages}");

    // A predicted failure is emitted as a script that refuses to run.
    let trap_dir = tempfile::tempdir().unwrap();
    let trapped = generated_database(trap_dir.path(), &["--models", "22", "--seed", "2", "--restrict-trap"]);
    let trap_dump = trap_dir.path().join("dump.sql");
    pg_dump(&trapped, &["--no-owner"], &trap_dump);
    let failing = rehearse_and_emit(&trap_dump, trap_dir.path(), Policy::Legacy, true);
    assert!(failing.plan.predicted_failure.is_some());
    let rollback = failing.scripts.join("02_rollback.sql");
    refused_unchanged(&trapped, DB, trap_dir.path(), &rollback, "predicted that this rollback fails");
}

/// 02's check of the rows its models DELETE reached, with the prediction moved by one either
/// way: a DELETE that reaches more rows or fewer than the rehearsal predicted (which the drift
/// guard makes all but impossible) rolls everything back.
#[test]
fn a_delete_that_reaches_other_than_the_predicted_rows_rolls_everything_back() {
    let dir = tempfile::tempdir().unwrap();
    let (pg, dump, run) = exported_and_rehearsed(dir.path(), &["--models", "25", "--seed", "8"], Policy::Documented);
    let script = std::fs::read_to_string(run.scripts.join("02_rollback.sql")).unwrap();
    let deleted = (run.plan.models_before - run.plan.models_after) as i64;
    // The check's two lines: the comparison, then the message that names the prediction.
    let lines: Vec<&str> = script.lines().collect();
    let said = format!("public.models is %, the rehearsal predicted {deleted}: everything is rolled back");
    let at = lines.iter().position(|l| l.contains(&said)).expect("02 checks the models rows deleted");
    for moved in [deleted - 1, deleted + 1] {
        let db = format!("predicted_{moved}");
        backed_up(&pg, &dump, &db, &run.scripts);
        let mut changed: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
        for line in &mut changed[at - 1..=at] {
            assert!(line.contains(&deleted.to_string()), "{line}");
            *line = line.replace(&deleted.to_string(), &moved.to_string());
        }
        let file = dir.path().join(format!("{db}.sql"));
        std::fs::write(&file, changed.join("\n")).unwrap();
        let said = format!("public.models is {deleted}, the rehearsal predicted {moved}: everything is rolled back");
        refused_unchanged(&pg, &db, dir.path(), &file, &said);
    }
}

/// 03_verify.sql after the rollback: a single service orphaned since (its model deleted) fails
/// V3, as any number does.
#[test]
fn verify_fails_on_a_single_service_orphaned_since_the_rollback() {
    let dir = tempfile::tempdir().unwrap();
    let (pg, dump, run) = exported_and_rehearsed(dir.path(), &["--models", "25", "--seed", "9"], Policy::Documented);
    let db = "verified";
    backed_up(&pg, &dump, db, &run.scripts);
    for name in ["02_rollback.sql", "03_verify.sql"] {
        let (ok, messages) = psql_file(&pg, db, &run.scripts.join(name));
        assert!(ok, "{name}: {messages}");
    }
    let lone = pg
        .query(
            db,
            "SELECT s.model_id FROM services s JOIN models m ON m.model_id = s.model_id
             GROUP BY s.model_id HAVING count(*) = 1 ORDER BY 1 LIMIT 1",
        )
        .unwrap();
    let model = lone.first().and_then(|r| r[0].clone()).expect("a model_id with a single service");
    pg.psql(db, &format!("DELETE FROM models WHERE model_id = {}", rehearse::sql::literal(&model))).unwrap();
    let (ok, messages) = psql_file(&pg, db, &run.scripts.join("03_verify.sql"));
    assert!(!ok && messages.contains("V3 failed: the rollback orphaned 1 services"), "{messages}");
}

#[test]
fn backups_the_guide_left_do_not_stop_01_but_an_earlier_01_that_differs_does() {
    let dir = tempfile::tempdir().unwrap();
    let pg = generated_database(dir.path(), &["--models", "20", "--seed", "6", "--stale-backup"]);
    let dump = dir.path().join("dump.sql");
    pg_dump(&pg, &["--no-owner"], &dump);
    // The guide's stale copies are H14; rehearse backs up under its own names and goes on.
    let run = rehearse_and_emit(&dump, dir.path(), Policy::Documented, false);
    assert!(run.plan.all_hazard_texts().unwrap().iter().any(|h| h.code == "H14"));
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
    let backup = again.scripts.join("01_backup.sql");
    let messages = refused_unchanged(&pg, DB, dir.path(), &backup, "public.services_rehearse_backup (other rows)");
    assert!(!messages.contains("models_rehearse_backup"), "models did not change: {messages}");

    // The live table gains a column after 01 ran: the earlier backup has other columns.
    pg.psql(
        DB,
        "UPDATE services SET name = replace(name, ' (renamed)', '') WHERE service_id = 'svc-h2-spaces';
         ALTER TABLE models ADD COLUMN reviewed_by text",
    )
    .unwrap();
    let widened = dir.path().join("widened.sql");
    pg_dump(&pg, &["--no-owner"], &widened);
    let again = rehearse_and_emit(&widened, dir.path(), Policy::Documented, false);
    let failure = again.plan.predicted_failure.clone().expect("the rehearsal predicts 01's refusal");
    assert!(failure.contains("public.models_rehearse_backup (other columns)"), "{failure}");
    let backup = again.scripts.join("01_backup.sql");
    let messages = refused_unchanged(&pg, DB, dir.path(), &backup, "public.models_rehearse_backup (other columns)");
    assert!(!messages.contains("services_rehearse_backup"), "services are as backed up again: {messages}");
}

#[test]
fn the_orphan_delete_keeps_the_guides_null_semantics() {
    // 02_rollback.sql deletes orphans with an anti-join, not the guide's NOT IN (which the
    // rehearsal runs): on every mix of NULLs, both pick the same services.
    let pg = cluster();
    pg.create_database(DB).unwrap();
    let guide = orphan_condition("s", "model_id", "models", "model_id", Dialect::DuckDb);
    let emitted = orphan_condition("s", "model_id", "models", "model_id", Dialect::Postgres);
    assert!(guide.contains("NOT IN") && !emitted.contains("NOT IN"));
    let picked = |condition: &str| {
        let sql = format!(
            "SELECT coalesce(string_agg(s.id::text, ',' ORDER BY s.id), 'none') FROM services s WHERE {condition}"
        );
        pg.query(DB, &sql).unwrap()[0][0].clone().unwrap()
    };
    for (models, expected) in [("", "1,2,3"), ("('a')", "2"), ("('a'), (NULL)", "none"), ("(NULL)", "none")] {
        pg.psql(DB, "DROP TABLE IF EXISTS models, services; CREATE TABLE models (model_id text); CREATE TABLE services (id int, model_id text); INSERT INTO services VALUES (1, 'a'), (2, 'b'), (3, NULL)").unwrap();
        if !models.is_empty() {
            pg.psql(DB, &format!("INSERT INTO models VALUES {models}")).unwrap();
        }
        assert_eq!(picked(&guide), expected, "the guide's NOT IN, models {models:?}");
        assert_eq!(picked(&emitted), expected, "the emitted condition, models {models:?}");
    }
}

#[test]
fn temporary_indexes_are_optional_and_never_outlive_the_rollback() {
    let dir = tempfile::tempdir().unwrap();
    let (pg, dump, run) = exported_and_rehearsed(dir.path(), &["--models", "30", "--seed", "4"], Policy::Documented);
    let rollback = std::fs::read_to_string(run.scripts.join("02_rollback.sql")).unwrap();
    let index_on = |table: &str| {
        let at = rollback.find(&format!("\" ON \"public\".\"{table}\"")).expect("a temporary index");
        let name_start = rollback[..at].rfind("CREATE INDEX \"").unwrap() + "CREATE INDEX \"".len();
        rollback[name_start..at].to_string()
    };
    let (artifacts, feedback) = (index_on("model_artifacts"), index_on("model_feedback"));

    // The operator owns models and services but not model_artifacts, and the name of the
    // feedback index is taken: the rollback does without both indexes, and drops no index of
    // its operator's.
    let db = "owners";
    backed_up(&pg, &dump, db, &run.scripts);
    let setup = format!(
        "CREATE ROLE rollback_operator LOGIN; ALTER TABLE models OWNER TO rollback_operator; \
         ALTER TABLE services OWNER TO rollback_operator; ALTER TABLE model_feedback OWNER TO rollback_operator; \
         GRANT ALL ON ALL TABLES IN SCHEMA public TO rollback_operator; GRANT CREATE ON SCHEMA public TO rollback_operator; CREATE INDEX \"{feedback}\" ON request_logs (status)"
    );
    pg.psql(db, &setup).unwrap();
    let out = pg
        .client("psql")
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-U", "rollback_operator", "-d", db, "-f"])
        .arg(run.scripts.join("02_rollback.sql"))
        .output()
        .unwrap();
    let messages = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{messages}");
    assert!(
        messages.contains("no temporary index on public.model_artifacts (model_row_id): must be owner"),
        "{messages}"
    );
    assert!(messages.contains("no temporary index on public.model_feedback (model_row_id)"), "{messages}");
    assert!(messages.contains("rollback applied as rehearsed"), "{messages}");
    let left = pg
        .query(db, "SELECT string_agg(indexrelid::regclass::text || ' ON ' || indrelid::regclass::text, ', ') FROM pg_index WHERE indexrelid::regclass::text LIKE 'rehearse_fk_%'")
        .unwrap();
    assert_eq!(left[0][0], Some(format!("{feedback} ON request_logs")), "only the operator's own index is left");
    assert_ne!(artifacts, feedback);
    let models = pg.query(db, "SELECT count(*) FROM models").unwrap();
    assert_eq!(models[0][0], Some(run.plan.models_after.to_string()));
}

/// A psql session kept open on stdin: a transaction another client holds while 02 runs.
struct Session {
    child: std::process::Child,
    lines: std::io::Lines<std::io::BufReader<std::process::ChildStdout>>,
}

impl Session {
    fn open(pg: &Cluster, db: &str) -> Session {
        use std::io::BufRead;
        use std::process::Stdio;
        let mut child = pg
            .client("psql")
            .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", db])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
        Session { child, lines }
    }

    /// Runs `sql`, then waits until psql has done it.
    fn run(&mut self, sql: &str) {
        use std::io::Write;
        let stdin = self.child.stdin.as_mut().unwrap();
        writeln!(stdin, "{sql}\nSELECT 'done';").unwrap();
        stdin.flush().unwrap();
        assert!(self.lines.by_ref().map(Result::unwrap).any(|l| l == "done"), "psql ended early");
    }

    fn close(mut self) {
        self.run("COMMIT;");
        drop(self.child.stdin.take());
        assert!(self.child.wait().unwrap().success());
    }
}

#[test]
fn writes_between_the_unlocked_drift_guard_and_the_lock_are_caught() {
    let dir = tempfile::tempdir().unwrap();
    let (pg, dump, run) = exported_and_rehearsed(dir.path(), &["--models", "30", "--seed", "4"], Policy::Legacy);
    let rollback = run.scripts.join("02_rollback.sql");
    let count = |db: &str, sql: &str| pg.query(db, sql).unwrap()[0][0].clone().unwrap();

    // A transaction older than the guard, and a write committed after it began to a column the
    // guard does not digest: the cheap re-check cannot rule that row out, so the guard runs
    // again under the lock, finds the rehearsed rows and the rollback goes on.
    backed_up(&pg, &dump, "older_transaction", &run.scripts);
    let mut older = Session::open(&pg, "older_transaction");
    older.run("BEGIN; SELECT pg_current_xact_id();");
    pg.psql(
        "older_transaction",
        "UPDATE services SET name = name || ' (renamed)' WHERE id = (SELECT id FROM services ORDER BY id LIMIT 1)",
    )
    .unwrap();
    let writers = "SELECT string_agg(DISTINCT xmin::text, ',') FROM services";
    let services_written_by = count("older_transaction", writers);
    let (ok, messages) = psql_file(&pg, "older_transaction", &rollback);
    older.close();
    assert!(ok && messages.contains("it runs again, under the lock"), "{messages}");
    assert!(messages.contains("rollback applied as rehearsed"), "{messages}");
    // Nothing sees the shipped no-op UPDATE of services here (no trigger, no rule): it is skipped.
    assert_eq!(count("older_transaction", writers), services_written_by, "no service was rewritten");

    // A write that the guard could not see (uncommitted) and that commits while 02 waits for
    // its lock: the re-check finds it, the guard sees the drift and nothing is changed.
    backed_up(&pg, &dump, "late_write", &run.scripts);
    let models_before = count("late_write", "SELECT count(*) FROM models");
    let mut writer = Session::open(&pg, "late_write");
    writer.run("BEGIN; UPDATE models SET version_status = 'deprecated' WHERE id = (SELECT id FROM models WHERE version_status = 'active' ORDER BY id LIMIT 1);");
    let mut command = pg.client("psql");
    command.args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", "late_write", "-f"]).arg(&rollback);
    let script = std::thread::spawn(move || command.output().unwrap());
    let waiting = "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation WHERE NOT l.granted AND c.relname = 'models'";
    let started = std::time::Instant::now();
    while count("late_write", waiting) == "0" {
        assert!(started.elapsed().as_secs() < 8, "02 never waited for the writer's lock");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    writer.close();
    let out = script.join().unwrap();
    let messages = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && messages.contains("it runs again, under the lock"), "{messages}");
    assert!(messages.contains("drift"), "{messages}");
    assert_eq!(count("late_write", "SELECT count(*) FROM models"), models_before, "nothing was deleted");
    assert_eq!(
        count("late_write", "SELECT count(*) FROM information_schema.columns WHERE table_name = 'models' AND column_name = 'version_status'"),
        "1"
    );
}
