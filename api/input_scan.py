"""Checks of a request's raw parts, made before anything parses them. Pure.

A query string, a form body or a JSON body is scanned for what no endpoint may
receive: the NUL character (PostgreSQL's text and jsonb refuse it), a lone UTF-16
surrogate escape in JSON (no UTF-8 text holds one), and JSON nested deeper than
`MAX_JSON_DEPTH` (Python's parser recurses once per level). The depth is found
without parsing, by regular expressions over the bytes; only a body whose bytes hold a
suspect escape is then parsed to name the field. An ordinary body costs a few byte
searches (`benchmarks/input_scan.py` measures the others).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from itertools import accumulate
from urllib.parse import parse_qsl

from core.columns import NOT_FINITE_PROBLEM, NUL, NUL_ERROR, NUL_PROBLEM, PROBLEM_ERRORS, dotted, json_problems, shown

MAX_JSON_DEPTH = 32


@dataclass(frozen=True, slots=True)
class Refusal:
    """One invalid field, as the problem's `errors` entry names it."""

    location: str  # path, query or body
    field: str
    message: str
    type: str

    def entry(self) -> dict[str, str]:
        return {"location": self.location, "field": self.field, "message": self.message, "type": self.type}


def nul_refusal(location: str, field: str) -> Refusal:
    return Refusal(location, shown(field) or location, NUL_PROBLEM, NUL_ERROR)


def scan_pairs(location: str, encoded: bytes) -> Refusal | None:
    """The first name or value of a query string or urlencoded form that holds NUL."""
    if b"%00" not in encoded and b"\x00" not in encoded:
        return None
    # As Starlette reads them: latin-1 bytes, percent escapes decoded as UTF-8.
    for name, value in parse_qsl(encoded.decode("latin-1"), keep_blank_values=True):
        if NUL in name or NUL in value:
            return nul_refusal(location, name)
    return None


# A JSON string, or an unterminated one up to the end: one match per opening quote, so that
# no quote is tried twice (the scan stays linear on any input).
_STRINGS = re.compile(rb'"[^"\\]*(?:\\[\s\S]?[^"\\]*)*(?:"|\Z)')
_NOT_BRACKETS = bytes(byte for byte in range(256) if byte not in b"[]{}")
_DEPTH_STEP = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}


def json_too_deep(body: bytes, max_depth: int = MAX_JSON_DEPTH) -> bool:
    """Whether brackets outside strings nest deeper than `max_depth`."""
    if body.count(b"[") + body.count(b"{") <= max_depth:
        return False
    brackets = _STRINGS.sub(b"", body).translate(None, _NOT_BRACKETS)
    return max(accumulate(map(_DEPTH_STEP.__getitem__, brackets)), default=0) > max_depth


# What may hide a NUL or a lone surrogate in JSON text: a NUL byte (JSON refuses it in a string),
# a \u0000 escape, or a surrogate escape (most are halves of a well-formed pair).
_SUSPECT = re.compile(rb"\x00|\\u(?:0000|[dD][89a-fA-F])")


def scan_json_strings(body: bytes) -> Refusal | None:
    """The first string or key of a JSON body that is not text a column holds, named by its path.

    Only a body with a suspect escape is parsed, after `json_too_deep` has bounded the
    parser's recursion; a body the parser refuses is left to the endpoint, which refuses it too.
    """
    if (b"\\u" not in body and b"\x00" not in body) or _SUSPECT.search(body) is None:
        return None
    try:
        document = json.loads(body)
    except ValueError:
        return None
    for path, problem in json_problems(document):
        if problem != NOT_FINITE_PROBLEM:  # a number is for the field's type to judge
            return Refusal("body", dotted(path) or "body", problem, PROBLEM_ERRORS[problem])
    return None


def scan_json(body: bytes, max_depth: int = MAX_JSON_DEPTH) -> Refusal | None:
    if json_too_deep(body, max_depth):
        return Refusal("body", "body", f"JSON must not nest more than {max_depth} levels deep", "json_too_deep")
    return scan_json_strings(body)
