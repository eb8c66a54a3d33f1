//! Progress of long phases, shared between the library (which counts) and the binary (which
//! draws). Counting is a relaxed atomic add, so readers pay nothing measurable; drawing happens
//! on the binary's own thread, only when stderr is a terminal.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// One finished phase: what it was, how much it handled, how long it took.
#[derive(Debug, Clone)]
pub struct PhaseTime {
    pub name: String,
    pub amount: u64,
    pub unit: &'static str,
    pub elapsed: Duration,
    /// The process's peak resident memory when the phase ended (Linux; `None` elsewhere).
    pub peak_rss: Option<u64>,
}

#[derive(Debug, Default)]
pub struct Progress {
    current: Mutex<Option<(String, &'static str, Instant)>>,
    done: AtomicU64,
    total: AtomicU64,
    finished: Mutex<Vec<PhaseTime>>,
}

impl Progress {
    /// Starts a phase counting `unit` (bytes, rows; "" for none) up to `total` (0: unknown).
    pub fn phase(&self, name: &str, unit: &'static str, total: u64) {
        self.end_phase();
        self.done.store(0, Ordering::Relaxed);
        self.total.store(total, Ordering::Relaxed);
        *self.current.lock().expect("progress lock") = Some((name.to_string(), unit, Instant::now()));
    }

    pub fn add(&self, amount: u64) {
        self.done.fetch_add(amount, Ordering::Relaxed);
    }

    /// Closes the current phase, recording its throughput.
    pub fn end_phase(&self) {
        if let Some((name, unit, start)) = self.current.lock().expect("progress lock").take() {
            let amount = self.done.load(Ordering::Relaxed);
            self.finished.lock().expect("progress lock").push(PhaseTime {
                name,
                amount,
                unit,
                elapsed: start.elapsed(),
                peak_rss: peak_rss(),
            });
        }
    }

    /// The running phase: its name, unit, amount done and total (0 when unknown).
    pub fn snapshot(&self) -> Option<(String, &'static str, u64, u64)> {
        let current = self.current.lock().expect("progress lock");
        current.as_ref().map(|(name, unit, _)| {
            (name.clone(), *unit, self.done.load(Ordering::Relaxed), self.total.load(Ordering::Relaxed))
        })
    }

    pub fn finished(&self) -> Vec<PhaseTime> {
        self.finished.lock().expect("progress lock").clone()
    }
}

/// `VmHWM` of `/proc/self/status`: the high-water mark of resident memory, in bytes.
fn peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}
