"""The listeners told of every change to accounts, tokens and sessions (the API's memory of principals)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from accounts import credentials_changed, on_credentials_change, remove_credentials_listener


@pytest.fixture
def listener() -> Iterator[tuple[Callable[[], None], list[str]]]:
    calls: list[str] = []

    def heard() -> None:
        calls.append("changed")

    yield heard, calls
    remove_credentials_listener(heard)


def test_a_listener_hears_each_change_once_however_often_it_subscribed(listener):
    heard, calls = listener
    on_credentials_change(heard)
    on_credentials_change(heard)
    credentials_changed()
    credentials_changed()
    assert calls == ["changed", "changed"]


def test_a_removed_listener_hears_nothing_more(listener):
    heard, calls = listener
    on_credentials_change(heard)
    remove_credentials_listener(heard)
    credentials_changed()
    assert calls == []
