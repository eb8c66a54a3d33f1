//! H14: rows that the guide's backup tables, left by an earlier run, lack or hold otherwise.

use super::Rule;
use crate::terms::HazardCode;

pub const RULE: Rule = Rule {
    code: HazardCode::H14,
    unit: "models + services rows",
    title: "stale backup: backup tables from an earlier run differ from the live rows",
    help: "drop or rename the old backup tables; CREATE TABLE IF NOT EXISTS would keep the stale copy",
    #[cfg(feature = "engine")]
    find: super::Find::Tables(engine::find),
};

#[cfg(feature = "engine")]
mod engine {
    use crate::catalog::{quote_ident, Catalog, Table};
    use crate::error::Result;
    use crate::plan::HazardRow;
    use crate::rehearsal::engine::strings;
    use crate::rehearsal::facts::{Facts, TableRefs};
    use crate::rehearsal::rules::hazard;
    use crate::rehearsal::rules::Rows;
    use crate::spec::Spec;
    use crate::terms::HazardCode;
    use duckdb::Connection;

    pub fn find(facts: &Facts, conn: &Connection) -> Result<Rows> {
        rows(conn, facts.catalog, facts.spec, facts.models, facts.services, facts.tables).map(Rows::from)
    }

    pub fn rows(
        conn: &Connection,
        catalog: &Catalog,
        spec: &Spec,
        models: &Table,
        services: &Table,
        tables: &TableRefs,
    ) -> Result<Vec<HazardRow>> {
        let b = &spec.backup;
        let mut rows = Vec::new();
        for (live, backup_name, columns, id) in [
            (models, &b.models_table, &b.models_columns, &spec.models.id),
            (services, &b.services_table, &b.services_columns, &spec.services.id),
        ] {
            let Some(backup) = catalog.find_table(backup_name) else { continue };
            let table = tables.get(&live.name.to_string());
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
            for (key, detail) in strings(conn, &sql)? {
                rows.push(hazard(HazardCode::H14, table, &key, detail));
            }
        }
        Ok(rows)
    }
}

#[cfg(all(test, feature = "engine"))]
mod tests {
    use super::engine::rows;
    use crate::rehearsal::rules::sample::workspace_with;
    use crate::spec::Spec;

    #[test]
    fn live_rows_missing_from_or_differing_from_an_old_backup() {
        let columns: &[&str] = &["id", "version"];
        let (workspace, catalog) =
            workspace_with(&[("models", columns), ("models_version_backup", columns), ("services", &["id"])]);
        let conn = workspace.connection();
        conn.execute_batch(
            "INSERT INTO public.models VALUES ('1', '1.0'), ('2', '2.0'), ('3', '3.0');
             INSERT INTO public.models_version_backup VALUES ('1', '1.0'), ('2', '2.5');",
        )
        .unwrap();
        let (models, services) = (&catalog.tables[0], &catalog.tables[2]);
        let found = rows(conn, &catalog, &Spec::guide(), models, services, &Default::default()).unwrap();
        let found: Vec<(&str, &str)> = found.iter().map(|h| (&*h.key, &*h.detail)).collect();
        assert_eq!(found, [("2", "differs from models_version_backup"), ("3", "missing from models_version_backup")]);
    }
}
