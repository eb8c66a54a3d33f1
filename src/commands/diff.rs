//! `rehearse diff`: what changes between two rehearsals — two policies on one export, or two
//! exports taken on different days: count deltas, keepers that switch, hazards that appear or go.

use super::output;
use crate::cli::DiffArgs;
use anyhow::Result;
use rehearse::rehearsal::rules::RULES;
use rehearse::report::one_line;
use rehearse::report::summary::Summary;
use rehearse::rundir::{text, Rows, RunDir};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

/// The counts compared, under their summary.json names.
fn counts(s: &Summary) -> [(&'static str, u64); 9] {
    [
        ("models_before", s.models_before),
        ("models_after", s.models_after),
        ("versions_deleted", s.versions_deleted),
        ("services_before", s.services_before),
        ("services_after", s.services_after),
        ("services_repointed", s.services_repointed),
        ("services_orphaned", s.services_orphaned),
        ("services_deleted", s.services_deleted),
        ("policy_divergence", s.policy_divergence),
    ]
}

/// model_id → (kept id, kept version).
fn keepers(rows: &Rows) -> BTreeMap<String, (String, String)> {
    rows.iter()
        .map(|r| (text(r, "model_id").to_string(), (text(r, "id").to_string(), text(r, "version").to_string())))
        .collect()
}

fn hazard_keys(rows: &Rows) -> BTreeSet<(String, String, String)> {
    rows.iter()
        .map(|r| (text(r, "code").to_string(), text(r, "table").to_string(), text(r, "key").to_string()))
        .collect()
}

pub fn run(args: &DiffArgs) -> Result<()> {
    let (a, b) = (RunDir::open(&args.run_a)?, RunDir::open(&args.run_b)?);
    let mut counts: BTreeMap<String, (i64, i64)> = counts(&a.summary)
        .into_iter()
        .zip(counts(&b.summary))
        .map(|((key, x), (_, y))| (key.to_string(), (x as i64, y as i64)))
        .collect();
    for code in RULES.iter().map(|h| h.code.as_str()) {
        let (x, y) = (a.summary.hazard(code, &a.summary_file())?, b.summary.hazard(code, &b.summary_file())?);
        counts.insert(format!("hazard {code}"), (x as i64, y as i64));
    }
    let (kept_a, kept_b) = (keepers(&a.report("versions_kept.csv")?), keepers(&b.report("versions_kept.csv")?));
    let switched: Vec<Value> = kept_a
        .iter()
        .filter_map(|(model, (id_a, version_a))| {
            let (id_b, version_b) = kept_b.get(model)?;
            (id_a != id_b).then(|| json!({"model_id": model, "a": {"id": id_a, "version": version_a}, "b": {"id": id_b, "version": version_b}}))
        })
        .collect();
    let (hazards_a, hazards_b) = (hazard_keys(&a.report("hazards.csv")?), hazard_keys(&b.report("hazards.csv")?));
    let row = |(code, table, key): &(String, String, String)| json!({"code": code, "table": table, "key": key});
    let new_hazards: Vec<Value> = hazards_b.difference(&hazards_a).map(row).collect();
    let gone_hazards: Vec<Value> = hazards_a.difference(&hazards_b).map(row).collect();
    let policies = (a.summary.policy.name(), b.summary.policy.name());
    let inputs = (a.summary.input_sha256(&a.summary_file())?, b.summary.input_sha256(&b.summary_file())?);

    if args.json {
        let deltas: BTreeMap<&String, Value> =
            counts.iter().map(|(k, (x, y))| (k, json!({"a": x, "b": y, "delta": y - x}))).collect();
        let value = json!({
            "a": {"path": args.run_a, "policy": policies.0, "input_sha256": inputs.0},
            "b": {"path": args.run_b, "policy": policies.1, "input_sha256": inputs.1},
            "counts": deltas,
            "keepers_switched": switched,
            "hazards_new": new_hazards,
            "hazards_gone": gone_hazards,
        });
        return output::print(&(serde_json::to_string_pretty(&value)? + "\n"));
    }
    let mut out = String::new();
    let same_input = if inputs.0 == inputs.1 { "same export" } else { "different exports" };
    let _ = writeln!(
        out,
        "A {} (policy {}) vs B {} (policy {}): {same_input}",
        args.run_a.display(),
        policies.0,
        args.run_b.display(),
        policies.1
    );
    let _ = writeln!(out, "\nCOUNTS (A -> B)");
    for (key, (x, y)) in counts.iter().filter(|(key, (x, y))| x != y || !key_is_hazard(key)) {
        let _ = writeln!(out, "  {key:22} {x:>8} -> {y:<8} {:+}", y - x);
    }
    let _ = writeln!(out, "\nKEEPERS THAT SWITCH ({})", switched.len());
    for s in switched.iter().take(50) {
        let _ = writeln!(
            out,
            "  {}: A keeps {} ({}), B keeps {} ({})",
            one_line(s["model_id"].as_str().unwrap_or("")),
            s["a"]["version"].as_str().unwrap_or(""),
            s["a"]["id"].as_str().unwrap_or(""),
            s["b"]["version"].as_str().unwrap_or(""),
            s["b"]["id"].as_str().unwrap_or("")
        );
    }
    for (title, rows) in [("HAZARDS ONLY IN B", &new_hazards), ("HAZARDS ONLY IN A", &gone_hazards)] {
        let _ = writeln!(out, "\n{title} ({})", rows.len());
        for r in rows.iter().take(50) {
            let _ = writeln!(
                out,
                "  {} {} {}",
                r["code"].as_str().unwrap_or(""),
                r["table"].as_str().unwrap_or(""),
                one_line(r["key"].as_str().unwrap_or(""))
            );
        }
    }
    output::print(&out)
}

fn key_is_hazard(key: &str) -> bool {
    key.starts_with("hazard ")
}
