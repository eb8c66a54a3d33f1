//! The emitted scripts stay linear in the rows: on a generated database of a few thousand
//! versions, every plan PostgreSQL runs for them — statements inside DO blocks and functions
//! and the queries of foreign-key actions included, logged by auto_explain — is checked for
//! work repeated per row of another table.

use crate::support::{generated_database, pg_dump, DB};
use rehearse::emit::{self, Context};
use rehearse::import::{import, ImportOptions};
use rehearse::pg::Cluster;
use rehearse::plan::Mode;
use rehearse::rehearsal::policy::Policy;
use rehearse::rehearsal::{rehearse, Options};
use rehearse::spec::Spec;
use rehearse::workspace::Workspace;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

/// The planner as an operator's server runs it, or with sequential scans priced out: then a
/// plan still scans a table in full only where no index can serve the access.
#[derive(Clone, Copy, PartialEq)]
enum Planner {
    Default,
    IndexesFirst,
}

/// Runs a SQL file with auto_explain sending the plan of every statement, nested ones too, to
/// the client; returns whether the file succeeded, the plans in the order they ran, and errors.
fn plans_of(pg: &Cluster, db: &str, file: &Path, planner: Planner) -> (bool, Vec<Value>, String) {
    let mut options = String::from(
        "-c session_preload_libraries=auto_explain -c auto_explain.log_min_duration=0 \
         -c auto_explain.log_nested_statements=on -c auto_explain.log_format=json -c auto_explain.log_level=notice \
         -c auto_explain.log_verbose=on",
    );
    if planner == Planner::IndexesFirst {
        // Priced-out plans cost more than jit_above_cost: compiling each would take minutes.
        options.push_str(" -c enable_seqscan=off -c jit=off");
    }
    let out = pg
        .client("psql")
        .env("PGOPTIONS", options)
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", db, "-f"])
        .arg(file)
        .output()
        .unwrap();
    let messages = String::from_utf8_lossy(&out.stderr).into_owned();
    let mut plans = Vec::new();
    for chunk in messages.split("plan:\n").skip(1) {
        let plan = serde_json::Deserializer::from_str(chunk).into_iter::<Value>().next();
        plans.push(plan.expect("a JSON plan after `plan:`").expect("auto_explain writes valid JSON"));
    }
    let errors: String = messages.lines().filter(|l| l.contains("ERROR")).collect::<Vec<_>>().join("\n");
    (out.status.success(), plans, errors)
}

/// Whether a scan node reads its relation in full: a sequential scan, or an index scan with no
/// index condition (the planner's choice when sequential scans are priced out).
fn reads_in_full(node: &Value) -> bool {
    match node["Node Type"].as_str().unwrap_or("") {
        "Seq Scan" => true,
        "Index Scan" | "Index Only Scan" | "Bitmap Index Scan" => node.get("Index Cond").is_none(),
        "Bitmap Heap Scan" => node["Plans"].as_array().into_iter().flatten().all(reads_in_full),
        "BitmapAnd" | "BitmapOr" => node["Plans"].as_array().into_iter().flatten().all(reads_in_full),
        _ => false,
    }
}

/// Relations read in full in `node`'s subtree, system catalogs aside: every other table grows
/// with the export.
fn full_scans(node: &Value, found: &mut Vec<String>) {
    let relation = node["Relation Name"].as_str().filter(|r| !r.starts_with("pg_"));
    found.extend(relation.filter(|_| reads_in_full(node)).map(str::to_string));
    for child in node["Plans"].as_array().into_iter().flatten() {
        full_scans(child, found);
    }
}

/// Full scans of a table once per row of another: on the inner side of a nested loop, or in a
/// subplan that its parent evaluates per row (one it does not hash).
fn repeated_scans(node: &Value, problems: &mut Vec<String>) {
    let children: Vec<&Value> = node["Plans"].as_array().into_iter().flatten().collect();
    // The parent's own expressions say `hashed SubPlan N` for a subplan it hashes.
    let mut own = node.clone();
    own.as_object_mut().map(|o| o.remove("Plans"));
    let own = own.to_string();
    for child in &children {
        let per_row = match child["Parent Relationship"].as_str() {
            Some("Inner") => node["Node Type"] == "Nested Loop",
            Some("SubPlan") => !own.contains(&format!("hashed {}", child["Subplan Name"].as_str().unwrap_or(""))),
            _ => false,
        };
        let mut scanned = Vec::new();
        if per_row {
            full_scans(child, &mut scanned);
        }
        if !scanned.is_empty() {
            problems.push(format!("{} scans {} once per row", node["Node Type"], scanned.join(", ")));
        }
        repeated_scans(child, problems);
    }
}

/// Everything in `plans` that does work per row of another table: repeated scans inside a
/// plan and, when sequential scans are priced out (so that the size of a small test table does
/// not decide), statements run once per row (a foreign key's action) that scan a table in full.
fn per_row_work(plans: &[Value], planner: Planner) -> Vec<String> {
    let mut problems = Vec::new();
    let mut runs: BTreeMap<&str, usize> = BTreeMap::new();
    for plan in plans {
        let text = plan["Query Text"].as_str().unwrap_or("");
        *runs.entry(text).or_default() += 1;
        let mut found = Vec::new();
        repeated_scans(&plan["Plan"], &mut found);
        problems.extend(found.into_iter().map(|p| format!("{p}: {}", text.chars().take(200).collect::<String>())));
    }
    for plan in plans.iter().filter(|_| planner == Planner::IndexesFirst) {
        let text = plan["Query Text"].as_str().unwrap_or("");
        let mut scanned = Vec::new();
        full_scans(&plan["Plan"], &mut scanned);
        if runs[text] > 1 && !scanned.is_empty() {
            problems.push(format!("run {} times, each scanning {}: {text}", runs[text], scanned.join(", ")));
            runs.insert(text, 0);
        }
    }
    problems
}

