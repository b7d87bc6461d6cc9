//! The store conformance kit against PostgreSQL and SQLite (file and in memory).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use clientcreds_store::conformance;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_conforms() {
    conformance::run(common::postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_file_conforms() {
    conformance::run(common::sqlite_file).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_memory_conforms() {
    conformance::run(common::sqlite_memory).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_key_store_conforms() {
    conformance::run_key_store(common::postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_key_stores_conform() {
    conformance::run_key_store(common::sqlite_file).await;
    conformance::run_key_store(common::sqlite_memory).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_warning_ledger_conforms() {
    conformance::run_warning_ledger(common::postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_warning_ledgers_conform() {
    conformance::run_warning_ledger(common::sqlite_file).await;
    conformance::run_warning_ledger(common::sqlite_memory).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_replay_store_conforms() {
    conformance::run_replay_store(common::postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_replay_stores_conform() {
    conformance::run_replay_store(common::sqlite_file).await;
    conformance::run_replay_store(common::sqlite_memory).await;
}
