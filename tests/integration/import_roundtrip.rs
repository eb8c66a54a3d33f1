//! Differential import: a generated database full of ROLLBACK.md §4 traps and hostile text,
//! exported with the real pg_dump (plain, gzip, --inserts, --column-inserts, custom archives at
//! compression 0, default and 9, directory and tar archives) and psql `\copy`,
//! imported, and compared with PostgreSQL table by table, row by row (other pg_dump versions:
//! `pg_dump_versions`).

use crate::support::{
    assert_matches_postgres, csv_export, generated_database, pg_dump, pg_dump_binary, pg_dump_with, DB, REACHED,
};
use rehearse::catalog::TableName;
use rehearse::import::{import, ImportOptions};
use rehearse::spec::Spec;
use rehearse::workspace::Workspace;
use std::io::Seek;
use std::path::Path;

const TABLES: [&str; 9] = [
    "models",
    "services",
    "experiments",
    "experiment_variants",
    "variant_metrics",
    "model_artifacts",
    "model_feedback",
    "billing_contracts",
    "request_logs",
];

fn loaded_names(workspace: &Workspace) -> Vec<String> {
    let mut names: Vec<String> =
        workspace.table_stats().unwrap().into_iter().filter(|s| s.loaded).map(|s| s.table.name).collect();
    names.sort();
    names
}

#[test]
fn every_pg_dump_text_form_imports_exactly_what_postgresql_holds() {
    let dir = tempfile::tempdir().unwrap();
    let pg = generated_database(dir.path(), &["--models", "30", "--seed", "7", "--stale-backup"]);
    let forms: [(&str, &[&str]); 10] = [
        ("plain.sql", &["--no-owner"]),
        ("plain.sql.gz", &["--no-owner", "-Z", "6"]),
        ("inserts.sql", &["--inserts"]),
        ("column_inserts.sql", &["--column-inserts", "--rows-per-insert", "3"]),
        ("custom.dump", &["-Fc"]),
        ("custom_z0.dump", &["-Fc", "-Z", "0"]),
        ("custom_z9.dump", &["-Fc", "-Z", "9"]),
        ("directory_archive", &["-Fd"]),
        ("directory_z0_archive", &["-Fd", "-Z", "0"]),
        ("tar_archive.tar", &["-Ft"]),
    ];
    for (name, args) in forms {
        let file = dir.path().join(name);
        pg_dump(&pg, args, &file);
        let all = assert_matches_postgres(&pg, &file, ImportOptions { all_tables: true, ..Default::default() });
        assert!(loaded_names(&all).contains(&"request_logs".to_string()));
        let reached = assert_matches_postgres(&pg, &file, ImportOptions::default());
        // The reached tables, and the guide's backup tables (read for H14).
        let mut expected: Vec<String> = REACHED.iter().map(|s| s.to_string()).collect();
        expected.extend(["models_version_backup".to_string(), "services_version_backup".to_string()]);
        expected.sort();
        assert_eq!(loaded_names(&reached), expected, "{name}: only the reached tables load by default");
        let skipped =
            reached.table_stats().unwrap().into_iter().find(|s| s.table == TableName::new("public", "request_logs"));
        let logs: i64 =
            pg.query(DB, "SELECT count(*) FROM request_logs").unwrap()[0][0].as_ref().unwrap().parse().unwrap();
        // A COPY block's rows are counted without decoding; INSERT rows only a parse could count.
        // Archives are not read past their table of contents for skipped tables at all.
        let archive = name.contains("custom") || name.contains("archive");
        let expected_rows = if name.contains("inserts") || archive { None } else { Some(logs as u64) };
        assert_eq!(skipped.unwrap().rows, expected_rows, "{name}: rows of a skipped table");
    }
}

#[test]
fn csv_exports_import_exactly_what_postgresql_holds() {
    let dir = tempfile::tempdir().unwrap();
    let pg = generated_database(dir.path(), &["--models", "25", "--seed", "11"]);
    let with_schema = dir.path().join("csv");
    csv_export(&pg, &with_schema, &TABLES, true);
    let workspace = assert_matches_postgres(&pg, &with_schema, ImportOptions::default());
    let catalog = workspace.catalog().unwrap();
    assert!(catalog.foreign_keys().count() >= 5, "the schema dump's foreign keys are known");

    // Without a schema, types are inferred, and the user is told so.
    let bare = dir.path().join("bare");
    csv_export(&pg, &bare, &["models", "services"], false);
    let workspace = Workspace::in_memory().unwrap();
    let imported = import(&bare, &workspace, &Spec::guide(), ImportOptions::default()).unwrap();
    assert!(imported.notes.iter().any(|n| n.contains("inferred")), "{:?}", imported.notes);
    let models = workspace.catalog().unwrap().find_table("models").cloned().unwrap();
    assert_eq!(models.column("id").unwrap().pg_type, "uuid");
    assert_eq!(models.column("is_immutable").unwrap().pg_type, "boolean");
    let rows = workspace.text_rows(&models).unwrap();
    let expected: i64 = pg.query(DB, "SELECT count(*) FROM models").unwrap()[0][0].as_ref().unwrap().parse().unwrap();
    assert_eq!(rows.len() as i64, expected);
}

