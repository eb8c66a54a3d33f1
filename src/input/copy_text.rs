//! PostgreSQL COPY text format (what `pg_dump` writes between `COPY … FROM stdin;` and `\.`):
//! tab-separated fields, `\N` for NULL, backslash escapes. DuckDB's CSV reader cannot decode it,
//! so it is decoded here. A field without escapes stays where it is in the line; the others are
//! decoded into one reusable buffer per row (which the CSV reader shares).

use std::ops::Range;

/// Where a field's text lies.
enum Field {
    Null,
    /// In the line the row was decoded from, as it is.
    InLine(Range<usize>),
    /// In the row's buffer, decoded.
    Decoded(Range<usize>),
}

/// One row: its fields, those that had to be decoded in one buffer.
#[derive(Default)]
pub struct DecodedRow {
    bytes: Vec<u8>,
    fields: Vec<Field>,
}

/// A row decoded from `line`, which holds its fields without escapes.
pub struct LineRow<'a> {
    row: &'a DecodedRow,
    line: &'a [u8],
}

impl<'a> LineRow<'a> {
    /// The number of fields.
    pub fn width(&self) -> usize {
        self.row.fields.len()
    }

    /// The fields as text (see `DecodedRow::texts`).
    pub fn texts(&self) -> Result<Vec<Option<&'a str>>, usize> {
        self.row.texts_in(self.line)
    }
}

impl DecodedRow {
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// The fields of a row built by `push_with` and `push_null` as text; `Err` names the first
    /// field that is not valid UTF-8 (1-based).
    pub fn texts(&self) -> Result<Vec<Option<&str>>, usize> {
        self.texts_in(&[])
    }

    /// The fields as text, those in the line read from `line`. The line and the buffer are each
    /// checked at once; a field that cuts a character in two fails to slice, and then each field
    /// is checked on its own (the line may hold bytes that only their decoding made valid).
    fn texts_in<'a>(&'a self, line: &'a [u8]) -> Result<Vec<Option<&'a str>>, usize> {
        let (Ok(line_text), Ok(decoded)) = (std::str::from_utf8(line), std::str::from_utf8(&self.bytes)) else {
            return self.texts_one_by_one(line);
        };
        // Filled in place: collected through `Option`, the Vec grew from 4 fields, a
        // reallocation each time it doubled, for every row.
        let mut texts = Vec::with_capacity(self.fields.len());
        for field in &self.fields {
            let text = match field {
                Field::Null => None,
                Field::InLine(range) => Some(line_text.get(range.clone())),
                Field::Decoded(range) => Some(decoded.get(range.clone())),
            };
            match text {
                None => texts.push(None),
                Some(Some(text)) => texts.push(Some(text)),
                Some(None) => return self.texts_one_by_one(line),
            }
        }
        Ok(texts)
    }

    fn texts_one_by_one<'a>(&'a self, line: &'a [u8]) -> Result<Vec<Option<&'a str>>, usize> {
        let text = |bytes: &'a [u8], i: usize| std::str::from_utf8(bytes).map(Some).map_err(|_| i + 1);
        self.fields
            .iter()
            .enumerate()
            .map(|(i, field)| match field {
                Field::Null => Ok(None),
                Field::InLine(range) => text(&line[range.clone()], i),
                Field::Decoded(range) => text(&self.bytes[range.clone()], i),
            })
            .collect()
    }

    pub fn clear(&mut self) {
        self.bytes.clear();
        self.fields.clear();
    }

    pub fn push_null(&mut self) {
        self.fields.push(Field::Null);
    }

    /// Appends a field whose decoded bytes `write` puts at the end of the buffer.
    pub fn push_with(&mut self, write: impl FnOnce(&mut Vec<u8>)) {
        let start = self.bytes.len();
        write(&mut self.bytes);
        self.fields.push(Field::Decoded(start..self.bytes.len()));
    }

    /// Decodes one COPY data line (without its line terminator). One pass finds the tabs and
    /// the backslashes: a field without a backslash is left in the line, uncopied.
    pub fn decode<'a>(&'a mut self, line: &'a [u8]) -> LineRow<'a> {
        self.clear();
        let mut start = 0;
        let mut escaped = false;
        for at in memchr::memchr2_iter(b'\t', b'\\', line).chain([line.len()]) {
            if line.get(at) == Some(&b'\\') {
                escaped = true;
                continue;
            }
            let raw = &line[start..at];
            if !escaped {
                self.fields.push(Field::InLine(start..at));
            } else if raw == b"\\N" {
                self.push_null();
            } else {
                self.push_with(|out| unescape_into(raw, out));
            }
            escaped = false;
            start = at + 1;
        }
        LineRow { row: self, line }
    }
}

