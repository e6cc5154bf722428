-- Which payments the public checkout made (POST /api/v1/payments/public): only these count
-- against the public attempt cap (PUBLIC_PAYMENT_ATTEMPTS), never the merchant's own.
ALTER TABLE payments ADD COLUMN public BOOLEAN NOT NULL DEFAULT false;

-- Earlier payments cannot all be told apart: those a shopper's browser sent with an
-- Idempotency-Key (scope 'public:<order id>', kept 24 h) are marked; the others count as the
-- merchant's, so an order may get up to the cap again after this migration.
UPDATE payments p SET public = true
  FROM idempotency_keys k
 WHERE k.scope LIKE 'public:%' AND k.resource_id = p.id;
