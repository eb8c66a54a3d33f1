//! H7: a service of a known model pinned to a version that model never had.

use super::Rule;
use crate::terms::HazardCode;

pub const RULE: Rule = Rule {
    code: HazardCode::H7,
    unit: "services rows",
    title: "service pinned to a version that never existed (dangling pin)",
    help: "fix the pin or accept that the service serves the kept version",
    #[cfg(feature = "engine")]
    find: super::Find::Services(engine::find),
};

#[cfg(feature = "engine")]
mod engine {
    use crate::error::Result;
    use crate::plan::{HazardRow, TableRef};
    use crate::rehearsal::facts::{show, Facts, ServiceFact};
    use crate::rehearsal::rules::hazard;
    use crate::rehearsal::rules::Rows;
    use crate::terms::HazardCode;

    pub fn find(facts: &Facts, services: &[ServiceFact]) -> Result<Rows> {
        Ok(rows(services, facts.services_ref()).into())
    }

    pub fn rows(services: &[ServiceFact], table: TableRef) -> Vec<HazardRow> {
        services
            .iter()
            .filter(|s| s.known_model && !s.pin_existed)
            .map(|s| {
                let (pin, after) = (&s.impact.model_version_before, &s.impact.model_version_after);
                let detail = format!("pinned to {} which never existed; serves {} after", show(pin), show(after));
                hazard(HazardCode::H7, table, s.key().clone(), detail)
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
    fn pins_that_never_existed() {
        let mut dangling = service("s2", None, Some("2.0"), ServiceAction::Repointed);
        dangling.pin_existed = false;
        let mut orphan = service("s3", Some("9"), None, ServiceAction::Orphan);
        (orphan.known_model, orphan.pin_existed) = (false, false);
        let services = [service("s1", Some("1.0"), Some("2.0"), ServiceAction::Repointed), dangling, orphan];
        let found = rows(&services, table());
        assert_eq!(found.len(), 1);
        assert_eq!(
            (&*found[0].key, &*found[0].detail),
            ("s2", "pinned to NULL which never existed; serves \"2.0\" after")
        );
    }
}
