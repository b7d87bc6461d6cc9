//! The server's log writer: one system call for many lines.
//!
//! With one `info` line per request, writing each line as it is made costs
//! a `write` per request (and the standard output's lock, contended between
//! the runtime's threads): about a sixth of a token's time under load.
//! [`BatchedLog`] gathers lines at `info` and below in memory and writes
//! them together every [`FLUSH_EVERY`], or at once when
//! [`FLUSH_AT_BYTES`] are waiting. A warning or an error is written at
//! once, after the lines waiting before it, so the order of lines is kept
//! and nothing serious waits. What a crash loses is at most the last
//! [`FLUSH_EVERY`] of `info` lines; a graceful stop (dropping the
//! [`LogGuard`]) writes everything.

use std::io::{self, Write};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::Duration;

use tracing::{Level, Metadata};
use tracing_subscriber::fmt::MakeWriter;

/// How long an `info` line may wait in memory before it is written.
pub const FLUSH_EVERY: Duration = Duration::from_millis(50);
/// Waiting lines are written at once when they reach this size.
pub const FLUSH_AT_BYTES: usize = 64 * 1024;

/// A [`MakeWriter`] for `tracing_subscriber::fmt` that batches lines (see
/// the module docs). Cheap to clone; every clone shares the same buffer.
#[derive(Clone)]
pub struct BatchedLog {
    shared: Arc<Shared>,
}

struct Shared {
    /// Lines not yet written.
    pending: Mutex<Vec<u8>>,
    /// The output, and an empty buffer to swap with `pending`. Taken while
    /// `pending` is still held, so batches are written in the order they
    /// were gathered; `pending` is released before the write, so request
    /// threads keep logging while it happens.
    out: Mutex<Output>,
}

struct Output {
    sink: Box<dyn Write + Send>,
    spare: Vec<u8>,
}

/// Writes what is waiting when dropped. The flushing thread ends once
/// every [`BatchedLog`] is gone too (a global subscriber keeps one for the
/// life of the process, so lines logged after the guard still go out
/// within [`FLUSH_EVERY`] while the process runs).
#[must_use = "dropping the guard writes what is waiting"]
pub struct LogGuard {
    log: BatchedLog,
}

impl BatchedLog {
    /// A log writing to standard output, flushed by a thread of its own
    /// every [`FLUSH_EVERY`] for as long as a [`BatchedLog`] lives.
    pub fn stdout() -> io::Result<(Self, LogGuard)> {
        Self::new(Box::new(io::stdout()), FLUSH_EVERY)
    }

    /// A log writing to `sink`, flushed every `every`.
    pub fn new(sink: Box<dyn Write + Send>, every: Duration) -> io::Result<(Self, LogGuard)> {
        let shared = Arc::new(Shared {
            pending: Mutex::new(Vec::with_capacity(FLUSH_AT_BYTES)),
            out: Mutex::new(Output {
                sink,
                spare: Vec::with_capacity(FLUSH_AT_BYTES),
            }),
        });
        let weak: Weak<Shared> = Arc::downgrade(&shared);
        std::thread::Builder::new()
            .name("log-flush".into())
            .spawn(move || {
                loop {
                    std::thread::sleep(every);
                    let Some(shared) = weak.upgrade() else {
                        return;
                    };
                    // A failed write has nowhere to be reported but the log.
                    let _ = shared.flush();
                }
            })?;
        let log = Self { shared };
        let guard = LogGuard { log: log.clone() };
        Ok((log, guard))
    }

    /// Writes every waiting line now.
    pub fn flush(&self) -> io::Result<()> {
        self.shared.flush()
    }
}

impl Shared {
    fn flush(&self) -> io::Result<()> {
        self.write_out(lock(&self.pending))
    }

    /// Writes `pending` (held) out, keeping the order of batches.
    fn write_out(&self, mut pending: MutexGuard<'_, Vec<u8>>) -> io::Result<()> {
        if pending.is_empty() {
            return Ok(());
        }
        let mut out = lock(&self.out);
        let Output { sink, spare } = &mut *out;
        std::mem::swap(&mut *pending, spare);
        drop(pending);
        let written = sink.write_all(spare).and_then(|()| sink.flush());
        spare.clear();
        written
    }
}

