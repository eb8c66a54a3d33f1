//! `rehearse restore-script` on PostgreSQL, as an operator runs it after 01 and 02, on generated
//! data with a CASCADE child (model_artifacts), a two-level cascade (artifact_signatures), a SET
//! NULL child (model_feedback) and grandchild (artifact_downloads) and a RESTRICT child
//! (model_approvals), with partitions and inheritance children: every displaced row is named
//! before anything changes, restoring a version and then the one it replaced gives back the
//! database row for row, and a RESTRICT row makes the restore fail with nothing changed, as do
//! the current row's version, a version that two backup rows hold and a model with two live rows.

use crate::support::{generated_database, pg_dump, rehearse, stderr, DB};
use rehearse::pg::Cluster;
use rehearse::sql::literal;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Every row of every table of the public schema, as text, sorted: the database's state.
fn snapshot(pg: &Cluster) -> BTreeMap<String, Vec<String>> {
    let tables = pg
        .query(
            DB,
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'",
        )
        .unwrap();
    tables
        .into_iter()
        .map(|row| {
            let table = row[0].clone().unwrap();
            let rows = pg
                .query(
                    DB,
                    &format!("SELECT x::text FROM public.{} x ORDER BY 1", rehearse::catalog::quote_ident(&table)),
                )
                .unwrap();
            (table, rows.into_iter().map(|r| r[0].clone().unwrap()).collect())
        })
        .collect()
}

/// The ids that `sql` selects, as text.
fn ids(pg: &Cluster, sql: &str) -> Vec<String> {
    pg.query(DB, sql).unwrap().into_iter().map(|r| r[0].clone().unwrap()).collect()
}

/// Writes the restore script for `version` of `model`, runs it, returns (success, messages).
fn restore(pg: &Cluster, run: &Path, model: &str, version: &str, preview: bool) -> (bool, String) {
    let script = run.with_file_name(format!("restore-{version}-{preview}.sql"));
    let mut args: Vec<&std::ffi::OsStr> = vec![
        "restore-script".as_ref(),
        run.as_os_str(),
        "--model-id".as_ref(),
        model.as_ref(),
        "--version".as_ref(),
        version.as_ref(),
        "-o".as_ref(),
        script.as_os_str(),
    ];
    if preview {
        args.push("--preview".as_ref());
    }
    let made = rehearse(&args);
    assert!(made.status.success(), "restore-script: {}", stderr(&made));
    let out = pg.psql_file(DB, &script).unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// Asserts that a NOTICE starting with `what` names each row of `keys` of `table`.
fn assert_named(messages: &str, what: &str, table: &str, keys: &[String]) {
    for key in keys {
        let line = format!("{what} public.{table} id={key}");
        assert!(messages.lines().any(|l| l.contains(&line)), "no NOTICE `{line}`:\n{messages}");
    }
}

/// What the current row's DELETE reaches, and what the backup holds of a deleted version's.
struct Rows {
    artifacts: Vec<String>,
    signatures: Vec<String>,
    downloads: Vec<String>,
    feedback: Vec<String>,
}

impl Rows {
    fn live(pg: &Cluster, model_row: &str) -> Self {
        Self::of(pg, model_row, "")
    }

    fn backed_up(pg: &Cluster, model_row: &str) -> Self {
        Self::of(pg, model_row, "_rehearse_backup")
    }

    fn of(pg: &Cluster, model_row: &str, suffix: &str) -> Self {
        let artifacts_of = format!("SELECT id FROM model_artifacts{suffix} WHERE model_row_id = '{model_row}'");
        Rows {
            artifacts: ids(pg, &format!("{artifacts_of} ORDER BY 1")),
            signatures: ids(
                pg,
                &format!("SELECT id FROM artifact_signatures{suffix} WHERE artifact_id IN ({artifacts_of}) ORDER BY 1"),
            ),
            downloads: ids(
                pg,
                &format!("SELECT id FROM artifact_downloads{suffix} WHERE artifact_id IN ({artifacts_of}) ORDER BY 1"),
            ),
            feedback: ids(
                pg,
                &format!("SELECT id FROM model_feedback{suffix} WHERE model_row_id = '{model_row}' ORDER BY 1"),
            ),
        }
    }

    fn every_kind(&self) -> bool {
        [&self.artifacts, &self.signatures, &self.downloads, &self.feedback].iter().all(|k| !k.is_empty())
    }
}

/// A deleted version (model_id, version, id) and the model's current row id, where both have
/// artifacts with signatures, the most feedback first.
fn pick_version(pg: &Cluster) -> (String, String, String, String) {
    let row = pg
        .query(
            DB,
            "SELECT b.model_id, b.version, b.id::text, m.id::text FROM models_rehearse_backup b JOIN models m ON m.model_id = b.model_id
                 WHERE b.version IS NOT NULL AND m.id <> b.id
                   AND NOT EXISTS (SELECT 1 FROM models x WHERE x.id = b.id)
                   AND EXISTS (SELECT 1 FROM model_artifacts_rehearse_backup a JOIN artifact_signatures_rehearse_backup s ON s.artifact_id = a.id WHERE a.model_row_id = b.id)
                   AND EXISTS (SELECT 1 FROM model_artifacts a JOIN artifact_signatures s ON s.artifact_id = a.id WHERE a.model_row_id = m.id)
                 ORDER BY (SELECT count(*) FROM model_feedback_rehearse_backup f WHERE f.model_row_id = b.id)
                        + (SELECT count(*) FROM model_feedback f WHERE f.model_row_id = m.id) DESC, b.id
                 LIMIT 1",
        )
        .unwrap();
    let row: Vec<String> =
        row.first().expect("a deleted version with artifacts").iter().map(|v| v.clone().unwrap()).collect();
    (row[0].clone(), row[1].clone(), row[2].clone(), row[3].clone())
}

/// The model's row and the version a restore brings back.
struct Swap<'a> {
    run: &'a Path,
    model: String,
    version: String,
    old_id: String,
    current_version: String,
    current_id: String,
}

