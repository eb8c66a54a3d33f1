//! Every form that pg_dump 15, 16, 17 and 18 write, of a generated PostgreSQL 15 database (a
//! newer pg_dump dumps an older server): plain and gzip, custom archives at default, 0 and 9
//! compression, written to a file and through a pipe (then their table of contents has no data
//! offsets), directory and tar archives, archives of INSERT statements, and lz4 and zstd where
//! the build has them. Each is
//! imported and compared with PostgreSQL row by row, and rehearsed to the prediction of the
//! plain dump.

use crate::support::{assert_matches_postgres, generated_database, pg_dump_binary, pg_dump_with};
use libpgdump::{ObjectType, OffsetState};
use rehearse::import::{import, ImportOptions};
use rehearse::rehearsal::{rehearse, Options};
use rehearse::report::summary::Summary;
use rehearse::spec::Spec;
use rehearse::workspace::Workspace;
use std::path::Path;

struct Form {
    name: &'static str,
    args: &'static [&'static str],
    /// Written to pg_dump's standard output through a pipe, not with `-f`.
    piped: bool,
}

const fn to_file(name: &'static str, args: &'static [&'static str]) -> Form {
    Form { name, args, piped: false }
}

const fn piped(name: &'static str, args: &'static [&'static str]) -> Form {
    Form { name, args, piped: true }
}

/// What every pg_dump from 15 on writes. The plain dump comes first: the others must rehearse
/// like it.
const EVERY_VERSION: &[Form] = &[
    to_file("plain.sql", &["--no-owner"]),
    to_file("plain.sql.gz", &["--no-owner", "-Z", "6"]),
    to_file("custom.dump", &["-Fc"]),
    to_file("custom_z0.dump", &["-Fc", "-Z", "0"]),
    to_file("custom_z9.dump", &["-Fc", "-Z", "9"]),
    piped("custom_piped.dump", &["-Fc"]),
    piped("custom_z0_piped.dump", &["-Fc", "-Z", "0"]),
    to_file("directory", &["-Fd"]),
    to_file("directory_z0", &["-Fd", "-Z", "0"]),
    to_file("tar.tar", &["-Ft"]),
    piped("tar_piped.tar", &["-Ft"]),
    // Archives whose data is INSERT statements rather than COPY.
    to_file("custom_inserts.dump", &["-Fc", "--inserts"]),
    piped("custom_column_inserts_piped.dump", &["-Fc", "--column-inserts", "--rows-per-insert", "3"]),
    to_file("directory_inserts", &["-Fd", "--column-inserts"]),
];

/// lz4 and zstd (pg_dump 16+: plain dumps, custom and directory archives; tar archives are never
/// compressed), for builds configured with them:
/// of the pinned builds, only 17 is (Debian's 15 predates them in pg_dump, the 16 and 18 wheels
/// are built without).
const LZ4_ZSTD: &[Form] = &[
    to_file("plain_lz4.sql.lz4", &["--no-owner", "-Z", "lz4"]),
    piped("plain_zstd_piped.sql.zst", &["--no-owner", "-Z", "zstd"]),
    to_file("custom_lz4.dump", &["-Fc", "-Z", "lz4"]),
    to_file("custom_zstd.dump", &["-Fc", "-Z", "zstd"]),
    piped("custom_lz4_piped.dump", &["-Fc", "-Z", "lz4:9"]),
    piped("custom_zstd_piped.dump", &["-Fc", "-Z", "zstd:19"]),
    to_file("directory_lz4", &["-Fd", "-Z", "lz4"]),
    to_file("directory_zstd", &["-Fd", "-Z", "zstd"]),
];

/// The rehearsal's summary without the input's own description (path, format, hash).
/// The collation comes apart: archives name the database's (its DATABASE entry), a plain dump
/// without --create does not.
fn prediction(workspace: &Workspace) -> (Summary, String) {
    let plan = rehearse(workspace, &Spec::guide(), &Options::default()).unwrap();
    let prediction = Summary {
        input: Default::default(),
        collation: String::new(),
        collation_source: String::new(),
        collation_alternatives: Vec::new(),
        collation_sensitive: Vec::new(),
        ..Summary::of(&plan)
    };
    (prediction, plan.collation)
}

/// The custom archive's format version and, for each table data entry, whether its offset is set.
fn custom_archive(file: &Path) -> ((u8, u8), Vec<bool>) {
    let mut reader = std::io::BufReader::new(std::fs::File::open(file).unwrap());
    let meta = libpgdump::format::custom::read_metadata(&mut reader).unwrap();
    let offsets = meta
        .entries
        .iter()
        .filter(|e| e.desc == ObjectType::TableData)
        .map(|e| e.data_state == OffsetState::Set)
        .collect();
    ((meta.header.version.major, meta.header.version.minor), offsets)
}

fn every_form_imports_and_rehearses_alike(major: u32, forms: &[&[Form]], archive_version: (u8, u8)) {
    let dir = tempfile::tempdir().unwrap();
    let seed = major.to_string();
    let pg = generated_database(dir.path(), &["--models", "15", "--seed", &seed, "--stale-backup"]);
    let binary = pg_dump_binary(&pg, major);
    let mut plain = None;
    for form in forms.iter().flat_map(|forms| forms.iter()) {
        let what = format!("pg_dump {major} {} {:?}{}", form.name, form.args, if form.piped { " | file" } else { "" });
        let file = dir.path().join(format!("{major}_{}", form.name));
        pg_dump_with(&pg, &binary, form.args, &file, form.piped);
        if form.name.starts_with("custom") {
            let (version, offsets) = custom_archive(&file);
            assert_eq!(version, archive_version, "{what}: archive format");
            assert!(!offsets.is_empty(), "{what}: no table data entries");
            // Through a pipe pg_dump cannot seek back: no entry has its data offset.
            assert!(offsets.iter().all(|&set| set != form.piped), "{what}: data offsets set {offsets:?}");
        }
        assert_matches_postgres(&pg, &file, ImportOptions { all_tables: true, ..Default::default() });
        let workspace = Workspace::in_memory().unwrap();
        import(&file, &workspace, &Spec::guide(), ImportOptions::default()).unwrap_or_else(|e| panic!("{what}: {e}"));
        let (prediction, collation) = prediction(&workspace);
        // The test clusters are made with initdb --locale=C.UTF-8.
        let exported = if form.name.starts_with("plain") { "C" } else { "C.UTF-8" };
        assert_eq!(collation, exported, "{what}: the collation legacy runs in");
        match &plain {
            None => plain = Some(prediction),
            Some(expected) => assert_eq!(&prediction, expected, "{what}: rehearses unlike the plain dump"),
        }
    }
}

#[test]
fn pg_dump_15_every_form() {
    every_form_imports_and_rehearses_alike(15, &[EVERY_VERSION], (1, 14));
}

#[test]
fn pg_dump_16_every_form() {
    every_form_imports_and_rehearses_alike(16, &[EVERY_VERSION], (1, 15));
}

#[test]
fn pg_dump_17_every_form_with_lz4_and_zstd() {
    every_form_imports_and_rehearses_alike(17, &[EVERY_VERSION, LZ4_ZSTD], (1, 16));
}

#[test]
fn pg_dump_18_every_form() {
    every_form_imports_and_rehearses_alike(18, &[EVERY_VERSION], (1, 16));
}
