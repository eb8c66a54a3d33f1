//! Every hazard of ROLLBACK.md §4 seen on the rows that carry it: the cases of
//! `tests/cases/hazards.cases`, each a generated database dumped with the real pg_dump.

use crate::support::{generated_database, pg_dump, repo};
use rehearse::import::{import, ImportOptions};
use rehearse::plan::{Mode, Plan};
use rehearse::rehearsal::policy::Policy;
use rehearse::rehearsal::{rehearse, Options};
use rehearse::spec::Spec;
use rehearse::workspace::Workspace;

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
    let options = Options { policy, mode: Mode::Full, delete_orphans: orphans == "deleted", ..Options::default() };
    rehearse(&workspace, &spec, &options).unwrap()
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
                let found = plan.hazards.iter().any(|h| {
                    h.code == cells[0] && (cells[1] == "*" || *h.key == *cells[1]) && h.detail.contains(cells[2])
                });
                if !found {
                    let same: Vec<String> = plan
                        .hazards
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
