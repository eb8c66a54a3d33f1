//! Issue 14's differential test: the cases of `tests/cases/ddl.cases`, each a generated
//! database with schema objects in the rollback's way, built in a real PostgreSQL, dumped with
//! pg_dump and rehearsed. The shipped logic (tests/sql/guide_rollback.sql) and the emitted
//! scripts then run there, and the prediction must be what PostgreSQL did: the statement that
//! fails with its SQLSTATE, message and DETAIL; the objects dropped without a word; every row
//! each trigger fired on (the audit table the fixture's triggers write); the rows each table
//! (each partition, each inheritance parent and child on its own) loses, key by key.

use crate::support::{cluster, load_generated, repo};
use rehearse::catalog::{quote_ident, Catalog, Table};
use rehearse::emit::{self, Context};
use rehearse::import::{import, ImportOptions};
use rehearse::pg::Cluster;
use rehearse::plan::Step;
use rehearse::plan::{Mode, Plan};
use rehearse::rehearsal::policy::Policy;
use rehearse::rehearsal::{rehearse, Options};
use rehearse::spec::Spec;
use rehearse::validate::{describe, validate};
use rehearse::workspace::Workspace;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

struct Case {
    line: String,
    args: String,
    policy: Policy,
    delete_orphans: bool,
    drop_dependents: bool,
    expectations: Vec<(String, Vec<String>)>,
}

fn cases() -> Vec<Case> {
    let text = std::fs::read_to_string(repo().join("tests/cases/ddl.cases")).unwrap();
    let mut cases: Vec<Case> = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty() && !l.starts_with('#')) {
        let (verb, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
        let cells: Vec<String> = rest.split(" | ").map(|c| c.trim().to_string()).collect();
        if verb == "case" {
            cases.push(Case {
                line: line.to_string(),
                args: cells[0].clone(),
                policy: if cells[1] == "legacy" { Policy::Legacy } else { Policy::Documented },
                delete_orphans: cells[2] == "deleted",
                drop_dependents: cells[3] == "drop",
                expectations: Vec::new(),
            });
        } else {
            cases.last_mut().expect("a case line first").expectations.push((verb.to_string(), cells));
        }
    }
    cases
}

/// How the runner names a statement, for the prediction and for psql's failing line alike.
fn label(step: &Step) -> String {
    match step {
        Step::DropIndex { index } => format!("drop index {}", index.name),
        Step::DropConstraint { name, .. } => format!("drop constraint {name}"),
        Step::TouchServices { .. } => "touch services".into(),
        Step::DeleteVersions { .. } => "delete versions".into(),
        Step::DeleteOrphans { .. } => "delete orphans".into(),
        Step::DropColumns { table, .. } => format!("drop columns {}", table.name),
        Step::AddUnique { name, .. } => format!("add unique {name}"),
        Step::Commit => "commit".into(),
    }
}

/// The statement of tests/sql/guide_rollback.sql at `line`, named as `label` names steps.
fn guide_label(line: &str) -> String {
    let line = line.trim();
    if let Some(rest) = line.strip_prefix("DROP INDEX IF EXISTS ") {
        return format!("drop index {}", rest.trim_end_matches(';'));
    }
    if let Some((_, rest)) = line.split_once("DROP CONSTRAINT IF EXISTS ") {
        return format!("drop constraint {}", rest.trim_end_matches(';'));
    }
    for (prefix, name) in [
        ("UPDATE services", "touch services".to_string()),
        ("DELETE FROM models", "delete versions".into()),
        ("DELETE FROM services", "delete orphans".into()),
        ("ALTER TABLE services DROP COLUMN", "drop columns services".into()),
        ("ALTER TABLE models DROP COLUMN", "drop columns models".into()),
        ("ALTER TABLE models ADD CONSTRAINT models_model_id_key", "add unique models_model_id_key".into()),
        ("COMMIT", "commit".into()),
    ] {
        if line.starts_with(prefix) {
            return name;
        }
    }
    panic!("unexpected failing line in guide_rollback.sql: {line}")
}

