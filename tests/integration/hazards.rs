//! Every hazard of ROLLBACK.md §4 seen on the rows that carry it: the cases of
//! `tests/cases/hazards.cases`, each a generated database dumped with the real pg_dump. Each is
//! rehearsed with its steps side by side and one after the other (a large export's schedule),
//! and both write the same reports.

use crate::support::{generated_database, pg_dump, repo};
use rehearse::import::{import, ImportOptions};
use rehearse::plan::{Mode, Plan};
use rehearse::rehearsal::policy::Policy;
use rehearse::rehearsal::{rehearse, Options, Schedule};
use rehearse::spec::Spec;
use rehearse::workspace::Workspace;
use std::path::Path;

fn rehearse_generated(args: &str, policy: &str, orphans: &str) -> Plan {
    let dir = tempfile::tempdir().unwrap();
    let args: Vec<&str> = args.split_whitespace().collect();
    let pg = generated_database(dir.path(), &args);
    let dump = dir.path().join("dump.sql");
    pg_dump(&pg, &["--no-owner"], &dump);
    let workspace = Workspace::in_memory().unwrap();
    let spec = Spec::guide();
    import(&dump, &workspace, &spec, ImportOptions::default()).unwrap();
    let policy = if policy == "legacy" { Policy::Legacy } else { Policy::Documented };
    let options = |schedule| Options {
        policy,
        mode: Mode::Full,
        delete_orphans: orphans == "deleted",
        schedule,
        ..Options::default()
    };
    let plan = rehearse(&workspace, &spec, &options(Schedule::SideBySide)).unwrap();
    let apart = rehearse(&workspace, &spec, &options(Schedule::OneAfterAnother)).unwrap();
    let (side_dir, apart_dir) = (dir.path().join("side"), dir.path().join("apart"));
    for (plan, out) in [(&plan, &side_dir), (&apart, &apart_dir)] {
        std::fs::create_dir(out).unwrap();
        rehearse::report::write_all(plan, out, false).unwrap();
    }
    assert_same_reports(&side_dir, &apart_dir);
    assert_rows_by_key(&plan);
    plan
}

/// Each code's rows in key order (byte order), as hazards.csv promises, whatever order a rule
/// found them in.
fn assert_rows_by_key(plan: &Plan) {
    for code in rehearse::terms::HazardCode::ALL {
        let keys: Vec<String> = plan.hazard_texts(code, usize::MAX).unwrap().into_iter().map(|h| h.key).collect();
        if let Some(pair) = keys.windows(2).find(|pair| pair[0] > pair[1]) {
            panic!("{code}: {:?} before {:?}", pair[0], pair[1]);
        }
    }
}

/// Every report in `a` is in `b` byte for byte, and `b` has no other (report.xlsx aside: its
/// sheets hold the CSV files' rows, and its properties the time it was written).
fn assert_same_reports(a: &Path, b: &Path) {
    let files = |dir: &Path| -> Vec<_> {
        let mut files: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
        files.sort();
        files
    };
    let (in_a, in_b) = (files(a), files(b));
    let names =
        |files: &[std::path::PathBuf]| -> Vec<_> { files.iter().map(|f| f.file_name().unwrap().to_owned()).collect() };
    assert_eq!(names(&in_a), names(&in_b), "{} and {}", a.display(), b.display());
    for (x, y) in in_a.iter().zip(&in_b) {
        if x.is_dir() {
            assert_same_reports(x, y);
        } else if x.file_name().unwrap() != "report.xlsx" {
            assert!(std::fs::read(x).unwrap() == std::fs::read(y).unwrap(), "{} differs", y.display());
        }
    }
}

