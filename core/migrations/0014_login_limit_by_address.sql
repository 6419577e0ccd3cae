-- The sign-in limit counts wrong passwords by client address only (never by account, which
-- anyone could lock out), and forgives those of an account that then signs in from the same
-- address. Counting uses audit_log_login_ip_idx (0003); the sign-ins that forgive, this index.
CREATE INDEX audit_log_login_address_idx ON audit_log (client_ip, target, at) WHERE action = 'login';

-- The failures are no longer looked up by account alone.
DROP INDEX IF EXISTS audit_log_login_target_idx;