/// What psql printed for the error that stopped a script (`\set VERBOSITY verbose`).
#[derive(Debug, Default)]
struct PgError {
    line: String,
    sqlstate: String,
    message: String,
    detail: BTreeSet<String>,
}

fn parse_error(stderr: &str, script: &Path) -> PgError {
    let source = std::fs::read_to_string(script).unwrap();
    let mut error = PgError::default();
    let mut in_detail = false;
    for line in stderr.lines() {
        if let Some((head, rest)) = line.split_once(": ERROR:  ") {
            let number: usize = head.rsplit(':').next().unwrap().parse().unwrap();
            error.line = source.lines().nth(number - 1).unwrap_or("").to_string();
            let (code, message) = rest.split_once(": ").unwrap();
            error.sqlstate = code.to_string();
            error.message = message.to_string();
        } else if let Some(first) = line.strip_prefix("DETAIL:  ") {
            in_detail = true;
            error.detail.insert(first.to_string());
        } else if line.starts_with("HINT:") || line.starts_with("LOCATION:") || line.starts_with("CONTEXT:") {
            in_detail = false;
        } else if in_detail {
            error.detail.insert(line.to_string());
        }
    }
    error
}

/// Runs the shipped logic as the owner of models, as the guide's operator would (a superuser
/// bypasses row-level security).
fn run_guide(pg: &Cluster, db: &str, case: &Case) -> std::process::Output {
    let on = |b: bool| if b { "on" } else { "off" };
    let owner = pg.query(db, "SELECT tableowner FROM pg_tables WHERE tablename = 'models'").unwrap();
    let owner = owner[0][0].clone().unwrap();
    pg.client("psql")
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-v", "VERBOSITY=verbose"])
        .args(["-c", &format!("SET ROLE {}", quote_ident(&owner))])
        .args(["-v", &format!("legacy={}", on(case.policy == Policy::Legacy))])
        .args(["-v", &format!("delete_orphans={}", on(case.delete_orphans))])
        .args(["-d", db, "-f"])
        .arg(repo().join("tests/sql/guide_rollback.sql"))
        .output()
        .unwrap()
}

/// The indexes, constraints, statistics objects and columns of models and services.
fn inventory(pg: &Cluster, db: &str) -> BTreeSet<String> {
    let sql = "SELECT 'index ' || indexname FROM pg_indexes WHERE tablename IN ('models', 'services') \
               UNION ALL SELECT 'constraint ' || conname FROM pg_constraint WHERE conrelid IN ('models'::regclass, 'services'::regclass) \
               UNION ALL SELECT 'statistics object ' || stxname FROM pg_statistic_ext WHERE stxrelid IN ('models'::regclass, 'services'::regclass) \
               UNION ALL SELECT 'column ' || attname FROM pg_attribute WHERE attrelid IN ('models'::regclass, 'services'::regclass) AND attnum > 0 AND NOT attisdropped";
    pg.query(db, sql).unwrap().into_iter().map(|r| r[0].clone().unwrap()).collect()
}

/// What the rollback asks to drop: the guide's indexes, constraint and version columns.
fn asked_for(spec: &Spec) -> BTreeSet<String> {
    let d = &spec.drop;
    d.indexes
        .iter()
        .map(|i| format!("index {i}"))
        .chain(d.constraints.iter().flat_map(|c| [format!("constraint {c}"), format!("index {c}")]))
        .chain(d.models_columns.iter().chain(&d.services_columns).map(|c| format!("column {c}")))
        .collect()
}

fn vanished(before: &BTreeSet<String>, after: &BTreeSet<String>, spec: &Spec) -> BTreeSet<String> {
    let asked = asked_for(spec);
    before.difference(after).filter(|o| !asked.contains(*o)).cloned().collect()
}

