//! H15: deleted rows holding values that the guide's backup does not copy.

use super::Rule;
use crate::terms::HazardCode;

pub const RULE: Rule = Rule {
    code: HazardCode::H15,
    unit: "models rows",
    title: "the guide's backup cannot restore these deleted rows (it lacks some of their columns)",
    help: "use 01_backup.sql from rehearse, which copies complete rows",
    #[cfg(feature = "engine")]
    find: engine::find,
};

#[cfg(feature = "engine")]
mod engine {
    use crate::catalog::quote_ident;
    use crate::error::Result;
    use crate::plan::HazardRow;
    use crate::rehearsal::effects;
    use crate::rehearsal::engine::strings;
    use crate::rehearsal::facts::Facts;
    use crate::rehearsal::rules::hazard;
    use crate::sql::literal;
    use crate::terms::HazardCode;

    pub fn find(facts: &Facts) -> Result<Vec<HazardRow>> {
        let (spec, models) = (facts.spec, facts.models);
        let uncopied: Vec<String> = models
            .columns
            .iter()
            .filter(|c| !spec.backup.models_columns.contains(&c.name))
            .map(|c| format!("CASE WHEN t.{} IS NOT NULL THEN {} END", quote_ident(&c.name), literal(&c.name)))
            .collect();
        if uncopied.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT CAST(t.{} AS VARCHAR), concat_ws(', ', {}) AS lost FROM {} t WHERE t.rowid IN {} AND lost <> '' ORDER BY 1",
            quote_ident(&spec.models.id),
            uncopied.join(", "),
            models.name.quoted(),
            effects::deleted_rids(&models.name)
        );
        Ok(strings(facts.conn, &sql)?
            .into_iter()
            .map(|(key, lost)| {
                hazard(HazardCode::H15, facts.models_table, &key, format!("not in the guide's backup: {lost}"))
            })
            .collect())
    }
}
