//! The hazards of ROLLBACK.md §4 as data: a code, the unit its count is in, what it means and
//! what to do. The rehearsal emits rows under these codes; reports and `check` read this table.

pub struct Hazard {
    pub code: &'static str,
    pub unit: &'static str,
    pub title: &'static str,
    pub help: &'static str,
}

pub const CODES: [Hazard; 18] = [
    Hazard {
        code: "H1",
        unit: "model_ids",
        title: "legacy keeps a lower version than semantic order would (text order: 1.9.0 over 1.10.0)",
        help: "rehearse with --policy documented, or fix the keeper by hand before running the shipped script",
    },
    Hazard {
        code: "H2",
        unit: "models rows",
        title: "status is `active` only ignoring case or spaces (`ACTIVE`, `Active `)",
        help: "normalise version_status (lower(trim())) before the rollback, or the legacy policy ignores these rows",
    },
    Hazard {
        code: "H3",
        unit: "model_ids",
        title: "no active version: the keeper is a version nobody marked active",
        help: "mark the version to keep as active, or confirm the keeper in versions_kept.csv",
    },
    Hazard {
        code: "H4",
        unit: "models rows",
        title: "NULL, empty or unparseable version",
        help: "fix these versions; unparseable versions lose against every parseable one",
    },
    Hazard {
        code: "H5",
        unit: "model_ids",
        title: "tie under the policy's order (PostgreSQL picks arbitrarily for legacy; created_at/id decide for documented)",
        help: "check the keeper; the emitted script pins it by id so the choice is the rehearsed one",
    },
    Hazard {
        code: "H6",
        unit: "services rows",
        title: "service pinned to a version that is deleted: it silently serves the kept version",
        help: "tell the service owners (services_affected.csv) before the rollback",
    },
    Hazard {
        code: "H7",
        unit: "services rows",
        title: "service pinned to a version that never existed (dangling pin)",
        help: "fix the pin or accept that the service serves the kept version",
    },
    Hazard {
        code: "H8",
        unit: "services rows",
        title: "service whose model_id has no models row (orphan before the rollback): the guide's V3 fails on it",
        help: "decide explicitly: --delete-orphans deletes them and their cascade, otherwise they stay and are listed",
    },
    Hazard {
        code: "H9",
        unit: "rows of other tables",
        title: "foreign-key effect of the deletes: cascaded deletes, SET NULL/SET DEFAULT changes, or RESTRICT/NO ACTION blocks",
        help: "review cascade.csv; a RESTRICT/NO ACTION block makes the real script fail",
    },
    Hazard {
        code: "H10",
        unit: "models rows",
        title: "immutable version deleted",
        help: "confirm that immutable versions may be deleted, or keep them another way",
    },
    Hazard {
        code: "H11",
        unit: "models rows",
        title: "published version deleted",
        help: "unpublish first or tell its consumers",
    },
    Hazard {
        code: "H12",
        unit: "models rows",
        title: "release notes lost (the column is dropped)",
        help: "export release_notes (versions_deleted.csv has the deleted rows' notes) before the rollback",
    },
    Hazard {
        code: "H13",
        unit: "constraints",
        title: "the unique constraint on model_id cannot be restored",
        help: "remove duplicates or the conflicting object first; the shipped script only warns and commits without it",
    },
    Hazard {
        code: "H14",
        unit: "models + services rows",
        title: "stale backup: backup tables from an earlier run differ from the live rows",
        help: "drop or rename the old backup tables; CREATE TABLE IF NOT EXISTS would keep the stale copy",
    },
    Hazard {
        code: "H15",
        unit: "models rows",
        title: "the guide's backup cannot restore these deleted rows (it lacks some of their columns)",
        help: "use 01_backup.sql from rehearse, which copies complete rows",
    },
    Hazard {
        code: "H16",
        unit: "trigger firings",
        title: "a trigger fires during the rollback (per row for FOR EACH ROW, per statement otherwise); its effects are not rehearsed",
        help: "read each trigger's function: what it writes, or refuses, is not in this rehearsal; disable it for the rollback if it must not fire",
    },
    Hazard {
        code: "H17",
        unit: "objects",
        title: "a schema object makes a rollback statement fail (a view, rule, policy, trigger or generated column reading a dropped column, a foreign key relying on a dropped key, SET NULL/DEFAULT refused)",
        help: "drop the object before the rollback and recreate it afterwards without the dropped columns (report.md prints its definition), or change the foreign key",
    },
    Hazard {
        code: "H18",
        unit: "objects",
        title: "a schema object that PostgreSQL drops silently with a version column (an index beyond the guide's, a CHECK or other constraint, extended statistics)",
        help: "rerun with --drop-dependents to drop it explicitly, or drop it yourself; recreate it afterwards from its definition if still needed",
    },
];

pub fn info(code: &str) -> Option<&'static Hazard> {
    CODES.iter().find(|h| h.code == code)
}
