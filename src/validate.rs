//! Validation against a real PostgreSQL that rehearse creates itself: restore the input into a
//! scratch cluster, run the emitted 01, 02 and 03, compare every table the rollback touches with
//! the rehearsal's predicted post-state row by row, then run 02 again to prove it changes
//! nothing. It never connects to a database it did not create.

use crate::catalog::{quote_ident, Catalog, Column, Table};
use crate::cleanup::ScratchDir;
use crate::emit::{lock_times, Context, LockTimes};
use crate::error::{Error, Result};
use crate::input::source::Compression;
use crate::pg::{run_checked, Cluster};
use crate::plan::Plan;
use crate::rehearsal::effects;
use crate::spec::Spec;
use crate::workspace::Workspace;
use serde::Serialize;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(Debug, Serialize)]
pub struct TableDiff {
    pub table: String,
    pub predicted_rows: usize,
    pub actual_rows: usize,
    /// Predicted rows that PostgreSQL does not have (first 20), as text.
    pub missing: Vec<String>,
    /// Rows PostgreSQL has that the rehearsal did not predict (first 20).
    pub unexpected: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct ScriptRun {
    pub script: String,
    pub success: bool,
    pub messages: String,
    /// Wall time of `psql -f` on the script.
    pub seconds: f64,
    /// What 02_rollback.sql reports when it applies the rollback.
    pub locks: Option<LockTimes>,
}

#[derive(Debug, Serialize)]
pub struct Validation {
    pub verdict: String,
    /// The scratch cluster's PostgreSQL version.
    pub server_version: String,
    pub predicted_failure: Option<String>,
    pub scripts: Vec<ScriptRun>,
    pub tables: Vec<TableDiff>,
    pub second_run_changed_nothing: bool,
}

impl Validation {
    pub fn matches(&self) -> bool {
        self.verdict == "match"
    }
}

/// The major version of a PostgreSQL version string ("17.10 (Debian 17.10-1)" is 17); `None`
/// before PostgreSQL 10, whose majors had two parts.
pub fn major_version(version: &str) -> Option<u32> {
    let major: u32 = version.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok()?;
    (major >= 10).then_some(major)
}

/// The server binaries of the PostgreSQL major version that `server_version` (the dump's
/// "Dumped from database version") names, when they are installed.
pub fn production_server(server_version: &str) -> Option<PathBuf> {
    major_version(server_version).and_then(crate::pg::bin_dir_for)
}

/// Restores an export into `database` of the cluster.
pub fn restore(cluster: &Cluster, input: &Path, database: &str) -> Result<()> {
    restore_with(cluster, None, input, database)
}

/// Restores an export. `newer` holds the binaries of the PostgreSQL whose pg_dump wrote it,
/// when that is newer than the cluster: its pg_restore reads archive formats the cluster's own
/// cannot, and the SQL loses `SET transaction_timeout`, a setting older servers do not know
/// (pg_dump 17+ writes it whatever the server it dumped).
fn restore_with(cluster: &Cluster, newer: Option<&Path>, input: &Path, database: &str) -> Result<()> {
    cluster.create_database(database)?;
    let archive = crate::input::archive::kind_of(input)?.is_some();
    if archive && newer.is_none() {
        let out =
            cluster.client("pg_restore").args(["--no-owner", "--exit-on-error", "-d", database]).arg(input).output();
        let out = out.map_err(|e| Error::io(input, e))?;
        if !out.status.success() {
            return Err(Error::Tool(format!(
                "pg_restore of {} failed: {}",
                input.display(),
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        return Ok(());
    }
    if !archive && input.is_dir() {
        return restore_csv(cluster, input, database);
    }
    let compression = if archive { Compression::None } else { Compression::of(input)? };
    let script = if archive || compression != Compression::None || newer.is_some() {
        Some(sql_script(cluster, newer, input, compression)?)
    } else {
        None
    };
    let file: PathBuf = script.as_ref().map_or(input.to_path_buf(), |(_, file)| file.clone());
    let out = cluster.psql_file(database, &file)?;
    if !out.status.success() {
        return Err(Error::Tool(format!(
            "restoring {} failed: {}",
            input.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(())
}

/// The export as one SQL file for psql: a plain dump decompressed, or an archive as the newer
/// pg_restore prints it; without `SET transaction_timeout` when `newer` is given.
fn sql_script(
    cluster: &Cluster,
    newer: Option<&Path>,
    input: &Path,
    compression: Compression,
) -> Result<(ScratchDir, PathBuf)> {
    let io = |e| Error::io(input, e);
    let dir = ScratchDir::new("sql").map_err(|e| Error::io(&std::env::temp_dir(), e))?;
    let file = dir.path().join("dump.sql");
    let mut restore = match newer {
        Some(bin) if crate::input::archive::kind_of(input)?.is_some() => Some(
            cluster
                .client_at(&bin.join("pg_restore"))
                .args(["--no-owner", "-f", "-"])
                .arg(input)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .map_err(io)?,
        ),
        _ => None,
    };
    let source: Box<dyn std::io::Read> = match restore.as_mut() {
        Some(child) => Box::new(child.stdout.take().expect("piped")),
        None => compression.decoder(std::fs::File::open(input).map_err(io)?).map_err(io)?,
    };
    let mut lines = std::io::BufReader::new(source);
    let mut out = std::io::BufWriter::new(std::fs::File::create(&file).map_err(|e| Error::io(&file, e))?);
    let mut line = Vec::new();
    while std::io::BufRead::read_until(&mut lines, b'\n', &mut line).map_err(io)? > 0 {
        if newer.is_none() || !line.starts_with(b"SET transaction_timeout = ") {
            out.write_all(&line).map_err(io)?;
        }
        line.clear();
    }
    out.flush().map_err(io)?;
    drop(out);
    if let Some(child) = restore {
        let done = child.wait_with_output().map_err(io)?;
        if !done.status.success() {
            return Err(Error::Tool(format!(
                "pg_restore of {} failed: {}",
                input.display(),
                String::from_utf8_lossy(&done.stderr).trim()
            )));
        }
    }
    Ok((dir, file))
}

fn restore_csv(cluster: &Cluster, dir: &Path, database: &str) -> Result<()> {
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    let mut files: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
    files.sort();
    let schema = files.iter().find(|f| f.extension().is_some_and(|e| e == "sql")).ok_or_else(|| {
        Error::Usage(format!("{}: validate needs the schema-only dump (*.sql) beside the CSV files", dir.display()))
    })?;
    let out = cluster.psql_file(database, schema)?;
    if !out.status.success() {
        return Err(Error::Tool(format!(
            "loading {} failed: {}",
            schema.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    for file in files.iter().filter(|f| f.extension().is_some_and(|e| e == "csv")) {
        let table = file.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        let copy = format!(
            "\\copy {} FROM {} CSV HEADER",
            quote_ident(&table),
            crate::sql::literal(&file.display().to_string())
        );
        run_checked(
            cluster.client("psql").args(["-X", "-v", "ON_ERROR_STOP=1", "-d", database, "-c", &copy]),
            "psql \\copy",
        )?;
    }
    Ok(())
}

fn run_script(cluster: &Cluster, database: &str, dir: &Path, name: &str) -> Result<ScriptRun> {
    let started = Instant::now();
    let out = cluster.psql_file(database, &dir.join(name))?;
    let seconds = started.elapsed().as_secs_f64();
    let messages = String::from_utf8_lossy(&out.stderr).trim().to_string();
    Ok(ScriptRun {
        script: name.to_string(),
        success: out.status.success(),
        locks: lock_times(&messages),
        messages,
        seconds,
    })
}

/// The columns a table has after the rollback.
fn surviving<'a>(spec: &Spec, context: &Context, table: &'a Table) -> Vec<&'a Column> {
    let dropped: &[String] = if table.name == context.models.name {
        &spec.drop.models_columns
    } else if table.name == context.services.name {
        &spec.drop.services_columns
    } else {
        &[]
    };
    table.columns.iter().filter(|c| !dropped.contains(&c.name)).collect()
}

fn render(row: &[Option<String>]) -> String {
    let cells: Vec<String> = row.iter().map(|v| v.as_deref().map_or("NULL".into(), |t| format!("{t:?}"))).collect();
    format!("({})", cells.join(", "))
}

fn snapshot(
    cluster: &Cluster,
    database: &str,
    tables: &[(&Table, Vec<&Column>)],
) -> Result<Vec<Vec<Vec<Option<String>>>>> {
    tables
        .iter()
        .map(|(table, columns)| {
            let texts: Vec<String> = columns.iter().map(|c| format!("{}::text", quote_ident(&c.name))).collect();
            let mut rows =
                cluster.query(database, &format!("SELECT {} FROM ONLY {}", texts.join(", "), table.name.quoted()))?;
            rows.sort();
            Ok(rows)
        })
        .collect()
}

/// The rows of `tables` (each with the columns given) as `plan` predicts the rollback leaves
/// them, sorted, each value as PostgreSQL's `::text` prints it: the plan's deletes and changes
/// applied to the workspace's rows, on whatever connection `workspace` has.
pub fn predicted_rows(
    workspace: &Workspace,
    catalog: &Catalog,
    plan: &Plan,
    tables: &[(&Table, Vec<&Column>)],
) -> Result<Vec<Vec<Vec<Option<String>>>>> {
    effects::load(workspace.connection(), &plan.effects)?;
    tables
        .iter()
        .map(|(table, columns)| {
            let owned: Vec<Column> = columns.iter().map(|c| (*c).clone()).collect();
            workspace.relation_text_rows(&effects::post_relation(catalog, &table.name), &owned)
        })
        .collect()
}

/// Runs the scripts in `scripts_dir` on a scratch copy of `input` and compares with the plan.
#[allow(clippy::too_many_arguments)]
pub fn validate(
    cluster: &Cluster,
    database: &str,
    input: &Path,
    workspace: &Workspace,
    catalog: &Catalog,
    spec: &Spec,
    context: &Context,
    scripts_dir: &Path,
) -> Result<Validation> {
    let server_version = cluster.server_version()?;
    let dumped_by = workspace.provenance()?.remove("pg_dump_version").unwrap_or_default();
    let newer = match (major_version(&dumped_by), major_version(&server_version)) {
        (Some(dump), Some(server)) if dump > server => crate::pg::bin_dir_for(dump),
        _ => None,
    };
    restore_with(cluster, newer.as_deref(), input, database)?;
    let mut scripts = Vec::new();
    let tables = context.affected();
    let compared: Vec<(&Table, Vec<&Column>)> = tables.iter().map(|t| (*t, surviving(spec, context, t))).collect();
    if context.plan.fails() {
        // The rollback must refuse to run and change nothing.
        let whole: Vec<(&Table, Vec<&Column>)> = tables.iter().map(|t| (*t, t.columns.iter().collect())).collect();
        let before = snapshot(cluster, database, &whole)?;
        let run = run_script(cluster, database, scripts_dir, "02_rollback.sql")?;
        let after = snapshot(cluster, database, &whole)?;
        let unchanged = before == after;
        let refused = !run.success;
        scripts.push(run);
        return Ok(Validation {
            verdict: if refused && unchanged { "match".into() } else { "differ".into() },
            server_version,
            predicted_failure: context.plan.predicted_failure.clone(),
            scripts,
            tables: Vec::new(),
            second_run_changed_nothing: unchanged,
        });
    }
    for name in ["01_backup.sql", "02_rollback.sql", "03_verify.sql"] {
        scripts.push(run_script(cluster, database, scripts_dir, name)?);
    }
    let actual = snapshot(cluster, database, &compared)?;
    let predicted = predicted_rows(workspace, catalog, context.plan, &compared)?;
    let mut diffs = Vec::new();
    for (((table, _), actual), predicted) in compared.iter().zip(&actual).zip(predicted) {
        let missing: Vec<String> =
            predicted.iter().filter(|r| actual.binary_search(r).is_err()).take(20).map(|r| render(r)).collect();
        let unexpected: Vec<String> =
            actual.iter().filter(|r| predicted.binary_search(r).is_err()).take(20).map(|r| render(r)).collect();
        diffs.push(TableDiff {
            table: table.name.to_string(),
            predicted_rows: predicted.len(),
            actual_rows: actual.len(),
            missing,
            unexpected,
        });
    }
    let again = run_script(cluster, database, scripts_dir, "02_rollback.sql")?;
    let second = snapshot(cluster, database, &compared)?;
    let second_run_changed_nothing = again.success && second == actual;
    scripts.push(ScriptRun { script: "02_rollback.sql (second run)".into(), ..again });
    let clean = scripts.iter().all(|s| s.success)
        && diffs.iter().all(|d| d.missing.is_empty() && d.unexpected.is_empty() && d.predicted_rows == d.actual_rows)
        && second_run_changed_nothing;
    Ok(Validation {
        verdict: if clean { "match".into() } else { "differ".into() },
        server_version,
        predicted_failure: None,
        scripts,
        tables: diffs,
        second_run_changed_nothing,
    })
}

/// A measured duration in words: `about 2.3 s`, or `under 0.1 s`.
fn about(seconds: f64) -> String {
    if seconds < 0.1 {
        "under 0.1 s".into()
    } else {
        format!("about {seconds:.1} s")
    }
}

/// The section that `validate` adds to report.md: how long the scripts took on the scratch
/// server and how long 02_rollback.sql kept others out, i.e. what to expect at this size. None
/// unless the rollback was applied as rehearsed.
pub fn timing_section(validation: &Validation) -> Option<String> {
    let run = |name: &str| validation.scripts.iter().find(|r| r.script == name && r.success);
    let (backup, rollback) = (run("01_backup.sql")?, run("02_rollback.sql")?);
    let locks = rollback.locks.filter(|_| validation.matches())?;
    let mut out = Vec::new();
    let _ = writeln!(out, "\n## Time on PostgreSQL (measured by `rehearse validate`)\n");
    let _ = writeln!(
        out,
        "On a scratch PostgreSQL {} on this machine (durability off), with exactly the rows of this export:\n",
        validation.server_version
    );
    let _ = writeln!(
        out,
        "| script | took | checks before any lock | writes blocked | reads blocked |\n|---|---:|---:|---:|---:|"
    );
    let _ = writeln!(out, "| `01_backup.sql` | {:.2} s | | none | none |", backup.seconds);
    let _ = writeln!(
        out,
        "| `02_rollback.sql` | {:.2} s | {:.2} s | {:.2} s | {:.2} s |",
        rollback.seconds, locks.unlocked_seconds, locks.writes_blocked_seconds, locks.reads_blocked_seconds
    );
    let _ = writeln!(
        out,
        "\nAt this size, expect `02_rollback.sql` to check the database for {} without blocking anyone, then to keep other sessions from writing to the tables it touches for {}, and from reading the tables of its ACCESS EXCLUSIVE lock for {} (its LOCK TABLE statements name both sets). A loaded server, durable commits or slower disks take longer, and waiting for the locks (up to `lock_timeout`, 10 s) comes on top.",
        about(locks.unlocked_seconds),
        about(locks.writes_blocked_seconds),
        about(locks.reads_blocked_seconds)
    );
    Some(String::from_utf8_lossy(&out).into_owned())
}

/// A readable verdict with the first differences.
pub fn describe(validation: &Validation) -> String {
    let mut out = Vec::new();
    let _ = writeln!(
        out,
        "validation on PostgreSQL {}: {}",
        validation.server_version,
        if validation.matches() { "MATCH: PostgreSQL did exactly what was rehearsed" } else { "DIFFERENCES" }
    );
    for run in &validation.scripts {
        let _ =
            write!(out, "  {:32} {:6} {:8.2} s", run.script, if run.success { "ok" } else { "FAILED" }, run.seconds);
        let _ = match &run.locks {
            Some(locks) => writeln!(
                out,
                "  (checks before any lock {:.2} s, writes blocked {:.2} s, reads blocked {:.2} s)",
                locks.unlocked_seconds, locks.writes_blocked_seconds, locks.reads_blocked_seconds
            ),
            None => writeln!(out),
        };
        if !run.success {
            for line in run.messages.lines().take(5) {
                let _ = writeln!(out, "      {line}");
            }
        }
    }
    for diff in &validation.tables {
        let same = diff.missing.is_empty() && diff.unexpected.is_empty() && diff.predicted_rows == diff.actual_rows;
        let _ = writeln!(
            out,
            "  {:32} predicted {} rows, PostgreSQL {}{}",
            diff.table,
            diff.predicted_rows,
            diff.actual_rows,
            if same { "" } else { "  <- differs" }
        );
        for row in &diff.missing {
            let _ = writeln!(out, "      - {row}");
        }
        for row in &diff.unexpected {
            let _ = writeln!(out, "      + {row}");
        }
    }
    if let Some(reason) = &validation.predicted_failure {
        let _ = writeln!(out, "  predicted failure: {reason}");
    }
    let _ = writeln!(out, "  second run of 02 changed nothing: {}", validation.second_run_changed_nothing);
    String::from_utf8_lossy(&out).into_owned()
}
