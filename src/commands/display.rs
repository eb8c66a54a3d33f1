//! Progress on stderr: an indicatif bar when stderr is a terminal (never in logs or pipes),
//! nothing with `--quiet`, and each phase's throughput at the end with `-v`.

use super::output;
use indicatif::{ProgressBar, ProgressStyle};
use rehearse::progress::Progress;
use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

pub struct Display {
    progress: Arc<Progress>,
    stop: Arc<AtomicBool>,
    drawer: Option<JoinHandle<()>>,
    verbose: bool,
}

fn draw(progress: &Progress, stop: &AtomicBool) {
    let bar = ProgressBar::new(0);
    let style = |template: &str| ProgressStyle::with_template(template).expect("a valid template");
    let known = style("{msg:>20} [{bar:30}] {percent:>3}% {binary_bytes_per_sec}");
    let counting = style("{msg:>20} {spinner} {pos} {elapsed}");
    while !stop.load(Ordering::Relaxed) {
        if let Some((name, unit, done, total)) = progress.snapshot() {
            bar.set_message(name);
            if total > 0 && unit == "bytes" {
                bar.set_style(known.clone());
                bar.set_length(total);
            } else {
                bar.set_style(counting.clone());
            }
            bar.set_position(done);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    bar.finish_and_clear();
}

impl Display {
    pub fn start(quiet: bool, verbose: bool) -> Display {
        let progress = Arc::new(Progress::default());
        let stop = Arc::new(AtomicBool::new(false));
        let drawer = (!quiet && std::io::stderr().is_terminal()).then(|| {
            let (progress, stop) = (progress.clone(), stop.clone());
            std::thread::spawn(move || draw(&progress, &stop))
        });
        Display { progress, stop, drawer, verbose }
    }

    pub fn progress(&self) -> Arc<Progress> {
        self.progress.clone()
    }

    /// Stops drawing; with `-v`, prints how long each phase took and its throughput.
    pub fn finish(mut self) {
        self.progress.end_phase();
        self.stop.store(true, Ordering::Relaxed);
        if let Some(drawer) = self.drawer.take() {
            let _ = drawer.join();
        }
        if self.verbose {
            for phase in self.progress.finished() {
                let seconds = phase.elapsed.as_secs_f64();
                let rate = if seconds > 0.0 { phase.amount as f64 / seconds } else { 0.0 };
                let figures = match phase.unit {
                    "" => format!("{seconds:.2} s"),
                    "bytes" => {
                        format!("{:.1} MB in {seconds:.2} s ({:.0} MB/s)", phase.amount as f64 / 1e6, rate / 1e6)
                    }
                    unit => format!("{} {unit} in {seconds:.2} s ({rate:.0} {unit}/s)", phase.amount),
                };
                let memory = phase.peak_rss.map(|b| format!(", peak RSS {:.0} MB", b as f64 / 1e6)).unwrap_or_default();
                output::eprint(&format!("{:>24}: {figures}{memory}\n", phase.name));
            }
        }
    }
}
