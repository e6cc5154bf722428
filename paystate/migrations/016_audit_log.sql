-- The operator console's tables: the audit log, operators' sign-in sessions, and counters of
-- objects per machine state kept by triggers (what /ops shows at any data size).

-- Every operator action and every merchant key or secret roll, appended in the transaction of
-- the change (or right after it, where the change commits on its own). Append-only: no code
-- path updates or deletes a row, and the database refuses to (the trigger below), so a bug or
-- a stray psql session cannot rewrite history.
CREATE TABLE audit_log (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at         TIMESTAMPTZ NOT NULL,
    -- An operator's email, a merchant's id, or the command line's user.
    actor      TEXT NOT NULL,
    actor_kind TEXT NOT NULL CHECK (actor_kind IN ('operator', 'merchant', 'cli')),
    action     TEXT NOT NULL,
    -- What the action was done to: "merchant:<uuid>", "endpoint:<id>", "delivery:<uuid>".
    target     TEXT NOT NULL,
    details    JSONB NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX audit_log_target_idx ON audit_log (target, id DESC);

CREATE FUNCTION paystate_audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END $$;
-- Statement level: refused even when no row matches, and TRUNCATE too.
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION paystate_audit_log_append_only();

-- Operators' console sessions, apart from merchants' dashboard_sessions: a dashboard cookie
-- names no row here and an operator's names none there. Only the token's SHA-256 is kept.
CREATE TABLE operator_sessions (
    id_hash      BYTEA PRIMARY KEY,
    operator_id  UUID NOT NULL REFERENCES operators(id) ON DELETE CASCADE,
    created_at   TIMESTAMPTZ NOT NULL,
    last_seen_at TIMESTAMPTZ NOT NULL,
    expires_at   TIMESTAMPTZ NOT NULL
);
CREATE INDEX operator_sessions_expires_idx ON operator_sessions (expires_at);

-- Objects per machine state and mode, kept by statement-level triggers with transition tables:
-- one aggregated upsert per statement, however many rows it wrote. The stripe is the writing
-- backend's pid, so no two transactions ever share a counter row (a backend runs one
-- transaction at a time): writers never wait on each other here, and cannot deadlock on
-- counters whatever order their statements run in. Stripe 0 holds the folded rows of backends
-- that have gone (paystate_fold_state_counts, run by the worker's janitor). The total of a
-- state is the sum of its stripes.
CREATE TABLE state_counts (
    kind     TEXT NOT NULL,
    livemode BOOLEAN NOT NULL,
    state    TEXT NOT NULL,
    stripe   INTEGER NOT NULL,
    n        BIGINT NOT NULL,
    PRIMARY KEY (kind, livemode, state, stripe)
);

CREATE FUNCTION paystate_count_states() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO state_counts AS c (kind, livemode, state, stripe, n)
        SELECT TG_ARGV[0], livemode, status, pg_backend_pid(), count(*) FROM new_rows
        GROUP BY livemode, status ORDER BY livemode, status
        ON CONFLICT (kind, livemode, state, stripe) DO UPDATE SET n = c.n + EXCLUDED.n;
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO state_counts AS c (kind, livemode, state, stripe, n)
        SELECT TG_ARGV[0], livemode, status, pg_backend_pid(), sum(d) FROM (
            SELECT livemode, status, 1 AS d FROM new_rows
            UNION ALL SELECT livemode, status, -1 FROM old_rows) moved
        GROUP BY livemode, status HAVING sum(d) <> 0 ORDER BY livemode, status
        ON CONFLICT (kind, livemode, state, stripe) DO UPDATE SET n = c.n + EXCLUDED.n;
    ELSE
        INSERT INTO state_counts AS c (kind, livemode, state, stripe, n)
        SELECT TG_ARGV[0], livemode, status, pg_backend_pid(), -count(*) FROM old_rows
        GROUP BY livemode, status ORDER BY livemode, status
        ON CONFLICT (kind, livemode, state, stripe) DO UPDATE SET n = c.n + EXCLUDED.n;
    END IF;
    RETURN NULL;
END $$;

-- A trigger with transition tables takes one event: three per table.
DO $$
DECLARE
    t record;
BEGIN
    FOR t IN SELECT * FROM (VALUES ('payments', 'payment'), ('refunds', 'refund'),
                                   ('webhook_logs', 'webhook_delivery')) AS v(tab, kind) LOOP
        EXECUTE format('CREATE TRIGGER %I AFTER INSERT ON %I REFERENCING NEW TABLE AS new_rows'
                       ' FOR EACH STATEMENT EXECUTE FUNCTION paystate_count_states(%L)',
                       t.tab || '_count_insert', t.tab, t.kind);
        EXECUTE format('CREATE TRIGGER %I AFTER UPDATE ON %I'
                       ' REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows'
                       ' FOR EACH STATEMENT EXECUTE FUNCTION paystate_count_states(%L)',
                       t.tab || '_count_update', t.tab, t.kind);
        EXECUTE format('CREATE TRIGGER %I AFTER DELETE ON %I REFERENCING OLD TABLE AS old_rows'
                       ' FOR EACH STATEMENT EXECUTE FUNCTION paystate_count_states(%L)',
                       t.tab || '_count_delete', t.tab, t.kind);
    END LOOP;
END $$;

-- Rows already there, counted once (the migration runs in one transaction, under the lock of
-- the migrations, before any process of this version writes).
INSERT INTO state_counts (kind, livemode, state, stripe, n)
SELECT 'payment', livemode, status, 0, count(*) FROM payments GROUP BY livemode, status
UNION ALL
SELECT 'refund', livemode, status, 0, count(*) FROM refunds GROUP BY livemode, status
UNION ALL
SELECT 'webhook_delivery', livemode, status, 0, count(*) FROM webhook_logs
GROUP BY livemode, status;

-- Folds the stripes of backends that no longer run into stripe 0, so the table stays a few
-- rows per live connection. Safe beside writers: a pid reused by a new backend meanwhile
-- either waits for the fold's delete and then inserts afresh, or is folded with its row; the
-- sums are kept either way. Returns how many rows were folded.
CREATE FUNCTION paystate_fold_state_counts() RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    folded integer;
BEGIN
    -- Two folds at once would only wait on each other's stripe-0 rows; one at a time is simpler.
    PERFORM pg_advisory_xact_lock(7020431016);
    WITH gone AS (
        DELETE FROM state_counts WHERE stripe <> 0
        AND stripe NOT IN (SELECT pid FROM pg_stat_activity WHERE pid IS NOT NULL)
        RETURNING kind, livemode, state, n
    ), sums AS (
        SELECT kind, livemode, state, sum(n)::bigint AS n, count(*) AS rows FROM gone
        GROUP BY kind, livemode, state
    ), kept AS (
        INSERT INTO state_counts AS c (kind, livemode, state, stripe, n)
        SELECT kind, livemode, state, 0, n FROM sums ORDER BY kind, livemode, state
        ON CONFLICT (kind, livemode, state, stripe) DO UPDATE SET n = c.n + EXCLUDED.n
    )
    SELECT coalesce(sum(rows), 0) INTO folded FROM sums;
    RETURN folded;
END $$;
