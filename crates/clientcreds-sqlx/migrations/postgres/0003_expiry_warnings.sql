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

-- Secrets issued before this migration: the current secret of every active
-- client that has not expired gets its 30-day stage as its first due
-- instant. A run then sends its most recent stage that has come (one
-- warning, not a burst) and goes on from there.
UPDATE clientcreds_secrets SET warning_due = expires_at - 2592000000000
WHERE expires_at IS NOT NULL
  AND expires_at > CAST(EXTRACT(EPOCH FROM now()) * 1000000 AS BIGINT)
  AND grace_until IS NULL
  AND revoked_at IS NULL
  AND client_id IN (
      SELECT client_id FROM clientcreds_clients
      WHERE status = 'active' AND replaced_by IS NULL AND grace_until IS NULL
  );