/// The objects the plan says go along with a column, named as `inventory` names them (a
/// dropped unique or primary-key constraint takes its index along).
fn predicted_drops(plan: &Plan) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for dropped in plan.ddl.iter().flat_map(|s| s.dropped.iter()) {
        let o = &dropped.object;
        names.insert(format!("{} {}", o.kind.label(), o.name));
        if o.owns_index {
            names.insert(format!("index {}", o.name));
        }
    }
    names
}

/// Every firing, as (trigger, row id or "" for a statement firing), sorted.
fn predicted_firings(plan: &Plan) -> Vec<(String, String)> {
    let mut firings: Vec<(String, String)> = plan
        .hazard_texts(rehearse::terms::HazardCode::H16, usize::MAX)
        .unwrap()
        .into_iter()
        .map(|h| {
            let trigger = h.detail.split(" (").next().unwrap().to_string();
            let row = if h.detail.contains("FOR EACH ROW") { h.key.to_string() } else { String::new() };
            (trigger, row)
        })
        .collect();
    firings.sort();
    firings
}

/// The firings one side has and the other lacks (as multisets), or None when equal.
fn firing_diff(fired: &[(String, String)], predicted: &[(String, String)]) -> Option<String> {
    let mut missing = predicted.to_vec();
    let mut unexpected = Vec::new();
    for firing in fired {
        match missing.iter().position(|p| p == firing) {
            Some(i) => {
                missing.remove(i);
            }
            None => unexpected.push(firing.clone()),
        }
    }
    (!missing.is_empty() || !unexpected.is_empty()).then(|| {
        format!(
            "{} firings as predicted; predicted but not fired: {missing:?}; fired but not predicted: {unexpected:?}",
            fired.len() - unexpected.len()
        )
    })
}

fn audited(pg: &Cluster, db: &str) -> Vec<(String, String)> {
    let exists = pg.query(db, "SELECT to_regclass('public.trigger_audit') IS NOT NULL").unwrap();
    if exists[0][0].as_deref() != Some("t") {
        return Vec::new();
    }
    let mut rows: Vec<(String, String)> = pg
        .query(db, "SELECT trigger_name, coalesce(row_id, '') FROM trigger_audit")
        .unwrap()
        .into_iter()
        .map(|r| (r[0].clone().unwrap(), r[1].clone().unwrap()))
        .collect();
    rows.sort();
    rows
}

/// The keys of the rows `table` holds itself (`ONLY`), as the plan's cascade rows spell them:
/// its primary key's values (a partition's is its partitioned table's), or all its values,
/// joined with ", ".
fn own_keys(pg: &Cluster, db: &str, catalog: &Catalog, table: &Table) -> Vec<String> {
    let columns: Vec<String> = catalog
        .primary_key(&table.name)
        .map(<[String]>::to_vec)
        .unwrap_or_else(|| table.columns.iter().map(|c| c.name.clone()).collect());
    let texts: Vec<String> = columns.iter().map(|c| format!("{}::text", quote_ident(c))).collect();
    let sql = format!("SELECT concat_ws(', ', {}) FROM ONLY {}", texts.join(", "), table.name.quoted());
    pg.query(db, &sql).unwrap().into_iter().map(|r| r[0].clone().unwrap_or_default()).collect()
}

/// Cascade rows out of the order cascade.csv promises: each table's deleted rows, then its
/// changed ones, by key, then foreign key, then action (a table that two foreign keys reach
/// interleaves them).
fn cascade_out_of_order(plan: &Plan) -> Vec<String> {
    let rows = plan.cascade_texts().unwrap();
    rows.windows(2)
        .filter(|pair| pair[0].table == pair[1].table && (pair[0].action == "deleted") == (pair[1].action == "deleted"))
        .filter(|pair| (&pair[0].key, &pair[0].via, &pair[0].action) > (&pair[1].key, &pair[1].via, &pair[1].action))
        .map(|pair| {
            format!(
                "cascade row {} {} ({}) before {} {} ({})",
                pair[0].table, pair[0].key, pair[0].via, pair[1].table, pair[1].key, pair[1].via
            )
        })
        .collect()
}

