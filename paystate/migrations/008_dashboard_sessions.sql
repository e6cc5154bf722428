-- Dashboard sessions, kept server-side so that logout, a password change or a suspension ends
-- them at once (a signed, stateless cookie stayed valid until it expired). The cookie holds 32
-- random bytes; only their SHA-256 is stored, so a leaked table (or backup) opens no session.
-- password_stamp is the merchant's password stamp at sign-in: a password changed by any path,
-- even a direct UPDATE, ends the sessions made before it.
CREATE TABLE dashboard_sessions (
    id_hash        BYTEA PRIMARY KEY,
    merchant_id    UUID NOT NULL REFERENCES merchants(id) ON DELETE CASCADE,
    password_stamp TEXT NOT NULL,
    created_at     TIMESTAMPTZ NOT NULL,
    last_seen_at   TIMESTAMPTZ NOT NULL,
    expires_at     TIMESTAMPTZ NOT NULL
);
CREATE INDEX dashboard_sessions_merchant_idx ON dashboard_sessions (merchant_id);
CREATE INDEX dashboard_sessions_expires_idx ON dashboard_sessions (expires_at);
