//! `rehearse run`: the main job. Import (or open a workspace), rehearse, write the run
//! directory atomically, and exit 3 when the rollback is predicted to fail.

use super::output;
use crate::cli::{RehearsalArgs, RunArgs};
use anyhow::Result;
use rehearse::catalog::Catalog;
use rehearse::import::{workspace_for, ImportOptions};
use rehearse::plan::{Plan, ServiceAction};
use rehearse::progress::Progress;
use rehearse::rehearsal::{rehearse, Options};
use rehearse::spec::Spec;
use rehearse::staging::Staged;
use rehearse::workspace::{release_freed_memory, Workspace};
use rehearse::{emit, report, Error};
use std::sync::Arc;

/// A finished rehearsal: the workspace it ran on, its plan, and the checked scripts.
pub struct Rehearsed {
    pub workspace: Workspace,
    pub spec: Spec,
    pub catalog: Catalog,
    pub plan: Plan,
    pub scripts: Vec<(&'static str, String)>,
}

/// Checks the arguments, imports (or opens) the input and rehearses: everything `run` and
/// `validate` share before they write anything.
pub fn rehearse_input(args: &RehearsalArgs, progress: Arc<Progress>) -> Result<Rehearsed> {
    let spec = match &args.spec {
        Some(file) => Spec::from_file(file)?,
        None => Spec::guide(),
    };
    let options = ImportOptions {
        all_tables: false,
        require_spec_tables: true,
        database: args.database.clone(),
        progress: progress.clone(),
    };
    let workspace = workspace_for(&args.input, &spec, options)?;
    let options = Options {
        policy: args.policy,
        mode: args.mode,
        delete_orphans: args.delete_orphans,
        collation: args.collation.clone(),
        drop_dependents: args.drop_dependents,
        ..Options::default()
    };
    progress.phase("rehearsing", "", 0);
    let plan = rehearse(&workspace, &spec, &options)?;
    // On a large export, the rehearsal's last lists were freed (and DuckDB's cached table blocks
    // dropped, by the rehearsal): their room goes back before the scripts and the reports take
    // theirs (on threads of their own, which would not reuse it).
    let large = !plan.runs_side_by_side();
    let release_if_large = || large.then(release_freed_memory);
    release_if_large();
    progress.phase("emitting scripts", "", 0);
    let catalog = workspace.catalog()?;
    let scripts = emit::render(&emit::Context::new(&plan, &spec, &catalog)?)?;
    release_if_large();
    Ok(Rehearsed { workspace, spec, catalog, plan, scripts })
}

/// Writes the run directory (reports and scripts) into a staged directory, not yet in place.
pub fn write_run(plan: &Plan, scripts: &[(&str, String)], args: &RunArgs) -> Result<Staged> {
    let staged = Staged::beside(&args.out)?;
    report::write_all(plan, staged.path(), args.csv_spreadsheet_safe)?;
    emit::write(scripts, &staged.path().join("scripts"))?;
    Ok(staged)
}

/// Exit 3 when the plan predicts a failure (after the run directory is written).
pub fn failure(plan: &Plan, out: &std::path::Path) -> Result<()> {
    if plan.fails() {
        let reason =
            plan.predicted_failure.clone().unwrap_or_else(|| "verification fails on the simulated result".into());
        return Err(Error::Predicted(format!("predicted failure: {reason} (see {}/report.md)", out.display())).into());
    }
    Ok(())
}

/// Refuses to replace an existing run directory without `--force`, before any work is done.
pub fn check_out(args: &RunArgs) -> Result<()> {
    if args.out.exists() && !args.force {
        return Err(Error::Usage(format!(
            "{} already exists: choose another directory or pass --force to replace it",
            args.out.display()
        ))
        .into());
    }
    Ok(())
}

pub fn run(args: &RunArgs, progress: Arc<Progress>) -> Result<()> {
    check_out(args)?;
    let Rehearsed { workspace, plan, scripts, .. } = rehearse_input(&args.rehearsal, progress.clone())?;
    progress.phase("writing the run", "", 0);
    let staged = std::thread::scope(|scope| {
        // Nothing below reads the workspace: it closes (and its scratch file goes) meanwhile.
        scope.spawn(move || drop(workspace));
        write_run(&plan, &scripts, args)
    })?;
    staged.commit()?;
    output::print(&headline(&plan, &args.out.display().to_string()))?;
    let outcome = failure(&plan, &args.out);
    // The process ends next: freeing the plan's rows one by one (millions of strings for a
    // large dump, 0.17 s for 926 MB) would only delay the exit.
    std::mem::forget(plan);
    outcome
}

/// A few lines for the terminal; the run directory has the rest.
pub fn headline(plan: &Plan, out: &str) -> String {
    let counts = plan.hazard_counts();
    let hazards: Vec<String> = rehearse::rehearsal::rules::RULES
        .iter()
        .filter_map(|h| counts.get(h.code.as_str()).filter(|n| **n > 0).map(|n| format!("{}={n}", h.code)))
        .collect();
    let v = &plan.verification;
    let verdict = |pass: bool, applicable: bool| {
        if !applicable {
            "n/a"
        } else if pass {
            "pass"
        } else {
            "FAIL"
        }
    };
    format!(
        "policy {} ({:?}): models {} -> {} ({} versions deleted), services {} -> {} ({} repointed, {} orphaned, {} deleted)\n\
         cascade: {}\n\
         verification: V1 {}, V2 {}, V3 {} ({} rows), V3-caused {}\n\
         hazards: {}\n\
         reports: {out}/report.md\n",
        plan.policy.name(),
        plan.mode,
        plan.models_before,
        plan.models_after,
        plan.deleted.len(),
        plan.services_before,
        plan.services_after,
        plan.services_with(ServiceAction::Repointed),
        plan.services_with(ServiceAction::Orphan),
        plan.services_with(ServiceAction::Deleted),
        if plan.cascade_deleted.is_empty() && plan.cascade_changed.is_empty() {
            "none".to_string()
        } else {
            let deleted = plan.cascade_deleted.iter().map(|(t, n)| format!("{t} -{n}"));
            let changed = plan.cascade_changed.iter().map(|(t, n)| format!("{t} ~{n}"));
            deleted.chain(changed).collect::<Vec<_>>().join(", ")
        },
        verdict(v.v1.pass, v.v1.applicable),
        verdict(v.v2.pass, v.v2.applicable),
        verdict(v.v3.pass, v.v3.applicable),
        v.v3.count,
        verdict(v.v3_caused.pass, v.v3_caused.applicable),
        if hazards.is_empty() { "none".to_string() } else { hazards.join(" ") }
    )
}
