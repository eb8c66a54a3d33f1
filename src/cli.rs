//! Command-line definitions. Each subcommand's behaviour lives in `commands/<name>.rs`.

use clap::{Args, Parser, Subcommand};
use rehearse::terms::{Mode, Policy};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "rehearse",
    version,
    about = "Rehearse the model-versioning rollback offline, in DuckDB, before anyone touches production.",
    after_help = "Examples:\n  rehearse import fixtures/example.sql --workspace /tmp/ws.duckdb\n  rehearse inspect /tmp/ws.duckdb\n  rehearse inspect backup.sql.gz --json\n\nExit codes: 0 ok, 1 bad input or I/O error, 2 usage error, 3 predicted failure, 4 check threshold breached, 70 internal error (a bug), 128+N interrupted by signal N (130 Ctrl-C)."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// No progress on stderr.
    #[arg(long, short = 'q', global = true)]
    pub quiet: bool,
    /// Report each phase's time and throughput at the end.
    #[arg(long, short = 'v', global = true)]
    pub verbose: bool,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Load any pg_dump export (plain, gzip, custom, directory, tar), a pg_dumpall file, or a
    /// directory of CSV exports into a DuckDB workspace.
    #[command(
        after_help = "Examples:\n  rehearse import backup.sql --workspace ws.duckdb\n  rehearse import backup.sql.gz --workspace ws.duckdb --all-tables\n  rehearse import exports/ --workspace ws.duckdb   # models.csv, services.csv, … (+ schema.sql)\n  rehearse import cluster.sql --database shop --workspace ws.duckdb   # one database of a pg_dumpall file"
    )]
    Import(ImportArgs),
    /// Show what an export or workspace holds: tables, rows, columns, constraints, foreign keys,
    /// and which tables the rollback touches.
    #[command(after_help = "Examples:\n  rehearse inspect ws.duckdb\n  rehearse inspect backup.sql --json")]
    Inspect(InspectArgs),
    /// Rehearse the rollback: import (when given an export), replay it in DuckDB, and write the
    /// run directory (summary.json, report.md, reports/*.csv).
    #[command(
        after_help = "Examples:\n  rehearse run fixtures/example.sql --out out/example\n  rehearse run backup.sql.gz --out out/legacy --policy legacy --delete-orphans   # the shipped script, exactly\n  rehearse run ws.duckdb --out out/selective --mode selective\n\nExit codes: 0 ok, 1 bad input, 2 usage, 3 predicted failure or failed verification."
    )]
    Run(RunArgs),
    /// Rehearse, then prove it: restore the input into a scratch PostgreSQL that rehearse
    /// creates, run the emitted scripts, and diff the result with the rehearsal row by row.
    #[command(
        after_help = "Examples:\n  rehearse validate fixtures/example.sql --out out/validated\n  rehearse validate backup.sql --out out/v --policy legacy --pg-bin /usr/lib/postgresql/15/bin\n\nIt never connects to a database it did not create. Exit 3 on any difference."
    )]
    Validate(ValidateArgs),
    /// Gate a release on the rehearsal, without a live database: exit 0 pass, 3 predicted
    /// failure or failed verification, 4 a threshold breached.
    #[command(
        after_help = "Examples:\n  rehearse check dump.sql.gz --max-versions-deleted 500 --fail-on H8,H13\n  rehearse check dump.sql --policy legacy --delete-orphans --format github\n\nExit codes: 0 pass, 1 bad input, 2 usage, 3 predicted failure or failed verification, 4 threshold breached."
    )]
    Check(CheckArgs),
    /// What changes between two run directories (two policies, or two exports).
    #[command(
        after_help = "Examples:\n  rehearse run dump.sql --out out/doc && rehearse run dump.sql --out out/legacy --policy legacy\n  rehearse diff out/doc out/legacy\n  rehearse diff out/monday out/friday --json"
    )]
    Diff(DiffArgs),
    /// Write the SQL that restores one deleted version after the rollback (from 01_backup.sql's copy).
    #[command(
        after_help = "Examples:\n  rehearse restore-script out/example --model-id trap-semver-major --version 9.9.9 -o restore.sql\n  psql -X -v ON_ERROR_STOP=1 -d model_management_db -f restore.sql"
    )]
    RestoreScript(RestoreScriptArgs),
    /// Show the rollback spec (the guide's rollback, as data).
    #[command(
        after_help = "Examples:\n  rehearse spec --print > my-spec.toml   # edit the names, then: rehearse run … --spec my-spec.toml"
    )]
    Spec(SpecArgs),
}

#[derive(Args, Debug)]
pub struct RunArgs {
    #[command(flatten)]
    pub rehearsal: RehearsalArgs,
    /// The run directory to write; it appears only when the run completes.
    #[arg(long, short = 'o', value_name = "DIR")]
    pub out: PathBuf,
    /// Replace an existing run directory.
    #[arg(long)]
    pub force: bool,
    /// Write CSV fields that a spreadsheet would evaluate (starting with =, +, -, @, a tab or a
    /// carriage return) with a leading `'`, for anyone who must open the CSV files in a
    /// spreadsheet. The files are then no longer exact for machines; report.xlsx is safe as it is.
    #[arg(long)]
    pub csv_spreadsheet_safe: bool,
}

