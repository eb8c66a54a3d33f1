//! `rehearse check`: a CI gate on the rehearsal, without a live database. Exit 0 pass, 3
//! predicted failure or failed verification, 4 a threshold breached (ROLLBACK.md §8). Text
//! output reads like a linter's: a code, what, where, what to do.

use super::output;
use super::run::{rehearse_input, Rehearsed};
use crate::cli::{CheckArgs, CheckFormat};
use anyhow::Result;
use rehearse::plan::{Plan, ServiceAction};
use rehearse::progress::Progress;
use rehearse::rehearsal::rules::{info, Rule, RULES};
use rehearse::report::one_line;
use rehearse::Error;
use serde_json::json;
use std::fmt::Write;
use std::sync::Arc;

/// Rows shown per hazard in text output; the run directory has them all.
const SHOWN: usize = 5;

/// The exit code the check ends with, and why.
struct Verdict {
    code: i32,
    failure: Option<String>,
    breaches: Vec<String>,
}

fn verdict(plan: &Plan, args: &CheckArgs) -> Verdict {
    let mut breaches = Vec::new();
    let mut limit = |name: &str, actual: u64, max: Option<u64>, flag: &str| {
        if let Some(max) = max.filter(|max| actual > *max) {
            breaches.push(format!("{actual} {name} > {flag} {max}"));
        }
    };
    limit("versions deleted", plan.deleted.len() as u64, args.max_versions_deleted, "--max-versions-deleted");
    limit(
        "services repointed",
        plan.services_with(ServiceAction::Repointed),
        args.max_services_repointed,
        "--max-services-repointed",
    );
    limit("cascade rows", plan.cascade.len() as u64, args.max_cascade_rows, "--max-cascade-rows");
    let counts = plan.hazard_counts();
    for code in &args.fail_on {
        if let Some(n) = counts.get(code.as_str()).filter(|n| **n > 0) {
            breaches.push(format!("{code} present ({n} {}) and --fail-on {code}", info(code).map_or("", |h| h.unit)));
        }
    }
    let failure = plan
        .predicted_failure
        .clone()
        .or_else(|| (!plan.verification.gating_pass()).then(|| "verification fails on the simulated result".into()));
    let code = if failure.is_some() {
        3
    } else if !breaches.is_empty() {
        4
    } else {
        0
    };
    Verdict { code, failure, breaches }
}

fn level(args: &CheckArgs, code: &str) -> &'static str {
    if args.fail_on.iter().any(|c| c == code) {
        "error"
    } else {
        "warning"
    }
}

/// The hazards the plan has, in code order, with their row counts.
fn present(plan: &Plan) -> Vec<(&'static Rule, u64)> {
    let counts = plan.hazard_counts();
    RULES.iter().filter_map(|h| counts.get(h.code.as_str()).filter(|n| **n > 0).map(|n| (h, *n))).collect()
}

fn text(plan: &Plan, args: &CheckArgs, verdict: &Verdict) -> rehearse::Result<String> {
    let mut out = String::new();
    for (hazard, n) in present(plan) {
        let _ = writeln!(
            out,
            "{}[{}]: {} ({n} {})",
            level(args, hazard.code.as_str()),
            hazard.code,
            hazard.title,
            hazard.unit
        );
        for row in plan.hazard_texts(hazard.code, SHOWN)? {
            let _ = writeln!(out, "  --> {} {}: {}", row.table, one_line(&row.key), one_line(&row.detail));
        }
        if n as usize > SHOWN {
            let _ = writeln!(out, "  ... and {} more (reports/hazards.csv of `rehearse run`)", n as usize - SHOWN);
        }
        let _ = writeln!(out, "  = help: {}\n", hazard.help);
    }
    if let Some(failure) = &verdict.failure {
        let _ = writeln!(
            out,
            "error[failure]: {failure}\n  = help: the emitted 02_rollback.sql refuses to run; see report.md\n"
        );
    }
    for breach in &verdict.breaches {
        let _ = writeln!(out, "error[threshold]: {breach}");
    }
    let result = match verdict.code {
        0 => "PASS".to_string(),
        3 => "FAIL (exit 3): the rollback is predicted to fail".to_string(),
        _ => format!("FAIL (exit 4): {} threshold(s) breached", verdict.breaches.len()),
    };
    let _ = writeln!(
        out,
        "check: {result} — {} versions deleted, {} services repointed, {} cascade rows, policy {}",
        plan.deleted.len(),
        plan.services_with(ServiceAction::Repointed),
        plan.cascade.len(),
        plan.policy.name()
    );
    Ok(out)
}

