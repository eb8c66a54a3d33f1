//! The input's fingerprint (size and SHA-256 of its bytes), computed on a thread of its own: it
//! takes the core that the first pass leaves, waits while both lanes load rows (`hold`), goes on
//! once one of them is done, and beside the rehearsal until its result is first read.

use super::source::{hex, BUFFER};
use crate::error::{Error, Result};
use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::Read;
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;

/// A fingerprint being computed.
#[derive(Debug)]
pub struct Fingerprinting {
    gate: Arc<Gate>,
    thread: JoinHandle<Result<(u64, String)>>,
}

/// Whether the thread may go on, checked between two reads.
#[derive(Debug, Default)]
pub struct Gate {
    held: Mutex<bool>,
    opened: Condvar,
}

impl Gate {
    /// Waits while the gate is held.
    pub fn pass(&self) {
        let mut held = self.lock();
        while *held {
            held = self.opened.wait(held).unwrap_or_else(|poisoned| poisoned.into_inner());
        }
    }

    fn set(&self, held: bool) {
        *self.lock() = held;
        self.opened.notify_all();
    }

    fn lock(&self) -> MutexGuard<'_, bool> {
        self.held.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The fingerprint's thread waits between reads until this is dropped.
pub struct Held<'a>(&'a Gate);

impl Drop for Held<'_> {
    fn drop(&mut self) {
        self.0.set(false);
    }
}

impl Fingerprinting {
    /// Starts on the bytes of `files`, in the order given.
    pub fn start(files: Vec<PathBuf>) -> Fingerprinting {
        Fingerprinting::spawn(move |gate| fingerprint(&files, gate))
    }

    /// Runs `work` on a thread of its own, which passes `gate` between its steps.
    pub fn spawn(work: impl FnOnce(&Gate) -> Result<(u64, String)> + Send + 'static) -> Fingerprinting {
        let gate = Arc::new(Gate::default());
        let thread = std::thread::spawn({
            let gate = gate.clone();
            move || work(&gate)
        });
        Fingerprinting { gate, thread }
    }

    /// Holds the thread between two reads until the guard is dropped.
    pub fn hold(&self) -> Held<'_> {
        self.gate.set(true);
        Held(&self.gate)
    }

    /// The size and SHA-256, once the thread is done.
    pub fn finish(self) -> Result<(u64, String)> {
        self.gate.set(false);
        self.thread.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    }
}

/// Size and SHA-256 (hex) of the bytes of `files`, passing `gate` before each read.
fn fingerprint(files: &[PathBuf], gate: &Gate) -> Result<(u64, String)> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; BUFFER];
    let mut size = 0;
    for file in files {
        let mut handle = File::open(file).map_err(|e| Error::io(file, e))?;
        loop {
            gate.pass();
            let n = handle.read(&mut buf).map_err(|e| Error::io(file, e))?;
            if n == 0 {
                break;
            }
            size += n as u64;
            hasher.update(&buf[..n]);
        }
    }
    Ok((size, hex(&hasher.finalize())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::mpsc::channel;
    use std::time::Duration;

    #[test]
    fn the_fingerprint_is_the_files_bytes_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        std::fs::write(&a, vec![7u8; BUFFER + 5]).unwrap();
        std::fs::write(&b, b"tail").unwrap();
        let all = [vec![7u8; BUFFER + 5], b"tail".to_vec()].concat();
        let (size, sha256) = Fingerprinting::start(vec![a, b]).finish().unwrap();
        assert_eq!((size, sha256), (all.len() as u64, hex(&Sha256::digest(&all))));
    }

    #[test]
    fn a_held_fingerprint_waits_until_released() {
        let (go, started) = channel::<()>();
        let passed = Arc::new(AtomicBool::new(false));
        let fingerprinting = Fingerprinting::spawn({
            let passed = passed.clone();
            move |gate| {
                started.recv().unwrap();
                gate.pass();
                passed.store(true, Ordering::SeqCst);
                Ok((1, "ab".into()))
            }
        });
        let held = fingerprinting.hold();
        go.send(()).unwrap();
        std::thread::sleep(Duration::from_millis(100));
        assert!(!passed.load(Ordering::SeqCst), "the thread went on while held");
        drop(held);
        assert_eq!(fingerprinting.finish().unwrap(), (1, "ab".to_string()));
        assert!(passed.load(Ordering::SeqCst));
    }
}
