//! Schemas beyond the model-management one, built in a throw-away PostgreSQL, dumped by the real
//! pg_dump and pg_dumpall, imported and compared with PostgreSQL row by row: inheritance and
//! partition trees, dumps without the spec's tables, pg_dumpall files, extension-owned tables
//! and dumps in other client encodings.

use crate::support::{cluster, pg_dump, pg_dump_binary, pg_dump_of, pg_dump_with, rehearse, stderr, DB};
use rehearse::catalog::{quote_ident, Column, TableName};
use rehearse::import::{import, ImportOptions};
use rehearse::pg::{run_checked, Cluster};
use rehearse::spec::Spec;
use rehearse::workspace::{family_view, Workspace};
use std::ffi::OsStr;
use std::path::Path;

/// Inheritance (several parents, merged columns, a child without columns of its own, a column
/// added to the root afterwards, a child in another schema, a generated column) and partitions
/// (range, list under range, default, hash; a foreign key declared on a partitioned table and
/// one into it); a typed table, and a table without columns.
const TREES: &str = r#"
CREATE TABLE vehicles (id serial PRIMARY KEY, name text NOT NULL DEFAULT 'unnamed', wheels int DEFAULT 4);
CREATE TABLE cars (doors int NOT NULL DEFAULT 4, seats int GENERATED ALWAYS AS (doors + 1) STORED) INHERITS (vehicles);
CREATE TABLE tagged (tag text, wheels int NOT NULL);
CREATE TABLE trucks (payload numeric(10,2), name text NOT NULL DEFAULT 'truck') INHERITS (vehicles, tagged);
CREATE TABLE kit_cars () INHERITS (cars);
CREATE SCHEMA archive;
CREATE TABLE archive.old_cars (scrapped date) INHERITS (cars);
ALTER TABLE vehicles ADD COLUMN color text DEFAULT 'white';
INSERT INTO vehicles (name) VALUES ('bike'), ('scooter');
INSERT INTO cars (name, doors) VALUES ('mini', 3), ('van', 5);
INSERT INTO trucks (name, tag, wheels, payload) VALUES ('tipper', 'red', 6, 12.5);
INSERT INTO trucks (tag, wheels, payload, color) VALUES (NULL, 18, 40, NULL);
INSERT INTO kit_cars (name, doors, color) VALUES ('kit', 2, 'green');
INSERT INTO archive.old_cars (name, scrapped) VALUES ('beetle', '1990-01-01');
INSERT INTO tagged VALUES ('loose', 3);
UPDATE vehicles SET color = 'blue' WHERE name = 'van';

CREATE TABLE models (id int PRIMARY KEY, model_id text);
CREATE TABLE services (id int PRIMARY KEY, model int REFERENCES models (id));
CREATE TABLE model_events (id bigint NOT NULL, model int NOT NULL REFERENCES models (id) ON DELETE CASCADE,
    at date NOT NULL, kind text NOT NULL DEFAULT 'info', PRIMARY KEY (id, at, kind)) PARTITION BY RANGE (at);
CREATE TABLE events_2023 PARTITION OF model_events FOR VALUES FROM ('2023-01-01') TO ('2024-01-01');
CREATE TABLE events_2024 PARTITION OF model_events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01')
    PARTITION BY LIST (kind);
CREATE TABLE events_2024_alerts PARTITION OF events_2024 FOR VALUES IN ('alert', 'page');
CREATE TABLE events_2024_rest PARTITION OF events_2024 DEFAULT;
CREATE TABLE events_other PARTITION OF model_events DEFAULT;
CREATE TABLE event_notes (event bigint NOT NULL, event_at date NOT NULL, event_kind text NOT NULL, note text,
    FOREIGN KEY (event, event_at, event_kind) REFERENCES model_events (id, at, kind) ON DELETE CASCADE);
