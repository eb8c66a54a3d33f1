//! Renders the plan as PostgreSQL scripts (ROLLBACK.md §7): 01_backup, 02_rollback, 03_verify,
//! 04_restore_version, 05_cleanup. Every statement comes from the plan and the spec, every
//! name and value is quoted by `sql`, and every script is parsed by libpg_query before it is
//! written: a script that does not parse stops the run.

pub mod check;
mod restore;
mod scripts;

use crate::catalog::{Catalog, Table};
use crate::error::{Error, Result};
use crate::plan::Plan;
use crate::spec::Spec;
use serde::Serialize;
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

/// How long `02_rollback.sql` kept others out, as its closing NOTICE reports it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LockTimes {
    /// From BEGIN to its first lock: the drift guard, while others read and write.
    pub unlocked_seconds: f64,
    /// From its first lock (a temporary index, or SHARE ROW EXCLUSIVE) to the end of the work:
    /// other writers wait.
    pub writes_blocked_seconds: f64,
    /// From the ACCESS EXCLUSIVE request to the end of the work: readers wait too.
    pub reads_blocked_seconds: f64,
}

/// Reads the lock times from the messages of a run of `02_rollback.sql`, if it got that far.
pub fn lock_times(messages: &str) -> Option<LockTimes> {
    let line = messages.lines().find_map(|line| line.split_once(scripts::LOCK_NOTICE))?.1;
    let seconds_after = |label: &str| -> Option<f64> {
        let rest = &line[line.find(label)? + label.len()..];
        rest.split_whitespace().next()?.parse().ok()
    };
    Some(LockTimes {
        writes_blocked_seconds: seconds_after("writes blocked for ")?,
        reads_blocked_seconds: seconds_after("reads blocked for ")?,
        unlocked_seconds: seconds_after("unlocked checks before them ")?,
    })
}

/// Renders one script.
type Render = fn(&Context) -> String;

/// The five scripts, in order, and how each is rendered.
const SCRIPTS: [(&str, Render); 5] = [
    ("01_backup.sql", scripts::backup),
    ("02_rollback.sql", scripts::rollback),
    ("03_verify.sql", scripts::verify),
    ("04_restore_version.sql", scripts::restore_version),
    ("05_cleanup.sql", scripts::cleanup),
];

/// The five scripts, checked with PostgreSQL's parser.
pub fn render(context: &Context) -> Result<Vec<(&'static str, String)>> {
    // Rendering and parsing cost most for the two scripts with the keeper lists (megabytes for a
    // large dump): each script is rendered and checked on a thread of its own, and the first to
    // fail, in script order, is reported. On a large export their parse trees would add up:
    // the scripts are then taken one after the other.
    let check = |render: &Render| {
        // Held until the run is written: without the room it grew into.
        let mut text = render(context);
        text.shrink_to_fit();
        let check = check::check_script(&text);
        (text, check)
    };
    let rendered: Vec<(String, std::result::Result<usize, String>)> = if context.plan.runs_side_by_side() {
        std::thread::scope(|scope| {
            let rendering: Vec<_> = SCRIPTS.iter().map(|(_, render)| scope.spawn(move || check(render))).collect();
            rendering.into_iter().map(|r| r.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))).collect()
        })
    } else {
        SCRIPTS.iter().map(|(_, render)| check(render)).collect()
    };
    let mut scripts = Vec::with_capacity(SCRIPTS.len());
    for ((name, _), (text, check)) in SCRIPTS.iter().zip(rendered) {
        check.map_err(|e| Error::Internal(format!("the emitted {name} {e}; nothing was written")))?;
        scripts.push((*name, text));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_times_are_read_from_the_closing_notice() {
        let messages = "psql:02_rollback.sql:12: NOTICE:  rehearse: rollback applied as rehearsed\npsql:02_rollback.sql:12: NOTICE:  rehearse: locks held: writes blocked for 4.512 s (SHARE ROW EXCLUSIVE), reads blocked for 0.250 s (ACCESS EXCLUSIVE on \"public\".\"models\"); unlocked checks before them 1.250 s";
        let times = lock_times(messages).unwrap();
        assert_eq!(
            times,
            LockTimes { unlocked_seconds: 1.25, writes_blocked_seconds: 4.512, reads_blocked_seconds: 0.25 }
        );
        assert_eq!(lock_times("NOTICE:  rehearse: the version columns are gone"), None);
    }
}
