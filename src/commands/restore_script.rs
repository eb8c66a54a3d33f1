//! `rehearse restore-script`: the SQL that brings one deleted version back after the rollback,
//! from the complete backup that the run's 01_backup.sql made. It refuses a version that the
//! rehearsal did not delete, and is checked with PostgreSQL's parser before it is written.

use super::output;
use crate::cli::RestoreScriptArgs;
use anyhow::Result;
use rehearse::emit::check::check_script;
use rehearse::rundir::{text, RunDir};
use rehearse::sql::literal;
use rehearse::Error;

pub fn run(args: &RestoreScriptArgs) -> Result<()> {
    let run = RunDir::open(&args.run_dir)?;
    let deleted = run.report("versions_deleted.csv")?;
    let row = deleted
        .iter()
        .find(|r| text(r, "model_id") == args.model_id && text(r, "version") == args.version)
        .ok_or_else(|| {
            Error::Usage(format!(
                "version {:?} of model {:?} is not among the versions this rehearsal deletes ({} in reports/versions_deleted.csv)",
                args.version,
                args.model_id,
                deleted.len()
            ))
        })?;
    let function = run.script("04_restore_version.sql")?;
    let script = format!(
        "{function}\n-- Restore version {version} (id {id}) of model {model}, replacing the kept {kept}.\nBEGIN;\nSELECT rehearse_restore_version({model_lit}, {version_lit});\nCOMMIT;\n",
        version = args.version.replace('\n', " "),
        id = text(row, "id"),
        model = args.model_id.replace('\n', " "),
        kept = text(row, "kept_version").replace('\n', " "),
        model_lit = literal(&args.model_id),
        version_lit = literal(&args.version),
    );
    check_script(&script).map_err(|e| Error::Internal(format!("the restore script {e}")))?;
    match &args.out {
        Some(file) => rehearse::report::write(file, &script)?,
        None => output::print(&script)?,
    }
    Ok(())
}
