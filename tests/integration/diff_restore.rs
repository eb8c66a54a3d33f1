//! `rehearse diff` between two policies, and `rehearse restore-script` proven on PostgreSQL:
//! after the emitted rollback, the script brings a deleted version back with its artifacts and
//! keeps the unique constraint.

use crate::support::{cluster, csv_rows, rehearse, repo, stderr, DB};
use rehearse::validate::restore;
use std::path::Path;

fn run_example(out: &Path, extra: &[&str]) {
    let example = repo().join("fixtures/example.sql");
    let mut args: Vec<&std::ffi::OsStr> = vec!["run".as_ref(), example.as_os_str(), "--out".as_ref(), out.as_os_str()];
    args.extend(extra.iter().map(|a| std::ffi::OsStr::new(*a)));
    let result = rehearse(&args);
    assert_eq!(result.status.code(), Some(0), "{}", stderr(&result));
}

#[test]
fn diff_shows_switched_keepers_and_count_deltas() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("documented"), dir.path().join("legacy"));
    run_example(&a, &[]);
    run_example(&b, &["--policy", "legacy", "--delete-orphans"]);
    let summary: serde_json::Value = serde_json::from_slice(&std::fs::read(a.join("summary.json")).unwrap()).unwrap();
    let out = rehearse(&["diff".as_ref(), a.as_os_str(), b.as_os_str(), "--json".as_ref()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let diff: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        diff["keepers_switched"].as_array().unwrap().len() as u64,
        summary["policy_divergence"].as_u64().unwrap()
    );
    assert_eq!(diff["counts"]["services_deleted"]["delta"], 5);
    let switched = diff["keepers_switched"].as_array().unwrap();
    let h1 = switched.iter().find(|s| s["model_id"] == "trap-h1-semver-text").unwrap();
    assert_eq!((h1["a"]["version"].as_str(), h1["b"]["version"].as_str()), (Some("1.10.0"), Some("1.9.0")));
    // The hazard rows only B has, and only A has, by (code, table, key), read from hazards.csv here.
    let hazard_rows = |run: &Path| -> std::collections::BTreeSet<(String, String, String)> {
        let rows = csv_rows(&run.join("reports/hazards.csv"));
        rows.iter().map(|r| (r[0].to_string(), r[1].to_string(), r[2].to_string())).collect()
    };
    let (in_a, in_b) = (hazard_rows(&a), hazard_rows(&b));
    let listed = |key: &str| -> std::collections::BTreeSet<(String, String, String)> {
        let rows = diff[key].as_array().unwrap().iter();
        rows.map(|h| {
            (h["code"].as_str().unwrap().into(), h["table"].as_str().unwrap().into(), h["key"].as_str().unwrap().into())
        })
        .collect()
    };
    let (new, gone) = (listed("hazards_new"), listed("hazards_gone"));
    assert_eq!(new, in_b.difference(&in_a).cloned().collect());
    assert_eq!(gone, in_a.difference(&in_b).cloned().collect());
    assert!(!new.is_empty() && !gone.is_empty(), "each side has hazard rows the other lacks");
    let text = rehearse(&["diff".as_ref(), a.as_os_str(), b.as_os_str()]);
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(text.contains("KEEPERS THAT SWITCH (18)") && text.contains("services_deleted"), "{text}");

    // A summary missing a key is refused by name, never read as 0.
    let file = b.join("summary.json");
    let mut edited: serde_json::Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    edited.as_object_mut().unwrap().remove("services_deleted");
    std::fs::write(&file, serde_json::to_string_pretty(&edited).unwrap()).unwrap();
    let refused = rehearse(&["diff".as_ref(), a.as_os_str(), b.as_os_str()]);
    assert_eq!(refused.status.code(), Some(1), "{}", stderr(&refused));
    let message = stderr(&refused);
    assert!(
        message.contains(&file.display().to_string()) && message.contains("missing field `services_deleted`"),
        "{message}"
    );
}

#[test]
fn restore_script_brings_a_deleted_version_back_on_postgresql() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    run_example(&out, &[]);
    let script = dir.path().join("restore.sql");
    let made = rehearse(&[
        "restore-script".as_ref(),
        out.as_os_str(),
        "--model-id".as_ref(),
        "trap-semver-major".as_ref(),
        "--version".as_ref(),
        "9.9.9".as_ref(),
        "-o".as_ref(),
        script.as_os_str(),
    ]);
    assert!(made.status.success(), "{}", stderr(&made));
    let restore_script = |version: &str| {
        rehearse(&[
            "restore-script".as_ref(),
            out.as_os_str(),
            "--model-id".as_ref(),
            "trap-semver-major".as_ref(),
            "--version".as_ref(),
            version.as_ref(),
        ])
    };
    let kept = restore_script("10.0.0");
    assert!(kept.status.success(), "the kept version comes back once a restore replaced it: {}", stderr(&kept));
    let nowhere = restore_script("0.0.0-nowhere");
    assert_eq!(nowhere.status.code(), Some(2), "a version neither deleted nor kept: {}", stderr(&nowhere));

    let pg = cluster();
    restore(&pg, &repo().join("fixtures/example.sql"), DB).unwrap();
    let old_id: String = pg
        .query(DB, "SELECT id::text FROM models WHERE model_id = 'trap-semver-major' AND version = '9.9.9'")
        .unwrap()[0][0]
        .clone()
        .unwrap();
    let artifacts_before =
        pg.query(DB, &format!("SELECT count(*) FROM model_artifacts WHERE model_row_id = '{old_id}'")).unwrap();
    for name in ["01_backup.sql", "02_rollback.sql"] {
        let result = pg.psql_file(DB, &out.join("scripts").join(name)).unwrap();
        assert!(result.status.success(), "{name}: {}", String::from_utf8_lossy(&result.stderr));
    }
    let result = pg.psql_file(DB, &script).unwrap();
    assert!(result.status.success(), "{}", String::from_utf8_lossy(&result.stderr));
    let now = pg.query(DB, "SELECT id::text FROM models WHERE model_id = 'trap-semver-major'").unwrap();
    assert_eq!(now, [[Some(old_id.clone())]], "the restored version is the model's row again");
    let artifacts_after =
        pg.query(DB, &format!("SELECT count(*) FROM model_artifacts WHERE model_row_id = '{old_id}'")).unwrap();
    assert_eq!(artifacts_after, artifacts_before, "its artifacts are back");
    let unique = pg.query(DB, "SELECT count(*) FROM pg_constraint WHERE conname = 'models_model_id_key'").unwrap();
    assert_eq!(unique[0][0].as_deref(), Some("1"));
}
