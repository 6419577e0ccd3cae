"""The AsyncAPI document: generated from the contract, committed, and well formed."""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel, TypeAdapter

from core.asyncapi import CHANNELS, MESSAGE_MODELS, REGENERATE_COMMAND, asyncapi_yaml, build_asyncapi
from core.contract import (
    DEFAULT_TOPIC_PREFIX,
    LAMP_ID_PATTERN,
    MAX_FUTURE_SKEW,
    MAX_PAYLOAD_BYTES,
    PLAN_MIN_HORIZON,
    Plan,
    TelemetryReading,
    TopicKind,
    Topics,
    telemetry_batch_adapter,
)

DOC_PATH = Path(__file__).resolve().parents[2] / "docs" / "asyncapi.yaml"
COMPONENT_KEY = re.compile(r"^[\w\d.\-_]+$")
EXTENSION_KEY = re.compile(r"^x-[\w\d.\-_]+$")


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    return build_asyncapi()


def _resolve(doc: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), f"only local references are used: {ref}"
    node: Any = doc
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        assert isinstance(node, dict) and part in node, f"dangling $ref {ref}"
        node = node[part]
    return node


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for value in node.values() for r in _refs(value)]
    if isinstance(node, list):
        return [r for value in node for r in _refs(value)]
    return []


def _deref(doc: dict[str, Any], node: Any) -> Any:
    while isinstance(node, dict) and "$ref" in node:
        node = _resolve(doc, node["$ref"])
    return node


def _to_json(payload: Any) -> str:
    return json.dumps(payload)


def _validate_example(message_id: str, payload: Any) -> None:
    """Validate as the ingester does: from the JSON text (status is plain text)."""
    model = MESSAGE_MODELS[message_id]
    if message_id == "telemetry" and isinstance(payload, list):
        telemetry_batch_adapter.validate_json(_to_json(payload))
    elif isinstance(model, type) and issubclass(model, BaseModel):
        model.model_validate_json(_to_json(payload))
    else:
        TypeAdapter(model).validate_python(payload)


# --- the committed file is the generated one -------------------------------------


def test_committed_document_is_up_to_date() -> None:
    committed = DOC_PATH.read_text(encoding="utf-8") if DOC_PATH.exists() else ""
    assert committed == asyncapi_yaml(), (
        f"{DOC_PATH.relative_to(DOC_PATH.parents[1])} differs from what core/asyncapi.py generates "
        f"from core/contract.py; regenerate it with `{REGENERATE_COMMAND}` and commit the result"
    )


def test_committed_document_parses_to_the_built_one(doc: dict[str, Any]) -> None:
    assert yaml.safe_load(DOC_PATH.read_text(encoding="utf-8")) == doc


def test_generation_is_deterministic() -> None:
    assert asyncapi_yaml() == asyncapi_yaml()


def test_main_prints_the_document(capsys: pytest.CaptureFixture[str]) -> None:
    from core.asyncapi import main

    assert main([]) == 0
    assert capsys.readouterr().out == asyncapi_yaml()


# --- AsyncAPI 3.0 essentials ----------------------------------------------------


def test_top_level(doc: dict[str, Any]) -> None:
    assert doc["asyncapi"] == "3.0.0"
    allowed = {"asyncapi", "id", "info", "servers", "defaultContentType", "channels", "operations", "components"}
    assert set(doc) <= allowed
    assert doc["info"]["title"] and re.match(r"^\d+\.\d+\.\d+$", doc["info"]["version"])
    assert doc["defaultContentType"] == "application/json"


def test_every_reference_resolves(doc: dict[str, Any]) -> None:
    refs = _refs(doc)
    assert len(refs) > 20
    for ref in refs:
        _resolve(doc, ref)


def test_no_schema_points_at_pydantic_defs(doc: dict[str, Any]) -> None:
    # "#/$defs/..." would be resolved against the whole document and miss.
    assert not any("$defs" in ref for ref in _refs(doc))
    assert not any("$defs" in schema for schema in doc["components"]["schemas"].values())


def test_component_names(doc: dict[str, Any]) -> None:
    for section in doc["components"].values():
        for name in section:
            assert COMPONENT_KEY.match(name), name


