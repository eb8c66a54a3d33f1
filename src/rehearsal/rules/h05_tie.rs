//! H5: a model whose keeper the policy's order cannot tell from other rows.

use super::Rule;
use crate::terms::HazardCode;

pub const RULE: Rule = Rule {
    code: HazardCode::H5,
    unit: "model_ids",
    title:
        "tie under the policy's order (PostgreSQL picks arbitrarily for legacy; created_at/id decide for documented)",
    help: "check the keeper; the emitted script pins it by id so the choice is the rehearsed one",
    #[cfg(feature = "engine")]
    find: super::Find::Facts(engine::find),
};

#[cfg(feature = "engine")]
mod engine {
    use crate::error::Result;
    use crate::plan::{HazardRow, TableRef};
    use crate::rehearsal::facts::{Facts, GroupChoice, ModelRow};
    use crate::rehearsal::rules::hazard;
    use crate::rehearsal::rules::Rows;
    use crate::terms::{HazardCode, Policy};

    pub fn find(facts: &Facts) -> Result<Rows> {
        Ok(rows(facts.rows, facts.choices, facts.policy, facts.models_ref()).into())
    }

    pub fn rows(models: &[ModelRow], choices: &[GroupChoice], policy: Policy, table: TableRef) -> Vec<HazardRow> {
        let mut found = Vec::new();
        for choice in choices {
            let chosen = choice.chosen(policy);
            if chosen.tied_with.is_empty() {
                continue;
            }
            let id = |i: usize| &models[choice.members.get(i)].row.id;
            let tied: Vec<String> = chosen.tied_with.iter().map(|&i| id(i).to_string()).collect();
            let model_key = models[choice.members.first()].row.model_id.clone().unwrap_or_default();
            let detail = format!("{} keeps {}; tied with {}", policy.name(), id(chosen.keeper), tied.join(", "));
            found.push(hazard(HazardCode::H5, table, &model_key, detail));
        }
        found
    }
}

#[cfg(all(test, feature = "engine"))]
mod tests {
    use super::engine::rows;
    use crate::rehearsal::rules::sample::{groups, model, table};
    use crate::terms::Policy;

    #[test]
    fn legacy_ties_on_equal_versions() {
        let mut models = [
            model(1, "a", Some("1.0"), "active"),
            model(2, "a", Some("1.0"), "active"),
            model(3, "b", Some("1.0"), "active"),
        ];
        let choices = groups(&mut models);
        let found = rows(&models, &choices, Policy::Legacy, table());
        assert_eq!(found.len(), 1);
        assert_eq!(&*found[0].key, "a");
        assert!(found[0].detail.starts_with("legacy keeps v"), "{}", found[0].detail);
        assert!(found[0].detail.contains("; tied with v"), "{}", found[0].detail);
    }
}