/// Restores the deleted version, checking that every row displaced and brought back is named
/// and that the dependents come back at both depths, then the version it replaced. Returns the
/// database before and after.
fn there_and_back(pg: &Cluster, swap: &Swap) -> (BTreeMap<String, Vec<String>>, BTreeMap<String, Vec<String>>) {
    let displaced = Rows::live(pg, &swap.current_id);
    let brought_back = Rows::backed_up(pg, &swap.old_id);
    assert!(displaced.every_kind() && brought_back.every_kind(), "every kind of dependent row takes part");
    let before = snapshot(pg);

    let (ok, messages) = restore(pg, swap.run, &swap.model, &swap.version, true);
    assert!(ok && messages.contains("preview: nothing was changed"), "{messages}");
    assert_named(&messages, "replaces the current row", "models", std::slice::from_ref(&swap.current_id));
    assert!(snapshot(pg) == before, "the preview changes nothing");

    let (ok, messages) = restore(pg, swap.run, &swap.model, &swap.version, false);
    assert!(ok, "{messages}");
    assert_named(&messages, "replaces the current row", "models", std::slice::from_ref(&swap.current_id));
    assert_named(&messages, "deletes (ON DELETE CASCADE)", "model_artifacts", &displaced.artifacts);
    assert_named(&messages, "deletes (ON DELETE CASCADE)", "artifact_signatures", &displaced.signatures);
    assert_named(&messages, "sets artifact_id of", "artifact_downloads", &displaced.downloads);
    assert_named(&messages, "sets model_row_id of", "model_feedback", &displaced.feedback);
    assert_named(&messages, "brings back", "model_artifacts", &brought_back.artifacts);
    assert_named(&messages, "brings back", "artifact_signatures", &brought_back.signatures);
    assert_named(&messages, "points", "artifact_downloads", &brought_back.downloads);
    assert_named(&messages, "points", "model_feedback", &brought_back.feedback);
    assert!(
        messages.contains("not restorable: public.models id=") && messages.contains("version_status="),
        "{messages}"
    );
    let (named, swapped) =
        (messages.find("replaces the current row").unwrap(), messages.find("restored version").unwrap());
    assert!(named < swapped, "the rows are named before the swap is reported");
    let now = ids(pg, &format!("SELECT id FROM models WHERE model_id = {}", literal(&swap.model)));
    assert_eq!(now, std::slice::from_ref(&swap.old_id), "the restored version is the model's row");
    let restored = Rows::live(pg, &swap.old_id);
    assert_eq!(
        (&restored.artifacts, &restored.signatures, &restored.downloads, &restored.feedback),
        (&brought_back.artifacts, &brought_back.signatures, &brought_back.downloads, &brought_back.feedback),
        "its dependents are back at both depths"
    );

    let (ok, messages) = restore(pg, swap.run, &swap.model, &swap.current_version, false);
    assert!(ok, "{messages}");
    assert_named(&messages, "replaces the current row", "models", std::slice::from_ref(&swap.old_id));
    let after = snapshot(pg);
    let created: Vec<&String> = after.keys().filter(|t| !before.contains_key(*t)).collect();
    assert!(created.iter().all(|t| t.ends_with("_rehearse_backup")), "only backup tables are new: {created:?}");
    (before, after)
}