def test_servers(doc: dict[str, Any]) -> None:
    servers = doc["servers"]
    assert servers["production"]["protocol"] == "mqtts"
    assert servers["development"]["protocol"] == "mqtt"
    assert servers["development"]["host"] == "localhost:1883"
    schemes = doc["components"]["securitySchemes"]
    production_security = [_deref(doc, s) for s in servers["production"]["security"]]
    assert [s["type"] for s in production_security] == ["userPassword"]
    assert "security" not in servers["development"]
    for scheme in schemes.values():
        assert scheme["type"] in {"userPassword", "X509", "plain", "scramSha256", "scramSha512", "gssapi"}
    for server in servers.values():
        assert server["host"] and "://" not in server["host"]
        for variable in re.findall(r"{([^}]+)}", server["host"]):
            assert variable in server.get("variables", {}), f"host variable {variable} is not defined"


def test_channels_cover_every_topic_kind(doc: dict[str, Any]) -> None:
    channels = doc["channels"]
    topics = Topics()
    kinds_seen = set()
    for channel_id, channel in channels.items():
        address = channel["address"]
        assert address.startswith(f"{DEFAULT_TOPIC_PREFIX}/lamps/{{lamp_id}}/")
        assert set(re.findall(r"{([^}]+)}", address)) == set(channel["parameters"]) == {"lamp_id"}
        assert channel["messages"], channel_id
        parsed = topics.parse(address.replace("{lamp_id}", "L-0001"))
        assert parsed is not None and parsed.lamp_id == "L-0001"
        assert parsed.kind is CHANNELS[channel_id][0]
        kinds_seen.add(parsed.kind)
    assert kinds_seen == set(TopicKind)


def test_prefix_is_applied() -> None:
    other = build_asyncapi("town-b/v1")
    assert other["channels"]["telemetry"]["address"] == "town-b/v1/lamps/{lamp_id}/telemetry"
    assert "$share/<group>/town-b/v1/lamps/+/telemetry" in other["operations"]["receiveTelemetry"]["description"]


def test_malformed_prefix_is_refused() -> None:
    with pytest.raises(ValueError):
        build_asyncapi("bad/#/prefix")


def test_lamp_id_parameter(doc: dict[str, Any]) -> None:
    parameter = doc["components"]["parameters"]["lamp_id"]
    # AsyncAPI 3.0 parameters carry no schema: only these fields and extensions.
    allowed = {"enum", "default", "description", "examples", "location"}
    assert all(key in allowed or EXTENSION_KEY.match(key) for key in parameter)
    assert parameter["x-pattern"] == LAMP_ID_PATTERN
    assert LAMP_ID_PATTERN in parameter["description"]
    for example in parameter["examples"]:
        assert re.match(LAMP_ID_PATTERN, example)


def test_operations(doc: dict[str, Any]) -> None:
    operations = doc["operations"]
    actions = {name: op["action"] for name, op in operations.items()}
    assert actions == {
        "receiveTelemetry": "receive",
        "receiveEvent": "receive",
        "receiveStatus": "receive",
        "receivePlanAck": "receive",
        "sendPlan": "send",
    }
    for name, op in operations.items():
        channel_ref = op["channel"]["$ref"]
        assert channel_ref.startswith("#/channels/"), name
        channel = _resolve(doc, channel_ref)
        for message in op["messages"]:
            # An operation's messages must be among its channel's.
            assert message["$ref"].startswith(f"{channel_ref}/messages/"), name
            _resolve(doc, message["$ref"])
        assert channel["messages"]


def test_plan_reply_is_the_ack(doc: dict[str, Any]) -> None:
    reply = doc["operations"]["sendPlan"]["reply"]
    assert reply["channel"] == {"$ref": "#/channels/planAck"}
    assert reply["messages"] == [{"$ref": "#/channels/planAck/messages/planAck"}]


def test_mqtt_bindings(doc: dict[str, Any]) -> None:
    retained = {}
    for name, op in doc["operations"].items():
        mqtt = op["bindings"]["mqtt"]
        assert mqtt["qos"] == 1, name
        assert mqtt["bindingVersion"] == "0.2.0"
        retained[op["channel"]["$ref"].rsplit("/", 1)[1]] = mqtt["retain"]
    assert retained == {"telemetry": False, "event": False, "status": True, "plan": True, "planAck": False}


def test_status_is_a_plain_text_enum_with_last_will(doc: dict[str, Any]) -> None:
    message = doc["components"]["messages"]["status"]
    assert message["contentType"] == "text/plain"
    schema = _deref(doc, message["payload"])
    assert schema["type"] == "string" and schema["enum"] == ["online", "offline"]
    assert message["x-last-will"] == {"message": "offline", "qos": 1, "retain": True}
    assert "last will" in message["description"]


