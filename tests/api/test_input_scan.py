"""The scans of raw request parts (api/input_scan.py), on their own."""

from __future__ import annotations

import pytest

from api.input_scan import json_too_deep, scan_json, scan_pairs


@pytest.mark.parametrize(
    ("body", "field", "error_type"),
    [
        (b'{"notes": "a\\u0000b"}', "notes", "nul_character"),
        (b'{"a": [1, {"b": "x", "c": "\\u0000"}]}', "a.1.c", "nul_character"),
        (b'{"pole\\u0000": 1}', "pole\\u0000", "nul_character"),
        (b'"\\u0000"', "body", "nul_character"),
        (b'{"a": "\\ud800"}', "a", "lone_surrogate"),
        (b'{"a": "\\udc00\\ud800"}', "a", "lone_surrogate"),
        (b'{"a": "\\\\\\ud800"}', "a", "lone_surrogate"),
        (b'{"\\ud800": 1}', "\\ud800", "lone_surrogate"),
    ],
)
def test_text_a_column_cannot_hold_is_named_by_its_path(body: bytes, field: str, error_type: str) -> None:
    refusal = scan_json(body)
    assert refusal is not None
    assert (refusal.location, refusal.field, refusal.type) == ("body", field, error_type)


@pytest.mark.parametrize(
    "body",
    [
        b'{"a": "\\\\u0000"}',  # a backslash, then the text u0000
        b'{"a": "\\ud83d\\ude00"}',  # a well-formed pair
        b'{"a": "\\u00e9", "b": [1.5, null, true]}',
        b'{"a": "\\u0000"',  # not JSON: the endpoint's parser refuses it
        b'{"a": 1e400}',  # a number is for the field's type
    ],
)
def test_what_a_column_holds_passes(body: bytes) -> None:
    assert scan_json(body) is None


def test_depth_counts_brackets_outside_strings_only() -> None:
    assert not json_too_deep(b"[" * 32 + b"]" * 32)
    assert json_too_deep(b"[" * 33 + b"]" * 33)
    assert json_too_deep(b'{"a":' * 33 + b"1" + b"}" * 33)
    assert not json_too_deep(b'["' + b"[" * 100 + b'"]')
    assert not json_too_deep(b'["\\"' + b"[" * 100 + b'"]')  # an escaped quote does not end the string
    assert json_too_deep(b'["\\\\"' + b"," + b"[" * 100)  # an escaped backslash does
    assert not json_too_deep(b"[]" * 1000)


def test_an_unterminated_string_ends_the_body() -> None:
    assert not json_too_deep(b'["' + b"[" * 100)
    assert not json_too_deep(b'"\\"' * 100_000)  # quotes that never close: one pass


@pytest.mark.parametrize(
    ("encoded", "field"),
    [(b"a=1&group_name=x%00y", "group_name"), (b"a%00b=1", "a\\u0000b"), (b"x=\x00", "x")],
)
def test_nul_in_a_query_or_form_is_named(encoded: bytes, field: str) -> None:
    refusal = scan_pairs("query", encoded)
    assert refusal is not None and (refusal.field, refusal.type) == (field, "nul_character")


def test_a_query_without_nul_passes() -> None:
    assert scan_pairs("query", b"group_name=centre&q=%C3%A9t%C3%A9&x=%0") is None
