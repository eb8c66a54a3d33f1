//! H1: a model whose legacy keeper is below the semantically highest of legacy's candidates.

use super::Rule;
use crate::terms::HazardCode;

pub const RULE: Rule = Rule {
    code: HazardCode::H1,
    unit: "model_ids",
    title: "legacy keeps a lower version than semantic order would (text order: 1.9.0 over 1.10.0)",
    help: "rehearse with --policy documented, or fix the keeper by hand before running the shipped script",
    #[cfg(feature = "engine")]
    find: super::Find::Facts(engine::find),
};

#[cfg(feature = "engine")]
mod engine {
    use crate::error::Result;
    use crate::plan::{HazardRow, TableRef};
    use crate::rehearsal::facts::{show, Facts, GroupChoice, ModelRow};
    use crate::rehearsal::policy::{self, VersionRow};
    use crate::rehearsal::rules::hazard;
    use crate::rehearsal::rules::Rows;
    use crate::terms::HazardCode;
    use std::cmp::Ordering;

    pub fn find(facts: &Facts) -> Result<Rows> {
        Ok(rows(facts.rows, facts.choices, facts.models_ref()).into())
    }

    pub fn rows(models: &[ModelRow], choices: &[GroupChoice], table: TableRef) -> Vec<HazardRow> {
        let mut found = Vec::new();
        for choice in choices {
            let group: Vec<&VersionRow> = choice.members.iter().map(|i| &models[i].row).collect();
            let keeper = group[choice.legacy.keeper];
            let best = policy::legacy_candidates(&group)
                .into_iter()
                .map(|i| group[i])
                .max_by(|a, b| policy::semantic_cmp(a.version.as_deref(), b.version.as_deref()))
                .expect("a group has rows");
            if policy::semantic_cmp(keeper.version.as_deref(), best.version.as_deref()) == Ordering::Less {
                let model_key = group[0].model_id.clone().unwrap_or_default();
                let detail =
                    format!("legacy keeps {}, semantic order keeps {}", show(&keeper.version), show(&best.version));
                found.push(hazard(HazardCode::H1, table, &model_key, detail));
            }
        }
        found
    }
}

#[cfg(all(test, feature = "engine"))]
mod tests {
    use super::engine::rows;
    use crate::rehearsal::rules::sample::{groups, model, table};

    #[test]
    fn text_order_below_semantic_order() {
        let mut models = [
            model(1, "a", Some("1.9.0"), "active"),
            model(2, "a", Some("1.10.0"), "active"),
            model(3, "b", Some("2.0.0"), "active"),
            model(4, "b", Some("1.0.0"), "active"),
        ];
        let choices = groups(&mut models);
        let found = rows(&models, &choices, table());
        assert_eq!(found.len(), 1);
        assert_eq!(
            (&*found[0].key, &*found[0].detail),
            ("a", "legacy keeps \"1.9.0\", semantic order keeps \"1.10.0\"")
        );
    }
}
