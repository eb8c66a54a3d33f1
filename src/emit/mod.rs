//! Renders the plan as PostgreSQL scripts (ROLLBACK.md §7): 01_backup, 02_rollback, 03_verify,
//! 04_restore_version, 05_cleanup. Every statement comes from the plan and the spec, every
//! name and value is quoted by `sql`, and every script is parsed by libpg_query before it is
//! written: a script that does not parse stops the run.

pub mod check;
mod scripts;

use crate::catalog::{Catalog, Table};
use crate::error::{Error, Result};
use crate::plan::Plan;
use crate::spec::Spec;
use std::path::Path;

/// What the scripts are rendered from.
pub struct Context<'a> {
    pub plan: &'a Plan,
    pub spec: &'a Spec,
    pub catalog: &'a Catalog,
    pub models: &'a Table,
    pub services: &'a Table,
}

impl<'a> Context<'a> {
    pub fn new(plan: &'a Plan, spec: &'a Spec, catalog: &'a Catalog) -> Result<Self> {
        let (models, services) = spec.resolve(catalog).map_err(Error::Spec)?;
        Ok(Context { plan, spec, catalog, models, services })
    }

    /// Every table the rollback touches: models, services, then the tables of `touched`.
    pub fn affected(&self) -> Vec<&'a Table> {
        [self.models, self.services].into_iter().chain(self.touched()).collect()
    }

    /// Tables other than models and services whose rows the rollback deletes or changes.
    pub fn touched(&self) -> Vec<&'a Table> {
        self.catalog
            .tables
            .iter()
            .filter(|t| t.name != self.models.name && t.name != self.services.name)
            .filter(|t| {
                let name = t.name.to_string();
                self.plan.cascade_deleted.contains_key(&name) || self.plan.cascade_changed.contains_key(&name)
            })
            .collect()
    }
}

/// The five scripts, checked with PostgreSQL's parser.
pub fn render(context: &Context) -> Result<Vec<(&'static str, String)>> {
    let scripts = vec![
        ("01_backup.sql", scripts::backup(context)),
        ("02_rollback.sql", scripts::rollback(context)),
        ("03_verify.sql", scripts::verify(context)),
        ("04_restore_version.sql", scripts::restore_version(context)),
        ("05_cleanup.sql", scripts::cleanup(context)),
    ];
    for (name, text) in &scripts {
        check::check_script(text)
            .map_err(|e| Error::Internal(format!("the emitted {name} {e}; nothing was written")))?;
    }
    Ok(scripts)
}

/// Writes the scripts into `dir`.
pub fn write(scripts: &[(&str, String)], dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    for (name, text) in scripts {
        crate::report::write(&dir.join(name), text)?;
    }
    Ok(())
}
