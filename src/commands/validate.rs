//! `rehearse validate`: rehearse, then run the emitted scripts on a scratch PostgreSQL and
//! compare. The run directory gains `validation.json`; any difference exits 3.

use super::output;
use super::run::{check_out, headline, rehearse_input, write_run};
use crate::cli::ValidateArgs;
use anyhow::Result;
use rehearse::emit::Context;
use rehearse::pg::Cluster;
use rehearse::progress::Progress;
use rehearse::validate::{describe, timing_section, validate};
use rehearse::{report, Error};
use std::sync::Arc;

pub fn run(args: &ValidateArgs, progress: Arc<Progress>) -> Result<()> {
    check_out(&args.run)?;
    let rehearsed = rehearse_input(&args.run.rehearsal, progress.clone())?;
    let staged = write_run(&rehearsed, &args.run.out)?;
    progress.phase("validating on PostgreSQL", "", 0);
    let cluster = Cluster::start(args.pg_bin.as_deref())?;
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
        let markdown = report::markdown::report(&rehearsed.plan) + &timing;
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
