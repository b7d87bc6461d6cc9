//! A URL of the wrong database is a typed error naming the scheme (never
//! the password), before any connection is tried.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use clientcreds_sqlx::{PgStore, SqliteStore};
use clientcreds_store::StoreError;

#[tokio::test]
async fn a_postgres_url_given_to_the_sqlite_store_says_so() {
    let error = SqliteStore::connect("postgres://app:hunter2@db.internal/app")
        .await
        .unwrap_err();
    match &error {
        StoreError::WrongUrlScheme {
            store,
            expected,
            found,
            ..
        } => {
            assert_eq!(*store, "SqliteStore");
            assert_eq!(*expected, "sqlite");
            assert_eq!(found, "postgres");
        }
        other => panic!("{other:?}"),
    }
    let text = error.to_string();
    assert_eq!(
        text,
        "SqliteStore needs a `sqlite:` URL, not `postgres:`; PostgreSQL is `PgStore`"
    );
    assert!(!format!("{error:?}").contains("hunter2"));
    // A SQLite URL still opens.
    assert!(SqliteStore::connect("sqlite::memory:").await.is_ok());
}

#[tokio::test]
async fn a_sqlite_url_given_to_the_postgres_store_says_so() {
    let error = PgStore::connect("sqlite://clientcreds.db")
        .await
        .unwrap_err();
    assert!(
        matches!(&error, StoreError::WrongUrlScheme { found, .. } if found == "sqlite"),
        "{error:?}"
    );
    assert!(error.to_string().contains("SQLite is `SqliteStore`"));
}
