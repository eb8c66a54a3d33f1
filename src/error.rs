//! The library's typed error. Every variant knows its exit code (ROLLBACK.md §8), and bad input
//! always says where: a file and line, or a table and row.

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
    /// DuckDB refused an operation on the workspace.
    #[error("workspace: {0}")]
    Workspace(#[from] duckdb::Error),
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
            _ => 1,
        }
    }
}
