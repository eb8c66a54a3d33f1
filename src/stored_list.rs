//! `StoredList`: one of the plan's long lists on disk (the services).
//!
//! A 5.4 GB export's plan names half a million services; held in memory until the reports are
//! written, they grew the run with the export. Each row goes to a spill as it is made, one record
//! per field (tag `TEXT` or `NULL`), and comes back a batch at a time, its texts borrowed from
//! the batch.

use crate::error::{Error, Result};
use crate::plan::BATCH;
use crate::spill::{self, Spill};
use std::marker::PhantomData;
use std::ops::Range;

const TEXT: u32 = 0;
const NULL: u32 = 1;

/// A row that a `StoredList` holds: its fields go in as texts (or NULL) and come back as a view.
pub trait Listed {
    /// How many fields a row has.
    const FIELDS: usize;
    /// A row read back, its texts borrowed from its batch.
    type View<'a>;
    /// Each field, in order (`None`: NULL); `FIELDS` of them.
    fn fields(&self) -> impl Iterator<Item = Option<&str>>;
    /// The row of `fields` (as `fields` gave them); `None` when they do not make one.
    fn view<'a>(fields: &[Option<&'a str>]) -> Option<Self::View<'a>>;
}

/// Rows written once, in order, and read back in that order.
pub struct StoredList<T> {
    spill: Spill,
    records: Range<u64>,
    len: usize,
    rows: PhantomData<fn() -> T>,
}

impl<T> Default for StoredList<T> {
    fn default() -> Self {
        StoredList { spill: Spill::default(), records: 0..0, len: 0, rows: PhantomData }
    }
}

impl<T> Clone for StoredList<T> {
    fn clone(&self) -> Self {
        StoredList { spill: self.spill.clone(), records: self.records.clone(), len: self.len, rows: PhantomData }
    }
}

impl<T> std::fmt::Debug for StoredList<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredList").field("records", &self.records).field("len", &self.len).finish()
    }
}

/// Takes the rows of a `StoredList` being made.
pub struct ListWriter<T> {
    records: spill::Writer,
    len: usize,
    rows: PhantomData<fn(&T)>,
}

impl<T: Listed> ListWriter<T> {
    pub fn push(&mut self, row: &T) -> Result<()> {
        for field in row.fields() {
            let (tag, text) = match field {
                Some(text) => (TEXT, text),
                None => (NULL, ""),
            };
            self.records.push(tag, text.as_bytes()).map_err(spill::failed)?;
        }
        self.len += 1;
        Ok(())
    }

    /// The list of the rows pushed, in their order.
    pub fn finish(self) -> Result<StoredList<T>> {
        let (spill, records) = self.records.finish().map_err(spill::failed)?;
        Ok(StoredList { spill, records: records.unwrap_or(0..0), len: self.len, rows: PhantomData })
    }
}

