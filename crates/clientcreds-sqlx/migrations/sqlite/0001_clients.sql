-- clientcreds schema, SQLite. Times are microseconds since the Unix
-- epoch (BIGINT): exact round trips, no time zone, same as PostgreSQL.
CREATE TABLE clientcreds_clients (
    client_id           TEXT PRIMARY KEY,
    tenant              TEXT NOT NULL,
    name                TEXT NOT NULL,
    description         TEXT NOT NULL,
    owner               TEXT,
    created_by          TEXT NOT NULL,
    scopes              TEXT NOT NULL,
    audiences           TEXT NOT NULL,
    extra_claims        TEXT NOT NULL,
    token_lifetime_secs BIGINT,
    status              TEXT NOT NULL,
    grace_until         BIGINT,
    replaced_by         TEXT,
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL,
    last_used_at        BIGINT,
    version             BIGINT NOT NULL
);
-- Keyset pagination within a tenant.
CREATE INDEX clientcreds_clients_page ON clientcreds_clients (tenant, created_at, client_id);
CREATE INDEX clientcreds_clients_status ON clientcreds_clients (tenant, status);
CREATE INDEX clientcreds_clients_owner ON clientcreds_clients (tenant, owner);

CREATE TABLE clientcreds_secrets (
    client_id      TEXT NOT NULL REFERENCES clientcreds_clients (client_id) ON DELETE CASCADE,
    position       INTEGER NOT NULL,
    secret_id      TEXT NOT NULL,
    hash           TEXT NOT NULL,
    display_prefix TEXT NOT NULL,
    label          TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    expires_at     BIGINT,
    grace_until    BIGINT,
    revoked_at     BIGINT,
    last_used_at   BIGINT,
    PRIMARY KEY (client_id, secret_id)
);

CREATE TABLE clientcreds_audit (
    seq       INTEGER PRIMARY KEY AUTOINCREMENT,
    at        BIGINT NOT NULL,
    tenant    TEXT NOT NULL,
    client_id TEXT,
    actor     TEXT NOT NULL,
    action    TEXT NOT NULL,
    outcome   TEXT NOT NULL,
    detail    TEXT
);
CREATE INDEX clientcreds_audit_tenant ON clientcreds_audit (tenant, seq);

CREATE TABLE clientcreds_activity (
    seq       INTEGER PRIMARY KEY AUTOINCREMENT,
    at        BIGINT NOT NULL,
    tenant    TEXT,
    client_id TEXT NOT NULL,
    kind      TEXT NOT NULL
);
CREATE INDEX clientcreds_activity_tenant ON clientcreds_activity (tenant, seq);
