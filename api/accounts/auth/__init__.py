"""Signing in and out of the console, one's own account, and API tokens."""
