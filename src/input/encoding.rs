//! The client encodings pg_dump writes (`SET client_encoding = '…'`) and their conversion to
//! UTF-8, which DuckDB and the rest of rehearse read. Every encoding pg_dump may write keeps
//! ASCII bytes for ASCII characters and never puts a newline inside a character, so lines and
//! COPY terminators are found in the raw bytes; each line is converted before it is decoded.

use encoding_rs::Encoding;
use std::borrow::Cow;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Decoder {
    Utf8,
    /// Bytes without a declared encoding: read as UTF-8, which they must be.
    SqlAscii,
    /// ISO 8859-1: every byte is the code point of the same value.
    Latin1,
    /// ISO 8859-9: ISO 8859-1 with six Turkish letters in place of Icelandic ones.
    Latin5,
    Other(&'static Encoding),
}

/// A dump's client encoding, by PostgreSQL's name for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientEncoding {
    name: &'static str,
    decoder: Decoder,
}

/// PostgreSQL's encodings that rehearse converts, by canonical name. encoding_rs follows the
/// WHATWG Encoding Standard, whose `iso-8859-1` and `iso-8859-9` are really windows-1252 and
/// windows-1254: those two are decoded here instead.
const ENCODINGS: &[(&str, Decoder)] = &[
    ("UTF8", Decoder::Utf8),
    ("SQL_ASCII", Decoder::SqlAscii),
    ("LATIN1", Decoder::Latin1),
    ("LATIN2", Decoder::Other(encoding_rs::ISO_8859_2)),
    ("LATIN3", Decoder::Other(encoding_rs::ISO_8859_3)),
    ("LATIN4", Decoder::Other(encoding_rs::ISO_8859_4)),
    ("LATIN5", Decoder::Latin5),
    ("LATIN6", Decoder::Other(encoding_rs::ISO_8859_10)),
    ("LATIN7", Decoder::Other(encoding_rs::ISO_8859_13)),
    ("LATIN8", Decoder::Other(encoding_rs::ISO_8859_14)),
    ("LATIN9", Decoder::Other(encoding_rs::ISO_8859_15)),
    ("LATIN10", Decoder::Other(encoding_rs::ISO_8859_16)),
    ("ISO_8859_5", Decoder::Other(encoding_rs::ISO_8859_5)),
    ("ISO_8859_6", Decoder::Other(encoding_rs::ISO_8859_6)),
    ("ISO_8859_7", Decoder::Other(encoding_rs::ISO_8859_7)),
    ("ISO_8859_8", Decoder::Other(encoding_rs::ISO_8859_8)),
    ("WIN1250", Decoder::Other(encoding_rs::WINDOWS_1250)),
    ("WIN1251", Decoder::Other(encoding_rs::WINDOWS_1251)),
    ("WIN1252", Decoder::Other(encoding_rs::WINDOWS_1252)),
    ("WIN1253", Decoder::Other(encoding_rs::WINDOWS_1253)),
    ("WIN1254", Decoder::Other(encoding_rs::WINDOWS_1254)),
    ("WIN1255", Decoder::Other(encoding_rs::WINDOWS_1255)),
    ("WIN1256", Decoder::Other(encoding_rs::WINDOWS_1256)),
    ("WIN1257", Decoder::Other(encoding_rs::WINDOWS_1257)),
    ("WIN1258", Decoder::Other(encoding_rs::WINDOWS_1258)),
    ("WIN866", Decoder::Other(encoding_rs::IBM866)),
    ("WIN874", Decoder::Other(encoding_rs::WINDOWS_874)),
    ("KOI8R", Decoder::Other(encoding_rs::KOI8_R)),
    ("KOI8U", Decoder::Other(encoding_rs::KOI8_U)),
    ("EUC_JP", Decoder::Other(encoding_rs::EUC_JP)),
    ("SJIS", Decoder::Other(encoding_rs::SHIFT_JIS)),
    ("EUC_KR", Decoder::Other(encoding_rs::EUC_KR)),
    ("UHC", Decoder::Other(encoding_rs::EUC_KR)),
    ("EUC_CN", Decoder::Other(encoding_rs::GBK)),
    ("GBK", Decoder::Other(encoding_rs::GBK)),
    ("GB18030", Decoder::Other(encoding_rs::GB18030)),
    ("BIG5", Decoder::Other(encoding_rs::BIG5)),
];

/// Aliases PostgreSQL accepts besides the canonical names (compared as PostgreSQL does:
/// lower case, letters and digits only).
const ALIASES: &[(&str, &str)] = &[
    ("unicode", "UTF8"),
    ("iso88591", "LATIN1"),
    ("iso88592", "LATIN2"),
    ("iso88593", "LATIN3"),
    ("iso88594", "LATIN4"),
    ("iso88599", "LATIN5"),
    ("iso885910", "LATIN6"),
    ("iso885913", "LATIN7"),
    ("iso885914", "LATIN8"),
    ("iso885915", "LATIN9"),
    ("iso885916", "LATIN10"),
    ("shiftjis", "SJIS"),
    ("windows1250", "WIN1250"),
    ("windows1251", "WIN1251"),
    ("windows1252", "WIN1252"),
    ("windows1253", "WIN1253"),
    ("windows1254", "WIN1254"),
    ("windows1255", "WIN1255"),
    ("windows1256", "WIN1256"),
    ("windows1257", "WIN1257"),
    ("windows1258", "WIN1258"),
];

/// ISO 8859-9's code points where they differ from ISO 8859-1.
const LATIN5_LETTERS: [(u8, char); 6] = [(0xD0, 'Ğ'), (0xDD, 'İ'), (0xDE, 'Ş'), (0xF0, 'ğ'), (0xFD, 'ı'), (0xFE, 'ş')];

