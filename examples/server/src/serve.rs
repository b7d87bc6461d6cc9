//! Serving threads: one listener, connections handed round-robin to
//! threads that each run a single-threaded runtime.
//!
//! A work-stealing runtime wakes an idle worker when a request arrives on
//! another, and under load that is a futex call, an inter-processor
//! interrupt and a context switch per request: about a tenth of a token's
//! time on two cores. Here a connection lives on one thread from accept to
//! close, so a request answered from memory (a token with the
//! authentication cache warm) never wakes another thread; accepting does,
//! once per connection. A database connection is driven by the runtime
//! that opened it, so a request that reaches the database may. The price:
//! a connection is not moved off a busy thread, which suits short requests
//! (tokens, keys, admin calls) and is why the default is one thread per
//! core.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::thread::JoinHandle;

use axum::serve::{Listener, ListenerExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};

use crate::Server;

/// Accepted connections for one serving thread.
type Handoff = mpsc::Sender<(std::net::TcpStream, SocketAddr)>;

/// Connections accepted but not yet taken by a serving thread, per thread:
/// beyond this, accepting waits and new connections queue in the kernel's
/// backlog.
const HANDOFF_QUEUE: usize = 256;

/// How long a shutdown waits for open requests before writing the queued
/// activity anyway and returning.
pub const DRAIN_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// The listener a serving thread's `axum::serve` reads: connections the
/// accepting task hands it.
struct HandedOver {
    incoming: mpsc::Receiver<(std::net::TcpStream, SocketAddr)>,
    local: SocketAddr,
}

impl Listener for HandedOver {
    type Io = TcpStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (TcpStream, SocketAddr) {
        loop {
            let Some((stream, peer)) = self.incoming.recv().await else {
                // The accepting task stopped: shutdown is under way, and
                // the graceful shutdown ends this thread's serving.
                return std::future::pending().await;
            };
            // Registered with this thread's runtime.
            match TcpStream::from_std(stream) {
                Ok(stream) => return (stream, peer),
                Err(error) => tracing::warn!(%error, %peer, "a connection could not be served"),
            }
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.local)
    }
}

impl Server {
    /// Serves [`Server::router`] on `listener` with `threads` serving
    /// threads (see [`crate::Config::serve_threads`]) until `shutdown`
    /// completes; then closes the listener, lets open requests finish (for
    /// at most [`DRAIN_TIMEOUT`]), writes what is still queued
    /// ([`Server::shutdown`]), and returns. Connections carry the peer's
    /// address (`ConnectInfo<SocketAddr>`, which the failure throttles key
    /// on) and `TCP_NODELAY`.
    ///
    /// The serving threads' runtimes stay up until the queue is written:
    /// a database connection opened by a request lives on the runtime
    /// that opened it. For the same reason, serve once and then drop the
    /// server: its pool may still hold connections of those runtimes.
    ///
    /// # Errors
    /// A runtime or thread that cannot be started.
    pub async fn serve(
        &self,
        listener: TcpListener,
        threads: usize,
        shutdown: impl Future<Output = ()>,
    ) -> io::Result<()> {
        let local = listener.local_addr()?;
        // Every runtime first, so a failure starts no thread.
        let runtimes = (0..threads.max(1))
            .map(|_| {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
            })
            .collect::<io::Result<Vec<_>>>()?;
        let (stop_tx, stop_rx) = watch::channel(false);
        let (release_tx, release_rx) = watch::channel(false);
        let (done_tx, mut done_rx) = mpsc::unbounded_channel::<()>();
        let mut handoffs: Vec<Handoff> = Vec::new();
        let mut joins: Vec<JoinHandle<()>> = Vec::new();
        for (n, runtime) in runtimes.into_iter().enumerate() {
            let (handoff, incoming) = mpsc::channel(HANDOFF_QUEUE);
            handoffs.push(handoff);
            let app = self
                .router()
                .into_make_service_with_connect_info::<SocketAddr>();
            let (mut stop, mut release, done) =
                (stop_rx.clone(), release_rx.clone(), done_tx.clone());
            let listener = HandedOver { incoming, local }.tap_io(|stream| {
                // One write per response already; no reason to wait.
                let _ = stream.set_nodelay(true);
            });
            let spawned = std::thread::Builder::new()
                .name(format!("serve-{n}"))
                .spawn(move || {
                    runtime.block_on(async move {
                        let _ = axum::serve(listener, app)
                            .with_graceful_shutdown(async move {
                                let _ = stop.wait_for(|stop| *stop).await;
                            })
                            .await;
                        let _ = done.send(());
                        drop(done);
                        let _ = release.wait_for(|release| *release).await;
                    });
                });
            match spawned {
                Ok(join) => joins.push(join),
                Err(error) => {
                    // Stop the threads already started before failing.
                    drop(handoffs);
                    let _ = stop_tx.send(true);
                    let _ = release_tx.send(true);
                    join_all(joins).await;
                    return Err(error);
                }
            }
        }
        drop(done_tx);

        accept(&listener, handoffs, shutdown).await;
        // New connections are refused from now on, not left in the backlog.
        drop(listener);
        let _ = stop_tx.send(true);
        // Every thread's open requests answered, or the deadline passed.
        let drained = tokio::time::timeout(DRAIN_TIMEOUT, async {
            while done_rx.recv().await.is_some() {}
        })
        .await
        .is_ok();
        // Write the activity still queued, then let the runtimes go.
        self.shutdown().await;
        let _ = release_tx.send(true);
        if drained {
            join_all(joins).await;
        } else {
            tracing::warn!(
                "requests were still open {}s after the shutdown began: exiting without them",
                DRAIN_TIMEOUT.as_secs()
            );
        }
        Ok(())
    }
}

