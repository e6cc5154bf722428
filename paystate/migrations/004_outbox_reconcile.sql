-- The webhook dispatcher re-reads recent event rows of the outbox (by stream, in seq order) to
-- create deliveries for events Redis lost before a consumer read them.
CREATE INDEX outbox_stream_seq_idx ON outbox (stream, seq);
