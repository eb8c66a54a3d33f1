//! The plan: the one result of a rehearsal. Every row that the rollback deletes, changes or
//! keeps, and why; every hazard with its rows; the verification outcome. Reports render it for
//! people and machines, scripts render it for PostgreSQL; nothing downstream recomputes it.

use crate::catalog::objects::SchemaObject;
use crate::catalog::{quote_ident, TableName};
use crate::row_id::{IdText, RowId};
use crate::shared::taken_fetched_ahead;
use crate::spill::{self, Batch, Reader, Spill};
use crate::stored_list::{Listed, StoredList};
use crate::terms::{HazardCode, Policy};
// Re-exported where callers (and the tests) have always named it.
pub use crate::terms::Mode;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::ops::Range;

/// Text shared between rows: a table name, a foreign key, a keeper or a reason is named by
/// thousands of rows of a large export, and is held once. Behind a one-word pointer (an
/// `Arc<str>` takes two): a hazard row holds three, and a 2 GB export has millions of them.
pub use crate::shared::Shared;

/// The models and services rows up to which the steps that can run side by side do (the
/// fingerprint and the keepers' places, the scripts' checks); past them their memory would add
/// up, and they run one after the other. Run peaks side by side (one after the other): the
/// 2 163 MB benchmark dump's 833 000 rows 414-421 MiB (327-334), 0.6 s faster; at 900 000 rows
/// 438-451 MiB in the benchmark's shape and 412-420 in issue 17's; at 1 000 000 490-492 MiB
/// (354-366) and 417-469.
const SIDE_BY_SIDE_ROWS: u64 = 900_000;

/// Whether a rehearsal of `models_and_services` rows runs its steps side by side.
pub fn runs_side_by_side(models_and_services: u64) -> bool {
    models_and_services <= SIDE_BY_SIDE_ROWS
}

#[derive(Debug, Clone)]
pub struct KeptVersion {
    pub id: RowId,
    /// Shared by the versions of one model.
    pub model_id: Option<Shared>,
    /// One shared text per distinct version.
    pub version: Option<Shared>,
    /// One shared text per distinct status.
    pub version_status: Option<Shared>,
    pub reason: Shared,
}

/// A deleted models row, in 64 bytes: what its group keeps instead is named once per group,
/// by the plan's `keepers` (a 4.3 GB export deletes a million rows).
#[derive(Debug, Clone)]
pub struct DeletedVersion {
    pub id: RowId,
    pub model_id: Option<Shared>,
    /// One shared text per distinct version.
    pub version: Option<Shared>,
    pub version_status: Option<Shared>,
    pub release_notes: Option<Shared>,
    pub is_immutable: Option<bool>,
    pub is_published: Option<bool>,
    /// The row its group keeps, deleted itself through a foreign key.
    pub is_keeper: bool,
    /// Its group's place in the plan's `keepers`.
    pub keeper: u32,
}

impl DeletedVersion {
    /// The version kept instead, among the plan's `keepers`, and why this one is gone.
    pub fn kept_instead<'a>(&self, keepers: &'a [Keeper]) -> (&'a Keeper, &'a str) {
        let keeper = &keepers[self.keeper as usize];
        (keeper, if self.is_keeper { DELETED_THROUGH_FOREIGN_KEY } else { &keeper.reason })
    }
}

/// What a group with deleted rows keeps, as those rows name it.
#[derive(Debug, Clone)]
pub struct Keeper {
    pub id: RowId,
    pub version: Option<Shared>,
    /// Why the group's other rows are deleted: the policy keeps this one.
    pub reason: Shared,
}

/// Why a keeper that a foreign key deletes is gone.
pub const DELETED_THROUGH_FOREIGN_KEY: &str = "deleted through a foreign key";

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ServiceAction {
    Repointed,
    Unchanged,
    Orphan,
    Deleted,
}

impl ServiceAction {
    pub const ALL: [ServiceAction; 4] =
        [ServiceAction::Repointed, ServiceAction::Unchanged, ServiceAction::Orphan, ServiceAction::Deleted];

    /// The action `name` names.
    pub fn named(name: &str) -> Option<ServiceAction> {
        ServiceAction::ALL.into_iter().find(|action| action.name() == name)
    }

    pub fn name(self) -> &'static str {
        match self {
            ServiceAction::Repointed => "repointed",
            ServiceAction::Unchanged => "unchanged",
            ServiceAction::Orphan => "orphan",
            ServiceAction::Deleted => "deleted",
        }
    }
}

#[derive(Debug, Clone)]
pub struct ServiceImpact {
    /// How reports and hazard rows name it: its service_id, or its id when it has none (its id
    /// is not kept beside a service_id: a text less for every service).
    pub key: Shared,
    pub service_id: Option<Shared>,
    /// One shared text per distinct name.
    pub name: Option<Shared>,
    /// Shared with its model's rows when it has some.
    pub model_id: Option<Shared>,
    /// One shared text per distinct version pinned.
    pub model_version_before: Option<Shared>,
    /// Shared by the services of one model.
    pub model_version_after: Option<Shared>,
    pub action: ServiceAction,
}

/// A service as the plan keeps it (on disk: `Plan::services`).
impl Listed for ServiceImpact {
    const FIELDS: usize = 7;
    type View<'a> = ServiceView<'a>;

    fn fields(&self) -> impl Iterator<Item = Option<&str>> {
        [
            Some(&*self.key),
            self.service_id.as_deref(),
            self.name.as_deref(),
            self.model_id.as_deref(),
            self.model_version_before.as_deref(),
            self.model_version_after.as_deref(),
            Some(self.action.name()),
        ]
        .into_iter()
    }

    fn view<'a>(fields: &[Option<&'a str>]) -> Option<ServiceView<'a>> {
        Some(ServiceView {
            key: fields[0]?,
            service_id: fields[1],
            name: fields[2],
            model_id: fields[3],
            model_version_before: fields[4],
            model_version_after: fields[5],
            action: ServiceAction::named(fields[6]?)?,
        })
    }
}

/// A service read back from the plan, its texts borrowed from its batch.
#[derive(Debug, Clone, Copy)]
pub struct ServiceView<'a> {
    /// As `ServiceImpact::key`.
    pub key: &'a str,
    pub service_id: Option<&'a str>,
    pub name: Option<&'a str>,
    pub model_id: Option<&'a str>,
    pub model_version_before: Option<&'a str>,
    pub model_version_after: Option<&'a str>,
    pub action: ServiceAction,
}

