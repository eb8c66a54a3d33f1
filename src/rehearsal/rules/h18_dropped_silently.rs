//! H18: each object a statement of the rollback drops without naming it (the DDL replay finds them).

use super::Rule;
use crate::terms::HazardCode;

pub const RULE: Rule = Rule {
    code: HazardCode::H18,
    unit: "objects",
    title: "a schema object that PostgreSQL drops silently with a version column (an index beyond the guide's, a CHECK or other constraint, extended statistics)",
    help: "rerun with --drop-dependents to drop it explicitly, or drop it yourself; recreate it afterwards from its definition if still needed",
    #[cfg(feature = "engine")]
    find: engine::find,
};

#[cfg(feature = "engine")]
mod engine {
    use crate::error::Result;
    use crate::plan::HazardRow;
    use crate::rehearsal::ddl_replay::Replay;
    use crate::rehearsal::facts::Facts;
    use crate::rehearsal::rules::hazard;
    use crate::terms::HazardCode;

    pub fn find(facts: &Facts) -> Result<Vec<HazardRow>> {
        Ok(rows(facts.replay))
    }

    pub fn rows(replay: &Replay) -> Vec<HazardRow> {
        let mut found = Vec::new();
        for step in &replay.steps {
            for dropped in &step.dropped {
                let table = dropped.object.table.as_ref().map(|t| t.to_string()).unwrap_or_default();
                let detail = format!(
                    "dropped with column {} by `{}`; definition: {}",
                    dropped.with_column, step.sql, dropped.object.definition
                );
                found.push(hazard(HazardCode::H18, &table.as_str().into(), &dropped.object.describe(), detail));
            }
        }
        found
    }
}
