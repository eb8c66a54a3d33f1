//! The DuckDB workspace: the loaded rows of the reached tables, plus metadata tables (schema
//! `_rehearse`) that record where the rows came from and everything the dump declared. A
//! workspace file is written under a temporary name and renamed only when complete, so a failed
//! import never leaves a half-written workspace behind.

use crate::catalog::objects::SchemaObjects;
use crate::catalog::{
    quote_ident, Catalog, Column, Constraint, ConstraintKind, FkAction, ForeignKey, Index, Partition, Table, TableName,
};
use crate::cleanup::ScratchDir;
use crate::duckdb_raw::{RawConnection, RawDatabase};
use crate::error::{Error, Result};
use crate::input::fingerprint::Fingerprinting;
use crate::input::Scan;
use crate::pgtype::DuckType;
use crate::staging::Staged;
use duckdb::{params, AccessMode, Config, Connection};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;

/// Session settings. DuckDB's memory limit stays at its default (80 % of RAM) after loading
/// (which caps it, see `loader`): a cap of 256 MB made the ordered fingerprint aggregate of the
/// rehearsal fail with "Out of Memory" on a 1 GB export, and a rehearsal that fails is worse
/// than one that uses memory. (That aggregate is streamed now, see `rehearsal::fingerprint`;
/// docs/figures-history.md has what a cap saves since.)
const SESSION: &str = "SET preserve_insertion_order = true;";

const MB: i64 = 1 << 20;

const META_DDL: &str = r#"
CREATE SCHEMA _rehearse;
CREATE TABLE _rehearse.provenance (key VARCHAR PRIMARY KEY, value VARCHAR);
CREATE TABLE _rehearse.tables (schema_name VARCHAR, table_name VARCHAR, loaded BOOLEAN, row_count BIGINT);
CREATE TABLE _rehearse.columns (schema_name VARCHAR, table_name VARCHAR, position INTEGER,
    column_name VARCHAR, pg_type VARCHAR, duck_type VARCHAR, not_null BOOLEAN, default_expr VARCHAR,
    generated_expr VARCHAR, collation_name VARCHAR);
CREATE TABLE _rehearse.constraints (schema_name VARCHAR, table_name VARCHAR, position INTEGER,
    constraint_name VARCHAR, kind VARCHAR, columns VARCHAR, ref_schema VARCHAR, ref_table VARCHAR,
    ref_columns VARCHAR, on_delete VARCHAR, on_update VARCHAR, set_columns VARCHAR, deferred BOOLEAN);
CREATE TABLE _rehearse.indexes (schema_name VARCHAR, table_name VARCHAR, position INTEGER,
    index_name VARCHAR, is_unique BOOLEAN, columns VARCHAR);
CREATE TABLE _rehearse.notes (position INTEGER, note VARCHAR);
CREATE TABLE _rehearse.lineage (schema_name VARCHAR, table_name VARCHAR, position INTEGER,
    parent_schema VARCHAR, parent_table VARCHAR, partition_bound VARCHAR);
CREATE TABLE _rehearse.partitioned (schema_name VARCHAR, table_name VARCHAR, partition_key VARCHAR);
CREATE TABLE _rehearse.schema_objects (body VARCHAR);
"#;

/// A table of the input: whether its rows were loaded, and how many it has.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TableStat {
    pub table: TableName,
    pub loaded: bool,
    pub rows: Option<u64>,
}

pub struct Workspace {
    conn: Connection,
    /// The database behind `conn`, opened by rehearse itself so that the loader reaches DuckDB's
    /// C API; closed after `conn` (fields drop in order). `None` for a workspace opened read-only.
    database: Option<RawDatabase>,
    /// Whether DuckDB keeps the workspace in a file (else in memory only).
    on_disk: bool,
    /// For a scratch workspace, the directory its file lives in, removed after the connection
    /// closes (fields drop in order).
    _scratch: Option<ScratchDir>,
    /// The input's size and SHA-256 while still being computed: the provenance gets them when
    /// first read (or the workspace file when committed), so the hash goes on beside the
    /// rehearsal instead of holding it up.
    fingerprinting: Mutex<Option<Fingerprinting>>,
}

