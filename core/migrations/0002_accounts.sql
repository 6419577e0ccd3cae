-- Accounts, API tokens, console sessions and the audit log.

CREATE TABLE users (
    user_id        bigserial PRIMARY KEY,
    username       text NOT NULL UNIQUE CHECK (username ~ '^[A-Za-z0-9_.@-]{1,64}$'),
    display_name   text NOT NULL DEFAULT '',
    role           text NOT NULL CHECK (role IN ('technician', 'energy_manager', 'admin')),
    password_hash  text,                      -- argon2id; NULL: token-only account
    locale         text NOT NULL DEFAULT 'fr' CHECK (locale IN ('en', 'fr')),
    active         boolean NOT NULL DEFAULT true,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);

-- Bearer tokens for scripts and integrations: only a SHA-256 of the token is kept;
-- the token itself is shown once, when it is made.
CREATE TABLE api_tokens (
    token_id       bigserial PRIMARY KEY,
    user_id        bigint NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    name           text NOT NULL DEFAULT '',
    token_sha256   text NOT NULL UNIQUE,
    created_at     timestamptz NOT NULL DEFAULT now(),
    last_used_at   timestamptz,
    revoked_at     timestamptz
);

-- Console sessions (cookie holds the session id; only its SHA-256 is kept).
CREATE TABLE sessions (
    session_sha256 text PRIMARY KEY,
    user_id        bigint NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    csrf_token     text NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    expires_at     timestamptz NOT NULL
);
CREATE INDEX sessions_user_idx ON sessions (user_id);

-- Who did what, when, with the state before and after.
CREATE TABLE audit_log (
    audit_id    bigserial PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT now(),
    actor       text NOT NULL,             -- username, or 'anonymous' / 'system'
    action      text NOT NULL,             -- e.g. login_failed, lamp.update, user.create
    target      text NOT NULL DEFAULT '',
    before      jsonb,
    after       jsonb,
    client_ip   text
);
CREATE INDEX audit_log_at_idx ON audit_log (at DESC);
