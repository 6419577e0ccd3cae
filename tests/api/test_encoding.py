"""Answers encoded from plain values, with a part written elsewhere spliced in."""

from __future__ import annotations

import json

from api.encoding import json_response_spliced


def test_the_spliced_value_takes_the_keys_place():
    response = json_response_spliced({"name": "a", "items": None, "after": 1}, "items", b'[{"x":1}]')
    assert response.media_type == "application/json"
    assert response.body == b'{"name":"a","items":[{"x":1}],"after":1}'


def test_a_missing_key_goes_last_and_a_string_holding_the_placeholder_is_left_alone():
    tricky = '"items":null'
    response = json_response_spliced({"name": tricky}, "items", b"[]")
    assert json.loads(response.body) == {"name": tricky, "items": []}
