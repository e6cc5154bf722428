-- The outbox becomes an insert-only event log.
--
-- Before: every event and job row was inserted, then updated once published (published_at), and
-- a relay republished rows left unpublished. Each row so cost two heap tuples and ten index
-- entries (five indexes, the update could never be HOT: published_at is in a partial index's
-- predicate), about half of PostgreSQL's WAL per payment.
--
-- Now:
-- - Jobs (settle this payment or refund, attempt this delivery) are not stored: they are
--   published after commit, and a lost one is found by the sweepers, which read the due times
--   in the objects' own rows (they always did, for jobs Redis lost).
-- - Events are stored once and never updated. They are published after commit; an event lost
--   before its consumer read it is found by the webhook dispatcher's reconcile, which reads the
--   log in (xid, seq) order behind a high-water mark: every row whose transaction id is below
--   the oldest transaction still running is committed (or rolled back) for good, so a mark that
--   only passes such rows never skips a row that commits late.
ALTER TABLE outbox ADD COLUMN xid xid8;
DELETE FROM outbox WHERE event_id IS NULL;
-- Rows written before this migration sort before every later transaction.
UPDATE outbox SET xid = '1'::xid8;
ALTER TABLE outbox ALTER COLUMN xid SET DEFAULT pg_current_xact_id(),
                   ALTER COLUMN xid SET NOT NULL;
DROP INDEX outbox_unpublished_idx;
DROP INDEX outbox_stream_seq_idx;
ALTER TABLE outbox DROP CONSTRAINT outbox_pkey;
ALTER TABLE outbox DROP COLUMN published_at;
ALTER TABLE outbox ADD PRIMARY KEY (xid, seq);

-- Indexes the hot tables no longer need (pg_stat_user_indexes over a bench and the test suite
-- showed no scan of them); each cost an entry per insert, and per update where not HOT.
-- - The transition log's own primary key is (entity_id, seq), which every read uses; the
--   BIGSERIAL id was read by nothing.
ALTER TABLE transitions DROP CONSTRAINT transitions_pkey;
ALTER TABLE transitions DROP CONSTRAINT transitions_entity_id_seq_key,
                        ADD PRIMARY KEY (entity_id, seq);
ALTER TABLE transitions DROP COLUMN id;
-- - Lists by merchant are lists by merchant and mode (migration 012's *_merchant_mode_idx);
--   the operator console reads both modes as two such scans.
DROP INDEX payments_merchant_idx;
DROP INDEX orders_merchant_idx;
DROP INDEX webhook_logs_merchant_idx;
-- - A payments list filtered by status reads the merchant-and-mode index and filters: the
--   state views count from state_counts (migration 016), not from this index.
DROP INDEX payments_merchant_status_idx;
-- - The transitions by type and time serve one query, the operator console's rates over the
--   last minutes. The log is append-only in time order, so a BRIN index on `at` (a summary per
--   128 pages, no entry per row) finds the recent rows; the B-tree took one entry per
--   transition, six per payment.
DROP INDEX transitions_type_at_idx;
CREATE INDEX transitions_at_brin ON transitions USING brin (at);
