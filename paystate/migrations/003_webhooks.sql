-- Webhook deliveries (one row per event and merchant, updated per attempt) and their attempts
-- (one row per attempt). Due times live here, so no scheduled retry depends on Redis.

CREATE TABLE webhook_logs (
    id              UUID PRIMARY KEY,
    -- Insertion order: newest-first listing of deliveries created in the same instant.
    seq             BIGINT GENERATED ALWAYS AS IDENTITY,
    merchant_id     UUID NOT NULL REFERENCES merchants(id),
    event           TEXT NOT NULL,
    -- The source event's identity: a duplicate copy of an event creates no second delivery.
    event_key       TEXT NOT NULL,
    -- The exact body, serialised once at creation and sent byte-for-byte on every attempt.
    payload         TEXT NOT NULL,
    status          TEXT NOT NULL
                    CHECK (status IN ('pending', 'retrying', 'succeeded', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_retry_at   TIMESTAMPTZ,
    last_attempt_at TIMESTAMPTZ,
    response_code   INTEGER,
    -- The claim of the process making the current attempt: nobody else attempts the delivery
    -- before lease_until; an attempt cut short by a crash is made again after it.
    lease_owner     TEXT,
    lease_token     UUID,
    lease_until     TIMESTAMPTZ,
    version         INTEGER NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL,
    UNIQUE (merchant_id, event_key)
);
CREATE INDEX webhook_logs_merchant_idx ON webhook_logs (merchant_id, created_at DESC, seq DESC);
CREATE INDEX webhook_logs_due_idx ON webhook_logs (next_retry_at)
    WHERE status IN ('pending', 'retrying');

CREATE TABLE webhook_attempts (
    id            BIGSERIAL PRIMARY KEY,
    delivery_id   UUID NOT NULL REFERENCES webhook_logs(id),
    attempt       INTEGER NOT NULL,
    at            TIMESTAMPTZ NOT NULL,
    response_code INTEGER,
    duration_ms   INTEGER NOT NULL,
    -- The first 1000 characters of the response body.
    response_body TEXT,
    error         TEXT,
    -- Which process made the attempt (its lease owner).
    worker        TEXT
);
CREATE INDEX webhook_attempts_delivery_idx ON webhook_attempts (delivery_id, id);