/// A workspace being written: renamed into place by `commit`, deleted if dropped before.
pub struct PendingWorkspace {
    pub workspace: Workspace,
    staged: Staged,
}

impl PendingWorkspace {
    pub fn commit(self) -> Result<()> {
        self.workspace.finish_fingerprint()?;
        self.workspace.conn.execute_batch("CHECKPOINT;")?;
        let PendingWorkspace { workspace, staged } = self;
        let Workspace { conn, database, .. } = workspace;
        conn.close().map_err(|(_, e)| Error::from(e))?;
        drop(database);
        staged.commit()
    }
}

impl Workspace {
    /// Starts a workspace file that appears at `target` only on commit.
    pub fn create(target: &Path) -> Result<PendingWorkspace> {
        let staged = Staged::beside(target)?;
        let workspace = Workspace::fresh(Some(staged.path()), None)?;
        Ok(PendingWorkspace { workspace, staged })
    }

    /// A workspace that lives in memory only (small inputs, tests).
    pub fn in_memory() -> Result<Workspace> {
        Workspace::fresh(None, None)
    }

    /// A workspace in a temporary file, removed when dropped or when the run is interrupted: rows
    /// of a large export then live on disk, where DuckDB can leave them instead of holding them
    /// all in memory.
    pub fn scratch() -> Result<Workspace> {
        let dir = ScratchDir::new("ws").map_err(|e| Error::io(&std::env::temp_dir(), e))?;
        let file = dir.path().join("workspace.duckdb");
        let workspace = Workspace::fresh(Some(&file), Some(dir))?;
        // The file goes with the run, so a crash has nothing to keep: no syncing it to disk, and
        // no checkpoint when it closes (at 926 MB its close took 0.02-0.03 s instead of 0.03-0.06).
        workspace.conn.execute_batch("SET fsync_mode = 'none'; PRAGMA disable_checkpoint_on_shutdown;")?;
        Ok(workspace)
    }

    /// A new workspace in the file at `path`, or in memory.
    fn fresh(path: Option<&Path>, scratch: Option<ScratchDir>) -> Result<Workspace> {
        let database = RawDatabase::open(path)?;
        let conn = database.connection()?;
        conn.execute_batch(&format!("{SESSION}{META_DDL}"))?;
        Ok(Workspace {
            conn,
            database: Some(database),
            on_disk: path.is_some(),
            _scratch: scratch,
            fingerprinting: Mutex::new(None),
        })
    }

