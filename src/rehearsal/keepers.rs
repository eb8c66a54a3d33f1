//! Both policies' keepers as one set-based DuckDB query: a window over each `model_id`'s rows,
//! ordered by the ranks that policy.rs's comparators give each distinct version text and the
//! flags they give each distinct status, computed once in Rust and joined by the query.

use super::facts::{GroupChoice, ModelRow};
use super::keeper_collation::KeeperCollation;
use super::policy::{self, Choice, VersionRow};
use crate::collation::Collator;
use crate::error::Result;
use crate::terms::Policy;
use duckdb::types::Value;
use duckdb::{appender_params_from_iter, Connection};

/// Per models row: its place in each policy's order and whether it ties with the keeper.
pub const KEEPERS: &str = "_plan_keepers";
const VERSION_RANKS: &str = "_plan_version_ranks";
const STATUS_FLAGS: &str = "_plan_status_flags";

/// The rowids of the models rows that `policy` does not keep, as a subquery.
pub fn not_kept(policy: Policy) -> String {
    format!("(SELECT rid FROM {KEEPERS} WHERE {} > 1)", position(policy))
}

fn position(policy: Policy) -> &'static str {
    match policy {
        Policy::Documented => "documented_pos",
        Policy::Legacy => "legacy_pos",
    }
}

/// Chooses both policies' keeper of every `model_id` group of `models`, a query with the
/// columns rid, id (never NULL), model_id, version, status (text), created_at (epoch
/// microseconds), immutable, published and notes. Returns the rows grouped by model_id (NULL
/// first, then in byte order), each group's rows by rid, with each group's choices; leaves
/// `KEEPERS` on the connection.
pub fn choose(
    conn: &Connection,
    models: &str,
    collation: &KeeperCollation,
) -> Result<(Vec<ModelRow>, Vec<GroupChoice>)> {
    let collators: Vec<&Collator> = std::iter::once(&collation.collator).chain(&collation.alternatives).collect();
    rank_versions(conn, models, &collators)?;
    flag_statuses(conn, models)?;
    conn.execute_batch(&keeper_query(models, collators.len()))?;
    read_groups(conn, models, collation)
}

fn distinct(conn: &Connection, models: &str, column: &str) -> Result<Vec<String>> {
    let mut stmt = conn.prepare(&format!("SELECT DISTINCT {column} FROM ({models}) WHERE {column} IS NOT NULL"))?;
    let texts = stmt.query_map([], |r| r.get::<_, String>(0))?;
    Ok(texts.collect::<Result<_, _>>()?)
}

/// `VERSION_RANKS`: each distinct version text with its ranks (one collated column per collator).
fn rank_versions(conn: &Connection, models: &str, collators: &[&Collator]) -> Result<()> {
    let texts = distinct(conn, models, "version")?;
    let ranks = policy::rank_versions(&texts, collators);
    let collated: String = (0..collators.len()).map(|i| format!(", collated{i} INTEGER")).collect();
    conn.execute_batch(&format!(
        "CREATE OR REPLACE TEMP TABLE {VERSION_RANKS} (version VARCHAR, semantic INTEGER, parsed BOOLEAN{collated})"
    ))?;
    let mut appender = conn.appender_to_catalog_and_db(VERSION_RANKS, "temp", "main")?;
    for (text, rank) in texts.into_iter().zip(ranks) {
        let values = [Value::Text(text), Value::UInt(rank.semantic), Value::Boolean(rank.parsed)]
            .into_iter()
            .chain(rank.collated.into_iter().map(Value::UInt));
        appender.append_row(appender_params_from_iter(values))?;
    }
    appender.flush()?;
    Ok(())
}

/// `STATUS_FLAGS`: each distinct status, active loosely (documented) and exactly (legacy).
fn flag_statuses(conn: &Connection, models: &str) -> Result<()> {
    let statuses = distinct(conn, models, "status")?;
    conn.execute_batch(&format!(
        "CREATE OR REPLACE TEMP TABLE {STATUS_FLAGS} (status VARCHAR, loose BOOLEAN, exact BOOLEAN)"
    ))?;
    let mut appender = conn.appender_to_catalog_and_db(STATUS_FLAGS, "temp", "main")?;
    for status in statuses {
        let (loose, exact) = (policy::is_active_loosely(Some(&status)), policy::is_active_exactly(Some(&status)));
        appender.append_row(duckdb::params![status, loose, exact])?;
    }
    appender.flush()?;
    Ok(())
}

