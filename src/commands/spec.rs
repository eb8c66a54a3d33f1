//! `rehearse spec`: the rollback as data, to read or to copy and adapt.

use crate::cli::SpecArgs;
use anyhow::Result;
use rehearse::spec::Spec;

pub fn run(args: &SpecArgs) -> Result<()> {
    if args.print {
        print!("{}", Spec::guide_text());
    } else {
        println!("The built-in spec is the guide's rollback; `rehearse spec --print` shows it as TOML.");
    }
    Ok(())
}