    /// Opens an existing workspace read-only.
    pub fn open(path: &Path) -> Result<Workspace> {
        let config = Config::default().access_mode(AccessMode::ReadOnly)?;
        let conn = Connection::open_with_flags(path, config)
            .map_err(|e| Error::NotAWorkspace { path: path.to_path_buf(), reason: e.to_string() })?;
        let has_meta: i64 = conn.query_row(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = '_rehearse' AND table_name = 'provenance'",
            [],
            |r| r.get(0),
        )?;
        if has_meta == 0 {
            return Err(Error::NotAWorkspace { path: path.to_path_buf(), reason: "no _rehearse metadata".into() });
        }
        Ok(Workspace { conn, database: None, on_disk: true, _scratch: None, fingerprinting: Mutex::new(None) })
    }

    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    /// A connection of DuckDB's C API, for the loader (a fresh workspace only).
    pub fn raw_connection(&self) -> Result<RawConnection<'_>> {
        let database =
            self.database.as_ref().ok_or_else(|| Error::Internal("rows load into a fresh workspace only".into()))?;
        database.connect()
    }

    /// Whether the workspace is a file, which DuckDB can write rows out to rather than keep
    /// them in memory.
    pub fn on_disk(&self) -> bool {
        self.on_disk
    }

    /// Lets DuckDB drop the blocks of the loaded tables that it caches, before the rehearsal
    /// builds its largest lists in Rust: in a workspace file they lie on disk, so dropping them
    /// costs nothing and a later query reads back only the blocks it needs (in memory, they are
    /// the only copy: nothing to do). DuckDB drops blocks when its memory limit falls below what
    /// it holds, the file's blocks first; the limit then goes back to its default.
    pub fn release_table_cache(&self) -> Result<()> {
        // Not worth a statement below 32 MiB; 16 MiB left to what the next query reads.
        self.shrink_table_cache(32, 16)
    }

    /// Lets DuckDB drop every block of the loaded tables that it caches, for steps that read no
    /// table: on a large export, the rules and the lists made after the last table's read, the
    /// scripts and the reports then take their room (15 MiB at 5.4 GB).
    pub fn drop_table_cache(&self) -> Result<()> {
        self.shrink_table_cache(1, 1)
    }

    /// Runs `scan`, queries that read loaded tables once, with DuckDB's memory limited to what
    /// it holds besides cached table blocks and `SCAN_ROOM_MIB`: DuckDB then lets go of the
    /// blocks behind the scan instead of caching whole tables while Rust holds their rows (45
    /// MiB of the models table at 5.4 GB). A scan that needs more room than that, for texts of
    /// many MiB, runs out of memory there: it runs again without the limit. The limit is the
    /// database's: no query may run on another connection meanwhile.
    pub fn scan_uncached<T>(&self, mut scan: impl FnMut() -> Result<T>) -> Result<T> {
        const SCAN_ROOM_MIB: i64 = 16;
        if !self.on_disk {
            return scan();
        }
        let (held, cached) = self.memory()?;
        let limit = (held - cached) / MB + SCAN_ROOM_MIB;
        self.conn.execute_batch(&format!("SET memory_limit = '{limit}MiB';"))?;
        let limited = scan();
        self.conn.execute_batch("RESET memory_limit;")?;
        match limited {
            Err(error) if error.is_out_of_memory() => scan(),
            limited => limited,
        }
    }

    /// What DuckDB holds in all, and in cached blocks of the loaded tables, in bytes.
    fn memory(&self) -> Result<(i64, i64)> {
        Ok(self.conn.query_row(
            "SELECT sum(memory_usage_bytes), coalesce(sum(memory_usage_bytes) FILTER (WHERE tag = 'BASE_TABLE'), 0)
             FROM duckdb_memory()",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?)
    }

    /// Drops cached table blocks when they take `at_least` MiB, down to `left` MiB above what
    /// DuckDB holds besides.
    fn shrink_table_cache(&self, at_least: i64, left: i64) -> Result<()> {
        if !self.on_disk {
            return Ok(());
        }
        let (held, cached) = self.memory()?;
        if cached < at_least * MB {
            return Ok(());
        }
        let limit = (held - cached) / MB + left;
        self.conn.execute_batch(&format!("SET memory_limit = '{limit}MiB'; RESET memory_limit;"))?;
        release_freed_memory();
        Ok(())
    }

    /// Creates the DuckDB tables for `tables`, with their mapped types, and for each of them
    /// that has inheritance children or partitions, the view `"schema"."name*"` (PostgreSQL's
    /// old spelling of "the table and its descendants"): the union of the rows of all the
    /// tables that hold its rows, in its columns, as `SELECT … FROM name` reads it in PostgreSQL.
    pub fn create_tables(&self, catalog: &Catalog, tables: &[TableName]) -> Result<()> {
        for name in tables {
            let Some(table) = catalog.table(name) else { continue };
            let columns: Vec<String> = table
                .columns
                .iter()
                .map(|c| format!("{} {}", quote_ident(&c.name), DuckType::of(&c.pg_type).sql()))
                .collect();
            self.conn.execute_batch(&format!(
                "CREATE SCHEMA IF NOT EXISTS {}; CREATE TABLE {} ({});",
                quote_ident(&name.schema),
                name.quoted(),
                columns.join(", ")
            ))?;
        }
        for name in tables {
            let holders = catalog.row_holders(name);
            let Some(table) = catalog.table(name).filter(|_| holders.len() > 1) else { continue };
            let columns: Vec<String> = table.columns.iter().map(|c| quote_ident(&c.name)).collect();
            let selects: Vec<String> = holders
                .iter()
                .map(|holder| format!("SELECT {} FROM {}", columns.join(", "), holder.quoted()))
                .collect();
            self.conn.execute_batch(&format!(
                "CREATE VIEW {} AS {};",
                family_view(name).quoted(),
                selects.join(" UNION ALL ")
            ))?;
        }
        Ok(())
    }

    /// Records provenance, the catalog and what was loaded.
    pub fn record(&self, input: &Path, scan: &Scan, stats: &[TableStat]) -> Result<()> {
        // One transaction: each insert on its own would commit, and sync DuckDB's log, per row.
        let transaction = self.conn.unchecked_transaction()?;
        let conn: &Connection = &transaction;
        let provenance = [
            ("input_path", input.display().to_string()),
            ("format", scan.format.name().to_string()),
            ("pg_dump_version", scan.pg_dump_version.clone().unwrap_or_default()),
            ("database", scan.database.clone().unwrap_or_default()),
            ("server_version", scan.server_version.clone().unwrap_or_default()),
            ("database_collation", scan.catalog.database_collation.clone().unwrap_or_default()),
            ("rehearse_version", env!("CARGO_PKG_VERSION").to_string()),
        ];
        let mut stmt = conn.prepare("INSERT INTO _rehearse.provenance VALUES (?, ?)")?;
        for (key, value) in provenance {
            stmt.execute(params![key, value])?;
        }
        let mut stmt = conn.prepare("INSERT INTO _rehearse.tables VALUES (?, ?, ?, ?)")?;
        for stat in stats {
            stmt.execute(params![stat.table.schema, stat.table.name, stat.loaded, stat.rows.map(|r| r as i64)])?;
        }
        let mut stmt = conn.prepare("INSERT INTO _rehearse.columns VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")?;
        for table in &scan.catalog.tables {
            for (position, c) in table.columns.iter().enumerate() {
                stmt.execute(params![
                    table.name.schema,
                    table.name.name,
                    position as i64,
                    c.name,
                    c.pg_type,
                    DuckType::of(&c.pg_type).sql(),
                    c.not_null,
                    c.default,
                    c.generated,
                    c.collation
                ])?;
            }
        }
        let mut stmt =
            conn.prepare("INSERT INTO _rehearse.constraints VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")?;
        for (position, c) in scan.catalog.constraints.iter().enumerate() {
            let fk = match &c.kind {
                ConstraintKind::ForeignKey(fk) => Some(fk),
                _ => None,
            };
            stmt.execute(params![
                c.table.schema,
                c.table.name,
                position as i64,
                c.name,
                c.kind.label(),
                json(&c.columns),
                fk.map(|fk| fk.ref_table.schema.clone()),
                fk.map(|fk| fk.ref_table.name.clone()),
                fk.map(|fk| json(&fk.ref_columns)),
                fk.map(|fk| fk.on_delete.sql()),
                fk.map(|fk| fk.on_update.sql()),
                fk.map(|fk| json(&fk.set_columns)),
                fk.map(|fk| fk.deferred),
            ])?;
        }
        let mut stmt = conn.prepare("INSERT INTO _rehearse.indexes VALUES (?, ?, ?, ?, ?, ?)")?;
        for (position, i) in scan.catalog.indexes.iter().enumerate() {
            stmt.execute(params![i.table.schema, i.table.name, position as i64, i.name, i.unique, json(&i.columns)])?;
        }
        let mut stmt = conn.prepare("INSERT INTO _rehearse.lineage VALUES (?, ?, ?, ?, ?, ?)")?;
        for table in &scan.catalog.tables {
            let bound = table.partition_of.as_ref().map(|p| p.bound.as_str());
            for (position, parent) in table.parents().enumerate() {
                stmt.execute(params![
                    table.name.schema,
                    table.name.name,
                    position as i64,
                    parent.schema,
                    parent.name,
                    bound
                ])?;
            }
        }
        let mut stmt = conn.prepare("INSERT INTO _rehearse.partitioned VALUES (?, ?, ?)")?;
        for table in &scan.catalog.tables {
            if let Some(key) = &table.partitioned_by {
                stmt.execute(params![table.name.schema, table.name.name, key])?;
            }
        }
        let objects = serde_json::to_string(&scan.catalog.objects).map_err(|e| Error::Tool(e.to_string()))?;
        conn.execute("INSERT INTO _rehearse.schema_objects VALUES (?)", [objects])?;
        let mut stmt = conn.prepare("INSERT INTO _rehearse.notes VALUES (?, ?)")?;
        for (position, note) in scan.notes.iter().enumerate() {
            stmt.execute(params![position as i64, note])?;
        }
        Ok(transaction.commit()?)
    }

    /// Reads back the catalog recorded at import.
    pub fn catalog(&self) -> Result<Catalog> {
        let conn = &self.conn;
        let mut catalog = Catalog::default();
        let generated = if self.has_metadata("columns", "generated_expr")? { "generated_expr" } else { "NULL" };
        let collation = if self.has_metadata("columns", "collation_name")? { "collation_name" } else { "NULL" };
        let mut stmt = conn.prepare(&format!(
            "SELECT schema_name, table_name, column_name, pg_type, not_null, default_expr, {generated}, {collation}
             FROM _rehearse.columns ORDER BY schema_name, table_name, position"
        ))?;
        let rows = stmt.query_map([], |r| {
            Ok((
                TableName::new(&r.get::<_, String>(0)?, &r.get::<_, String>(1)?),
                Column {
                    name: r.get(2)?,
                    pg_type: r.get(3)?,
                    not_null: r.get(4)?,
                    default: r.get(5)?,
                    generated: r.get(6)?,
                    collation: r.get(7)?,
                },
            ))
        })?;
        for row in rows {
            let (name, column) = row?;
            match catalog.table_mut(&name) {
                Some(table) => table.columns.push(column),
                None => catalog.tables.push(Table::new(name, vec![column])),
            }
        }
        self.read_lineage(&mut catalog)?;
        let (set_columns, deferred) = match self.has_metadata("constraints", "deferred")? {
            true => ("coalesce(set_columns, '[]')", "coalesce(deferred, false)"),
            false => ("'[]'", "false"),
        };
        let mut stmt = conn.prepare(&format!(
            "SELECT schema_name, table_name, constraint_name, kind, columns, ref_schema, ref_table,
                    ref_columns, on_delete, on_update, {set_columns}, {deferred}
             FROM _rehearse.constraints ORDER BY position"
        ))?;
        let rows = stmt.query_map([], |r| {
            let kind: String = r.get(3)?;
            let kind = match kind.as_str() {
                "PRIMARY KEY" => ConstraintKind::PrimaryKey,
                "UNIQUE" => ConstraintKind::Unique,
                "FOREIGN KEY" => ConstraintKind::ForeignKey(ForeignKey {
                    ref_table: TableName::new(&r.get::<_, String>(5)?, &r.get::<_, String>(6)?),
                    ref_columns: unjson(&r.get::<_, String>(7)?),
                    on_delete: FkAction::from_sql(&r.get::<_, String>(8)?).unwrap_or(FkAction::NoAction),
                    on_update: FkAction::from_sql(&r.get::<_, String>(9)?).unwrap_or(FkAction::NoAction),
                    set_columns: unjson(&r.get::<_, String>(10)?),
                    deferred: r.get(11)?,
                }),
                _ => ConstraintKind::Check,
            };
            Ok(Constraint {
                table: TableName::new(&r.get::<_, String>(0)?, &r.get::<_, String>(1)?),
                name: r.get(2)?,
                kind,
                columns: unjson(&r.get::<_, String>(4)?),
            })
        })?;
        for row in rows {
            catalog.constraints.push(row?);
        }
        let mut stmt = conn.prepare(
            "SELECT schema_name, table_name, index_name, is_unique, columns FROM _rehearse.indexes ORDER BY position",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(Index {
                table: TableName::new(&r.get::<_, String>(0)?, &r.get::<_, String>(1)?),
                name: r.get(2)?,
                unique: r.get(3)?,
                columns: unjson(&r.get::<_, String>(4)?),
            })
        })?;
        for row in rows {
            catalog.indexes.push(row?);
        }
        catalog.objects = self.schema_objects()?;
        catalog.database_collation = self.recorded("database_collation")?.filter(|c| !c.is_empty());
        Ok(catalog)
    }

    /// Whether the metadata has `column` of table `_rehearse.table`: workspaces written by
    /// earlier versions of rehearse lack what was added since.
    fn has_metadata(&self, table: &str, column: &str) -> Result<bool> {
        let found: i64 = self.conn.query_row(
            "SELECT count(*) FROM information_schema.columns
             WHERE table_schema = '_rehearse' AND table_name = ? AND column_name = ?",
            params![table, column],
            |r| r.get(0),
        )?;
        Ok(found > 0)
    }

    /// Adds the inheritance and partition trees recorded at import to `catalog`.
    fn read_lineage(&self, catalog: &mut Catalog) -> Result<()> {
        if !self.has_metadata("lineage", "parent_table")? {
            return Ok(());
        }
        let mut stmt = self.conn.prepare(
            "SELECT schema_name, table_name, parent_schema, parent_table, partition_bound
             FROM _rehearse.lineage ORDER BY schema_name, table_name, position",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                TableName::new(&r.get::<_, String>(0)?, &r.get::<_, String>(1)?),
                TableName::new(&r.get::<_, String>(2)?, &r.get::<_, String>(3)?),
                r.get::<_, Option<String>>(4)?,
            ))
        })?;
        for row in rows {
            let (name, parent, bound) = row?;
            let Some(table) = catalog.table_mut(&name) else { continue };
            match bound {
                Some(bound) => table.partition_of = Some(Partition { parent, bound }),
                None => table.inherits.push(parent),
            }
        }
        let mut stmt = self.conn.prepare("SELECT schema_name, table_name, partition_key FROM _rehearse.partitioned")?;
        let rows = stmt.query_map([], |r| {
            Ok((TableName::new(&r.get::<_, String>(0)?, &r.get::<_, String>(1)?), r.get::<_, String>(2)?))
        })?;
        for row in rows {
            let (name, key) = row?;
            if let Some(table) = catalog.table_mut(&name) {
                table.partitioned_by = Some(key);
            }
        }
        Ok(())
    }

    /// The views, triggers and other objects recorded at import. A workspace written before
    /// they were recorded is refused: the DDL replay would see none of them.
    fn schema_objects(&self) -> Result<SchemaObjects> {
        let recorded: i64 = self.conn.query_row(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = '_rehearse' AND table_name = 'schema_objects'",
            [],
            |r| r.get(0),
        )?;
        if recorded == 0 {
            return Err(Error::Usage(
                "this workspace was imported by an older rehearse that did not record views, triggers and other schema objects: import the export again".into(),
            ));
        }
        let body: Option<String> =
            self.conn.query_row("SELECT max(body) FROM _rehearse.schema_objects", [], |r| r.get(0))?;
        match body {
            Some(body) => {
                serde_json::from_str(&body).map_err(|e| Error::Tool(format!("workspace schema objects: {e}")))
            }
            None => Ok(SchemaObjects::default()),
        }
    }

    /// Records the input's size and SHA-256 once `fingerprinting` is done (`finish_fingerprint`).
    pub fn fingerprint_later(&self, fingerprinting: Fingerprinting) {
        *self.fingerprinting.lock().expect("fingerprint lock") = Some(fingerprinting);
    }

    /// Waits for the input's size and SHA-256, if still being computed, and records them.
    pub fn finish_fingerprint(&self) -> Result<()> {
        let Some(fingerprinting) = self.fingerprinting.lock().expect("fingerprint lock").take() else { return Ok(()) };
        let (size, sha256) = fingerprinting.finish()?;
        let mut stmt = self.conn.prepare("INSERT INTO _rehearse.provenance VALUES (?, ?)")?;
        for (key, value) in [("input_size", size.to_string()), ("input_sha256", sha256)] {
            stmt.execute(params![key, value])?;
        }
        Ok(())
    }

    /// One value of the provenance, which does not wait for the fingerprint.
    fn recorded(&self, key: &str) -> Result<Option<String>> {
        let value =
            self.conn.query_row("SELECT max(value) FROM _rehearse.provenance WHERE key = ?", [key], |r| r.get(0))?;
        Ok(value)
    }

    pub fn provenance(&self) -> Result<BTreeMap<String, String>> {
        self.finish_fingerprint()?;
        let mut stmt = self.conn.prepare("SELECT key, value FROM _rehearse.provenance")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn table_stats(&self) -> Result<Vec<TableStat>> {
        let mut stmt = self.conn.prepare(
            "SELECT schema_name, table_name, loaded, row_count FROM _rehearse.tables ORDER BY schema_name, table_name",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(TableStat {
                table: TableName::new(&r.get::<_, String>(0)?, &r.get::<_, String>(1)?),
                loaded: r.get(2)?,
                rows: r.get::<_, Option<i64>>(3)?.map(|n| n as u64),
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn notes(&self) -> Result<Vec<String>> {
        let mut stmt = self.conn.prepare("SELECT note FROM _rehearse.notes ORDER BY position")?;
        let rows = stmt.query_map([], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Every row of a loaded table, each value as PostgreSQL's `::text` prints it (NULL as
    /// `None`), sorted: what differential tests and `validate` compare with PostgreSQL.
    pub fn text_rows(&self, table: &Table) -> Result<Vec<Vec<Option<String>>>> {
        self.relation_text_rows(&table.name.quoted(), &table.columns)
    }

    /// Like `text_rows`, for `columns` of any relation (a table, or a rehearsal's post-state).
    pub fn relation_text_rows(&self, relation: &str, columns: &[Column]) -> Result<Vec<Vec<Option<String>>>> {
        let types: Vec<DuckType> = columns.iter().map(|c| DuckType::of(&c.pg_type)).collect();
        let texts: Vec<String> = types.iter().zip(columns).map(|(t, c)| t.pg_text(&quote_ident(&c.name))).collect();
        let sql = format!("SELECT {} FROM {relation}", texts.join(", "));
        let mut stmt = self.conn.prepare(&sql)?;
        let text = |r: &duckdb::Row, i: usize| Ok(r.get::<_, Option<String>>(i)?.map(|v| types[i].pg_text_of(v)));
        let mut rows: Vec<Vec<Option<String>>> =
            stmt.query_map([], |r| (0..types.len()).map(|i| text(r, i)).collect())?.collect::<Result<_, _>>()?;
        rows.sort();
        Ok(rows)
    }
}

/// Hands the memory freed by the last large step back to the system: jemalloc otherwise keeps
/// freed pages in its arenas for seconds (their decay), and DuckDB's threads and the loader's
/// are spread over several arenas.
pub fn release_freed_memory() {
    // MALLCTL_ARENAS_ALL (4096): every arena's unused pages, dirty and muzzy, go back.
    const PURGE_ALL_ARENAS: &std::ffi::CStr = c"arena.4096.purge";
    // SAFETY: the purge command reads and writes no value; it only releases unused pages.
    let status = unsafe {
        tikv_jemalloc_sys::mallctl(
            PURGE_ALL_ARENAS.as_ptr(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            0,
        )
    };
    debug_assert_eq!(status, 0, "jemalloc has no command {PURGE_ALL_ARENAS:?}");
}

/// The view that reads `table` with its descendants' rows (see `Workspace::create_tables`).
pub fn family_view(table: &TableName) -> TableName {
    TableName::new(&table.schema, &format!("{}*", table.name))
}

fn json(list: &[String]) -> String {
    serde_json::to_string(list).unwrap_or_default()
}

fn unjson(text: &str) -> Vec<String> {
    serde_json::from_str(text).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc::channel;

    #[test]
    fn a_scan_uncached_leaves_few_of_the_tables_blocks_cached() {
        let workspace = Workspace::scratch().unwrap();
        let conn = workspace.connection();
        conn.execute_batch(
            "CREATE TABLE t AS SELECT n, md5(CAST(n AS VARCHAR)) AS h FROM range(4000000) AS r(n); CHECKPOINT;",
        )
        .unwrap();
        let cached_after = |scan: &dyn Fn() -> Result<i64>| {
            workspace.drop_table_cache().unwrap();
            assert_eq!(scan().unwrap(), 128_000_000);
            workspace.memory().unwrap().1 >> 20
        };
        let sum = || Ok(conn.query_row("SELECT sum(length(h)) FROM t", [], |r| r.get::<_, i64>(0))?);
        let (cached, uncached) = (cached_after(&sum), cached_after(&|| workspace.scan_uncached(sum)));
        assert!(cached >= 60 && uncached <= 20, "cached {cached} MiB, uncached {uncached} MiB");
    }

    #[test]
    fn a_scan_uncached_reads_rows_larger_than_its_room_again_without_the_limit() {
        let workspace = Workspace::scratch().unwrap();
        let conn = workspace.connection();
        let limit = || conn.query_row("SELECT current_setting('memory_limit')", [], |r| r.get::<_, String>(0)).unwrap();
        let default = limit();
        // Four notes of 24 MiB each, past the room the scan is given.
        conn.execute_batch(
            "CREATE TABLE t AS SELECT n, repeat(chr(CAST(97 + n AS INTEGER)), 24 << 20) AS note FROM range(4) AS r(n);
             CHECKPOINT;",
        )
        .unwrap();
        workspace.drop_table_cache().unwrap();
        let mut scans = 0;
        let read = workspace
            .scan_uncached(|| {
                scans += 1;
                let mut stmt = conn.prepare("SELECT note FROM t")?;
                let mut notes = Vec::new();
                for batch in stmt.stream_arrow([])? {
                    let batch = batch?;
                    let texts = batch.column(0).as_any().downcast_ref::<duckdb::arrow::array::StringArray>().unwrap();
                    notes.extend(texts.iter().map(|note| (note.unwrap().len(), note.unwrap().as_bytes()[0])));
                }
                Ok(notes)
            })
            .unwrap();
        assert_eq!(read, (0..4).map(|n| (24 << 20, b'a' + n)).collect::<Vec<_>>());
        assert_eq!(scans, 2);
        assert_eq!(limit(), default);
        let mut scans = 0;
        let failed = workspace.scan_uncached(|| -> Result<()> {
            scans += 1;
            Err(Error::Spec("gone".into()))
        });
        assert!(matches!(failed, Err(Error::Spec(_))) && scans == 1);
        assert_eq!(limit(), default);
    }

    /// A workspace recorded from a scan whose fingerprint `hashing` computes.
    fn recorded_workspace(hashing: Fingerprinting) -> Workspace {
        let workspace = Workspace::in_memory().unwrap();
        let catalog = Catalog {
            database_collation: Some("C".into()),
            tables: vec![Table::new(TableName::new("public", "t"), Vec::new())],
            ..Catalog::default()
        };
        let scan = Scan {
            format: crate::input::Format::Plain,
            catalog,
            data: Vec::new(),
            pg_dump_version: None,
            server_version: None,
            database: None,
            extensions: Vec::new(),
            hashing,
            notes: Vec::new(),
        };
        workspace.record(Path::new("dump.sql"), &scan, &[]).unwrap();
        workspace.fingerprint_later(scan.hashing);
        workspace
    }

    #[test]
    fn a_fingerprint_still_computed_is_waited_for_by_the_provenance_only() {
        let (release, released) = channel::<()>();
        let workspace = recorded_workspace(Fingerprinting::spawn(move |_| {
            released.recv().unwrap();
            Ok((42, "ab".repeat(32)))
        }));
        // The catalog does not wait: the hash is still held up here.
        assert_eq!(workspace.catalog().unwrap().database_collation.as_deref(), Some("C"));
        release.send(()).unwrap();
        let provenance = workspace.provenance().unwrap();
        assert_eq!((provenance["input_size"].as_str(), provenance["input_sha256"].len()), ("42", 64));
        assert_eq!(provenance["input_sha256"], "ab".repeat(32));
    }

    #[test]
    fn a_fingerprint_that_failed_fails_the_provenance() {
        let workspace = recorded_workspace(Fingerprinting::spawn(|_| {
            Err(Error::bad_input(crate::error::Location::file(Path::new("dump.sql")), "read failed: gone"))
        }));
        let error = workspace.provenance().err().unwrap().to_string();
        assert!(error.contains("dump.sql") && error.contains("read failed: gone"), "{error}");
    }
}
