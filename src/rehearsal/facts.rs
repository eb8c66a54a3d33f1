//! What the rehearsal establishes once and the hazard rules read: the models rows with both
//! policies' keepers, the deletes, what each service ends up serving, the foreign keys' effects
//! and the DDL replay.

use super::ddl_replay::Replay;
use super::effects::Blocker;
use super::policy::{Choice, VersionRow};
use crate::catalog::{Catalog, Table, TableName};
use crate::plan::Step;
use crate::plan::{CascadeRow, ServiceImpact, Shared};
use crate::spec::Spec;
use crate::terms::Policy;
use duckdb::Connection;
use std::collections::{BTreeSet, HashSet};

/// A models row with what the reports need besides the policy's columns.
#[derive(Debug, Clone, Default)]
pub struct ModelRow {
    pub rid: i64,
    pub row: VersionRow,
    pub immutable: Option<bool>,
    pub published: Option<bool>,
    pub notes: Option<String>,
}

/// Both policies' keeper of one `model_id` group.
#[derive(Debug, Clone)]
pub struct GroupChoice {
    /// Indexes of the group's rows in the models rows.
    pub members: Vec<usize>,
    pub documented: Choice,
    pub legacy: Choice,
    /// Whether another collation than the chosen one (when the export does not say which)
    /// would make legacy keep another row.
    pub collation_sensitive: bool,
}

impl GroupChoice {
    pub fn chosen(&self, policy: Policy) -> &Choice {
        match policy {
            Policy::Documented => &self.documented,
            Policy::Legacy => &self.legacy,
        }
    }
    /// The index of the policy's keeper in the models rows.
    pub fn keeper(&self, policy: Policy) -> usize {
        self.members[self.chosen(policy).keeper]
    }
}

/// What a service serves afterwards, with what the services rules read besides.
#[derive(Debug, Clone)]
pub struct ServiceFact {
    pub impact: ServiceImpact,
    /// Its model_id has a models row.
    pub known_model: bool,
    /// That models row's versions include its pin.
    pub pin_existed: bool,
}

impl ServiceFact {
    /// How reports name it: its service_id, or its id.
    pub fn key(&self) -> &str {
        self.impact.service_id.as_deref().unwrap_or(&self.impact.id)
    }
}

/// Everything the rules read, gathered once by the engine.
pub struct Facts<'a> {
    pub conn: &'a Connection,
    pub catalog: &'a Catalog,
    pub spec: &'a Spec,
    pub policy: Policy,
    pub models: &'a Table,
    pub services: &'a Table,
    pub models_table: &'a Shared,
    pub services_table: &'a Shared,
    pub loaded: &'a BTreeSet<TableName>,
    pub steps: &'a [Step],
    pub rows: &'a [ModelRow],
    pub choices: &'a [GroupChoice],
    /// The rowids of the models rows the rollback deletes.
    pub deleted_models: &'a BTreeSet<i64>,
    pub services_after: &'a [ServiceFact],
    pub cascade: &'a [CascadeRow],
    pub blockers: &'a [Blocker],
    pub replay: &'a Replay,
    /// model_ids with several rows after the rollback (V2's count).
    pub duplicates: u64,
}

/// `"text"` or NULL, as the details print a value.
pub fn show(value: &Option<String>) -> String {
    match value {
        Some(v) => format!("{v:?}"),
        None => "NULL".into(),
    }
}

/// Hands out one shared copy of each distinct text (table names, foreign keys, H9 details).
#[derive(Default)]
pub struct Interner(HashSet<Shared>);

impl Interner {
    pub fn get(&mut self, text: &str) -> Shared {
        if let Some(shared) = self.0.get(text) {
            return shared.clone();
        }
        let shared: Shared = text.into();
        self.0.insert(shared.clone());
        shared
    }
}
