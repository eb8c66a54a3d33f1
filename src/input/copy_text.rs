//! PostgreSQL COPY text format (what `pg_dump` writes between `COPY … FROM stdin;` and `\.`):
//! tab-separated fields, `\N` for NULL, backslash escapes. DuckDB's CSV reader cannot decode it,
//! so it is decoded here, into one reusable buffer per row (which the CSV reader shares).

use std::ops::Range;

/// One decoded row: the bytes of every field in one buffer, and where each field lies.
#[derive(Default)]
pub struct DecodedRow {
    bytes: Vec<u8>,
    fields: Vec<Option<Range<usize>>>,
}

impl DecodedRow {
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// The fields as text; `Err` names the first field that is not valid UTF-8 (1-based).
    pub fn texts(&self) -> Result<Vec<Option<&str>>, usize> {
        self.fields
            .iter()
            .enumerate()
            .map(|(i, field)| match field {
                None => Ok(None),
                Some(range) => std::str::from_utf8(&self.bytes[range.clone()]).map(Some).map_err(|_| i + 1),
            })
            .collect()
    }

    pub fn clear(&mut self) {
        self.bytes.clear();
        self.fields.clear();
    }

    pub fn push_null(&mut self) {
        self.fields.push(None);
    }

    /// Appends a field whose decoded bytes `write` puts at the end of the buffer.
    pub fn push_with(&mut self, write: impl FnOnce(&mut Vec<u8>)) {
        let start = self.bytes.len();
        write(&mut self.bytes);
        self.fields.push(Some(start..self.bytes.len()));
    }

    /// Decodes one COPY data line (without its line terminator).
    pub fn decode(&mut self, line: &[u8]) {
        self.clear();
        for raw in line.split(|&b| b == b'\t') {
            if raw == b"\\N" {
                self.push_null();
            } else {
                self.push_with(|out| unescape_into(raw, out));
            }
        }
    }
}

fn unescape_into(raw: &[u8], out: &mut Vec<u8>) {
    let mut i = 0;
    while i < raw.len() {
        let b = raw[i];
        if b != b'\\' || i + 1 == raw.len() {
            out.push(b);
            i += 1;
            continue;
        }
        let next = raw[i + 1];
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
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(line: &[u8]) -> Vec<Option<String>> {
        let mut row = DecodedRow::default();
        row.decode(line);
        row.texts().unwrap().into_iter().map(|f| f.map(str::to_string)).collect()
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
        ];
        for (line, expected) in cases {
            let expected: Vec<Option<String>> = expected.iter().map(|f| f.map(str::to_string)).collect();
            assert_eq!(decode(line), expected, "{}", String::from_utf8_lossy(line));
        }
    }

    #[test]
    fn invalid_utf8_names_the_field() {
        let mut row = DecodedRow::default();
        row.decode(b"ok\t\\377");
        assert_eq!(row.texts().err(), Some(2));
    }
}
