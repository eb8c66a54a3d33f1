//! The rehearsal: the rollback replayed on the workspace. Keeper policies, version precedence,
//! foreign-key effects, verification and hazards; its one result is the plan. It reads the
//! workspace and writes only TEMP tables, so a workspace file is never changed.

pub mod ddl_replay;
pub mod effects;
pub mod engine;
pub mod fk_violations;
pub mod hazards;
pub mod policy;
pub mod steps;
pub mod triggers;
pub mod version;

pub use engine::{rehearse, Options};
