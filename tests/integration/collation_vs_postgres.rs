//! The legacy keeper in the production database's own collation (issue 16): databases created
//! with glibc's en_US.UTF-8 and with ICU en-US hold the generator's data and the collation traps
//! (case, pre-release word, `_` against `.`, a canonical-equivalence tie); the shipped logic
//! (tests/sql/guide_rollback.sql, `version DESC` in the database's collation) runs there, and
//! rehearse must keep exactly the same rows: with --collation, from the custom archive's DATABASE
//! entry, from a plain dump made with --create, and from a column's COLLATE clause. Without any
//! of these, every keeper a common collation changes must be flagged.

use crate::support::{cluster, pg_dump_of, rehearse as rehearse_cli, repo, stderr};
use rehearse::import::{import, ImportOptions};
use rehearse::pg::{run_checked, Cluster};
use rehearse::plan::{Mode, Plan};
use rehearse::rehearsal::policy::Policy;
use rehearse::rehearsal::{rehearse, Options};
use rehearse::spec::Spec;
use rehearse::workspace::Workspace;
use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsStr;
use std::path::Path;
use std::process::Command;

/// model_id and its versions, all active: the legacy keeper is the greatest version text.
const TRAPS: [(&str, &[&str]); 4] = [
    ("collation-case", &["v1.0", "V2.0"]),
    ("collation-prerelease", &["1.0.0-RC1", "1.0.0-beta"]),
    ("collation-punctuation", &["1.0_rc", "1.0.1"]),
    // Canonically equivalent: ICU calls them equal, PostgreSQL then orders them by bytes.
    ("collation-tie", &["1.0-\u{e9}", "1.0-e\u{301}"]),
];

/// Creates `db` with `clause` (its collation), loads the generator's data and the traps.
fn collated_database(pg: &Cluster, dir: &Path, db: &str, clause: &str) {
    pg.psql("postgres", &format!("CREATE DATABASE {db} TEMPLATE template0 {clause}")).unwrap();
    let sql = dir.join("generated.sql");
    if !sql.exists() {
        run_checked(
            Command::new("python3")
                .arg(repo().join("fixtures/generate.py"))
                .args(["--models", "120", "--seed", "16", "--out"])
                .arg(&sql),
            "fixtures/generate.py",
        )
        .unwrap();
    }
    let out = pg.psql_file(db, &sql).unwrap();
    assert!(out.status.success(), "loading the generated SQL: {}", String::from_utf8_lossy(&out.stderr));
    let mut traps = String::from("CREATE TEMP TABLE template AS SELECT * FROM models LIMIT 1;\n");
    for (model, versions) in TRAPS {
        for version in versions {
            traps.push_str(&format!(
                "UPDATE template SET id = gen_random_uuid(), model_id = '{model}', version = '{version}', version_status = 'active';\nINSERT INTO models SELECT * FROM template;\n"
            ));
        }
    }
    let file = dir.join(format!("{db}-traps.sql"));
    std::fs::write(&file, traps).unwrap();
    let out = pg.psql_file(db, &file).unwrap();
    assert!(out.status.success(), "adding the traps: {}", String::from_utf8_lossy(&out.stderr));
}

/// The rows the shipped logic kept in the copy of `db` that `kept_by_postgres` rolled back.
fn kept_by_postgres_copy(pg: &Cluster, db: &str) -> BTreeSet<String> {
    let copy = format!("{db}_rolled_back");
    pg.query(&copy, "SELECT id::text FROM models").unwrap().into_iter().filter_map(|r| r[0].clone()).collect()
}

/// The rows the shipped logic keeps, run in a copy of `db` (same collation).
fn kept_by_postgres(pg: &Cluster, db: &str) -> BTreeSet<String> {
    let copy = format!("{db}_rolled_back");
    pg.psql("postgres", &format!("CREATE DATABASE {copy} TEMPLATE {db}")).unwrap();
    let out = pg
        .client("psql")
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-v", "legacy=on", "-v", "delete_orphans=off"])
        .args(["-v", "db_collation=on", "-d", &copy, "-f"])
        .arg(repo().join("tests/sql/guide_rollback.sql"))
        .output()
        .unwrap();
    assert!(out.status.success(), "the shipped logic on {db}: {}", String::from_utf8_lossy(&out.stderr));
    kept_by_postgres_copy(pg, db)
}

fn legacy_plan(dump: &Path, collation: Option<&str>) -> Plan {
    legacy_plan_of(dump, None, collation)
}

