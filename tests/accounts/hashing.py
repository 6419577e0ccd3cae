"""Cheap password hashing for tests that make many attempts: what they test is not the hash's cost."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from argon2 import PasswordHasher

from accounts import passwords


@contextmanager
def fast_hashing() -> Iterator[None]:
    """Hash and verify with Argon2id's smallest parameters while the block runs."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(passwords, "_hasher", PasswordHasher(time_cost=1, memory_cost=64, parallelism=1))
        passwords._dummy_hash.cache_clear()  # made again with these parameters
        try:
            yield
        finally:
            passwords._dummy_hash.cache_clear()  # and with the real ones after
