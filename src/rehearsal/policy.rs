//! Keeper policies (ROLLBACK.md §3): which one row of each `model_id` survives.
//! `documented` is the guide's words; `legacy` is what the shipped script's
//! `DISTINCT ON (model_id) … ORDER BY model_id, CASE WHEN version_status = 'active' THEN 1 ELSE 2 END, version DESC`
//! really does, with `version DESC` in the database's collation. The comparators and the
//! reasons live here; keepers.rs runs both policies as one DuckDB query over the ranks
//! `rank_versions` gives each distinct version text.

use super::version::{self, Version};
use crate::collation::{CollationName, Collator};
// Re-exported where callers (and the tests) have always named it.
pub use crate::terms::Policy;
use std::cmp::Ordering;

/// The columns of a models row that the policies read.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct VersionRow {
    /// Moved to the plan's lists; the hazard rows that name it hold it too.
    pub id: crate::row_id::RowId,
    /// Shared by the rows of its group.
    pub model_id: Option<crate::plan::Shared>,
    /// One shared text per distinct version.
    pub version: Option<crate::plan::Shared>,
    /// One shared text per distinct status.
    pub status: Option<crate::plan::Shared>,
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
    /// One shared text per distinct reason.
    pub reason: crate::plan::Shared,
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
pub fn legacy_candidates(rows: &[&VersionRow]) -> Vec<usize> {
    let active: Vec<usize> = (0..rows.len()).filter(|&i| is_active_exactly(rows[i].status.as_deref())).collect();
    if active.is_empty() {
        (0..rows.len()).collect()
    } else {
        active
    }
}

/// Where one distinct version text stands in each order the policies sort by; the keeper query
/// (keepers.rs) orders rows by these numbers instead of comparing texts.
#[derive(Debug, Clone, PartialEq)]
pub struct VersionRank {
    /// Dense rank in `semantic_cmp` order, from 1 (NULL, below every text, is 0): equal
    /// precedence (`v1.2`, `1.2.0`) is an equal rank. Documented's `latest` wants the greatest;
    /// its `first` wants parsed before unparsed, then the least.
    pub semantic: u32,
    pub parsed: bool,
    /// Position in each collator's order, from 1 (distinct texts never compare equal there).
    pub collated: Vec<u32>,
}

/// The ranks of distinct version texts, each parsed once and sorted once per order.
pub fn rank_versions(texts: &[String], collators: &[&Collator]) -> Vec<VersionRank> {
    let ranks: Vec<Rank> = texts.iter().map(|t| rank(Some(t))).collect();
    let mut order: Vec<usize> = (0..texts.len()).collect();
    order.sort_by(|&a, &b| better(&ranks[a], &ranks[b], true));
    let mut semantic = vec![0; texts.len()];
    let mut current = 0;
    for (position, &i) in order.iter().enumerate() {
        if position == 0 || better(&ranks[i], &ranks[order[position - 1]], true) != Ordering::Equal {
            current += 1;
        }
        semantic[i] = current;
    }
    let mut collated = vec![Vec::with_capacity(collators.len()); texts.len()];
    for collator in collators {
        order.sort_by(|&a, &b| collator.compare(&texts[a], &texts[b]));
        for (position, &i) in order.iter().enumerate() {
            collated[i].push(position as u32 + 1);
        }
    }
    semantic
        .into_iter()
        .zip(collated)
        .zip(&ranks)
        .map(|((semantic, collated), rank)| VersionRank { semantic, parsed: matches!(rank, Rank::Parsed(_)), collated })
        .collect()
}

/// Why documented keeps its row: `latest` when some row is active (loosely), `any_parsed` when
/// a candidate's version parses, `tied` when created_at and id had to decide.
pub fn documented_reason(latest: bool, any_parsed: bool, tied: bool) -> String {
    let what = match (latest, any_parsed) {
        (true, true) => "latest active version",
        (true, false) => "active, no version parses: greatest version text",
        (false, true) => "no active version: first version",
        (false, false) => "no active version and none parses: least version text",
    };
    if tied {
        format!("{what}; equal precedence settled by created_at, then id")
    } else {
        what.into()
    }
}

/// Why legacy keeps its row: `keeper_status` is the kept row's, `tied` when other rows sort
/// equal to it.
pub fn legacy_reason(keeper_status: Option<&str>, collation: &CollationName, tied: bool) -> String {
    let mut reason = if is_active_exactly(keeper_status) {
        format!("first of the exactly-'active' rows by version text DESC (collation {collation}, NULL first)")
    } else {
        format!("no exactly-'active' row: first by version text DESC (collation {collation}, NULL first)")
    };
    if tied {
        reason.push_str("; tie: PostgreSQL picks any of the tied rows, rehearse pins the smallest id");
    }
    reason
}

#[cfg(test)]
mod tests {
    use super::*;

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
