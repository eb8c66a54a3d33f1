//! H13: the unique constraint cannot be restored: its name is taken, or model_ids keep several rows.

use super::Rule;
use crate::terms::HazardCode;

pub const RULE: Rule = Rule {
    code: HazardCode::H13,
    unit: "constraints",
    title: "the unique constraint on model_id cannot be restored",
    help: "remove duplicates or the conflicting object first; the shipped script only warns and commits without it",
    #[cfg(feature = "engine")]
    find: super::Find::Facts(engine::find),
};

#[cfg(feature = "engine")]
mod engine {
    use crate::catalog::Catalog;
    use crate::error::Result;
    use crate::plan::{HazardRow, TableRef};
    use crate::rehearsal::facts::Facts;
    use crate::rehearsal::rules::hazard;
    use crate::rehearsal::rules::Rows;
    use crate::spec::UniqueSpec;
    use crate::terms::HazardCode;

    pub fn find(facts: &Facts) -> Result<Rows> {
        Ok(rows(facts.catalog, &facts.spec.restore_unique, facts.duplicates, facts.models_ref()).into())
    }

    pub fn rows(catalog: &Catalog, unique: &UniqueSpec, duplicates: u64, table: TableRef) -> Vec<HazardRow> {
        let mut found = Vec::new();
        let conflict = catalog
            .constraints
            .iter()
            .map(|c| (c.name.as_str(), "constraint"))
            .chain(catalog.indexes.iter().map(|i| (i.name.as_str(), "index")))
            .find(|(name, _)| *name == unique.name);
        if let Some((_, kind)) = conflict {
            let detail = format!("a {kind} named {} already exists: ADD CONSTRAINT fails", unique.name);
            found.push(hazard(HazardCode::H13, table, &unique.name, detail));
        }
        if duplicates > 0 {
            let detail = format!(
                "{duplicates} model_ids still have several rows: UNIQUE({}) cannot be restored",
                unique.columns.join(", ")
            );
            found.push(hazard(HazardCode::H13, table, &unique.name, detail));
        }
        found
    }
}

#[cfg(all(test, feature = "engine"))]
mod tests {
    use super::engine::rows;
    use crate::catalog::Catalog;
    use crate::rehearsal::rules::sample::table;
    use crate::spec::UniqueSpec;

    #[test]
    fn duplicates_left_after_the_rollback() {
        let unique = UniqueSpec { name: "models_model_id_key".into(), columns: vec!["model_id".into()] };
        assert!(rows(&Catalog::default(), &unique, 0, table()).is_empty());
        let found = rows(&Catalog::default(), &unique, 2, table());
        assert_eq!(found.len(), 1);
        assert_eq!(&*found[0].key, "models_model_id_key");
        assert_eq!(&*found[0].detail, "2 model_ids still have several rows: UNIQUE(model_id) cannot be restored");
    }
}
