//! Long computations (the kNN graph and layout, the dendrogram, the thumbnail cache, the audit)
//! on threads of their own, polled once a frame.
//!
//! Why not Bevy's `AsyncComputeTaskPool`: Bevy compiles render pipelines as tasks on that pool
//! and blocks the frame until they are ready (`block_on_render_pipeline`), and the pool has a
//! quarter of the cores — one thread on a 2- or 4-core machine. A layout running there for a
//! minute held that thread, so the first pipeline waited for it: measured on 200k items, the
//! kNN graph was ready after 10 s and the first UMAP snapshot after 11 s, but nothing was drawn
//! until the layout had finished at 45 s. Our jobs block (they run rayon kernels inside), so
//! they get a thread each and the pool stays free for what Bevy puts there.
//!
//! Nor rayon's global pool: each job runs its kernels in a rayon pool of its own. The main
//! thread uses the global pool for short passes (recolouring a million points), and rayon's
//! workers take injected work only when their own queues are empty: a job's long parallel loop
//! (a million thumbnails) kept the first frame waiting 68 s for its end. Two jobs in separate
//! pools also do not wait for each other; the OS shares the cores among them.

use std::sync::{Mutex, mpsc};

/// A computation running on its own thread.
pub struct Job<T> {
    /// In a mutex only so the resources holding a job are `Sync`; only `poll` touches it.
    result: Mutex<mpsc::Receiver<T>>,
}

/// What a poll found.
#[derive(Debug, PartialEq)]
pub enum Polled<T> {
    Pending,
    Done(T),
    /// The thread ended without a result (it panicked; the panic is in the log).
    Lost,
}

impl<T: Send + 'static> Job<T> {
    /// Start `work` on a new thread named `name`, its rayon kernels on a pool of its own (one
    /// thread per core).
    pub fn spawn(name: &str, work: impl FnOnce() -> T + Send + 'static) -> Result<Self, String> {
        let (send, result) = mpsc::sync_channel(1);
        let pool_name = name.to_owned();
        let pool = rayon::ThreadPoolBuilder::new()
            .thread_name(move |i| format!("{pool_name} {i}"))
            .build()
            .map_err(|e| format!("cannot start the threads for the {name}: {e}"))?;
        std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || {
                // The receiver is gone when the job was dropped: nobody wants the result.
                let _ = send.send(pool.install(work));
            })
            .map_err(|e| format!("cannot start a thread for the {name}: {e}"))?;
        Ok(Self {
            result: Mutex::new(result),
        })
    }

    /// The result if it is there; never waits.
    pub fn poll(&mut self) -> Polled<T> {
        let result = match self.result.get_mut() {
            Ok(r) => r,
            Err(poisoned) => poisoned.into_inner(),
        };
        match result.try_recv() {
            Ok(v) => Polled::Done(v),
            Err(mpsc::TryRecvError::Empty) => Polled::Pending,
            Err(mpsc::TryRecvError::Disconnected) => Polled::Lost,
        }
    }
}

impl<T: Send + 'static, E: From<String> + Send + 'static> Job<Result<T, E>> {
    /// The result if it is there, a lost thread as an error; `None` while it runs.
    pub fn poll_result(&mut self) -> Option<Result<T, E>> {
        match self.poll() {
            Polled::Pending => None,
            Polled::Done(r) => Some(r),
            Polled::Lost => Some(Err(E::from(
                "the computation stopped unexpectedly (see the log above)".to_owned(),
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bevy::tasks::{AsyncComputeTaskPool, TaskPool, futures_lite::future};

    fn wait<T: Send + 'static>(job: &mut Job<T>) -> Polled<T> {
        for _ in 0..2000 {
            match job.poll() {
                Polled::Pending => std::thread::sleep(std::time::Duration::from_millis(1)),
                other => return other,
            }
        }
        Polled::Pending
    }

    #[test]
    fn a_job_returns_its_result_or_says_it_was_lost() {
        let mut job = Job::spawn("test", || 6 * 7).expect("thread");
        assert_eq!(wait(&mut job), Polled::Done(42));
        let mut lost: Job<u32> = Job::spawn("test", || panic!("on purpose")).expect("thread");
        assert_eq!(wait(&mut lost), Polled::Lost);
        let mut failed: Job<Result<u32, String>> =
            Job::spawn("test", || panic!("on purpose")).expect("thread");
        let outcome = loop {
            if let Some(r) = failed.poll_result() {
                break r;
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        };
        assert!(outcome.is_err_and(|e| e.contains("stopped unexpectedly")));
    }

    #[test]
    fn a_running_job_leaves_bevys_async_pool_free() {
        // One async thread, as on a 2-core machine.
        let pool = AsyncComputeTaskPool::get_or_init(|| {
            bevy::tasks::TaskPoolBuilder::new().num_threads(1).build()
        });
        let _: &TaskPool = pool;
        let (release, blocked) = mpsc::channel::<()>();
        let mut long = Job::spawn("long", move || blocked.recv().is_ok()).expect("thread");
        // What Bevy does with the pool meanwhile (compiling a pipeline) still completes.
        let quick = AsyncComputeTaskPool::get().spawn(async { 1 + 1 });
        assert_eq!(future::block_on(quick), 2);
        assert_eq!(long.poll(), Polled::Pending);
        release.send(()).expect("send");
        assert_eq!(wait(&mut long), Polled::Done(true));
    }

    #[test]
    fn a_running_job_leaves_rayons_global_pool_free() {
        use rayon::prelude::*;
        // A job whose parallel loop holds every one of its workers until released.
        let (release, blocked) = mpsc::channel::<()>();
        let blocked = Mutex::new(blocked);
        let mut long = Job::spawn("long", move || {
            (0..64).into_par_iter().for_each(|_| {
                if let Ok(rx) = blocked.lock() {
                    let _ = rx.recv_timeout(std::time::Duration::from_secs(60));
                }
            });
            true
        })
        .expect("thread");
        std::thread::sleep(std::time::Duration::from_millis(50));
        // A short pass on the global pool, as the main thread runs one, still completes.
        let (done, finished) = mpsc::channel();
        std::thread::spawn(move || {
            let sum: u64 = (0..1000u64).into_par_iter().sum();
            let _ = done.send(sum);
        });
        // Generous: other tests share the global pool; without the job's own pool this waits
        // for the job's loop, which holds its workers until released below.
        let quick = finished.recv_timeout(std::time::Duration::from_secs(30));
        for _ in 0..64 {
            let _ = release.send(());
        }
        assert_eq!(quick, Ok(499_500));
        assert_eq!(wait(&mut long), Polled::Done(true));
    }
}
