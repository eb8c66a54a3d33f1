//! The library's typed error. Every variant knows its exit code (ROLLBACK.md §8), and bad input
//! always says where: a file and line, or a table and row. DuckDB's own messages never stand
//! alone: a DuckDB failure is either the machine's (disk, memory, a file it cannot open) or a
//! bug in the SQL rehearse wrote, and says so.

use std::fmt;
use std::path::{Path, PathBuf};

/// Where in the input a problem was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub file: PathBuf,
    pub place: Place,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Place {
    /// The whole file (it is missing, empty, or of an unknown kind).
    File,
    /// A 1-based line of the file.
    Line(u64),
    /// A 1-based data row of a table (archives, where lines mean nothing to the user).
    Row { table: String, row: u64 },
    /// A named entry of an archive.
    Entry(String),
}

impl Location {
    pub fn file(file: &Path) -> Self {
        Location { file: file.to_path_buf(), place: Place::File }
    }
    pub fn line(file: &Path, line: u64) -> Self {
        Location { file: file.to_path_buf(), place: Place::Line(line) }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let file = self.file.display();
        match &self.place {
            Place::File => write!(f, "{file}"),
            Place::Line(line) => write!(f, "{file}:{line}"),
            Place::Row { table, row } => write!(f, "{file}: table {table}, row {row}"),
            Place::Entry(entry) => write!(f, "{file}: archive entry {entry}"),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The input is malformed or unsupported.
    #[error("{location}: {message}")]
    BadInput { location: Location, message: String },
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    /// The command line asks for something that cannot be done.
    #[error("{0}")]
    Usage(String),
    /// The machine refused what the run needs: disk space, memory, a file it cannot write.
    #[error("{0}")]
    Environment(String),
    /// A bug in rehearse, not in the input: SQL it wrote failed, or a check of its own output
    /// did (exit 70, EX_SOFTWARE of sysexits.h).
    #[error(
        "internal error: {0}\n  This is a bug in rehearse, not a problem with the input: please report it with the command line."
    )]
    Internal(String),
    /// The rollback spec does not fit the workspace (a table or column it names is missing).
    #[error("spec: {0}")]
    Spec(String),
    /// The rehearsal predicts that the rollback fails, or its verification fails (exit 3).
    #[error("{0}")]
    Predicted(String),
    /// An external program (initdb, pg_ctl, psql, pg_dump) failed.
    #[error("{0}")]
    Tool(String),
    /// The workspace exists but is not one that rehearse wrote.
    #[error("{path}: not a rehearse workspace ({reason})")]
    NotAWorkspace { path: PathBuf, reason: String },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn bad_input(location: Location, message: impl Into<String>) -> Self {
        Error::BadInput { location, message: message.into() }
    }

    pub fn io(path: &Path, source: std::io::Error) -> Self {
        Error::Io { path: path.to_path_buf(), source }
    }

    /// The process exit code for this error (ROLLBACK.md §8).
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Usage(_) => 2,
            Error::Predicted(_) => 3,
            Error::Internal(_) => 70,
            _ => 1,
        }
    }
}

/// How DuckDB's "Out of Memory" error begins, as rehearse says it.
#[cfg(feature = "engine")]
const OUT_OF_MEMORY: &str = "out of memory:";

#[cfg(feature = "engine")]
impl Error {
    /// Whether DuckDB ran out of memory: the machine's, or a limit that rehearse set.
    pub fn is_out_of_memory(&self) -> bool {
        matches!(self, Error::Environment(message) if message.starts_with(OUT_OF_MEMORY))
    }
}

/// A DuckDB failure: the machine's when DuckDB could not get disk, memory or a file (its "IO",
/// "Out of Memory" and "Permission" errors), else a bug in the SQL rehearse wrote.
#[cfg(feature = "engine")]
impl From<duckdb::Error> for Error {
    fn from(error: duckdb::Error) -> Self {
        let message = error.to_string();
        let scratch = std::env::temp_dir();
        let scratch = scratch.display();
        if message.contains("No space left on device") {
            Error::Environment(format!(
                "no space left on the disk: free space, or set TMPDIR to a larger disk (scratch workspaces go to {scratch}) (DuckDB: {message})"
            ))
        } else if message.starts_with("Out of Memory Error") {
            Error::Environment(format!(
                "{OUT_OF_MEMORY} close other programs or use a machine with more memory (DuckDB: {message})"
            ))
        } else if message.starts_with("IO Error") || message.starts_with("Permission Error") {
            Error::Environment(format!(
                "a workspace file could not be read or written: check the permissions and free space of its directory (scratch workspaces go to {scratch}) (DuckDB: {message})"
            ))
        } else {
            Error::Internal(format!("DuckDB refused a query of rehearse ({message})"))
        }
    }
}

#[cfg(all(test, feature = "engine"))]
mod tests {
    use super::Error;
    use duckdb::Connection;

    fn failure(sql: &str) -> Error {
        Connection::open_in_memory().unwrap().execute_batch(sql).unwrap_err().into()
    }

    #[test]
    fn a_query_duckdb_refuses_is_an_internal_error() {
        let error = failure("SELECT CAST('' AS BIGINT)");
        assert!(matches!(error, Error::Internal(_)), "{error}");
        assert_eq!(error.exit_code(), 70);
        assert!(error.to_string().starts_with("internal error: "), "{error}");
        assert!(error.to_string().contains("not a problem with the input"), "{error}");
    }

    #[test]
    fn a_file_duckdb_cannot_write_is_the_machines_failure() {
        let error = failure("ATTACH '/nonexistent-rehearse-dir/ws.duckdb' AS ws");
        assert!(matches!(error, Error::Environment(_)), "{error}");
        assert_eq!(error.exit_code(), 1);
        assert!(error.to_string().starts_with("a workspace file could not be read or written"), "{error}");
    }
}
