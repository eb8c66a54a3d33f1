//! `rehearse spec`: the rollback as data, to read or to copy and adapt.

use super::output;
use crate::cli::SpecArgs;
use anyhow::Result;
use rehearse::spec::Spec;

pub fn run(args: &SpecArgs) -> Result<()> {
    if args.print {
        output::print(Spec::guide_text())
    } else {
        output::print("The built-in spec is the guide's rollback; `rehearse spec --print` shows it as TOML.\n")
    }
}
