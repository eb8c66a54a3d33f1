//! The rows of a report sheet as worksheet XML, written straight into a buffer: byte for byte
//! what rust_xlsxwriter writes for the same cells in constant-memory mode (inline strings), without
//! its per-cell allocations, format look-ups and row maps. A row without a stored cell (every field
//! an empty string) is left out, as rust_xlsxwriter leaves it out.

use super::bytes::ByteSet;
use super::tables::{Row, Value};
use crate::row_id;

/// Text of one cell, in UTF-16 code units: Excel's limit.
pub const CELL_UNITS: usize = 32_767;

/// `text` cut to Excel's cell limit, on a character boundary.
pub fn fit(text: &str) -> &str {
    // A character takes at least as many UTF-8 bytes as UTF-16 units: short text fits as it is.
    if text.len() <= CELL_UNITS {
        return text;
    }
    let mut units = 0;
    for (at, c) in text.char_indices() {
        units += c.len_utf16();
        if units > CELL_UNITS {
            return &text[..at];
        }
    }
    text
}

/// Writes data rows into `out`.
pub struct Rows {
    /// Each column's cell up to its row number (`<c r="A`, `<c r="B"`, …): one copy a cell.
    cell_starts: Vec<String>,
    /// The end of a NULL cell, with its style (shaded grey).
    null_end: String,
    pub out: Vec<u8>,
}

impl Rows {
    pub fn new(columns: usize, null_style: u32) -> Rows {
        let cell_starts = (0..columns)
            .map(|c| format!("<c r=\"{}", rust_xlsxwriter::utility::column_number_to_name(c as u16)))
            .collect();
        Rows { cell_starts, null_end: format!("\" s=\"{null_style}\"/>"), out: Vec::with_capacity(1 << 17) }
    }

    /// Rows numbered from `first` (1-based, the header is row 1).
    pub fn push_all(&mut self, first: u32, rows: &[Row]) {
        for (number, row) in (first..).zip(rows) {
            self.push(number, row);
        }
    }

    /// Row `number` (1-based, the header is row 1) with `values`, texts cut to fit a cell.
    pub fn push(&mut self, number: u32, values: &[Value]) {
        let mut number_text = itoa::Buffer::new();
        let number_text = number_text.format(number).as_bytes();
        let mut stored = false;
        for (column, value) in values.iter().enumerate() {
            if *value == Value::Text(Some("")) {
                continue;
            }
            let out = &mut self.out;
            if !stored {
                stored = true;
                out.extend_from_slice(b"<row r=\"");
                out.extend_from_slice(number_text);
                out.extend_from_slice(b"\">");
            }
            out.extend_from_slice(self.cell_starts[column].as_bytes());
            out.extend_from_slice(number_text);
            match value {
                Value::Text(None) | Value::Bool(None) => out.extend_from_slice(self.null_end.as_bytes()),
                Value::Bool(Some(true)) => out.extend_from_slice(b"\" t=\"b\"><v>1</v></c>"),
                Value::Bool(Some(false)) => out.extend_from_slice(b"\" t=\"b\"><v>0</v></c>"),
                Value::Text(Some(text)) => text_cell(text, out),
                Value::Uuid(bytes) => text_cell(&row_id::spelled(bytes), out),
            }
        }
        if stored {
            self.out.extend_from_slice(b"</row>");
        }
    }
}

/// The rest of a cell that holds `text`, cut to fit.
fn text_cell(text: &str, out: &mut Vec<u8>) {
    let text = fit(text);
    out.extend_from_slice(b"\" t=\"inlineStr\"><is><t");
    // These are ASCII: a first or last byte is one of them only as a whole character.
    let space = |byte: Option<&u8>| matches!(byte, Some(b'\t' | b'\n' | b' '));
    if space(text.as_bytes().first()) || space(text.as_bytes().last()) {
        out.extend_from_slice(b" xml:space=\"preserve\"");
    }
    out.push(b'>');
    escape(text, out);
    out.extend_from_slice(b"</t></is></c>");
}