/// The legacy plan of `database` in a pg_dumpall file (`None`: a pg_dump).
fn legacy_plan_of(dump: &Path, database: Option<&str>, collation: Option<&str>) -> Plan {
    let workspace = Workspace::in_memory().unwrap();
    let spec = Spec::guide();
    import(
        dump,
        &workspace,
        &spec,
        ImportOptions { database: database.map(str::to_string), ..ImportOptions::default() },
    )
    .unwrap();
    let options = Options {
        policy: Policy::Legacy,
        mode: Mode::Full,
        collation: collation.map(str::to_string),
        ..Options::default()
    };
    rehearse(&workspace, &spec, &options).unwrap()
}

fn kept(plan: &Plan) -> BTreeSet<String> {
    plan.kept.iter().map(|k| k.id.to_string()).collect()
}

/// model_id → kept id.
fn keepers(plan: &Plan) -> BTreeMap<Option<String>, String> {
    plan.kept.iter().map(|k| (k.model_id.as_deref().map(str::to_string), k.id.to_string())).collect()
}

/// The model_ids whose keeper differs between two plans.
fn differing(a: &Plan, b: &Plan) -> BTreeSet<Option<String>> {
    let (a, b) = (keepers(a), keepers(b));
    a.iter().filter(|(model, id)| b.get(*model) != Some(*id)).map(|(model, _)| model.clone()).collect()
}

fn trap_ids(models: &BTreeSet<Option<String>>) -> Vec<&str> {
    models.iter().flatten().map(String::as_str).filter(|m| m.starts_with("collation-")).collect()
}

#[test]
fn legacy_keepers_follow_the_databases_collation_row_for_row() {
    let dir = tempfile::tempdir().unwrap();
    let pg = cluster();
    let databases = [
        ("libc_en_us", "LOCALE_PROVIDER libc LOCALE 'en_US.UTF-8'", "en_US.UTF-8", "en_US.UTF-8"),
        ("icu_en_us", "LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'", "en-US-x-icu", "en-US"),
    ];
    // Both databases hold the same data: the keepers flagged without a collation must be
    // exactly those that en_US.UTF-8 or ICU en-US changes.
    let mut changed_somewhere = BTreeSet::new();
    let mut flagged = BTreeSet::new();
    for (db, clause, exported, flag) in databases {
        collated_database(&pg, dir.path(), db, clause);
        let postgres = kept_by_postgres(&pg, db);
        let custom = dir.path().join(format!("{db}.dump"));
        let directory = dir.path().join(format!("{db}.dir"));
        let tar = dir.path().join(format!("{db}.tar"));
        let plain_created = dir.path().join(format!("{db}-create.sql"));
        let plain = dir.path().join(format!("{db}.sql"));
        pg_dump_of(&pg, db, &["--no-owner", "-Fc"], &custom);
        pg_dump_of(&pg, db, &["--no-owner", "-Fd"], &directory);
        pg_dump_of(&pg, db, &["--no-owner", "-Ft"], &tar);
        pg_dump_of(&pg, db, &["--no-owner", "--create"], &plain_created);
        pg_dump_of(&pg, db, &["--no-owner"], &plain);

        for (label, dump, collation, expected_source) in [
            ("custom archive, no flag", &custom, None, "the export's CREATE DATABASE"),
            ("directory archive, no flag", &directory, None, "the export's CREATE DATABASE"),
            ("tar archive, no flag", &tar, None, "the export's CREATE DATABASE"),
            ("plain --create, no flag", &plain_created, None, "the export's CREATE DATABASE"),
            ("plain, --collation", &plain, Some(flag), "--collation"),
        ] {
            let plan = legacy_plan(dump, collation);
            assert_eq!(plan.collation, exported, "{db}, {label}");
            assert_eq!(plan.collation_source, expected_source, "{db}, {label}");
            assert!(plan.collation_sensitive.is_empty(), "{db}, {label}: the collation is known");
            assert_eq!(kept(&plan), postgres, "{db}, {label}: kept models rows");
        }

        // Without flag or collation in the export: C, and every keeper PostgreSQL chose
        // otherwise is flagged.
        let unknown = legacy_plan(&plain, None);
        let known = legacy_plan(&custom, None);
        assert_eq!(unknown.collation, "C");
        assert!(unknown.collation_source.starts_with("none in the export"), "{}", unknown.collation_source);
        let changed = differing(&unknown, &known);
        flagged = unknown.collation_sensitive.iter().cloned().collect();
        assert!(changed.is_subset(&flagged), "{db}: unflagged keepers {:?}", changed.difference(&flagged));
        changed_somewhere.extend(changed.iter().cloned());
        let traps = trap_ids(&changed);
        let (generated, total) = (changed.len() - traps.len(), keepers(&known).len());
        eprintln!(
            "{db}: keepers differing from C: {} of {total} model_ids ({traps:?} + {generated} generated)",
            changed.len()
        );
        let expected_traps: &[&str] = if db == "icu_en_us" {
            &["collation-case", "collation-prerelease", "collation-punctuation"]
        } else {
            &["collation-case", "collation-prerelease"]
        };
        assert_eq!(traps, expected_traps, "{db}");
    }
    assert_eq!(flagged, changed_somewhere, "flagged without a collation: exactly the keepers a common one changes");

    // A pg_dumpall file: each database's CREATE DATABASE precedes its \connect.
    let all = dir.path().join("all.sql");
    run_checked(pg.client("pg_dumpall").args(["--no-owner", "-f"]).arg(&all), "pg_dumpall").unwrap();
    for (db, _, exported, _) in databases {
        let plan = legacy_plan_of(&all, Some(db), None);
        assert_eq!(
            (plan.collation.as_str(), plan.collation_source.as_str()),
            (exported, "the export's CREATE DATABASE"),
            "pg_dumpall, {db}"
        );
        assert_eq!(kept(&plan), kept_by_postgres_copy(&pg, db), "pg_dumpall, {db}: kept models rows");
    }
}

