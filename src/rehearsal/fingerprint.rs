//! The drift fingerprint of the rows the rollback decides on, computed as PostgreSQL computes
//! `sql::fingerprint` in the emitted scripts: DuckDB orders the rows (an ORDER BY can spill to
//! disk, an ordered aggregate cannot) with each row's md5 as a number, and the chunks' and the
//! whole's md5s are taken here as the md5s stream by.

use super::arrow_columns;
use crate::error::{Error, Result};
use crate::input::source::{hex, push_hex};
use crate::sql::{self, Col};
use duckdb::Connection;
use md5::{Digest, Md5};

/// Row count and md5 digest (hex; empty for no rows) of `relation`, equal to what
/// `sql::fingerprint` returns in PostgreSQL for the same rows and `chunk`.
pub fn digest(
    conn: &Connection,
    relation: &str,
    columns: &[Col],
    order_by: &[Col],
    chunk: u64,
) -> Result<(u64, String)> {
    let mut stmt = conn.prepare(&sql::fingerprint_rows(relation, columns, order_by))?;
    let mut chunks = Chunks::new(chunk);
    for batch in stmt.stream_arrow([])? {
        let batch = batch?;
        let digests = arrow_columns::md5_numbers(&batch, 0)?;
        for row in 0..batch.num_rows() {
            let digest = arrow_columns::md5_digest(digests, row)
                .ok_or_else(|| Error::Internal(format!("the fingerprint of {relation} has a row without a text")))?;
            chunks.push(&digest);
        }
    }
    Ok(chunks.finish())
}

/// The md5s of rows in order, `|` between: each `chunk` rows hashed, then the chunks' hashes.
struct Chunks {
    chunk: u64,
    rows: u64,
    /// The rows of the chunk so far.
    rows_md5: Md5,
    /// The chunks so far.
    chunks_md5: Md5,
    hex: Vec<u8>,
}

impl Chunks {
    fn new(chunk: u64) -> Chunks {
        Chunks { chunk, rows: 0, rows_md5: Md5::new(), chunks_md5: Md5::new(), hex: Vec::with_capacity(33) }
    }

    fn push(&mut self, row: &[u8]) {
        let first_of_chunk = self.rows.is_multiple_of(self.chunk);
        Self::append(&mut self.rows_md5, &mut self.hex, !first_of_chunk, row);
        self.rows += 1;
        if self.rows.is_multiple_of(self.chunk) {
            self.end_chunk();
        }
    }

    /// Appends `digest` in hex to `md5`, after a `|` when `after`.
    fn append(md5: &mut Md5, hex: &mut Vec<u8>, after: bool, digest: &[u8]) {
        hex.clear();
        if after {
            hex.push(b'|');
        }
        push_hex(hex, digest);
        md5.update(&hex[..]);
    }

    fn end_chunk(&mut self) {
        let digest = self.rows_md5.finalize_reset();
        let first_chunk = self.rows <= self.chunk;
        Self::append(&mut self.chunks_md5, &mut self.hex, !first_chunk, &digest);
    }

    /// Row count and digest (empty for no rows).
    fn finish(mut self) -> (u64, String) {
        if !self.rows.is_multiple_of(self.chunk) {
            self.end_chunk();
        }
        (self.rows, if self.rows == 0 { String::new() } else { hex(&self.chunks_md5.finalize()) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workspace::Workspace;

    #[test]
    fn md5_numbers_spell_the_md5_texts() {
        let workspace = Workspace::in_memory().unwrap();
        let conn = workspace.connection();
        let long = "ß".repeat(70);
        conn.execute_batch(&format!(
            "CREATE TABLE t (v VARCHAR); INSERT INTO t VALUES (''), ('abc'), ('x'), ('{long}'), (NULL);"
        ))
        .unwrap();
        let mut stmt = conn.prepare("SELECT md5_number(v), coalesce(md5(v), 'N') FROM t").unwrap();
        let mut compared = 0;
        for batch in stmt.stream_arrow([]).unwrap() {
            let batch = batch.unwrap();
            let (numbers, texts) =
                (arrow_columns::md5_numbers(&batch, 0).unwrap(), arrow_columns::texts(&batch, 1).unwrap());
            for row in 0..batch.num_rows() {
                let mut spelled = Vec::new();
                match arrow_columns::md5_digest(numbers, row) {
                    Some(digest) => push_hex(&mut spelled, &digest),
                    None => spelled.push(b'N'),
                }
                assert_eq!(String::from_utf8(spelled).unwrap(), texts.value(row));
                compared += 1;
            }
        }
        assert_eq!(compared, 5);
    }

    fn md5_hex(text: &str) -> String {
        hex(&Md5::digest(text.as_bytes()))
    }

    #[test]
    fn chunks_are_hashed_then_their_hashes() {
        let rows: Vec<[u8; 16]> = (0u8..4).map(|i| Md5::digest([i]).into()).collect();
        let spelled: Vec<String> = rows.iter().map(|row| hex(row)).collect();
        let digest = |chunk: u64, count: usize| {
            let mut chunks = Chunks::new(chunk);
            rows[..count].iter().for_each(|row| chunks.push(row));
            chunks.finish()
        };
        let [a, b, c, d] = [0, 1, 2, 3].map(|i| spelled[i].as_str());
        assert_eq!(digest(2, 0), (0, String::new()));
        assert_eq!(digest(2, 1), (1, md5_hex(&md5_hex(a))));
        assert_eq!(digest(2, 3), (3, md5_hex(&format!("{}|{}", md5_hex(&format!("{a}|{b}")), md5_hex(c)))));
        assert_eq!(
            digest(2, 4),
            (4, md5_hex(&format!("{}|{}", md5_hex(&format!("{a}|{b}")), md5_hex(&format!("{c}|{d}")))))
        );
        assert_eq!(digest(100, 4), (4, md5_hex(&md5_hex(&format!("{a}|{b}|{c}|{d}")))));
    }
}
