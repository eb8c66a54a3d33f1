//! H17: each object that makes a statement of the rollback fail, once (the DDL replay finds them;
//! H13, H9 and H18 objects of a failure are theirs).

use super::Rule;
use crate::terms::HazardCode;

pub const RULE: Rule = Rule {
    code: HazardCode::H17,
    unit: "objects",
    title: "a schema object makes a rollback statement fail (a view, rule, policy, trigger or generated column reading a dropped column, a foreign key relying on a dropped key, SET NULL/DEFAULT refused)",
    help: "drop the object before the rollback and recreate it afterwards without the dropped columns (report.md prints its definition), or change the foreign key",
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
    use std::collections::BTreeSet;

    pub fn find(facts: &Facts) -> Result<Rows> {
        Ok(rows(facts.replay, facts.tables).into())
    }

    pub fn rows(replay: &Replay, tables: &TableRefs) -> Vec<HazardRow> {
        let mut found = Vec::new();
        let mut seen = BTreeSet::new();
        for step in &replay.steps {
            let Some(failure) = &step.failure else { continue };
            for object in failure.objects.iter().chain(&failure.next) {
                if object.hazard != HazardCode::H17 || !seen.insert(object.object.clone()) {
                    continue;
                }
                let detail = format!(
                    "{}: `{}` fails with SQLSTATE {}{}",
                    object.detail,
                    step.sql,
                    failure.sqlstate,
                    if step.reached { "" } else { " (once the earlier failure is fixed)" }
                );
                found.push(hazard(HazardCode::H17, tables.get(&object.table), &object.object, detail));
            }
        }
        found
    }
}

#[cfg(all(test, feature = "engine"))]
mod tests {
    use super::engine::rows;
    use crate::rehearsal::rules::sample::{failing, prediction};
    use crate::terms::HazardCode;

    #[test]
    fn each_failing_object_once() {
        let view = failing("view v", HazardCode::H17);
        let mut first = prediction(vec![view.clone(), failing("constraint k", HazardCode::H13)]);
        first.reached = true;
        let second = prediction(vec![view]);
        let found = rows(&ddl_replay(vec![first, second]), &Default::default());
        assert_eq!(found.len(), 1);
        assert_eq!(&*found[0].key, "view v");
        assert_eq!(
            &*found[0].detail,
            "view v depends on a column: `ALTER TABLE models DROP COLUMN version` fails with SQLSTATE 2BP01"
        );
    }

    fn ddl_replay(steps: Vec<crate::plan::StepPrediction>) -> crate::rehearsal::ddl_replay::Replay {
        crate::rehearsal::ddl_replay::Replay { steps, remaining: Vec::new() }
    }
}
