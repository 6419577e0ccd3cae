"""A fast path for the commonest message: one well-formed reading on a telemetry topic. Pure.

`decode_fast` returns what `decode.decode_message` returns, only sooner: it validates the
payload against a typed dict made from `TelemetryReading`'s own fields and bounds, does the
model's two Python checks itself and builds the row without a model object. It never
rejects; anything it cannot vouch for goes to the full path, so every dead letter comes from
the contract or from the columns' ranges (`decode.reading_column_problem`). Importing fails if
`TelemetryReading` gains a validator or setting unknown here.
"""

from __future__ import annotations

import operator
import re
from datetime import datetime
from typing import Annotated, Any, NotRequired

from pydantic import ConfigDict, TypeAdapter, ValidationError

# pydantic needs typing_extensions' TypedDict (not typing's) before Python 3.12.
from typing_extensions import TypedDict

from core.columns import REAL_UNDERFLOW, json_problems
from core.contract import MAX_PAYLOAD_BYTES, MEASUREMENT_FIELDS, TelemetryReading, TopicKind, is_too_far_in_future
from ingest.decode import READING_COLUMNS, REAL_FIELDS, Decoded, ReadingRow, TopicCache, decode_message

# Timestamps the fast path parses itself: YYYY-MM-DDTHH:MM:SS[.f{1,6}](Z|±HH:MM). Within
# this shape, datetime.fromisoformat and pydantic agree on every date they both accept,
# and fromisoformat refuses the impossible ones (30 February, month 13, year 0), which then
# go to pydantic for their dead letter. Anything else (a lowercase 't', a space, seven
# fractional digits, an offset without a colon) takes the full path.
_PLAIN_TS = re.compile(
    r"\d{4}-\d\d-\d\dT(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d(?:\.\d{1,6})?(?:Z|[+-](?:[01]\d|2[0-3]):[0-5]\d)"
)

# What the fast path knows of the contract; anything else makes the import fail.
_KNOWN_FIELD_VALIDATORS = {"_check_ts"}  # done here: `ts` must be a string of the plain shape
_KNOWN_MODEL_VALIDATORS = {"_has_a_measurement"}  # done here
_KNOWN_CONFIG = ConfigDict(strict=True, allow_inf_nan=False, extra="allow")


def _check_contract() -> None:
    decorators = TelemetryReading.__pydantic_decorators__
    unknown = (
        set(decorators.field_validators) - _KNOWN_FIELD_VALIDATORS
        | set(decorators.model_validators) - _KNOWN_MODEL_VALIDATORS
        | set(decorators.validators)
        | set(decorators.root_validators)
    )
    if unknown:
        raise ImportError(f"ingest.fast_decode does not know the TelemetryReading validators {sorted(unknown)}")
    model_config: dict[str, Any] = dict(TelemetryReading.model_config)
    config = {key: model_config.get(key) for key in _KNOWN_CONFIG}
    if config != _KNOWN_CONFIG:
        raise ImportError(f"ingest.fast_decode expects TelemetryReading's configuration {_KNOWN_CONFIG}, got {config}")
    if list(TelemetryReading.model_fields) != list(READING_COLUMNS[1:-1]):
        raise ImportError("ingest.fast_decode expects TelemetryReading's fields to be the readings table's columns")
    for name, info in TelemetryReading.model_fields.items():
        if name != "ts" and info.default is not None:
            raise ImportError(f"ingest.fast_decode expects TelemetryReading.{name} to be optional (default None)")


def _reading_dict_adapter() -> TypeAdapter:
    """A TypedDict with TelemetryReading's fields, types and constraints: `ts` a required
    string (its shape is checked here), every other field optional. Unknown keys are kept."""
    fields: dict[str, Any] = {"ts": str}
    for name, info in TelemetryReading.model_fields.items():
        if name != "ts":
            fields[name] = NotRequired[Annotated[info.annotation, *info.metadata]]
    # Built at run time from the model's fields, which a static TypedDict cannot express.
    make_typed_dict: Any = TypedDict
    reading_dict = make_typed_dict("ReadingDict", fields)
    reading_dict.__pydantic_config__ = ConfigDict(**_KNOWN_CONFIG)
    return TypeAdapter(reading_dict)


_check_contract()
_READING_DICT = _reading_dict_adapter()
_AFTER_TS = READING_COLUMNS[2:-1]  # seq, then the measurements
_KNOWN_KEYS = frozenset(READING_COLUMNS[1:-1])
_REALS = operator.itemgetter(*(_AFTER_TS.index(name) for name in REAL_FIELDS))
# A number small enough to round to zero in a `real` column is written with a negative
# exponent or 45 zeros after the point: a payload with neither needs no look at its values.
# None is large enough to round to infinity: the contract bounds every `real` field far below
# (tests/ingest/test_store.py checks it).
_ZEROS = b"0" * 45


def single_reading_values(lamp_id: str, payload: bytes, now: datetime) -> tuple | None:
    """The row of a payload holding one valid reading the fast path can vouch for, else None."""
    if len(payload) > MAX_PAYLOAD_BYTES:
        return None
    try:
        body = _READING_DICT.validate_json(payload)
    except ValidationError:
        return None
    ts_text = body["ts"]
    if _PLAIN_TS.fullmatch(ts_text) is None:
        return None
    try:
        ts = datetime.fromisoformat(ts_text)
    except ValueError:
        return None
    if is_too_far_in_future(ts, now):
        return None
    values = [*map(body.get, _AFTER_TS)]
    if values.count(None) - (values[0] is None) == len(MEASUREMENT_FIELDS):
        return None  # no measurement (values[0] is seq): the full path says so
    if b"e-" in payload or b"E-" in payload or _ZEROS in payload:
        if min(map(abs, filter(None, _REALS(values))), default=1.0) <= REAL_UNDERFLOW:
            return None  # the full path dead-letters it
    extra = None if body.keys() <= _KNOWN_KEYS else {k: v for k, v in body.items() if k not in _KNOWN_KEYS}
    if extra is not None and next(json_problems(extra), None) is not None:
        return None
    return (lamp_id, ts, *values, extra)


def decode_fast(topic: str, payload: bytes, topics: TopicCache, now: datetime) -> Decoded:
    """What `decode_message(topic, payload, topics, now)` returns; rows from the fast path carry no model."""
    parsed = topics.parse(topic)
    if parsed is not None and parsed.kind is TopicKind.TELEMETRY:
        values = single_reading_values(parsed.lamp_id, payload, now)
        if values is not None:
            return Decoded(parsed.lamp_id, [ReadingRow(parsed.lamp_id, None, values)])
    return decode_message(topic, payload, topics, now)