fn clean(name: &str) -> String {
    name.chars().filter(char::is_ascii_alphanumeric).map(|c| c.to_ascii_lowercase()).collect()
}

impl ClientEncoding {
    pub const UTF8: ClientEncoding = ClientEncoding { name: "UTF8", decoder: Decoder::Utf8 };

    /// The encoding PostgreSQL knows by `name`; an error names the ones rehearse reads.
    pub fn named(name: &str) -> Result<ClientEncoding, String> {
        let wanted = clean(name);
        let canonical = ALIASES.iter().find(|(alias, _)| *alias == wanted).map_or(wanted.clone(), |(_, c)| clean(c));
        ENCODINGS
            .iter()
            .find(|(known, _)| clean(known) == canonical)
            .map(|&(name, decoder)| ClientEncoding { name, decoder })
            .ok_or_else(|| {
                format!(
                    "the dump is encoded in {name}, which rehearse cannot convert (it reads {}): re-export with pg_dump -E UTF8",
                    ENCODINGS.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
                )
            })
    }

    pub fn name(self) -> &'static str {
        self.name
    }

    /// The error for bytes that are not valid in this encoding.
    pub fn invalid_text(self) -> String {
        format!("invalid {} text, the client encoding the dump declares", self.name)
    }

    /// `bytes` as UTF-8, or `None` when they are not valid in this encoding.
    pub fn decode(self, bytes: &[u8]) -> Option<Cow<'_, str>> {
        if bytes.is_ascii() {
            return std::str::from_utf8(bytes).ok().map(Cow::Borrowed);
        }
        match self.decoder {
            Decoder::Utf8 | Decoder::SqlAscii => std::str::from_utf8(bytes).ok().map(Cow::Borrowed),
            Decoder::Latin1 => Some(Cow::Owned(bytes.iter().map(|&b| char::from(b)).collect())),
            Decoder::Latin5 => Some(Cow::Owned(
                bytes
                    .iter()
                    .map(|&b| LATIN5_LETTERS.iter().find(|(byte, _)| *byte == b).map_or(char::from(b), |(_, c)| *c))
                    .collect(),
            )),
            Decoder::Other(encoding) => encoding.decode_without_bom_handling_and_without_replacement(bytes),
        }
    }

    /// Like `decode`, as bytes: for COPY lines, whose escapes are decoded after conversion.
    /// UTF-8 (and SQL_ASCII) lines pass unchecked: their fields are checked one by one once
    /// decoded, which names the field at fault.
    pub fn to_utf8(self, bytes: &[u8]) -> Option<Cow<'_, [u8]>> {
        if matches!(self.decoder, Decoder::Utf8 | Decoder::SqlAscii) {
            return Some(Cow::Borrowed(bytes));
        }
        Some(match self.decode(bytes)? {
            Cow::Borrowed(text) => Cow::Borrowed(text.as_bytes()),
            Cow::Owned(text) => Cow::Owned(text.into_bytes()),
        })
    }
}

/// The encoding a `SET client_encoding = '…';` statement declares, if `stmt` is one.
pub fn declared_in(stmt: &str) -> Option<&str> {
    let rest = stmt.trim_start().strip_prefix("SET client_encoding")?;
    rest.split('\'').nth(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decoded(name: &str, bytes: &[u8]) -> Option<String> {
        ClientEncoding::named(name).unwrap().decode(bytes).map(Cow::into_owned)
    }

    #[test]
    fn single_byte_encodings_convert_as_postgresql_does() {
        let cases: &[(&str, &[u8], &str)] = &[
            ("LATIN1", b"caf\xe9 \x85 \xff", "café \u{85} ÿ"),
            ("latin1", b"\x80", "\u{80}"),
            ("ISO-8859-1", b"\xe9", "é"),
            ("LATIN5", b"\xd0\xdd\xde\xf0\xfd\xfe\xe9\x85", "ĞİŞğışé\u{85}"),
            ("WIN1252", b"\x80 \x84 \xe9", "€ „ é"),
            ("LATIN2", b"\xb1\x85", "ą\u{85}"),
            ("LATIN9", b"\xa4", "€"),
            ("WIN1251", b"\xcf\xf0\xe8", "При"),
            ("KOI8R", b"\xf0\xd2\xc9", "При"),
        ];
        for (name, bytes, expected) in cases {
            assert_eq!(decoded(name, bytes).as_deref(), Some(*expected), "{name}");
        }
    }

    #[test]
    fn multibyte_encodings_convert_and_reject_invalid_bytes() {
        assert_eq!(decoded("EUC_JP", b"\xc6\xfc\xcb\xdc").as_deref(), Some("日本"));
        assert_eq!(decoded("SJIS", b"\x93\xfa\x96\x7b").as_deref(), Some("日本"));
        assert_eq!(decoded("EUC_JP", b"\xc6"), None);
        assert_eq!(decoded("UTF8", b"\xc3"), None);
        assert_eq!(decoded("SQL_ASCII", "é".as_bytes()).as_deref(), Some("é"));
    }

    #[test]
    fn unknown_encodings_are_refused_by_name() {
        let error = ClientEncoding::named("MULE_INTERNAL").unwrap_err();
        assert!(error.contains("encoded in MULE_INTERNAL"), "{error}");
        assert!(error.contains("pg_dump -E UTF8"), "{error}");
        let error = ClientEncoding::named("EUC_TW").unwrap_err();
        assert!(error.contains("(it reads UTF8, SQL_ASCII, LATIN1,") && error.contains(" BIG5)"), "{error}");
        assert_eq!(declared_in("SET client_encoding = 'WIN1252';"), Some("WIN1252"));
        assert_eq!(declared_in("SET search_path = '';"), None);
    }
}
