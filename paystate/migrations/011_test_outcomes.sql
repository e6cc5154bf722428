-- The outcome a test-mode payment's instrument decided when it was created, the only time its
-- card number was known: 'success' or the error code the payment fails with (CARD_DECLINED,
-- INSUFFICIENT_FUNDS, PAYMENT_FAILED). NULL: the acquirer decides when the payment settles.
-- Nothing else derived from a card number is ever stored.
ALTER TABLE payments ADD COLUMN test_outcome TEXT;
