//! Keeper policies (ROLLBACK.md §3): which one row of each `model_id` survives.
//! `documented` is the guide's words; `legacy` is what the shipped script's
//! `DISTINCT ON (model_id) … ORDER BY model_id, CASE WHEN version_status = 'active' THEN 1 ELSE 2 END, version DESC`
//! really does, with `version DESC` in the database's collation.

use super::version::{self, Version};
use crate::collation::Collator;
// Re-exported where callers (and the tests) have always named it.
pub use crate::terms::Policy;
use std::cmp::Ordering;

/// The columns of a models row that the policies read.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct VersionRow {
    pub id: String,
    pub model_id: Option<String>,
    pub version: Option<String>,
    pub status: Option<String>,
    /// `created_at` in microseconds since the epoch.
    pub created_at: Option<i64>,
}

/// `active` ignoring case and surrounding spaces (the documented reading).
pub fn is_active_loosely(status: Option<&str>) -> bool {
    status.is_some_and(|s| s.trim_matches(' ').eq_ignore_ascii_case("active"))
}

/// `active` exactly, as the shipped script compares.
pub fn is_active_exactly(status: Option<&str>) -> bool {
    status == Some("active")
}

/// The keeper of one `model_id` and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Choice {
    /// Index of the kept row in the group.
    pub keeper: usize,
    /// Other rows the policy's order could not tell from the keeper (H5).
    pub tied_with: Vec<usize>,
    pub reason: String,
}

/// Chooses the keeper of one group (all rows share a `model_id`; the group is not empty);
/// `collator` orders version texts for legacy.
pub fn choose(policy: Policy, rows: &[VersionRow], collator: &Collator) -> Choice {
    match policy {
        Policy::Documented => documented(rows),
        Policy::Legacy => legacy(rows, collator),
    }
}

/// Precedence of a version: parsed versions always beat unparsed ones.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Rank<'a> {
    Unparsed(Option<&'a [u8]>),
    Parsed(Version),
}

fn rank(version: Option<&str>) -> Rank<'_> {
    match version.and_then(version::parse) {
        Some(parsed) => Rank::Parsed(parsed),
        None => Rank::Unparsed(version.map(str::as_bytes)),
    }
}

/// How `a` compares with `b` as a keeper (`Greater`: `a` is better). Parsed beats unparsed and
/// text beats NULL in both directions; among equals of a kind, `latest` wants the greatest and
/// `first` the least.
fn better(a: &Rank, b: &Rank, latest: bool) -> Ordering {
    let directed = |o: Ordering| if latest { o } else { o.reverse() };
    match (a, b) {
        (Rank::Parsed(x), Rank::Parsed(y)) => directed(x.cmp(y)),
        (Rank::Parsed(_), Rank::Unparsed(_)) => Ordering::Greater,
        (Rank::Unparsed(_), Rank::Parsed(_)) => Ordering::Less,
        (Rank::Unparsed(Some(x)), Rank::Unparsed(Some(y))) => directed(x.cmp(y)),
        (Rank::Unparsed(Some(_)), Rank::Unparsed(None)) => Ordering::Greater,
        (Rank::Unparsed(None), Rank::Unparsed(Some(_))) => Ordering::Less,
        (Rank::Unparsed(None), Rank::Unparsed(None)) => Ordering::Equal,
    }
}

/// Semantic order of two versions as the documented `latest` reads it (`Greater`: `a` ranks
/// higher); used to tell when legacy keeps a lower version (H1).
pub fn semantic_cmp(a: Option<&str>, b: Option<&str>) -> Ordering {
    better(&rank(a), &rank(b), true)
}

/// Whether a version parses by the grammar of ROLLBACK.md §3.
pub fn parses(version: Option<&str>) -> bool {
    version.and_then(version::parse).is_some()
}