/// A column's COLLATE clause is the column's collation, whatever the database's; the binary
/// takes --collation and says where the collation came from in summary.json, report.md and
/// 02_rollback.sql.
#[test]
fn a_column_collation_and_the_flag_reach_the_run_directory() {
    let dir = tempfile::tempdir().unwrap();
    let pg = cluster();
    let db = "column_icu";
    collated_database(&pg, dir.path(), db, "");
    pg.psql(db, r#"ALTER TABLE models ALTER COLUMN version TYPE character varying(100) COLLATE "en-US-x-icu""#)
        .unwrap();
    let postgres = kept_by_postgres(&pg, db);
    let plain = dir.path().join("column.sql");
    pg_dump_of(&pg, db, &["--no-owner"], &plain);
    let plan = legacy_plan(&plain, None);
    assert_eq!(
        (plan.collation.as_str(), plan.collation_source.as_str()),
        ("en-US-x-icu", "COLLATE clause of the version column in the export")
    );
    assert_eq!(kept(&plan), postgres, "kept models rows");
    assert_ne!(kept(&legacy_plan(&plain, Some("C"))), postgres, "the traps make C keep other rows");

    let out = dir.path().join("run");
    let run = rehearse_cli(&[
        OsStr::new("run"),
        plain.as_os_str(),
        OsStr::new("--out"),
        out.as_os_str(),
        OsStr::new("--policy"),
        OsStr::new("legacy"),
        OsStr::new("--collation"),
        OsStr::new("en_US.utf8"),
    ]);
    assert!(run.status.success(), "{}", stderr(&run));
    let summary: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["collation"], "en_US.utf8");
    assert_eq!(summary["collation_source"], "--collation (the export says en-US-x-icu)");
    let report = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(report.contains("collation `en_US.utf8`"), "report.md names the collation");
    let script = std::fs::read_to_string(out.join("scripts/02_rollback.sql")).unwrap();
    assert!(script.contains("drift guard: the keepers below were chosen on these rows, legacy order, version text in collation en_US.utf8"), "02_rollback.sql names the collation");

    // Names rehearse cannot read are usage errors; a locale this machine lacks, an
    // environment error naming what to install.
    for (collation, code, says) in [("en US", 2, "neither a libc locale"), ("xx_YY.UTF-8", 1, "locales")] {
        let refused = rehearse_cli(&[
            OsStr::new("run"),
            plain.as_os_str(),
            OsStr::new("--out"),
            dir.path().join("refused").as_os_str(),
            OsStr::new("--collation"),
            OsStr::new(collation),
        ]);
        assert_eq!(refused.status.code(), Some(code), "{collation}: {}", stderr(&refused));
        assert!(stderr(&refused).contains(says), "{collation}: {}", stderr(&refused));
        assert!(!dir.path().join("refused").exists());
    }
}
