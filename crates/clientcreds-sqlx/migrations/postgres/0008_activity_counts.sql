-- Issue 25: the activity log's aggregate. Token issuance (and refusals of
-- known clients) is counted per tenant, client, secret, source and minute
-- instead of written one row per token; writers add to a row with
-- INSERT ... ON CONFLICT DO UPDATE, so replicas sharing the database add
-- up. `minute` is the minute's first instant in microseconds since the
-- Unix epoch; '' stands for "none" in secret_id and source; reason is ''
-- for issued tokens and the refusal's code otherwise. Text is in the "C"
-- collation so reads order bytewise, as the other stores do.
CREATE TABLE clientcreds_activity_counts (
    tenant    TEXT COLLATE "C" NOT NULL,
    minute    BIGINT NOT NULL,
    client_id TEXT COLLATE "C" NOT NULL,
    secret_id TEXT COLLATE "C" NOT NULL,
    source    TEXT COLLATE "C" NOT NULL,
    reason    TEXT COLLATE "C" NOT NULL,
    count     BIGINT NOT NULL,
    PRIMARY KEY (tenant, minute, client_id, secret_id, source, reason)
);
-- Retention deletes by age.
CREATE INDEX clientcreds_activity_counts_minute ON clientcreds_activity_counts (minute);
