//! The import stage: an export becomes a workspace. Pass 1 reads the catalog, the rollback's
//! reach is computed from its foreign keys and its inheritance and partition trees, pass 2 loads
//! only the reached tables (or all, when asked, or when the export lacks the spec's tables), and
//! the workspace records what was loaded and skipped, with notes on what could not be.

use crate::catalog::{Catalog, TableName};
use crate::error::{Error, Location, Result};
use crate::input::{self, Format, Scan};
use crate::loader::{load_rows, LANES};
use crate::progress::Progress;
use crate::spec::{rehearse_backup, Spec};
use crate::workspace::{TableStat, Workspace};
use std::collections::BTreeSet;
use std::path::Path;
use std::sync::{Arc, Mutex};

#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// Load every table, not only those the rollback reaches.
    pub all_tables: bool,
    /// The spec's tables must be in the export (`run`, `check`, `validate`). Without it an
    /// export that lacks them is loaded whole: `import` and `inspect` read any pg_dump.
    pub require_spec_tables: bool,
    /// Which database of a `pg_dumpall` file to read.
    pub database: Option<String>,
    /// Where the phases report how far they are.
    pub progress: Arc<Progress>,
}

/// What an import did.
#[derive(Debug)]
pub struct Imported {
    pub format: Format,
    pub stats: Vec<TableStat>,
    pub notes: Vec<String>,
}

/// Reads `input` into `workspace`, which must be fresh (`Workspace::create` or `in_memory`).
/// The rollback starts from the spec's models and services tables; the guide's backup tables
/// are loaded too when the export has them (a stale backup is a hazard), and so are the
/// backups of an earlier run of rehearse's 01_backup.sql. An export without the spec's tables
/// is loaded whole, unless `require_spec_tables` refuses it.
pub fn import(input: &Path, workspace: &Workspace, spec: &Spec, options: ImportOptions) -> Result<Imported> {
    let mut reader = input::open(input, options.database.as_deref(), options.progress.clone())?;
    let mut scan = reader.scan()?;
    check_database(input, &scan, options.database.as_deref())?;
    let (loaded, mut notes) = tables_to_load(input, &scan, spec, &options)?;
    notes.extend(rows_of_tables_never_created(&scan));
    notes.extend(rows_written_into_partitioned_tables(&scan));
    notes.extend(generated_columns(&scan.catalog, &loaded));
    let catalog = &scan.catalog;
    let wanted: BTreeSet<TableName> = loaded.iter().cloned().collect();
    workspace.create_tables(catalog, &loaded)?;
    let expected: u64 = scan.data.iter().filter(|d| wanted.contains(&d.table)).filter_map(|d| d.rows).sum();
    options.progress.phase("loading rows", "rows", expected);
    let lanes = if reader.side_by_side() { LANES } else { 1 };
    let export_order: Vec<TableName> =
        scan.data.iter().map(|d| d.table.clone()).filter(|table| wanted.contains(table)).collect();
    // The rows take both cores; the fingerprint goes on once a lane has read all it could.
    let held = Mutex::new(Some(scan.hashing.hold()));
    let counts = load_rows(workspace, catalog, &options.progress, lanes, &export_order, |sink| {
        let read = reader.load(&wanted, sink);
        held.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).take();
        read
    });
    drop(held);
    let counts = counts?;
    options.progress.end_phase();
    let stats: Vec<TableStat> = catalog
        .tables
        .iter()
        .map(|t| {
            let loaded = wanted.contains(&t.name);
            let rows = if loaded { Some(counts.get(&t.name).copied().unwrap_or(0)) } else { data_rows(&scan, &t.name) };
            TableStat { table: t.name.clone(), loaded, rows }
        })
        .collect();
    scan.notes.extend(notes);
    workspace.record(input, &scan, &stats)?;
    workspace.fingerprint_later(scan.hashing);
    Ok(Imported { format: scan.format, stats, notes: scan.notes })
}

/// The tables to load, and notes on the choice: those the rollback reaches from the spec's
/// tables, or every table when asked or when the export lacks the spec's tables (an error
/// instead when `require_spec_tables`); never a table without columns, which DuckDB cannot hold.
fn tables_to_load(
    input: &Path,
    scan: &Scan,
    spec: &Spec,
    options: &ImportOptions,
) -> Result<(Vec<TableName>, Vec<String>)> {
    let catalog = &scan.catalog;
    let spec_tables = [(&spec.models.table, "models"), (&spec.services.table, "services")];
    let missing: Vec<String> = spec_tables
        .iter()
        .filter(|(table, _)| catalog.find_table(table).is_none())
        .map(|(table, role)| format!("`{table}` ({role})"))
        .collect();
    if options.require_spec_tables && !missing.is_empty() {
        return Err(Error::bad_input(
            Location::file(input),
            format!(
                "the export has no {} table, which the rollback spec starts from: rehearse it with a spec naming this schema's tables (--spec FILE, see `rehearse spec --print`)",
                missing.join(" or ")
            ),
        ));
    }
    let mut notes = Vec::new();
    let chosen: Vec<TableName> = if options.all_tables || !missing.is_empty() {
        if !options.all_tables {
            notes.push(format!(
                "the export has no {} table, where the rollback starts: every table is loaded",
                missing.join(" or ")
            ));
        }
        catalog.tables.iter().map(|t| t.name.clone()).collect()
    } else {
        let backups = [&spec.backup.models_table, &spec.backup.services_table];
        let roots: Vec<TableName> = spec_tables
            .iter()
            .map(|(table, _)| table)
            .chain(backups.iter())
            .filter_map(|name| catalog.find_table(name))
            .map(|t| t.name.clone())
            .collect();
        let mut reached = catalog.reached_from(&roots);
        // Backups that rehearse's own 01_backup.sql made before: 01 refuses them when stale.
        let earlier: Vec<TableName> = reached
            .iter()
            .map(rehearse_backup)
            .filter(|b| catalog.table(b).is_some() && !reached.contains(b))
            .collect();
        reached.extend(earlier);
        reached
    };
    let (loaded, columnless): (Vec<TableName>, Vec<TableName>) =
        chosen.into_iter().partition(|t| catalog.table(t).is_some_and(|t| !t.columns.is_empty()));
    for table in &columnless {
        let rows = data_rows(scan, table).map_or("rows".to_string(), |n| format!("{n} rows"));
        notes.push(format!("{table} has no columns: not loaded ({rows} without values)"));
    }
    Ok((loaded, notes))
}

