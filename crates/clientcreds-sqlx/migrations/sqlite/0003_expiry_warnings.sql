-- Expiry warnings. Each secret says when its next warning is due; a run
-- reads only the due rows through the partial index. The ledger holds one
-- row per (secret, stage, recipient) once a runner has claimed it: a lease
-- while it is being sent, then sent or undeliverable, so that each warning
-- goes out once whatever the number of runners.
ALTER TABLE clientcreds_secrets ADD COLUMN warning_due BIGINT;
CREATE INDEX clientcreds_secrets_warning_due ON clientcreds_secrets (warning_due)
    WHERE warning_due IS NOT NULL;

CREATE TABLE clientcreds_warnings (
    secret_id       TEXT NOT NULL,
    stage_days      INTEGER NOT NULL,
    recipient       TEXT NOT NULL,
    tenant          TEXT NOT NULL,
    client_id       TEXT NOT NULL,
    state           TEXT NOT NULL,
    attempts        INTEGER NOT NULL,
    next_attempt_at BIGINT NOT NULL, -- the lease end while claimed, else the backoff end
    detail          TEXT NOT NULL,
    updated_at      BIGINT NOT NULL,
    PRIMARY KEY (secret_id, stage_days, recipient)
);
CREATE INDEX clientcreds_warnings_client ON clientcreds_warnings (tenant, client_id);
