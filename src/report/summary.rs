//! `summary.json`: the counts, effects, verification and hazards of a run, for machines.

use crate::plan::{Check, Plan, ServiceAction};
use serde_json::{json, Value};

fn check(check: &Check) -> Value {
    json!({
        "pass": check.pass,
        "applicable": check.applicable,
        "count": check.count,
        "detail": check.detail,
    })
}

pub fn summary(plan: &Plan) -> Value {
    let v = &plan.verification;
    json!({
        "policy": plan.policy,
        "mode": plan.mode,
        "delete_orphans": plan.delete_orphans,
        "collation": plan.collation,
        "collation_source": plan.collation_source,
        "collation_alternatives": plan.collation_alternatives,
        "input": plan.input,
        "fingerprint": plan.fingerprint,
        "models_before": plan.models_before,
        "models_after": plan.models_after,
        "versions_deleted": plan.deleted.len(),
        "services_before": plan.services_before,
        "services_after": plan.services_after,
        "services_repointed": plan.services_with(ServiceAction::Repointed),
        "services_unchanged": plan.services_with(ServiceAction::Unchanged),
        "services_orphaned": plan.services_with(ServiceAction::Orphan),
        "services_deleted": plan.services_with(ServiceAction::Deleted),
        "cascade": plan.cascade_deleted,
        "cascade_changed": plan.cascade_changed,
        "verification": {
            "V1": check(&v.v1),
            "V2": check(&v.v2),
            "V3": check(&v.v3),
            "V3_caused": check(&v.v3_caused),
        },
        "hazards": plan.hazard_counts(),
        "policy_divergence": plan.divergence.len(),
        "collation_sensitive": plan.collation_sensitive,
        "predicted_failure": plan.predicted_failure,
        "statements": plan.ddl,
        "drop_dependents": plan.drop_dependents,
        "exit_code": if plan.fails() { 3 } else { 0 },
    })
}
