//! H6: a service repointed from its (existing) pinned version to the kept one.

use super::Rule;
use crate::terms::HazardCode;

pub const RULE: Rule = Rule {
    code: HazardCode::H6,
    unit: "services rows",
    title: "service pinned to a version that is deleted: it silently serves the kept version",
    help: "tell the service owners (services_affected.csv) before the rollback",
    #[cfg(feature = "engine")]
    find: super::Find::Services(engine::find),
};

#[cfg(feature = "engine")]
mod engine {
    use crate::error::Result;
    use crate::plan::ServiceAction;
    use crate::plan::{HazardRow, TableRef};
    use crate::rehearsal::facts::{show, Facts, ServiceFact, TextsBy};
    use crate::rehearsal::rules::hazard;
    use crate::rehearsal::rules::Rows;
    use crate::terms::HazardCode;

    pub fn find(facts: &Facts, services: &[ServiceFact]) -> Result<Rows> {
        Ok(rows(services, facts.services_ref()).into())
    }

    pub fn rows(services: &[ServiceFact], table: TableRef) -> Vec<HazardRow> {
        // One shared text per pair of versions: a large export repoints many services alike.
        let mut texts = TextsBy::default();
        services
            .iter()
            .filter(|s| s.known_model && s.pin_existed && s.impact.action == ServiceAction::Repointed)
            .map(|s| {
                let (pin, after) = (&s.impact.model_version_before, &s.impact.model_version_after);
                let detail = texts.get((pin, after), || {
                    format!("pinned to {}, which is deleted; serves {} after", show(pin), show(after))
                });
                hazard(HazardCode::H6, table, s.key().clone(), detail)
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
    fn repointed_services_only() {
        let mut dangling = service("s3", Some("0.1"), Some("2.0"), ServiceAction::Repointed);
        dangling.pin_existed = false;
        let services = [
            service("s1", Some("1.0"), Some("2.0"), ServiceAction::Repointed),
            service("s2", Some("2.0"), Some("2.0"), ServiceAction::Unchanged),
            dangling,
        ];
        let found = rows(&services, table());
        assert_eq!(found.len(), 1);
        assert_eq!(
            (&*found[0].key, &*found[0].detail),
            ("s1", "pinned to \"1.0\", which is deleted; serves \"2.0\" after")
        );
    }
}