/// What to rehearse and how: shared by `run`, `validate` and `check`.
#[derive(Args, Debug)]
pub struct RehearsalArgs {
    /// An export (pg_dump plain/gzip/custom/directory/tar, CSV directory) or a workspace
    /// written by `rehearse import`.
    pub input: PathBuf,
    /// Which version of each model_id is kept (ROLLBACK.md §3).
    #[arg(long, value_enum, default_value = "documented")]
    pub policy: Policy,
    /// The database's collation, for the legacy policy's `version DESC`, as PostgreSQL names
    /// it: libc (C, POSIX, C.UTF-8, en_US.UTF-8, de_DE.utf8, ...) or ICU (en-US-x-icu,
    /// und-x-icu, en-US). Default: the export's (its CREATE DATABASE, the version column's
    /// COLLATE), else C with every keeper that C, en_US.UTF-8 or ICU en-US would change flagged.
    #[arg(long, value_name = "NAME")]
    pub collation: Option<String>,
    /// full: consolidate to one version per model; selective: keep every version, drop only the
    /// version columns.
    #[arg(long, value_enum, default_value = "full")]
    pub mode: Mode,
    /// Delete services whose model_id has no models row (and all that cascades from them), as
    /// the shipped script does. Without it they are kept and listed (H8).
    #[arg(long)]
    pub delete_orphans: bool,
    /// Drop, explicitly and by name in 02_rollback.sql, the indexes, constraints and statistics
    /// that PostgreSQL drops silently with the version columns (H18). Without it, a rehearsal
    /// that finds any predicts that 02_rollback.sql refuses (exit 3).
    #[arg(long)]
    pub drop_dependents: bool,
    /// A rollback spec (TOML, see `rehearse spec --print`) for a schema with other names.
    #[arg(long, value_name = "FILE")]
    pub spec: Option<PathBuf>,
    /// The database to read from a pg_dumpall file that holds several.
    #[arg(long, value_name = "NAME")]
    pub database: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum CheckFormat {
    Text,
    Json,
    Github,
}

#[derive(Args, Debug)]
pub struct CheckArgs {
    #[command(flatten)]
    pub rehearsal: RehearsalArgs,
    /// Breach when more versions than this would be deleted.
    #[arg(long, value_name = "N")]
    pub max_versions_deleted: Option<u64>,
    /// Breach when more services than this would silently serve another version.
    #[arg(long, value_name = "N")]
    pub max_services_repointed: Option<u64>,
    /// Breach when foreign keys would delete or change more rows of other tables than this.
    #[arg(long, value_name = "N")]
    pub max_cascade_rows: Option<u64>,
    /// Hazard codes that breach when present, e.g. H1,H6,H8.
    #[arg(long, value_name = "CODES", value_delimiter = ',')]
    pub fail_on: Vec<String>,
    /// Output: text (for people and CI logs), json, or github (Actions annotations).
    #[arg(long, value_enum, default_value = "text")]
    pub format: CheckFormat,
}

#[derive(Args, Debug)]
pub struct ValidateArgs {
    #[command(flatten)]
    pub run: RunArgs,
    /// Directory of the PostgreSQL server binaries (initdb, pg_ctl, psql). Default: those of the
    /// major version the export was dumped from, when installed (/usr/lib/postgresql/N/bin, …),
    /// else the system's PostgreSQL.
    #[arg(long, value_name = "DIR")]
    pub pg_bin: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct DiffArgs {
    /// A run directory written by `rehearse run`.
    pub run_a: PathBuf,
    /// Another run directory.
    pub run_b: PathBuf,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct RestoreScriptArgs {
    /// The run directory of the rehearsal that the rollback followed.
    pub run_dir: PathBuf,
    /// The model_id whose version to restore.
    #[arg(long)]
    pub model_id: String,
    /// The version to bring back: one the rehearsal deletes, or the kept one once a restore
    /// replaced it.
    #[arg(long)]
    pub version: String,
    /// Only name the rows the restore would replace, delete, change and bring back, then roll
    /// back: nothing is changed.
    #[arg(long)]
    pub preview: bool,
    /// Write the script here instead of to stdout.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub out: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct SpecArgs {
    /// Print the built-in spec as TOML.
    #[arg(long)]
    pub print: bool,
}

#[derive(Args, Debug)]
pub struct ImportArgs {
    /// A pg_dump export (plain .sql/.sql.gz, custom, directory or tar archive), a pg_dumpall
    /// file, or a directory of <table>.csv files.
    pub input: PathBuf,
    /// The DuckDB file to write; it appears only when the import succeeds.
    #[arg(long, short = 'w', value_name = "FILE.duckdb")]
    pub workspace: PathBuf,
    /// Load every table, not only those the rollback reaches through foreign keys.
    #[arg(long)]
    pub all_tables: bool,
    /// Replace an existing workspace file.
    #[arg(long)]
    pub force: bool,
    /// The database to read from a pg_dumpall file that holds several.
    #[arg(long, value_name = "NAME")]
    pub database: Option<String>,
}

#[derive(Args, Debug)]
pub struct InspectArgs {
    /// A workspace written by `rehearse import`, or an export (read into memory).
    pub source: PathBuf,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
    /// The database to read from a pg_dumpall file that holds several.
    #[arg(long, value_name = "NAME")]
    pub database: Option<String>,
}