/// What a foreign key did to rows of a table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CascadeEffect {
    pub table: Shared,
    /// `deleted`, `set null` or `set default`.
    pub action: Shared,
    /// The foreign key (and the table it points to) that did it.
    pub via: Shared,
}

/// A cascade row read from the plan; its key is read back from the spill for its batch only.
#[derive(Debug, Clone, Copy)]
pub struct CascadeView<'a> {
    pub table: &'a Shared,
    pub key: &'a str,
    pub action: &'a Shared,
    pub via: &'a Shared,
}

/// A cascade row as texts of its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CascadeText {
    pub table: String,
    pub key: String,
    pub action: String,
    pub via: String,
}

/// A row of the run being made: where its key lies among the run's key blocks, and its
/// effect's place.
#[derive(Debug, Clone)]
struct PendingRow {
    block: u32,
    start: u32,
    len: u32,
    effect: u32,
}

/// The keys of the run being made, in blocks that are filled and never moved: a list that doubled
/// as it grew would hold up to twice the keys (a 5.4 GB export's largest run has 31 MB of them),
/// and copy them each time.
#[derive(Debug, Clone, Default)]
struct KeyBlocks(Vec<Vec<u8>>);

/// The room of a key block; a longer key has a block of its own.
const KEY_BLOCK: usize = 1 << 20;

impl KeyBlocks {
    /// Adds `key`, returning its block and where it starts there.
    fn push(&mut self, key: &[u8]) -> (u32, u32) {
        let fits = self.0.last().is_some_and(|block| block.capacity() - block.len() >= key.len());
        if !fits {
            self.0.push(Vec::with_capacity(KEY_BLOCK.max(key.len())));
        }
        let block = self.0.last_mut().expect("a block");
        let start = block.len();
        block.extend_from_slice(key);
        ((self.0.len() - 1) as u32, start as u32)
    }

    fn get(&self, row: &PendingRow) -> &[u8] {
        &self.0[row.block as usize][row.start as usize..(row.start + row.len) as usize]
    }
}

/// The rows other tables lose or see changed through foreign keys, and their effects. A 5 GB
/// export has over a million, each named by its key's text (64 bytes each in memory): they are
/// made a table at a time, sorted and spilled to disk, and read back while the reports are
/// written.
#[derive(Debug, Clone, Default)]
pub struct CascadeRows {
    effects: Vec<CascadeEffect>,
    /// How many rows each effect has, by its place.
    per_effect: Vec<u64>,
    /// The run being made: its keys, and its rows.
    pending_keys: KeyBlocks,
    pending: Vec<PendingRow>,
    spill: Spill,
    /// Where each run's records lie in the spill, in order: a record is a row's effect and key.
    runs: Vec<Range<u64>>,
    len: usize,
}

/// A row of `CascadeRows::merged`: a cascade row, or the row at this place among the others.
#[derive(Debug, Clone, Copy)]
pub enum Merged<'a> {
    Cascade { effect: u32, key: &'a str },
    Other(usize),
}

/// Rows handed to a writer at once: the first look at a row's texts waits on memory (they lie
/// all over the heap), and taken for a batch of rows before any is written, the waits overlap;
/// rows read back from a spill borrow their batch's texts.
pub const BATCH: usize = 64;

/// Hands `items` to `each`, `BATCH` at a time.
pub fn in_batches<T, E>(
    mut items: impl Iterator<Item = T>,
    mut each: impl FnMut(&[T]) -> Result<(), E>,
) -> Result<(), E> {
    let mut batch = Vec::with_capacity(BATCH);
    loop {
        batch.clear();
        batch.extend(items.by_ref().take(BATCH));
        if batch.is_empty() {
            return Ok(());
        }
        each(&batch)?;
    }
}

impl CascadeRows {
    /// The place of an effect, given one on first use.
    pub fn effect(&mut self, effect: CascadeEffect) -> u32 {
        let place = self.effects.iter().position(|e| *e == effect).unwrap_or_else(|| {
            self.effects.push(effect);
            self.per_effect.push(0);
            self.effects.len() - 1
        });
        place as u32
    }

    /// Room for `rows` more rows in the run being made.
    pub fn reserve(&mut self, rows: usize) {
        self.pending.reserve_exact(rows);
    }

    /// A row of the run being made, with the effect at `effect`; a key of 4 GiB or more is
    /// refused.
    pub fn push(&mut self, key: &str, effect: u32) -> crate::Result<()> {
        let len = u32::try_from(key.len())
            .map_err(|_| crate::Error::Internal(format!("a cascade row's key of {} bytes", key.len())))?;
        let (block, start) = self.pending_keys.push(key.as_bytes());
        self.pending.push(PendingRow { block, start, len, effect });
        Ok(())
    }

    /// Ends the run of the rows pushed since the last: sorts them by key, then foreign key,
    /// then action, and spills them. Returns how many it has.
    pub fn end_run(&mut self) -> crate::Result<usize> {
        let (keys, effects) = (&self.pending_keys, &self.effects);
        let order = |row: &PendingRow| {
            let effect = &effects[row.effect as usize];
            (keys.get(row), effect.via.as_bytes(), effect.action.as_bytes())
        };
        self.pending.sort_unstable_by(|a, b| order(a).cmp(&order(b)));
        let spill = std::mem::take(&mut self.spill);
        let mut records = spill::Writer::new(spill, KEY_BLOCK * keys.0.len() + 8 * self.pending.len());
        for row in &self.pending {
            records.push(row.effect, keys.get(row)).map_err(spill::failed)?;
            self.per_effect[row.effect as usize] += 1;
        }
        let run;
        (self.spill, run) = records.finish().map_err(spill::failed)?;
        self.runs.extend(run);
        let rows = self.pending.len();
        self.len += rows;
        (self.pending, self.pending_keys) = (Vec::new(), KeyBlocks::default());
        Ok(rows)
    }

    /// The effects the rows name, by their place.
    pub fn effects(&self) -> &[CascadeEffect] {
        &self.effects
    }

    /// How many rows the effect at `effect` has.
    pub fn rows_of(&self, effect: usize) -> u64 {
        self.per_effect[effect]
    }

