//! `rehearse import`: an export becomes a DuckDB workspace file, atomically.

use super::output;
use crate::cli::ImportArgs;
use anyhow::Result;
use rehearse::import::{import, ImportOptions};
use rehearse::progress::Progress;
use rehearse::spec::Spec;
use rehearse::workspace::Workspace;
use rehearse::Error;
use std::sync::Arc;

pub fn run(args: &ImportArgs, progress: Arc<Progress>) -> Result<()> {
    if args.workspace.exists() && !args.force {
        return Err(Error::Usage(format!(
            "{} already exists: choose another path or pass --force to replace it",
            args.workspace.display()
        ))
        .into());
    }
    let pending = Workspace::create(&args.workspace)?;
    let imported = import(
        &args.input,
        &pending.workspace,
        &Spec::guide(),
        ImportOptions {
            all_tables: args.all_tables,
            require_spec_tables: false,
            database: args.database.clone(),
            progress: progress.clone(),
        },
    )?;
    progress.phase("finishing the SHA-256", "", 0);
    pending.workspace.finish_fingerprint()?;
    progress.end_phase();
    pending.commit()?;
    let loaded: Vec<_> = imported.stats.iter().filter(|s| s.loaded).collect();
    let rows: u64 = loaded.iter().filter_map(|s| s.rows).sum();
    output::eprint(&format!(
        "imported {} ({}): {} tables loaded ({rows} rows), {} skipped -> {}\n",
        args.input.display(),
        imported.format.name(),
        loaded.len(),
        imported.stats.len() - loaded.len(),
        args.workspace.display()
    ));
    for note in &imported.notes {
        output::eprint(&format!("note: {note}\n"));
    }
    Ok(())
}
