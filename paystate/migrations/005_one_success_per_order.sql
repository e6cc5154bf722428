-- One successful payment per order, and public idempotency keys in a namespace of their own.

-- Which payment paid the order: the one payment of the order that may succeed, be captured and
-- be refunded.
ALTER TABLE orders ADD COLUMN paid_payment_id TEXT;

UPDATE orders o SET paid_payment_id = t.data ->> 'payment_id'
  FROM transitions t
 WHERE t.entity_id = o.id AND t.trigger = 'mark_paid';

-- The shard decides it; the database backs it. Skipped (with a notice) on a database that already
-- holds an order paid twice, which an operator must settle by hand first.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM payments WHERE status = 'success'
               GROUP BY order_id HAVING count(*) > 1) THEN
        RAISE NOTICE 'orders with more than one successful payment exist: index not created';
    ELSE
        CREATE UNIQUE INDEX payments_one_success_per_order ON payments (order_id)
         WHERE status = 'success';
    END IF;
END $$;

-- '' for the merchant's own keys; 'public:<order id>' for keys sent by shoppers' browsers, so
-- they neither collide with nor reveal the merchant's keys.
ALTER TABLE idempotency_keys ADD COLUMN scope TEXT NOT NULL DEFAULT '';
ALTER TABLE idempotency_keys DROP CONSTRAINT idempotency_keys_pkey;
ALTER TABLE idempotency_keys ADD PRIMARY KEY (merchant_id, scope, key);

-- Keys the gateway makes for itself, shared by every process: today the key of the card part of
-- an idempotency fingerprint.
CREATE TABLE gateway_keys (
    name   TEXT PRIMARY KEY,
    secret BYTEA NOT NULL CHECK (octet_length(secret) >= 32)
);
