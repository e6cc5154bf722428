-- A merchant's next due deliveries, oldest due first: the query that refills a slot the moment
-- an attempt of that merchant finishes.
CREATE INDEX webhook_logs_merchant_due_idx ON webhook_logs (merchant_id, next_retry_at)
    WHERE status IN ('pending', 'retrying');