/// `KEEPERS` from the ranks. Documented: among the loosely active rows (all when none is), the
/// greatest precedence (`latest`) or parsed before unparsed, then the least (`first`); equal
/// precedence goes to the later created_at for latest, the earlier for first, NULL never
/// first; then the smaller id. Legacy: the shipped `DISTINCT ON` order, exactly 'active' first,
/// then version DESC in the collation with NULL first; then the smaller id. Both end on the
/// rowid, as the stable sort they replace did. Groups are numbered (`gid`) in model_id order,
/// NULL first, once: the windows partition and the rows are read back by that integer instead
/// of sorting the texts again.
fn keeper_query(models: &str, collators: usize) -> String {
    let collated: String = (0..collators).map(|i| format!(", v.collated{i}")).collect();
    let legacy_window = |i: usize| {
        format!("legacy{i} AS (PARTITION BY gid ORDER BY CASE WHEN exact THEN 1 ELSE 2 END, collated{i} DESC NULLS FIRST, id, rid)")
    };
    let windows: Vec<String> = (0..collators).map(legacy_window).collect();
    let alternatives: String =
        (1..collators).map(|i| format!(", first_value(rid) OVER legacy{i} AS keeper{i}")).collect();
    let sensitive: Vec<String> = (1..collators).map(|i| format!("keeper{i} <> keeper0")).collect();
    let sensitive = if sensitive.is_empty() { "false".to_string() } else { sensitive.join(" OR ") };
    format!(
        "CREATE OR REPLACE TEMP TABLE {KEEPERS} AS
         WITH groups AS (
             SELECT model_id, row_number() OVER (ORDER BY model_id NULLS FIRST) AS gid
             FROM (SELECT DISTINCT model_id FROM ({models}))),
         ranked AS (
             SELECT g.gid, m.rid, m.id, m.version IS NULL AS no_version, m.created_at,
                    coalesce(v.semantic, 0) AS semantic, coalesce(v.parsed, false) AS parsed{collated},
                    coalesce(s.loose, false) AS loose, coalesce(s.exact, false) AS exact
             FROM ({models}) m
             JOIN groups g ON g.model_id IS NOT DISTINCT FROM m.model_id
             LEFT JOIN {VERSION_RANKS} v ON v.version = m.version
             LEFT JOIN {STATUS_FLAGS} s ON s.status = m.status),
         grouped AS (
             SELECT *, bool_or(loose) OVER (PARTITION BY gid) AS latest,
                    count(*) OVER (PARTITION BY gid) AS size
             FROM ranked),
         candidates AS (SELECT *, loose OR NOT latest AS candidate FROM grouped),
         ordered AS (
             SELECT *, bool_or(candidate AND parsed) OVER (PARTITION BY gid) AS any_parsed,
                    row_number() OVER documented AS documented_pos,
                    first_value(semantic) OVER documented AS documented_semantic,
                    row_number() OVER legacy0 AS legacy_pos,
                    first_value(exact) OVER legacy0 AS legacy_exact,
                    first_value(collated0) OVER legacy0 AS legacy_collated,
                    first_value(rid) OVER legacy0 AS keeper0{alternatives}
             FROM candidates
             WINDOW documented AS (PARTITION BY gid ORDER BY candidate DESC,
                        CASE WHEN latest THEN semantic END DESC NULLS LAST, parsed DESC, no_version, semantic,
                        CASE WHEN latest THEN created_at END DESC NULLS LAST,
                        CASE WHEN NOT latest THEN created_at END ASC NULLS LAST, id, rid),
                    {})
         SELECT gid, rid, latest, any_parsed, documented_pos,
                documented_pos > 1 AND candidate AND semantic = documented_semantic AS documented_tied,
                legacy_pos,
                legacy_pos > 1 AND exact = legacy_exact AND collated0 IS NOT DISTINCT FROM legacy_collated AS legacy_tied,
                size > 1 AND ({sensitive}) AS collation_sensitive
         FROM ordered",
        windows.join(", ")
    )
}

/// One row of `KEEPERS` joined to its models row.
struct Placed {
    row: ModelRow,
    latest: bool,
    any_parsed: bool,
    documented_pos: i64,
    documented_tied: bool,
    legacy_pos: i64,
    legacy_tied: bool,
    collation_sensitive: bool,
}

