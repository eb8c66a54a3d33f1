//! The drift fingerprint of the rows the rollback decides on, computed as PostgreSQL computes
//! `sql::fingerprint` in the emitted scripts: DuckDB orders the rows (an ORDER BY can spill to
//! disk, an ordered aggregate cannot) with each value's md5 as a number, and the rows' texts are
//! spelled here and md5 reads them as they stream, `|` between rows.

use super::arrow_columns;
use crate::error::Result;
use crate::input::source::{hex, push_hex};
use crate::sql::{self, Col};
use duckdb::arrow::array::Decimal128Array;
use duckdb::Connection;
use md5::{Digest, Md5};

/// Row count and md5 digest (hex; empty for no rows) of `relation`, equal to what
/// `sql::fingerprint` returns in PostgreSQL for the same rows.
pub fn digest(conn: &Connection, relation: &str, columns: &[Col], order_by: &[Col]) -> Result<(u64, String)> {
    let mut stmt = conn.prepare(&sql::fingerprint_rows(relation, columns, order_by))?;
    let mut hasher = Md5::new();
    let mut text = Vec::new();
    let mut rows = 0u64;
    for batch in stmt.stream_arrow([])? {
        let batch = batch?;
        let digests: Vec<&Decimal128Array> =
            (0..columns.len()).map(|i| arrow_columns::md5_numbers(&batch, i)).collect::<Result<_>>()?;
        text.clear();
        for row in 0..batch.num_rows() {
            if rows > 0 {
                text.push(b'|');
            }
            for (i, column) in digests.iter().enumerate() {
                if i > 0 {
                    text.push(b',');
                }
                match arrow_columns::md5_digest(column, row) {
                    Some(digest) => push_hex(&mut text, &digest),
                    None => text.push(b'N'),
                }
            }
            rows += 1;
        }
        hasher.update(&text);
    }
    Ok((rows, if rows == 0 { String::new() } else { hex(&hasher.finalize()) }))
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
}
