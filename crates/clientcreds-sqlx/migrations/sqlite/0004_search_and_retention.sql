-- Listing search in SQL, and cheap retention.
--
-- search_id and search_name hold the client id and name lowercased by
-- Rust's str::to_lowercase (the store writes them, and SqliteStore::migrate
-- fills them for rows written before this migration), so that `LIKE` on
-- them agrees exactly with the in-memory store's case-insensitive search.
-- SQLite has no trigram B-tree index; a covering index in listing order
-- lets a search walk the index alone, never the table.
ALTER TABLE clientcreds_clients ADD COLUMN search_id TEXT;
ALTER TABLE clientcreds_clients ADD COLUMN search_name TEXT;
CREATE INDEX clientcreds_clients_search ON clientcreds_clients
    (tenant, created_at, client_id, search_name, search_id);
-- Retention deletes by age.
CREATE INDEX clientcreds_activity_at ON clientcreds_activity (at);
CREATE INDEX clientcreds_audit_at ON clientcreds_audit (at);
