-- The warning ledger's key names the tenant and the client: a secret id is
-- unique within its client only (48 random bits), so two clients' secrets
-- may share one, and a warning of one must never finish the other's.
ALTER TABLE clientcreds_warnings DROP CONSTRAINT clientcreds_warnings_pkey;
ALTER TABLE clientcreds_warnings
    ADD PRIMARY KEY (tenant, client_id, secret_id, stage_days, recipient);
-- The primary key now serves the per-client reads.
DROP INDEX clientcreds_warnings_client;
-- The runner's per-recipient rate limit counts a tenant's recent sends.
CREATE INDEX clientcreds_warnings_sent ON clientcreds_warnings (tenant, recipient, updated_at)
    WHERE state = 'sent';
