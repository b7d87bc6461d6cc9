//! The invalidation listener notices a connection that died without a
//! word (issue 20): a TCP proxy between it and PostgreSQL stops forwarding
//! on the open connection without closing it, as a dropped route or a
//! proxy that cut an idle connection would. Without a heartbeat the
//! listener would wait on it for ever, its cache still "on" and deaf to
//! other replicas' changes.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clientcreds_sqlx::PgStore;
use clientcreds_store::AuthCache;
use sqlx::postgres::PgPoolOptions;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Forwards TCP to `target`; [`Proxy::freeze`] silences every connection
/// open at that moment (bytes are read and dropped, nothing is closed),
/// while later connections forward normally.
struct Proxy {
    port: u16,
    opened: Arc<AtomicU64>,
    frozen_below: Arc<AtomicU64>,
}

impl Proxy {
    async fn start(target: (String, u16)) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let opened = Arc::new(AtomicU64::new(0));
        let frozen_below = Arc::new(AtomicU64::new(0));
        let (count, frozen) = (opened.clone(), frozen_below.clone());
        tokio::spawn(async move {
            loop {
                let (client, _) = listener.accept().await.unwrap();
                let server = TcpStream::connect((target.0.as_str(), target.1))
                    .await
                    .unwrap();
                let id = count.fetch_add(1, Ordering::SeqCst);
                let (cr, cw) = client.into_split();
                let (sr, sw) = server.into_split();
                tokio::spawn(pipe(cr, sw, id, frozen.clone()));
                tokio::spawn(pipe(sr, cw, id, frozen.clone()));
            }
        });
        Self {
            port,
            opened,
            frozen_below,
        }
    }

    fn freeze(&self) {
        self.frozen_below
            .store(self.opened.load(Ordering::SeqCst), Ordering::SeqCst);
    }
}

async fn pipe(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    id: u64,
    frozen_below: Arc<AtomicU64>,
) {
    let mut buf = vec![0_u8; 16 * 1024];
    loop {
        let Ok(n) = from.read(&mut buf).await else {
            return;
        };
        if n == 0 {
            return;
        }
        if id < frozen_below.load(Ordering::SeqCst) {
            continue; // silenced: dropped, and the connection stays open
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

async fn until(what: &str, within: Duration, check: impl Fn() -> bool) -> Duration {
    let start = Instant::now();
    while !check() {
        assert!(start.elapsed() < within, "{what}: not within {within:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    start.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_heartbeat_notices_a_connection_that_died_silently() {
    let direct = common::new_schema().await;
    let target = (direct.get_host().to_owned(), direct.get_port());
    let proxy = Proxy::start(target).await;
    let through = direct.clone().host("127.0.0.1").port(proxy.port);
    let pool = PgPoolOptions::new()
        .max_connections(2)
        .connect_with(through)
        .await
        .unwrap();
    let store = PgStore::from_pool(pool).with_listener_heartbeat(Duration::from_millis(300));
    store.migrate().await.unwrap();
    let cache = Arc::new(AuthCache::default());
    let listener = store.spawn_invalidation_listener(cache.clone());
    until("listening", Duration::from_secs(10), || {
        cache.is_available()
    })
    .await;
    assert_eq!(listener.connections(), 1);

    proxy.freeze();
    // Two heartbeats (the silence, then the unanswered query), and slack
    // for a loaded machine.
    let noticed = until("noticed", Duration::from_secs(5), || !cache.is_available()).await;
    assert!(noticed >= Duration::from_millis(250), "{noticed:?}");
    // It reconnects on a new connection, and the cache is on again.
    until("back", Duration::from_secs(10), || {
        listener.connections() == 2 && cache.is_available()
    })
    .await;
}