def test_telemetry_payload_is_a_reading_or_a_batch(doc: dict[str, Any]) -> None:
    payload = doc["components"]["messages"]["telemetry"]["payload"]
    one, many = (_deref(doc, option) for option in payload["oneOf"])
    assert one == _deref(doc, {"$ref": "#/components/schemas/TelemetryReading"})
    assert many["type"] == "array" and many["minItems"] == 1
    assert many["items"] == {"$ref": "#/components/schemas/TelemetryReading"}


def test_schemas_come_from_the_models(doc: dict[str, Any]) -> None:
    schemas = doc["components"]["schemas"]
    reading = schemas["TelemetryReading"]
    assert reading["required"] == ["ts"]
    assert reading["additionalProperties"] is True
    assert reading["properties"]["power_factor"]["anyOf"][0] == {"maximum": 1, "minimum": 0, "type": "number"}
    assert set(reading["properties"]) == set(TelemetryReading.model_fields)
    assert schemas["Plan"]["properties"]["points"]["items"] == {"$ref": "#/components/schemas/PlanPoint"}
    assert schemas["PlanPoint"]["properties"]["level"]["maximum"] == 100


def test_limits_and_guarantees_are_documented(doc: dict[str, Any]) -> None:
    info = doc["info"]
    assert info["x-limits"] == {
        "maxPayloadBytes": MAX_PAYLOAD_BYTES,
        "maxFutureSkewSeconds": int(MAX_FUTURE_SKEW.total_seconds()),
        "planMinHorizonSeconds": int(PLAN_MIN_HORIZON.total_seconds()),
    }
    text = info["description"]
    assert f"{MAX_PAYLOAD_BYTES} bytes (64 KiB)" in text
    assert "5 minutes" in text
    assert "at least once" in text
    assert "(lamp_id, ts)" in text
    assert doc["components"]["messages"]["telemetry"]["x-dedupe-key"] == ["lamp_id", "ts"]


# --- examples --------------------------------------------------------------------


def _message_examples(doc: dict[str, Any]) -> list[tuple[str, str, Any]]:
    return [
        (message_id, example["name"], example["payload"])
        for message_id, message in doc["components"]["messages"].items()
        for example in message["examples"]
    ]


def test_every_message_has_examples(doc: dict[str, Any]) -> None:
    assert set(doc["components"]["messages"]) == set(MESSAGE_MODELS)
    for message_id, message in doc["components"]["messages"].items():
        assert message["examples"], message_id
        names = [e["name"] for e in message["examples"]]
        assert len(names) == len(set(names)), message_id


@pytest.mark.parametrize(
    ("message_id", "name", "payload"),
    [pytest.param(*example, id=f"{example[0]}-{example[1]}") for example in _message_examples(build_asyncapi())],
)
def test_message_example_validates(message_id: str, name: str, payload: Any) -> None:
    _validate_example(message_id, payload)


def test_batch_and_vendor_field_examples(doc: dict[str, Any]) -> None:
    examples = {e["name"]: e["payload"] for e in doc["components"]["messages"]["telemetry"]["examples"]}
    assert isinstance(examples["batch"], list) and len(examples["batch"]) > 1
    vendor = TelemetryReading.model_validate_json(_to_json(examples["vendorFields"]))
    assert vendor.extra == {"tilt_deg": 1.5, "firmware": "4.2.1"}


def test_plan_example_covers_the_minimum_horizon(doc: dict[str, Any]) -> None:
    for example in doc["components"]["messages"]["plan"]["examples"]:
        plan = Plan.model_validate_json(_to_json(example["payload"]))
        assert plan.covers_until() - plan.generated_at >= PLAN_MIN_HORIZON


def test_schema_examples_validate(doc: dict[str, Any]) -> None:
    models = {"TelemetryReading": TelemetryReading, "Plan": Plan}
    models |= {m.__name__: m for m in MESSAGE_MODELS.values() if isinstance(m, type)}
    checked = 0
    for name, schema in doc["components"]["schemas"].items():
        for example in schema.get("examples", []):
            models[name].model_validate_json(_to_json(example))
            checked += 1
    assert checked >= 4


def test_example_timestamps_are_not_naive(doc: dict[str, Any]) -> None:
    # Naive times are refused on the wire; an example must not teach them.
    for message_id, _name, payload in _message_examples(doc):
        items = payload if isinstance(payload, list) else [payload]
        for item in items:
            if isinstance(item, dict) and "ts" in item:
                assert datetime.fromisoformat(item["ts"]).tzinfo is not None, message_id


def test_integrator_guide_says_how_to_regenerate() -> None:
    guide = (DOC_PATH.parent / "mqtt.md").read_text(encoding="utf-8")
    assert REGENERATE_COMMAND.removeprefix(".venv/bin/") in guide
