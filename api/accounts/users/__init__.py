"""The accounts, for administrators."""
