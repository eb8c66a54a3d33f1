//! What a reader must decide before running anything: the hazards present in a run, most
//! consequential first. report.md, report.html and report.xlsx open with this list.

use crate::plan::Plan;
use crate::rehearsal::rules::{Rule, RULES};
use crate::terms::HazardCode::{self, *};

/// Hazard codes by consequence: what fails the real run or destroys rows beyond the rollback's
/// intent first, then what is not rehearsed or lost without a word, then what cannot be undone,
/// then what changes silently, then data quality. A code missing here (a newer hazard) follows
/// these, in its table order.
const BY_CONSEQUENCE: [HazardCode; 18] =
    [H17, H9, H8, H16, H13, H18, H14, H15, H10, H11, H6, H12, H1, H3, H5, H7, H2, H4];

fn rank(code: HazardCode) -> usize {
    BY_CONSEQUENCE.iter().position(|c| *c == code).unwrap_or(BY_CONSEQUENCE.len())
}

/// Every hazard code, most consequential first (ties keep the order of `RULES`).
pub fn by_consequence() -> Vec<&'static Rule> {
    let mut hazards: Vec<&Rule> = RULES.iter().collect();
    hazards.sort_by_key(|h| rank(h.code));
    hazards
}

/// The hazards a run has rows for, most consequential first, with their counts.
pub fn to_decide(plan: &Plan) -> Vec<(&'static Rule, u64)> {
    let counts = plan.hazard_counts();
    by_consequence()
        .into_iter()
        .filter_map(|h| counts.get(h.code.as_str()).copied().filter(|n| *n > 0).map(|n| (h, n)))
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_code_is_ranked_once() {
        let ranked: Vec<&str> = super::by_consequence().iter().map(|h| h.code.as_str()).collect();
        assert_eq!(ranked.len(), super::RULES.len());
        assert_eq!(&ranked[..3], ["H17", "H9", "H8"]);
        let mut unique = ranked.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), ranked.len());
    }
}