/// Escapes an annotation's message for GitHub Actions workflow commands.
fn escape_data(text: &str) -> String {
    text.replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A")
}

/// Escapes an annotation property (title): also `:` and `,`.
fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}

fn github(plan: &Plan, args: &CheckArgs, verdict: &Verdict) -> rehearse::Result<String> {
    let mut out = String::new();
    for (hazard, n) in present(plan) {
        let example =
            plan.hazard_texts(hazard.code, 1)?.pop().map(|h| format!(" e.g. {} {}: {}", h.table, h.key, h.detail));
        let title = format!("{} rehearse: {} {}", hazard.code, n, hazard.unit);
        let message = format!("{}.{} Help: {}", hazard.title, example.unwrap_or_default(), hazard.help);
        let _ = writeln!(
            out,
            "::{} title={}::{}",
            level(args, hazard.code.as_str()),
            escape_property(&title),
            escape_data(&message)
        );
    }
    if let Some(failure) = &verdict.failure {
        let _ =
            writeln!(out, "::error title={}::{}", escape_property("rehearse: predicted failure"), escape_data(failure));
    }
    for breach in &verdict.breaches {
        let _ =
            writeln!(out, "::error title={}::{}", escape_property("rehearse: threshold breached"), escape_data(breach));
    }
    Ok(out)
}

fn json(plan: &Plan, args: &CheckArgs, verdict: &Verdict) -> String {
    let result = match verdict.code {
        0 => "pass",
        3 => "fail",
        _ => "breach",
    };
    let value = json!({
        "result": result,
        "exit_code": verdict.code,
        "predicted_failure": verdict.failure,
        "breaches": verdict.breaches,
        "fail_on": args.fail_on,
        "versions_deleted": plan.deleted.len(),
        "services_repointed": plan.services_with(ServiceAction::Repointed),
        "cascade_rows": plan.cascade.len(),
        "hazards": plan.hazard_counts(),
        "policy": plan.policy,
    });
    serde_json::to_string_pretty(&value).expect("check JSON serialises") + "\n"
}

pub fn run(args: &CheckArgs, progress: Arc<Progress>) -> Result<i32> {
    if let Some(unknown) = args.fail_on.iter().find(|code| info(code).is_none()) {
        let (first, last) = (&RULES[0].code, &RULES[RULES.len() - 1].code);
        return Err(Error::Usage(format!("--fail-on {unknown}: hazard codes are {first} to {last}")).into());
    }
    let Rehearsed { workspace, plan, .. } = rehearse_input(&args.rehearsal, progress)?;
    drop(workspace);
    let verdict = verdict(&plan, args);
    let rendered = match args.format {
        CheckFormat::Text => text(&plan, args, &verdict)?,
        CheckFormat::Github => github(&plan, args, &verdict)?,
        CheckFormat::Json => json(&plan, args, &verdict),
    };
    // The process ends next: freeing the plan's rows one by one would only delay the exit, as
    // in `run`.
    std::mem::forget(plan);
    output::print(&rendered)?;
    Ok(verdict.code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn annotations_escape_as_github_documents() {
        assert_eq!(escape_data("50% done\r\nnext"), "50%25 done%0D%0Anext");
        assert_eq!(escape_property("H6: a, b"), "H6%3A a%2C b");
    }
}
