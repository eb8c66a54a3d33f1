//! H3: a model none of whose rows is active, even ignoring case and spaces.

use super::Rule;
use crate::terms::HazardCode;

pub const RULE: Rule = Rule {
    code: HazardCode::H3,
    unit: "model_ids",
    title: "no active version: the keeper is a version nobody marked active",
    help: "mark the version to keep as active, or confirm the keeper in versions_kept.csv",
    #[cfg(feature = "engine")]
    find: super::Find::Facts(engine::find),
};

#[cfg(feature = "engine")]
mod engine {
    use crate::error::Result;
    use crate::plan::{HazardRow, TableRef};
    use crate::rehearsal::facts::{show, Facts, GroupChoice, ModelRow};
    use crate::rehearsal::policy::is_active_loosely;
    use crate::rehearsal::rules::hazard;
    use crate::rehearsal::rules::Rows;
    use crate::terms::{HazardCode, Policy};

    pub fn find(facts: &Facts) -> Result<Rows> {
        Ok(rows(facts.rows, facts.choices, facts.policy, facts.models_ref()).into())
    }

    pub fn rows(models: &[ModelRow], choices: &[GroupChoice], policy: Policy, table: TableRef) -> Vec<HazardRow> {
        choices
            .iter()
            .filter(|c| !c.members.iter().any(|i| is_active_loosely(models[i].row.status.as_deref())))
            .map(|c| {
                let keeper = &models[c.keeper(policy)].row;
                let model_key = models[c.members.first()].row.model_id.clone().unwrap_or_default();
                let detail = format!("no active version; keeps {} ({})", show(&keeper.version), show(&keeper.status));
                hazard(HazardCode::H3, table, &model_key, detail)
            })
            .collect()
    }
}

#[cfg(all(test, feature = "engine"))]
mod tests {
    use super::engine::rows;
    use crate::rehearsal::rules::sample::{groups, model, table};
    use crate::terms::Policy;

    #[test]
    fn models_without_an_active_row() {
        let mut models = [
            model(1, "a", Some("1.0"), "draft"),
            model(2, "a", Some("2.0"), "retired"),
            model(3, "b", Some("1.0"), " ACTIVE"),
        ];
        let choices = groups(&mut models);
        let found = rows(&models, &choices, Policy::Legacy, table());
        assert_eq!(found.len(), 1);
        assert_eq!((&*found[0].key, &*found[0].detail), ("a", "no active version; keeps \"2.0\" (\"retired\")"));
    }
}
