//! `Spill`: rows of the plan kept on disk, written once and read back in order.
//!
//! A large export's cascade names millions of rows of other tables, each by its key's text: held
//! in memory as long as the plan, they grew the run's memory with the export. Here they go to an
//! unlinked scratch file in the temporary directory (where the scratch workspace lives too) and
//! come back a chunk at a time while the reports are written.
//!
//! A record is a tag (`u32`) and a text, written as the tag, the text's length (both
//! little-endian `u32`) and its bytes.

use std::fs::File;
use std::io;
use std::ops::Range;
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// What a reader asks of the file at once: a few hundred rows, or a few bytes in the tests (so
/// that records straddle every read).
const CHUNK: usize = if cfg!(test) { 7 } else { 256 * 1024 };

const RECORD_HEAD: usize = 8;

/// Records written to a scratch file, made on the first write. A clone shares the file: what
/// either appends then goes to a place of its own there.
#[derive(Debug, Clone, Default)]
pub struct Spill {
    file: Option<Arc<SpillFile>>,
}

#[derive(Debug)]
struct SpillFile {
    file: File,
    /// Where the next records go.
    end: AtomicU64,
}

impl Spill {
    /// Appends `records` (made by `push_record`), returning where they lie.
    pub fn append(&mut self, records: &[u8]) -> io::Result<Range<u64>> {
        let spill = match &self.file {
            Some(spill) => spill,
            None => self.file.insert(Arc::new(SpillFile { file: tempfile::tempfile()?, end: AtomicU64::new(0) })),
        };
        let start = spill.end.fetch_add(records.len() as u64, Ordering::Relaxed);
        spill.file.write_all_at(records, start)?;
        Ok(start..start + records.len() as u64)
    }

    /// Hands the records in `range` to `each`, a batch of `records` at a time (the last may
    /// hold fewer), in order.
    pub fn batches<E: From<crate::Error>>(
        &self,
        range: Range<u64>,
        records: usize,
        mut each: impl FnMut(&Batch) -> Result<(), E>,
    ) -> Result<(), E> {
        let mut reader = self.reader(range);
        let mut batch = Batch::default();
        loop {
            batch.fill(&mut reader, records)?;
            if batch.is_empty() {
                return Ok(());
            }
            each(&batch)?;
            batch.clear();
        }
    }

    /// The records in `range` (as `append` returned it), one at a time.
    pub fn reader(&self, range: Range<u64>) -> Reader<'_> {
        let file = self.file.as_deref().map(|spill| &spill.file);
        Reader { file, next: range.start, end: range.end, buf: Vec::new(), at: 0 }
    }
}

/// Bytes of records appended to a spill at once: a megabyte, or a few bytes in the tests (so
/// that a list goes in several appends).
const WRITE: usize = if cfg!(test) { 64 } else { 1 << 20 };

/// Records pushed one at a time, appended to a spill a megabyte at a time.
pub struct Writer {
    spill: Spill,
    records: Vec<u8>,
    written: Option<Range<u64>>,
}

impl Writer {
    /// A writer to `spill` for about `bytes` of records (its buffer holds at most a megabyte of
    /// them).
    pub fn new(spill: Spill, bytes: usize) -> Writer {
        Writer { spill, records: Vec::with_capacity(WRITE.min(bytes)), written: None }
    }

    /// Adds a record (see `push_record`).
    pub fn push(&mut self, tag: u32, text: &[u8]) -> io::Result<()> {
        push_record(&mut self.records, tag, text)?;
        if self.records.len() >= WRITE {
            self.write_out()?;
        }
        Ok(())
    }

    /// The spill, every record written, and where they lie in it (`None` when there were none).
    pub fn finish(mut self) -> io::Result<(Spill, Option<Range<u64>>)> {
        if !self.records.is_empty() {
            self.write_out()?;
        }
        Ok((self.spill, self.written))
    }

    fn write_out(&mut self) -> io::Result<()> {
        let written = self.spill.append(&self.records)?;
        self.records.clear();
        self.written = Some(self.written.as_ref().map_or(written.start, |w| w.start)..written.end);
        Ok(())
    }
}

/// A spill's failure as the run reports it: in the temporary directory, where it lives.
pub fn failed(source: io::Error) -> crate::Error {
    crate::Error::io(&std::env::temp_dir(), source)
}

/// Adds a record to `out`; a text of 4 GiB or more is refused.
pub fn push_record(out: &mut Vec<u8>, tag: u32, text: &[u8]) -> io::Result<()> {
    let len = u32::try_from(text.len())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "a text of 4 GiB or more cannot be spilled"))?;
    out.extend_from_slice(&tag.to_le_bytes());
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(text);
    Ok(())
}

/// Reads a range of records in order.
pub struct Reader<'a> {
    file: Option<&'a File>,
    /// The file's next byte to read, and the range's end.
    next: u64,
    end: u64,
    /// Bytes read and not yet passed, from `at` on.
    buf: Vec<u8>,
    at: usize,
}