    /// Hands every row to `each` in order, a batch at a time: each table's rows by key.
    pub fn batches<E: From<crate::Error>>(
        &self,
        mut each: impl FnMut(&[CascadeView<'_>]) -> Result<(), E>,
    ) -> Result<(), E> {
        let all = self.runs.first().map_or(0, |r| r.start)..self.runs.last().map_or(0, |r| r.end);
        self.spill.batches(all, BATCH, |batch| {
            let views: Vec<CascadeView> = batch
                .read()?
                .map(|(effect, key)| {
                    let effect = &self.effects[effect as usize];
                    CascadeView { table: &effect.table, key, action: &effect.action, via: &effect.via }
                })
                .collect();
            each(&views)
        })
    }

    /// The rows of the effects `listed` picks and the rows whose keys `others` gives (in key
    /// order, rows of one key in their order), handed to `each` a batch at a time in the order a
    /// stable sort by key gives the picked rows in their order followed by the others.
    pub fn merged<E: From<crate::Error>>(
        &self,
        listed: impl Fn(u32) -> bool,
        others: &[&str],
        mut each: impl FnMut(&[Merged<'_>]) -> Result<(), E>,
    ) -> Result<(), E> {
        let mut runs: Vec<Reader> = self.runs.iter().map(|r| self.spill.reader(r.clone())).collect();
        let mut next_other = 0;
        let mut batch = Batch::default();
        let mut order: Vec<Option<usize>> = Vec::with_capacity(BATCH);
        loop {
            while order.len() < BATCH {
                // The least key among the runs' next rows (the first run's of equal ones).
                let mut least: Option<(usize, &[u8])> = None;
                for (at, run) in runs.iter_mut().enumerate() {
                    while let Some((effect, _)) = run.peek().map_err(spill::failed)? {
                        if listed(effect) {
                            break;
                        }
                        run.advance();
                    }
                    if let Some((_, key)) = run.peek().map_err(spill::failed)? {
                        if least.is_none_or(|(_, least)| key < least) {
                            least = Some((at, key));
                        }
                    }
                }
                let other = others.get(next_other).map(|key| key.as_bytes());
                let cascade_first = match (least, other) {
                    (Some((_, key)), Some(other)) => key <= other,
                    (least, _) => least.is_some(),
                };
                if let (true, Some((at, _))) = (cascade_first, least) {
                    let (effect, key) = runs[at].peek().map_err(spill::failed)?.expect("the row just read");
                    batch.push(effect, key);
                    runs[at].advance();
                    order.push(None);
                } else if other.is_some() {
                    order.push(Some(next_other));
                    next_other += 1;
                } else {
                    break;
                }
            }
            if order.is_empty() {
                return Ok(());
            }
            {
                let mut cascade = batch.read()?;
                let rows: Vec<Merged> = order
                    .iter()
                    .map(|other| match other {
                        Some(at) => Merged::Other(*at),
                        None => {
                            let (effect, key) = cascade.next().expect("a cascade row for each");
                            Merged::Cascade { effect, key }
                        }
                    })
                    .collect();
                each(&rows)?;
            }
            order.clear();
            batch.clear();
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

#[derive(Debug, Clone)]
pub struct Divergence {
    pub model_id: Option<String>,
    pub documented_id: String,
    pub documented_version: Option<Shared>,
    pub legacy_id: String,
    pub legacy_version: Option<Shared>,
}

/// A hazard row's table, as its place among the tables of the rows' `Hazards`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TableRef(pub u32);

/// A hazard row as a rule finds it.
#[derive(Debug, Clone)]
pub struct HazardRow {
    pub code: HazardCode,
    /// A few tables name millions of rows: each is held once, by the plan's `Hazards`.
    pub table: TableRef,
    /// Shared with the cascade row an H9 row names.
    pub key: Shared,
    pub detail: Shared,
}

/// A hazard row as its rule's list holds it until the plan stores it, in 16 bytes: its code is
/// its list's, and its table and detail one of the few labels its list names (`Labels`). A rule
/// of a 5.4 GB export finds over a million.
#[derive(Debug, Clone)]
pub struct HeldRow {
    pub key: Shared,
    label: u32,
}

impl HeldRow {
    /// A row whose table and detail are the label at `label` among its list's `Labels`.
    pub fn new(key: Shared, label: u32) -> HeldRow {
        HeldRow { key, label }
    }
}

/// The tables and details of one code's rows, each pair given its place on first use: rows of
/// one table that share a detail's text share a place (an equal text of its own gets a place of
/// its own).
#[derive(Default)]
pub struct Labels {
    labels: Vec<(TableRef, Shared)>,
    places: HashMap<(u32, *const u8), u32, foldhash::fast::RandomState>,
    /// Rows in a run often share their label: the last one is looked up first.
    last: Option<((u32, *const u8), u32)>,
}

impl Labels {
    pub fn place(&mut self, table: TableRef, detail: Shared) -> u32 {
        let at = (table.0, detail.as_ptr());
        match self.last {
            Some((label, place)) if label == at => place,
            _ => {
                let labels = &mut self.labels;
                let place = *self.places.entry(at).or_insert_with(|| {
                    labels.push((table, detail));
                    (labels.len() - 1) as u32
                });
                self.last = Some((at, place));
                place
            }
        }
    }
}

/// One code's rows as its rule found them, in their order, and the tables and details they name;
/// and the cascade's rows it lists besides (H9's), which stay in the cascade. The plan stores
/// them on disk (`StoredRows::write`).
#[derive(Debug, Clone, Default)]
pub struct CodeRows {
    rows: Vec<HeldRow>,
    labels: Vec<(TableRef, Shared)>,
    /// By the cascade's effects: the table and detail of each one's rows, when listed.
    cascade: Vec<Option<(TableRef, Shared)>>,
    cascade_rows: usize,
}

impl CodeRows {
    /// Rows and the labels they name.
    pub fn new(rows: Vec<HeldRow>, labels: Labels) -> CodeRows {
        CodeRows { rows, labels: labels.labels, ..CodeRows::default() }
    }

    /// These rows and the cascade's rows of the effects `by_effect` names (with their table and
    /// detail), `cascade_rows` in all.
    pub fn listing_cascade(self, by_effect: Vec<Option<(TableRef, Shared)>>, cascade_rows: usize) -> CodeRows {
        CodeRows { cascade: by_effect, cascade_rows, ..self }
    }

    /// The rows a rule found for `code`, held in their place.
    pub fn hold(code: HazardCode, rows: Vec<HazardRow>) -> Result<CodeRows, String> {
        if let Some(other) = rows.iter().find(|r| r.code != code) {
            return Err(format!("a row of {} among the rows of {code}", other.code));
        }
        let mut labels = Labels::default();
        // Collected in the rule's own list (a row takes less room than it did).
        let rows = rows.into_iter().map(|row| HeldRow::new(row.key, labels.place(row.table, row.detail))).collect();
        Ok(CodeRows::new(rows, labels))
    }

    pub fn len(&self) -> usize {
        self.rows.len() + self.cascade_rows
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A hazard row as texts of its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HazardText {
    pub code: HazardCode,
    pub table: String,
    pub key: String,
    pub detail: String,
}

/// A hazard row read from the plan.
#[derive(Debug, Clone, Copy)]
pub struct HazardView<'a> {
    pub code: HazardCode,
    pub table: &'a Shared,
    pub key: &'a str,
    pub detail: &'a Shared,
}

/// Every hazard row, in code order: each code's rows by key (rows of one key in the order
/// found), on disk (`StoredRows`): a 5.4 GB export has three and a half million.
#[derive(Debug, Clone, Default)]
pub struct Hazards {
    /// By the code's place in `HazardCode::ALL`.
    by_code: [StoredRows; HazardCode::ALL.len()],
    /// The tables the rows name, by their `TableRef`.
    tables: Vec<Shared>,
}

/// One code's rows as the plan keeps them: each a record in a spill, its label's place (its
/// table and detail) and its key, read back a batch at a time; and the cascade's rows it lists
/// besides (H9's), which stay in the cascade.
#[derive(Debug, Clone, Default)]
pub struct StoredRows {
    spill: Spill,
    records: Range<u64>,
    rows: usize,
    /// Each label's table and detail, by place (`Labels`): a code's rows name few.
    labels: Vec<(TableRef, Shared)>,
    /// By the cascade's effects: the table and detail of each one's rows, when listed.
    cascade: Vec<Option<(TableRef, Shared)>>,
    cascade_rows: usize,
}

impl StoredRows {
    /// Writes `rows` to a spill of their own (none when there are none), freeing them as they
    /// go.
    pub fn write(rows: CodeRows) -> crate::Result<StoredRows> {
        let CodeRows { rows: held, labels, cascade, cascade_rows } = rows;
        // Each key is read, then freed: both wait on memory, as the keys lie all over the heap.
        let rows = held.len();
        let keyed = taken_fetched_ahead(held, |row| &row.key).map(|row| (row.label, row.key));
        let stored = StoredRows::written(rows, keyed)?;
        Ok(StoredRows { labels, cascade, cascade_rows, ..stored })
    }

    /// Writes the `rows` rows of `labelled`, each its table, detail and key, to a spill of their
    /// own, their labels numbered as they come.
    pub fn write_labelled<'a>(
        rows: usize,
        labelled: impl Iterator<Item = (TableRef, Shared, &'a RowId)>,
    ) -> crate::Result<StoredRows> {
        let mut labels = Labels::default();
        let stored =
            StoredRows::written(rows, labelled.map(|(table, detail, key)| (labels.place(table, detail), key)))?;
        Ok(StoredRows { labels: labels.labels, ..stored })
    }

    /// The `rows` rows of `keyed`, each its label's place and key, in a spill of their own (none
    /// when there are none); their labels are the caller's to set.
    fn written<K: StoredKey>(rows: usize, keyed: impl Iterator<Item = (u32, K)>) -> crate::Result<StoredRows> {
        let mut stored = StoredRows { rows, ..StoredRows::default() };
        let mut records = spill::Writer::new(Spill::default(), 48 * stored.rows);
        for (label, key) in keyed {
            records.push(label, key.text().as_bytes()).map_err(spill::failed)?;
        }
        let (spill, records) = records.finish().map_err(spill::failed)?;
        (stored.spill, stored.records) = (spill, records.unwrap_or(0..0));
        Ok(stored)
    }

    /// Each row's key and detail, for tests.
    #[cfg(test)]
    pub fn listed(&self) -> Vec<[String; 2]> {
        let mut listed = Vec::new();
        let read = self.spill.batches(self.records.clone(), BATCH, |batch| -> crate::Result<()> {
            listed.extend(batch.read()?.map(|(label, key)| [key.to_string(), self.label(label).1.to_string()]));
            Ok(())
        });
        read.unwrap();
        listed
    }

    /// The table and detail of the label at `place`.
    fn label(&self, place: u32) -> &(TableRef, Shared) {
        &self.labels[place as usize]
    }

    /// Every row, the cascade's it lists included.
    pub fn len(&self) -> usize {
        self.rows + self.cascade_rows
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A stored row's key: a hazard row's text, or the id of the models row it names.
trait StoredKey {
    fn text(&self) -> IdText<'_>;
}

impl StoredKey for Shared {
    fn text(&self) -> IdText<'_> {
        IdText::from(&**self)
    }
}

impl StoredKey for &RowId {
    fn text(&self) -> IdText<'_> {
        RowId::text(self)
    }
}

impl Hazards {
    /// No rows yet; `tables` are those their `TableRef`s name.
    pub fn naming(tables: Vec<Shared>) -> Self {
        Hazards { tables, ..Hazards::default() }
    }

    /// Sets the rows of `code`, in their order.
    pub fn set(&mut self, code: HazardCode, rows: StoredRows) {
        self.by_code[code as usize] = rows;
    }

    /// How many rows `code` has.
    pub fn len(&self, code: HazardCode) -> usize {
        self.by_code[code as usize].len()
    }

    /// Hands the rows of `code` to `each` a batch at a time, in their order (by key): those
    /// stored, and those of `cascade` that it lists, both read back from their spills.
    pub fn read<E: From<crate::Error>>(
        &self,
        code: HazardCode,
        cascade: &CascadeRows,
        mut each: impl FnMut(&[HazardView<'_>]) -> Result<(), E>,
    ) -> Result<(), E> {
        let stored = &self.by_code[code as usize];
        if stored.cascade_rows == 0 {
            return stored.spill.batches(stored.records.clone(), BATCH, |batch| {
                let views: Vec<HazardView> =
                    batch.read()?.map(|(label, key)| self.view(code, stored.label(label), key)).collect();
                each(&views)
            });
        }
        // Merged with the cascade's rows by key: its own rows (the blocked ones, few) all read first.
        let mut batch = Batch::default();
        batch.fill(&mut stored.spill.reader(stored.records.clone()), usize::MAX)?;
        let own: Vec<(u32, &str)> = batch.read()?.collect();
        let keys: Vec<&str> = own.iter().map(|(_, key)| *key).collect();
        let listed = |effect: u32| stored.cascade.get(effect as usize).is_some_and(Option::is_some);
        cascade.merged(listed, &keys, |rows| {
            let views: Vec<HazardView> = rows
                .iter()
                .map(|row| match *row {
                    Merged::Other(at) => self.view(code, stored.label(own[at].0), own[at].1),
                    Merged::Cascade { effect, key } => {
                        self.view(code, stored.cascade[effect as usize].as_ref().expect("a listed effect"), key)
                    }
                })
                .collect();
            each(&views)
        })
    }

    /// A row of `code` with its table and detail.
    fn view<'a>(&'a self, code: HazardCode, (table, detail): &'a (TableRef, Shared), key: &'a str) -> HazardView<'a> {
        HazardView { code, table: &self.tables[table.0 as usize], key, detail }
    }

    /// Every row, in code order, as texts of its own: for hazards whose rows fit in memory twice
    /// (the tests).
    pub fn all_texts(&self, cascade: &CascadeRows) -> crate::Result<Vec<HazardText>> {
        let mut texts = Vec::new();
        for code in HazardCode::ALL {
            texts.extend(self.texts(code, cascade, usize::MAX)?);
        }
        Ok(texts)
    }

    /// The first `limit` rows of `code`, as texts of their own (`check`'s examples, the
    /// reports' few rows of H16, the tests), read as `read` reads them.
    pub fn texts(&self, code: HazardCode, cascade: &CascadeRows, limit: usize) -> crate::Result<Vec<HazardText>> {
        enum Stop {
            Enough,
            Failed(crate::Error),
        }
        impl From<crate::Error> for Stop {
            fn from(error: crate::Error) -> Stop {
                Stop::Failed(error)
            }
        }
        let mut texts = Vec::new();
        let read = self.read(code, cascade, |rows| {
            texts.extend(rows.iter().take(limit - texts.len()).map(|row| HazardText {
                code,
                table: row.table.to_string(),
                key: row.key.to_string(),
                detail: row.detail.to_string(),
            }));
            match texts.len() == limit {
                true => Err(Stop::Enough),
                false => Ok(()),
            }
        });
        match read {
            Ok(()) | Err(Stop::Enough) => Ok(texts),
            Err(Stop::Failed(error)) => Err(error),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Check {
    /// False where the check does not apply (V2 in selective mode); it then never fails a run.
    pub applicable: bool,
    pub pass: bool,
    /// Offending rows (or columns, for V1).
    pub count: u64,
    pub detail: String,
}

impl Check {
    /// A check that applies and passes when nothing offends.
    pub fn counting(count: u64, detail: String) -> Check {
        Check { applicable: true, pass: count == 0, count, detail }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Verification {
    pub v1: Check,
    pub v2: Check,
    /// V3 as the guide writes it (fails on pre-existing orphans too).
    pub v3: Check,
    /// V3 counting only orphans that the rollback itself creates.
    pub v3_caused: Check,
}

impl Verification {
    /// The checks the emitted script fails hard on (ROLLBACK.md §2 step 8).
    pub fn gating_pass(&self) -> bool {
        [&self.v1, &self.v2, &self.v3_caused].iter().all(|c| c.pass || !c.applicable)
    }
}

/// An object that makes a statement fail, as PostgreSQL's DETAIL names it.
#[derive(Debug, Clone, Serialize)]
pub struct FailingObject {
    /// `view active_models`, `constraint fk on table deployments`.
    pub object: String,
    /// The DETAIL line: `view active_models depends on column version_status of table models`.
    pub detail: String,
    /// The table it is on or reads (for reports).
    pub table: String,
    /// The statement that created it, to recreate it after the rollback.
    pub definition: String,
    /// The hazard it is listed under: H17 (DDL dependency, SET NULL/DEFAULT refused), H9
    /// (RESTRICT / NO ACTION), H13 (name taken), H18 (dropped silently: rehearse refuses).
    pub hazard: HazardCode,
}

/// How a statement of the rollback fails in PostgreSQL.
#[derive(Debug, Clone, Serialize)]
pub struct StepFailure {
    pub sqlstate: &'static str,
    /// PostgreSQL's message, as it would print it.
    pub message: String,
    pub objects: Vec<FailingObject>,
    /// The hazard of its first object.
    pub hazard: HazardCode,
    /// What the operator can do about it.
    pub remedy: String,
    /// Objects that block the same statement further on (its later columns), once `objects`
    /// are dealt with: PostgreSQL reports them on the next attempt.
    pub next: Vec<FailingObject>,
}

/// An object that a statement drops although the rollback does not name it (H18), with the
/// column whose drop takes it along.
#[derive(Debug, Clone, Serialize)]
pub struct DroppedObject {
    pub object: SchemaObject,
    pub with_column: String,
}

/// A statement of the rollback (`rehearsal::steps::rollback` puts them in order).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum Step {
    /// `DROP INDEX IF EXISTS`.
    DropIndex { index: TableName },
    /// `ALTER TABLE … DROP CONSTRAINT IF EXISTS`.
    DropConstraint { table: TableName, name: String },
    /// The shipped script's `UPDATE services SET model_id = model_id` over every service whose
    /// model exists: no data change, but its UPDATE triggers fire.
    TouchServices { table: TableName },
    /// `DELETE FROM models` every version but the keepers.
    DeleteVersions { table: TableName },
    /// `DELETE FROM services` whose model_id has no models row (`--delete-orphans`).
    DeleteOrphans { table: TableName },
    /// `ALTER TABLE … DROP COLUMN …, DROP COLUMN …`.
    DropColumns { table: TableName, columns: Vec<String> },
    /// `ALTER TABLE … ADD CONSTRAINT … UNIQUE (…)`.
    AddUnique { table: TableName, name: String, columns: Vec<String> },
    /// `COMMIT`, where the checks of DEFERRABLE INITIALLY DEFERRED foreign keys run. The
    /// replay names it only when one fails there.
    Commit,
}

impl Step {
    /// DDL: it needs (and takes) ACCESS EXCLUSIVE on its table, which stops readers too.
    pub fn changes_schema(&self) -> bool {
        !matches!(
            self,
            Step::TouchServices { .. } | Step::DeleteVersions { .. } | Step::DeleteOrphans { .. } | Step::Commit
        )
    }

    /// The table an `ALTER TABLE` statement changes.
    pub fn altered_table(&self) -> Option<&TableName> {
        match self {
            Step::DropConstraint { table, .. } | Step::DropColumns { table, .. } | Step::AddUnique { table, .. } => {
                Some(table)
            }
            _ => None,
        }
    }

    /// The row statement in a few words (for trigger firings).
    pub fn short(&self) -> String {
        match self {
            Step::TouchServices { table } => format!("UPDATE {table}"),
            Step::DeleteVersions { table } => format!("DELETE FROM {table}"),
            Step::DeleteOrphans { table } => format!("DELETE FROM {table} (orphans)"),
            other => other.sql(),
        }
    }

    /// The statement, as a reader recognises it (names quoted where they need it).
    pub fn sql(&self) -> String {
        let list = |names: &[String], prefix: &str| {
            names.iter().map(|n| format!("{prefix}{}", quote_ident(n))).collect::<Vec<_>>().join(", ")
        };
        match self {
            Step::DropIndex { index } => format!("DROP INDEX IF EXISTS {}", index.quoted()),
            Step::DropConstraint { table, name } => {
                format!("ALTER TABLE {} DROP CONSTRAINT IF EXISTS {}", table.quoted(), quote_ident(name))
            }
            Step::TouchServices { table } => {
                format!("UPDATE {} SET model_id = model_id (every service whose model exists)", table.quoted())
            }
            Step::DeleteVersions { table } => format!("DELETE FROM {} (every version but the keepers)", table.quoted()),
            Step::DeleteOrphans { table } => {
                format!("DELETE FROM {} (services whose model_id has no models row)", table.quoted())
            }
            Step::DropColumns { table, columns } => {
                format!("ALTER TABLE {} {}", table.quoted(), list(columns, "DROP COLUMN "))
            }
            Step::AddUnique { table, name, columns } => {
                format!(
                    "ALTER TABLE {} ADD CONSTRAINT {} UNIQUE ({})",
                    table.quoted(),
                    quote_ident(name),
                    list(columns, "")
                )
            }
            Step::Commit => "COMMIT".into(),
        }
    }
}

/// What the DDL replay predicts for one statement of the rollback, in the order they run.
#[derive(Debug, Clone, Serialize)]
pub struct StepPrediction {
    pub step: Step,
    pub sql: String,
    /// None: the statement succeeds.
    pub failure: Option<StepFailure>,
    /// False for statements after the first failure: PostgreSQL never runs them (their
    /// prediction is what happens once the earlier failures are fixed).
    pub reached: bool,
    pub dropped: Vec<DroppedObject>,
}

/// Row counts and a digest of the rows the rollback decides on, computed identically in DuckDB
/// and in the emitted script's drift guard.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fingerprint {
    pub models_rows: u64,
    pub models_digest: String,
    pub services_rows: u64,
    pub services_digest: String,
}

/// A set of rowids as one bit each (DuckDB's rowids of a table are small, non-negative): the
/// 640 683 models rows a 2 GB export deletes take 95 KB, where a `BTreeSet` took 6.5 MB (and a
/// list of them 5 MB).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RidBits {
    bits: Vec<u64>,
    len: usize,
}

impl Extend<i64> for RidBits {
    fn extend<I: IntoIterator<Item = i64>>(&mut self, rids: I) {
        for rid in rids {
            let rid = usize::try_from(rid).expect("a rowid");
            if self.bits.len() <= rid / 64 {
                self.bits.resize(rid / 64 + 1, 0);
            }
            let (word, bit) = (&mut self.bits[rid / 64], 1 << (rid % 64));
            self.len += usize::from(*word & bit == 0);
            *word |= bit;
        }
    }
}

impl FromIterator<i64> for RidBits {
    fn from_iter<I: IntoIterator<Item = i64>>(rids: I) -> Self {
        let mut set = RidBits::default();
        set.extend(rids);
        set
    }
}

impl RidBits {
    pub fn contains(&self, rid: i64) -> bool {
        rid >= 0 && self.bits.get(rid as usize / 64).is_some_and(|word| word >> (rid % 64) & 1 == 1)
    }

    /// How many rowids the set holds.
    pub fn count(&self) -> usize {
        self.len
    }

    /// The rowids, least first.
    pub fn iter(&self) -> impl Iterator<Item = i64> + '_ {
        self.bits.iter().enumerate().flat_map(|(at, &word)| {
            let base = at as i64 * 64;
            std::iter::successors((word != 0).then_some(word), |rest| Some(rest & (rest - 1)).filter(|r| *r != 0))
                .map(move |rest| base + i64::from(rest.trailing_zeros()))
        })
    }
}

/// The rows the rollback deletes or changes, by their rowid in the workspace (which is never
/// modified, so its rowids stay): with the workspace they give every table as the rollback
/// leaves it, on any connection to it. `validate` compares that post-state with PostgreSQL.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RowEffects {
    /// `schema.table` → rowids deleted (by the rollback's statements or their cascades).
    pub deleted: BTreeMap<String, RidBits>,
    /// (`schema.table`, foreign key) → rowids whose key its SET NULL / SET DEFAULT changed.
    pub changed: BTreeMap<(String, String), RidBits>,
}

#[derive(Debug, Clone)]
pub struct Plan {
    pub policy: Policy,
    pub mode: Mode,
    pub delete_orphans: bool,
    /// The collation legacy's `version DESC` ran in, as PostgreSQL names it.
    pub collation: String,
    /// Where that collation comes from (`--collation`, the export, or nowhere).
    pub collation_source: String,
    /// The other collations each legacy keeper was computed under (when the export is silent).
    pub collation_alternatives: Vec<String>,
    pub input: BTreeMap<String, String>,
    pub fingerprint: Fingerprint,
    pub models_before: u64,
    pub models_after: u64,
    pub services_before: u64,
    pub services_after: u64,
    pub kept: Vec<KeptVersion>,
    pub deleted: Vec<DeletedVersion>,
    /// The keepers the deleted rows name (`DeletedVersion::keeper`).
    pub keepers: Vec<Keeper>,
    /// Every service, in the services table's order, on disk.
    pub services: StoredList<ServiceImpact>,
    /// How many services each action has, by its place in `ServiceAction::ALL`.
    pub services_by_action: [u64; ServiceAction::ALL.len()],
    pub cascade: CascadeRows,
    /// Rows deleted per other table (`schema.table` → rows).
    pub cascade_deleted: BTreeMap<String, u64>,
    /// Rows changed (SET NULL / SET DEFAULT) per other table.
    pub cascade_changed: BTreeMap<String, u64>,
    /// Every deleted and changed row, for the post-state.
    pub effects: RowEffects,
    /// Rows deleted per partitioned table or inheritance parent, its descendants' included (what
    /// `SELECT count(*) FROM parent` loses); only those that lose some.
    pub cascade_by_parent: BTreeMap<String, u64>,
    pub divergence: Vec<Divergence>,
    /// model_ids whose legacy keeper differs between the collation and one of the alternatives.
    pub collation_sensitive: Vec<Option<String>>,
    pub hazards: Hazards,
    pub verification: Verification,
    pub predicted_failure: Option<String>,
    /// Every statement of the rollback with what PostgreSQL does at it.
    pub ddl: Vec<StepPrediction>,
    /// Whether the operator asked to drop, explicitly, the objects that the version columns take along.
    pub drop_dependents: bool,
}

impl Plan {
    /// Whether the steps after the rehearsal (the scripts' checks) run side by side.
    pub fn runs_side_by_side(&self) -> bool {
        runs_side_by_side(self.models_before + self.services_before)
    }

    pub fn services_with(&self, action: ServiceAction) -> u64 {
        self.services_by_action[action as usize]
    }

    /// Hands the rows of `code` to `each` a batch at a time, in their order (`Hazards::read`).
    pub fn hazard_rows<E: From<crate::Error>>(
        &self,
        code: HazardCode,
        each: impl FnMut(&[HazardView<'_>]) -> Result<(), E>,
    ) -> Result<(), E> {
        self.hazards.read(code, &self.cascade, each)
    }

    /// The first `limit` rows of `code`, as texts of their own (`Hazards::texts`).
    pub fn hazard_texts(&self, code: HazardCode, limit: usize) -> crate::Result<Vec<HazardText>> {
        self.hazards.texts(code, &self.cascade, limit)
    }

    /// Every hazard row, in code order, as texts of its own (`Hazards::all_texts`).
    pub fn all_hazard_texts(&self) -> crate::Result<Vec<HazardText>> {
        self.hazards.all_texts(&self.cascade)
    }

    /// Every cascade row, in order, as texts of its own: for a plan whose rows fit in memory
    /// twice (the tests).
    pub fn cascade_texts(&self) -> crate::Result<Vec<CascadeText>> {
        let mut texts = Vec::new();
        self.cascade.batches::<crate::Error>(|rows| {
            texts.extend(rows.iter().map(|row| CascadeText {
                table: row.table.to_string(),
                key: row.key.to_string(),
                action: row.action.to_string(),
                via: row.via.to_string(),
            }));
            Ok(())
        })?;
        Ok(texts)
    }

    /// Rows per hazard code, every code present (zero when clear).
    pub fn hazard_counts(&self) -> BTreeMap<&'static str, u64> {
        HazardCode::ALL.iter().map(|&code| (code.as_str(), self.hazards.len(code) as u64)).collect()
    }

    /// Whether the run must exit 3 (ROLLBACK.md §8).
    pub fn fails(&self) -> bool {
        self.predicted_failure.is_some() || !self.verification.gating_pass()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rows_held_by_the_million_take_a_word_per_shared_text_and_three_per_id() {
        assert_eq!(std::mem::size_of::<Shared>(), 8);
        assert_eq!(std::mem::size_of::<Option<Shared>>(), 8);
        assert_eq!(std::mem::size_of::<RowId>(), 24);
        assert_eq!(std::mem::size_of::<HazardRow>(), 24);
        assert_eq!(std::mem::size_of::<HeldRow>(), 16);
        assert_eq!(std::mem::size_of::<DeletedVersion>(), 64);
    }

    #[test]
    fn hazard_rows_listed_in_code_order_whatever_order_the_rules_ran_in() {
        let row = |code: HazardCode, key: &str| HazardRow {
            code,
            table: TableRef(u32::from(key == "c")),
            key: key.into(),
            detail: "d".into(),
        };
        let held =
            |code: HazardCode, rows: Vec<HazardRow>| StoredRows::write(CodeRows::hold(code, rows).unwrap()).unwrap();
        let mut hazards = Hazards::naming(vec!["public.models".into(), "public.services".into()]);
        hazards.set(HazardCode::H15, held(HazardCode::H15, vec![row(HazardCode::H15, "a"), row(HazardCode::H15, "b")]));
        hazards.set(HazardCode::H2, held(HazardCode::H2, vec![row(HazardCode::H2, "c")]));
        hazards.set(HazardCode::H16, held(HazardCode::H16, Vec::with_capacity(100)));
        let read = |hazards: &Hazards| {
            let every = hazards.all_texts(&CascadeRows::default()).unwrap();
            every.into_iter().map(|h| (h.code.as_str(), h.table, h.key)).collect::<Vec<_>>()
        };
        let listed: Vec<(&str, String)> = read(&hazards).into_iter().map(|(code, _, key)| (code, key)).collect();
        assert_eq!(listed, [("H2", "c".into()), ("H15", "a".into()), ("H15", "b".into())]);
        assert_eq!(hazards.len(HazardCode::H15), 2);
        assert_eq!(hazards.len(HazardCode::H1), 0);
        let tables: Vec<String> = read(&hazards).into_iter().map(|(_, table, _)| table).collect();
        assert_eq!(tables, ["public.services", "public.models", "public.models"]);
    }

    /// Cascade rows of several tables (runs), keys drawn from a few so that they repeat within
    /// and across runs, two effects per table, one of them not listed by the merge.
    fn cascade_of(seed: u64, runs: usize, rows: usize) -> (CascadeRows, Vec<(usize, u32, String)>) {
        let mut state = seed;
        let mut next = move |n: u64| {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (state >> 33) % n
        };
        let mut cascade = CascadeRows::default();
        let mut pushed = Vec::new();
        for run in 0..runs {
            let table: Shared = format!("public.t{run}").into();
            for _ in 0..next(rows as u64 + 1) {
                let (action, via) = [("deleted", "fk_a"), ("set null", "fk_b")][next(2) as usize];
                let effect =
                    cascade.effect(CascadeEffect { table: table.clone(), action: action.into(), via: via.into() });
                let key = format!("k{}{}", next(12), "x".repeat(next(3) as usize));
                cascade.push(&key, effect).unwrap();
                pushed.push((run, effect, key));
            }
            cascade.end_run().unwrap();
        }
        (cascade, pushed)
    }

    #[test]
    fn spilled_cascade_rows_come_back_each_run_by_key_then_foreign_key_then_action() {
        for seed in 0..20 {
            let (cascade, mut pushed) = cascade_of(seed, 4, 30);
            let effects = cascade.effects().to_vec();
            let texts = |(_, effect, key): &(usize, u32, String)| {
                let e = &effects[*effect as usize];
                (e.table.to_string(), key.clone(), e.action.to_string(), e.via.to_string())
            };
            pushed.sort_by(|a, b| {
                let (ta, tb) = (texts(a), texts(b));
                (a.0, &ta.1, &ta.3, &ta.2).cmp(&(b.0, &tb.1, &tb.3, &tb.2))
            });
            let expected: Vec<_> = pushed.iter().map(texts).collect();
            let mut read = Vec::new();
            cascade
                .batches::<crate::Error>(|rows| {
                    read.extend(
                        rows.iter()
                            .map(|r| (r.table.to_string(), r.key.to_string(), r.action.to_string(), r.via.to_string())),
                    );
                    Ok(())
                })
                .unwrap();
            assert_eq!(read, expected, "seed {seed}");
            assert_eq!(cascade.len(), expected.len());
            let per_effect: u64 = (0..effects.len()).map(|e| cascade.rows_of(e)).sum();
            assert_eq!(per_effect as usize, expected.len());
        }
    }

    #[test]
    fn merged_rows_are_those_a_stable_sort_by_key_gives() {
        for seed in 0..40 {
            let (cascade, _) = cascade_of(seed, 1 + seed as usize % 5, 25);
            let listed = |effect: u32| cascade.effects()[effect as usize].via.as_str() == "fk_a";
            let mut runs = Vec::new();
            cascade
                .batches::<crate::Error>(|rows| {
                    runs.extend(rows.iter().map(|r| (r.key.to_string(), r.via.to_string(), r.table.to_string())));
                    Ok(())
                })
                .unwrap();
            let others: Vec<String> = (0..seed % 7).map(|i| format!("k{}", (i * 5) % 12)).collect();
            let mut others_sorted = others.clone();
            others_sorted.sort();
            let other_keys: Vec<&str> = others_sorted.iter().map(String::as_str).collect();
            // The old way: the listed rows in their order, then the others, sorted stably.
            let mut expected: Vec<(String, String)> = runs
                .iter()
                .filter(|(_, via, _)| via == "fk_a")
                .map(|(key, _, table)| (key.clone(), table.clone()))
                .collect();
            expected.extend(other_keys.iter().enumerate().map(|(at, key)| (key.to_string(), format!("other {at}"))));
            expected.sort_by(|a, b| a.0.cmp(&b.0));
            let mut merged = Vec::new();
            cascade
                .merged::<crate::Error>(listed, &other_keys, |rows| {
                    merged.extend(rows.iter().map(|row| match *row {
                        Merged::Cascade { effect, key } => {
                            assert!(listed(effect));
                            (key.to_string(), cascade.effects()[effect as usize].table.to_string())
                        }
                        Merged::Other(at) => (other_keys[at].to_string(), format!("other {at}")),
                    }));
                    Ok(())
                })
                .unwrap();
            assert_eq!(merged, expected, "seed {seed}");
        }
    }

    #[test]
    fn a_rowid_set_lists_its_rowids_once_least_first() {
        let rids = [200, 0, 63, 64, 5, 63, 127, 128];
        let set: RidBits = rids.into_iter().collect();
        assert_eq!(set.iter().collect::<Vec<_>>(), [0, 5, 63, 64, 127, 128, 200]);
        assert_eq!(set.count(), 7);
        assert!(set.contains(127) && !set.contains(126) && !set.contains(-1) && !set.contains(100_000));
        assert_eq!(set, [128, 127, 64, 63, 5, 0, 200].into_iter().collect(), "equal sets, whatever their order");
        assert_eq!(RidBits::default().iter().count(), 0);
    }

    #[test]
    fn stored_rows_come_back_in_their_order_each_table_and_detail_stored_once() {
        let (often, once): (Shared, Shared) = ("often".into(), "once".into());
        let on = |table: u32, key: &str, detail: &Shared| HazardRow {
            code: HazardCode::H12,
            table: TableRef(table),
            key: key.into(),
            detail: detail.clone(),
        };
        let row = |key: &str, detail: &Shared| on(0, key, detail);
        // e and f share a text that is not the first one's, one right after the other; g names
        // another table.
        let rows = vec![
            row("a", &often),
            row("b", &once),
            row("c", &often),
            row("d", &"often".into()),
            row("e", &once),
            row("f", &once),
            on(1, "g", &once),
        ];
        let held = CodeRows::hold(HazardCode::H12, rows).unwrap();
        // One place per table and text shared; an equal text of its own has its own (it is held
        // anyway).
        assert_eq!(held.labels.len(), 4);
        let stored = StoredRows::write(held).unwrap();
        assert_eq!(stored.labels.len(), 4, "the labels stored as they were");
        assert!(Shared::ptr_eq(&stored.labels[0].1, &often));
        let mut hazards = Hazards::naming(vec!["public.models".into(), "public.other".into()]);
        hazards.set(HazardCode::H12, stored);
        let read = hazards.texts(HazardCode::H12, &CascadeRows::default(), usize::MAX).unwrap();
        let read: Vec<(&str, &str, &str)> = read.iter().map(|h| (&*h.table, &*h.key, &*h.detail)).collect();
        let models = "public.models";
        assert_eq!(
            read,
            [
                (models, "a", "often"),
                (models, "b", "once"),
                (models, "c", "often"),
                (models, "d", "often"),
                (models, "e", "once"),
                (models, "f", "once"),
                ("public.other", "g", "once")
            ]
        );
        assert_eq!(hazards.texts(HazardCode::H12, &CascadeRows::default(), 2).unwrap().len(), 2);

        let foreign = vec![row("a", &often), HazardRow { code: HazardCode::H9, ..row("b", &once) }];
        assert!(CodeRows::hold(HazardCode::H12, foreign).unwrap_err().contains("a row of H9 among the rows of H12"));
    }
}
