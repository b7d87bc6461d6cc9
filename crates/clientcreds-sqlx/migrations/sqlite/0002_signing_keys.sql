-- Signing keys: the public JWK in clear, the private key only as text
-- sealed by the issuer under its master keys (AES-256-GCM). Instants are
-- microseconds since the Unix epoch, like every other table.
CREATE TABLE clientcreds_signing_keys (
    kid                TEXT PRIMARY KEY,
    algorithm          TEXT NOT NULL,
    public_jwk         TEXT NOT NULL,
    sealed_private_key TEXT NOT NULL,
    created_at         BIGINT NOT NULL,
    publish_from       BIGINT NOT NULL,
    sign_from          BIGINT NOT NULL,
    sign_until         BIGINT,
    unpublish_after    BIGINT
);

-- One row: the revision of the whole key set. Every change is conditional
-- on it (compare-and-set), so replicas never apply one rotation twice.
CREATE TABLE clientcreds_key_ring (
    id       INTEGER PRIMARY KEY CHECK (id = 1),
    revision BIGINT NOT NULL
);
INSERT INTO clientcreds_key_ring (id, revision) VALUES (1, 0);
