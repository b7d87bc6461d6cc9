-- Issue 24: RFC 9449 §5.2 `dpop_bound_access_tokens` per client: the
-- token endpoint refuses the client's requests without a DPoP proof.
ALTER TABLE clientcreds_clients ADD COLUMN dpop_bound BOOLEAN NOT NULL DEFAULT FALSE;
