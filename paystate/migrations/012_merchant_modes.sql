-- Many merchants, each with two modes (test and live, as Stripe and Razorpay have them).
--
-- merchant_keys: one API key per (merchant, mode). Secrets are stored hashed only; a roll keeps
-- the previous hash until previous_expires_at, so a merchant can deploy the new secret first.
-- The key names the mode: a request is in the mode of the key it authenticated with.
CREATE TABLE merchant_keys (
    api_key              TEXT PRIMARY KEY,
    merchant_id          UUID NOT NULL REFERENCES merchants(id),
    mode                 TEXT NOT NULL CHECK (mode IN ('test', 'live')),
    secret_hash          TEXT NOT NULL,
    previous_secret_hash TEXT,
    previous_expires_at  TIMESTAMPTZ,
    created_at           TIMESTAMPTZ NOT NULL,
    rolled_at            TIMESTAMPTZ,
    UNIQUE (merchant_id, mode)
);

-- Existing merchants: their one key pair becomes their test key (the demo merchant keeps
-- key_test_abc123 / secret_test_xyz789). They get a live key only through the creation path
-- (paystate merchants create): nobody holds a live secret for them yet.
INSERT INTO merchant_keys (api_key, merchant_id, mode, secret_hash, created_at)
SELECT api_key, id, 'test', api_secret_hash, created_at FROM merchants;

-- merchant_keys is now the only place keys live: two copies of a secret hash could disagree.
ALTER TABLE merchants DROP COLUMN api_key, DROP COLUMN api_secret_hash;

-- A suspended merchant's API calls and checkout are refused; its accepted work completes.
ALTER TABLE merchants ADD COLUMN status TEXT NOT NULL DEFAULT 'active'
    CHECK (status IN ('active', 'suspended'));

-- Every object carries the mode of the key that created it (its order's, for payments and
-- refunds; the event's, for deliveries). Rows from before modes existed are test mode.
ALTER TABLE orders ADD COLUMN livemode BOOLEAN NOT NULL DEFAULT false;
ALTER TABLE payments ADD COLUMN livemode BOOLEAN NOT NULL DEFAULT false;
ALTER TABLE refunds ADD COLUMN livemode BOOLEAN NOT NULL DEFAULT false;
ALTER TABLE webhook_logs ADD COLUMN livemode BOOLEAN NOT NULL DEFAULT false;

-- Lists and stats read one merchant's objects of one mode.
CREATE INDEX orders_merchant_mode_idx ON orders (merchant_id, livemode, created_at DESC);
CREATE INDEX payments_merchant_mode_idx ON payments (merchant_id, livemode, created_at DESC, id DESC);
CREATE INDEX refunds_merchant_mode_idx ON refunds (merchant_id, livemode, created_at DESC);
CREATE INDEX webhook_logs_merchant_mode_idx ON webhook_logs (merchant_id, livemode, created_at DESC, seq DESC);