impl Reader<'_> {
    /// The next record, left in place (`advance` passes it); `None` at the range's end.
    pub fn peek(&mut self) -> io::Result<Option<(u32, &[u8])>> {
        if !self.holds(RECORD_HEAD)? {
            return Ok(None);
        }
        let word = |at: usize| u32::from_le_bytes(self.buf[at..at + 4].try_into().expect("four bytes"));
        let (tag, len) = (word(self.at), word(self.at + 4) as usize);
        if !self.holds(RECORD_HEAD + len)? {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "a spilled record ends early"));
        }
        let text = self.at + RECORD_HEAD;
        Ok(Some((tag, &self.buf[text..text + len])))
    }

    /// Passes the record `peek` returned.
    pub fn advance(&mut self) {
        let len = u32::from_le_bytes(self.buf[self.at + 4..self.at + 8].try_into().expect("four bytes"));
        self.at += RECORD_HEAD + len as usize;
    }

    /// Whether `len` bytes from `at` on are in `buf`, reading more when not; false only at the
    /// range's end with nothing left.
    fn holds(&mut self, len: usize) -> io::Result<bool> {
        while self.buf.len() - self.at < len {
            if self.next == self.end {
                return match self.buf.len() == self.at {
                    true => Ok(false),
                    false => Err(io::Error::new(io::ErrorKind::UnexpectedEof, "a spilled record ends early")),
                };
            }
            let file = self.file.ok_or_else(|| io::Error::other("records read from a spill never written"))?;
            self.buf.drain(..self.at);
            self.at = 0;
            let kept = self.buf.len();
            let want = CHUNK.max(len - kept).min((self.end - self.next) as usize);
            self.buf.resize(kept + want, 0);
            file.read_exact_at(&mut self.buf[kept..], self.next)?;
            self.next += want as u64;
        }
        Ok(true)
    }
}

/// Records read back for one batch: their texts copied end to end, as the readers' buffers move
/// on.
#[derive(Default)]
pub struct Batch {
    texts: Vec<u8>,
    records: Vec<(u32, Range<usize>)>,
}

impl Batch {
    /// Reads records from `reader` until the batch holds `records` (or they end).
    pub fn fill(&mut self, reader: &mut Reader, records: usize) -> crate::Result<()> {
        while self.records.len() < records {
            let Some((tag, text)) = reader.peek().map_err(failed)? else { break };
            self.push(tag, text);
            reader.advance();
        }
        Ok(())
    }

    pub fn push(&mut self, tag: u32, text: &[u8]) {
        let start = self.texts.len();
        self.texts.extend_from_slice(text);
        self.records.push((tag, start..self.texts.len()));
    }

    /// Each record's tag and text (which went in as text).
    pub fn read(&self) -> crate::Result<impl Iterator<Item = (u32, &str)>> {
        let texts =
            std::str::from_utf8(&self.texts).map_err(|e| failed(io::Error::new(io::ErrorKind::InvalidData, e)))?;
        Ok(self.records.iter().map(move |(tag, text)| (*tag, &texts[text.clone()])))
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    pub fn clear(&mut self) {
        self.texts.clear();
        self.records.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(spill: &Spill, range: Range<u64>) -> Vec<(u32, String)> {
        let mut reader = spill.reader(range);
        let mut records = Vec::new();
        while let Some((tag, text)) = reader.peek().unwrap() {
            records.push((tag, String::from_utf8(text.to_vec()).unwrap()));
            reader.advance();
        }
        records
    }

    #[test]
    fn records_come_back_as_written_whatever_their_length_against_a_read() {
        let texts = ["", "a", "uuid-like text of 36 bytes, roughly.", "é", &"long ".repeat(20)];
        let records: Vec<(u32, String)> = (0..).zip(texts.iter().cycle().take(12).map(|t| t.to_string())).collect();
        let mut spill = Spill::default();
        let (first, second) = records.split_at(5);
        let mut ranges = Vec::new();
        for part in [first, second] {
            let mut bytes = Vec::new();
            for (tag, text) in part {
                push_record(&mut bytes, *tag, text.as_bytes()).unwrap();
            }
            ranges.push(spill.append(&bytes).unwrap());
        }
        assert_eq!(read(&spill, ranges[0].clone()), first);
        assert_eq!(read(&spill, ranges[1].clone()), second);
        assert_eq!(read(&spill, ranges[0].start..ranges[1].end), records);
        assert_eq!(read(&spill, ranges[1].end..ranges[1].end), []);
        assert!(read(&Spill::default(), 0..0).is_empty());
    }

    #[test]
    fn a_clone_appends_where_the_other_does_not() {
        let records = |text: &str| {
            let mut bytes = Vec::new();
            push_record(&mut bytes, 7, text.as_bytes()).unwrap();
            bytes
        };
        let mut first = Spill::default();
        let shared = first.append(&records("both")).unwrap();
        let mut second = first.clone();
        let (one, two) = (first.append(&records("first's")).unwrap(), second.append(&records("second's")).unwrap());
        for (spill, range, text) in [(&first, one, "first's"), (&second, two, "second's"), (&second, shared, "both")] {
            assert_eq!(read(spill, range), [(7, text.to_string())]);
        }
    }

    #[test]
    fn a_range_cut_inside_a_record_is_refused() {
        let mut bytes = Vec::new();
        push_record(&mut bytes, 1, b"twelve bytes").unwrap();
        let mut spill = Spill::default();
        let range = spill.append(&bytes).unwrap();
        for end in [range.end - 1, 3] {
            let error = spill.reader(0..end).peek().unwrap_err();
            assert_eq!(error.kind(), io::ErrorKind::UnexpectedEof, "a range to {end}");
        }
    }
}
