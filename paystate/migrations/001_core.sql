-- Core tables: merchants, orders, payments, refunds, the transition log and the outbox.
-- Money is BIGINT paise. Every entity row carries `version` for compare-and-set.

CREATE TABLE merchants (
    id              UUID PRIMARY KEY,
    name            TEXT NOT NULL,
    email           TEXT NOT NULL UNIQUE,
    api_key         TEXT NOT NULL UNIQUE,
    api_secret_hash TEXT NOT NULL,
    password_hash   TEXT,
    webhook_url     TEXT,
    webhook_secret  TEXT NOT NULL,
    version         INTEGER NOT NULL DEFAULT 1,
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL
);

CREATE TABLE orders (
    id          TEXT PRIMARY KEY,
    merchant_id UUID NOT NULL REFERENCES merchants(id),
    amount      BIGINT NOT NULL CHECK (amount >= 100),
    currency    TEXT NOT NULL,
    receipt     TEXT,
    notes       JSONB NOT NULL DEFAULT '{}'::jsonb,
    status      TEXT NOT NULL,
    version     INTEGER NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX orders_merchant_idx ON orders (merchant_id, created_at DESC);

CREATE TABLE payments (
    id                    TEXT PRIMARY KEY,
    order_id              TEXT NOT NULL REFERENCES orders(id),
    merchant_id           UUID NOT NULL REFERENCES merchants(id),
    amount                BIGINT NOT NULL CHECK (amount > 0),
    currency              TEXT NOT NULL,
    method                TEXT NOT NULL CHECK (method IN ('upi', 'card')),
    vpa                   TEXT,
    card_network          TEXT,
    card_last4            TEXT,
    status                TEXT NOT NULL,
    captured              BOOLEAN NOT NULL DEFAULT FALSE,
    error_code            TEXT,
    error_description     TEXT,
    amount_refunded       BIGINT NOT NULL DEFAULT 0,
    amount_refund_pending BIGINT NOT NULL DEFAULT 0,
    settle_due_at         TIMESTAMPTZ,
    version               INTEGER NOT NULL,
    created_at            TIMESTAMPTZ NOT NULL,
    updated_at            TIMESTAMPTZ NOT NULL,
    CHECK (amount_refunded >= 0 AND amount_refund_pending >= 0
           AND amount_refunded + amount_refund_pending <= amount)
);
CREATE INDEX payments_order_idx ON payments (order_id);
CREATE INDEX payments_merchant_idx ON payments (merchant_id, created_at DESC, id DESC);
CREATE INDEX payments_merchant_status_idx ON payments (merchant_id, status, created_at DESC);
CREATE INDEX payments_pending_due_idx ON payments (settle_due_at) WHERE status = 'pending';

CREATE TABLE refunds (
    id            TEXT PRIMARY KEY,
    payment_id    TEXT NOT NULL REFERENCES payments(id),
    order_id      TEXT NOT NULL REFERENCES orders(id),
    merchant_id   UUID NOT NULL REFERENCES merchants(id),
    amount        BIGINT NOT NULL CHECK (amount > 0),
    reason        TEXT,
    status        TEXT NOT NULL,
    settle_due_at TIMESTAMPTZ,
    processed_at  TIMESTAMPTZ,
    version       INTEGER NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL
);
CREATE INDEX refunds_payment_idx ON refunds (payment_id, created_at);
CREATE INDEX refunds_order_idx ON refunds (order_id);
CREATE INDEX refunds_merchant_idx ON refunds (merchant_id, created_at DESC);
CREATE INDEX refunds_pending_due_idx ON refunds (settle_due_at) WHERE status = 'pending';

-- Append-only history: one row per transition, seq = the entity's version after it.
CREATE TABLE transitions (
    id          BIGSERIAL PRIMARY KEY,
    entity_type TEXT NOT NULL,
    entity_id   TEXT NOT NULL,
    seq         INTEGER NOT NULL,
    from_state  TEXT,
    to_state    TEXT NOT NULL,
    trigger     TEXT NOT NULL,
    data        JSONB NOT NULL DEFAULT '{}'::jsonb,
    at          TIMESTAMPTZ NOT NULL,
    UNIQUE (entity_id, seq)
);
CREATE INDEX transitions_type_at_idx ON transitions (entity_type, at DESC);

-- Events and jobs recorded in the same transaction as the state change, published after commit.
-- `id` is chosen by the writer (a UUID), so a batch inserts its rows without RETURNING;
-- `seq` keeps the order in which the relay republishes.
CREATE TABLE outbox (
    id           UUID PRIMARY KEY,
    seq          BIGSERIAL NOT NULL,
    stream       TEXT NOT NULL,
    payload      JSONB NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    published_at TIMESTAMPTZ
);
CREATE INDEX outbox_unpublished_idx ON outbox (seq) WHERE published_at IS NULL;
