-- A webhook attempt is recorded once, as the transition it causes: its facts (attempt number,
-- when its POST started, response code, duration, the response's first 1000 characters, error,
-- worker) join that transition's data, and webhook_attempts goes. Recording an attempt so
-- writes a transitions row and the delivery's update, no row of its own to insert and index.
--
-- Matching, as the dispatcher wrote both in one transaction (engine/webhooks/actor.py): an
-- attempt row and the succeed / fail_attempt / give_up transition it caused have the same
-- delivery (entity_id) and attempt number (data.attempt), and the transition's
-- data.attempted_at is the attempt row's at (both the POST's start). Rows written before
-- transitions kept attempted_at (0.2.0 and earlier) are matched to the latest attempt of that
-- delivery and number that started at or before the transition was recorded: a result that
-- came back after its delivery moved on (a manual retry, a lease that ran out) is the only
-- other attempt of that number, and it started earlier. An attempt no transition records (that
-- late result: the dispatcher wrote it as history only) becomes a late_attempt transition
-- appended to its delivery's history, which changes nothing but the version, as the
-- dispatcher now records such a result.

-- Each attempt's facts as a transition's data holds them: nulls left out, its start as
-- Python's isoformat writes it (machines/history.trigger_data), in UTC.
CREATE TEMPORARY TABLE attempt_facts ON COMMIT DROP AS
SELECT id, jsonb_strip_nulls(jsonb_build_object(
    'attempt', attempt,
    'attempted_at', to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"'),
    'response_code', response_code, 'duration_ms', duration_ms,
    'response_body', response_body, 'error', error, 'worker', worker)) AS facts
FROM webhook_attempts;
ALTER TABLE attempt_facts ADD PRIMARY KEY (id);

-- Each attempt row and the transition (its primary key, entity_id and seq) that records it.
CREATE TEMPORARY TABLE attempt_pairs (
    attempt_id BIGINT PRIMARY KEY,
    entity_id  TEXT NOT NULL,
    seq        INTEGER NOT NULL,
    UNIQUE (entity_id, seq)
) ON COMMIT DROP;

-- Exact pairs. Two attempts of one number starting in the same microsecond (only under a
-- frozen test clock) pair in the order they were written.
INSERT INTO attempt_pairs (attempt_id, entity_id, seq)
SELECT a.id, t.entity_id, t.seq FROM (
    SELECT id, delivery_id::text AS entity_id, attempt, at,
           row_number() OVER (PARTITION BY delivery_id, attempt, at ORDER BY id) AS n
    FROM webhook_attempts) a
JOIN (
    SELECT entity_id, seq, (data->>'attempt')::int AS attempt,
           (data->>'attempted_at')::timestamptz AS at,
           row_number() OVER (PARTITION BY entity_id, data->>'attempt',
                              (data->>'attempted_at')::timestamptz ORDER BY seq) AS n
    FROM transitions
    WHERE entity_type = 'webhook_delivery' AND trigger IN ('succeed', 'fail_attempt', 'give_up')
      AND data ? 'attempted_at') t
USING (entity_id, attempt, at, n);

-- Transitions without attempted_at. Should two pick one attempt (clocks that went back), the
-- earlier transition keeps it and the other reads as an attempt at its own time.
INSERT INTO attempt_pairs (attempt_id, entity_id, seq)
SELECT DISTINCT ON (pick.id) pick.id, t.entity_id, t.seq
FROM transitions t
CROSS JOIN LATERAL (
    SELECT a.id FROM webhook_attempts a
    WHERE a.delivery_id = t.entity_id::uuid AND a.attempt = (t.data->>'attempt')::int
      AND a.at <= t.at
      AND NOT EXISTS (SELECT 1 FROM attempt_pairs p WHERE p.attempt_id = a.id)
    ORDER BY a.at DESC, a.id DESC LIMIT 1) pick
WHERE t.entity_type = 'webhook_delivery' AND t.trigger IN ('succeed', 'fail_attempt', 'give_up')
  AND NOT t.data ? 'attempted_at'
ORDER BY pick.id, t.seq;

-- The attempt's facts join its transition's data; what the transition holds already stays.
UPDATE transitions t SET data = f.facts || t.data
FROM attempt_pairs p JOIN attempt_facts f ON f.id = p.attempt_id
WHERE t.entity_id = p.entity_id AND t.seq = p.seq;

-- Attempts no transition records: appended to their delivery's history in the order they were
-- written, from its state to the same state, each at its start or, if that is earlier, at the
-- time of the transition before it (times never go back along seq: time travel walks them in
-- order). The delivery's version follows its last seq; nothing else of it changes.
WITH orphan AS (
    SELECT a.*, row_number() OVER (PARTITION BY a.delivery_id ORDER BY a.id) AS n
    FROM webhook_attempts a
    WHERE NOT EXISTS (SELECT 1 FROM attempt_pairs p WHERE p.attempt_id = a.id)
), last AS (
    SELECT w.id, w.status, greatest(w.version, max(t.seq)) AS seq, max(t.at) AS at
    FROM webhook_logs w LEFT JOIN transitions t ON t.entity_id = w.id::text
    WHERE w.id IN (SELECT delivery_id FROM orphan)
    GROUP BY w.id, w.status, w.version
), appended AS (
    INSERT INTO transitions (entity_type, entity_id, seq, from_state, to_state, trigger, data, at)
    SELECT 'webhook_delivery', o.delivery_id::text, l.seq + o.n, l.status, l.status,
           'late_attempt', f.facts,
           max(greatest(o.at, l.at)) OVER (PARTITION BY o.delivery_id ORDER BY o.n)
    FROM orphan o JOIN last l ON l.id = o.delivery_id JOIN attempt_facts f ON f.id = o.id
    RETURNING entity_id, seq, at
)
UPDATE webhook_logs w SET version = a.seq, updated_at = greatest(w.updated_at, a.at)
FROM (SELECT entity_id, max(seq) AS seq, max(at) AS at FROM appended GROUP BY entity_id) a
WHERE w.id = a.entity_id::uuid;

DROP TABLE webhook_attempts;

-- Room in each page for a delivery's updates to stay on it (HOT: no new index entries). Those
-- that change no indexed column can: a claim and a lease release (lease_*), a late attempt
-- (version, updated_at). An attempt's own transition moves status and next_retry_at, which
-- webhook_logs_due_idx and webhook_logs_endpoint_due_idx index (status in their WHERE), so it
-- never is. Pages written from now on keep the room; the rows there now are not moved.
ALTER TABLE webhook_logs SET (fillfactor = 80);
