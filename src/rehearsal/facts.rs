//! What the rehearsal establishes once and the hazard rules read: the models rows with both
//! policies' keepers, the deletes, what each service ends up serving, the foreign keys' effects
//! and the DDL replay.

use super::ddl_replay::Replay;
use super::effects::Blocker;
use super::policy::{Choice, VersionRow};
use crate::catalog::{Catalog, Table, TableName};
pub use crate::plan::RidBits;
use crate::plan::Step;
use crate::plan::{CascadeRows, ServiceImpact, Shared, StoredRows, TableRef};
use crate::spec::Spec;
use crate::terms::{HazardCode, Policy};
use std::collections::{BTreeSet, HashMap, HashSet};
use std::hash::Hash;
use std::sync::{Mutex, MutexGuard, OnceLock};

/// A models row with what the reports need besides the policy's columns.
#[derive(Debug, Clone, Default)]
pub struct ModelRow {
    /// Its rowid, in 32 bits as its place is (a row of 64 bytes, not 72: a 5.4 GB export has
    /// 1.6 million).
    pub rid: u32,
    pub row: VersionRow,
    pub immutable: Option<bool>,
    pub published: Option<bool>,
    /// One shared text per distinct note (versions often repeat their notes).
    pub notes: Option<Shared>,
}

const _: () = assert!(std::mem::size_of::<ModelRow>() == 64);

/// A group's rows: a run of the models rows, which lie grouped by model_id. In 8 bytes, not a
/// list of its own: a 4 GB export has 200 000 groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Members {
    first: u32,
    len: u32,
}

impl Members {
    /// The `len` rows from index `first` on; the models rows number at most `u32::MAX` (as
    /// `keepers::place` checks).
    pub fn new(first: usize, len: usize) -> Members {
        Members { first: first as u32, len: len as u32 }
    }

    /// The index of the group's first row in the models rows.
    pub fn first(self) -> usize {
        self.first as usize
    }

    /// The index of the group's `i`th row in the models rows.
    pub fn get(self, i: usize) -> usize {
        self.first() + i
    }

    /// The indexes of the group's rows in the models rows.
    pub fn iter(self) -> std::ops::Range<usize> {
        self.first()..self.first() + self.len as usize
    }
}

/// Both policies' keeper of one `model_id` group.
#[derive(Debug, Clone)]
pub struct GroupChoice {
    pub members: Members,
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
        self.members.get(self.chosen(policy).keeper)
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
    /// How reports name it (see `ServiceImpact::key`).
    pub fn key(&self) -> &Shared {
        &self.impact.key
    }
}

/// Everything the rules read, gathered once by the engine (the rules that query the workspace
/// get its connection besides).
pub struct Facts<'a> {
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
    pub deleted_models: &'a RidBits,
    pub cascade: &'a CascadeRows,
    pub blockers: &'a [Blocker],
    pub replay: &'a Replay,
    /// model_ids with several rows after the rollback (V2's count).
    pub duplicates: u64,
    /// The order the models rows' hazards are listed in, made on first use by `models_order`.
    pub models_order: OnceLock<ModelsOrder<'a>>,
    /// Whether a models row has a NULL model_id, found on first use by `any_null_model_id`.
    pub null_model_id: OnceLock<bool>,
    /// The tables the rules' rows name.
    pub tables: &'a TableRefs,
}

impl<'a> Facts<'a> {
    /// The models table, as hazard rows name it.
    pub fn models_ref(&self) -> TableRef {
        self.tables.get(self.models_table)
    }

    /// The services table, as hazard rows name it.
    pub fn services_ref(&self) -> TableRef {
        self.tables.get(self.services_table)
    }

    pub fn models_order(&self) -> &ModelsOrder<'a> {
        self.models_order.get_or_init(|| ModelsOrder::new(self.rows, self.deleted_models))
    }

    pub fn any_null_model_id(&self) -> bool {
        *self.null_model_id.get_or_init(|| self.rows.iter().any(|r| r.row.model_id.is_none()))
    }
}

/// The models rows' hazards are listed by id (byte order), rows of one id in their order in the
/// models rows. Rules scan the rows in their order (they lie in memory that way) and sort what
/// they find by `rank`.
pub struct ModelsOrder<'a> {
    /// The models rows; a row's id is the key of its hazard rows.
    rows: &'a [ModelRow],
    /// Each models row's place in id order.
    rank: Vec<u32>,
    /// Whether the rollback deletes it.
    pub deleted: Vec<bool>,
}

impl<'a> ModelsOrder<'a> {
    /// `deleted` holds the rowids the rollback deletes.
    pub fn new(rows: &'a [ModelRow], deleted: &RidBits) -> Self {
        // Most ids differ in their first 8 bytes: sorting those as integers spares reading the
        // texts, which lie all over the heap.
        let mut order: Vec<(u64, usize)> = rows.iter().map(|r| r.row.id.prefix()).zip(0..).collect();
        order.sort_unstable_by(|a, b| {
            a.0.cmp(&b.0).then_with(|| rows[a.1].row.id.cmp(&rows[b.1].row.id)).then(a.1.cmp(&b.1))
        });
        let mut rank = vec![0; rows.len()];
        for (place, (_, index)) in order.into_iter().enumerate() {
            rank[index] = place as u32;
        }
        ModelsOrder { rows, rank, deleted: rows.iter().map(|r| deleted.contains(r.rid.into())).collect() }
    }

    /// A hazard of the models row at `index`, found while scanning the rows, to be sorted.
    pub fn found(&self, index: usize, detail: Shared) -> Found {
        Found { place: self.rank[index], index: index as u32, detail }
    }

