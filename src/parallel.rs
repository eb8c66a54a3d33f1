//! Work on several threads: two jobs side by side (`beside`), or jobs shared out among threads,
//! each taking the next job nobody took yet, so that one long job leaves the short ones to the
//! other threads (`share`).

use crate::error::Result;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Runs `job` on another thread while `main` runs here; of two failures, `job`'s is returned.
pub fn beside<A: Send, B>(job: impl FnOnce() -> Result<A> + Send, main: impl FnOnce() -> Result<B>) -> Result<(A, B)> {
    std::thread::scope(|scope| {
        let side = scope.spawn(job);
        let main = main();
        let side = side.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        Ok((side?, main?))
    })
}

/// Runs `work` on every job on `threads` threads, this one among them; this thread runs `first`
/// before it takes any job. Returns what `first` returned, and the jobs' results in their order.
pub fn share<J: Sync, R: Send, F>(
    jobs: &[J],
    threads: usize,
    first: impl FnOnce() -> F,
    work: impl Fn(&J) -> R + Sync,
) -> (F, Vec<R>) {
    let next = AtomicUsize::new(0);
    let take = || {
        let mut done = Vec::new();
        loop {
            let at = next.fetch_add(1, Ordering::Relaxed);
            let Some(job) = jobs.get(at) else { break done };
            done.push((at, work(job)));
        }
    };
    let (first, mut done) = std::thread::scope(|scope| {
        let others: Vec<_> = (1..threads.min(jobs.len())).map(|_| scope.spawn(take)).collect();
        let first = first();
        let mut done = take();
        for other in others {
            done.extend(other.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)));
        }
        (first, done)
    });
    done.sort_unstable_by_key(|&(at, _)| at);
    (first, done.into_iter().map(|(_, result)| result).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;
    use std::sync::Mutex;
    use std::thread::ThreadId;

    #[test]
    fn beside_runs_both_and_of_two_failures_returns_the_jobs() {
        let here = std::thread::current().id();
        let (elsewhere, main_here) =
            beside(|| Ok(std::thread::current().id() != here), || Ok(std::thread::current().id() == here)).unwrap();
        assert!(elsewhere && main_here);
        let failed = |what: &str| Err::<(), _>(crate::Error::Internal(what.into()));
        let error = beside(|| failed("job"), || failed("main")).err().unwrap().to_string();
        assert!(error.contains("job") && !error.contains("main"), "{error}");
        let error = beside(|| Ok(()), || failed("main")).err().unwrap().to_string();
        assert!(error.contains("main"), "{error}");
    }

    #[test]
    fn every_job_runs_once_and_the_results_come_in_the_jobs_order() {
        let jobs: Vec<u64> = (0..200).collect();
        let threads = Mutex::new(HashSet::<ThreadId>::new());
        let (first, squares) = share(
            &jobs,
            3,
            || 7,
            |&n| {
                threads.lock().unwrap().insert(std::thread::current().id());
                // Uneven jobs, so that the threads take them out of order.
                std::thread::sleep(std::time::Duration::from_micros(200 * (n % 5)));
                n * n
            },
        );
        assert_eq!(first, 7);
        assert_eq!(squares, jobs.iter().map(|n| n * n).collect::<Vec<_>>());
        assert!(threads.lock().unwrap().len() > 1, "the jobs ran on one thread");
    }

    #[test]
    fn first_runs_on_this_thread_and_one_thread_runs_every_job_here() {
        let here = std::thread::current().id();
        let (ran_here, on) =
            share(&[1, 2, 3], 1, || std::thread::current().id() == here, |_| std::thread::current().id());
        assert!(ran_here);
        assert!(on.iter().all(|&thread| thread == here));
        let (_, none) = share(&[] as &[u8], 2, || (), |&b| b);
        assert!(none.is_empty());
    }
}
