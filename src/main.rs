//! The `rehearse` binary: parse arguments, dispatch to a subcommand, map errors to exit codes
//! (ROLLBACK.md §8). Interrupted, it cleans up and exits 128 + the signal (`rehearse::cleanup`);
//! a panic cleans up and exits 70.

mod cli;
mod commands;

use clap::Parser;
use cli::{Cli, Command};
use std::process::ExitCode;

/// A panic is a bug in rehearse (exit 70, as `Error::Internal`), whatever thread it happens in:
/// one line with its message and location, the scratch files removed, and the exit at once.
fn exit_70_on_panic() {
    std::panic::set_hook(Box::new(|info| {
        let payload = info.payload();
        let message =
            payload.downcast_ref::<&str>().copied().or_else(|| payload.downcast_ref::<String>().map(String::as_str));
        let location =
            info.location().map_or_else(String::new, |l| format!(" at {}:{}:{}", l.file(), l.line(), l.column()));
        let message = message.unwrap_or("a panic without a message").replace('\n', " ");
        commands::output::eprint(&format!(
            "error: internal error: {message}{location} (a bug in rehearse; please report it)\n"
        ));
        rehearse::cleanup::undo_all_and_exit(70);
    }));
}

fn main() -> ExitCode {
    exit_70_on_panic();
    let cli = Cli::parse();
    if let Err(error) = rehearse::cleanup::undo_on_signals() {
        commands::output::eprint(&format!(
            "warning: cannot watch for signals ({error}): an interrupted run leaves its scratch files behind\n"
        ));
    }
    rehearse::cleanup::sweep_dead_runs();
    let display = commands::display::Display::start(cli.quiet, cli.verbose);
    let progress = display.progress();
    let result = match &cli.command {
        Command::Import(args) => commands::import::run(args, progress).map(|()| 0),
        Command::Inspect(args) => commands::inspect::run(args).map(|()| 0),
        Command::Run(args) => commands::run::run(args, progress).map(|()| 0),
        Command::Check(args) => commands::check::run(args, progress),
        Command::Spec(args) => commands::spec::run(args).map(|()| 0),
        Command::Diff(args) => commands::diff::run(args).map(|()| 0),
        Command::RestoreScript(args) => commands::restore_script::run(args).map(|()| 0),
        Command::Validate(args) => commands::validate::run(args, progress).map(|()| 0),
    };
    display.finish();
    match result {
        Ok(code) => ExitCode::from(code as u8),
        Err(error) => {
            commands::output::eprint(&format!("error: {error:#}\n"));
            let code = error.downcast_ref::<rehearse::Error>().map_or(1, rehearse::Error::exit_code);
            ExitCode::from(code as u8)
        }
    }
}