/// Shows how much waits (when the buffer is free), never the lines.
impl std::fmt::Debug for BatchedLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // `try_lock`: never wait on (or deadlock with) a writer.
        let waiting = self.shared.pending.try_lock().map(|p| p.len()).ok();
        f.debug_struct("BatchedLog")
            .field("waiting_bytes", &waiting)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for LogGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogGuard").finish_non_exhaustive()
    }
}

impl std::fmt::Debug for LogLine<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogLine")
            .field("urgent", &self.urgent)
            .finish_non_exhaustive()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding a buffer leaves bytes, never a broken invariant.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Drop for LogGuard {
    fn drop(&mut self) {
        let _ = self.log.flush();
    }
}

/// One event's writer: appends to the waiting lines.
pub struct LogLine<'a> {
    shared: &'a Shared,
    /// A warning or an error: written at once.
    urgent: bool,
}

impl Write for LogLine<'_> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        let mut pending = lock(&self.shared.pending);
        pending.extend_from_slice(bytes);
        if self.urgent || pending.len() >= FLUSH_AT_BYTES {
            self.shared.write_out(pending)?;
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for BatchedLog {
    type Writer = LogLine<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        LogLine {
            shared: &self.shared,
            urgent: true,
        }
    }

    fn make_writer_for(&'a self, meta: &Metadata<'_>) -> Self::Writer {
        LogLine {
            shared: &self.shared,
            urgent: *meta.level() <= Level::WARN,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A sink the test reads: what was written, and in how many writes.
    #[derive(Clone, Default)]
    struct Seen(Arc<Mutex<(Vec<u8>, usize)>>);

    impl Write for Seen {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            let mut seen = self.0.lock().unwrap();
            seen.0.extend_from_slice(bytes);
            seen.1 += 1;
            Ok(bytes.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl Seen {
        fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().0.clone()).unwrap()
        }
        fn writes(&self) -> usize {
            self.0.lock().unwrap().1
        }
    }

    /// Logs through `tracing_subscriber::fmt`, as the server does.
    fn line(log: &BatchedLog, level: Level, text: &str) {
        let subscriber = tracing_subscriber::fmt()
            .with_writer(log.clone())
            .with_ansi(false)
            .without_time()
            .with_level(false)
            .with_target(false)
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            if level == Level::WARN {
                tracing::warn!("{text}");
            } else {
                tracing::info!("{text}");
            }
        });
    }

    #[test]
    fn info_lines_wait_and_are_written_together() {
        let seen = Seen::default();
        // An interval the test never reaches: only the guard writes.
        let (log, guard) =
            BatchedLog::new(Box::new(seen.clone()), Duration::from_secs(3600)).unwrap();
        for n in 0..100 {
            line(&log, Level::INFO, &format!("line {n}"));
        }
        assert_eq!(seen.writes(), 0, "nothing written before the flush");
        drop(guard);
        assert_eq!(seen.writes(), 1, "a hundred lines in one write");
        let expected: String = (0..100).map(|n| format!("line {n}\n")).collect();
        assert_eq!(seen.text(), expected);
    }

    #[test]
    fn a_warning_is_written_at_once_after_what_waits() {
        let seen = Seen::default();
        let (log, _guard) =
            BatchedLog::new(Box::new(seen.clone()), Duration::from_secs(3600)).unwrap();
        line(&log, Level::INFO, "first");
        line(&log, Level::WARN, "second");
        assert_eq!(seen.text(), "first\nsecond\n");
        line(&log, Level::INFO, "third");
        assert_eq!(seen.text(), "first\nsecond\n", "info waits again");
    }

    #[test]
    fn the_thread_writes_within_the_interval_and_a_full_buffer_at_once() {
        let seen = Seen::default();
        let (log, _guard) =
            BatchedLog::new(Box::new(seen.clone()), Duration::from_millis(10)).unwrap();
        line(&log, Level::INFO, "soon");
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while seen.text().is_empty() {
            assert!(std::time::Instant::now() < deadline, "never flushed");
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(seen.text(), "soon\n");

        let seen = Seen::default();
        let (log, _guard) =
            BatchedLog::new(Box::new(seen.clone()), Duration::from_secs(3600)).unwrap();
        let big = "x".repeat(FLUSH_AT_BYTES);
        line(&log, Level::INFO, &big);
        assert_eq!(
            seen.text(),
            format!("{big}\n"),
            "a full buffer is written at once"
        );
    }
}
