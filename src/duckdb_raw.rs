//! DuckDB's C API where duckdb-rs does not reach. The loader feeds Arrow batches to DuckDB's own
//! Arrow scan (`duckdb_arrow_scan`), which needs a C connection handle; duckdb-rs hides its
//! handles, so the workspace opens its database here and hands it to duckdb-rs as well. DuckDB
//! marks `duckdb_arrow_scan` deprecated (to be replaced by its newer Arrow functions); a DuckDB
//! upgrade must keep the loader's tests passing.

use crate::error::{Error, Result};
use duckdb::arrow::ffi_stream::FFI_ArrowArrayStream;
use duckdb::{ffi, Connection};
use std::ffi::{CStr, CString};
use std::marker::PhantomData;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::ptr;

/// An open DuckDB database, closed when dropped: after every connection to it.
pub struct RawDatabase(ffi::duckdb_database);

// DuckDB's database handle may be used and closed from any thread.
unsafe impl Send for RawDatabase {}

impl RawDatabase {
    /// Opens the database file at `path`, or an in-memory database.
    pub fn open(path: Option<&Path>) -> Result<RawDatabase> {
        let c_path = path
            .map(|p| CString::new(p.as_os_str().as_bytes()))
            .transpose()
            .map_err(|_| Error::Internal(format!("a database path holds a NUL byte: {path:?}")))?;
        let mut db = ptr::null_mut();
        let mut message = ptr::null_mut();
        // SAFETY: the path outlives the call; `message` is DuckDB's to allocate and ours to free.
        let state = unsafe {
            ffi::duckdb_open_ext(
                c_path.as_ref().map_or(ptr::null(), |p| p.as_ptr()),
                &mut db,
                ptr::null_mut(),
                &mut message,
            )
        };
        if state != ffi::DuckDBSuccess {
            let text = if message.is_null() {
                "the database did not open".to_string()
            } else {
                // SAFETY: DuckDB wrote a NUL-terminated message, freed right after it is copied.
                let text = unsafe { CStr::from_ptr(message) }.to_string_lossy().into_owned();
                unsafe { ffi::duckdb_free(message.cast()) };
                text
            };
            return Err(failure(state, text));
        }
        Ok(RawDatabase(db))
    }

    /// A duckdb-rs connection to the database; it must be dropped before the database.
    pub fn connection(&self) -> Result<Connection> {
        // SAFETY: the handle is open, and the caller drops the connection before `self`.
        Ok(unsafe { Connection::open_from_raw(self.0) }?)
    }

    /// A connection of the C API, which cannot outlive the database.
    pub fn connect(&self) -> Result<RawConnection<'_>> {
        let mut connection = ptr::null_mut();
        // SAFETY: the database handle is open.
        let state = unsafe { ffi::duckdb_connect(self.0, &mut connection) };
        if state != ffi::DuckDBSuccess {
            return Err(failure(state, "a connection to the workspace did not open".into()));
        }
        Ok(RawConnection { handle: connection, _database: PhantomData })
    }
}

impl Drop for RawDatabase {
    fn drop(&mut self) {
        // SAFETY: opened by `open`, closed once.
        unsafe { ffi::duckdb_close(&mut self.0) };
    }
}

pub struct RawConnection<'db> {
    handle: ffi::duckdb_connection,
    _database: PhantomData<&'db RawDatabase>,
}

// A connection may move to another thread; it is used by one at a time.
unsafe impl Send for RawConnection<'_> {}

impl RawConnection<'_> {
    /// Runs `sql`, one or more statements, and discards any result.
    pub fn execute(&self, sql: &str) -> Result<()> {
        let sql = CString::new(sql).map_err(|_| Error::Internal("a query holds a NUL byte".into()))?;
        // SAFETY: `result` is zeroed as duckdb_query expects, and destroyed whatever the outcome.
        unsafe {
            let mut result: ffi::duckdb_result = std::mem::zeroed();
            let state = ffi::duckdb_query(self.handle, sql.as_ptr(), &mut result);
            let outcome = if state == ffi::DuckDBSuccess {
                Ok(())
            } else {
                let message = ffi::duckdb_result_error(&mut result);
                let text = if message.is_null() {
                    "the query failed".to_string()
                } else {
                    CStr::from_ptr(message).to_string_lossy().into_owned()
                };
                Err(failure(state, text))
            };
            ffi::duckdb_destroy_result(&mut result);
            outcome
        }
    }

    /// Makes `view` a view over `stream`, scanned by DuckDB's own Arrow reader.
    ///
    /// # Safety
    /// DuckDB keeps a pointer to `stream`: it must stay where it is, alive, until nothing scans
    /// the view again (drop the view, or discard the workspace, before the stream).
    pub unsafe fn scan_arrow(&self, view: &str, stream: &mut FFI_ArrowArrayStream) -> Result<()> {
        let name = CString::new(view).map_err(|_| Error::Internal("a view name holds a NUL byte".into()))?;
        // SAFETY: the stream is a valid Arrow C stream that the caller keeps alive (see above).
        let state =
            unsafe { ffi::duckdb_arrow_scan(self.handle, name.as_ptr(), (stream as *mut FFI_ArrowArrayStream).cast()) };
        if state != ffi::DuckDBSuccess {
            return Err(failure(state, format!("DuckDB did not take the Arrow stream of view {view}")));
        }
        Ok(())
    }
}

impl Drop for RawConnection<'_> {
    fn drop(&mut self) {
        // SAFETY: connected by `RawDatabase::connect`, disconnected once.
        unsafe { ffi::duckdb_disconnect(&mut self.handle) };
    }
}

/// A DuckDB failure as duckdb-rs reports one, so that it is classified the same way.
fn failure(state: ffi::duckdb_state, message: String) -> Error {
    Error::from(duckdb::Error::DuckDBFailure(ffi::Error::new(state), Some(message)))
}
