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
    use crate::plan::{CascadeRows, HazardRow, TableRef};
    use crate::rehearsal::effects::{Blocker, ORPHAN_DELETE};
    use crate::rehearsal::facts::{Facts, TableRefs};
    use crate::rehearsal::rules::{hazard, Rows};
    use crate::terms::HazardCode;

    pub fn find(facts: &Facts) -> Result<Rows> {
        Ok(rows(facts.cascade, facts.blockers, facts.tables))
    }

    /// The cascade's rows (they stay in the cascade: by effect, their table and detail), and a
    /// row for each foreign key that refuses the delete.
    pub fn rows(cascade: &CascadeRows, blockers: &[Blocker], tables: &TableRefs) -> Rows {
        // None for the rows of the orphan delete itself.
        let by_effect: Vec<Option<(TableRef, _)>> = cascade
            .effects()
            .iter()
            .map(|e| {
                (*e.via != *ORPHAN_DELETE).then(|| (tables.get(&e.table), format!("{} via {}", e.action, e.via).into()))
            })
            .collect();
        let cascade_rows = (0..by_effect.len()).filter(|&e| by_effect[e].is_some()).map(|e| cascade.rows_of(e)).sum::<u64>();
        let blocks: Vec<HazardRow> = blockers
            .iter()
            .map(|blocker| {
                let detail = format!(
                    "blocks the delete: {} rows reference deleted {} rows through {}",
                    blocker.rows, blocker.parent, blocker.constraint
                );
                hazard(HazardCode::H9, tables.get(&blocker.table.to_string()), &blocker.example, detail)
            })
            .collect();
        Rows::WithCascade { rows: blocks, by_effect, cascade_rows: cascade_rows as usize }
    }
}

#[cfg(all(test, feature = "engine"))]
mod tests {
    use super::engine::rows;
    use crate::catalog::TableName;
    use crate::plan::{CascadeEffect, CascadeRows, CodeRows, Hazards, Shared, StoredRows};
    use crate::rehearsal::effects::{Blocker, ORPHAN_DELETE};
    use crate::rehearsal::facts::TableRefs;
    use crate::rehearsal::rules::Rows;
    use crate::terms::HazardCode;

    #[test]
    fn foreign_key_effects_and_blocks_in_key_order() {
        // Each table's rows share its name, as the cascade's do.
        let (deployments, runs): (Shared, Shared) = ("public.deployments".into(), "public.runs".into());
        let mut cascade = CascadeRows::default();
        for (table, key, action, via) in [
            (&deployments, "2", "set null", "fk_dep"),
            (&deployments, "1", "deleted", "fk_dep"),
            (&runs, "3", "deleted", ORPHAN_DELETE),
            (&runs, "1", "deleted", "fk_run"),
            (&runs, "4", "deleted", "fk_run"),
        ] {
            if table == &runs && via == ORPHAN_DELETE {
                cascade.end_run().unwrap();
            }
            let effect = cascade.effect(CascadeEffect { table: table.clone(), action: action.into(), via: via.into() });
            cascade.push(key, effect).unwrap();
        }
        cascade.end_run().unwrap();
        let blockers = [Blocker {
            constraint: "fk_audit".into(),
            table: TableName::new("public", "audit"),
            parent: TableName::new("public", "models"),
            rows: 2,
            example: "1".into(),
        }];
        let tables = TableRefs::default();
        let Rows::WithCascade { rows, by_effect, cascade_rows } = rows(&cascade, &blockers, &tables) else {
            panic!("H9 lists the cascade's rows");
        };
        assert_eq!(cascade_rows, 4, "the orphan delete's own row is not a hazard");
        let mut hazards = Hazards::naming(tables.take());
        let rows = CodeRows::hold(HazardCode::H9, rows).unwrap().listing_cascade(by_effect, cascade_rows);
        hazards.set(HazardCode::H9, StoredRows::write(rows).unwrap());
        assert_eq!(hazards.len(HazardCode::H9), 5);
        let found = hazards.texts(HazardCode::H9, &cascade, usize::MAX).unwrap();
        let found: Vec<(&str, &str, &str)> = found.iter().map(|h| (&*h.table, &*h.key, &*h.detail)).collect();
        // By key; of one key, the cascade's rows in their order (tables in order), then the block.
        assert_eq!(found[0], ("public.deployments", "1", "deleted via fk_dep"));
        assert_eq!(found[1], ("public.runs", "1", "deleted via fk_run"));
        assert_eq!((found[2].0, found[2].1), ("public.audit", "1"));
        assert!(found[2].2.starts_with("blocks the delete: 2 rows reference deleted "), "{}", found[2].2);
        assert_eq!(found[3], ("public.deployments", "2", "set null via fk_dep"));
        assert_eq!(found[4], ("public.runs", "4", "deleted via fk_run"));
        assert_eq!(found.len(), 5);
    }
}