#[test]
fn no_emitted_statement_scans_a_table_once_per_row_of_another() {
    let dir = tempfile::tempdir().unwrap();
    let pg = generated_database(dir.path(), &["--models", "500", "--seed", "3"]);
    let dump = dir.path().join("dump.sql");
    pg_dump(&pg, &["--no-owner"], &dump);

    let workspace = Workspace::in_memory().unwrap();
    let spec = Spec::guide();
    import(&dump, &workspace, &spec, ImportOptions::default()).unwrap();
    let options = Options { policy: Policy::Legacy, delete_orphans: true, mode: Mode::Full, ..Options::default() };
    let plan = rehearse(&workspace, &spec, &options).unwrap();
    assert!(plan.models_before > 2000 && plan.services_before > plan.services_after, "a few thousand versions");
    let catalog = workspace.catalog().unwrap();
    let scripts = emit::render(&Context::new(&plan, &spec, &catalog).unwrap()).unwrap();
    let scripts_dir = dir.path().join("scripts");
    emit::write(&scripts, &scripts_dir).unwrap();
    let deleted = plan.deleted.iter().find(|d| d.model_id.is_some() && d.version.is_some()).unwrap();
    let restore_call = dir.path().join("restore.sql");
    std::fs::write(
        &restore_call,
        format!(
            "SELECT rehearse_restore_version({}, {});",
            rehearse::sql::literal(deleted.model_id.as_deref().unwrap()),
            rehearse::sql::literal(deleted.version.as_deref().unwrap())
        ),
    )
    .unwrap();
    // The restore runs later, once autovacuum has analysed what the rollback changed.
    let analyze = dir.path().join("analyze.sql");
    std::fs::write(&analyze, "ANALYZE;").unwrap();

    // 01 twice (the second run compares the backups it made), the rollback, its checks, and
    // restoring one version, on the data of a fresh restore (analysed, as pg_restore leaves it
    // once autovacuum has passed).
    let mut problems = Vec::new();
    for (n, planner) in [Planner::Default, Planner::IndexesFirst].into_iter().enumerate() {
        let db = format!("plans_{n}");
        pg.psql("postgres", &format!("CREATE DATABASE {db} TEMPLATE {DB}")).unwrap();
        pg.psql(&db, "ANALYZE").unwrap();
        let mut statements = 0;
        let files = ["01_backup.sql", "01_backup.sql", "02_rollback.sql", "03_verify.sql", "04_restore_version.sql"];
        let files = files.iter().map(|f| scripts_dir.join(f)).chain([analyze.clone(), restore_call.clone()]);
        for file in files {
            let (ok, plans, errors) = plans_of(&pg, &db, &file, planner);
            assert!(ok, "{}: {errors}", file.display());
            statements += plans.len();
            problems.extend(per_row_work(&plans, planner).into_iter().map(|p| format!("{}: {p}", file.display())));
        }
        assert!(statements > 1000, "auto_explain reported {statements} plans: the foreign-key actions are among them");
    }
    assert!(problems.is_empty(), "per-row work in the emitted scripts:\n{}", problems.join("\n"));
}

#[test]
fn the_plan_check_catches_per_row_scans() {
    let dir = tempfile::tempdir().unwrap();
    let pg = generated_database(dir.path(), &["--models", "300", "--seed", "3"]);
    pg.psql(DB, "ANALYZE").unwrap();
    // What 01_backup.sql and 02_rollback.sql did before: a count per keeper, and NOT IN over a
    // list too large for work_mem; then a foreign-key action without an index on its column.
    let file = dir.path().join("slow.sql");
    std::fs::write(
        &file,
        "SELECT m.id, (SELECT count(*) FROM models x WHERE x.model_id IS NOT DISTINCT FROM m.model_id) FROM models m;\n\
         BEGIN;\nSET LOCAL work_mem = '64kB';\nSET LOCAL hash_mem_multiplier = 1;\n\
         SELECT count(*) FROM services WHERE model_id NOT IN (SELECT model_id FROM models WHERE version <> '1.0.0');\n\
         DELETE FROM models WHERE version <> '1.0.0';\nROLLBACK;\n",
    )
    .unwrap();
    for planner in [Planner::Default, Planner::IndexesFirst] {
        let (ok, plans, errors) = plans_of(&pg, DB, &file, planner);
        assert!(ok, "{errors}");
        let problems = per_row_work(&plans, planner).join("\n");
        assert!(problems.contains("scans models once per row: SELECT m.id"), "{problems}");
        assert!(problems.contains("scans models once per row: SELECT count(*) FROM services"), "{problems}");
        assert_eq!(problems.contains("each scanning model_artifacts"), planner == Planner::IndexesFirst, "{problems}");
    }
}