/// Notes for rows the export writes into a partitioned table (`pg_dump
/// --load-via-partition-root`): they are loaded there, where the dump puts them, and not routed
/// to the partitions that PostgreSQL would store them in.
fn rows_written_into_partitioned_tables(scan: &Scan) -> Vec<String> {
    let roots: BTreeSet<&TableName> = scan
        .data
        .iter()
        .map(|d| &d.table)
        .filter(|t| scan.catalog.table(t).is_some_and(|t| t.partitioned_by.is_some()))
        .collect();
    roots
        .into_iter()
        .map(|table| {
            format!(
                "rows of {table} are loaded into that partitioned table itself, where the dump writes them (pg_dump --load-via-partition-root): the view \"{}*\" reads them with its partitions' rows, but no partition's own rows include them",
                table.name
            )
        })
        .collect()
}

/// Notes for the generated columns of loaded tables: pg_dump writes no values for them, and
/// their expressions are PostgreSQL's, which DuckDB may evaluate differently. They stay NULL.
fn generated_columns(catalog: &Catalog, loaded: &[TableName]) -> Vec<String> {
    let mut notes = Vec::new();
    for table in loaded.iter().filter_map(|t| catalog.table(t)) {
        for column in &table.columns {
            if let Some(expr) = &column.generated {
                notes.push(format!(
                    "column \"{}\" of {} is generated (GENERATED ALWAYS AS ({expr})): the export holds no values for it, so it is NULL in the workspace",
                    column.name, table.name
                ));
            }
        }
    }
    notes
}

/// Refuses `--database NAME` for an export of another database (or of one it does not name).
fn check_database(input: &Path, scan: &Scan, wanted: Option<&str>) -> Result<()> {
    let Some(wanted) = wanted else { return Ok(()) };
    if scan.database.as_deref() == Some(wanted) {
        return Ok(());
    }
    let held = match &scan.database {
        Some(database) => format!("the export is of database \"{database}\""),
        None => "the export names no database".to_string(),
    };
    Err(Error::bad_input(Location::file(input), format!("--database {wanted}: {held}")))
}

/// The rows the export holds for `table`, counted without decoding (`None` where only a
/// parse could count them). A table's rows may come in several blocks
/// (`pg_dump --load-via-partition-root` writes each partition's rows into its root).
fn data_rows(scan: &Scan, table: &TableName) -> Option<u64> {
    scan.data.iter().filter(|d| &d.table == table).try_fold(0, |sum, d| d.rows.map(|rows| sum + rows))
}

/// Notes for rows the export holds for tables it never creates: the configuration tables of
/// extensions (`pg_extension_config_dump`), whose DDL `CREATE EXTENSION` runs. Without their
/// columns' types they cannot be loaded, and they are never skipped without a word.
fn rows_of_tables_never_created(scan: &Scan) -> Vec<String> {
    let orphans: BTreeSet<&TableName> =
        scan.data.iter().map(|d| &d.table).filter(|t| scan.catalog.table(t).is_none()).collect();
    let owner = if scan.extensions.is_empty() {
        "and creates no extension that would".to_string()
    } else {
        format!("so it belongs to an extension it creates ({})", scan.extensions.join(", "))
    };
    orphans
        .into_iter()
        .map(|table| {
            let rows = data_rows(scan, table).map_or("the rows".to_string(), |n| format!("{n} rows"));
            format!("{rows} of {table} are not loaded: the export never creates the table, {owner}, whose columns it does not declare")
        })
        .collect()
}

/// The workspace for `input`: the workspace file itself when it is one (opened read-only), or
/// else a scratch workspace the export is imported into.
pub fn workspace_for(input: &Path, spec: &Spec, options: ImportOptions) -> Result<Workspace> {
    if input.is_file() {
        if let Ok(workspace) = Workspace::open(input) {
            if let Some(database) = &options.database {
                return Err(Error::Usage(format!(
                    "--database {database}: {} is a workspace, which holds one database already",
                    input.display()
                )));
            }
            return Ok(workspace);
        }
    }
    let workspace = Workspace::scratch()?;
    import(input, &workspace, spec, options)?;
    Ok(workspace)
}