/// The generator's database (`generator` its options), rehearsed, then 01_backup.sql (whose
/// backups are checked) and 02_rollback.sql run on it: the database and the run directory.
fn rolled_back(dir: &Path, generator: &[&str]) -> (Cluster, PathBuf) {
    let pg = generated_database(dir, generator);
    let dump = dir.join("dump.sql");
    pg_dump(&pg, &["--no-owner"], &dump);
    let run = dir.join("run");
    let result = rehearse(&["run".as_ref(), dump.as_os_str(), "--out".as_ref(), run.as_os_str()]);
    assert_eq!(result.status.code(), Some(0), "{}", stderr(&result));
    run_script(&pg, &run, "01_backup.sql");
    backups_hold_their_tables_own_rows(&pg);
    run_script(&pg, &run, "02_rollback.sql");
    (pg, run)
}

fn run_script(pg: &Cluster, run: &Path, name: &str) {
    let out = pg.psql_file(DB, &run.join("scripts").join(name)).unwrap();
    assert!(out.status.success(), "{name}: {}", String::from_utf8_lossy(&out.stderr));
}

fn backup_tables(pg: &Cluster) -> Vec<String> {
    ids(
        pg,
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_name LIKE '%\\_rehearse\\_backup'",
    )
}

/// Every backup of 01_backup.sql holds exactly its table's own rows, not those of its
/// inheritance children or partitions (each child that loses rows has its own backup).
fn backups_hold_their_tables_own_rows(pg: &Cluster) {
    for backup in backup_tables(pg) {
        let table = backup.strip_suffix("_rehearse_backup").unwrap();
        let differ = ids(
            pg,
            &format!(
                "SELECT count(*) FROM ((SELECT t::text FROM ONLY public.{table} t EXCEPT ALL SELECT b::text FROM public.{backup} b)
                 UNION ALL (SELECT b::text FROM public.{backup} b EXCEPT ALL SELECT t::text FROM ONLY public.{table} t)) d"
            ),
        );
        assert_eq!(differ, ["0"], "{backup} holds other rows than ONLY {table}");
    }
}

#[test]
fn restoring_a_version_then_the_replaced_one_is_the_identity_and_names_every_row() {
    let dir = tempfile::tempdir().unwrap();
    // Partitions and inheritance children too: keys on a partitioned table, a two-level cascade
    // through partitions (usage_notes), an inheritance parent (model_tags) whose child keeps its
    // rows, and ON DELETE SET NULL (model_row_id) on a two-column key (model_links).
    let switches = ["--restore-children", "--partitioned-child", "--inherited-child", "--set-null-columns"];
    let (pg, run) = rolled_back(dir.path(), &[&["--models", "40", "--seed", "11"][..], &switches].concat());
    let backups = backup_tables(&pg);
    assert!(backups.iter().any(|b| b == "model_tags_rehearse_backup"), "the inheritance parent: {backups:?}");
    let (model, version, old_id, current_id) = pick_version(&pg);
    let current_version = ids(&pg, &format!("SELECT version FROM models WHERE id = '{current_id}'")).remove(0);
    let swap = Swap { run: &run, model, version, old_id, current_version, current_id };

    // Right after the rollback: every table, the backups included, is as it was.
    let (before, after) = there_and_back(&pg, &swap);
    let mut rows = 0;
    for (table, expected) in &before {
        assert_eq!(
            after.get(table),
            Some(expected),
            "{table} differs after restoring a version and then the replaced one"
        );
        rows += expected.len();
    }
    assert!(before.len() >= 15 && rows > 1000, "{} tables, {rows} rows compared", before.len());

    // Life goes on after the rollback: the current row and its dependents change, so that only
    // the restore's own copies (not 01_backup.sql's) can give them back. The tables are as they
    // were; the backups now hold the changed rows.
    let late = "00000000-0000-4000-8000-000000000019";
    let current_id = &swap.current_id;
    pg.psql(
        DB,
        &format!(
            "UPDATE models SET description = 'edited after the rollback' WHERE id = '{current_id}';
             INSERT INTO model_artifacts (id, model_row_id, path) VALUES ('{late}', '{current_id}', 's3://after-the-rollback');
             INSERT INTO artifact_signatures (artifact_id, signer) VALUES ('{late}', 'late-bot');
             INSERT INTO artifact_downloads (artifact_id, region) VALUES ('{late}', 'eu-west-1');
             UPDATE model_feedback SET comment = 'edited after the rollback' WHERE model_row_id = '{current_id}';"
        ),
    )
    .unwrap();
    let (before, after) = there_and_back(&pg, &swap);
    for (table, expected) in before.iter().filter(|(t, _)| !t.ends_with("_rehearse_backup")) {
        assert_eq!(
            after.get(table),
            Some(expected),
            "{table} differs after restoring a version and then the replaced one"
        );
    }
    for (backup, copy) in [
        ("models_rehearse_backup", format!("id = '{current_id}' AND description = 'edited after the rollback'")),
        ("model_artifacts_rehearse_backup", format!("id = '{late}' AND model_row_id = '{current_id}'")),
        ("artifact_signatures_rehearse_backup", format!("artifact_id = '{late}' AND signer = 'late-bot'")),
        ("artifact_downloads_rehearse_backup", format!("artifact_id = '{late}' AND region = 'eu-west-1'")),
        (
            "model_feedback_rehearse_backup",
            format!("model_row_id = '{current_id}' AND comment = 'edited after the rollback'"),
        ),
    ] {
        let found = ids(&pg, &format!("SELECT count(*) FROM {backup} WHERE {copy}"));
        assert_ne!(found, ["0"], "{backup} holds no copy of the row changed after the rollback ({copy})");
    }
}