CREATE TABLE readings (id int NOT NULL, value numeric(8,1)) PARTITION BY HASH (id);
CREATE TABLE readings_0 PARTITION OF readings FOR VALUES WITH (MODULUS 2, REMAINDER 0);
CREATE TABLE readings_1 PARTITION OF readings FOR VALUES WITH (MODULUS 2, REMAINDER 1);
CREATE TABLE nothing ();
INSERT INTO nothing DEFAULT VALUES;
INSERT INTO nothing DEFAULT VALUES;
CREATE TYPE person AS (name text, age int);
CREATE TABLE people OF person (age WITH OPTIONS NOT NULL DEFAULT 0);
INSERT INTO people VALUES ('Ada', 36), ('Alan', 41);
CREATE TABLE audit_log (id int, entry text, size int GENERATED ALWAYS AS (length(entry)) STORED);
INSERT INTO models SELECT g, 'm' || g FROM generate_series(1, 5) g;
INSERT INTO services SELECT g, g FROM generate_series(1, 3) g;
INSERT INTO model_events SELECT g, 1 + g % 5, date '2022-06-01' + g * 7, (ARRAY['info', 'alert', 'page', 'debug'])[1 + g % 4]
    FROM generate_series(1, 200) g;
INSERT INTO event_notes SELECT id, at, kind, 'note ' || id FROM model_events WHERE id % 3 = 0;
INSERT INTO readings SELECT g, g * 0.5 FROM generate_series(1, 50) g;
INSERT INTO audit_log VALUES (1, 'x'), (2, 'yy');
"#;

/// The tables with descendants in `TREES`: each has a view of its whole family.
const FAMILIES: [&str; 6] = ["vehicles", "cars", "tagged", "model_events", "events_2024", "readings"];

/// A cluster with `sql` loaded into a new database named `database`.
fn database_with(database: &str, sql: &str) -> Cluster {
    let pg = cluster();
    pg.create_database(database).unwrap();
    pg.psql(database, sql).unwrap();
    pg
}

fn text_columns(columns: &[Column]) -> String {
    columns.iter().map(|c| format!("{}::text", quote_ident(&c.name))).collect::<Vec<_>>().join(", ")
}

fn sorted(mut rows: Vec<Vec<Option<String>>>) -> Vec<Vec<Option<String>>> {
    rows.sort();
    rows
}

/// Imports `input` and compares it with `database`: every loaded table's own rows with
/// PostgreSQL's `FROM ONLY`, and the view of every loaded family with PostgreSQL's
/// `SELECT … FROM parent`, descendants included. Generated columns, whose values pg_dump does
/// not write, must be NULL. Returns the workspace and how many families were compared.
fn assert_same_as_postgres(pg: &Cluster, database: &str, input: &Path, options: ImportOptions) -> (Workspace, usize) {
    let workspace = Workspace::in_memory().unwrap();
    import(input, &workspace, &Spec::guide(), options).unwrap_or_else(|e| panic!("{}: {e}", input.display()));
    let catalog = workspace.catalog().unwrap();
    let mut families = 0;
    for stat in workspace.table_stats().unwrap().iter().filter(|s| s.loaded) {
        let table = catalog.table(&stat.table).unwrap();
        let (generated, stored): (Vec<Column>, Vec<Column>) =
            table.columns.iter().cloned().partition(|c| c.generated.is_some());
        let columns = text_columns(&stored);
        let expected = pg.query(database, &format!("SELECT {columns} FROM ONLY {}", table.name.quoted())).unwrap();
        let actual = workspace.relation_text_rows(&table.name.quoted(), &stored).unwrap();
        assert_eq!(actual, sorted(expected), "{}: rows of {}", input.display(), table.name);
        if !generated.is_empty() {
            let values = workspace.relation_text_rows(&table.name.quoted(), &generated).unwrap();
            assert!(
                values.iter().flatten().all(Option::is_none),
                "{}: generated columns of {}",
                input.display(),
                table.name
            );
        }
        if catalog.row_holders(&table.name).len() > 1 {
            let expected = pg.query(database, &format!("SELECT {columns} FROM {}", table.name.quoted())).unwrap();
            assert!(
                !expected.is_empty(),
                "{}: {} is empty, the comparison proves nothing",
                input.display(),
                table.name
            );
            let view = workspace.relation_text_rows(&family_view(&table.name).quoted(), &stored).unwrap();
            assert_eq!(view, sorted(expected), "{}: rows of {} with its descendants", input.display(), table.name);
            families += 1;
        }
    }
    (workspace, families)
}

