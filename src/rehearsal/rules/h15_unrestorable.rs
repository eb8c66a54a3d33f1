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
    use crate::catalog::{quote_ident, Table};
    use crate::error::Result;
    use crate::plan::{HazardRow, Shared};
    use crate::rehearsal::effects;
    use crate::rehearsal::facts::{Facts, Interner};
    use crate::rehearsal::rules::hazard;
    use crate::spec::Spec;
    use crate::sql::literal;
    use crate::terms::HazardCode;
    use duckdb::Connection;

    pub fn find(facts: &Facts) -> Result<Vec<HazardRow>> {
        rows(facts.conn, facts.spec, facts.models, facts.models_table)
    }

    /// Over the deletes marked in the effects tables.
    pub fn rows(conn: &Connection, spec: &Spec, models: &Table, table: &Shared) -> Result<Vec<HazardRow>> {
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
        // Streamed: one row in Rust at a time, the few distinct details shared.
        let mut texts = Interner::default();
        let mut stmt = conn.prepare(&sql)?;
        let mut rows = stmt.query([])?;
        let mut found = Vec::new();
        while let Some(row) = rows.next()? {
            let (key, lost) = (row.get::<_, Option<String>>(0)?.unwrap_or_default(), row.get::<_, String>(1)?);
            found.push(hazard(HazardCode::H15, table, &key, texts.get(&format!("not in the guide's backup: {lost}"))));
        }
        Ok(found)
    }
}

#[cfg(all(test, feature = "engine"))]
mod tests {
    use super::engine::rows;
    use crate::rehearsal::effects;
    use crate::rehearsal::rules::sample::{table, workspace_with};
    use crate::spec::Spec;

    #[test]
    fn deleted_rows_with_values_the_guide_does_not_copy() {
        let (workspace, catalog) = workspace_with(&[("models", &["id", "model_id", "version", "secret"])]);
        let conn = workspace.connection();
        conn.execute_batch(
            "INSERT INTO public.models VALUES ('1', 'm', '1.0', 's'), ('2', 'm', '2.0', NULL), ('3', 'm', '3.0', 'x')",
        )
        .unwrap();
        effects::create(conn).unwrap();
        conn.execute_batch("INSERT INTO _plan_deleted SELECT 'public.models', rowid, 'test', 'versions' FROM public.models WHERE id IN ('1', '2')")
            .unwrap();
        let found = rows(conn, &Spec::guide(), &catalog.tables[0], &table()).unwrap();
        let found: Vec<(&str, &str)> = found.iter().map(|h| (&*h.key, &*h.detail)).collect();
        assert_eq!(found, [("1", "not in the guide's backup: secret")]);
    }
}
