//! An interrupted run leaves nothing behind: SIGINT, SIGTERM and SIGHUP sent to a run that is
//! loading a large dump remove its scratch workspace and its staged output and exit 128 + the
//! signal; a later run sweeps the scratch directories of runs that died without cleaning up.
//! Each run gets a private TMPDIR, so that what is left behind is this run's alone.

use crate::support::{repo, stderr};
use rehearse::pg::run_checked;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A plain dump large enough that loading it takes seconds (about 310 MB, 325 000 models rows).
fn large_dump(dir: &Path) -> PathBuf {
    let dump = dir.join("large.sql");
    let generate = repo().join("fixtures/generate.py");
    let args = ["--models", "50000", "--no-hostile", "--out"];
    run_checked(Command::new("python3").arg(generate).args(args).arg(&dump), "fixtures/generate.py").unwrap();
    dump
}

/// Starts rehearse with `tmp` as its TMPDIR. SIGINT and SIGHUP get their default action back
/// (a test run in the background of a script inherits them ignored), unless `ignore_sighup`.
fn start(args: &[&std::ffi::OsStr], tmp: &Path, ignore_sighup: bool) -> Child {
    let mut command = Command::new(env!("CARGO_BIN_EXE_rehearse"));
    command.args(args).env("TMPDIR", tmp).stdout(Stdio::null()).stderr(Stdio::piped());
    // SAFETY: only async-signal-safe calls (signal) between fork and exec.
    unsafe {
        command.pre_exec(move || {
            libc::signal(libc::SIGINT, libc::SIG_DFL);
            libc::signal(libc::SIGHUP, if ignore_sighup { libc::SIG_IGN } else { libc::SIG_DFL });
            Ok(())
        });
    }
    command.spawn().expect("start rehearse")
}

/// Names in `dir` (none when it does not exist).
fn names(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|d| d.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default()
}

/// Waits until `appears` names a file of `dir`, and a little longer, so that rows are loading.
fn wait_for(child: &mut Child, dir: &Path, appears: impl Fn(&str) -> bool) {
    let start = Instant::now();
    while !names(dir).iter().any(|n| appears(n)) {
        assert!(child.try_wait().unwrap().is_none(), "rehearse ended before its scratch files appeared");
        assert!(start.elapsed() < Duration::from_secs(60), "no scratch files in {} after 60 s", dir.display());
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300));
}

fn signal(child: &Child, signal: i32) {
    // SAFETY: kill(2) on our own child's pid.
    assert_eq!(unsafe { libc::kill(child.id() as i32, signal) }, 0);
}

/// Sends `sig` while the child is still working and returns its exit code and stderr.
fn interrupt(mut child: Child, sig: i32) -> (Option<i32>, String) {
    assert!(child.try_wait().unwrap().is_none(), "rehearse finished before it was interrupted: the dump is too small");
    signal(&child, sig);
    let out = child.wait_with_output().unwrap();
    (out.status.code(), stderr(&out))
}

#[test]
fn interrupted_runs_and_imports_leave_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let dump = large_dump(dir.path());
    let cases = [("run", libc::SIGINT, 130), ("run", libc::SIGTERM, 143), ("import", libc::SIGHUP, 129)];
    for (command, sig, code) in cases {
        let case = dir.path().join(format!("{command}-{sig}"));
        let (tmp, out) = (case.join("tmp"), case.join("out"));
        std::fs::create_dir_all(&tmp).unwrap();
        let target = out.join(if command == "run" { "run" } else { "ws.duckdb" });
        let flag = if command == "run" { "--out" } else { "--workspace" };
        let mut child = start(&[command.as_ref(), dump.as_os_str(), flag.as_ref(), target.as_os_str()], &tmp, false);
        if command == "run" {
            let scratch = format!("rehearse-ws-{}-", child.id());
            wait_for(&mut child, &tmp, |n| n.starts_with(&scratch));
        } else {
            wait_for(&mut child, &out, |n| n.starts_with(".ws.duckdb.tmp-"));
        }
        let (exit, message) = interrupt(child, sig);
        assert_eq!(exit, Some(code), "{command} interrupted by signal {sig}: {message}");
        assert!(!message.contains("panicked"), "{message}");
        assert_eq!(names(&tmp), Vec::<String>::new(), "{command}, signal {sig}: scratch files left behind");
        assert_eq!(names(&out), Vec::<String>::new(), "{command}, signal {sig}: partial output left behind");
    }

    // Under nohup, SIGHUP stays ignored: the run goes on, and SIGTERM still ends it cleanly.
    let tmp = dir.path().join("nohup-tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    let out = dir.path().join("nohup-out");
    let mut child = start(&["run".as_ref(), dump.as_os_str(), "--out".as_ref(), out.as_os_str()], &tmp, true);
    wait_for(&mut child, &tmp, |n| n.starts_with("rehearse-ws-"));
    signal(&child, libc::SIGHUP);
    std::thread::sleep(Duration::from_millis(300));
    let (exit, message) = interrupt(child, libc::SIGTERM);
    assert_eq!(exit, Some(143), "SIGHUP was ignored and SIGTERM ended the run: {message}");
    assert_eq!(names(&tmp), Vec::<String>::new());
}

