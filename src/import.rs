//! The import stage: an export becomes a workspace. Pass 1 reads the catalog, the rollback's
//! reach is computed from its foreign keys, pass 2 loads only the reached tables (or all, when
//! asked), and the workspace records what was loaded and skipped.

use crate::catalog::TableName;
use crate::error::{Error, Location, Result};
use crate::input::{self, Format};
use crate::progress::Progress;
use crate::spec::{rehearse_backup, Spec};
use crate::workspace::{TableStat, Workspace};
use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// Load every table, not only those the rollback reaches.
    pub all_tables: bool,
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
/// backups of an earlier run of rehearse's 01_backup.sql.
pub fn import(input: &Path, workspace: &Workspace, spec: &Spec, options: ImportOptions) -> Result<Imported> {
    let mut reader = input::open(input, options.progress.clone())?;
    let scan = reader.scan()?;
    let catalog = &scan.catalog;
    let mut roots = Vec::new();
    for root in [&spec.models.table, &spec.services.table] {
        let table = catalog.find_table(root).ok_or_else(|| {
            Error::bad_input(
                Location::file(input),
                format!("the export has no `{root}` table: it is not a model-management database (the rollback needs models and services)"),
            )
        })?;
        roots.push(table.name.clone());
    }
    let loaded: Vec<TableName> = if options.all_tables {
        catalog.tables.iter().map(|t| t.name.clone()).collect()
    } else {
        let backups = [&spec.backup.models_table, &spec.backup.services_table];
        roots.extend(backups.iter().filter_map(|b| catalog.find_table(b)).map(|t| t.name.clone()));
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
    let wanted: BTreeSet<TableName> = loaded.iter().cloned().collect();
    workspace.create_tables(catalog, &loaded)?;
    let expected: u64 = scan.data.iter().filter(|d| wanted.contains(&d.table)).filter_map(|d| d.rows).sum();
    options.progress.phase("loading rows", "rows", expected);
    let mut loader = workspace.loader(catalog, options.progress.clone());
    reader.load(&wanted, &mut loader)?;
    options.progress.end_phase();
    let counts = loader.counts().clone();
    let stats: Vec<TableStat> = catalog
        .tables
        .iter()
        .map(|t| {
            let loaded = wanted.contains(&t.name);
            let scanned = scan.data.iter().find(|d| d.table == t.name);
            let rows = if loaded {
                Some(counts.get(&t.name).copied().unwrap_or(0))
            } else {
                scanned.map_or(Some(0), |d| d.rows)
            };
            TableStat { table: t.name.clone(), loaded, rows }
        })
        .collect();
    workspace.record(input, &scan, &stats)?;
    Ok(Imported { format: scan.format, stats, notes: scan.notes })
}

/// The workspace for `input`: the workspace file itself when it is one (opened read-only), or
/// else a scratch workspace the export is imported into.
pub fn workspace_for(input: &Path, spec: &Spec, options: ImportOptions) -> Result<Workspace> {
    if input.is_file() {
        if let Ok(workspace) = Workspace::open(input) {
            return Ok(workspace);
        }
    }
    let workspace = Workspace::scratch()?;
    import(input, &workspace, spec, options)?;
    Ok(workspace)
}
