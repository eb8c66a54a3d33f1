//! Integration tests: one binary (every test binary links DuckDB). Tests that need PostgreSQL
//! start a throw-away cluster of their own; they never skip.

mod bad_input;
mod check_command;
mod cli;
mod collation_vs_postgres;
mod ddl_vs_postgres;
mod diff_restore;
mod hazards;
mod html_report;
mod import_roundtrip;
mod import_schemas;
mod interrupt;
mod pg_dump_versions;
mod pipes;
mod post_state;
mod rehearsal_vs_postgres;
mod restore_versions;
mod run_command;
mod script_plans;
mod scripts_vs_postgres;
mod setup_detection;
mod spreadsheet_reports;
mod sql_dialects;
mod support;
mod validate_versions;
