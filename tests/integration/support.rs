//! Shared test helpers: a generated database in a throw-away PostgreSQL, exports of it made with
//! the real pg_dump and psql, and the rehearse binary.

use rehearse::catalog::quote_ident;
use rehearse::import::{import, ImportOptions};
use rehearse::pg::{run_checked, Cluster};
use rehearse::spec::Spec;
use rehearse::workspace::Workspace;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

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
    generated_database_on(None, dir, args)
}

/// Like `generated_database`, on the server binaries in `bin` (the system's when `None`).
pub fn generated_database_on(bin: Option<&Path>, dir: &Path, args: &[&str]) -> Cluster {
    let pg = Cluster::start(bin).unwrap_or_else(|e| panic!("cannot start a throw-away PostgreSQL: {e}"));
    load_generated(&pg, DB, dir, args);
    pg
}

/// Creates `db` in `pg` and loads the fixture generator's database for `args` into it.
pub fn load_generated(pg: &Cluster, db: &str, dir: &Path, args: &[&str]) {
    pg.create_database(db).unwrap();
    let sql = dir.join(format!("{db}-generated.sql"));
    run_checked(
        Command::new("python3").arg(repo().join("fixtures/generate.py")).args(args).arg("--out").arg(&sql),
        "fixtures/generate.py",
    )
    .unwrap();
    let out = pg.psql_file(db, &sql).unwrap();
    assert!(out.status.success(), "loading the generated SQL failed: {}", String::from_utf8_lossy(&out.stderr));
}

/// Runs pg_dump against the cluster with extra arguments, writing `file`.
pub fn pg_dump(pg: &Cluster, args: &[&str], file: &Path) {
    pg_dump_of(pg, DB, args, file);
}

/// Runs pg_dump on `database` of the cluster.
pub fn pg_dump_of(pg: &Cluster, database: &str, args: &[&str], file: &Path) {
    run_checked(pg.client("pg_dump").args(args).arg("-f").arg(file).arg(database), "pg_dump").unwrap();
}

/// The pg_dump of PostgreSQL `major`: 15 beside the test clusters' server (Debian's), 16.2
/// unpacked by `scripts/setup.sh --for-tests` into `PG_DUMP16_DIR` (default
/// `~/.cache/rehearse/pg_dump16`), 17 and 18 from the servers that script unpacks.
pub fn pg_dump_binary(pg: &Cluster, major: u32) -> PathBuf {
    let binary = match major {
        15 => pg.bin_dir().join("pg_dump"),
        16 => std::env::var_os("PG_DUMP16_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").expect("HOME")).join(".cache/rehearse/pg_dump16"))
            .join("pgserver/pginstall/bin/pg_dump"),
        _ => rehearse::pg::bin_dir_for(major)
            .unwrap_or_else(|| panic!("PostgreSQL {major} is not installed: run scripts/setup.sh --for-tests"))
            .join("pg_dump"),
    };
    assert!(binary.exists(), "{} is missing: run scripts/setup.sh --for-tests", binary.display());
    let version = run_checked(Command::new(&binary).arg("--version"), "pg_dump --version").unwrap();
    let version = String::from_utf8_lossy(&version.stdout).into_owned();
    assert!(version.contains(&format!(" {major}.")), "{} is not pg_dump {major}: {version}", binary.display());
    binary
}

/// Runs `binary` (a pg_dump) against the cluster, writing `file` itself, or through a pipe into
/// `file` when `piped` (then a custom archive's table of contents has no data offsets).
pub fn pg_dump_with(pg: &Cluster, binary: &Path, args: &[&str], file: &Path, piped: bool) {
    let mut command = pg.client_at(binary);
    command.args(args);
    if !piped {
        run_checked(command.arg("-f").arg(file).arg(DB), "pg_dump").unwrap();
        return;
    }
    let mut child = command.arg(DB).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("run pg_dump");
    let mut output = std::fs::File::create(file).unwrap();
    std::io::copy(child.stdout.as_mut().unwrap(), &mut output).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{} {args:?} failed: {}", binary.display(), String::from_utf8_lossy(&out.stderr));
}

/// The tables the rollback reaches in the generated schema (FKs into models and services).
pub const REACHED: [&str; 7] = [
    "models",
    "services",
    "experiment_variants",
    "variant_metrics",
    "model_artifacts",
    "model_feedback",
    "billing_contracts",
];

/// Imports `input` and checks every loaded table against PostgreSQL; returns the workspace.
pub fn assert_matches_postgres(pg: &Cluster, input: &Path, options: ImportOptions) -> Workspace {
    let workspace = Workspace::in_memory().unwrap();
    import(input, &workspace, &Spec::guide(), options).unwrap_or_else(|e| panic!("{}: {e}", input.display()));
    let catalog = workspace.catalog().unwrap();
    let mut compared = 0;
    for stat in workspace.table_stats().unwrap().iter().filter(|s| s.loaded) {
        let table = catalog.table(&stat.table).unwrap();
        let columns: Vec<String> = table.columns.iter().map(|c| format!("{}::text", quote_ident(&c.name))).collect();
        let mut expected =
            pg.query(DB, &format!("SELECT {} FROM {}", columns.join(", "), table.name.quoted())).unwrap();
        expected.sort();
        let actual = workspace.text_rows(table).unwrap();
        assert_eq!(actual.len(), expected.len(), "{}: row count of {}", input.display(), table.name);
        for (a, e) in actual.iter().zip(&expected) {
            assert_eq!(a, e, "{}: a row of {} differs", input.display(), table.name);
        }
        assert!(!expected.is_empty(), "{}: {} is empty, the comparison proves nothing", input.display(), table.name);
        compared += 1;
    }
    assert!(compared >= REACHED.len(), "{}: only {compared} tables compared", input.display());
    workspace
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

/// The data rows of a CSV file (its header read as such).
pub fn csv_rows(path: &Path) -> Vec<csv::StringRecord> {
    csv::Reader::from_path(path).unwrap().records().map(Result::unwrap).collect()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The run directory of `rehearse run` on a pg_dump of the generator's database with partitions
/// and an inheritance parent (`--partitioned-child --inherited-child`): totals per parent.
pub fn run_with_parents(dir: &Path) -> PathBuf {
    generated_run(dir, &["--partitioned-child", "--inherited-child"], 0)
}

/// The run directory of `rehearse run` on a pg_dump of the generator's database (`generator` its
/// options), which must exit with `code`.
pub fn generated_run(dir: &Path, generator: &[&str], code: i32) -> PathBuf {
    let pg = generated_database(dir, generator);
    let dump = dir.join("generated.sql");
    pg_dump(&pg, &["--no-owner"], &dump);
    let out = dir.join("generated");
    let run = rehearse(&["run".as_ref(), dump.as_os_str(), "--out".as_ref(), out.as_os_str()]);
    assert_eq!(run.status.code(), Some(code), "{}", stderr(&run));
    out
}
