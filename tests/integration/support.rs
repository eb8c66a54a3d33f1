//! Shared test helpers: a generated database in a throw-away PostgreSQL, exports of it made with
//! the real pg_dump and psql, and the rehearse binary.

use rehearse::pg::{run_checked, Cluster};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub const DB: &str = "model_management_db";

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A cluster, or a loud failure: these tests must run wherever the suite runs (CI=true included).
pub fn cluster() -> Cluster {
    Cluster::start(None).unwrap_or_else(|e| panic!("cannot start a throw-away PostgreSQL: {e}"))
}

/// A cluster holding the fixture generator's database for `args` (e.g. `--models 30 --seed 7`).
pub fn generated_database(dir: &Path, args: &[&str]) -> Cluster {
    let pg = cluster();
    pg.create_database(DB).unwrap();
    let sql = dir.join("generated.sql");
    run_checked(
        Command::new("python3").arg(repo().join("fixtures/generate.py")).args(args).arg("--out").arg(&sql),
        "fixtures/generate.py",
    )
    .unwrap();
    let out = pg.psql_file(DB, &sql).unwrap();
    assert!(out.status.success(), "loading the generated SQL failed: {}", String::from_utf8_lossy(&out.stderr));
    pg
}

/// Runs pg_dump against the cluster with extra arguments, writing `file`.
pub fn pg_dump(pg: &Cluster, args: &[&str], file: &Path) {
    pg_dump_of(pg, DB, args, file);
}

/// Runs pg_dump on `database` of the cluster.
pub fn pg_dump_of(pg: &Cluster, database: &str, args: &[&str], file: &Path) {
    dump(pg.client("pg_dump"), database, args, file, "pg_dump");
}

fn dump(mut pg_dump: Command, database: &str, args: &[&str], file: &Path, what: &str) {
    run_checked(pg_dump.args(args).arg("-f").arg(file).arg(database), what).unwrap();
}

/// pg_dump 16.2 (archive format 1.15, where PostgreSQL 15 writes 1.14), unpacked by
/// `scripts/setup.sh --for-tests` into `PG_DUMP16_DIR` (default `~/.cache/rehearse/pg_dump16`).
pub fn pg_dump16(pg: &Cluster, args: &[&str], file: &Path) {
    let dir = std::env::var_os("PG_DUMP16_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").expect("HOME")).join(".cache/rehearse/pg_dump16"));
    let binary = dir.join("pgserver/pginstall/bin/pg_dump");
    assert!(binary.exists(), "{} is missing: run scripts/setup.sh --for-tests", binary.display());
    dump(pg.client_at(&binary), DB, args, file, "pg_dump 16");
}

/// Exports every table as `<table>.csv` with psql's `\copy … CSV HEADER`, plus `schema.sql`.
pub fn csv_export(pg: &Cluster, dir: &Path, tables: &[&str], with_schema: bool) {
    std::fs::create_dir_all(dir).unwrap();
    for table in tables {
        let file = dir.join(format!("{table}.csv"));
        let copy = format!("\\copy public.{table} TO '{}' CSV HEADER", file.display());
        run_checked(pg.client("psql").args(["-X", "-v", "ON_ERROR_STOP=1", "-d", DB, "-c", &copy]), "psql \\copy")
            .unwrap();
    }
    if with_schema {
        pg_dump(pg, &["-s", "--no-owner"], &dir.join("schema.sql"));
    }
}

/// Runs the rehearse binary.
pub fn rehearse(args: &[&std::ffi::OsStr]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rehearse")).args(args).output().expect("run rehearse")
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}
