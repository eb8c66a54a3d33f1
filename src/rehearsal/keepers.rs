//! Both policies' keepers as one set-based DuckDB query: a window over each `model_id`'s rows,
//! ordered by the ranks that policy.rs's comparators give each distinct version text and the
//! flags they give each distinct status, computed once in Rust and joined by the query.

use super::arrow_columns;
use super::facts::{GroupChoice, Interner, Members, ModelRow};
use super::keeper_collation::KeeperCollation;
use super::policy::{self, Choice, VersionRow};
use crate::collation::{CollationName, Collator};
use crate::error::{Error, Result};
use crate::plan::Shared;
use crate::row_id::RowId;
use crate::spill::{self, Spill};
use crate::terms::Policy;
use crate::workspace::release_freed_memory;
use duckdb::types::Value;
use duckdb::{appender_params_from_iter, Connection};
use std::ops::Range;

/// Per models row: its place in each policy's order and whether it ties with the keeper.
const KEEPERS: &str = "_plan_keepers";
/// The rowids of the models rows that a policy does not keep, with a flag for each policy.
const NOT_KEPT: &str = "_plan_not_kept";
const VERSION_RANKS: &str = "_plan_version_ranks";
const STATUS_FLAGS: &str = "_plan_status_flags";
const GROUPS: &str = "_plan_groups";

/// The rowids of the models rows that `policy` does not keep, as a subquery.
pub fn not_kept(policy: Policy) -> String {
    format!("(SELECT rid FROM {NOT_KEPT} WHERE {})", policy.name())
}

/// Drops the tables `place` leaves, once the deletes are simulated: on a large export they
/// hold tens of megabytes.
pub fn forget(conn: &Connection) -> Result<()> {
    conn.execute_batch(&format!(
        "DROP TABLE IF EXISTS {NOT_KEPT}; DROP TABLE IF EXISTS {VERSION_RANKS}; DROP TABLE IF EXISTS {STATUS_FLAGS};
         DROP TABLE IF EXISTS {GROUPS};"
    ))?;
    Ok(())
}

/// Chooses both policies' keeper of every `model_id` group of `models`, a query with the
/// columns rid, id (never NULL), id_order (what sorts as id, NULL first), model_id, version,
/// status (text), created_at (epoch microseconds), immutable, published and notes: each row's
/// place in its group, for `read_groups`. Leaves the rows that a policy does not keep on the
/// connection, for the deletes (`not_kept`).
pub fn place(conn: &Connection, models: &str, collation: &KeeperCollation) -> Result<Places> {
    let mut places = Vec::new();
    place_in_parts(conn, models, collation, PART_ROWS, |place| {
        places.push(place);
        Ok(())
    })?;
    Places::grouped(places)
}

/// `place` for a large export: the places go to disk as they come from DuckDB, and wait there
/// while the deletes and checks run. Held, they took 32 bytes a models row (81 MiB at 8.7 GB)
/// through both, and beside the keepers' table as it was read.
pub fn place_on_disk(conn: &Connection, models: &str, collation: &KeeperCollation) -> Result<SpilledPlaces> {
    let mut places = PlacesWriter::new();
    place_in_parts(conn, models, collation, PART_ROWS, |place| places.push(&place))?;
    places.finish()
}

/// How many models rows the keeper query reads at a time (whole groups, so a part may hold
/// more): its memory (the groups' aggregate states, the rows it joins and orders) is then that
/// of so many rows, whatever the export's size. A 5.4 GB export's query peaked 170 MiB lower in
/// four parts than in one.
const PART_ROWS: u64 = 1 << 19;