#[test]
fn the_scratch_directories_of_dead_runs_are_swept_and_live_ones_kept() {
    let tmp = tempfile::tempdir().unwrap();
    let mut finished = Command::new("true").spawn().unwrap();
    let dead = finished.id();
    finished.wait().unwrap();
    let live = std::process::id();
    let dirs = [
        (format!("rehearse-ws-{dead}-AbC123"), false),
        (format!("rehearse-pg-{dead}-XyZ789"), false),
        (format!("rehearse-ws-{live}-AbC123"), true),
        ("rehearse-ws-AbC123".to_string(), true), // no pid: not known to be dead
        (format!("other-ws-{dead}-AbC123"), true),
    ];
    for (name, _) in &dirs {
        std::fs::create_dir_all(tmp.path().join(name).join("data")).unwrap();
        std::fs::write(tmp.path().join(name).join("data/workspace.duckdb"), b"rows").unwrap();
    }
    let out = Command::new(env!("CARGO_BIN_EXE_rehearse"))
        .args(["spec", "--print"])
        .env("TMPDIR", tmp.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    for (name, kept) in &dirs {
        assert_eq!(tmp.path().join(name).exists(), *kept, "{name}");
    }
}

#[test]
fn an_interrupted_validate_stops_and_removes_its_postgresql() {
    let dir = tempfile::tempdir().unwrap();
    let (tmp, out) = (dir.path().join("tmp"), dir.path().join("out"));
    std::fs::create_dir_all(&tmp).unwrap();
    // The cluster runs as `postgres` when the tests run as root: it must reach its directory.
    std::fs::set_permissions(dir.path(), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&tmp, std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
    let example = repo().join("fixtures/example.dump");
    let run = out.join("validated");
    let mut child = start(&["validate".as_ref(), example.as_os_str(), "--out".as_ref(), run.as_os_str()], &tmp, false);
    let scratch = format!("rehearse-pg-{}-", child.id());
    wait_for(&mut child, &tmp, |n| n.starts_with(&scratch));
    let cluster = tmp.join(names(&tmp).into_iter().find(|n| n.starts_with(&scratch)).unwrap());
    let lock = cluster.join("data/postmaster.pid");
    let start = Instant::now();
    while !lock.is_file() {
        assert!(child.try_wait().unwrap().is_none(), "validate ended before its server started");
        assert!(start.elapsed() < Duration::from_secs(60), "no server after 60 s");
        std::thread::sleep(Duration::from_millis(20));
    }
    let server: i32 = std::fs::read_to_string(&lock).unwrap().lines().next().unwrap().parse().unwrap();
    assert!(names(&out).iter().any(|n| n.starts_with(".validated.tmp-")), "the run directory is staged");
    let (exit, message) = interrupt(child, libc::SIGTERM);
    assert_eq!(exit, Some(143), "{message}");
    assert_eq!(names(&tmp), Vec::<String>::new(), "the cluster's directory is removed");
    assert_eq!(names(&out), Vec::<String>::new(), "the staged run directory is removed");
    assert!(!running(server), "the server {server} is stopped");
}

/// Whether `pid` runs (a zombie that its parent has not reaped yet does not).
fn running(pid: i32) -> bool {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    stat.rsplit_once(") ").is_some_and(|(_, fields)| !fields.starts_with('Z'))
}

/// A panic is a bug in rehearse: one line naming it, its scratch files removed, exit 70. The
/// panic is a real one: with RUST_MIN_STACK (read by the standard library) larger than the
/// address space, no thread can start, and the loader's spawn panics once the scratch workspace
/// exists (the signal watcher's failure is only a warning).
#[test]
fn a_panic_removes_the_scratch_files_and_exits_70() {
    let dir = tempfile::tempdir().unwrap();
    let tmp = dir.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let out = dir.path().join("run");
    let example = repo().join("fixtures/example.sql");
    let run = Command::new(env!("CARGO_BIN_EXE_rehearse"))
        .args(["run".as_ref(), example.as_os_str(), "--out".as_ref(), out.as_os_str()])
        .env("TMPDIR", &tmp)
        .env("RUST_MIN_STACK", "200000000000000")
        .output()
        .unwrap();
    let messages = stderr(&run);
    assert_eq!(run.status.code(), Some(70), "{messages}");
    let errors: Vec<&str> = messages.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(errors.len(), 1, "{messages}");
    let line = regex::Regex::new(
        r"^error: internal error: failed to spawn thread.* at \S+\.rs:\d+:\d+ \(a bug in rehearse; please report it\)$",
    )
    .unwrap();
    assert!(line.is_match(errors[0]), "{messages}");
    assert!(!messages.contains("panicked at"), "the default panic message is replaced: {messages}");
    assert_eq!(names(&tmp), Vec::<String>::new(), "scratch files left behind");
    assert!(!out.exists(), "no run directory");
}
