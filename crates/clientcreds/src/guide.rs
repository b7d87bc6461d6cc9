//! The guide: from nothing to an issuer, a verifying API and a caller,
//! then the reference products' configurations, storage, keys, replicas.
//!
//! | chapter | features its code needs |
//! |---|---|
//! | [`parties`]: issuing, verifying, calling | `server-axum`, `resource`, `reqwest`, `client` |
//! | [`product_a`]: rotation that issues a new client, with a grace window | `server-axum` |
//! | [`product_b`]: body credentials, a fixed scope, a caching caller | `server`, `client` |
//! | [`product_c`]: roles in 30-minute JWTs | `server` |
//! | [`product_d`]: scopes, and delete revokes live tokens | `server` |
//! | [`product_e`]: secrets that expire after 180 days, with warnings | `server-axum` |
//! | [`console`]: the admin console, mounted in one line | `console` |
//! | [`storage`]: memory, SQLite, PostgreSQL, your own | `server`, `sqlite` |
//! | [`keys`]: master keys, peppers and signing keys | `server` |
//! | [`replicas`]: several replicas on one database | `server` |
//! | [`foreign_issuers`]: tokens from an issuer other than ours | `resource`, `client` |
//! | [`keyed_clients`]: `private_key_jwt` and workload identity, no secrets | `server`, `client` |
//! | [`dpop`]: sender-constrained tokens on all three parties | `server`, `resource`, `tower`, `client` |
//!
//! Each chapter's code is a doctest that CI runs with exactly the
//! features of its row (`cargo test -p clientcreds --doc --features ...`)
//! and with every feature on. A chapter whose features are off shows
//! which ones it needs instead (docs.rs builds with all of them).
//!
//! The chapters use the in-memory store so that they run anywhere; swap
//! in `sqlx::PgStore` or `sqlx::SqliteStore` (see [`storage`]) for a real
//! deployment, and `MasterKeys` from your secret manager (see [`keys`]).

/// Declares a chapter: its text with its features on, else a line naming
/// the features it needs (so that links to it always resolve).
macro_rules! chapter {
    ($name:ident, $file:literal, $needs:literal, $($feature:literal),+) => {
        #[cfg_attr(all($(feature = $feature),+), doc = include_str!($file))]
        #[cfg_attr(
            not(all($(feature = $feature),+)),
            doc = concat!("This chapter needs the features ", $needs, " of `clientcreds`.")
        )]
        pub mod $name {}
    };
}

chapter!(
    parties,
    "../guide/parties.md",
    "`server-axum`, `resource`, `reqwest`, `client`",
    "server-axum",
    "resource",
    "reqwest",
    "client"
);
chapter!(
    product_a,
    "../guide/product_a.md",
    "`server-axum`",
    "server-axum"
);
chapter!(
    product_b,
    "../guide/product_b.md",
    "`server`, `client`",
    "server",
    "client"
);
chapter!(product_c, "../guide/product_c.md", "`server`", "server");
chapter!(product_d, "../guide/product_d.md", "`server`", "server");
chapter!(
    product_e,
    "../guide/product_e.md",
    "`server-axum`",
    "server-axum"
);
chapter!(console, "../guide/console.md", "`console`", "console");
chapter!(
    storage,
    "../guide/storage.md",
    "`server`, `sqlite`",
    "server",
    "sqlite"
);
chapter!(keys, "../guide/keys.md", "`server`", "server");
chapter!(replicas, "../guide/replicas.md", "`server`", "server");
chapter!(
    foreign_issuers,
    "../guide/foreign_issuers.md",
    "`resource`, `client`",
    "resource",
    "client"
);
chapter!(
    keyed_clients,
    "../guide/keyed_clients.md",
    "`server`, `client`",
    "server",
    "client"
);
chapter!(
    dpop,
    "../guide/dpop.md",
    "`server`, `resource`, `tower`, `client`",
    "server",
    "resource",
    "tower",
    "client"
);
