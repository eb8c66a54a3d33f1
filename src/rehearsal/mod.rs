//! The rehearsal: the rollback replayed on the workspace. Keeper policies, version precedence,
//! foreign-key effects, verification and hazards; its one result is the plan. It reads the
//! workspace and writes only TEMP tables, so a workspace file is never changed.

#[cfg(feature = "engine")]
pub(crate) mod arrow_columns;
pub mod ddl_replay;
#[cfg(feature = "engine")]
pub mod effects;
#[cfg(feature = "engine")]
pub mod engine;
#[cfg(feature = "engine")]
pub mod facts;
#[cfg(feature = "engine")]
pub mod fingerprint;
#[cfg(feature = "engine")]
pub mod fk_violations;
pub mod keeper_collation;
#[cfg(feature = "engine")]
pub mod keepers;
pub mod policy;
pub mod rules;
pub mod steps;
#[cfg(feature = "engine")]
pub mod triggers;
pub mod version;

#[cfg(feature = "engine")]
pub use engine::{rehearse, Options, Schedule};