#[test]
fn a_restrict_child_of_the_current_row_makes_the_restore_fail_with_nothing_changed() {
    let dir = tempfile::tempdir().unwrap();
    let (pg, run) = rolled_back(dir.path(), &["--models", "30", "--seed", "12", "--restore-children"]);
    let (model, version, _, current_id) = pick_version(&pg);
    // An approval recorded after the rollback, of the row a restore would replace.
    let approval = ids(
        &pg,
        &format!("INSERT INTO model_approvals (model_row_id, approver) VALUES ('{current_id}', 'ops') RETURNING id"),
    )
    .remove(0);
    let blocked =
        format!("public.model_approvals through model_approvals_model_row_id_fkey (ON DELETE RESTRICT): id={approval}");
    refused(&pg, &run, &model, &version, &["cannot be replaced", &blocked, "Nothing was changed"]);
}

/// Restores `version` of `model`, which must fail with messages holding each of `refusal` and
/// change nothing.
fn refused(pg: &Cluster, run: &Path, model: &str, version: &str, refusal: &[&str]) {
    let before = snapshot(pg);
    let (ok, messages) = restore(pg, run, model, version, false);
    assert!(
        !ok && refusal.iter().all(|text| messages.contains(text)),
        "the restore of version {version} must fail with {refusal:?}:\n{messages}"
    );
    assert!(snapshot(pg) == before, "the refused restore of version {version} changed nothing");
}

/// Inserts into `table` a copy of its row `id` under a new id, which the table `twin` holds too.
fn insert_twin(pg: &Cluster, table: &str, id: &str) {
    let sql = format!(
        "CREATE TABLE twin AS SELECT * FROM {table} WHERE id = '{id}';
         UPDATE twin SET id = gen_random_uuid();
         INSERT INTO {table} SELECT * FROM twin;"
    );
    pg.psql(DB, &sql).unwrap();
}

#[test]
fn the_restore_refuses_with_nothing_changed_the_current_version_and_a_row_it_cannot_tell_apart() {
    let dir = tempfile::tempdir().unwrap();
    let (pg, run) = rolled_back(dir.path(), &["--models", "30", "--seed", "13", "--restore-children"]);
    let (model, version, old_id, current_id) = pick_version(&pg);
    let current_version = ids(&pg, &format!("SELECT version FROM models WHERE id = '{current_id}'")).remove(0);
    refused(&pg, &run, &model, &current_version, &["is the current row: nothing to restore"]);

    // Two rows of the backup hold the version (the models table had no UNIQUE (model_id,
    // version)): which one to bring back is not the script's to guess.
    insert_twin(&pg, "models_rehearse_backup", &old_id);
    refused(&pg, &run, &model, &version, &["2 rows of public.models_rehearse_backup hold version"]);
    pg.psql(DB, "DELETE FROM models_rehearse_backup b USING twin t WHERE b.id = t.id; DROP TABLE twin;").unwrap();

    // Two live rows of the model (its UNIQUE (model_id) dropped since): neither is the current
    // row to replace.
    let unique = ids(
        &pg,
        "SELECT c.conname FROM pg_constraint c JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ALL (c.conkey)
         WHERE c.conrelid = 'public.models'::regclass AND c.contype = 'u' AND a.attname = 'model_id'",
    );
    assert_eq!(unique.len(), 1, "the rollback's UNIQUE (model_id): {unique:?}");
    pg.psql(DB, &format!("ALTER TABLE models DROP CONSTRAINT {}", rehearse::catalog::quote_ident(&unique[0]))).unwrap();
    insert_twin(&pg, "models", &current_id);
    refused(&pg, &run, &model, &version, &["without UNIQUE(model_id) there is no current row to replace"]);
}
