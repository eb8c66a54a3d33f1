//! H18: each object a statement of the rollback drops without naming it (the DDL replay finds them).

use super::Rule;
use crate::terms::HazardCode;

pub const RULE: Rule = Rule {
    code: HazardCode::H18,
    unit: "objects",
    title: "a schema object that PostgreSQL drops silently with a version column (an index beyond the guide's, a CHECK or other constraint, extended statistics)",
    help: "rerun with --drop-dependents to drop it explicitly, or drop it yourself; recreate it afterwards from its definition if still needed",
    #[cfg(feature = "engine")]
    find: super::Find::Facts(engine::find),
};

#[cfg(feature = "engine")]
mod engine {
    use crate::error::Result;
    use crate::plan::HazardRow;
    use crate::rehearsal::ddl_replay::Replay;
    use crate::rehearsal::facts::{Facts, TableRefs};
    use crate::rehearsal::rules::hazard;
    use crate::rehearsal::rules::Rows;
    use crate::terms::HazardCode;

    pub fn find(facts: &Facts) -> Result<Rows> {
        Ok(rows(facts.replay, facts.tables).into())
    }

    pub fn rows(replay: &Replay, tables: &TableRefs) -> Vec<HazardRow> {
        let mut found = Vec::new();
        for step in &replay.steps {
            for dropped in &step.dropped {
                let table = dropped.object.table.as_ref().map(|t| t.to_string()).unwrap_or_default();
                let detail = format!(
                    "dropped with column {} by `{}`; definition: {}",
                    dropped.with_column, step.sql, dropped.object.definition
                );
                found.push(hazard(HazardCode::H18, tables.get(&table), dropped.object.describe(), detail));
            }
        }
        found
    }
}

#[cfg(all(test, feature = "engine"))]
mod tests {
    use super::engine::rows;
    use crate::catalog::objects::{ObjectKind, SchemaObject};
    use crate::catalog::TableName;
    use crate::plan::DroppedObject;
    use crate::rehearsal::ddl_replay::Replay;
    use crate::rehearsal::facts::TableRefs;
    use crate::rehearsal::rules::sample::{failing, prediction};
    use crate::terms::HazardCode;

    #[test]
    fn objects_dropped_with_a_column() {
        let index = SchemaObject {
            kind: ObjectKind::Index,
            schema: "public".into(),
            name: "models_version_idx".into(),
            table: Some(TableName::new("public", "models")),
            uses: Vec::new(),
            unique_key: None,
            owns_index: false,
            definition: "CREATE INDEX models_version_idx ON models (version)".into(),
        };
        let mut step = prediction(vec![failing("view v", HazardCode::H17)]);
        step.dropped = vec![DroppedObject { object: index, with_column: "version".into() }];
        let tables = TableRefs::default();
        let found = rows(&Replay { steps: vec![step], remaining: Vec::new() }, &tables);
        assert_eq!(found.len(), 1, "the failing view is H17's, not H18's");
        let table = &tables.take()[found[0].table.0 as usize];
        assert_eq!((&**table, &*found[0].key), ("public.models", "index models_version_idx"));
        assert_eq!(
            &*found[0].detail,
            "dropped with column version by `ALTER TABLE models DROP COLUMN version`; definition: CREATE INDEX models_version_idx ON models (version)"
        );
    }
}
