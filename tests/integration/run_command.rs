//! `rehearse run` as users meet it: the run directory of ROLLBACK.md §6, consistent counts,
//! CSV that round-trips hostile text, exit codes 0/1/2/3, --spec, selective mode.

use crate::support::{csv_rows, rehearse, repo, stderr};
use rehearse::import::{import, ImportOptions};
use rehearse::rehearsal::{rehearse as rehearse_plan, Options};
use rehearse::spec::Spec;
use rehearse::workspace::Workspace;
use std::collections::BTreeMap;

fn run(args: &[&str]) -> std::process::Output {
    let os: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_ref()).collect();
    rehearse(&os)
}

#[test]
fn the_run_directory_is_complete_and_consistent() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let example = repo().join("fixtures/example.sql");
    let result = run(&["run", example.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert_eq!(result.status.code(), Some(0), "{}", stderr(&result));
    for file in [
        "summary.json",
        "report.md",
        "reports/versions_kept.csv",
        "reports/versions_deleted.csv",
        "reports/services_affected.csv",
        "reports/cascade.csv",
        "reports/policy_divergence.csv",
        "reports/hazards.csv",
        "scripts/01_backup.sql",
        "scripts/02_rollback.sql",
        "scripts/03_verify.sql",
        "scripts/04_restore_version.sql",
        "scripts/05_cleanup.sql",
    ] {
        assert!(out.join(file).is_file(), "{file} is missing");
    }
    let summary: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    for key in [
        "models_before",
        "models_after",
        "versions_deleted",
        "services_before",
        "services_after",
        "services_repointed",
        "services_deleted",
        "cascade",
        "verification",
        "hazards",
        "policy",
        "predicted_failure",
    ] {
        assert!(summary.get(key).is_some(), "summary.json lacks {key}");
    }
    let n = |key: &str| summary[key].as_u64().unwrap();
    assert_eq!(n("models_before") - n("models_after"), n("versions_deleted"));
    assert_eq!(csv_rows(&out.join("reports/versions_deleted.csv")).len() as u64, n("versions_deleted"));
    assert_eq!(csv_rows(&out.join("reports/versions_kept.csv")).len() as u64, n("models_after"));
    let services = csv_rows(&out.join("reports/services_affected.csv"));
    // Every service has one action, and summary.json counts each as the CSV file lists them.
    let actions = [
        ("repointed", "services_repointed"),
        ("unchanged", "services_unchanged"),
        ("orphan", "services_orphaned"),
        ("deleted", "services_deleted"),
    ];
    for (action, key) in actions {
        assert_eq!(services.iter().filter(|r| &r[5] == action).count() as u64, n(key), "{key}");
    }
    assert_eq!(actions.iter().map(|(_, key)| n(key)).sum::<u64>(), n("services_before"));
    assert_eq!(services.len() as u64, n("services_before"));
    assert_eq!(n("services_before") - n("services_deleted"), n("services_after"));
    let mut per_code: BTreeMap<String, u64> = BTreeMap::new();
    for row in csv_rows(&out.join("reports/hazards.csv")) {
        *per_code.entry(row[0].to_string()).or_default() += 1;
    }
    for (code, count) in summary["hazards"].as_object().unwrap() {
        assert_eq!(per_code.get(code).copied().unwrap_or(0), count.as_u64().unwrap(), "{code}");
    }
    assert_eq!(summary["verification"]["V3"]["pass"], false, "the example has pre-existing orphans (H8)");
    assert_eq!(summary["verification"]["V3_caused"]["pass"], true);
    let report = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(report.contains("## Totals") && report.contains("## Hazards") && report.contains("## Verification"));
    assert!(!report.contains("## Time on PostgreSQL"), "only `validate` measures the scripts");

    // The CSV reports carry the hostile text of the plan, byte for byte.
    let workspace = Workspace::in_memory().unwrap();
    import(&example, &workspace, &Spec::guide(), ImportOptions::default()).unwrap();
    let plan = rehearse_plan(&workspace, &Spec::guide(), &Options::default()).unwrap();
    let written: Vec<(String, String)> = csv_rows(&out.join("reports/versions_deleted.csv"))
        .iter()
        .map(|r| (r[1].to_string(), r[6].to_string()))
        .collect();
    let planned: Vec<(String, String)> = plan
        .deleted
        .iter()
        .map(|d| {
            (
                d.model_id.as_deref().unwrap_or_default().to_string(),
                d.release_notes.as_deref().unwrap_or_default().to_string(),
            )
        })
        .collect();
    assert_eq!(written, planned);
    assert!(
        written.iter().any(|(m, _)| m.contains('\n') && m.contains('\t') && m.contains('\\')),
        "hostile model_ids are in the file"
    );

    // An existing run directory is not replaced without --force.
    let again = run(&["run", example.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert_eq!(again.status.code(), Some(2));
    let forced =
        run(&["run", example.to_str().unwrap(), "--out", out.to_str().unwrap(), "--force", "--policy", "legacy"]);
    assert_eq!(forced.status.code(), Some(0), "{}", stderr(&forced));
    let summary: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["policy"], "legacy");
}

#[test]
fn specs_selective_mode_and_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let example = repo().join("fixtures/example.sql");
    let example = example.to_str().unwrap();
    let out = |name: &str| dir.path().join(name).to_str().unwrap().to_string();

    let printed = run(&["spec", "--print"]);
    assert!(printed.status.success());
    let text = String::from_utf8(printed.stdout).unwrap();
    assert!(text.contains("[models]") && text.contains("models_model_id_key"));

    // A spec whose restored constraint name is taken: predicted failure, exit 3, reports written.
    let clash = dir.path().join("clash.toml");
    std::fs::write(&clash, text.replace("name = \"models_model_id_key\"", "name = \"models_pkey\"")).unwrap();
    let failed = run(&["run", example, "--out", &out("clash"), "--spec", clash.to_str().unwrap()]);
    assert_eq!(failed.status.code(), Some(3), "{}", stderr(&failed));
    assert!(stderr(&failed).contains("relation \"models_pkey\" already exists"), "{}", stderr(&failed));
    let script = std::fs::read_to_string(dir.path().join("clash/scripts/02_rollback.sql")).unwrap();
    assert!(script.contains("RAISE EXCEPTION 'rehearse predicted that this rollback fails"));

    // A spec naming a column the workspace lacks: a clear error, exit 1, nothing written.
    let missing = dir.path().join("missing.toml");
    std::fs::write(&missing, text.replace("status = \"version_status\"", "status = \"lifecycle\"")).unwrap();
    let refused = run(&["run", example, "--out", &out("missing"), "--spec", missing.to_str().unwrap()]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(stderr(&refused).contains("has no column `lifecycle`"), "{}", stderr(&refused));
    assert!(!dir.path().join("missing").exists());

    // Selective: every version stays; V2 does not apply and does not fail the run.
    let selective = run(&["run", example, "--out", &out("selective"), "--mode", "selective"]);
    assert_eq!(selective.status.code(), Some(0), "{}", stderr(&selective));
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("selective/summary.json")).unwrap()).unwrap();
    assert_eq!(summary["models_after"], summary["models_before"]);
    assert_eq!(summary["verification"]["V2"]["applicable"], false);
    assert!(summary["hazards"]["H13"].as_u64().unwrap() >= 1, "UNIQUE(model_id) cannot be restored");

    let bad = run(&["run", example, "--out", &out("c"), "--collation", "en US"]);
    assert_eq!(bad.status.code(), Some(2));
    let missing_input = run(&["run", "/nonexistent/dump.sql", "--out", &out("x")]);
    assert_eq!(missing_input.status.code(), Some(1));
}

/// A database without a model of two versions (rolled back already, or empty: here the schema
/// alone) has nothing to delete; that is a rehearsal, not a DuckDB error.
#[test]
fn an_export_with_nothing_to_delete_rehearses_to_no_deletes() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let schema = repo().join("fixtures/schema.sql");
    let result = run(&["run", schema.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert_eq!(result.status.code(), Some(0), "{}", stderr(&result));
    let summary: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["versions_deleted"], 0, "{summary}");
    assert_eq!(summary["models_before"], 0, "{summary}");
}
