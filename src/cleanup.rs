//! An interrupted run leaves nothing behind. Whatever a run creates besides its final output (a
//! scratch workspace, a staged output, a scratch PostgreSQL cluster) registers how to undo it for
//! as long as it exists; on SIGINT, SIGTERM or SIGHUP a watcher thread runs every undo, newest
//! first, and exits with 128 + the signal (a panic, in any thread, does the same and exits 70).
//! Scratch directories carry their owner's pid in their name, `rehearse-<kind>-<pid>-<random>`,
//! so that a later run sweeps those whose owner died without cleaning up (SIGKILL, a crash, a
//! power cut).

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use std::path::Path;
use std::sync::{Mutex, MutexGuard, PoisonError};

type Undo = Box<dyn FnOnce() + Send>;

struct Registry {
    next: u64,
    undos: Vec<(u64, Undo)>,
}

static REGISTRY: Mutex<Registry> = Mutex::new(Registry { next: 0, undos: Vec::new() });

fn registry() -> MutexGuard<'static, Registry> {
    REGISTRY.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Keeps an undo registered; dropping it forgets the undo (its owner has cleaned up).
#[must_use = "the undo is forgotten when the registration is dropped"]
pub struct Registration(u64);

/// Registers `undo` to run if the process is interrupted before the registration is dropped.
pub fn register(undo: impl FnOnce() + Send + 'static) -> Registration {
    let mut registry = registry();
    let id = registry.next;
    registry.next += 1;
    registry.undos.push((id, Box::new(undo)));
    Registration(id)
}

impl Drop for Registration {
    fn drop(&mut self) {
        registry().undos.retain(|(id, _)| *id != self.0);
    }
}

/// Starts the watcher of SIGINT, SIGTERM and SIGHUP. A signal that was ignored when rehearse
/// started (under `nohup`, or a background job of a script) stays ignored.
pub fn undo_on_signals() -> std::io::Result<()> {
    let watched: Vec<i32> = [SIGINT, SIGTERM, SIGHUP].into_iter().filter(|&s| !ignored(s)).collect();
    let mut signals = signal_hook::iterator::Signals::new(&watched)?;
    std::thread::Builder::new().name("signals".into()).spawn(move || {
        if let Some(signal) = signals.forever().next() {
            undo_all_and_exit(128 + signal);
        }
    })?;
    Ok(())
}

/// Runs every registered undo, newest first, and exits with `code` at once: for a signal, and
/// for a panic (a bug), whatever thread it happens in.
pub fn undo_all_and_exit(code: i32) -> ! {
    // The lock is kept until exit: no other thread can register anything new meanwhile.
    let mut registry = registry();
    while let Some((_, undo)) = registry.undos.pop() {
        undo();
    }
    // `_exit`: no atexit handlers or destructors race the threads still at work.
    signal_hook::low_level::exit(code)
}

fn ignored(signal: i32) -> bool {
    // SAFETY: a null new action makes sigaction only read the current one into `current`.
    unsafe {
        let mut current: libc::sigaction = std::mem::zeroed();
        libc::sigaction(signal, std::ptr::null(), &mut current) == 0 && current.sa_sigaction == libc::SIG_IGN
    }
}

/// The kinds of scratch directory: workspaces, PostgreSQL clusters, decompressed SQL.
const SCRATCH_KINDS: [&str; 3] = ["ws", "pg", "sql"];

/// A directory `rehearse-<kind>-<pid>-<random>` in the temporary directory (`TMPDIR`), removed
/// when dropped or when the run is interrupted.
pub struct ScratchDir {
    dir: tempfile::TempDir,
    _undo: Registration,
}

impl ScratchDir {
    pub fn new(kind: &str) -> std::io::Result<ScratchDir> {
        debug_assert!(SCRATCH_KINDS.contains(&kind), "a kind that the sweep knows");
        let prefix = format!("rehearse-{kind}-{}-", std::process::id());
        let dir = tempfile::Builder::new().prefix(&prefix).tempdir()?;
        let path = dir.path().to_path_buf();
        Ok(ScratchDir { dir, _undo: register(move || remove_dir(&path)) })
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

/// Removes a directory that another thread or a stopping server's last processes may still be
/// writing into: a file created during one attempt is gone by a later one. On a busy machine
/// those writers take a while to end, so the attempts are spread over about two seconds.
fn remove_dir(path: &Path) {
    for _ in 0..40 {
        if std::fs::remove_dir_all(path).is_ok() || !path.exists() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// Removes the scratch directories whose owning process is gone; those of live processes, and
/// names without a pid, are left alone. The server of a swept cluster that outlived its owner
/// shuts itself down once its data directory is gone (PostgreSQL rechecks its lock file).
pub fn sweep_dead_runs() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else { return };
    for entry in entries.flatten() {
        let owner = entry.file_name().to_str().and_then(owner_pid);
        let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
        if owner.is_some_and(|pid| is_dir && !alive(pid)) {
            remove_dir(&entry.path());
        }
    }
}

/// The pid in `rehearse-<kind>-<pid>-<random>`.
fn owner_pid(name: &str) -> Option<i32> {
    let rest = name.strip_prefix("rehearse-")?;
    let (kind, rest) = rest.split_once('-')?;
    let (pid, _random) = rest.split_once('-')?;
    SCRATCH_KINDS.contains(&kind).then(|| pid.parse().ok()).flatten().filter(|&pid| pid > 0)
}

fn alive(pid: i32) -> bool {
    // SAFETY: signal 0 sends nothing; it only asks whether the process exists.
    let found = unsafe { libc::kill(pid, 0) } == 0;
    // EPERM: it exists but belongs to someone else.
    found || std::io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owner_pids_come_only_from_rehearse_scratch_names() {
        assert_eq!(owner_pid("rehearse-ws-4242-AbC123"), Some(4242));
        assert_eq!(owner_pid("rehearse-pg-17-x"), Some(17));
        assert_eq!(owner_pid("rehearse-ws-AbC123"), None, "the old, pid-less names");
        assert_eq!(owner_pid("rehearse-out-4242-x"), None, "an unknown kind");
        assert_eq!(owner_pid("rehearse-ws-0-x"), None);
        assert_eq!(owner_pid("other-ws-4242-x"), None);
    }

    #[test]
    fn undos_run_until_their_registration_is_dropped() {
        let ran = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = ran.clone();
        let registration = register(move || flag.store(true, std::sync::atomic::Ordering::SeqCst));
        let id = registration.0;
        assert!(registry().undos.iter().any(|(i, _)| *i == id));
        drop(registration);
        assert!(!registry().undos.iter().any(|(i, _)| *i == id));
        assert!(!ran.load(std::sync::atomic::Ordering::SeqCst), "dropping forgets, it does not run");
    }

    #[test]
    fn our_own_process_is_alive() {
        assert!(alive(std::process::id() as i32));
    }
}
