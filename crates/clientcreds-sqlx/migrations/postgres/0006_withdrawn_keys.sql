-- Kids withdrawn for good ("withdraw now", for a compromised key). A key
-- row that comes back (restored from a backup, say) is never published or
-- used again, and the store refuses to insert one of these kids.
CREATE TABLE clientcreds_withdrawn_keys (
    kid TEXT PRIMARY KEY
);
