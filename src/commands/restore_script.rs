//! `rehearse restore-script`: the SQL that brings one version back after the rollback, from the
//! complete backup that the run's 01_backup.sql made, swapping it for the model's current row.
//! It refuses a version that the rehearsal neither deleted nor kept, and is checked with
//! PostgreSQL's parser before it is written.

use super::output;
use crate::cli::RestoreScriptArgs;
use anyhow::Result;
use rehearse::emit::check::check_script;
use rehearse::rundir::{text, RunDir};
use rehearse::sql::literal;
use rehearse::Error;

/// Text safe inside a `--` comment.
fn comment(text: &str) -> String {
    text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect()
}

pub fn run(args: &RestoreScriptArgs) -> Result<()> {
    let run = RunDir::open(&args.run_dir)?;
    let deleted = run.report("versions_deleted.csv")?;
    let kept = run.report("versions_kept.csv")?;
    let is_it = |r: &&std::collections::BTreeMap<String, Option<String>>| {
        text(r, "model_id") == args.model_id && text(r, "version") == args.version
    };
    let what = if let Some(row) = deleted.iter().find(is_it) {
        format!(
            "version {} (id {}) of model {}, which the rollback deleted; the model's current row is the kept version {} unless a restore replaced it",
            comment(&args.version),
            comment(text(row, "id")),
            comment(&args.model_id),
            comment(text(row, "kept_version"))
        )
    } else if let Some(row) = kept.iter().find(is_it) {
        format!(
            "version {} (id {}) of model {}, which the rollback kept and a restore has since replaced",
            comment(&args.version),
            comment(text(row, "id")),
            comment(&args.model_id)
        )
    } else {
        return Err(Error::Usage(format!(
            "version {:?} of model {:?} is neither deleted nor kept by this rehearsal ({} versions in reports/versions_deleted.csv, {} in reports/versions_kept.csv)",
            args.version,
            args.model_id,
            deleted.len(),
            kept.len()
        ))
        .into());
    };
    let function = run.script("04_restore_version.sql")?;
    let (preview, end) = if args.preview { ("true", "ROLLBACK") } else { ("false", "COMMIT") };
    let script = format!(
        "-- Restore {what}.\n-- It replaces the current row of the model_id. Before changing anything it names, in NOTICEs, that row,\n-- every row its DELETE removes or changes through the foreign keys listed below, every row it\n-- brings back from the backup tables, and what cannot come back. The rows it displaces are copied,\n-- complete, into the backup tables: restoring the replaced version brings them back.\n-- {mode}\nBEGIN;\n{function}SELECT rehearse_restore_version({model_lit}, {version_lit}, {preview});\n{end};\n",
        mode = if args.preview {
            "Preview: it only names the rows, then rolls back; nothing is changed."
        } else {
            "One transaction: if anything fails (a row that may not lose the current row), nothing is changed."
        },
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
