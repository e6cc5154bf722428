-- Webhook endpoints: several per merchant and mode, each with its own URL, event filter, secret
-- (rolled with an overlap), body format and health. A merchant's one URL of before becomes its
-- default endpoint (is_default), which PUT /api/v1/merchant/webhook keeps updating.
CREATE TABLE webhook_endpoints (
    id                  TEXT PRIMARY KEY,
    merchant_id         UUID NOT NULL REFERENCES merchants(id),
    livemode            BOOLEAN NOT NULL,
    url                 TEXT NOT NULL,
    enabled_events      TEXT[] NOT NULL,
    description         TEXT,
    format              TEXT NOT NULL DEFAULT 'paystate' CHECK (format IN ('paystate', 'razorpay')),
    status              TEXT NOT NULL DEFAULT 'enabled' CHECK (status IN ('enabled', 'disabled')),
    disabled_reason     TEXT,
    secret              TEXT NOT NULL,
    -- A rolled secret signs beside the new one until previous_expires_at.
    previous_secret     TEXT,
    previous_expires_at TIMESTAMPTZ,
    is_default          BOOLEAN NOT NULL DEFAULT false,
    -- Since when every attempt has failed (NULL after a success): what disables a dead endpoint.
    failing_since       TIMESTAMPTZ,
    -- Deleted endpoints stay as rows, so their deliveries keep their history and endpoint_id.
    deleted_at          TIMESTAMPTZ,
    created_at          TIMESTAMPTZ NOT NULL,
    updated_at          TIMESTAMPTZ NOT NULL
);
-- The fan-out reads the live endpoints of a batch's merchants; the API lists one mode's.
CREATE INDEX webhook_endpoints_merchant_idx ON webhook_endpoints (merchant_id, livemode, created_at)
    WHERE deleted_at IS NULL;
CREATE UNIQUE INDEX webhook_endpoints_default_idx ON webhook_endpoints (merchant_id, livemode)
    WHERE is_default AND deleted_at IS NULL;

-- Every merchant with a URL gets a default endpoint per mode, as that URL received the events of
-- both modes until now; its secret stays the merchant's webhook_secret.
INSERT INTO webhook_endpoints (id, merchant_id, livemode, url, enabled_events, secret, is_default,
                               created_at, updated_at)
SELECT 'we_' || substr(md5(m.id::text || mode.live::text || clock_timestamp()::text), 1, 16),
       m.id, mode.live, m.webhook_url, ARRAY['*'], m.webhook_secret, true, now(), now()
FROM merchants m CROSS JOIN (VALUES (false), (true)) AS mode(live)
WHERE m.webhook_url IS NOT NULL;

-- A delivery belongs to one endpoint; one per (event, endpoint). event_id is the event's evt_ id.
ALTER TABLE webhook_logs ADD COLUMN endpoint_id TEXT REFERENCES webhook_endpoints(id);
ALTER TABLE webhook_logs ADD COLUMN event_id TEXT;
UPDATE webhook_logs w SET endpoint_id = e.id FROM webhook_endpoints e
WHERE e.merchant_id = w.merchant_id AND e.livemode = w.livemode AND e.is_default;
ALTER TABLE webhook_logs DROP CONSTRAINT webhook_logs_merchant_id_event_key_key;
CREATE UNIQUE INDEX webhook_logs_endpoint_event_idx ON webhook_logs (endpoint_id, event_key);
-- Deliveries without an endpoint (their merchant had removed its URL) keep their old identity.
CREATE UNIQUE INDEX webhook_logs_orphan_event_idx ON webhook_logs (merchant_id, event_key)
    WHERE endpoint_id IS NULL;
-- The freed slot of an endpoint takes that endpoint's next due delivery.
DROP INDEX webhook_logs_merchant_due_idx;
CREATE INDEX webhook_logs_endpoint_due_idx ON webhook_logs (endpoint_id, next_retry_at)
    WHERE status IN ('pending', 'retrying');
-- The endpoint's deliveries (the list's filter, recover, health), newest first.
CREATE INDEX webhook_logs_endpoint_idx ON webhook_logs (endpoint_id, created_at DESC);

ALTER TABLE merchants DROP COLUMN webhook_url;

-- Events: the outbox's rows of the events stream are the event log (written in the same
-- transaction as the change, once). Their evt_ id, merchant and mode are read out of the payload
-- by generated columns, so writing an event costs no second row; the relay's prune keeps them
-- 30 days instead of 7.
ALTER TABLE outbox ADD COLUMN event_id TEXT
    GENERATED ALWAYS AS (CASE WHEN payload->>'id' LIKE 'evt\_%' THEN payload->>'id' END) STORED;
ALTER TABLE outbox ADD COLUMN event_merchant_id UUID
    GENERATED ALWAYS AS (CASE WHEN payload->>'id' LIKE 'evt\_%'
                              THEN (payload->>'merchant_id')::uuid END) STORED;
ALTER TABLE outbox ADD COLUMN event_livemode BOOLEAN
    GENERATED ALWAYS AS (CASE WHEN payload->>'id' LIKE 'evt\_%'
                              THEN (payload->>'livemode')::boolean END) STORED;
CREATE INDEX outbox_events_idx ON outbox (event_merchant_id, event_livemode, seq DESC)
    WHERE event_id IS NOT NULL;
CREATE UNIQUE INDEX outbox_event_id_idx ON outbox (event_id) WHERE event_id IS NOT NULL;
