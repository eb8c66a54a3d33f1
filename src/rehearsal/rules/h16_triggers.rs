//! H16: each firing of a trigger during the rollback. The firings are counted by
//! `rehearsal::triggers` (they need the statements' row effects), which this rule asks.

use super::Rule;
use crate::terms::HazardCode;

pub const RULE: Rule = Rule {
    code: HazardCode::H16,
    unit: "trigger firings",
    title: "a trigger fires during the rollback (per row for FOR EACH ROW, per statement otherwise); its effects are not rehearsed",
    help: "read each trigger's function: what it writes, or refuses, is not in this rehearsal; disable it for the rollback if it must not fire",
    #[cfg(feature = "engine")]
    find: super::Find::Workspace(engine::find),
};

#[cfg(feature = "engine")]
mod engine {
    use crate::error::Result;
    use crate::rehearsal::facts::Facts;
    use crate::rehearsal::rules::Rows;
    use crate::rehearsal::triggers;
    use duckdb::Connection;

    pub fn find(facts: &Facts, conn: &Connection) -> Result<Rows> {
        triggers::firings(conn, facts.catalog, facts.loaded, facts.spec, facts.steps, facts.tables).map(Rows::from)
    }
}
