-- Listing search in SQL, and cheap retention.
--
-- search_id and search_name hold the client id and name lowercased by
-- Rust's str::to_lowercase (the store writes them, and PgStore::migrate
-- fills them for rows written before this migration), so that `LIKE` on
-- them agrees exactly with the in-memory store's case-insensitive search.
-- A trigram index (pg_trgm, a trusted extension since PostgreSQL 13)
-- answers `LIKE '%text%'` without reading the tenant.
CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public;
ALTER TABLE clientcreds_clients ADD COLUMN search_id TEXT, ADD COLUMN search_name TEXT;
CREATE INDEX clientcreds_clients_search ON clientcreds_clients
    USING gin (search_name public.gin_trgm_ops, search_id public.gin_trgm_ops);
-- Retention deletes by age.
CREATE INDEX clientcreds_activity_at ON clientcreds_activity (at);
CREATE INDEX clientcreds_audit_at ON clientcreds_audit (at);
