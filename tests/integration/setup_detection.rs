//! scripts/setup.sh decides what a fresh machine lacks. Its detection must look for the file each
//! build step really loads: a look-alike that says "present" leaves a new machine unable to build.

use crate::support::repo;
use std::path::Path;
use std::process::Command;

/// `scripts/setup.sh --detect`, with `SETUP_LIB_DIRS` standing for the machine's library
/// directories when given: each requirement's package name and "present" or "missing".
fn detect(lib_dirs: Option<&Path>) -> Vec<(String, String)> {
    let mut setup = Command::new("bash");
    setup.arg(repo().join("scripts/setup.sh")).arg("--detect");
    if let Some(dirs) = lib_dirs {
        setup.env("SETUP_LIB_DIRS", dirs);
    }
    let out = setup.output().expect("run scripts/setup.sh --detect");
    assert!(out.status.success(), "setup.sh --detect failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|line| {
            let (package, state) = line.split_once(' ').unwrap_or_else(|| panic!("unexpected line {line:?}"));
            (package.to_string(), state.to_string())
        })
        .collect()
}

fn libclang_state(lib_dirs: &Path) -> String {
    let states = detect(Some(lib_dirs));
    states.into_iter().find(|(package, _)| package == "libclang-dev").expect("libclang-dev is a requirement").1
}

#[test]
fn libclang_look_alikes_are_not_libclang() {
    // What bindgen loads, against what Debian's llvm libraries ship without libclang-dev.
    let cases: &[(&[&str], &str)] = &[
        (&[], "missing"),
        (&["libclang-cpp.so.14"], "missing"),
        (&["libclang-cpp.so.14", "libclang-cpp.so"], "missing"),
        (&["libclang.so"], "present"),
        (&["libclang-cpp.so.14", "libclang-14.so"], "present"),
    ];
    for (files, expected) in cases {
        let dir = tempfile::tempdir().unwrap();
        for file in *files {
            std::fs::write(dir.path().join(file), b"").unwrap();
        }
        assert_eq!(&libclang_state(dir.path()), expected, "library directory holding {files:?}");
    }
}

/// On this machine, every requirement detected as present has the file its step needs, found
/// here by other means than setup.sh's own globs.
#[test]
fn present_means_the_needed_file_is_there() {
    for (package, state) in detect(None) {
        if state != "present" {
            continue;
        }
        let found = match package.as_str() {
            "libclang-dev" => libclang_in(Path::new("/usr/lib")) || libclang_in(Path::new("/usr/local/lib")),
            "postgresql" => std::fs::read_dir("/usr/lib/postgresql")
                .map(|versions| versions.flatten().any(|v| v.path().join("bin/initdb").is_file()))
                .unwrap_or(false),
            "g++" => on_path("c++"),
            "locales" => on_path("locale-gen"),
            "libtool" => on_path("libtoolize"),
            "libicu72" => ["/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib"].iter().any(|dir| {
                std::fs::read_dir(dir).is_ok_and(|mut entries| {
                    entries.any(|e| e.is_ok_and(|e| e.file_name().to_string_lossy().starts_with("libicui18n.so.")))
                })
            }),
            other => on_path(other),
        };
        assert!(found, "setup.sh says {package} is present, but the file the build needs is absent");
    }
}

/// A library bindgen can load (`libclang.so`, `libclang-N.so`) anywhere under `dir`.
fn libclang_in(dir: &Path) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else { return false };
    entries.flatten().any(|entry| {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        let loadable = name == "libclang.so"
            || name
                .strip_prefix("libclang-")
                .and_then(|rest| rest.strip_suffix(".so"))
                .is_some_and(|version| !version.is_empty() && version.chars().all(|c| c.is_ascii_digit() || c == '.'));
        (loadable && path.exists()) || (path.is_dir() && !path.is_symlink() && libclang_in(&path))
    })
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
        .unwrap_or(false)
}
