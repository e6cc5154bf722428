-- The people who run the gateway: operators, apart from merchants. A password for the console's
-- sign-in and an API token for the admin API, both stored hashed (scrypt; SHA-256 for the
-- token, a long random string).
CREATE TABLE operators (
    id            UUID PRIMARY KEY,
    email         TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('admin', 'viewer')),
    password_hash TEXT NOT NULL,
    token_hash    TEXT NOT NULL UNIQUE,
    created_at    TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX operators_email_key ON operators (lower(email));