/// The keeper query run over parts of about `part_rows` rows, each row's place handed to `each`.
fn place_in_parts(
    conn: &Connection,
    models: &str,
    collation: &KeeperCollation,
    part_rows: u64,
    mut each: impl FnMut(Place) -> Result<()>,
) -> Result<()> {
    let collators: Vec<&Collator> = std::iter::once(&collation.collator).chain(&collation.alternatives).collect();
    rank_versions(conn, models, &collators)?;
    flag_statuses(conn, models)?;
    // Each part's places are read, and its rows not kept (all the deletes need) kept, before
    // the next part runs: the keepers' table holds one part's rows, not all of them (78 MiB at
    // 4.3 GB).
    for (i, part) in number_groups(conn, models, part_rows)?.into_iter().enumerate() {
        let rows = keeper_query(models, collators.len(), part);
        conn.execute_batch(&format!("CREATE OR REPLACE TEMP TABLE {KEEPERS} AS {rows}"))?;
        // The part's joins freed their memory, which the allocator keeps resident until purged:
        // the places would come on top of it (130 MiB at 5.4 GB).
        release_freed_memory();
        read_places(conn, &mut each)?;
        let not_kept = match i {
            0 => format!("CREATE OR REPLACE TEMP TABLE {NOT_KEPT} AS"),
            _ => format!("INSERT INTO {NOT_KEPT}"),
        };
        conn.execute_batch(&format!(
            "{not_kept} SELECT rid, documented_pos > 1 AS documented, legacy_pos > 1 AS legacy FROM {KEEPERS}
             WHERE documented_pos > 1 OR legacy_pos > 1;
             DROP TABLE {KEEPERS};"
        ))?;
    }
    Ok(())
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

/// `GROUPS`: each distinct model_id, numbered (`gid`) in model_id order, NULL first, with the
/// part of the keeper query that reads its rows: the groups in gid order, a part starting where
/// the rows before it reach a multiple of `part_rows`. Returns the parts in order (part 0 alone
/// when there are no rows, so that the keepers' table is still made).
fn number_groups(conn: &Connection, models: &str, part_rows: u64) -> Result<Vec<i64>> {
    conn.execute_batch(&format!(
        "CREATE OR REPLACE TEMP TABLE {GROUPS} AS
         SELECT model_id, gid, CAST((sum(members) OVER (ORDER BY gid) - members) // {part_rows} AS BIGINT) AS part
         FROM (SELECT model_id, count(*) AS members, row_number() OVER (ORDER BY model_id NULLS FIRST) AS gid
               FROM ({models}) GROUP BY model_id)"
    ))?;
    let mut stmt = conn.prepare(&format!("SELECT DISTINCT part FROM {GROUPS} ORDER BY part"))?;
    let parts: Vec<i64> = stmt.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?;
    Ok(if parts.is_empty() { vec![0] } else { parts })
}

/// The id's place in both orders: the id's sort key (`place`'s id_order, NULL first), then the
/// rowid.
const BY_ID: &str = "id_order IS NOT NULL, id_order, rid";

/// `KEEPERS` from the ranks. Documented: among the loosely active rows (all when none is), the
/// greatest precedence (`latest`) or parsed before unparsed, then the least (`first`); equal
/// precedence goes to the later created_at for latest, the earlier for first, NULL never
/// first; then the smaller id. Legacy: the shipped `DISTINCT ON` order, exactly 'active' first,
/// then version DESC in the collation with NULL first; then the smaller id. Both end on the
/// rowid, as the stable sort they replace did. The rows are those of the groups of `part` (see
/// `number_groups`). Each keeper is the least of its order's key (an aggregate per group, which
/// costs a hash table instead of a sort of every row); only the rows tied with a keeper are
/// ordered, by a window over them alone. A keeper's position is 1, a tied row's its place among
/// the tied rows after it, any other row's the greatest integer. An alternative collation would
/// keep another row exactly when some row of the group comes before legacy's keeper in its
/// order without the id (`alternative_key`): rows level there hold the same version text, so
/// the id ranks them as it does in legacy's own order. `ranked` is computed where it is read
/// (twice) rather than held: a 4.3 GB export's query then peaks 65-145 MiB lower, in the same
/// time.
fn keeper_query(models: &str, collators: usize, part: i64) -> String {
    let collated: String = (0..collators).map(|i| format!(", v.collated{i}")).collect();
    let legacy_key = |i: usize| format!("(NOT exact, collated{i} IS NOT NULL, -coalesce(collated{i}, 0), {BY_ID})");
    let alternatives: String =
        (1..collators).map(|i| format!(", min({}) AS least_alternative{i}", alternative_key(i))).collect();
    let legacy_alternatives: String =
        (1..collators).map(|i| format!(", 'alternative{i}': {}", alternative_key(i))).collect();
    let sensitive: Vec<String> =
        (1..collators).map(|i| format!("legacy.alternative{i} > least_alternative{i}")).collect();
    let sensitive = if sensitive.is_empty() { "false".to_string() } else { sensitive.join(" OR ") };
    format!(
        "WITH groups AS (SELECT model_id, gid FROM {GROUPS} WHERE part = {part}),
         ranked AS NOT MATERIALIZED (
             SELECT g.gid, m.rid, m.id_order, m.version IS NULL AS no_version, m.created_at,
                    coalesce(v.semantic, 0) AS semantic, coalesce(v.parsed, false) AS parsed{collated},
                    coalesce(s.loose, false) AS loose, coalesce(s.exact, false) AS exact
             FROM ({models}) m
             JOIN groups g ON g.model_id IS NOT DISTINCT FROM m.model_id
             LEFT JOIN {VERSION_RANKS} v ON v.version = m.version
             LEFT JOIN {STATUS_FLAGS} s ON s.status = m.status),
         least AS (
             SELECT gid, count(*) AS members, bool_or(loose) AS latest,
                    bool_or(loose AND parsed) AS loose_parsed, bool_or(parsed) AS some_parsed,
                    arg_min({{'rid': rid, 'semantic': semantic}},
                            (-semantic, NOT parsed, no_version, created_at IS NULL, -coalesce(created_at, 0), {BY_ID}))
                        FILTER (WHERE loose) AS latest_keeper,
                    arg_min({{'rid': rid, 'semantic': semantic}},
                            (NOT parsed, no_version, semantic, created_at IS NULL, coalesce(created_at, 0), {BY_ID}))
                        AS first_keeper,
                    arg_min({{'rid': rid, 'exact': exact, 'collated': collated0{legacy_alternatives}}}, {legacy_key0})
                        AS legacy{alternatives}
             FROM ranked GROUP BY gid),
         per_group AS (
             SELECT gid, latest, CASE WHEN latest THEN loose_parsed ELSE some_parsed END AS any_parsed,
                    CASE WHEN latest THEN latest_keeper ELSE first_keeper END AS documented, legacy,
                    members > 1 AND ({sensitive}) AS collation_sensitive
             FROM least),
         marked AS (
             SELECT r.*, p.latest, p.any_parsed, p.collation_sensitive,
                    r.rid = p.documented.rid AS documented_keeper,
                    r.rid <> p.documented.rid AND (r.loose OR NOT p.latest) AND r.semantic = p.documented.semantic
                        AS documented_tied,
                    r.rid = p.legacy.rid AS legacy_keeper,
                    r.rid <> p.legacy.rid AND r.exact = p.legacy.exact
                        AND r.collated0 IS NOT DISTINCT FROM p.legacy.collated AS legacy_tied
             FROM ranked r JOIN per_group p USING (gid)),
         documented_ties AS (
             SELECT rid, row_number() OVER (PARTITION BY gid ORDER BY
                        CASE WHEN latest THEN semantic END DESC NULLS LAST, parsed DESC, no_version, semantic,
                        CASE WHEN latest THEN created_at END DESC NULLS LAST,
                        CASE WHEN NOT latest THEN created_at END ASC NULLS LAST, {BY_ID}) AS tie
             FROM marked WHERE documented_tied),
         legacy_ties AS (
             SELECT rid, row_number() OVER (PARTITION BY gid ORDER BY {BY_ID}) AS tie FROM marked WHERE legacy_tied)
         SELECT m.gid, m.rid, latest, any_parsed,
                CASE WHEN documented_keeper THEN 1 WHEN documented_tied THEN 1 + d.tie ELSE {LAST} END AS documented_pos,
                documented_tied,
                CASE WHEN legacy_keeper THEN 1 WHEN legacy_tied THEN 1 + l.tie ELSE {LAST} END AS legacy_pos,
                legacy_tied, collation_sensitive
         FROM marked m LEFT JOIN documented_ties d USING (rid) LEFT JOIN legacy_ties l USING (rid)",
        legacy_key0 = legacy_key(0),
        LAST = i64::MAX,
    )
}

/// Collator `i`'s legacy order without the id as one integer, least first: exactly 'active'
/// first, then NULL versions, then the greatest rank (ranks are below 2^32: one per distinct
/// text, as the collators break ties by bytes).
fn alternative_key(i: usize) -> String {
    format!("(NOT exact)::BIGINT * {} + ({} - coalesce(collated{i}, {}))", 1i64 << 34, 1i64 << 33, 1i64 << 32)
}

/// The models rows' places in their groups, by rid, and where the grouped rows go.
pub struct Places {
    places: Vec<Place>,
    /// See `group_order`.
    slot: Vec<u32>,
    order: Vec<u32>,
}

impl Places {
    /// The places in rid order, grouped (`group_order`); they number at most `u32::MAX`.
    fn grouped(mut places: Vec<Place>) -> Result<Places> {
        if u32::try_from(places.len()).is_err() {
            return Err(counted_past_32_bits("the models rows", places.len() as i64));
        }
        // Sorted here: DuckDB would sort the whole narrow table for it, in more time.
        places.sort_unstable_by_key(|p| p.rid);
        let (slot, order) = group_order(&places)?;
        Ok(Places { places, slot, order })
    }
}

/// Places written to disk as they come, a record each (its rid the tag).
struct PlacesWriter {
    records: spill::Writer,
    count: usize,
}

impl PlacesWriter {
    fn new() -> PlacesWriter {
        // Of unknown length: the writer's whole buffer, a megabyte.
        PlacesWriter { records: spill::Writer::new(Spill::default(), usize::MAX), count: 0 }
    }

    fn push(&mut self, place: &Place) -> Result<()> {
        self.records.push(place.rid, &place.to_bytes()).map_err(spill::failed)?;
        self.count += 1;
        Ok(())
    }

    fn finish(self) -> Result<SpilledPlaces> {
        let (spill, records) = self.records.finish().map_err(spill::failed)?;
        Ok(SpilledPlaces { spill, records: records.unwrap_or(0..0), count: self.count })
    }
}

/// `Places` on disk (`place_on_disk`).
pub struct SpilledPlaces {
    spill: Spill,
    records: Range<u64>,
    count: usize,
}

impl SpilledPlaces {
    /// The places, read back and grouped.
    pub fn load(&self) -> Result<Places> {
        let mut places = Vec::with_capacity(self.count);
        let mut reader = self.spill.reader(self.records.clone());
        while let Some((rid, bytes)) = reader.peek().map_err(spill::failed)? {
            places.push(Place::from_bytes(rid, bytes)?);
            reader.advance();
        }
        if places.len() != self.count {
            return Err(Error::Internal(format!("{} of {} models rows' places read back", places.len(), self.count)));
        }
        Places::grouped(places)
    }
}

/// A spilled place's bytes after its rid: gid and both positions, then its flags in one byte.
const PLACE_BYTES: usize = 13;

/// A models row's place in its group, as `KEEPERS` has it: 24 bytes, for each models row while
/// the rows are read (a 5.4 GB export has 1.6 million; integers that count rows and rowids fit
/// in 32 bits, as `read_places` checks).
#[derive(Debug, Clone, PartialEq)]
struct Place {
    rid: u32,
    gid: u32,
    /// 1 for the keeper, then the tied rows in their order; any other row comes later
    /// (`u32::MAX`).
    documented_pos: u32,
    /// As `documented_pos`.
    legacy_pos: u32,
    latest: bool,
    any_parsed: bool,
    documented_tied: bool,
    legacy_tied: bool,
    collation_sensitive: bool,
}

const _: () = assert!(std::mem::size_of::<Place>() == 24);

impl Place {
    fn flags(&self) -> [bool; 5] {
        [self.latest, self.any_parsed, self.documented_tied, self.legacy_tied, self.collation_sensitive]
    }

    fn to_bytes(&self) -> [u8; PLACE_BYTES] {
        let mut bytes = [0u8; PLACE_BYTES];
        for (at, value) in [self.gid, self.documented_pos, self.legacy_pos].into_iter().enumerate() {
            bytes[4 * at..4 * at + 4].copy_from_slice(&value.to_le_bytes());
        }
        bytes[12] = self.flags().iter().enumerate().map(|(bit, &set)| u8::from(set) << bit).sum();
        bytes
    }

    fn from_bytes(rid: u32, bytes: &[u8]) -> Result<Place> {
        let bytes: &[u8; PLACE_BYTES] =
            bytes.try_into().map_err(|_| Error::Internal(format!("the place of models row {rid} reads back short")))?;
        let word = |at: usize| u32::from_le_bytes(bytes[4 * at..4 * at + 4].try_into().expect("four bytes"));
        let flag = |bit: u8| bytes[12] >> bit & 1 == 1;
        Ok(Place {
            rid,
            gid: word(0),
            documented_pos: word(1),
            legacy_pos: word(2),
            latest: flag(0),
            any_parsed: flag(1),
            documented_tied: flag(2),
            legacy_tied: flag(3),
            collation_sensitive: flag(4),
        })
    }
}

/// Every row of `KEEPERS`, each handed to `each`.
fn read_places(conn: &Connection, mut each: impl FnMut(Place) -> Result<()>) -> Result<()> {
    let mut stmt = conn.prepare(&format!(
        "SELECT rid, gid, latest, any_parsed, documented_pos, documented_tied, legacy_pos, legacy_tied,
                collation_sensitive
         FROM {KEEPERS}"
    ))?;
    for batch in stmt.stream_arrow([])? {
        let batch = batch?;
        let integer = |i| arrow_columns::integers(&batch, i).and_then(|c| arrow_columns::without_nulls(&batch, i, c));
        let flag = |i| arrow_columns::flags(&batch, i).and_then(|c| arrow_columns::without_nulls(&batch, i, c));
        let (rid, gid, documented_pos, legacy_pos) = (integer(0)?, integer(1)?, integer(4)?, integer(6)?);
        let (latest, any_parsed, documented_tied, legacy_tied, sensitive) =
            (flag(2)?, flag(3)?, flag(5)?, flag(7)?, flag(8)?);
        for i in 0..batch.num_rows() {
            let gid = u32::try_from(gid.value(i)).map_err(|_| counted_past_32_bits("a group number", gid.value(i)))?;
            // Past the tied rows a position is LAST, which sorts last as u32::MAX does.
            let position = |pos: i64| u32::try_from(pos).unwrap_or(u32::MAX);
            let rid = u32::try_from(rid.value(i)).map_err(|_| counted_past_32_bits("a models rowid", rid.value(i)))?;
            each(Place {
                rid,
                gid,
                documented_pos: position(documented_pos.value(i)),
                legacy_pos: position(legacy_pos.value(i)),
                latest: latest.value(i),
                any_parsed: any_parsed.value(i),
                documented_tied: documented_tied.value(i),
                legacy_tied: legacy_tied.value(i),
                collation_sensitive: sensitive.value(i),
            })?;
        }
    }
    Ok(())
}

/// A count of models rows (or of their groups) past what a place holds.
fn counted_past_32_bits(what: &str, count: i64) -> Error {
    Error::Environment(format!("{what} number {count}: more than the 4 294 967 295 models rows rehearse holds"))
}

/// Where each place goes when the rows are grouped by gid and each group's rows by rid
/// (`slot`), and the places in that order (`order`). The gids number the groups from 1, so
/// counting them places every row in one pass over the places, which are in rid order (whose
/// number `read_places` checked fits in 32 bits).
fn group_order(places: &[Place]) -> Result<(Vec<u32>, Vec<u32>)> {
    let mut starts = vec![0usize; places.len() + 2];
    for place in places {
        let gid = place.gid as usize;
        if !(1..=places.len()).contains(&gid) {
            return Err(Error::Internal(format!("group number {gid} out of range in {KEEPERS}")));
        }
        starts[gid + 1] += 1;
    }
    for gid in 1..starts.len() {
        starts[gid] += starts[gid - 1];
    }
    let (mut slot, mut order) = (vec![0; places.len()], vec![0; places.len()]);
    for (i, place) in places.iter().enumerate() {
        let next = &mut starts[place.gid as usize];
        (slot[i], order[*next]) = (*next as u32, i as u32);
        *next += 1;
    }
    Ok((slot, order))
}

/// The models rows of `models` (as `place` read them) grouped by `KEEPERS`'s gid (NULL model_id
/// first, then in byte order), each group's by rid, with each group's choices. The rows stream
/// in the table's order and each goes straight to its slot: no sort of the rows' text, and no
/// second copy of it. `conn` may be another connection than `place`'s; `collation` names the
/// chosen collation in the legacy reasons.
pub fn read_groups(
    conn: &Connection,
    models: &str,
    collation: &CollationName,
    places: &Places,
) -> Result<(Vec<ModelRow>, Vec<GroupChoice>)> {
    let Places { places, slot, order } = places;
    let mut rows = vec![ModelRow::default(); places.len()];
    // One text per group's model_id and per distinct status, version and note, shared by their
    // rows: by gid, which numbers the groups from 1 (as `group_order` checked).
    let last_gid = places.iter().map(|p| p.gid as usize).max().unwrap_or(0);
    let mut model_ids: Vec<Option<Shared>> = vec![None; last_gid + 1];
    let (mut statuses, mut versions, mut notes_texts) = (Interner::default(), Interner::default(), Interner::default());
    let mut read = 0;
    let mut stmt = conn
        .prepare(&format!("SELECT rid, id, model_id, version, status, immutable, published, notes FROM ({models})"))?;
    for batch in stmt.stream_arrow([])? {
        let batch = batch?;
        let rid = arrow_columns::integers(&batch, 0)?;
        let (id, model_id, version, status, notes) = (
            arrow_columns::texts(&batch, 1)?,
            arrow_columns::texts(&batch, 2)?,
            arrow_columns::texts(&batch, 3)?,
            arrow_columns::texts(&batch, 4)?,
            arrow_columns::texts(&batch, 7)?,
        );
        let (immutable, published) = (arrow_columns::flags(&batch, 5)?, arrow_columns::flags(&batch, 6)?);
        for i in 0..batch.num_rows() {
            let rid = rid.value(i);
            // The table's order is rid order: the next place, unless the scan jumps.
            let place = match places.get(read) {
                Some(p) if i64::from(p.rid) == rid => read,
                _ => places
                    .binary_search_by_key(&rid, |p| i64::from(p.rid))
                    .map_err(|_| Error::Internal(format!("models row {rid} has no place in {KEEPERS}")))?,
            };
            let group_model_id = &mut model_ids[places[place].gid as usize];
            if group_model_id.is_none() {
                *group_model_id = arrow_columns::shared(model_id, i);
            }
            rows[slot[place] as usize] = ModelRow {
                rid: places[place].rid,
                row: VersionRow {
                    id: arrow_columns::borrowed(id, i).map(RowId::from).unwrap_or_default(),
                    model_id: group_model_id.clone(),
                    version: arrow_columns::borrowed(version, i).map(|v| versions.get(v)),
                    status: arrow_columns::borrowed(status, i).map(|s| statuses.get(s)),
                },
                immutable: arrow_columns::flag(immutable, i),
                published: arrow_columns::flag(published, i),
                notes: arrow_columns::borrowed(notes, i).map(|n| notes_texts.get(n)),
            };
            read += 1;
        }
    }
    if read != places.len() {
        return Err(Error::Internal(format!("{read} models rows read for {} places in {KEEPERS}", places.len())));
    }
    let groups = order.chunk_by(|&a, &b| places[a as usize].gid == places[b as usize].gid);
    let mut choices = Vec::new();
    let mut reasons = Interner::default();
    let mut first = 0;
    for group in groups {
        let members: Vec<&Place> = group.iter().map(|&i| &places[i as usize]).collect();
        choices.push(group_choice(&rows, first, &members, collation, &mut reasons));
        first += group.len();
    }
    Ok((rows, choices))
}

/// One group's choices from its rows' places; its rows are `rows[first..]`, in `members`' order.
/// `reasons` holds one text per distinct reason (a few, for every group).
fn group_choice(
    rows: &[ModelRow],
    first: usize,
    members: &[&Place],
    collation: &CollationName,
    reasons: &mut Interner,
) -> GroupChoice {
    let head = members[0];
    let choice = |pos: fn(&Place) -> u32, tied: fn(&Place) -> bool| {
        let keeper = members.iter().position(|p| pos(p) == 1).expect("a group has a first row");
        let mut tied_with: Vec<usize> = (0..members.len()).filter(|&i| tied(members[i])).collect();
        tied_with.sort_by_key(|&i| pos(members[i]));
        (keeper, tied_with)
    };
    let (keeper, tied_with) = choice(|p| p.documented_pos, |p| p.documented_tied);
    let reason = reasons.get(&policy::documented_reason(head.latest, head.any_parsed, !tied_with.is_empty()));
    let documented = Choice { keeper, tied_with, reason };
    let (keeper, tied_with) = choice(|p| p.legacy_pos, |p| p.legacy_tied);
    let reason = reasons.get(&policy::legacy_reason(
        rows[first + keeper].row.status.as_deref(),
        collation,
        !tied_with.is_empty(),
    ));
    let legacy = Choice { keeper, tied_with, reason };
    GroupChoice {
        members: Members::new(first, members.len()),
        documented,
        legacy,
        collation_sensitive: head.collation_sensitive,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::collation::CollationName;
    use crate::rehearsal::keeper_collation;
    use crate::workspace::Workspace;

    /// Both policies' choices over `rows` (rid, id, model_id, version and status as given, no
    /// created_at) on an in-memory workspace, in `collation`.
    pub fn choose_rows(rows: &[ModelRow], collation: &KeeperCollation) -> (Vec<ModelRow>, Vec<GroupChoice>) {
        choose_dated(rows, &vec![None; rows.len()], collation)
    }

    /// `choose_rows` with each row's `created_at` (epoch microseconds): the keeper query reads it
    /// from the workspace, the rows the plan holds do not carry it.
    pub fn choose_dated(
        rows: &[ModelRow],
        created_at: &[Option<i64>],
        collation: &KeeperCollation,
    ) -> (Vec<ModelRow>, Vec<GroupChoice>) {
        choose_in_parts(rows, created_at, collation, PART_ROWS).0
    }

    /// `choose_dated` with the keeper query in parts of about `part_rows` rows; with the number
    /// of parts.
    fn choose_in_parts(
        rows: &[ModelRow],
        created_at: &[Option<i64>],
        collation: &KeeperCollation,
        part_rows: u64,
    ) -> ((Vec<ModelRow>, Vec<GroupChoice>), i64) {
        assert_eq!(rows.len(), created_at.len());
        let workspace = Workspace::in_memory().unwrap();
        let conn = workspace.connection();
        conn.execute_batch(
            "CREATE TEMP TABLE sample (rid BIGINT, id VARCHAR, model_id VARCHAR, version VARCHAR, status VARCHAR,
             created_at BIGINT, immutable BOOLEAN, published BOOLEAN, notes VARCHAR)",
        )
        .unwrap();
        let mut appender = conn.appender_to_catalog_and_db("sample", "temp", "main").unwrap();
        for (r, created_at) in rows.iter().zip(created_at) {
            let v = &r.row;
            appender
                .append_row(duckdb::params![
                    r.rid,
                    v.id.to_string(),
                    v.model_id.as_deref(),
                    v.version.as_deref(),
                    v.status.as_deref(),
                    created_at,
                    r.immutable,
                    r.published,
                    r.notes.as_deref()
                ])
                .unwrap();
        }
        appender.flush().unwrap();
        drop(appender);
        let mut places = Vec::new();
        let sample = "SELECT *, id AS id_order FROM sample";
        place_in_parts(conn, sample, collation, part_rows, |place| {
            places.push(place);
            Ok(())
        })
        .unwrap();
        let places = Places::grouped(places).unwrap();
        let parts = conn.query_row(&format!("SELECT count(DISTINCT part) FROM {GROUPS}"), [], |r| r.get(0)).unwrap();
        (read_groups(conn, "SELECT * FROM sample", collation.collator.name(), &places).unwrap(), parts)
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
        let mut ids: Vec<String> = indexes.iter().map(|&i| rows[i].row.id.to_string()).collect();
        ids.sort();
        if ids.is_empty() {
            "-".into()
        } else {
            ids.join(",")
        }
    }

    fn row(rid: usize, id: &str, version: Option<String>, status: Option<String>) -> ModelRow {
        ModelRow {
            rid: rid as u32,
            row: VersionRow {
                id: id.into(),
                model_id: Some("m".into()),
                version: version.map(Into::into),
                status: status.map(Into::into),
            },
            ..ModelRow::default()
        }
    }

    #[test]
    fn places_spilled_read_back_as_they_were() {
        let place = |rid: u32, gid: u32, pos: u32, flags: u8| Place {
            rid,
            gid,
            documented_pos: pos,
            legacy_pos: u32::MAX - pos,
            latest: flags & 1 == 1,
            any_parsed: flags & 2 == 2,
            documented_tied: flags & 4 == 4,
            legacy_tied: flags & 8 == 8,
            collation_sensitive: flags & 16 == 16,
        };
        // Out of rid order, as the keepers' table may give them.
        let places: Vec<Place> =
            (0..40).map(|rid| place((rid * 7) % 40 * 3, 1 + rid % 7, rid % 3 + 1, rid as u8 % 32)).collect();
        let mut writer = PlacesWriter::new();
        places.iter().try_for_each(|p| writer.push(p)).unwrap();
        let read = writer.finish().unwrap().load().unwrap();
        let grouped = Places::grouped(places).unwrap();
        assert!(grouped.places.is_sorted_by_key(|p| p.rid));
        assert_eq!((read.places, read.slot, read.order), (grouped.places, grouped.slot, grouped.order));
        let none = PlacesWriter::new().finish().unwrap().load().unwrap();
        assert!(none.places.is_empty());
        let short = Place::from_bytes(3, &[0; PLACE_BYTES - 1]).unwrap_err().to_string();
        assert!(short.contains("models row 3 reads back short"), "{short}");
    }

    #[test]
    fn keeper_cases_from_the_data_file() {
        let text = include_str!("../../tests/cases/keepers.cases");
        let mut checked = 0;
        for case in text.split("\ncase ").skip(1) {
            let name = case.lines().next().unwrap();
            let (mut rows, mut created_at) = (Vec::new(), Vec::new());
            for line in case.lines().skip(1) {
                let cells: Vec<&str> = line.split('|').map(str::trim).collect();
                match cells[0] {
                    "row" => {
                        rows.push(row(rows.len(), cells[1], field(cells[2]), field(cells[3])));
                        created_at.push(micros(field(cells[4])));
                    }
                    "keep" | "ties" => {
                        let (chosen, choices) = choose_dated(&rows, &created_at, &KeeperCollation::c());
                        assert_eq!(choices.len(), 1, "{name}");
                        for (policy, expected) in [(Policy::Documented, cells[1]), (Policy::Legacy, cells[2])] {
                            let choice = choices[0].chosen(policy);
                            let actual = if cells[0] == "keep" {
                                chosen[choice.keeper].row.id.to_string()
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

    /// Every case of the data file as a group of its own (the first with a NULL model_id), with
    /// the collations that may disagree: the keeper query in parts of a few rows (each holding
    /// whole groups, the largest more than a part) chooses as it does in one part.
    #[test]
    fn the_keeper_query_in_parts_chooses_as_in_one() {
        let (mut rows, mut created_at) = (Vec::new(), Vec::new());
        for (group, case) in include_str!("../../tests/cases/keepers.cases").split("\ncase ").skip(1).enumerate() {
            for cells in case.lines().map(|line| line.split('|').map(str::trim).collect::<Vec<_>>()) {
                if cells[0] == "row" {
                    let mut case_row = row(rows.len(), cells[1], field(cells[2]), field(cells[3]));
                    case_row.row.model_id = (group > 0).then(|| format!("m{group:03}").into());
                    rows.push(case_row);
                    created_at.push(micros(field(cells[4])));
                }
            }
        }
        let collation = keeper_collation::resolve(None, &version_column(), None).unwrap();
        let shown = |chosen: &(Vec<ModelRow>, Vec<GroupChoice>)| format!("{chosen:?}");
        let (whole, parts) = choose_in_parts(&rows, &created_at, &collation, PART_ROWS);
        let groups = whole.1.len() as i64;
        assert_eq!((parts, groups), (1, 15));
        for part_rows in [1, 2, 3, 7] {
            let (chosen, parts) = choose_in_parts(&rows, &created_at, &collation, part_rows);
            // In parts of one row, each group is a part of its own.
            assert!(parts > 2 && (part_rows > 1 || parts == groups), "{parts} parts of {part_rows} rows");
            assert_eq!(shown(&chosen), shown(&whole), "in parts of {part_rows} rows");
        }
    }

    #[test]
    fn legacy_keeps_the_greatest_version_in_the_collation() {
        let active = |rid: usize, id: &str, version: &str| row(rid, id, Some(version.into()), Some("active".into()));
        let keeper = |collation: &str, rows: &[ModelRow]| {
            let collator = Collator::open(&CollationName::parse(collation).unwrap()).unwrap();
            let collation = KeeperCollation { collator, source: String::new(), alternatives: Vec::new() };
            let (chosen, choices) = choose_rows(rows, &collation);
            chosen[choices[0].keeper(Policy::Legacy)].row.id.to_string()
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
            row(0, "x", Some("1.0_rc".into()), Some("active".into())),
            row(1, "y", Some("1.0.1".into()), Some("active".into())),
            row(2, "z", None, None),
        ];
        rows[2].row.model_id = None;
        rows[1].row.model_id = Some("a".into());
        let (chosen, choices) = choose_rows(&rows, &KeeperCollation::c());
        let order: Vec<String> = chosen.iter().map(|r| r.row.id.to_string()).collect();
        assert_eq!(order, ["z", "y", "x"]);
        assert_eq!(choices.iter().map(|c| c.members.iter().collect()).collect::<Vec<Vec<_>>>(), [[0], [1], [2]]);
        // Groups kept for the same reason share its text.
        assert!(Shared::ptr_eq(&choices[1].legacy.reason, &choices[2].legacy.reason));
        rows[1].row.model_id = Some("m".into());
        let silent = keeper_collation::resolve(None, &version_column(), None).unwrap();
        let (chosen, choices) = choose_rows(&rows, &silent);
        let sensitive: Vec<bool> = choices.iter().map(|c| c.collation_sensitive).collect();
        assert_eq!(sensitive, [false, true]);
        // The rows of a group share one model_id text, and rows one text per status.
        let [_, first, second] = &chosen[..] else { panic!("three rows") };
        let shared = |a: &Option<Shared>, b: &Option<Shared>| Shared::ptr_eq(a.as_ref().unwrap(), b.as_ref().unwrap());
        assert!(shared(&first.row.model_id, &second.row.model_id));
        assert!(shared(&first.row.status, &second.row.status));
    }

    #[test]
    fn collations_that_agree_on_the_keeper_are_not_flagged() {
        let silent = keeper_collation::resolve(None, &version_column(), None).unwrap();
        let sensitive = |rows: &[ModelRow]| choose_rows(rows, &silent).1[0].collation_sensitive;
        let active =
            |rid: usize, id: &str, version: Option<&str>| row(rid, id, version.map(Into::into), Some("active".into()));
        // The same version text twice, greater in every collation: the id decides.
        assert!(!sensitive(&[active(0, "b", Some("2.0")), active(1, "a", Some("2.0")), active(2, "c", Some("1.0"))]));
        // A NULL version comes first in every collation.
        assert!(!sensitive(&[active(0, "b", Some("1.0_rc")), active(1, "a", None), active(2, "c", Some("1.0.1"))]));
        // Exactly 'active' comes first in every collation.
        let mut inactive = active(1, "a", Some("1.0.1"));
        inactive.row.status = Some("archived".into());
        assert!(!sensitive(&[active(0, "b", Some("1.0_rc")), inactive.clone()]));
        // Only the versions' order tells the keepers apart.
        assert!(sensitive(&[active(0, "b", Some("1.0_rc")), active(1, "a", Some("1.0.1"))]));
    }

    #[test]
    fn uuids_order_as_their_text() {
        // What lets a uuid id order the keepers by its value rather than its text.
        let workspace = Workspace::in_memory().unwrap();
        let uuids = [
            "00000000-0000-0000-0000-000000000000",
            "00000000-0000-0000-8000-000000000000",
            "00000000-0000-0000-ffff-ffffffffffff",
            "7fffffff-ffff-ffff-7fff-ffffffffffff",
            "7fffffff-ffff-ffff-8000-000000000000",
            "80000000-0000-0000-0000-000000000000",
            "A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11",
            "ffffffff-ffff-ffff-ffff-ffffffffffff",
        ];
        let values: Vec<String> = uuids.iter().map(|u| format!("('{u}')")).collect();
        let order = |key: &str| -> Vec<String> {
            let mut stmt = workspace
                .connection()
                .prepare(&format!(
                    "SELECT CAST(u AS VARCHAR) FROM (SELECT CAST(t AS UUID) AS u FROM (VALUES {}) v(t)) ORDER BY {key}",
                    values.join(", ")
                ))
                .unwrap();
            stmt.query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect()
        };
        assert_eq!(order("u"), order("CAST(u AS VARCHAR)"));
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
