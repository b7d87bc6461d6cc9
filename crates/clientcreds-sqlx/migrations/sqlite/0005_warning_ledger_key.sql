-- The warning ledger's key names the tenant and the client: a secret id is
-- unique within its client only (48 random bits), so two clients' secrets
-- may share one, and a warning of one must never finish the other's.
-- SQLite cannot change a primary key: the table is rebuilt.
CREATE TABLE clientcreds_warnings_v2 (
    tenant          TEXT NOT NULL,
    client_id       TEXT NOT NULL,
    secret_id       TEXT NOT NULL,
    stage_days      INTEGER NOT NULL,
    recipient       TEXT NOT NULL,
    state           TEXT NOT NULL,
    attempts        INTEGER NOT NULL,
    next_attempt_at BIGINT NOT NULL, -- the lease end while claimed, else the backoff end
    detail          TEXT NOT NULL,
    updated_at      BIGINT NOT NULL,
    PRIMARY KEY (tenant, client_id, secret_id, stage_days, recipient)
);
INSERT INTO clientcreds_warnings_v2
    (tenant, client_id, secret_id, stage_days, recipient, state, attempts, next_attempt_at, detail, updated_at)
SELECT tenant, client_id, secret_id, stage_days, recipient, state, attempts, next_attempt_at, detail, updated_at
FROM clientcreds_warnings;
DROP TABLE clientcreds_warnings;
ALTER TABLE clientcreds_warnings_v2 RENAME TO clientcreds_warnings;
-- The runner's per-recipient rate limit counts a tenant's recent sends.
CREATE INDEX clientcreds_warnings_sent ON clientcreds_warnings (tenant, recipient, updated_at)
    WHERE state = 'sent';