/// The rows legacy chooses among: the exactly-'active' ones, or all when none is.
pub fn legacy_candidates(rows: &[VersionRow]) -> Vec<usize> {
    let active: Vec<usize> = (0..rows.len()).filter(|&i| is_active_exactly(rows[i].status.as_deref())).collect();
    if active.is_empty() {
        (0..rows.len()).collect()
    } else {
        active
    }
}

fn documented(rows: &[VersionRow]) -> Choice {
    let active: Vec<usize> = (0..rows.len()).filter(|&i| is_active_loosely(rows[i].status.as_deref())).collect();
    let latest = !active.is_empty();
    let candidates: Vec<usize> = if latest { active } else { (0..rows.len()).collect() };
    let ranks: Vec<Rank> = rows.iter().map(|r| rank(r.version.as_deref())).collect();
    let any_parsed = candidates.iter().any(|&i| matches!(ranks[i], Rank::Parsed(_)));
    let best = candidates.iter().map(|&i| &ranks[i]).max_by(|a, b| better(a, b, latest)).expect("a group has rows");
    let mut top: Vec<usize> =
        candidates.iter().copied().filter(|&i| better(&ranks[i], best, latest) == Ordering::Equal).collect();
    // Equal precedence: created_at decides (later for latest, earlier for first, NULL never
    // wins), then the smaller id.
    top.sort_by(|&a, &b| {
        let by_time = match (rows[a].created_at, rows[b].created_at) {
            (Some(x), Some(y)) if latest => y.cmp(&x),
            (Some(x), Some(y)) => x.cmp(&y),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => Ordering::Equal,
        };
        by_time.then_with(|| rows[a].id.cmp(&rows[b].id))
    });
    let keeper = top[0];
    let what = match (latest, any_parsed) {
        (true, true) => "latest active version",
        (true, false) => "active, no version parses: greatest version text",
        (false, true) => "no active version: first version",
        (false, false) => "no active version and none parses: least version text",
    };
    let reason =
        if top.len() > 1 { format!("{what}; equal precedence settled by created_at, then id") } else { what.into() };
    Choice { keeper, tied_with: top[1..].to_vec(), reason }
}

/// The group's rows in legacy order under `collator` (ties: the smallest id first).
fn legacy_sorted(rows: &[VersionRow], collator: &Collator) -> Vec<usize> {
    let mut indexes: Vec<usize> = (0..rows.len()).collect();
    indexes.sort_by(|&a, &b| legacy_order(&rows[a], &rows[b], collator).then_with(|| rows[a].id.cmp(&rows[b].id)));
    indexes
}

/// The row legacy keeps under `collator`.
pub fn legacy_keeper(rows: &[VersionRow], collator: &Collator) -> usize {
    legacy_sorted(rows, collator)[0]
}

fn legacy(rows: &[VersionRow], collator: &Collator) -> Choice {
    let indexes = legacy_sorted(rows, collator);
    let keeper = indexes[0];
    let tied_with: Vec<usize> = indexes[1..]
        .iter()
        .copied()
        .filter(|&i| legacy_order(&rows[i], &rows[keeper], collator) == Ordering::Equal)
        .collect();
    let collation = collator.name();
    let mut reason = if is_active_exactly(rows[keeper].status.as_deref()) {
        format!("first of the exactly-'active' rows by version text DESC (collation {collation}, NULL first)")
    } else {
        format!("no exactly-'active' row: first by version text DESC (collation {collation}, NULL first)")
    };
    if !tied_with.is_empty() {
        reason.push_str("; tie: PostgreSQL picks any of the tied rows, rehearse pins the smallest id");
    }
    Choice { keeper, tied_with, reason }
}