/// Whether `_xHHHH_` starts at `at`: text Excel would read as an escaped character, so its `_`
/// is itself escaped (`_x005F`).
fn escape_sequence_at(bytes: &[u8], at: usize) -> bool {
    bytes.len() >= at + 7
        && bytes[at + 1] == b'x'
        && bytes[at + 6] == b'_'
        && bytes[at + 2..at + 6].iter().all(u8::is_ascii_hexdigit)
}

/// Bytes that may need escaping: `&`, `<`, `>`, `_`, control characters other than tab and line
/// feed, and 0xEF (which starts U+FFFE and U+FFFF).
const ATTENTION: ByteSet = ByteSet::new(b"&<>_\xEF", 0x20, b"\t\n");

/// Cell text as XML: `&`, `<` and `>` as entities, control characters and U+FFFE/U+FFFF as
/// `_xHHHH_`, and a literal `_xHHHH_` with its underscore escaped.
fn escape(text: &str, out: &mut Vec<u8>) {
    let bytes = text.as_bytes();
    // Most text has nothing to escape: found a block or a word at a time, then one copy.
    let mut copied = 0;
    let mut at = 0;
    while let Some(found) = ATTENTION.find(&bytes[at..]) {
        at += found;
        let byte = bytes[at];
        let (replacement, width): (&[u8], usize) = match byte {
            b'&' => (b"&amp;", 1),
            b'<' => (b"&lt;", 1),
            b'>' => (b"&gt;", 1),
            b'_' if escape_sequence_at(bytes, at) => (b"_x005F_", 1),
            0..=0x1F => {
                out.extend_from_slice(&bytes[copied..at]);
                out.extend_from_slice(format!("_x{byte:04X}_").as_bytes());
                at += 1;
                copied = at;
                continue;
            }
            0xEF if bytes.get(at + 1) == Some(&0xBF) && matches!(bytes.get(at + 2), Some(0xBE | 0xBF)) => {
                (if bytes[at + 2] == 0xBE { b"_xFFFE_" } else { b"_xFFFF_" }, 3)
            }
            _ => {
                at += 1;
                continue;
            }
        };
        out.extend_from_slice(&bytes[copied..at]);
        out.extend_from_slice(replacement);
        at += width;
        copied = at;
    }
    out.extend_from_slice(&bytes[copied..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn escaped(text: &str) -> String {
        let mut out = Vec::new();
        escape(text, &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn text_is_escaped_as_excel_reads_it() {
        assert_eq!(escaped("a<b>&c"), "a&lt;b&gt;&amp;c");
        assert_eq!(escaped("tab\tnew\nline\r"), "tab\tnew\nline_x000D_");
        assert_eq!(escaped("\u{1}\u{1F}"), "_x0001__x001F_");
        assert_eq!(escaped("_x0041_ and _x00G1_ and _x004"), "_x005F_x0041_ and _x00G1_ and _x004");
        assert_eq!(escaped("\u{FFFE}\u{FFFF}\u{FFFD}é"), "_xFFFE__xFFFF_\u{FFFD}é");
        assert_eq!(
            escaped("a text longer than a word or two, with nothing to escape"),
            "a text longer than a word or two, with nothing to escape"
        );
        assert_eq!(
            escaped("words before each: x<y, a&b, then _x0041_ past them"),
            "words before each: x&lt;y, a&amp;b, then _x005F_x0041_ past them"
        );
        assert_eq!(
            escaped("escaped at the very end of a long text_x00FF_"),
            "escaped at the very end of a long text_x005F_x00FF_"
        );
    }

    #[test]
    fn text_beyond_a_cell_is_cut_on_a_character_boundary() {
        let long = "é".repeat(CELL_UNITS + 5);
        assert_eq!(fit(&long).chars().count(), CELL_UNITS);
        let emoji = "🚀".repeat(CELL_UNITS);
        assert_eq!(
            fit(&emoji).chars().map(char::len_utf16).sum::<usize>(),
            CELL_UNITS - 1,
            "a surrogate pair is never split"
        );
        assert_eq!(fit("short"), "short");
    }
}