/// Appends `raw` with its backslash escapes decoded; the text between escapes is copied whole.
fn unescape_into(raw: &[u8], out: &mut Vec<u8>) {
    let mut i = 0;
    while let Some(found) = memchr::memchr(b'\\', &raw[i..]) {
        out.extend_from_slice(&raw[i..i + found]);
        i += found;
        i = unescape_one(raw, i, out);
    }
    out.extend_from_slice(&raw[i..]);
}

/// Decodes the escape at `raw[i]` (a backslash) into `out`; returns where the text resumes.
fn unescape_one(raw: &[u8], mut i: usize, out: &mut Vec<u8>) -> usize {
    let Some(&next) = raw.get(i + 1) else {
        out.push(b'\\');
        return i + 1;
    };
    i += 2;
    match next {
        b'b' => out.push(8),
        b'f' => out.push(12),
        b'n' => out.push(b'\n'),
        b'r' => out.push(b'\r'),
        b't' => out.push(b'\t'),
        b'v' => out.push(11),
        b'0'..=b'7' => {
            let mut value = u32::from(next - b'0');
            for _ in 0..2 {
                match raw.get(i) {
                    Some(&d @ b'0'..=b'7') => {
                        value = value * 8 + u32::from(d - b'0');
                        i += 1;
                    }
                    _ => break,
                }
            }
            out.push(value as u8);
        }
        b'x' if raw.get(i).is_some_and(u8::is_ascii_hexdigit) => {
            let mut value = 0u8;
            for _ in 0..2 {
                match raw.get(i).and_then(|d| (*d as char).to_digit(16)) {
                    Some(d) => {
                        value = value * 16 + d as u8;
                        i += 1;
                    }
                    None => break,
                }
            }
            out.push(value);
        }
        other => out.push(other),
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(line: &[u8]) -> Vec<Option<String>> {
        let mut row = DecodedRow::default();
        row.decode(line).texts().unwrap().into_iter().map(|f| f.map(str::to_string)).collect()
    }

    #[test]
    fn escapes_decode_as_postgresql_writes_them() {
        let cases: &[(&[u8], &[Option<&str>])] = &[
            (b"a\tb", &[Some("a"), Some("b")]),
            (b"\\N\t", &[None, Some("")]),
            (b"x\\ty\\nz\\\\", &[Some("x\ty\nz\\")]),
            (b"\\101\\x42\\x4", &[Some("AB\u{4}")]),
            (b"\\r\\b\\f\\v\\.", &[Some("\r\u{8}\u{c}\u{b}.")]),
            (b"\\\\N", &[Some("\\N")]),
            ("caf\\303\\251 日本".as_bytes(), &[Some("café 日本")]),
            (b"\\xzz", &[Some("xzz")]),
            (b"ab\\\tc\\", &[Some("ab\\"), Some("c\\")]),
            (b"", &[Some("")]),
        ];
        for (line, expected) in cases {
            let expected: Vec<Option<String>> = expected.iter().map(|f| f.map(str::to_string)).collect();
            assert_eq!(decode(line), expected, "{}", String::from_utf8_lossy(line));
        }
    }

    #[test]
    fn invalid_utf8_names_the_field() {
        let mut row = DecodedRow::default();
        assert_eq!(row.decode(b"ok\t\\377").texts().err(), Some(2));
        // "é" whole across two fields is still invalid in each.
        assert_eq!(row.decode(b"ok\t\\303\t\\251").texts().err(), Some(2));
        assert_eq!(row.decode(b"\\303\\251\t\\N\t").texts(), Ok(vec![Some("é"), None, Some("")]));
        // Raw bytes invalid in the line, made whole by an escape before them.
        assert_eq!(row.decode(b"x\t\\303\xa9").texts(), Ok(vec![Some("x"), Some("é")]));
        assert_eq!(row.decode(b"\xa9\tx").texts().err(), Some(1));
        assert_eq!(row.decode(b"x\t\xc3").texts().err(), Some(2));
    }
}
