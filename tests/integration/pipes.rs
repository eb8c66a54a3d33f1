//! A closed pipe ends quietly: when the reader of stdout goes away (`rehearse … | head`), every
//! command that prints stops printing without a panic or a "Broken pipe" message, and exits with
//! the code it would have had.

use crate::support::{rehearse, repo, stderr};
use std::io::Read;
use std::os::fd::AsRawFd;
use std::process::{Command, Output, Stdio};

/// The smallest pipe buffer Linux allows: output beyond it blocks until read, so a reader that
/// stops early makes the writer meet a closed pipe.
const PIPE_BUFFER: i32 = 4096;

/// Runs rehearse with stdout into a one-page pipe whose reader takes `keep` bytes and closes (at
/// once when `keep` is 0, before rehearse even starts).
fn with_stdout_closed_early(args: &[&std::ffi::OsStr], keep: usize) -> Output {
    let (mut reader, writer) = std::io::pipe().unwrap();
    // SAFETY: fcntl on a pipe descriptor we own.
    let size = unsafe { libc::fcntl(writer.as_raw_fd(), libc::F_SETPIPE_SZ, PIPE_BUFFER) };
    assert_eq!(size, PIPE_BUFFER, "the pipe buffer is one page");
    let mut command = Command::new(env!("CARGO_BIN_EXE_rehearse"));
    command.args(args).stdout(writer).stderr(Stdio::piped());
    if keep == 0 {
        drop(reader);
        return command.output().unwrap();
    }
    let child = command.spawn().unwrap();
    drop(command); // our copy of the writer
    let mut first = vec![0; keep];
    reader.read_exact(&mut first).unwrap();
    drop(reader);
    child.wait_with_output().unwrap()
}

#[test]
fn a_closed_stdout_ends_every_command_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let example = repo().join("fixtures/example.sql");
    let (run_a, run_b) = (dir.path().join("a"), dir.path().join("b"));
    for (run, policy) in [(&run_a, "documented"), (&run_b, "legacy")] {
        let out = rehearse(&[
            "run".as_ref(),
            example.as_os_str(),
            "-o".as_ref(),
            run.as_os_str(),
            "--policy".as_ref(),
            policy.as_ref(),
        ]);
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let run_c = dir.path().join("c");
    let commands: Vec<(Vec<&std::ffi::OsStr>, usize)> = vec![
        (vec!["inspect".as_ref(), example.as_os_str(), "--json".as_ref()], 16),
        (vec!["inspect".as_ref(), example.as_os_str()], 16),
        (vec!["spec".as_ref(), "--print".as_ref()], 0),
        (vec!["check".as_ref(), example.as_os_str()], 0),
        (vec!["check".as_ref(), example.as_os_str(), "--format".as_ref(), "json".as_ref()], 0),
        (vec!["diff".as_ref(), run_a.as_os_str(), run_b.as_os_str()], 16),
        (vec!["diff".as_ref(), run_a.as_os_str(), run_b.as_os_str(), "--json".as_ref()], 16),
        (vec!["run".as_ref(), example.as_os_str(), "-o".as_ref(), run_c.as_os_str()], 0),
    ];
    for (args, keep) in commands {
        let reference = rehearse(&args);
        let expected = reference.status.code();
        if keep > 0 {
            assert!(reference.stdout.len() > PIPE_BUFFER as usize + keep, "the output outgrows the pipe");
        }
        let _ = std::fs::remove_dir_all(&run_c);
        let out = with_stdout_closed_early(&args, keep);
        let message = stderr(&out);
        let shown = args.iter().map(|a| a.to_string_lossy()).collect::<Vec<_>>().join(" ");
        assert!(!message.contains("panicked"), "rehearse {shown}: {message}");
        assert!(!message.to_lowercase().contains("broken pipe"), "rehearse {shown}: {message}");
        assert_eq!(out.status.code(), expected, "rehearse {shown} exits as it would have: {message}");
    }
    assert!(run_c.join("summary.json").is_file(), "run finishes its work when nobody reads its summary");
}