fn all_tables() -> ImportOptions {
    ImportOptions { all_tables: true, ..Default::default() }
}

fn name(qualified: &str) -> TableName {
    match qualified.split_once('.') {
        Some((schema, table)) => TableName::new(schema, table),
        None => TableName::new("public", qualified),
    }
}

#[test]
fn inheritance_and_partition_trees_import_as_postgresql_holds_them() {
    let dir = tempfile::tempdir().unwrap();
    let pg = database_with(DB, TREES);
    let forms: [(&str, &[&str]); 6] = [
        ("plain.sql", &["--no-owner"]),
        ("plain.sql.gz", &["-Z", "6"]),
        ("inserts.sql", &["--column-inserts"]),
        ("custom.dump", &["-Fc"]),
        ("directory", &["-Fd"]),
        ("archive.tar", &["-Ft"]),
    ];
    let mut inputs = Vec::new();
    for (file, args) in forms {
        pg_dump(&pg, args, &dir.path().join(file));
        inputs.push(dir.path().join(file));
    }
    for major in [16, 17, 18] {
        let binary = pg_dump_binary(&pg, major);
        for (file, args) in [(format!("plain{major}.sql"), ["--no-owner"]), (format!("custom{major}.dump"), ["-Fc"])] {
            pg_dump_with(&pg, &binary, &args, &dir.path().join(&file), false);
            inputs.push(dir.path().join(file));
        }
    }
    for input in &inputs {
        let (workspace, families) = assert_same_as_postgres(&pg, DB, input, all_tables());
        assert_eq!(families, FAMILIES.len(), "{}", input.display());
        let catalog = workspace.catalog().unwrap();
        for family in FAMILIES {
            assert!(catalog.row_holders(&name(family)).len() > 1, "{family}");
        }
        let table = |qualified: &str| catalog.table(&name(qualified)).unwrap().clone();
        assert_eq!(table("trucks").inherits, [name("vehicles"), name("tagged")]);
        assert_eq!(table("archive.old_cars").inherits, [name("cars")]);
        let alerts = table("events_2024_alerts").partition_of.unwrap();
        assert_eq!((alerts.parent, alerts.bound.as_str()), (name("events_2024"), "FOR VALUES IN ('alert', 'page')"));
        assert_eq!(table("readings_1").partition_of.unwrap().bound, "FOR VALUES WITH (MODULUS 2, REMAINDER 1)");
        assert_eq!(table("events_other").partition_of.unwrap().bound, "DEFAULT");
        assert_eq!(table("model_events").partitioned_by.as_deref(), Some("RANGE (at)"));
        assert_eq!(table("events_2024").partitioned_by.as_deref(), Some("LIST (kind)"));
        let notes = workspace.notes().unwrap();
        // COPY blocks of plain dumps are counted without decoding; archives are not read there.
        let plain = input.file_name().unwrap().to_str().unwrap().starts_with("plain");
        let rows = if plain { "2 rows" } else { "rows" };
        let note = format!("public.nothing has no columns: not loaded ({rows} without values)");
        assert!(notes.contains(&note), "{}: {notes:?}", input.display());
        for child in ["cars", "kit_cars", "archive.old_cars"] {
            let seats = table(child).column("seats").unwrap().generated.clone();
            assert_eq!(seats.as_deref(), Some("doors + 1"), "{child}");
            let note = format!("column \"seats\" of {} is generated (GENERATED ALWAYS AS (doors + 1))", name(child));
            assert!(workspace.notes().unwrap().iter().any(|n| n.starts_with(&note)), "{}: {note}", input.display());
        }
    }

    // Positional INSERTs cannot be placed in a child whose columns were added to in its parent
    // later (archive.old_cars has them in another order than its restored self): refused.
    let positional = dir.path().join("positional.sql");
    pg_dump(&pg, &["--inserts"], &positional);
    let workspace = Workspace::in_memory().unwrap();
    let error = import(&positional, &workspace, &Spec::guide(), all_tables()).unwrap_err().to_string();
    assert!(error.contains("without column names, and archive.old_cars inherits from public.cars"), "{error}");
    // Elsewhere they are placed by the table's columns; pg_dump writes DEFAULT for generated ones.
    let audit = dir.path().join("audit.sql");
    pg_dump(&pg, &["--inserts", "-t", "audit_log"], &audit);
    assert!(std::fs::read_to_string(&audit).unwrap().contains("VALUES (1, 'x', DEFAULT);"));
    let (workspace, _) = assert_same_as_postgres(&pg, DB, &audit, all_tables());
    assert_eq!(workspace.table_stats().unwrap()[0].rows, Some(2));

    // Columns, NOT NULL, defaults and generated columns as PostgreSQL builds them from the dump: restored, a child's
    // columns are its parents' first, then its own (the column added to the root later follows
    // the root's columns here, where the original database has it last).
    pg.create_database("restored").unwrap();
    let out = pg.psql_file("restored", &dir.path().join("plain.sql")).unwrap();
    assert!(out.status.success(), "restore: {}", String::from_utf8_lossy(&out.stderr));
    let workspace = Workspace::in_memory().unwrap();
    import(&dir.path().join("custom.dump"), &workspace, &Spec::guide(), all_tables()).unwrap();
    for table in &workspace.catalog().unwrap().tables {
        let expected = pg
            .query(
                "restored",
                &format!(
                    "SELECT attname, attnotnull, atthasdef AND attgenerated = '', attgenerated <> ''
                     FROM pg_attribute WHERE attrelid = {}::regclass
                     AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
                    rehearse::sql::literal(&table.name.quoted())
                ),
            )
            .unwrap();
        let flag = |b: bool| Some(if b { "t" } else { "f" }.to_string());
        let actual: Vec<Vec<Option<String>>> = table
            .columns
            .iter()
            .map(|c| {
                vec![Some(c.name.clone()), flag(c.not_null), flag(c.default.is_some()), flag(c.generated.is_some())]
            })
            .collect();
        assert_eq!(actual, expected, "columns of {}", table.name);
    }
}

