//! `validate` runs on the PostgreSQL major version the export was dumped from, when installed:
//! an archive of PostgreSQL 18 validates on 18, exports of PostgreSQL 15 on 15 even when a newer
//! pg_dump wrote them (then the newer pg_restore reads the archive); `--pg-bin` chooses.

use crate::support::{generated_database_on, pg_dump_binary, pg_dump_with, rehearse, stderr};
use std::ffi::OsStr;
use std::path::Path;

/// Runs `rehearse validate` on `input` (with `extra` arguments); returns validation.json.
fn validate(input: &Path, out: &Path, extra: &[&OsStr]) -> serde_json::Value {
    let mut args = vec!["validate".as_ref(), input.as_os_str(), "--out".as_ref(), out.as_os_str()];
    args.extend_from_slice(extra);
    let result = rehearse(&args);
    assert_eq!(result.status.code(), Some(0), "{}: {}", input.display(), stderr(&result));
    let validation: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("validation.json")).unwrap()).unwrap();
    assert_eq!(validation["verdict"], "match", "{}", input.display());
    validation
}

fn server_major(validation: &serde_json::Value) -> String {
    let version = validation["server_version"].as_str().unwrap();
    version.split('.').next().unwrap().to_string()
}

#[test]
fn validate_runs_on_postgresql_18_for_an_archive_of_18() {
    let dir = tempfile::tempdir().unwrap();
    let bin18 =
        rehearse::pg::bin_dir_for(18).expect("PostgreSQL 18 is not installed: run scripts/setup.sh --for-tests");
    let args = ["--models", "15", "--seed", "18"];
    let pg = generated_database_on(Some(&bin18), dir.path(), &args);
    assert!(pg.server_version().unwrap().starts_with("18."));
    let pg_dump = pg_dump_binary(&pg, 18);
    let custom = dir.path().join("custom18.dump");
    pg_dump_with(&pg, &pg_dump, &["-Fc"], &custom, true);
    let plain = dir.path().join("plain18.sql");
    pg_dump_with(&pg, &pg_dump, &["--no-owner"], &plain, false);
    drop(pg);

    let by_default = validate(&custom, &dir.path().join("default"), &[]);
    assert_eq!(server_major(&by_default), "18", "the dump's server version chooses: {by_default}");
    let chosen = validate(&plain, &dir.path().join("chosen"), &["--pg-bin".as_ref(), bin18.as_os_str()]);
    assert_eq!(server_major(&chosen), "18", "{chosen}");
}

#[test]
fn validate_runs_on_postgresql_15_for_newer_pg_dumps_exports_of_15() {
    let dir = tempfile::tempdir().unwrap();
    let pg = generated_database_on(None, dir.path(), &["--models", "15", "--seed", "15"]);
    assert!(pg.server_version().unwrap().starts_with("15."));
    // pg_dump 18 writes archive format 1.16, which pg_restore 15 cannot read; pg_dump 17 and 18
    // write `SET transaction_timeout`, which PostgreSQL 15 does not know.
    let custom = dir.path().join("custom15_by_18.dump");
    pg_dump_with(&pg, &pg_dump_binary(&pg, 18), &["-Fc"], &custom, false);
    let plain = dir.path().join("plain15_by_17.sql");
    pg_dump_with(&pg, &pg_dump_binary(&pg, 17), &["--no-owner"], &plain, false);
    assert!(std::fs::read_to_string(&plain).unwrap().contains("SET transaction_timeout = 0;"));
    drop(pg);
    for (input, out) in [(&custom, "custom"), (&plain, "plain")] {
        let validation = validate(input, &dir.path().join(out), &[]);
        assert_eq!(server_major(&validation), "15", "{}: {validation}", input.display());
    }
}
