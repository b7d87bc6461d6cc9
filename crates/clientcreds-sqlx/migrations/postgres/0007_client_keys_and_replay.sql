-- Issue 23: keys instead of secrets. A client's token_endpoint_auth_method
-- (RFC 7591 names, plus federated_jwt), its jwks_uri, its federated
-- credentials (a JSON array), and public keys kept beside secrets in
-- clientcreds_secrets (public_jwk set, hash holding the marker
-- 'public-key'), so keys rotate, expire and are warned about like secrets.
ALTER TABLE clientcreds_clients ADD COLUMN auth_method TEXT NOT NULL DEFAULT 'client_secret_basic';
ALTER TABLE clientcreds_clients ADD COLUMN jwks_uri TEXT;
ALTER TABLE clientcreds_clients ADD COLUMN federated TEXT NOT NULL DEFAULT '[]';
ALTER TABLE clientcreds_secrets ADD COLUMN public_jwk TEXT;

-- Single-use identifiers (client assertion and proof jti), across
-- replicas: one insert-if-absent per check; rows past expires_at are
-- pruned and may be reused.
CREATE TABLE clientcreds_replay (
    key        TEXT PRIMARY KEY,
    expires_at BIGINT NOT NULL
);
CREATE INDEX clientcreds_replay_expiry ON clientcreds_replay (expires_at);
