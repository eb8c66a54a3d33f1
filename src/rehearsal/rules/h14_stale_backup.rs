//! H14: rows that the guide's backup tables, left by an earlier run, lack or hold otherwise.

use super::Rule;
use crate::terms::HazardCode;

pub const RULE: Rule = Rule {
    code: HazardCode::H14,
    unit: "models + services rows",
    title: "stale backup: backup tables from an earlier run differ from the live rows",
    help: "drop or rename the old backup tables; CREATE TABLE IF NOT EXISTS would keep the stale copy",
    #[cfg(feature = "engine")]
    find: engine::find,
};

#[cfg(feature = "engine")]
mod engine {
    use crate::catalog::quote_ident;
    use crate::error::Result;
    use crate::plan::{HazardRow, Shared};
    use crate::rehearsal::engine::strings;
    use crate::rehearsal::facts::Facts;
    use crate::rehearsal::rules::hazard;
    use crate::terms::HazardCode;

    pub fn find(facts: &Facts) -> Result<Vec<HazardRow>> {
        let (spec, b) = (facts.spec, &facts.spec.backup);
        let mut rows = Vec::new();
        for (live, backup_name, columns, id) in [
            (facts.models, &b.models_table, &b.models_columns, &spec.models.id),
            (facts.services, &b.services_table, &b.services_columns, &spec.services.id),
        ] {
            let Some(backup) = facts.catalog.find_table(backup_name) else { continue };
            let table: Shared = live.name.to_string().into();
            let shared: Vec<&String> =
                columns.iter().filter(|c| live.column(c).is_some() && backup.column(c).is_some()).collect();
            let differs: Vec<String> = shared
                .iter()
                .map(|c| format!("CAST(l.{0} AS VARCHAR) IS DISTINCT FROM CAST(b.{0} AS VARCHAR)", quote_ident(c)))
                .collect();
            let sql = format!(
                "SELECT CAST(l.{id} AS VARCHAR), CASE WHEN b.{id} IS NULL THEN 'missing from {bn}' ELSE 'differs from {bn}' END
             FROM {live} l LEFT JOIN {backup} b ON CAST(l.{id} AS VARCHAR) = CAST(b.{id} AS VARCHAR)
             WHERE b.{id} IS NULL OR {differs} ORDER BY 1",
                id = quote_ident(id),
                bn = backup_name.replace('\'', "''"),
                live = live.name.quoted(),
                backup = backup.name.quoted(),
                differs = if differs.is_empty() { "false".into() } else { differs.join(" OR ") },
            );
            for (key, detail) in strings(facts.conn, &sql)? {
                rows.push(hazard(HazardCode::H14, &table, &key, detail));
            }
        }
        Ok(rows)
    }
}
