"""Accounts over HTTP: signing in and out, one's own account and tokens, the accounts, the audit log."""
