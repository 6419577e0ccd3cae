-- Credentials made by `streetlight demo`, which `serve` refuses to run with, and the
-- indexes behind the login rate limit and the audit-log filters.

-- True while the password is the one the demo generated (and printed); set_password clears it.
ALTER TABLE users ADD COLUMN demo_password boolean NOT NULL DEFAULT false;
-- True for the tokens the demo made (and printed, and kept in its data folder).
ALTER TABLE api_tokens ADD COLUMN demo boolean NOT NULL DEFAULT false;
CREATE INDEX api_tokens_user_idx ON api_tokens (user_id);

-- Failed sign-ins are counted from the audit log, so that the limit holds across processes.
CREATE INDEX audit_log_login_target_idx ON audit_log (target, at)
    WHERE action IN ('login', 'login_failed', 'password_change_failed');
CREATE INDEX audit_log_login_ip_idx ON audit_log (client_ip, at)
    WHERE action IN ('login_failed', 'password_change_failed');
CREATE INDEX audit_log_actor_idx ON audit_log (actor, at DESC);
CREATE INDEX audit_log_action_idx ON audit_log (action, at DESC);
