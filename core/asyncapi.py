"""The AsyncAPI 3.0 document of the MQTT contract, generated from `core.contract`.

The payload schemas come from the pydantic models themselves, so the document
cannot say something the ingester does not check. `docs/asyncapi.yaml` is this
module's output, committed; a test fails when the two differ. Regenerate with::

    .venv/bin/python -m core.asyncapi > docs/asyncapi.yaml

Pure: builds a dict, no I/O (only `main` writes to stdout).
"""

from __future__ import annotations

import argparse
import sys
from datetime import timedelta
from typing import Any

import yaml
from pydantic import BaseModel, TypeAdapter

from core.asyncapi_examples import message_examples
from core.contract import (
    DEFAULT_TOPIC_PREFIX,
    LAMP_ID_PATTERN,
    MAX_FUTURE_SKEW,
    MAX_PAYLOAD_BYTES,
    PLAN_MIN_HORIZON,
    STATUS_OFFLINE,
    STATUS_ONLINE,
    EventType,
    LampEvent,
    Plan,
    PlanAck,
    StatusPayload,
    TelemetryReading,
    TopicKind,
    Topics,
)

ASYNCAPI_VERSION = "3.0.0"
# Version of the contract, not of the software: the topic prefix carries its major ("v1").
CONTRACT_VERSION = "1.0.0"
MQTT_BINDING_VERSION = "0.2.0"
REGENERATE_COMMAND = ".venv/bin/python -m core.asyncapi > docs/asyncapi.yaml"

_SCHEMA_REF = "#/components/schemas/{model}"
# Order of components/schemas in the document; a schema not named here comes after these.
_SCHEMA_ORDER = ("TelemetryReading", "TelemetryBatch", "LampEvent", "LampStatus", "Plan", "PlanPoint", "PlanAck")
_LAMP_ID = "{lamp_id}"

# Channel id -> (topic kind, message id, retained?). The order is the document's order.
CHANNELS: dict[str, tuple[TopicKind, str, bool]] = {
    "telemetry": (TopicKind.TELEMETRY, "telemetry", False),
    "event": (TopicKind.EVENT, "event", False),
    "status": (TopicKind.STATUS, "status", True),
    "plan": (TopicKind.PLAN, "plan", True),
    "planAck": (TopicKind.PLAN_ACK, "planAck", False),
}

# Message id -> the model (or type) that validates its payload.
MESSAGE_MODELS: dict[str, Any] = {
    "telemetry": TelemetryReading,
    "event": LampEvent,
    "status": StatusPayload,
    "plan": Plan,
    "planAck": PlanAck,
}


def _ref(path: str) -> dict[str, str]:
    return {"$ref": path}


def _model_schemas(*models: type[BaseModel]) -> dict[str, Any]:
    """JSON schemas of `models` keyed by name, nested models hoisted beside them.

    Nested references point into components/schemas: a `#/$defs/...` reference
    would be resolved against the whole AsyncAPI document and miss.
    """
    schemas: dict[str, Any] = {}
    for model in models:
        schema = model.model_json_schema(ref_template=_SCHEMA_REF)
        for name, nested in schema.pop("$defs", {}).items():
            schemas.setdefault(name, nested)
        schemas[model.__name__] = schema
    return schemas


def _kib(n_bytes: int) -> str:
    return f"{n_bytes // 1024} KiB" if n_bytes % 1024 == 0 else f"{n_bytes} bytes"


