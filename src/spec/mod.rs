//! The rollback described as data: which tables and columns play which part, what is dropped,
//! what is restored, what the guide's backup copies. The guide's rollback is built in
//! (`guide.toml`); `--spec FILE` describes a schema with other names. Everything downstream —
//! the DuckDB rehearsal and the emitted PostgreSQL — reads names from here, never literals.

use crate::catalog::{Catalog, Table, TableName};
use crate::error::{Error, Location, Result};
use crate::pgtype::DuckType;
use crate::sql::{self, Col};
use serde::{Deserialize, Serialize};
use std::path::Path;

const GUIDE: &str = include_str!("guide.toml");

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelsSpec {
    pub table: String,
    pub id: String,
    pub model_id: String,
    pub version: String,
    pub status: String,
    pub created_at: String,
    pub is_immutable: String,
    pub is_published: String,
    pub release_notes: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServicesSpec {
    pub table: String,
    pub id: String,
    pub service_id: String,
    pub model_id: String,
    pub model_version: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DropSpec {
    pub indexes: Vec<String>,
    pub constraints: Vec<String>,
    pub models_columns: Vec<String>,
    pub services_columns: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UniqueSpec {
    pub name: String,
    pub columns: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackupSpec {
    pub models_table: String,
    pub models_columns: Vec<String>,
    pub services_table: String,
    pub services_columns: Vec<String>,
    pub keep_mapping: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    pub models: ModelsSpec,
    pub services: ServicesSpec,
    pub drop: DropSpec,
    pub restore_unique: UniqueSpec,
    pub backup: BackupSpec,
}

impl Spec {
    /// The guide's rollback.
    pub fn guide() -> Spec {
        toml::from_str(GUIDE).expect("the built-in spec parses")
    }

    /// The built-in spec's text, comments included.
    pub fn guide_text() -> &'static str {
        GUIDE
    }

    pub fn from_file(path: &Path) -> Result<Spec> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        toml::from_str(&text).map_err(|e| {
            let line = e.span().map(|s| text[..s.start].lines().count().max(1) as u64);
            let location = match line {
                Some(line) => Location::line(path, line),
                None => Location::file(path),
            };
            Error::bad_input(location, format!("spec: {}", e.message()))
        })
    }

    /// Finds the spec's tables in the catalog and checks that every named column exists.
    pub fn resolve<'c>(&self, catalog: &'c Catalog) -> Result<(&'c Table, &'c Table), String> {
        let table = |name: &str| catalog.find_table(name).ok_or_else(|| format!("the workspace has no table `{name}`"));
        let models = table(&self.models.table)?;
        let services = table(&self.services.table)?;
        let m = &self.models;
        let s = &self.services;
        let needed = [
            (
                models,
                vec![
                    &m.id,
                    &m.model_id,
                    &m.version,
                    &m.status,
                    &m.created_at,
                    &m.is_immutable,
                    &m.is_published,
                    &m.release_notes,
                ],
            ),
            (services, vec![&s.id, &s.service_id, &s.model_id, &s.model_version, &s.name]),
        ];
        for (table, columns) in needed {
            for column in columns {
                if table.column(column).is_none() {
                    return Err(format!("table {} has no column `{column}`", table.name));
                }
            }
        }
        Ok((models, services))
    }
}

impl Spec {
    /// The guide's V3 on two relations (tables, or a rehearsal's post-state).
    pub fn orphaned_services(&self, services: &str, models: &str) -> String {
        let (m, s) = (&self.models, &self.services);
        sql::services_without_model(services, models, &s.service_id, &s.model_id, &m.model_id)
    }

    /// The columns whose rows the drift guard fingerprints, ordered by their first (the id):
    /// the rehearsal and the emitted script both take them from here.
    pub fn fingerprint_columns(&self, models: &Table, services: &Table) -> [Vec<Col>; 2] {
        let cols = |table: &Table, names: [&String; 4]| -> Vec<Col> {
            names
                .iter()
                .map(|n| Col {
                    name: n.to_string(),
                    text: table.column(n).is_some_and(|c| DuckType::of(&c.pg_type) == DuckType::Text),
                })
                .collect()
        };
        let (m, s) = (&self.models, &self.services);
        [
            cols(models, [&m.id, &m.model_id, &m.version, &m.status]),
            cols(services, [&s.id, &s.service_id, &s.model_id, &s.model_version]),
        ]
    }
}

/// rehearse's own complete backup of a table, made by `01_backup.sql`. Never the guide's name:
/// an operator who ran the guide's export script (Step 1, Option B) has the guide's incomplete
/// copies under the guide's names, and they must neither pass for rehearse's nor stop it
/// (ROLLBACK.md §7b).
pub fn rehearse_backup(table: &TableName) -> TableName {
    TableName::new(&table.schema, &format!("{}_rehearse_backup", table.name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_guide_spec_round_trips_through_toml() {
        let spec = Spec::guide();
        assert_eq!(spec.drop.models_columns, ["version_status", "release_notes", "is_immutable"]);
        let again: Spec = toml::from_str(&toml::to_string(&spec).unwrap()).unwrap();
        assert_eq!(again, spec);
    }

    #[test]
    fn unknown_keys_are_refused_with_their_line() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("spec.toml");
        std::fs::write(&file, Spec::guide_text().replace("release_notes = \"release_notes\"", "release_notez = \"x\""))
            .unwrap();
        let error = Spec::from_file(&file).unwrap_err().to_string();
        assert!(error.contains("spec.toml:"), "{error}");
    }
}