/// Per table other than models, the keys of the rows the run deleted from `before` to `after`
/// (a multiset difference), against those the plan predicts; only tables where they differ.
fn lost_rows_diff(pg: &Cluster, before: &str, after: &str, catalog: &Catalog, plan: &Plan) -> Vec<String> {
    let mut predicted: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for row in plan.cascade_texts().unwrap().into_iter().filter(|r| r.action == "deleted") {
        predicted.entry(row.table.to_string()).or_default().push(row.key.to_string());
    }
    let mut problems = Vec::new();
    for table in catalog.tables.iter().filter(|t| t.name.name != "models") {
        let mut remaining = own_keys(pg, after, catalog, table);
        let mut lost = Vec::new();
        for key in own_keys(pg, before, catalog, table) {
            match remaining.iter().position(|k| *k == key) {
                Some(i) => {
                    remaining.swap_remove(i);
                }
                None => lost.push(key),
            }
        }
        lost.sort();
        let mut expected = predicted.remove(&table.name.to_string()).unwrap_or_default();
        expected.sort();
        if lost != expected {
            problems.push(format!("{} lost {lost:?}, predicted {expected:?}", table.name));
        }
    }
    problems
}

/// Per table with partitions or inheritance children, the rows `SELECT count(*) FROM table`
/// lost from `before` to `after`, against the plan's per-parent total; only where they differ.
fn parent_totals_diff(pg: &Cluster, before: &str, after: &str, catalog: &Catalog, plan: &Plan) -> Vec<String> {
    let count = |db: &str, table: &Table| -> u64 {
        let rows = pg.query(db, &format!("SELECT count(*) FROM {}", table.name.quoted())).unwrap();
        rows[0][0].as_deref().unwrap().parse().unwrap()
    };
    catalog
        .tables
        .iter()
        .filter(|t| catalog.children_of(&t.name).next().is_some())
        .filter_map(|table| {
            let lost = count(before, table) - count(after, table);
            let predicted = plan.cascade_by_parent.get(&table.name.to_string()).copied().unwrap_or(0);
            (lost != predicted)
                .then(|| format!("{} lost {lost} rows with its descendants, predicted {predicted}", table.name))
        })
        .collect()
}

struct Rehearsed {
    workspace: Workspace,
    catalog: Catalog,
    plan: Plan,
}

fn rehearse_dump(dump: &Path, case: &Case) -> Rehearsed {
    let workspace = Workspace::in_memory().unwrap();
    let spec = Spec::guide();
    import(dump, &workspace, &spec, ImportOptions::default()).unwrap();
    let options = Options {
        policy: case.policy,
        delete_orphans: case.delete_orphans,
        drop_dependents: case.drop_dependents,
        mode: Mode::Full,
        ..Options::default()
    };
    let plan = rehearse(&workspace, &spec, &options).unwrap();
    let catalog = workspace.catalog().unwrap();
    Rehearsed { workspace, catalog, plan }
}

