"""Who hears of changes to accounts, tokens and sessions, e.g. a cache of signed-in principals.

The accounts functions call `credentials_changed` after every change that can end or
alter a signed-in principal; the layers above subscribe without this package knowing them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

_listeners: list[Callable[[], None]] = []
_lock = threading.Lock()


def on_credentials_change(listener: Callable[[], None]) -> None:
    """Call `listener` after each such change from now on; subscribing it twice changes nothing."""
    with _lock:
        if listener not in _listeners:
            _listeners.append(listener)


def remove_credentials_listener(listener: Callable[[], None]) -> None:
    with _lock:
        if listener in _listeners:
            _listeners.remove(listener)


def credentials_changed() -> None:
    with _lock:
        listeners = tuple(_listeners)
    for listener in listeners:
        listener()
