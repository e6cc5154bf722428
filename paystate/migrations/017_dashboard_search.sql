-- The dashboard's search (Transactions page, ?q=): each key it matches on has an index scoped
-- by merchant and mode, so a search reads the matching rows only, however many payments the
-- merchant has. text_pattern_ops lets `id LIKE 'pay\_Bsu%'` use the index whatever the
-- database's collation; VPAs and emails are matched without regard to case.
CREATE INDEX payments_merchant_id_prefix_idx
    ON payments (merchant_id, livemode, id text_pattern_ops);
CREATE INDEX payments_merchant_vpa_idx
    ON payments (merchant_id, livemode, lower(vpa)) WHERE vpa IS NOT NULL;
CREATE INDEX payments_merchant_last4_idx
    ON payments (merchant_id, livemode, card_last4) WHERE card_last4 IS NOT NULL;
CREATE INDEX orders_merchant_receipt_idx
    ON orders (merchant_id, livemode, receipt) WHERE receipt IS NOT NULL;
-- Payments store no email; an order's notes may (notes.email, as Razorpay's integrations put it).
CREATE INDEX orders_merchant_email_idx
    ON orders (merchant_id, livemode, lower(notes->>'email')) WHERE notes ? 'email';