/// Checks one case; returns what differs.
fn check_case(pg: &Cluster, n: usize, case: &Case, dir: &Path) -> Vec<String> {
    let mut problems = Vec::new();
    let spec = Spec::guide();
    let db = format!("case_{n}");
    let args: Vec<&str> = ["--models", "20", "--seed", "3"].into_iter().chain(case.args.split_whitespace()).collect();
    load_generated(pg, &db, dir, &args);
    let dump = dir.join(format!("{db}.sql"));
    rehearse::pg::run_checked(pg.client("pg_dump").args(["--no-owner", "-f"]).arg(&dump).arg(&db), "pg_dump").unwrap();
    let run = rehearse_dump(&dump, case);
    let plan = &run.plan;
    problems.extend(cascade_out_of_order(plan));
    let first = plan.ddl.iter().find(|s| s.failure.is_some());
    // rehearse's own refusals (a silent drop, H18; a statement it cannot predict) are not
    // PostgreSQL's: the shipped logic runs on.
    let own = |s: &&rehearse::plan::StepPrediction| s.failure.as_ref().unwrap().message.starts_with("rehearse: ");
    let pg_failure = first.filter(|s| !own(s));
    let unpredictable = first.filter(|s| own(s) && s.failure.as_ref().unwrap().hazard != "H18");

    // What the cases file says the prediction is.
    for (verb, cells) in &case.expectations {
        let ok = match verb.as_str() {
            "fails" => pg_failure.is_some_and(|s| {
                let f = s.failure.as_ref().unwrap();
                label(&s.step) == cells[0]
                    && f.sqlstate == cells[1]
                    && (f.message.contains(&cells[2]) || f.objects.iter().any(|o| o.detail.contains(&cells[2])))
            }),
            "refuses" => first.is_some_and(|s| {
                let f = s.failure.as_ref().unwrap();
                label(&s.step) == cells[0]
                    && f.message.starts_with("rehearse: ")
                    && cells.get(1).is_none_or(|object| f.objects.iter().any(|o| o.object == *object))
            }),
            "passes" => first.is_none(),
            "drops" => plan.ddl.iter().flat_map(|s| &s.dropped).any(|d| d.object.describe() == cells[0]),
            "loses" => plan.cascade_deleted.contains_key(&cells[0]),
            "unverified" => {
                let v = &plan.verification;
                let check = match cells[0].as_str() {
                    "V1" => &v.v1,
                    "V2" => &v.v2,
                    "V3_caused" => &v.v3_caused,
                    other => panic!("no gating check {other}"),
                };
                plan.predicted_failure.is_none() && check.applicable && !check.pass && plan.fails()
            }
            "through" => plan
                .cascade_texts()
                .unwrap()
                .iter()
                .any(|r| r.table == cells[0] && r.via.starts_with(&format!("{} ", cells[1]))),
            "keeps" => !plan.cascade_deleted.contains_key(&cells[0]),
            "totals" => plan.cascade_by_parent.contains_key(&cells[0]),
            "fires" => predicted_firings(plan).iter().any(|(t, _)| *t == cells[0]),
            "silent" => !predicted_firings(plan).iter().any(|(t, _)| *t == cells[0]),
            "count" | "some" => {
                let (code, n) = cells[0].split_once(' ').unwrap_or((cells[0].as_str(), ""));
                let actual = plan.hazard_counts().get(code).copied().unwrap_or(0);
                if verb == "some" {
                    actual > 0
                } else {
                    actual == n.parse::<u64>().unwrap()
                }
            }
            other => panic!("unknown verb {other}"),
        };
        if !ok {
            problems.push(format!("expected `{verb} {}`; predicted: {:?}", cells.join(" | "), plan.predicted_failure));
        }
    }

    // The shipped logic, for real.
    let shipped = format!("shipped_{n}");
    pg.psql("postgres", &format!("CREATE DATABASE {shipped} TEMPLATE {db}")).unwrap();
    let before = inventory(pg, &shipped);
    let out = run_guide(pg, &shipped, case);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    match (pg_failure, out.status.success()) {
        // rehearse refused to predict: PostgreSQL must indeed not do what the plain
        // rehearsal says (it fails, or leaves another number of versions).
        _ if unpredictable.is_some() => {
            let left = pg.query(&shipped, "SELECT count(*) FROM models").unwrap();
            if out.status.success() && left[0][0].as_deref() == Some(plan.models_after.to_string().as_str()) {
                problems.push("rehearse refused, yet PostgreSQL did what the plain rehearsal predicts".into());
            }
        }
        (None, true) => {
            let gone = vanished(&before, &inventory(pg, &shipped), &spec);
            if gone != predicted_drops(plan) {
                problems.push(format!("shipped run dropped {gone:?}, predicted {:?}", predicted_drops(plan)));
            }
            if let Some(diff) = firing_diff(&audited(pg, &shipped), &predicted_firings(plan)) {
                problems.push(format!("shipped run: {diff}"));
            }
            for diff in lost_rows_diff(pg, &db, &shipped, &run.catalog, plan) {
                problems.push(format!("shipped run: {diff}"));
            }
            for diff in parent_totals_diff(pg, &db, &shipped, &run.catalog, plan) {
                problems.push(format!("shipped run: {diff}"));
            }
        }
        (Some(step), false) => {
            let error = parse_error(&stderr, &repo().join("tests/sql/guide_rollback.sql"));
            let failure = step.failure.as_ref().unwrap();
            if guide_label(&error.line) != label(&step.step) {
                problems.push(format!("PostgreSQL failed at `{}`, predicted `{}`", error.line, step.sql));
            }
            if error.sqlstate != failure.sqlstate || error.message != failure.message {
                problems.push(format!(
                    "PostgreSQL: {} {}; predicted {} {}",
                    error.sqlstate, error.message, failure.sqlstate, failure.message
                ));
            }
            // A dependency error lists the dependent objects in its DETAIL, unless its message names
            // the one object (a constraint that requires the index): then it has none.
            let predicted: BTreeSet<String> = if failure.message.ends_with(" requires it") {
                BTreeSet::new()
            } else {
                failure.objects.iter().map(|o| o.detail.clone()).collect()
            };
            if failure.sqlstate == "2BP01" && error.detail != predicted {
                problems.push(format!("PostgreSQL's DETAIL {:?}, predicted {predicted:?}", error.detail));
            }
        }
        (predicted, _) => problems.push(format!(
            "the shipped run {}, predicted {:?}: {stderr}",
            if out.status.success() { "succeeded" } else { "failed" },
            predicted.map(|s| s.sql.clone())
        )),
    }

    // The emitted scripts, on the exported database.
    let scripts = emit::render(&Context::new(plan, &spec, &run.catalog).unwrap()).unwrap();
    let script_dir = dir.join(format!("scripts_{n}"));
    emit::write(&scripts, &script_dir).unwrap();
    let emitted = format!("emitted_{n}");
    let context = Context::new(plan, &spec, &run.catalog).unwrap();
    let validation = validate(pg, &emitted, &dump, &run.workspace, &run.catalog, &spec, &context, &script_dir).unwrap();
    if !validation.matches() {
        problems.push(format!("emitted scripts:\n{}", describe(&validation)));
    }
    if plan.fails() {
        let refused = validation.scripts.iter().any(|s| s.messages.contains("predicted that this rollback fails"));
        if !refused {
            problems.push("02_rollback.sql did not refuse the predicted failure".into());
        }
    } else {
        if let Some(diff) = firing_diff(&audited(pg, &emitted), &predicted_firings(plan)) {
            problems.push(format!("emitted scripts: {diff}"));
        }
        // 01_backup.sql made complete copies under its own names, whatever the guide left there.
        let backup = pg.query(&emitted, "SELECT count(*) FROM models_rehearse_backup").unwrap();
        if backup[0][0].as_deref() != Some(plan.models_before.to_string().as_str()) {
            problems
                .push(format!("models_rehearse_backup has {:?} rows, models had {}", backup[0][0], plan.models_before));
        }
    }
    problems
}

#[test]
fn schema_objects_triggers_and_backups_are_predicted_as_postgresql_does() {
    let pg = cluster();
    let dir = tempfile::tempdir().unwrap();
    let mut failures = Vec::new();
    let all = cases();
    assert!(all.len() >= 15, "the case file lost cases ({})", all.len());
    for (n, case) in all.iter().enumerate() {
        for problem in check_case(&pg, n, case, dir.path()) {
            failures.push(format!("{}: {problem}", case.line));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
