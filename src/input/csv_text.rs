//! RFC 4180 CSV as psql's `\copy … CSV HEADER` writes it. Unlike general CSV readers, it keeps
//! the one distinction psql relies on: an unquoted empty field is NULL, a quoted `""` is an
//! empty string.

use super::copy_text::DecodedRow;
use std::io::{self, BufRead};

pub struct CsvReader<R> {
    reader: R,
    line: u64,
    buf: Vec<u8>,
}

#[derive(Debug)]
pub enum CsvError {
    Io(io::Error),
    /// A malformed record: the line where the problem is, and what it is.
    Malformed(u64, String),
}

impl<R: BufRead> CsvReader<R> {
    pub fn new(reader: R) -> Self {
        CsvReader { reader, line: 0, buf: Vec::new() }
    }

    /// Line of the last line read (1-based).
    pub fn line(&self) -> u64 {
        self.line
    }

    fn next_line(&mut self) -> Result<bool, CsvError> {
        self.buf.clear();
        let n = self.reader.read_until(b'\n', &mut self.buf).map_err(CsvError::Io)?;
        if n > 0 {
            self.line += 1;
        }
        Ok(n > 0)
    }

    /// Reads the next record into `row`; returns the line it started on, or `None` at the end.
    pub fn next_record(&mut self, row: &mut DecodedRow) -> Result<Option<u64>, CsvError> {
        row.clear();
        if !self.next_line()? {
            return Ok(None);
        }
        let start = self.line;
        let mut pos = 0;
        loop {
            if self.buf.get(pos) == Some(&b'"') {
                pos = self.quoted_field(row, pos + 1, start)?;
            } else {
                let end = self.buf[pos..]
                    .iter()
                    .position(|&b| b == b',' || b == b'\n' || b == b'\r')
                    .map_or(self.buf.len(), |i| pos + i);
                if end == pos {
                    row.push_null();
                } else {
                    let field = &self.buf[pos..end];
                    if field.contains(&b'"') {
                        return Err(CsvError::Malformed(self.line, "a quote inside an unquoted field".into()));
                    }
                    row.push_with(|out| out.extend_from_slice(field));
                }
                pos = end;
            }
            match self.buf.get(pos) {
                Some(b',') => pos += 1,
                None | Some(b'\n') => return Ok(Some(start)),
                Some(b'\r') if self.buf.get(pos + 1).is_none_or(|&b| b == b'\n') => return Ok(Some(start)),
                Some(_) => {
                    return Err(CsvError::Malformed(self.line, "unexpected character after a closing quote".into()))
                }
            }
        }
    }

    /// Reads a quoted field whose content starts at `pos`, across lines if need be; returns the
    /// position just past its closing quote.
    fn quoted_field(&mut self, row: &mut DecodedRow, mut pos: usize, start: u64) -> Result<usize, CsvError> {
        let mut content = Vec::new();
        loop {
            match self.buf[pos..].iter().position(|&b| b == b'"') {
                Some(i) => {
                    content.extend_from_slice(&self.buf[pos..pos + i]);
                    pos += i + 1;
                    if self.buf.get(pos) == Some(&b'"') {
                        content.push(b'"');
                        pos += 1;
                    } else {
                        row.push_with(|out| out.extend_from_slice(&content));
                        return Ok(pos);
                    }
                }
                None => {
                    content.extend_from_slice(&self.buf[pos..]);
                    if !self.next_line()? {
                        return Err(CsvError::Malformed(
                            start,
                            "a quoted field is never closed (truncated file?)".into(),
                        ));
                    }
                    pos = 0;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records(text: &str) -> Result<Vec<Vec<Option<String>>>, CsvError> {
        let mut reader = CsvReader::new(text.as_bytes());
        let mut row = DecodedRow::default();
        let mut out = Vec::new();
        while reader.next_record(&mut row)?.is_some() {
            out.push(row.texts().unwrap().into_iter().map(|f| f.map(str::to_string)).collect());
        }
        Ok(out)
    }

    #[test]
    fn psql_null_and_empty_string_differ() {
        let rows = records("a,,\"\",\"x,\"\"y\"\"\nz\"\r\n\"\\t\",é,\n").unwrap();
        let s = |v: &str| Some(v.to_string());
        assert_eq!(rows[0], [s("a"), None, s(""), s("x,\"y\"\nz")]);
        assert_eq!(rows[1], [s("\\t"), s("é"), None]);
        assert_eq!(rows.len(), 2);
    }

    #[test]
    fn malformed_records_name_their_line() {
        let cases = [("a,b\n\"open,c\n", 2), ("a\nb\"c,d\n", 2), ("\"a\"b,c\n", 1)];
        for (text, line) in cases {
            match records(text) {
                Err(CsvError::Malformed(at, _)) => assert_eq!(at, line, "{text:?}"),
                other => panic!("{text:?}: {other:?}"),
            }
        }
    }
}