#[test]
fn a_reached_partitioned_table_brings_all_its_partitions() {
    let dir = tempfile::tempdir().unwrap();
    let pg = database_with(DB, TREES);
    let plain = dir.path().join("plain.sql");
    pg_dump(&pg, &[], &plain);
    let (workspace, families) = assert_same_as_postgres(&pg, DB, &plain, ImportOptions::default());
    let mut loaded: Vec<String> =
        workspace.table_stats().unwrap().into_iter().filter(|s| s.loaded).map(|s| s.table.name).collect();
    loaded.sort();
    let expected = [
        "event_notes",
        "events_2023",
        "events_2024",
        "events_2024_alerts",
        "events_2024_rest",
        "events_other",
        "model_events",
        "models",
        "services",
    ];
    assert_eq!(loaded, expected, "models, what references it, and every partition of what does");
    assert_eq!(families, 2, "model_events and events_2024");
    let out = run_rehearse(&["inspect", plain.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&out.stdout);
    for line in [
        "  partitioned by RANGE (at)\n  with its descendants' rows: view \"public\".\"model_events*\"",
        "  partition of public.events_2024 FOR VALUES IN ('alert', 'page')",
        "  inherits public.vehicles, public.tagged",
    ] {
        assert!(text.contains(line), "{line}\n{text}");
    }
    let out = run_rehearse(&["inspect", plain.to_str().unwrap(), "--json"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let tables = json["tables"].as_array().unwrap();
    let other = tables.iter().find(|t| t["table"] == "public.events_other").unwrap();
    assert_eq!(other["partition_of"], serde_json::json!({"parent": "public.model_events", "bound": "DEFAULT"}));

    // pg_dump --load-via-partition-root writes every partition's rows into the root: they are
    // loaded where the dump puts them, the root's family holds them all, and a note says so.
    for (file, format) in [("via_root.dump", "-Fc"), ("via_root.sql", "-Fp")] {
        let via_root = dir.path().join(file);
        pg_dump(&pg, &[format, "--load-via-partition-root"], &via_root);
        let workspace = Workspace::in_memory().unwrap();
        let imported = import(&via_root, &workspace, &Spec::guide(), all_tables()).unwrap();
        let catalog = workspace.catalog().unwrap();
        for root in ["model_events", "readings"] {
            let table = catalog.table(&name(root)).unwrap();
            let columns = text_columns(&table.columns);
            let expected = pg.query(DB, &format!("SELECT {columns} FROM {}", table.name.quoted())).unwrap();
            let view = workspace.relation_text_rows(&family_view(&table.name).quoted(), &table.columns).unwrap();
            assert_eq!(view, sorted(expected), "{file}: {root} with its partitions");
            let own = workspace.text_rows(table).unwrap();
            assert_eq!(own.len(), view.len(), "{file}: {root} holds the rows, as the dump writes them");
            let note = imported.notes.iter().find(|n| n.contains(&format!("public.{root} ")));
            assert!(note.is_some_and(|n| n.contains("--load-via-partition-root")), "{file}: {:?}", imported.notes);
        }
    }
}

const LIBRARY: &str = r#"
CREATE TABLE authors (id int PRIMARY KEY, name text NOT NULL);
CREATE TABLE books (id int PRIMARY KEY, author int REFERENCES authors (id), title text);
INSERT INTO authors VALUES (1, 'Le Guin'), (2, 'Lem');
INSERT INTO books VALUES (1, 1, 'The Dispossessed'), (2, 2, 'Solaris'), (3, NULL, 'Anonymous');
"#;

fn os(args: &[&str]) -> Vec<std::ffi::OsString> {
    args.iter().map(|a| OsStr::new(a).to_os_string()).collect()
}

fn run_rehearse(args: &[&str]) -> std::process::Output {
    let args = os(args);
    let refs: Vec<&OsStr> = args.iter().map(|a| a.as_os_str()).collect();
    rehearse(&refs)
}

#[test]
fn import_and_inspect_take_any_dump_and_run_names_the_missing_spec_table() {
    let dir = tempfile::tempdir().unwrap();
    let pg = database_with("library", LIBRARY);
    let dump = dir.path().join("library.dump");
    pg_dump_of(&pg, "library", &["-Fc"], &dump);
    let (workspace, _) = assert_same_as_postgres(&pg, "library", &dump, ImportOptions::default());
    assert!(workspace.table_stats().unwrap().iter().all(|s| s.loaded), "every table is loaded");
    let notes = workspace.notes().unwrap();
    assert!(notes.iter().any(|n| n.contains("no `models` (models) or `services` (services) table")), "{notes:?}");

    let dump_path = dump.to_str().unwrap();
    let ws = dir.path().join("library.duckdb");
    let out = run_rehearse(&["import", dump_path, "-w", ws.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("2 tables loaded (5 rows)"), "{}", stderr(&out));
    for source in [dump_path, ws.to_str().unwrap()] {
        let out = run_rehearse(&["inspect", source]);
        assert!(out.status.success(), "{}", stderr(&out));
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("public.books") && text.contains("every table is loaded"), "{text}");
    }
    for command in ["run", "check"] {
        let out_dir = dir.path().join(format!("{command}-out"));
        let mut args = vec![command, dump_path];
        if command == "run" {
            args.extend(["--out", out_dir.to_str().unwrap()]);
        }
        let out = run_rehearse(&args);
        assert_eq!(out.status.code(), Some(1), "{command}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("the export has no `models` (models) or `services` (services) table, which the rollback spec starts from"),
            "{command}: {}",
            stderr(&out)
        );
        assert!(!out_dir.exists());
    }
    let out = run_rehearse(&["run", ws.to_str().unwrap(), "--out", dir.path().join("o").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("the workspace has no table `models`"), "{}", stderr(&out));
}

#[test]
fn a_pg_dumpall_file_names_its_databases_and_one_is_chosen() {
    let dir = tempfile::tempdir().unwrap();
    let pg = cluster();
    for (database, rows) in [("shop", 3), ("Shop Floor", 5)] {
        pg.create_database(database).unwrap();
        let sql = format!(
            "CREATE TABLE items (id int PRIMARY KEY, label text); INSERT INTO items SELECT g, '{database} ' || g FROM generate_series(1, {rows}) g;"
        );
        pg.psql(database, &sql).unwrap();
    }
    pg.create_database("empty").unwrap();
    let all = dir.path().join("all.sql");
    run_checked(pg.client("pg_dumpall").arg("-f").arg(&all), "pg_dumpall").unwrap();
    let import_error = |input: &Path, database: Option<&str>| {
        let options = ImportOptions { database: database.map(str::to_string), ..Default::default() };
        import(input, &Workspace::in_memory().unwrap(), &Spec::guide(), options).unwrap_err().to_string()
    };

    let error = import_error(&all, None);
    // pg_dumpall writes template1 first, then the others in name order.
    assert!(
        error.contains(
            r#"the file holds 2 databases with tables ("Shop Floor", "shop"): choose one with --database NAME"#
        ),
        "{error}"
    );
    let error = import_error(&all, Some("nope"));
    assert!(
        error.contains(
            r#"--database nope: the dump holds the databases "template1", "Shop Floor", "empty", "postgres", "shop""#
        ),
        "{error}"
    );
    let error = import_error(&all, Some("empty"));
    assert!(error.contains(r#"database "empty" of the dump creates no table"#), "{error}");
    for database in ["shop", "Shop Floor"] {
        let options = ImportOptions { database: Some(database.into()), ..Default::default() };
        let (workspace, _) = assert_same_as_postgres(&pg, database, &all, options);
        let notes = workspace.notes().unwrap();
        assert!(notes.iter().any(|n| n.contains(&format!(r#"database "{database}" was read"#))), "{notes:?}");
        assert_eq!(workspace.provenance().unwrap()["database"], database);
    }

    // A single-database dump names its database only when written with --create.
    let shop = dir.path().join("shop.sql");
    pg_dump_of(&pg, "shop", &[], &shop);
    assert!(import_error(&shop, Some("shop")).contains("--database shop: the dump names no database"));
    let created = dir.path().join("shop_create.sql");
    pg_dump_of(&pg, "shop", &["--create"], &created);
    assert_same_as_postgres(
        &pg,
        "shop",
        &created,
        ImportOptions { database: Some("shop".into()), ..Default::default() },
    );
    let archive = dir.path().join("shop.dump");
    pg_dump_of(&pg, "shop", &["-Fc"], &archive);
    assert!(import_error(&archive, Some("Shop Floor"))
        .contains(r#"--database Shop Floor: the export is of database "shop""#));

    let ws = dir.path().join("floor.duckdb");
    let all_path = all.to_str().unwrap();
    let out = run_rehearse(&["import", all_path, "--database", "Shop Floor", "-w", ws.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("1 tables loaded (5 rows)"), "{}", stderr(&out));
    let out = run_rehearse(&["inspect", all_path, "--database", "shop"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("public.items"), "{}", stderr(&out));
    let out = run_rehearse(&["inspect", all_path]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("choose one with --database NAME"), "{}", stderr(&out));
}

/// PostgreSQL 15's server with one more extension, `rehearse_cfg`, whose table `settings` is
/// registered with `pg_extension_config_dump` (as PostGIS registers `spatial_ref_sys`): a copy
/// of the server programs in `dir`, which finds its share directory beside itself (PostgreSQL
/// installations are relocatable), holding links to the system's files and the extension's.
fn server_with_config_table_extension(dir: &Path) -> std::path::PathBuf {
    use std::os::unix::fs::{symlink, PermissionsExt};
    let system = Path::new("/usr/lib/postgresql/15");
    let bin = dir.join("usr/lib/postgresql/15/bin");
    let share = dir.join("usr/share/postgresql/15");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::create_dir_all(share.join("extension")).unwrap();
    for program in ["postgres", "initdb", "pg_ctl", "psql", "pg_dump", "pg_restore", "createdb"] {
        std::fs::copy(system.join("bin").join(program), bin.join(program)).unwrap();
    }
    symlink(system.join("lib"), dir.join("usr/lib/postgresql/15/lib")).unwrap();
    let system_share = Path::new("/usr/share/postgresql/15");
    for entry in std::fs::read_dir(system_share).unwrap().flatten().filter(|e| e.file_name() != "extension") {
        symlink(entry.path(), share.join(entry.file_name())).unwrap();
    }
    for entry in std::fs::read_dir(system_share.join("extension")).unwrap().flatten() {
        symlink(entry.path(), share.join("extension").join(entry.file_name())).unwrap();
    }
    std::fs::write(
        share.join("extension/rehearse_cfg.control"),
        "default_version = '1.0'\nrelocatable = false\nschema = public\n",
    )
    .unwrap();
    std::fs::write(
        share.join("extension/rehearse_cfg--1.0.sql"),
        "CREATE TABLE settings (key text PRIMARY KEY, value text);\n\
         SELECT pg_catalog.pg_extension_config_dump('settings', '');\n\
         INSERT INTO settings VALUES ('shipped', 'yes');\n",
    )
    .unwrap();
    // The server runs as `postgres` when the tests run as root.
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    bin
}

#[test]
fn rows_of_an_extensions_table_are_named_in_the_notes() {
    let dir = tempfile::tempdir().unwrap();
    let server = tempfile::tempdir().unwrap();
    let pg = Cluster::start(Some(&server_with_config_table_extension(server.path()))).unwrap();
    pg.create_database("geo").unwrap();
    pg.psql("geo", &format!("CREATE EXTENSION rehearse_cfg; INSERT INTO settings VALUES ('user', 'set'); {LIBRARY}"))
        .unwrap();
    for (file, args, rows) in [("geo.sql", &[][..], "2 rows"), ("geo.dump", &["-Fc"][..], "the rows")] {
        let input = dir.path().join(file);
        pg_dump_of(&pg, "geo", args, &input);
        let (workspace, _) = assert_same_as_postgres(&pg, "geo", &input, all_tables());
        let notes = workspace.notes().unwrap();
        let expected = format!(
            "{rows} of public.settings are not loaded: the export never creates the table, so it belongs to an extension it creates (rehearse_cfg)"
        );
        assert!(notes.iter().any(|n| n.contains(&expected)), "{file}: {notes:?}");
        assert!(workspace.catalog().unwrap().table(&name("settings")).is_none());
        let out = run_rehearse(&[
            "import",
            input.to_str().unwrap(),
            "-w",
            dir.path().join(format!("{file}.duckdb")).to_str().unwrap(),
        ]);
        assert!(out.status.success() && stderr(&out).contains(&format!("note: {expected}")), "{}", stderr(&out));
    }
}

/// A database in `encoding` (created from template0 with the C locale, which fits any).
fn create_encoded_database(pg: &Cluster, database: &str, encoding: &str) {
    run_checked(pg.client("createdb").args(["-E", encoding, "-T", "template0", "--locale=C", database]), "createdb")
        .unwrap();
}

/// A connection to `database` that reads and writes UTF-8, whatever the database's encoding.
fn utf8(database: &str) -> String {
    format!("dbname={database} client_encoding=UTF8")
}

#[test]
fn dumps_in_other_client_encodings_are_converted_to_utf8() {
    let dir = tempfile::tempdir().unwrap();
    let pg = cluster();
    // U+0085 is a C1 control in LATIN1, where windows-1252 (which the WHATWG standard reads
    // for "iso-8859-1") has "…": the dump must be read as PostgreSQL wrote it.
    let databases = [
        ("latin", "LATIN1", "CREATE TABLE dishes (id int PRIMARY KEY, name text, note text DEFAULT 'none');\n\
          INSERT INTO dishes VALUES (1, 'crème brûlée', E'\\u0085 after a C1 control'), (2, 'ÿ ß Æ', 'tab\\there'), (3, NULL, '');"),
        ("cp1252", "WIN1252", "CREATE TABLE \"café\" (id int PRIMARY KEY, \"naïve\" text DEFAULT 'déjà vu', price text);\n\
          INSERT INTO \"café\" (id, price) VALUES (1, '3 €'), (2, '„quoted“ ‰ œ');"),
        ("japan", "EUC_JP", "CREATE TABLE words (id int PRIMARY KEY, word text);\n\
          INSERT INTO words VALUES (1, '日本語'), (2, '表示'), (3, 'ソフト\\\\');"),
    ];
    for (database, encoding, sql) in databases {
        create_encoded_database(&pg, database, encoding);
        run_checked(
            pg.client("psql").args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", &utf8(database), "-c", sql]),
            "psql",
        )
        .unwrap();
    }
    // Each dump with the database's own encoding; the Japanese one also in Shift JIS, a client
    // encoding whose second bytes may be backslashes (表 is 0x95 0x5C).
    let dumps: [(&str, &str, &[&str]); 6] = [
        ("latin", "latin.sql", &[]),
        ("latin", "latin.dump", &["-Fc"]),
        ("cp1252", "cp1252.sql.gz", &["-Z", "5"]),
        ("japan", "japan.sql", &["--inserts"]),
        ("japan", "japan.dump", &["-Fc"]),
        ("japan", "sjis.sql", &["-E", "SJIS"]),
    ];
    for (database, file, args) in dumps {
        let input = dir.path().join(file);
        pg_dump_of(&pg, database, args, &input);
        let (workspace, _) = assert_same_as_postgres(&pg, &utf8(database), &input, all_tables());
        let rows: usize = workspace.table_stats().unwrap().iter().filter_map(|s| s.rows).sum::<u64>() as usize;
        assert!(rows >= 2, "{file}: {rows} rows");
    }
    let text = std::fs::read(dir.path().join("sjis.sql")).unwrap();
    assert!(text.windows(2).any(|w| w == [0x95, 0x5C]), "the Shift JIS dump holds a backslash second byte");
    let latin = std::fs::read(dir.path().join("latin.sql")).unwrap();
    assert!(latin.contains(&0x85), "the LATIN1 dump holds the raw byte");

    // An archive whose definitions are not UTF-8 is refused clearly.
    let archive = dir.path().join("cp1252.dump");
    pg_dump_of(&pg, "cp1252", &["-Fc"], &archive);
    let error =
        import(&archive, &Workspace::in_memory().unwrap(), &Spec::guide(), all_tables()).unwrap_err().to_string();
    assert!(error.contains("pg_dump -E UTF8"), "{error}");

    // An encoding rehearse cannot convert is refused by name, at its line.
    create_encoded_database(&pg, "taiwan", "EUC_TW");
    pg.psql("taiwan", "CREATE TABLE t (id int); INSERT INTO t VALUES (1);").unwrap();
    let input = dir.path().join("taiwan.sql");
    pg_dump_of(&pg, "taiwan", &[], &input);
    let error = import(&input, &Workspace::in_memory().unwrap(), &Spec::guide(), all_tables()).unwrap_err().to_string();
    assert!(error.starts_with(&format!("{}:", input.display())), "{error}");
    assert!(error.contains("the dump is encoded in EUC_TW, which rehearse cannot convert"), "{error}");

    // A pg_dumpall file holds each database in its own encoding; with --database, the others
    // are passed over unread, so one rehearse cannot convert stands in the way of none.
    let all = dir.path().join("all.sql");
    run_checked(pg.client("pg_dumpall").arg("-f").arg(&all), "pg_dumpall").unwrap();
    for database in ["latin", "cp1252", "japan"] {
        let options = ImportOptions { database: Some(database.into()), all_tables: true, ..Default::default() };
        assert_same_as_postgres(&pg, &utf8(database), &all, options);
    }
    let error = import(&all, &Workspace::in_memory().unwrap(), &Spec::guide(), all_tables()).unwrap_err().to_string();
    assert!(error.contains("the dump is encoded in EUC_TW"), "{error}");
}

#[test]
fn validate_refuses_a_dump_that_connects_to_a_database_of_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let pg = crate::support::generated_database(dir.path(), &["--models", "10", "--seed", "4"]);
    let created = dir.path().join("created.sql");
    pg_dump(&pg, &["--create"], &created);
    let out_dir = dir.path().join("out");
    let out = run_rehearse(&["validate", created.to_str().unwrap(), "--out", out_dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains(&format!("connects to database \"{DB}\"")), "{}", stderr(&out));
    assert!(!out_dir.exists());
}
