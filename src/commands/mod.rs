//! One file per subcommand: each turns parsed arguments into calls on the library and prints.

pub mod check;
pub mod diff;
pub mod display;
pub mod import;
pub mod inspect;
pub mod output;
pub mod restore_script;
pub mod run;
pub mod spec;
pub mod validate;
