//! The rollback as an ordered list of statements: the shipped script's order for `legacy`
//! (ROLLBACK.md §2, "What the shipped scripts really do"), rehearse's own order otherwise. The
//! DDL replay predicts each one; `02_rollback.sql` renders the same list, so that what is
//! predicted is what runs.

use crate::catalog::TableName;
use crate::plan::Step;
use crate::spec::Spec;
use crate::terms::{Mode, Policy};

/// The statements of the rehearsed rollback, in the order they run.
pub fn rollback(
    spec: &Spec,
    models: &TableName,
    services: &TableName,
    policy: Policy,
    mode: Mode,
    delete_orphans: bool,
) -> Vec<Step> {
    let full = mode == Mode::Full;
    let drops: Vec<Step> = spec
        .drop
        .indexes
        .iter()
        .map(|index| Step::DropIndex { index: TableName::new(&models.schema, index) })
        .chain(
            spec.drop.constraints.iter().map(|name| Step::DropConstraint { table: models.clone(), name: name.clone() }),
        )
        .collect();
    let drop_services = Step::DropColumns { table: services.clone(), columns: spec.drop.services_columns.clone() };
    let drop_models = Step::DropColumns { table: models.clone(), columns: spec.drop.models_columns.clone() };
    let add_unique = Step::AddUnique {
        table: models.clone(),
        name: spec.restore_unique.name.clone(),
        columns: spec.restore_unique.columns.clone(),
    };
    let delete_versions = full.then(|| Step::DeleteVersions { table: models.clone() });
    let delete_orphans = delete_orphans.then(|| Step::DeleteOrphans { table: services.clone() });
    let mut steps = Vec::new();
    match policy {
        Policy::Legacy => {
            steps.extend(drops);
            if full {
                steps.push(Step::TouchServices { table: services.clone() });
            }
            steps.push(drop_services);
            steps.extend(delete_versions);
            steps.push(drop_models);
            if full {
                steps.push(add_unique);
            }
            steps.extend(delete_orphans);
        }
        Policy::Documented => {
            // The deletes first: 02_rollback.sql runs them while other sessions can still read,
            // and stops readers (ACCESS EXCLUSIVE) only from the first DDL statement on.
            steps.extend(delete_versions);
            steps.extend(delete_orphans);
            steps.extend(drops);
            steps.push(drop_services);
            steps.push(drop_models);
            if full {
                steps.push(add_unique);
            }
        }
    }
    steps
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(steps: &[Step]) -> Vec<String> {
        steps.iter().map(|s| s.sql().split(" (").next().unwrap().split(" \"").next().unwrap().to_string()).collect()
    }

    #[test]
    fn legacy_follows_the_shipped_order() {
        let spec = Spec::guide();
        let (m, s) = (TableName::new("public", "models"), TableName::new("public", "services"));
        let steps = rollback(&spec, &m, &s, Policy::Legacy, Mode::Full, true);
        assert_eq!(
            kinds(&steps),
            [
                "DROP INDEX IF EXISTS",
                "DROP INDEX IF EXISTS",
                "DROP INDEX IF EXISTS",
                "ALTER TABLE",
                "UPDATE",
                "ALTER TABLE",
                "DELETE FROM",
                "ALTER TABLE",
                "ALTER TABLE",
                "DELETE FROM"
            ]
        );
        assert!(steps[5].sql().contains("DROP COLUMN \"model_version\", DROP COLUMN \"version_updated_at\""));
        assert!(matches!(steps[9], Step::DeleteOrphans { .. }));
    }

    #[test]
    fn rehearse_order_deletes_before_dropping_and_selective_deletes_nothing() {
        let spec = Spec::guide();
        let (m, s) = (TableName::new("public", "models"), TableName::new("public", "services"));
        let steps = rollback(&spec, &m, &s, Policy::Documented, Mode::Full, false);
        assert!(matches!(steps[0], Step::DeleteVersions { .. }));
        assert!(matches!(steps[1], Step::DropIndex { .. }));
        assert!(matches!(steps.last(), Some(Step::AddUnique { .. })));
        let selective = rollback(&spec, &m, &s, Policy::Documented, Mode::Selective, false);
        assert!(!selective.iter().any(|s| matches!(s, Step::DeleteVersions { .. } | Step::AddUnique { .. })));
    }
}
