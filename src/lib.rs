//! rehearse: rehearse a destructive PostgreSQL rollback offline.
//!
//! Data flows one way: `input` (readers) → `import` → `workspace` (DuckDB) → rehearsal → reports
//! and scripts. The contract is ROLLBACK.md; the module docs say what each stage may not do.

pub mod catalog;
pub mod cleanup;
pub mod collation;
#[cfg(feature = "engine")]
pub mod duckdb_raw;
pub mod emit;
pub mod error;
#[cfg(feature = "engine")]
pub mod import;
pub mod input;
#[cfg(feature = "engine")]
pub mod loader;
pub mod parallel;
pub mod pg;
pub mod pgtype;
pub mod plan;
pub mod progress;
pub mod rehearsal;
pub mod report;
pub mod row_id;
pub mod rundir;
pub mod shared;
pub mod spec;
pub mod spill;
pub mod sql;
pub mod staging;
pub mod stored_list;
pub mod terms;
#[cfg(feature = "engine")]
pub mod validate;
#[cfg(feature = "engine")]
pub mod workspace;

pub use error::{Error, Result};

/// jemalloc serves the whole process: unprefixed, it replaces malloc and free, which DuckDB's
/// C++ allocates through as well.
#[cfg(feature = "engine")]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;