/// Accepts until `shutdown`, handing connections round-robin; a thread
/// whose queue is full is passed over, one that stopped is dropped from
/// the round, and when every queue is full accepting waits for room.
async fn accept(
    listener: &TcpListener,
    mut handoffs: Vec<Handoff>,
    shutdown: impl Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    let mut next = 0usize;
    loop {
        tokio::select! {
            () = &mut shutdown => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let stream = match stream.into_std() {
                        Ok(stream) => stream,
                        Err(error) => {
                            tracing::warn!(%error, %peer, "a connection could not be handed over");
                            continue;
                        }
                    };
                    next = hand_over(&mut handoffs, next, (stream, peer)).await;
                }
                Err(error) if is_connection_error(&error) => {}
                Err(error) => {
                    // Out of file descriptors and the like: wait, as
                    // axum's own loop does, rather than spin.
                    tracing::error!(%error, "accepting a connection failed");
                    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                }
            },
        }
    }
}

/// Gives `connection` to the first thread from `next` on with room; the
/// index to start from next time.
async fn hand_over(
    handoffs: &mut Vec<Handoff>,
    next: usize,
    mut connection: (std::net::TcpStream, SocketAddr),
) -> usize {
    use mpsc::error::TrySendError;
    let mut tried = 0;
    while !handoffs.is_empty() {
        let n = next.wrapping_add(tried) % handoffs.len();
        let Some(handoff) = handoffs.get(n) else {
            break;
        };
        if tried >= handoffs.len() {
            // Every queue is full: wait for this one.
            match handoff.send(connection).await {
                Ok(()) => return n.wrapping_add(1),
                Err(mpsc::error::SendError(back)) => {
                    connection = back;
                    stopped(handoffs, n);
                    tried = 0;
                    continue;
                }
            }
        }
        match handoff.try_send(connection) {
            Ok(()) => return n.wrapping_add(1),
            Err(TrySendError::Full(back)) => {
                connection = back;
                tried += 1;
            }
            Err(TrySendError::Closed(back)) => {
                connection = back;
                stopped(handoffs, n);
            }
        }
    }
    tracing::error!(peer = %connection.1, "no serving thread is left: connection closed");
    next
}

/// Takes a stopped thread (only a panic ends one early) out of the round.
fn stopped(handoffs: &mut Vec<Handoff>, n: usize) {
    if n < handoffs.len() {
        handoffs.remove(n);
    }
    tracing::error!(
        left = handoffs.len(),
        "a serving thread has stopped: its connections go to the others"
    );
}

/// Errors of one connection (the peer left before it was accepted).
fn is_connection_error(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

async fn join_all(joins: Vec<JoinHandle<()>>) {
    let _ = tokio::task::spawn_blocking(move || {
        for join in joins {
            let _ = join.join();
        }
    })
    .await;
}