    /// The models rows that `select` picks, each with its `detail`, to be sorted: in a list of
    /// exactly their number, counted first (on a large export two rules find nearly a million rows
    /// each at once, and lists that double as they grow would hold half as much again, then
    /// copy it).
    pub fn found_where(
        &self,
        select: impl Fn(&'a ModelRow, bool) -> bool,
        mut detail: impl FnMut(&'a ModelRow, bool) -> Shared,
    ) -> Vec<Found> {
        let picked = || self.rows.iter().zip(&self.deleted).enumerate().filter(|(_, (r, &deleted))| select(r, deleted));
        let mut found = Vec::with_capacity(picked().count());
        found.extend(picked().map(|(i, (r, &deleted))| self.found(i, detail(r, deleted))));
        found
    }

    /// The hazard rows found for models rows, in their listing order, stored as the plan keeps
    /// them: on a large export a rule finds millions.
    pub fn sorted(&self, code: HazardCode, table: TableRef, mut found: Vec<Found>) -> crate::Result<ByKey> {
        found.sort_unstable_by_key(|f| f.place);
        let rows = found.len();
        let labelled = found.into_iter().map(|f| (table, f.detail, &self.rows[f.index as usize].row.id));
        Ok(ByKey { code, rows: StoredRows::write_labelled(rows, labelled)? })
    }
}

/// Hazard rows of `code` in key order by construction (`ModelsOrder::sorted` stores them), which
/// the rules need not check: the check alone reads every key, a cache miss each on a large
/// export.
pub struct ByKey {
    code: HazardCode,
    rows: StoredRows,
}

impl ByKey {
    /// The rows, when they are of `code`.
    pub fn into_rows_of(self, code: HazardCode) -> Result<StoredRows, String> {
        match self.code == code {
            true => Ok(self.rows),
            false => Err(format!("rows of {} given as the rows of {code}", self.code)),
        }
    }

    /// Each row's key and detail, for tests.
    #[cfg(test)]
    pub fn listed(&self) -> Vec<[String; 2]> {
        self.rows.listed()
    }
}

/// A models row's hazard as a rule finds it: the row's place in id order, the row and the
/// detail, in 16 bytes.
pub struct Found {
    place: u32,
    index: u32,
    detail: Shared,
}

/// `"text"` or NULL, as the details print a value.
pub fn show(value: &Option<impl AsRef<str>>) -> String {
    match value {
        Some(v) => format!("{:?}", v.as_ref()),
        None => "NULL".into(),
    }
}

/// The hash of the rehearsal's maps and sets keyed by texts: randomly seeded as std's is,
/// and several times faster on short texts.
pub type FastHash = foldhash::fast::RandomState;

/// One shared text per distinct key, made on the key's first use (a detail that depends on a
/// version or a status only).
pub struct TextsBy<K>(HashMap<K, Shared, FastHash>);

impl<K> Default for TextsBy<K> {
    fn default() -> Self {
        TextsBy(HashMap::default())
    }
}

impl<K: Eq + Hash> TextsBy<K> {
    pub fn get(&mut self, key: K, text: impl FnOnce() -> String) -> Shared {
        self.0.entry(key).or_insert_with(|| text().into()).clone()
    }
}

/// The tables that hazard rows name, each given its `TableRef` on first use (a rule asks once
/// per table, or once per run of rows of one table).
#[derive(Default)]
pub struct TableRefs(Mutex<Vec<Shared>>);

impl TableRefs {
    pub fn get(&self, table: &str) -> TableRef {
        let mut tables = self.tables();
        let place = tables.iter().position(|t| **t == *table).unwrap_or_else(|| {
            tables.push(table.into());
            tables.len() - 1
        });
        TableRef(place as u32)
    }

    /// The tables, by their `TableRef`.
    pub fn take(&self) -> Vec<Shared> {
        std::mem::take(&mut self.tables())
    }

    /// Rules on two threads ask for theirs.
    fn tables(&self) -> MutexGuard<'_, Vec<Shared>> {
        self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Hands out one shared copy of each distinct text (table names, foreign keys, H9 details).
#[derive(Default)]
pub struct Interner(HashSet<Shared, FastHash>);

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rehearsal::rules::sample::{model, table};

    #[test]
    fn models_rows_listed_by_id_in_byte_order_rows_of_one_id_as_found() {
        // Uuids, held as their bytes, among other texts.
        let ids = [
            "b",
            "abcdefgh2",
            "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f1",
            "abcdefgh10",
            "",
            "b",
            "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
            "B",
            "0f1e2d3c",
            "abcdefgh",
        ];
        let mut models: Vec<ModelRow> = (0..ids.len() as u32).map(|rid| model(rid * 70, "m", None, "x")).collect();
        for (r, id) in models.iter_mut().zip(ids) {
            r.row.id = id.into();
        }
        let deleted = RidBits::from_iter([70, 280, 420, 70]);
        assert_eq!(deleted.count(), 3, "a rowid counted once");
        let order = ModelsOrder::new(&models, &deleted);
        assert_eq!(order.deleted, [false, true, false, false, true, false, true, false, false, false]);
        let found = (0..ids.len()).rev().map(|i| order.found(i, i.to_string().into())).collect();
        let sorted = order.sorted(HazardCode::H12, table(), found).unwrap();
        let expected = [
            ["", "4"],
            ["0f1e2d3c", "8"],
            ["0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0", "6"],
            ["0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f1", "2"],
            ["B", "7"],
            ["abcdefgh", "9"],
            ["abcdefgh10", "3"],
            ["abcdefgh2", "1"],
            ["b", "0"],
            ["b", "5"],
        ];
        assert_eq!(sorted.listed(), expected);
        assert!(sorted.into_rows_of(HazardCode::H11).unwrap_err().contains("rows of H12 given as the rows of H11"));
    }
}
