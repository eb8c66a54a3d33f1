//! H16: each firing of a trigger during the rollback. The firings are counted by
//! `rehearsal::triggers` (they need the statements' row effects), which this rule asks.

use super::Rule;
use crate::terms::HazardCode;

pub const RULE: Rule = Rule {
    code: HazardCode::H16,
    unit: "trigger firings",
    title: "a trigger fires during the rollback (per row for FOR EACH ROW, per statement otherwise); its effects are not rehearsed",
    help: "read each trigger's function: what it writes, or refuses, is not in this rehearsal; disable it for the rollback if it must not fire",
    #[cfg(feature = "engine")]
    find: super::Find::Tables(engine::find),
};

#[cfg(feature = "engine")]
mod engine {
    use crate::error::Result;
    use crate::rehearsal::facts::Facts;
    use crate::rehearsal::rules::Rows;
    use crate::rehearsal::triggers;
    use duckdb::Connection;

    pub fn find(facts: &Facts, conn: &Connection) -> Result<Rows> {
        triggers::firings(conn, facts.catalog, facts.loaded, facts.spec, facts.steps, facts.tables).map(Rows::from)
    }
}

#[cfg(all(test, feature = "engine"))]
mod tests {
    use crate::catalog::{Catalog, TableName};
    use crate::plan::{HazardRow, Shared};
    use crate::input::ddl;
    use crate::rehearsal::effects::{self, CHANGED, DELETED, NOT_KEPT};
    use crate::rehearsal::engine::VERSIONS_PHASE;
    use crate::rehearsal::facts::TableRefs;
    use crate::rehearsal::{steps, triggers};
    use crate::spec::Spec;
    use crate::terms::{Mode, Policy};
    use crate::workspace::Workspace;
    use std::collections::BTreeSet;

    const SCHEMA: &str = "
CREATE TABLE public.models (id text NOT NULL, model_id text, version text, is_published boolean);
CREATE TABLE public.services (id text NOT NULL, model_id text);
CREATE TABLE public.artifacts (id text NOT NULL, model_row_id text);
CREATE TABLE public.notes (id text NOT NULL, model_row_id text);
ALTER TABLE ONLY public.models ADD CONSTRAINT models_pkey PRIMARY KEY (id);
ALTER TABLE ONLY public.services ADD CONSTRAINT services_pkey PRIMARY KEY (id);
ALTER TABLE ONLY public.artifacts ADD CONSTRAINT artifacts_pkey PRIMARY KEY (id);
ALTER TABLE ONLY public.notes ADD CONSTRAINT notes_pkey PRIMARY KEY (id);
ALTER TABLE ONLY public.artifacts ADD CONSTRAINT artifacts_model_fkey FOREIGN KEY (model_row_id) REFERENCES public.models(id) ON DELETE CASCADE;
ALTER TABLE ONLY public.notes ADD CONSTRAINT notes_model_fkey FOREIGN KEY (model_row_id) REFERENCES public.models(id) ON DELETE SET NULL;
CREATE TRIGGER models_audit AFTER DELETE ON public.models FOR EACH ROW WHEN (old.is_published) EXECUTE FUNCTION public.audit();
CREATE TRIGGER models_once AFTER DELETE ON public.models FOR EACH STATEMENT EXECUTE FUNCTION public.audit();
CREATE TRIGGER models_off AFTER DELETE ON public.models FOR EACH ROW EXECUTE FUNCTION public.audit();
ALTER TABLE public.models DISABLE TRIGGER models_off;
CREATE TRIGGER artifacts_gone BEFORE DELETE ON public.artifacts FOR EACH ROW EXECUTE FUNCTION public.audit();
CREATE TRIGGER artifacts_once AFTER DELETE ON public.artifacts FOR EACH STATEMENT EXECUTE FUNCTION public.audit();
CREATE TRIGGER notes_nulled AFTER UPDATE OF model_row_id ON public.notes FOR EACH ROW WHEN (new.model_row_id IS NULL) EXECUTE FUNCTION public.audit();
CREATE TRIGGER services_touched AFTER UPDATE ON public.services FOR EACH ROW EXECUTE FUNCTION public.audit();
";

