//! `rehearse validate`: rehearse, then run the emitted scripts on a scratch PostgreSQL and
//! compare. The run directory gains `validation.json`; any difference exits 3.

use super::output;
use super::run::{check_out, headline, rehearse_input, write_run};
use crate::cli::ValidateArgs;
use anyhow::Result;
use rehearse::emit::Context;
use rehearse::input::Format;
use rehearse::pg::Cluster;
use rehearse::progress::Progress;
use rehearse::validate::{describe, major_version, production_server, timing_section, validate};
use rehearse::workspace::Workspace;
use rehearse::{report, Error};
use std::sync::Arc;

/// A plain dump that `\connect`s (pg_dumpall, pg_dump --create) restores into databases of its
/// own naming, not into the scratch database that validation compares.
fn refuse_connecting_dumps(workspace: &Workspace) -> Result<()> {
    let provenance = workspace.provenance()?;
    let plain = provenance.get("format").is_some_and(|f| f.starts_with(Format::Plain.name()));
    match provenance.get("database").filter(|d| plain && !d.is_empty()) {
        Some(database) => Err(Error::Usage(format!(
            "validate restores a dump into a scratch database of its own, and this one connects to database \"{database}\" (pg_dumpall or pg_dump --create): dump that database alone, with pg_dump and without --create"
        ))
        .into()),
        None => Ok(()),
    }
}

pub fn run(args: &ValidateArgs, progress: Arc<Progress>) -> Result<()> {
    check_out(&args.run)?;
    let rehearsed = rehearse_input(&args.run.rehearsal, progress.clone())?;
    refuse_connecting_dumps(&rehearsed.workspace)?;
    let staged = write_run(&rehearsed.plan, &rehearsed.scripts, &args.run)?;
    progress.phase("validating on PostgreSQL", "", 0);
    let server = rehearsed.workspace.provenance()?.remove("server_version").unwrap_or_default();
    let bin = args.pg_bin.clone().or_else(|| production_server(&server));
    if bin.is_none() && major_version(&server).is_some() {
        eprintln!(
            "note: the export comes from PostgreSQL {server}, whose server binaries are not installed; validating on the default PostgreSQL (--pg-bin DIR chooses)"
        );
    }
    let cluster = Cluster::start(bin.as_deref())?;
    let context = Context::new(&rehearsed.plan, &rehearsed.spec, &rehearsed.catalog)?;
    let validation = validate(
        &cluster,
        "model_management_db",
        &args.run.rehearsal.input,
        &rehearsed.workspace,
        &rehearsed.catalog,
        &rehearsed.spec,
        &context,
        &staged.path().join("scripts"),
    )?;
    let json = serde_json::to_string_pretty(&validation)?;
    report::write(&staged.path().join("validation.json"), &json)?;
    if let Some(timing) = timing_section(&validation) {
        let markdown = report::markdown::report(
            &rehearsed.plan,
            args.run.csv_spreadsheet_safe,
            &report::spreadsheet::risky_files(&rehearsed.plan)?,
        )? + &timing;
        report::write(&staged.path().join("report.md"), &markdown)?;
    }
    staged.commit()?;
    output::print(&headline(&rehearsed.plan, &args.run.out.display().to_string()))?;
    output::print(&describe(&validation))?;
    if !validation.matches() {
        return Err(Error::Predicted(format!(
            "PostgreSQL did not do what was rehearsed (see {}/validation.json)",
            args.run.out.display()
        ))
        .into());
    }
    Ok(())
}
