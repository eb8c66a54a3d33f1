//! `RowId`: a models row's id as the plan holds it. Most ids are uuids, whose text PostgreSQL
//! writes one way (lowercase, hyphenated): such an id is held as its 16 bytes, in place, and
//! spelled again when written. Any other text is shared (`Shared`). A 5.4 GB export holds 1.6
//! million ids: a uuid text takes 8 bytes and an allocation of 48, its bytes 24 in place.

use crate::shared::Shared;
use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;

#[derive(Clone)]
pub enum RowId {
    /// A uuid in PostgreSQL's text form, as its bytes.
    Uuid([u8; 16]),
    /// Any other text.
    Text(Shared),
}

/// A uuid's text: 36 bytes, hyphens after the 8th, 12th, 16th and 20th digit.
const UUID_TEXT: usize = 36;
const HYPHENS: [usize; 4] = [8, 13, 18, 23];
/// Where each byte's two digits are in the text.
const DIGITS_AT: [usize; 16] = [0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34];
const HEX: &[u8; 16] = b"0123456789abcdef";

/// A `RowId`'s text, spelled out for a uuid (only `spelled` makes one of those).
pub struct IdText<'a>(Spelling<'a>);

enum Spelling<'a> {
    Uuid([u8; UUID_TEXT]),
    Text(&'a str),
}

impl<'a> From<&'a str> for IdText<'a> {
    fn from(text: &'a str) -> IdText<'a> {
        IdText(Spelling::Text(text))
    }
}

impl Deref for IdText<'_> {
    type Target = str;

    fn deref(&self) -> &str {
        match &self.0 {
            // SAFETY: `spelled` writes only ASCII hex digits and hyphens there.
            Spelling::Uuid(text) => unsafe { std::str::from_utf8_unchecked(text) },
            Spelling::Text(text) => text,
        }
    }
}

impl RowId {
    /// The id's text as PostgreSQL wrote it.
    pub fn text(&self) -> IdText<'_> {
        match self {
            RowId::Uuid(bytes) => spelled(bytes),
            RowId::Text(text) => IdText::from(&**text),
        }
    }

    /// The shared text, when the id is held as one (to be asked of memory ahead).
    pub fn shared(&self) -> Option<&Shared> {
        match self {
            RowId::Uuid(_) => None,
            RowId::Text(text) => Some(text),
        }
    }

    /// The text's first 8 bytes as a big-endian integer (zero past its end): most ids differ
    /// there, and comparing these spares spelling or reading the texts.
    pub fn prefix(&self) -> u64 {
        let text = self.text();
        let mut bytes = [0u8; 8];
        let n = text.len().min(8);
        bytes[..n].copy_from_slice(&text.as_bytes()[..n]);
        u64::from_be_bytes(bytes)
    }

    /// The bytes of `text` when it is a uuid as PostgreSQL writes one.
    fn uuid(text: &str) -> Option<[u8; 16]> {
        let text = text.as_bytes();
        if text.len() != UUID_TEXT || HYPHENS.iter().any(|&at| text[at] != b'-') {
            return None;
        }
        let digit = |at: usize| match text[at] {
            c @ b'0'..=b'9' => Some(c - b'0'),
            c @ b'a'..=b'f' => Some(c - b'a' + 10),
            _ => None,
        };
        let mut bytes = [0u8; 16];
        for (byte, &at) in bytes.iter_mut().zip(&DIGITS_AT) {
            *byte = digit(at)? << 4 | digit(at + 1)?;
        }
        Some(bytes)
    }
}

/// A uuid's bytes as PostgreSQL writes them.
pub fn spelled(bytes: &[u8; 16]) -> IdText<'static> {
    let mut text = [b'-'; UUID_TEXT];
    for (&byte, &at) in bytes.iter().zip(&DIGITS_AT) {
        text[at] = HEX[usize::from(byte >> 4)];
        text[at + 1] = HEX[usize::from(byte & 15)];
    }
    IdText(Spelling::Uuid(text))
}

impl Default for RowId {
    fn default() -> Self {
        RowId::Text(Shared::default())
    }
}

impl From<&str> for RowId {
    fn from(text: &str) -> RowId {
        match RowId::uuid(text) {
            Some(bytes) => RowId::Uuid(bytes),
            None => RowId::Text(text.into()),
        }
    }
}

impl From<String> for RowId {
    fn from(text: String) -> RowId {
        RowId::from(text.as_str())
    }
}

impl PartialEq for RowId {
    fn eq(&self, other: &RowId) -> bool {
        match (self, other) {
            (RowId::Uuid(a), RowId::Uuid(b)) => a == b,
            _ => *self.text() == *other.text(),
        }
    }
}

impl Eq for RowId {}

impl Hash for RowId {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.text().hash(state);
    }
}

impl Ord for RowId {
    /// Byte order of the texts: for two uuids that of their bytes, as the hex digits and the
    /// hyphens' places keep it.
    fn cmp(&self, other: &RowId) -> Ordering {
        match (self, other) {
            (RowId::Uuid(a), RowId::Uuid(b)) => a.cmp(b),
            _ => self.text().cmp(&other.text()),
        }
    }
}

impl PartialOrd for RowId {
    fn partial_cmp(&self, other: &RowId) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for RowId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text())
    }
}

impl fmt::Debug for RowId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.text(), f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXTS: [&str; 12] = [
        "",
        "0",
        "v1",
        "00000000-0000-0000-0000-000000000000",
        "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
        "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f1",
        "0F1E2D3C-4B5A-6978-8796-A5B4C3D2E1F0",
        "0f1e2d3c4b5a69788796a5b4c3d2e1f0",
        "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f",
        "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1fg",
        "ffffffff-ffff-ffff-ffff-ffffffffffff",
        "ffffffff-ffff-ffff-ffff-ffffffffffff-",
    ];

    #[test]
    fn only_a_uuid_as_postgresql_writes_it_is_held_as_bytes() {
        let held: Vec<bool> = TEXTS.iter().map(|t| matches!(RowId::from(*t), RowId::Uuid(_))).collect();
        assert_eq!(held, [false, false, false, true, true, true, false, false, false, false, true, false]);
    }

    #[test]
    fn an_id_reads_back_compares_and_hashes_as_its_text() {
        let hash = |id: &RowId| {
            let mut hasher = std::collections::hash_map::DefaultHasher::new();
            id.hash(&mut hasher);
            hasher.finish()
        };
        for a in TEXTS {
            let id = RowId::from(a);
            assert_eq!(&*id.text(), a);
            assert_eq!((id.to_string(), format!("{id:?}")), (a.to_string(), format!("{a:?}")));
            let prefix = u64::from_be_bytes(std::array::from_fn(|i| a.as_bytes().get(i).copied().unwrap_or(0)));
            assert_eq!(id.prefix(), prefix, "{a}");
            for b in TEXTS {
                // Held as bytes or as a shared text, the order and equality are the texts'.
                for other in [RowId::from(b), RowId::Text(b.into())] {
                    assert_eq!(id.cmp(&other), a.cmp(b), "{a} against {b}");
                    assert_eq!(id == other, a == b);
                    if a == b {
                        assert_eq!(hash(&id), hash(&other));
                    }
                }
            }
        }
    }
}
