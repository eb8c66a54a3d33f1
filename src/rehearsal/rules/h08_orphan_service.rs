//! H8: a service whose model_id has no models row before the rollback.

use super::Rule;
use crate::terms::HazardCode;

pub const RULE: Rule = Rule {
    code: HazardCode::H8,
    unit: "services rows",
    title: "service whose model_id has no models row (orphan before the rollback): the guide's V3 fails on it",
    help: "decide explicitly: --delete-orphans deletes them and their cascade, otherwise they stay and are listed",
    #[cfg(feature = "engine")]
    find: super::Find::Services(engine::find),
};

#[cfg(feature = "engine")]
mod engine {
    use crate::error::Result;
    use crate::plan::ServiceAction;
    use crate::plan::{HazardRow, TableRef};
    use crate::rehearsal::facts::{show, Facts, ServiceFact};
    use crate::rehearsal::rules::hazard;
    use crate::rehearsal::rules::Rows;
    use crate::terms::HazardCode;

    pub fn find(facts: &Facts, services: &[ServiceFact]) -> Result<Rows> {
        Ok(rows(services, facts.any_null_model_id(), facts.services_ref()).into())
    }

    /// `any_null_model_id`: some models row has a NULL model_id; the guide's `NOT IN (SELECT
    /// model_id …)` is then never true.
    pub fn rows(services: &[ServiceFact], any_null_model_id: bool, table: TableRef) -> Vec<HazardRow> {
        services
            .iter()
            .filter(|s| !s.known_model)
            .map(|s| {
                let detail = format!(
                    "model_id {} has no models row{}{}",
                    show(&s.impact.model_id),
                    if s.impact.action == ServiceAction::Deleted { "; deleted with --delete-orphans" } else { "" },
                    if any_null_model_id {
                        "; the guide's NOT IN fix deletes nothing: a models.model_id is NULL"
                    } else {
                        ""
                    }
                );
                hazard(HazardCode::H8, table, s.key().clone(), detail)
            })
            .collect()
    }
}

#[cfg(all(test, feature = "engine"))]
mod tests {
    use super::engine::rows;
    use crate::plan::ServiceAction;
    use crate::rehearsal::rules::sample::{service, table};

    #[test]
    fn services_of_unknown_models() {
        let mut kept = service("s2", Some("1"), None, ServiceAction::Orphan);
        kept.known_model = false;
        let mut deleted = service("s3", Some("1"), None, ServiceAction::Deleted);
        deleted.known_model = false;
        let services = [service("s1", Some("1.0"), Some("1.0"), ServiceAction::Unchanged), kept, deleted];
        let found: Vec<String> = rows(&services, false, table()).iter().map(|h| h.detail.to_string()).collect();
        assert_eq!(
            found,
            ["model_id \"m\" has no models row", "model_id \"m\" has no models row; deleted with --delete-orphans"]
        );
        assert!(rows(&services, true, table())[0].detail.ends_with("deletes nothing: a models.model_id is NULL"));
    }
}
