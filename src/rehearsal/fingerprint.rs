//! The drift fingerprint of the rows the rollback decides on, computed as PostgreSQL computes
//! `sql::fingerprint` in the emitted scripts: DuckDB orders the rows (an ORDER BY can spill to
//! disk, an ordered aggregate cannot) and md5 reads them as they stream, `|` between rows.

use super::arrow_columns;
use crate::error::{Error, Result};
use crate::input::source::hex;
use crate::sql::{self, Col, Dialect};
use duckdb::Connection;
use md5::{Digest, Md5};

/// Row count and md5 digest (hex; empty for no rows) of `relation`, equal to what
/// `sql::fingerprint` returns in PostgreSQL for the same rows.
pub fn digest(conn: &Connection, relation: &str, columns: &[Col], order_by: &[Col]) -> Result<(u64, String)> {
    let mut stmt = conn.prepare(&sql::fingerprint_rows(relation, columns, order_by, Dialect::DuckDb))?;
    let mut hasher = Md5::new();
    let mut rows = 0u64;
    for batch in stmt.stream_arrow([])? {
        let batch = batch?;
        let texts = arrow_columns::texts(&batch, 0)?;
        for text in texts.iter() {
            // Never NULL: every value is coalesced to `N`.
            let text = text.ok_or_else(|| Error::Internal(format!("a NULL fingerprint row in {relation}")))?;
            if rows > 0 {
                hasher.update(b"|");
            }
            hasher.update(text.as_bytes());
            rows += 1;
        }
    }
    Ok((rows, if rows == 0 { String::new() } else { hex(&hasher.finalize()) }))
}
