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
    use crate::plan::{CascadeRows, HazardRow, Shared, TableRef};
    use crate::rehearsal::effects::{Blocker, ORPHAN_DELETE};
    use crate::rehearsal::facts::{Facts, TableRefs};
    use crate::rehearsal::rules::hazard;
    use crate::rehearsal::rules::Rows;
    use crate::terms::HazardCode;

    pub fn find(facts: &Facts) -> Result<Rows> {
        Ok(rows(facts.cascade, facts.blockers, facts.tables).into())
    }

    pub fn rows(cascade: &CascadeRows, blockers: &[Blocker], tables: &TableRefs) -> Vec<HazardRow> {
        // A row's table and detail are its effect's, each made once (none for the rows of the
        // orphan delete itself).
        let by_effect: Vec<Option<(TableRef, Shared)>> = cascade
            .effects()
            .iter()
            .map(|e| {
                (*e.via != *ORPHAN_DELETE).then(|| (tables.get(&e.table), format!("{} via {}", e.action, e.via).into()))
            })
            .collect();
        let mut found = Vec::with_capacity(cascade.len() + blockers.len());
        for row in cascade.held() {
            if let Some((table, detail)) = &by_effect[row.effect()] {
                let (table, key, detail) = (*table, row.key.clone(), detail.clone());
                found.push(HazardRow { code: HazardCode::H9, table, key, detail });
            }
        }
        for blocker in blockers {
            let detail = format!(
                "blocks the delete: {} rows reference deleted {} rows through {}",
                blocker.rows, blocker.parent, blocker.constraint
            );
            found.push(hazard(HazardCode::H9, tables.get(&blocker.table.to_string()), &blocker.example, detail));
        }
        found
    }
}

#[cfg(all(test, feature = "engine"))]
mod tests {
    use super::engine::rows;
    use crate::catalog::TableName;
    use crate::plan::{CascadeEffect, CascadeRows, Shared};
    use crate::rehearsal::effects::{Blocker, ORPHAN_DELETE};
    use crate::rehearsal::facts::TableRefs;

    #[test]
    fn foreign_key_effects_and_blocks() {
        // Each table's rows share its name, as the cascade's do.
        let (deployments, runs): (Shared, Shared) = ("public.deployments".into(), "public.runs".into());
        let mut cascade = CascadeRows::default();
        for (table, key, action, via) in [
            (&deployments, "1", "deleted", "fk_dep"),
            (&deployments, "2", "set null", "fk_dep"),
            (&runs, "3", "deleted", ORPHAN_DELETE),
            (&runs, "4", "deleted", "fk_run"),
        ] {
            let effect = cascade.effect(CascadeEffect { table: table.clone(), action: action.into(), via: via.into() });
            cascade.push(key.into(), effect);
        }
        let blockers = [Blocker {
            constraint: "fk_audit".into(),
            table: TableName::new("public", "audit"),
            parent: TableName::new("public", "models"),
            rows: 2,
            example: "7".into(),
        }];
        let tables = TableRefs::default();
        let found = rows(&cascade, &blockers, &tables);
        let names = tables.take();
        let found: Vec<(&str, &str, &str)> =
            found.iter().map(|h| (&*names[h.table.0 as usize], &*h.key, &*h.detail)).collect();
        assert_eq!(found.len(), 4);
        assert_eq!(found[0], ("public.deployments", "1", "deleted via fk_dep"));
        assert_eq!(found[1], ("public.deployments", "2", "set null via fk_dep"));
        assert_eq!(found[2], ("public.runs", "4", "deleted via fk_run"));
        assert_eq!((found[3].0, found[3].1), ("public.audit", "7"));
        assert!(found[3].2.starts_with("blocks the delete: 2 rows reference deleted "), "{}", found[3].2);
    }
}