#[test]
fn hazards_are_reported_with_their_rows() {
    let text = std::fs::read_to_string(repo().join("tests/cases/hazards.cases")).unwrap();
    let mut plan: Option<Plan> = None;
    let mut failures = Vec::new();
    let mut checked = 0;
    for line in text.lines().filter(|l| !l.trim().is_empty() && !l.starts_with('#')) {
        let (verb, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
        let cells: Vec<&str> = rest.split(" | ").map(str::trim).collect();
        if verb == "run" {
            plan = Some(rehearse_generated(cells[0], cells[1], cells[2]));
            continue;
        }
        let plan = plan.as_ref().expect("a run line first");
        checked += 1;
        match verb {
            "count" => {
                let (code, n) = rest.trim().split_once(' ').unwrap();
                let actual = plan.hazard_counts().get(code).copied().unwrap_or(0);
                if actual != n.parse::<u64>().unwrap() {
                    failures.push(format!("{line}: found {actual}"));
                }
            }
            "has" => {
                let hazards = plan.all_hazard_texts().unwrap();
                let found = hazards.iter().any(|h| {
                    h.code == cells[0] && (cells[1] == "*" || h.key == cells[1]) && h.detail.contains(cells[2])
                });
                if !found {
                    let same: Vec<String> = hazards
                        .iter()
                        .filter(|h| h.code == cells[0])
                        .map(|h| format!("{} {}", h.key, h.detail))
                        .collect();
                    failures.push(format!("{line}: not among {same:?}"));
                }
            }
            "fails" => {
                let expected = rest.trim();
                match (&plan.predicted_failure, expected.is_empty()) {
                    (None, true) => {}
                    (Some(reason), false) if reason.contains(expected) => {}
                    (other, _) => failures.push(format!("{line}: predicted failure {other:?}")),
                }
            }
            other => panic!("unknown verb {other}"),
        }
    }
    assert!(checked >= 50, "the case file lost checks ({checked})");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Each hazard row that names a version or a pin names its own row's, whatever the rows beside
/// it: rows sharing a text hold one detail between them, and a row whose neighbour shares its
/// text must still be given that text and not another. The generator's versions repeat across
/// models, so rows in key order often share a detail with the row before them.
#[test]
fn each_hazard_row_names_its_own_rows_values() {
    use rehearse::plan::ServiceAction;
    use rehearse::rehearsal::facts::show;
    use std::collections::HashMap;
    let plan = rehearse_generated("--models 300 --seed 5", "legacy", "kept");
    let mut versions: HashMap<String, (bool, String)> =
        plan.kept.iter().map(|k| (k.id.to_string(), (false, show(&k.version)))).collect();
    versions.extend(plan.deleted.iter().map(|d| (d.id.to_string(), (true, show(&d.version)))));
    let pins: HashMap<String, (String, String)> = plan
        .services
        .first(usize::MAX, |s| {
            let versions = (show(&s.model_version_before), show(&s.model_version_after));
            (s.action != ServiceAction::Unchanged).then(|| (s.key.to_string(), versions))
        })
        .unwrap()
        .into_iter()
        .collect();
    let (mut checked, mut shared_with_the_row_before) = (HashMap::new(), 0);
    let mut before: Option<(&str, &str)> = None;
    let hazards = plan.all_hazard_texts().unwrap();
    for h in &hazards {
        let expected = match h.code.as_str() {
            "H6" => {
                let (pin, after) = &pins[h.key.as_str()];
                format!("pinned to {pin}, which is deleted; serves {after} after")
            }
            code @ ("H10" | "H11" | "H12") => {
                let (deleted, version) = &versions[h.key.as_str()];
                match code {
                    "H10" => format!("immutable version {version} deleted"),
                    "H11" => format!("published version {version} deleted"),
                    _ => {
                        format!("release notes of {} version {version} lost", if *deleted { "deleted" } else { "kept" })
                    }
                }
            }
            _ => continue,
        };
        assert_eq!(h.detail.as_str(), expected, "{} {}", h.code, h.key);
        let first = hazards.iter().find(|first| first.code == h.code).map(|first| first.detail.as_str());
        if before == Some((h.code.as_str(), h.detail.as_str())) && first != Some(h.detail.as_str()) {
            shared_with_the_row_before += 1;
        }
        before = Some((h.code.as_str(), h.detail.as_str()));
        *checked.entry(h.code.as_str()).or_insert(0) += 1;
    }
    assert!(
        ["H6", "H10", "H11", "H12"].iter().all(|code| checked.get(code).copied().unwrap_or(0) >= 20),
        "{checked:?}"
    );
    assert!(shared_with_the_row_before >= 10, "only {shared_with_the_row_before} rows share the detail before them");
}