#[test]
fn the_guides_backup_csv_files_stand_in_for_models_and_services() {
    let dir = tempfile::tempdir().unwrap();
    let pg = generated_database(dir.path(), &["--models", "20", "--seed", "3", "--stale-backup"]);
    let exports = dir.path().join("backup");
    csv_export(&pg, &exports, &["models_version_backup", "services_version_backup"], true);
    let workspace = Workspace::in_memory().unwrap();
    let imported = import(&exports, &workspace, &Spec::guide(), ImportOptions::default()).unwrap();
    assert!(imported.notes.iter().any(|n| n.contains("stands in for the versioned `models`")), "{:?}", imported.notes);
    let catalog = workspace.catalog().unwrap();
    let models = catalog.find_table("models").unwrap();
    let loaded = workspace.text_rows(models).unwrap();
    let backup: i64 =
        pg.query(DB, "SELECT count(*) FROM models_version_backup").unwrap()[0][0].as_ref().unwrap().parse().unwrap();
    assert_eq!(loaded.len() as i64, backup);
    let version_column = models.columns.iter().position(|c| c.name == "version").unwrap();
    let mut expected: Vec<Option<String>> = pg
        .query(DB, "SELECT version FROM models_version_backup")
        .unwrap()
        .into_iter()
        .map(|mut r| r.remove(0))
        .collect();
    let mut actual: Vec<Option<String>> = loaded.iter().map(|r| r[version_column].clone()).collect();
    expected.sort();
    actual.sort();
    assert_eq!(actual, expected);
}

#[test]
fn damaged_archives_name_the_entry() {
    let dir = tempfile::tempdir().unwrap();
    let pg = generated_database(dir.path(), &["--models", "20", "--seed", "5"]);
    let import_error = |path: &Path| {
        let workspace = Workspace::in_memory().unwrap();
        import(path, &workspace, &Spec::guide(), ImportOptions::default()).unwrap_err().to_string()
    };

    // A directory archive that lost the data file of a reached table.
    let directory = dir.path().join("directory");
    pg_dump(&pg, &["-Fd"], &directory);
    let toc_entry = |table: &str| {
        let listing = pg.client("pg_restore").arg("-l").arg(&directory).output().unwrap();
        let listing = String::from_utf8(listing.stdout).unwrap();
        let line = listing.lines().find(|l| l.contains(&format!("TABLE DATA public {table} "))).unwrap().to_string();
        line.split(';').next().unwrap().trim().to_string()
    };
    let models_file = directory.join(format!("{}.dat.gz", toc_entry("models")));
    std::fs::remove_file(&models_file).unwrap();
    let error = import_error(&directory);
    assert!(error.contains("archive entry TABLE DATA public.models: its data file"), "{error}");
    assert!(error.contains("is missing"), "{error}");
    // Data files of skipped tables are never opened, so losing one does not matter.
    std::fs::remove_file(directory.join(format!("{}.dat.gz", toc_entry("request_logs")))).unwrap();
    assert!(import_error(&directory).contains("public.models"));

    // A custom archive written through a pipe (no data offsets) that lost its data blocks, or
    // half of them: an error naming a table, never an empty table.
    let piped = dir.path().join("piped.dump");
    pg_dump_with(&pg, &pg_dump_binary(&pg, 15), &["-Fc"], &piped, true);
    let mut reader = std::io::BufReader::new(std::fs::File::open(&piped).unwrap());
    libpgdump::format::custom::read_metadata(&mut reader).unwrap();
    let data_start = reader.stream_position().unwrap() as usize;
    let bytes = std::fs::read(&piped).unwrap();
    std::fs::write(&piped, &bytes[..data_start]).unwrap();
    let error = import_error(&piped);
    assert!(error.contains("archive entry TABLE DATA public.") && error.contains("no data block"), "{error}");
    std::fs::write(&piped, &bytes[..(data_start + bytes.len()) / 2]).unwrap();
    let error = import_error(&piped);
    assert!(error.contains("archive entry TABLE DATA public.") && error.contains("truncated"), "{error}");

    // A tar archive cut short.
    let tar = dir.path().join("archive.tar");
    pg_dump(&pg, &["-Ft"], &tar);
    let bytes = std::fs::read(&tar).unwrap();
    std::fs::write(&tar, &bytes[..bytes.len() * 2 / 3]).unwrap();
    let error = import_error(&tar);
    assert!(error.starts_with(&tar.display().to_string()), "{error}");
}