    /// m1 (published) and m2 are deleted; m1's artifact goes with it, m2's note loses its model.
    fn rehearsed() -> (Workspace, Catalog) {
        let mut catalog = Catalog::default();
        ddl::apply(SCHEMA, &mut catalog).unwrap();
        let workspace = Workspace::in_memory().unwrap();
        let names: Vec<TableName> = catalog.tables.iter().map(|t| t.name.clone()).collect();
        workspace.create_tables(&catalog, &names).unwrap();
        let conn = workspace.connection();
        conn.execute_batch(
            "INSERT INTO public.models VALUES ('m1', 'x', '1.0', true), ('m2', 'x', '2.0', false),
                 ('m3', 'x', '3.0', true);
             INSERT INTO public.services VALUES ('s1', 'x'), ('s2', 'gone');
             INSERT INTO public.artifacts VALUES ('a1', 'm1'), ('a3', 'm3');
             INSERT INTO public.notes VALUES ('n2', 'm2'), ('n3', 'm3');",
        )
        .unwrap();
        effects::create_for(conn, &catalog).unwrap();
        let rid = |table: &str, id: &str| format!("(SELECT rowid FROM public.{table} WHERE id = '{id}')");
        conn.execute_batch(&format!(
            "INSERT INTO {DELETED} VALUES ('public.models', {m1}, '{NOT_KEPT}', '{VERSIONS_PHASE}'),
                 ('public.models', {m2}, '{NOT_KEPT}', '{VERSIONS_PHASE}'),
                 ('public.artifacts', {a1}, 'artifacts_model_fkey -> public.models', '{VERSIONS_PHASE}');
             INSERT INTO {CHANGED} VALUES ('public.notes', {n2}, 'notes_model_fkey -> public.models', 'set null',
                 'notes_model_fkey', '{VERSIONS_PHASE}');",
            m1 = rid("models", "m1"),
            m2 = rid("models", "m2"),
            a1 = rid("artifacts", "a1"),
            n2 = rid("notes", "n2"),
        ))
        .unwrap();
        (workspace, catalog)
    }

    /// The firings of the rollback under `policy`, every table loaded, and the tables they name.
    fn firings(workspace: &Workspace, catalog: &Catalog, policy: Policy) -> (Vec<HazardRow>, Vec<Shared>) {
        let (spec, tables) = (Spec::guide(), TableRefs::default());
        let (models, services) = (TableName::new("public", "models"), TableName::new("public", "services"));
        let steps = steps::rollback(&spec, &models, &services, policy, Mode::Full, false);
        let loaded: BTreeSet<TableName> = catalog.tables.iter().map(|t| t.name.clone()).collect();
        let rows = triggers::firings(workspace.connection(), catalog, &loaded, &spec, &steps, &tables).unwrap();
        (rows, tables.take())
    }

    #[test]
    fn each_trigger_fires_per_row_it_reaches_or_once_per_statement() {
        let (workspace, catalog) = rehearsed();
        let (rows, names) = firings(&workspace, &catalog, Policy::Legacy);
        let mut found: Vec<(String, String, String)> = rows
            .iter()
            .map(|h| {
                let trigger = h.detail.split(' ').next().unwrap().to_string();
                (names[h.table.0 as usize].to_string(), h.key.to_string(), trigger)
            })
            .collect();
        found.sort();
        let expected = [
            ("public.artifacts", "a1", "artifacts_gone"),
            ("public.artifacts", "statement DELETE FROM public.models", "artifacts_once"),
            ("public.models", "m1", "models_audit"),
            ("public.models", "statement DELETE FROM public.models", "models_once"),
            ("public.notes", "n2", "notes_nulled"),
            ("public.services", "s1", "services_touched"),
        ];
        let expected: Vec<(String, String, String)> =
            expected.iter().map(|(t, k, n)| (t.to_string(), k.to_string(), n.to_string())).collect();
        assert_eq!(found, expected);

        let detail = |trigger: &str| rows.iter().find(|h| h.detail.starts_with(trigger)).unwrap().detail.to_string();
        assert_eq!(
            detail("models_audit"),
            "models_audit (AFTER DELETE FOR EACH ROW, public.audit()) fires on a row deleted in \
             DELETE FROM public.models; effects not rehearsed"
        );
        assert!(detail("artifacts_gone").contains("fires on a row deleted by a foreign key in DELETE FROM"));
        assert!(detail("artifacts_once").contains("fires once, for the CASCADE actions of artifacts_model_fkey"));
        assert!(detail("notes_nulled").contains("fires on a row SET NULL by notes_model_fkey"));
        assert!(detail("services_touched").contains("fires on a row updated (no change) in UPDATE public.services"));
    }

    #[test]
    fn a_when_that_duckdb_cannot_evaluate_fires_on_every_row_and_says_so() {
        let (workspace, mut catalog) = rehearsed();
        let audit = catalog.objects.triggers.iter_mut().find(|t| t.name == "models_audit").unwrap();
        audit.when = Some("public.is_audited(old.id)".into());
        let (rows, _) = firings(&workspace, &catalog, Policy::Documented);
        let audited: Vec<(&str, &str)> =
            rows.iter().filter(|h| h.detail.starts_with("models_audit")).map(|h| (&*h.key, &*h.detail)).collect();
        assert_eq!(audited.iter().map(|(key, _)| *key).collect::<Vec<_>>(), ["m1", "m2"]);
        assert!(audited
            .iter()
            .all(|(_, detail)| detail.contains("(if its WHEN holds: rehearse could not evaluate it)")));
        // Documented does not touch the services: no UPDATE, no firing on them.
        assert!(rows.iter().all(|h| !h.detail.starts_with("services_touched")));
    }
}