/// `CASE WHEN version_status = 'active' THEN 1 ELSE 2 END, version DESC`: DESC puts NULLs first,
/// and text compares in the collation's order.
fn legacy_order(a: &VersionRow, b: &VersionRow, collator: &Collator) -> Ordering {
    let rank = |r: &VersionRow| if is_active_exactly(r.status.as_deref()) { 1 } else { 2 };
    rank(a).cmp(&rank(b)).then_with(|| match (&a.version, &b.version) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Less,
        (Some(_), None) => Ordering::Greater,
        (Some(x), Some(y)) => collator.compare(y, x),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collation::CollationName;

    fn field(text: &str) -> Option<String> {
        match text.trim() {
            "NULL" => None,
            quoted if quoted.starts_with('\'') => Some(quoted.trim_matches('\'').to_string()),
            plain => Some(plain.to_string()),
        }
    }

    fn micros(text: Option<String>) -> Option<i64> {
        // Case timestamps are `YYYY-MM-DD HH:MM:SS`; their digits order like time itself.
        text.map(|t| t.chars().filter(char::is_ascii_digit).collect::<String>().parse().unwrap())
    }

    fn ids(rows: &[VersionRow], indexes: &[usize]) -> String {
        let mut ids: Vec<&str> = indexes.iter().map(|&i| rows[i].id.as_str()).collect();
        ids.sort();
        if ids.is_empty() {
            "-".into()
        } else {
            ids.join(",")
        }
    }

    #[test]
    fn keeper_cases_from_the_data_file() {
        let c = Collator::open(&CollationName::c()).unwrap();
        let text = include_str!("../../tests/cases/keepers.cases");
        let mut checked = 0;
        for case in text.split("\ncase ").skip(1) {
            let name = case.lines().next().unwrap();
            let mut rows = Vec::new();
            for line in case.lines().skip(1) {
                let cells: Vec<&str> = line.split('|').map(str::trim).collect();
                match cells[0] {
                    "row" => rows.push(VersionRow {
                        id: cells[1].to_string(),
                        model_id: Some("m".into()),
                        version: field(cells[2]),
                        status: field(cells[3]),
                        created_at: micros(field(cells[4])),
                    }),
                    "keep" | "ties" => {
                        for (policy, expected) in [(Policy::Documented, cells[1]), (Policy::Legacy, cells[2])] {
                            let choice = choose(policy, &rows, &c);
                            let actual = if cells[0] == "keep" {
                                rows[choice.keeper].id.clone()
                            } else {
                                ids(&rows, &choice.tied_with)
                            };
                            assert_eq!(actual, expected, "{name}: {} {}", policy.name(), cells[0]);
                        }
                        checked += 1;
                    }
                    _ => {}
                }
            }
        }
        assert!(checked >= 30, "only {checked} expectations checked");
    }

    #[test]
    fn legacy_keeps_the_greatest_version_in_the_collation() {
        let row = |id: &str, version: &str| VersionRow {
            id: id.into(),
            model_id: Some("m".into()),
            version: Some(version.into()),
            status: Some("active".into()),
            created_at: None,
        };
        let keeper = |collation: &str, rows: &[VersionRow]| {
            let collator = Collator::open(&CollationName::parse(collation).unwrap()).unwrap();
            rows[choose(Policy::Legacy, rows, &collator).keeper].id.clone()
        };
        let case = [row("a", "v1.0"), row("b", "V2.0")];
        let pre_release = [row("a", "1.0.0-RC1"), row("b", "1.0.0-beta")];
        let punctuation = [row("a", "1.0_rc"), row("b", "1.0.1")];
        for (collation, expected) in
            [("C", ["a", "b", "a"]), ("en_US.UTF-8", ["b", "a", "a"]), ("en-US-x-icu", ["b", "a", "b"])]
        {
            let actual = [keeper(collation, &case), keeper(collation, &pre_release), keeper(collation, &punctuation)];
            assert_eq!(actual, expected, "{collation}");
        }
    }

    #[test]
    fn status_matching() {
        for (status, loose, exact) in [
            (Some("active"), true, true),
            (Some("ACTIVE"), true, false),
            (Some(" Active "), true, false),
            (Some("inactive"), false, false),
            (Some("activ"), false, false),
            (None, false, false),
        ] {
            assert_eq!(is_active_loosely(status), loose, "{status:?}");
            assert_eq!(is_active_exactly(status), exact, "{status:?}");
        }
    }
}
