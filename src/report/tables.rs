//! The loss reports of ROLLBACK.md §6 as data: a file name, a header and typed rows borrowed from
//! the plan. The CSV files and report.xlsx are written from these same tables, so they hold the
//! same rows.

use crate::error::Result;
use crate::plan::{in_batches, Plan};
use crate::row_id::{self, RowId};
use crate::shared::fetched_ahead;
use crate::terms::HazardCode;

/// One field of a loss report: text (or NULL), a uuid id (spelled where it is written, see
/// `RowId`), or a boolean (or NULL).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Value<'a> {
    Text(Option<&'a str>),
    Uuid(&'a [u8; 16]),
    Bool(Option<bool>),
}

impl<'a> Value<'a> {
    /// A models row's id.
    pub fn id(id: &'a RowId) -> Value<'a> {
        match id {
            RowId::Uuid(bytes) => Value::Uuid(bytes),
            RowId::Text(text) => Value::Text(Some(text)),
        }
    }

    /// `f` of the field as the CSV files spell it: booleans as `true`/`false`.
    pub fn with_text<R>(self, f: impl FnOnce(Option<&str>) -> R) -> R {
        match self {
            Value::Text(text) => f(text),
            Value::Uuid(bytes) => f(Some(&row_id::spelled(bytes))),
            Value::Bool(value) => f(value.map(|b| if b { "true" } else { "false" })),
        }
    }
}

/// The most columns a report has.
pub const MAX_COLUMNS: usize = 10;

/// One row of a report, its values held in place: a report of millions of rows is walked once
/// for its CSV file and its sheets together, and a row costs no allocation.
#[derive(Clone, Copy, Debug)]
pub struct Row<'a> {
    values: [Value<'a>; MAX_COLUMNS],
    len: usize,
}

impl<'a> Row<'a> {
    pub fn new<const N: usize>(values: [Value<'a>; N]) -> Row<'a> {
        const { assert!(N <= MAX_COLUMNS) };
        let mut row = Row { values: [Value::Text(None); MAX_COLUMNS], len: N };
        row.values[..N].copy_from_slice(&values);
        row
    }
}

impl<'a> std::ops::Deref for Row<'a> {
    type Target = [Value<'a>];

    fn deref(&self) -> &[Value<'a>] {
        &self.values[..self.len]
    }
}

/// A report's rows, handed to a writer a batch at a time: rows borrow the plan, or texts read
/// back for their batch only (the cascade's keys, from the file they were spilled to).
pub type Rows<'a> = Box<dyn FnOnce(&mut dyn FnMut(&[Row<'_>]) -> Result<()>) -> Result<()> + 'a>;

/// The rows of `rows`, `plan::BATCH` at a time.
fn listed<'a>(rows: impl Iterator<Item = Row<'a>> + 'a) -> Rows<'a> {
    Box::new(move |each| in_batches(rows, each))
}

pub struct Report<'a> {
    /// The file under `reports/`, e.g. `versions_deleted.csv`.
    pub file: &'static str,
    pub header: &'static [&'static str],
    pub rows: Rows<'a>,
    /// How many rows: the work it is to write.
    pub len: usize,
}

fn text(value: &Option<impl AsRef<str>>) -> Value<'_> {
    Value::Text(value.as_ref().map(AsRef::as_ref))
}

fn some(value: &str) -> Value<'_> {
    Value::Text(Some(value))
}

/// Every loss report, in the order of ROLLBACK.md §6.
pub fn reports(plan: &Plan) -> [Report<'_>; 6] {
    [
        Report {
            file: "versions_kept.csv",
            header: &["id", "model_id", "version", "version_status", "reason"],
            rows: listed(fetched_ahead(
                plan.kept.iter(),
                |k| [k.id.shared(), k.model_id.as_ref(), k.version.as_ref()],
                |k| {
                    Row::new([
                        Value::id(&k.id),
                        text(&k.model_id),
                        text(&k.version),
                        text(&k.version_status),
                        some(&k.reason),
                    ])
                },
            )),
            len: plan.kept.len(),
        },
        Report {
            file: "versions_deleted.csv",
            header: &[
                "id",
                "model_id",
                "version",
                "version_status",
                "is_immutable",
                "is_published",
                "release_notes",
                "kept_id",
                "kept_version",
                "reason",
            ],
            rows: listed(fetched_ahead(
                plan.deleted.iter(),
                |d| [d.id.shared(), d.model_id.as_ref(), d.version.as_ref(), d.release_notes.as_ref()],
                |d| {
                    let (keeper, reason) = d.kept_instead(&plan.keepers);
                    Row::new([
                        Value::id(&d.id),
                        text(&d.model_id),
                        text(&d.version),
                        text(&d.version_status),
                        Value::Bool(d.is_immutable),
                        Value::Bool(d.is_published),
                        text(&d.release_notes),
                        Value::id(&keeper.id),
                        text(&keeper.version),
                        some(reason),
                    ])
                },
            )),
            len: plan.deleted.len(),
        },
        Report {
            file: "services_affected.csv",
            header: &["service_id", "name", "model_id", "model_version_before", "model_version_after", "action"],
            rows: Box::new(|each| {
                plan.services.read(|services| {
                    let rows: Vec<Row> = services
                        .iter()
                        .map(|s| {
                            Row::new([
                                Value::Text(s.service_id),
                                Value::Text(s.name),
                                Value::Text(s.model_id),
                                Value::Text(s.model_version_before),
                                Value::Text(s.model_version_after),
                                some(s.action.name()),
                            ])
                        })
                        .collect();
                    each(&rows)
                })
            }),
            len: plan.services.len(),
        },
        Report {
            file: "cascade.csv",
            header: &["table", "key", "action", "via"],
            rows: Box::new(|each| {
                plan.cascade.batches(|rows| {
                    let rows: Vec<Row> = rows
                        .iter()
                        .map(|c| Row::new([some(c.table), some(c.key), some(c.action), some(c.via)]))
                        .collect();
                    each(&rows)
                })
            }),
            len: plan.cascade.len(),
        },
        Report {
            file: "policy_divergence.csv",
            header: &["model_id", "documented_id", "documented_version", "legacy_id", "legacy_version"],
            rows: listed(plan.divergence.iter().map(|d| {
                Row::new([
                    text(&d.model_id),
                    some(&d.documented_id),
                    text(&d.documented_version),
                    some(&d.legacy_id),
                    text(&d.legacy_version),
                ])
            })),
            len: plan.divergence.len(),
        },
        Report {
            file: "hazards.csv",
            header: &["code", "table", "key", "detail"],
            rows: Box::new(|each| {
                for code in HazardCode::ALL {
                    plan.hazard_rows(code, |rows| {
                        let rows: Vec<Row> = rows
                            .iter()
                            .map(|h| Row::new([some(h.code.as_str()), some(h.table), some(h.key), some(h.detail)]))
                            .collect();
                        each(&rows)
                    })?;
                }
                Ok(())
            }),
            len: HazardCode::ALL.iter().map(|code| plan.hazards.len(*code)).sum(),
        },
    ]
}