def _minutes(delta: timedelta) -> int:
    return int(delta.total_seconds() // 60)


# --- the document ------------------------------------------------------------


def _limits_text() -> str:
    return (
        f"Every payload is at most {MAX_PAYLOAD_BYTES} bytes ({_kib(MAX_PAYLOAD_BYTES)}); "
        "a larger one is dead-lettered unread."
    )


def _schemas() -> dict[str, Any]:
    """components/schemas: the contract's models, the batch and the plain-text status, in `_SCHEMA_ORDER`."""
    schemas = _model_schemas(TelemetryReading, LampEvent, Plan, PlanAck)
    schemas["TelemetryBatch"] = {
        "title": "TelemetryBatch",
        "description": "Several readings of one lamp in one message, e.g. a backfill after an outage.",
        "type": "array",
        "minItems": 1,
        "items": _ref("#/components/schemas/TelemetryReading"),
    }
    schemas["LampStatus"] = {
        "title": "LampStatus",
        "description": "Plain text, not JSON: the controller's connection state.",
        **TypeAdapter(StatusPayload).json_schema(),
    }
    return {**{name: schemas[name] for name in _SCHEMA_ORDER if name in schemas}, **schemas}


def _telemetry_message(examples: list[dict[str, Any]]) -> dict[str, Any]:
    skew_min = _minutes(MAX_FUTURE_SKEW)
    return {
        "name": "telemetry",
        "title": "Telemetry",
        "summary": "Readings of one lamp: one object, or an array of objects.",
        "description": (
            "A reading needs `ts` (RFC 3339 with an offset) and at least one measurement; `seq` alone is "
            "not one. Numbers are JSON numbers (not strings, not booleans, never NaN or Infinity) within "
            "the ranges of the schema. Fields the contract does not name are kept with the reading. "
            "An array (1 or more readings) is a batch: each element is judged on its own, so one bad "
            "reading is dead-lettered without the others. A reading stamped more than "
            f"{skew_min} minutes ahead of the service's clock is dead-lettered. {_limits_text()}"
        ),
        "contentType": "application/json",
        "payload": {
            "oneOf": [
                _ref("#/components/schemas/TelemetryReading"),
                _ref("#/components/schemas/TelemetryBatch"),
            ]
        },
        "examples": examples,
        "x-dedupe-key": ["lamp_id", "ts"],
    }


def _event_message(examples: list[dict[str, Any]]) -> dict[str, Any]:
    skew_min = _minutes(MAX_FUTURE_SKEW)
    return {
        "name": "event",
        "title": "Lamp event",
        "summary": "Something the controller noticed: a failure, day burning, a repair.",
        "description": (
            "`type` is one of "
            + ", ".join(f"`{e.value}`" for e in EventType)
            + "; other lower_snake_case names (up to 64 characters) are stored too. `detail` is free text "
            f"or an object. An event stamped more than {skew_min} minutes ahead is dead-lettered. {_limits_text()}"
        ),
        "contentType": "application/json",
        "payload": _ref("#/components/schemas/LampEvent"),
        "examples": examples,
        "x-dedupe-key": ["lamp_id", "ts", "type"],
    }


def _status_message(examples: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "name": "status",
        "title": "Controller status",
        "summary": f"`{STATUS_ONLINE}` or `{STATUS_OFFLINE}`, plain text, retained.",
        "description": (
            f"The controller publishes `{STATUS_ONLINE}` (retained, QoS 1) right after it connects and sets "
            f"`{STATUS_OFFLINE}` on this topic as its last will (retained, QoS 1), so the broker announces a "
            f"controller that vanishes. Before a clean disconnect the controller publishes `{STATUS_OFFLINE}` "
            "itself. Surrounding whitespace is ignored; anything else is dead-lettered."
        ),
        "contentType": "text/plain",
        "payload": _ref("#/components/schemas/LampStatus"),
        "examples": examples,
        "x-last-will": {"message": STATUS_OFFLINE, "qos": 1, "retain": True},
    }


def _plan_message(examples: list[dict[str, Any]]) -> dict[str, Any]:
    horizon_h = int(PLAN_MIN_HORIZON.total_seconds() // 3600)
    return {
        "name": "plan",
        "title": "Dimming plan",
        "summary": "Absolute switch points for at least the next 48 hours.",
        "description": (
            "Published by the service, retained, so a controller that (re)connects gets the plan in force at "
            "once. Each point's `level` (% of full output, 0 = off) holds from its `at` (UTC) until the next "
            "point. Before the first point and after the last the controller runs its local default "
            "(full output from dusk to dawn). A plan covers at least "
            f"{horizon_h} hours from `generated_at`. `version` increases with every change of the lamp's plan; "
            "a controller answers every plan it receives on the plan/ack topic."
        ),
        "contentType": "application/json",
        "payload": _ref("#/components/schemas/Plan"),
        "examples": examples,
    }


def _plan_ack_message(examples: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "name": "planAck",
        "title": "Plan acknowledgement",
        "summary": "The controller's answer to a plan: applied or rejected, with a reason.",
        "description": (
            "Sent for every plan received, including a redelivered one. `version` is the plan's version; "
            "`reason` says why a plan was rejected (at most 1000 characters)."
        ),
        "contentType": "application/json",
        "payload": _ref("#/components/schemas/PlanAck"),
        "examples": examples,
        "x-dedupe-key": ["lamp_id", "version", "status"],
    }


def _messages() -> dict[str, Any]:
    examples = message_examples()
    return {
        "telemetry": _telemetry_message(examples["telemetry"]),
        "event": _event_message(examples["event"]),
        "status": _status_message(examples["status"]),
        "plan": _plan_message(examples["plan"]),
        "planAck": _plan_ack_message(examples["planAck"]),
    }


_CHANNEL_TEXT = {
    "telemetry": "Readings from one lamp controller.",
    "event": "Events from one lamp controller.",
    "status": "Online/offline state of one lamp controller, retained, with the last will.",
    "plan": "The dimming plan in force for one lamp, retained.",
    "planAck": "The controller's answers to plans.",
}


def _channels(topics: Topics) -> dict[str, Any]:
    channels = {}
    for channel_id, (kind, message_id, _retained) in CHANNELS.items():
        channels[channel_id] = {
            "address": topics.lamp(_LAMP_ID, kind),
            "title": kind.value,
            "description": _CHANNEL_TEXT[channel_id],
            "messages": {message_id: _ref(f"#/components/messages/{message_id}")},
            "parameters": {"lamp_id": _ref("#/components/parameters/lamp_id")},
        }
    return channels


def _operation(action: str, channel_id: str, summary: str, description: str) -> dict[str, Any]:
    _kind, message_id, retained = CHANNELS[channel_id]
    return {
        "action": action,
        "channel": _ref(f"#/channels/{channel_id}"),
        "summary": summary,
        "description": description,
        "messages": [_ref(f"#/channels/{channel_id}/messages/{message_id}")],
        "bindings": {"mqtt": {"qos": 1, "retain": retained, "bindingVersion": MQTT_BINDING_VERSION}},
    }


def _ingest_note(topics: Topics, kind: TopicKind, dedupe: str) -> str:
    return (
        "The ingester subscribes with a persistent session and acknowledges a message only after the "
        "database commit; several ingesters share the load through the shared subscription "
        f"`{topics.subscription(kind, '<group>')}`. QoS 1, at least once: a message can arrive twice; {dedupe}."
    )


def _operations(topics: Topics) -> dict[str, Any]:
    return {
        "receiveTelemetry": _operation(
            "receive",
            "telemetry",
            "The service stores readings.",
            _ingest_note(topics, TopicKind.TELEMETRY, "a reading is stored once per (lamp_id, ts)"),
        ),
        "receiveEvent": _operation(
            "receive",
            "event",
            "The service stores events.",
            _ingest_note(topics, TopicKind.EVENT, "an event is stored once per (lamp_id, ts, type)"),
        ),
        "receiveStatus": _operation(
            "receive",
            "status",
            "The service tracks which controllers are online.",
            "Controllers publish retained, with the offline last will. "
            + _ingest_note(
                topics, TopicKind.STATUS, "the service keeps the latest state per lamp, so a repeat changes nothing"
            ),
        ),
        "receivePlanAck": _operation(
            "receive",
            "planAck",
            "The service records controllers' answers to plans.",
            _ingest_note(topics, TopicKind.PLAN_ACK, "an answer is stored once per (lamp_id, version, status)"),
        ),
        "sendPlan": {
            **_operation(
                "send",
                "plan",
                "The service pushes a lamp's dimming plan.",
                "Retained, QoS 1. The controller answers on the plan/ack topic with the same version.",
            ),
            "reply": {
                "channel": _ref("#/channels/planAck"),
                "messages": [_ref("#/channels/planAck/messages/planAck")],
            },
        },
    }


def _info() -> dict[str, Any]:
    skew_min = _minutes(MAX_FUTURE_SKEW)
    delivery = (
        "QoS 1, at least once: a message can arrive twice, so the service stores each reading once per "
        "(lamp_id, ts), each event once per (lamp_id, ts, type) and each answer to a plan once per "
        "(lamp_id, version, status): resending is always safe."
    )
    return {
        "title": "Streetlight MQTT contract",
        "version": CONTRACT_VERSION,
        "description": (
            "Lamp controllers report telemetry, events and their status over MQTT; the service stores them "
            "and pushes dimming plans back. Generated from `core/contract.py` by `core/asyncapi.py`; "
            f"regenerate with `{REGENERATE_COMMAND}`. The guide for integrators is `docs/mqtt.md`.\n\n"
            f"- {_limits_text()}\n"
            f"- Timestamps are RFC 3339 strings with an offset; one more than {skew_min} minutes ahead of the "
            "service's clock is a controller clock fault and is dead-lettered.\n"
            f"- Delivery: {delivery}\n"
            "- What the service cannot store becomes a dead letter with a reason code; messages from lamp ids "
            "not in the inventory are listed for commissioning."
        ),
        "license": {"name": "Apache-2.0"},
        "x-limits": {
            "maxPayloadBytes": MAX_PAYLOAD_BYTES,
            "maxFutureSkewSeconds": int(MAX_FUTURE_SKEW.total_seconds()),
            "planMinHorizonSeconds": int(PLAN_MIN_HORIZON.total_seconds()),
        },
    }


def _servers() -> dict[str, Any]:
    return {
        "production": {
            "host": "{broker_host}:8883",
            "protocol": "mqtts",
            "protocolVersion": "3.1.1",
            "description": (
                "The town's broker, TLS only. Each controller has its own credentials and may publish and "
                "subscribe only under its own lamp id."
            ),
            "variables": {
                "broker_host": {
                    "description": "Host name of the town's broker.",
                    "examples": ["mqtt.town.example"],
                }
            },
            "security": [_ref("#/components/securitySchemes/controllerCredentials")],
        },
        "development": {
            "host": "localhost:1883",
            "protocol": "mqtt",
            "protocolVersion": "3.1.1",
            "description": "A local broker for development and tests, no TLS and no credentials.",
        },
    }


def _components() -> dict[str, Any]:
    return {
        "schemas": _schemas(),
        "messages": _messages(),
        "parameters": {
            "lamp_id": {
                "description": (
                    f"The lamp's id in the inventory: 1 to 64 letters, digits, `_`, `.` or `-` "
                    f"(pattern `{LAMP_ID_PATTERN}`). Topics with other ids are not accepted."
                ),
                "examples": ["L-0001", "rue-de-la-gare.12"],
                "x-pattern": LAMP_ID_PATTERN,
            }
        },
        "securitySchemes": {
            "controllerCredentials": {
                "type": "userPassword",
                "description": (
                    "One user name and password per controller, over TLS; the broker's access list lets it "
                    "publish its own telemetry, event, status and plan/ack topics and subscribe to its own "
                    "plan topic only."
                ),
            }
        },
    }


def build_asyncapi(prefix: str = DEFAULT_TOPIC_PREFIX) -> dict[str, Any]:
    """The AsyncAPI 3.0.0 document of the contract under topic `prefix`, from the service's point of view."""
    topics = Topics(prefix)  # refuses a malformed prefix
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": _info(),
        "defaultContentType": "application/json",
        "servers": _servers(),
        "channels": _channels(topics),
        "operations": _operations(topics),
        "components": _components(),
    }


def asyncapi_yaml(prefix: str = DEFAULT_TOPIC_PREFIX) -> str:
    return yaml.safe_dump(build_asyncapi(prefix), sort_keys=False, allow_unicode=True, width=100)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m core.asyncapi", description=f"Print the AsyncAPI document. Usual use: {REGENERATE_COMMAND}"
    )
    parser.add_argument("--prefix", default=DEFAULT_TOPIC_PREFIX, help="topic prefix (default: %(default)s)")
    args = parser.parse_args(argv)
    sys.stdout.write(asyncapi_yaml(args.prefix))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