impl<T: Listed> StoredList<T> {
    /// A list to push rows to (on disk, a megabyte at a time).
    pub fn writer() -> ListWriter<T> {
        ListWriter { records: spill::Writer::new(Spill::default(), usize::MAX), len: 0, rows: PhantomData }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Hands every row to `each`, in order, `plan::BATCH` at a time.
    pub fn read<E: From<Error>>(&self, mut each: impl FnMut(&[T::View<'_>]) -> Result<(), E>) -> Result<(), E> {
        self.spill.batches(self.records.clone(), BATCH * T::FIELDS, |batch| {
            let fields: Vec<Option<&str>> = batch.read()?.map(|(tag, text)| (tag == TEXT).then_some(text)).collect();
            let views = fields
                .chunks(T::FIELDS)
                .map(|row| match row.len() == T::FIELDS {
                    true => T::view(row),
                    false => None,
                })
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| Error::Internal("a stored row does not read back as it was written".into()))?;
            each(&views)
        })
    }

    /// What `pick` makes of the first `n` rows it picks, in order.
    pub fn first<O>(&self, n: usize, mut pick: impl FnMut(&T::View<'_>) -> Option<O>) -> Result<Vec<O>> {
        /// Ends the reading once `n` are picked.
        enum Stop {
            Enough,
            Failed(Error),
        }
        impl From<Error> for Stop {
            fn from(error: Error) -> Stop {
                Stop::Failed(error)
            }
        }
        let mut picked = Vec::new();
        if n == 0 {
            return Ok(picked);
        }
        let read = self.read(|rows| {
            for row in rows {
                picked.extend(pick(row));
                if picked.len() == n {
                    return Err(Stop::Enough);
                }
            }
            Ok(())
        });
        match read {
            Ok(()) | Err(Stop::Enough) => Ok(picked),
            Err(Stop::Failed(error)) => Err(error),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A row of a text, a text or NULL, and a flag.
    #[derive(Debug, Clone, PartialEq)]
    struct Sample(String, Option<String>, bool);

    impl Listed for Sample {
        const FIELDS: usize = 3;
        type View<'a> = (&'a str, Option<&'a str>, bool);

        fn fields(&self) -> impl Iterator<Item = Option<&str>> {
            [Some(self.0.as_str()), self.1.as_deref(), Some(if self.2 { "t" } else { "f" })].into_iter()
        }

        fn view<'a>(fields: &[Option<&'a str>]) -> Option<Self::View<'a>> {
            Some((fields[0]?, fields[1], fields[2]? == "t"))
        }
    }

    fn samples(count: usize) -> Vec<Sample> {
        (0..count).map(|i| Sample("é".repeat(i % 4), (i % 3 != 0).then(|| format!("{i}")), i % 2 == 0)).collect()
    }

    fn stored(rows: &[Sample]) -> StoredList<Sample> {
        let mut list = StoredList::writer();
        rows.iter().try_for_each(|row| list.push(row)).unwrap();
        list.finish().unwrap()
    }

    #[test]
    fn rows_come_back_in_order_an_empty_text_apart_from_null() {
        for count in [0, 1, BATCH - 1, BATCH, BATCH + 1, 3 * BATCH + 5] {
            let rows = samples(count);
            let list = stored(&rows);
            assert_eq!(list.len(), count);
            let mut read = Vec::new();
            let mut batches = 0;
            list.read(|views| -> Result<()> {
                batches += 1;
                assert!(views.len() <= BATCH);
                read.extend(views.iter().map(|(a, b, c)| Sample(a.to_string(), b.map(str::to_string), *c)));
                Ok(())
            })
            .unwrap();
            assert_eq!(read, rows, "{count} rows");
            assert_eq!(batches, count.div_ceil(BATCH), "{count} rows");
        }
        let empty = stored(&[Sample(String::new(), Some(String::new()), true)]);
        assert_eq!(empty.first(1, |r| Some(r.1.map(str::to_string))).unwrap(), [Some(String::new())]);
    }

    #[test]
    fn the_first_rows_picked_stop_the_reading() {
        let list = stored(&samples(5 * BATCH));
        let even: Vec<String> = list.first(3, |r| r.2.then(|| r.1.unwrap_or("NULL").to_string())).unwrap();
        assert_eq!(even, ["NULL", "2", "4"]);
        assert_eq!(list.first(2 * BATCH, |_| Some(())).unwrap().len(), 2 * BATCH);
        assert_eq!(list.first(10 * BATCH, |_| Some(())).unwrap().len(), 5 * BATCH);
        assert!(list.first(0, |_| Some(())).unwrap().is_empty());
    }

    #[test]
    fn a_row_that_does_not_read_back_is_an_error() {
        // A field that reads back NULL where the view wants a text.
        struct Flagless;
        impl Listed for Flagless {
            const FIELDS: usize = 1;
            type View<'a> = &'a str;
            fn fields(&self) -> impl Iterator<Item = Option<&str>> {
                std::iter::once(None)
            }
            fn view<'a>(fields: &[Option<&'a str>]) -> Option<&'a str> {
                fields[0]
            }
        }
        let mut list = StoredList::writer();
        list.push(&Flagless).unwrap();
        let list = list.finish().unwrap();
        let error = list.first(1, |_| Some(())).unwrap_err().to_string();
        assert!(error.contains("does not read back"), "{error}");
    }
}
