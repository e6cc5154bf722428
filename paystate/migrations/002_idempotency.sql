-- Idempotency keys (docs/api.md, "Idempotency"): one row per (merchant, key), kept 24 h.
--
-- A request claims its key before doing any work: the row is inserted `in_progress` with a lease
-- (`locked_until`, owned by `lock_token`) and the id of the object it is about to create
-- (`resource_id`, the recovery point). When the work is done the exact response bytes are
-- stored and the row becomes `completed`. A retry after a crash takes the expired lease over and
-- creates the object with the same `resource_id`, so it can never create a second one.

CREATE TABLE idempotency_keys (
    merchant_id   UUID NOT NULL REFERENCES merchants(id),
    key           TEXT NOT NULL CHECK (char_length(key) BETWEEN 1 AND 255),
    -- sha256 (hex) of method, path and the canonical JSON body.
    fingerprint   TEXT NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('in_progress', 'completed')),
    resource_id   TEXT NOT NULL,
    lock_token    TEXT,
    locked_until  TIMESTAMPTZ,
    response_code INTEGER,
    response_body BYTEA,
    created_at    TIMESTAMPTZ NOT NULL,
    expires_at    TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (merchant_id, key),
    CHECK (status = 'in_progress' OR (response_code IS NOT NULL AND response_body IS NOT NULL))
);
-- The engine's janitor deletes expired keys in batches, oldest first.
CREATE INDEX idempotency_keys_expires_idx ON idempotency_keys (expires_at);
