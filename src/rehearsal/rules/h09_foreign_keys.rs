//! H9: every row a foreign key deletes or changes (not the orphan delete's own rows), and every
//! foreign key that refuses the delete.

use super::Rule;
use crate::terms::HazardCode;

pub const RULE: Rule = Rule {
    code: HazardCode::H9,
    unit: "rows of other tables",
    title: "foreign-key effect of the deletes: cascaded deletes, SET NULL/SET DEFAULT changes, or RESTRICT/NO ACTION blocks",
    help: "review cascade.csv; a RESTRICT/NO ACTION block makes the real script fail",
    #[cfg(feature = "engine")]
    find: super::Find::Facts(engine::find),
};

#[cfg(feature = "engine")]
mod engine {
    use crate::error::Result;
    use crate::plan::{CascadeRow, HazardRow};
    use crate::rehearsal::effects::Blocker;
    use crate::rehearsal::facts::{Facts, Interner, TextsBy};
    use crate::rehearsal::rules::hazard;
    use crate::terms::HazardCode;

    pub fn find(facts: &Facts) -> Result<Vec<HazardRow>> {
        Ok(rows(facts.cascade, facts.blockers))
    }

    pub fn rows(cascade: &[CascadeRow], blockers: &[Blocker]) -> Vec<HazardRow> {
        let mut texts = Interner::default();
        let mut details = TextsBy::default();
        let mut found = Vec::with_capacity(cascade.len() + blockers.len());
        for row in cascade.iter().filter(|row| !row.via.starts_with("orphan delete")) {
            let detail = details.get((&*row.action, &*row.via), || format!("{} via {}", row.action, row.via));
            found.push(HazardRow { code: HazardCode::H9, table: row.table.clone(), key: row.key.clone(), detail });
        }
        for blocker in blockers {
            let detail = format!(
                "blocks the delete: {} rows reference deleted {} rows through {}",
                blocker.rows, blocker.parent, blocker.constraint
            );
            found.push(hazard(HazardCode::H9, &texts.get(&blocker.table.to_string()), &blocker.example, detail));
        }
        found
    }
}

#[cfg(all(test, feature = "engine"))]
mod tests {
    use super::engine::rows;
    use crate::catalog::TableName;
    use crate::plan::CascadeRow;
    use crate::rehearsal::effects::Blocker;

    #[test]
    fn foreign_key_effects_and_blocks() {
        let row = |key: &str, action: &str, via: &str| CascadeRow {
            table: "public.deployments".into(),
            key: key.into(),
            action: action.into(),
            via: via.into(),
        };
        let cascade = [
            row("1", "deleted", "fk_dep"),
            row("2", "set null", "fk_dep"),
            row("3", "deleted", "orphan delete (--delete-orphans)"),
        ];
        let blockers = [Blocker {
            constraint: "fk_audit".into(),
            table: TableName::new("public", "audit"),
            parent: TableName::new("public", "models"),
            rows: 2,
            example: "7".into(),
        }];
        let found: Vec<(String, String)> =
            rows(&cascade, &blockers).iter().map(|h| (h.key.to_string(), h.detail.to_string())).collect();
        assert_eq!(found.len(), 3);
        assert_eq!(found[0], ("1".into(), "deleted via fk_dep".into()));
        assert_eq!(found[1], ("2".into(), "set null via fk_dep".into()));
        assert_eq!(found[2].0, "7");
        assert!(found[2].1.starts_with("blocks the delete: 2 rows reference deleted "), "{}", found[2].1);
    }
}