fn read_groups(
    conn: &Connection,
    models: &str,
    collation: &KeeperCollation,
) -> Result<(Vec<ModelRow>, Vec<GroupChoice>)> {
    let mut stmt = conn.prepare(&format!(
        "SELECT m.rid, m.id, m.model_id, m.version, m.status, m.created_at, m.immutable, m.published, m.notes,
                k.latest, k.any_parsed, k.documented_pos, k.documented_tied, k.legacy_pos, k.legacy_tied,
                k.collation_sensitive
         FROM ({models}) m JOIN {KEEPERS} k ON k.rid = m.rid
         ORDER BY k.gid, m.rid"
    ))?;
    let placed = stmt.query_map([], |r| {
        Ok(Placed {
            row: ModelRow {
                rid: r.get(0)?,
                row: VersionRow {
                    id: r.get(1)?,
                    model_id: r.get(2)?,
                    version: r.get(3)?,
                    status: r.get(4)?,
                    created_at: r.get(5)?,
                },
                immutable: r.get(6)?,
                published: r.get(7)?,
                notes: r.get(8)?,
            },
            latest: r.get(9)?,
            any_parsed: r.get(10)?,
            documented_pos: r.get(11)?,
            documented_tied: r.get(12)?,
            legacy_pos: r.get(13)?,
            legacy_tied: r.get(14)?,
            collation_sensitive: r.get(15)?,
        })
    })?;
    // Sized once: a doubling Vec of the models rows keeps up to twice their size.
    let (row_count, group_count): (i64, i64) =
        conn.query_row(&format!("SELECT count(*), count(DISTINCT gid) FROM {KEEPERS}"), [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?;
    let mut rows: Vec<ModelRow> = Vec::with_capacity(row_count as usize);
    let mut choices = Vec::with_capacity(group_count as usize);
    let mut group: Vec<Placed> = Vec::new();
    for next in placed {
        let next = next?;
        if group.last().is_some_and(|last| last.row.row.model_id != next.row.row.model_id) {
            choices.push(group_choice(&mut rows, std::mem::take(&mut group), collation));
        }
        group.push(next);
    }
    if !group.is_empty() {
        choices.push(group_choice(&mut rows, group, collation));
    }
    Ok((rows, choices))
}

/// Moves one group's rows into `rows` and makes its choices from their places.
fn group_choice(rows: &mut Vec<ModelRow>, group: Vec<Placed>, collation: &KeeperCollation) -> GroupChoice {
    let first = &group[0];
    let (latest, any_parsed, collation_sensitive) = (first.latest, first.any_parsed, first.collation_sensitive);
    let choice = |pos: fn(&Placed) -> i64, tied: fn(&Placed) -> bool| {
        let keeper = group.iter().position(|p| pos(p) == 1).expect("a group has a first row");
        let mut tied_with: Vec<usize> = (0..group.len()).filter(|&i| tied(&group[i])).collect();
        tied_with.sort_by_key(|&i| pos(&group[i]));
        (keeper, tied_with)
    };
    let (keeper, tied_with) = choice(|p| p.documented_pos, |p| p.documented_tied);
    let reason = policy::documented_reason(latest, any_parsed, !tied_with.is_empty());
    let documented = Choice { keeper, tied_with, reason };
    let (keeper, tied_with) = choice(|p| p.legacy_pos, |p| p.legacy_tied);
    let reason = policy::legacy_reason(
        group[keeper].row.row.status.as_deref(),
        collation.collator.name(),
        !tied_with.is_empty(),
    );
    let legacy = Choice { keeper, tied_with, reason };
    let members = (rows.len()..rows.len() + group.len()).collect();
    rows.extend(group.into_iter().map(|p| p.row));
    GroupChoice { members, documented, legacy, collation_sensitive }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::collation::CollationName;
    use crate::rehearsal::keeper_collation;
    use crate::workspace::Workspace;

    /// Both policies' choices over `rows` (rid, id, model_id, version, status and created_at as
    /// given) on an in-memory workspace, in `collation`.
    pub fn choose_rows(rows: &[ModelRow], collation: &KeeperCollation) -> (Vec<ModelRow>, Vec<GroupChoice>) {
        let workspace = Workspace::in_memory().unwrap();
        let conn = workspace.connection();
        conn.execute_batch(
            "CREATE TEMP TABLE sample (rid BIGINT, id VARCHAR, model_id VARCHAR, version VARCHAR, status VARCHAR,
             created_at BIGINT, immutable BOOLEAN, published BOOLEAN, notes VARCHAR)",
        )
        .unwrap();
        let mut appender = conn.appender_to_catalog_and_db("sample", "temp", "main").unwrap();
        for r in rows {
            let v = &r.row;
            appender
                .append_row(duckdb::params![
                    r.rid,
                    v.id,
                    v.model_id,
                    v.version,
                    v.status,
                    v.created_at,
                    r.immutable,
                    r.published,
                    r.notes
                ])
                .unwrap();
        }
        appender.flush().unwrap();
        drop(appender);
        choose(conn, "SELECT * FROM sample", collation).unwrap()
    }

    fn field(text: &str) -> Option<String> {
        match text.trim() {
            "NULL" => None,
            quoted if quoted.starts_with('\'') => Some(quoted.trim_matches('\'').to_string()),
            plain => Some(plain.to_string()),
        }
    }

    fn micros(text: Option<String>) -> Option<i64> {
        // Case timestamps are `YYYY-MM-DD HH:MM:SS`; their digits order like time itself.
        text.map(|t| t.chars().filter(char::is_ascii_digit).collect::<String>().parse().unwrap())
    }

    fn ids(rows: &[ModelRow], indexes: &[usize]) -> String {
        let mut ids: Vec<&str> = indexes.iter().map(|&i| rows[i].row.id.as_str()).collect();
        ids.sort();
        if ids.is_empty() {
            "-".into()
        } else {
            ids.join(",")
        }
    }

    fn row(rid: usize, id: &str, version: Option<String>, status: Option<String>, created_at: Option<i64>) -> ModelRow {
        ModelRow {
            rid: rid as i64,
            row: VersionRow { id: id.into(), model_id: Some("m".into()), version, status, created_at },
            ..ModelRow::default()
        }
    }

    #[test]
    fn keeper_cases_from_the_data_file() {
        let text = include_str!("../../tests/cases/keepers.cases");
        let mut checked = 0;
        for case in text.split("\ncase ").skip(1) {
            let name = case.lines().next().unwrap();
            let mut rows = Vec::new();
            for line in case.lines().skip(1) {
                let cells: Vec<&str> = line.split('|').map(str::trim).collect();
                match cells[0] {
                    "row" => {
                        rows.push(row(rows.len(), cells[1], field(cells[2]), field(cells[3]), micros(field(cells[4]))))
                    }
                    "keep" | "ties" => {
                        let (chosen, choices) = choose_rows(&rows, &KeeperCollation::c());
                        assert_eq!(choices.len(), 1, "{name}");
                        for (policy, expected) in [(Policy::Documented, cells[1]), (Policy::Legacy, cells[2])] {
                            let choice = choices[0].chosen(policy);
                            let actual = if cells[0] == "keep" {
                                chosen[choice.keeper].row.id.clone()
                            } else {
                                ids(&chosen, &choice.tied_with)
                            };
                            assert_eq!(actual, expected, "{name}: {} {}", policy.name(), cells[0]);
                        }
                        checked += 1;
                    }
                    _ => {}
                }
            }
        }
        assert!(checked >= 30, "only {checked} expectations checked");
    }

    #[test]
    fn legacy_keeps_the_greatest_version_in_the_collation() {
        let active =
            |rid: usize, id: &str, version: &str| row(rid, id, Some(version.into()), Some("active".into()), None);
        let keeper = |collation: &str, rows: &[ModelRow]| {
            let collator = Collator::open(&CollationName::parse(collation).unwrap()).unwrap();
            let collation = KeeperCollation { collator, source: String::new(), alternatives: Vec::new() };
            let (chosen, choices) = choose_rows(rows, &collation);
            chosen[choices[0].keeper(Policy::Legacy)].row.id.clone()
        };
        let case = [active(0, "a", "v1.0"), active(1, "b", "V2.0")];
        let pre_release = [active(0, "a", "1.0.0-RC1"), active(1, "b", "1.0.0-beta")];
        let punctuation = [active(0, "a", "1.0_rc"), active(1, "b", "1.0.1")];
        for (collation, expected) in
            [("C", ["a", "b", "a"]), ("en_US.UTF-8", ["b", "a", "a"]), ("en-US-x-icu", ["b", "a", "b"])]
        {
            let actual = [keeper(collation, &case), keeper(collation, &pre_release), keeper(collation, &punctuation)];
            assert_eq!(actual, expected, "{collation}");
        }
    }

    #[test]
    fn groups_in_model_id_order_with_their_rows_by_rid_and_the_collations_that_disagree() {
        let mut rows = vec![
            row(0, "x", Some("1.0_rc".into()), Some("active".into()), None),
            row(1, "y", Some("1.0.1".into()), Some("active".into()), None),
            row(2, "z", None, None, None),
        ];
        rows[2].row.model_id = None;
        rows[1].row.model_id = Some("a".into());
        let (chosen, choices) = choose_rows(&rows, &KeeperCollation::c());
        let order: Vec<&str> = chosen.iter().map(|r| r.row.id.as_str()).collect();
        assert_eq!(order, ["z", "y", "x"]);
        assert_eq!(choices.iter().map(|c| c.members.clone()).collect::<Vec<_>>(), [vec![0], vec![1], vec![2]]);
        rows[1].row.model_id = Some("m".into());
        let silent = keeper_collation::resolve(None, &version_column(), None).unwrap();
        let (_, choices) = choose_rows(&rows, &silent);
        let sensitive: Vec<bool> = choices.iter().map(|c| c.collation_sensitive).collect();
        assert_eq!(sensitive, [false, true]);
    }

    fn version_column() -> crate::catalog::Column {
        crate::catalog::Column {
            name: "version".into(),
            pg_type: "text".into(),
            not_null: false,
            default: None,
            generated: None,
            collation: None,
        }
    }
}
