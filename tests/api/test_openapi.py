"""The OpenAPI schema: the committed docs/openapi.json is what the full application serves,
and every operation is documented (summary, response model, examples, problem answers)."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from psycopg_pool import ConnectionPool

from api.app import create_app
from api.openapi import openapi_schema, render
from tests.conftest import REPO_ROOT

COMMITTED = REPO_ROOT / "docs" / "openapi.json"
REGENERATE = "python -m api.openapi > docs/openapi.json"


@pytest.fixture(scope="module")
def served() -> dict:
    """The schema as the full application serves it (building it touches no database)."""
    pool = ConnectionPool("", open=False)
    response = TestClient(create_app(pool)).get("/api/openapi.json")
    assert response.status_code == 200
    return response.json()


def operations(schema: dict):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            yield f"{method.upper()} {path}", operation


def test_the_committed_schema_is_the_served_one(served):
    assert COMMITTED.exists(), f"docs/openapi.json is missing: generate it with `{REGENERATE}`"
    committed = json.loads(COMMITTED.read_text(encoding="utf-8"))
    if committed != served:
        drifted = sorted(
            path
            for path in committed["paths"].keys() | served["paths"].keys()
            if committed["paths"].get(path) != served["paths"].get(path)
        )
        pytest.fail(
            "docs/openapi.json differs from the schema the application serves"
            f" (paths: {', '.join(drifted) or 'none; components or info differ'}); regenerate it with `{REGENERATE}`"
        )


def test_the_generator_prints_what_is_served(served):
    assert json.loads(render(openapi_schema())) == served


def test_every_operation_has_a_summary_and_a_documented_answer(served):
    for name, operation in operations(served):
        assert operation.get("summary"), f"{name} has no summary"
        success = [code for code in operation["responses"] if code.startswith("2")]
        assert success, f"{name} documents no successful answer"
        content = operation["responses"][success[0]].get("content")
        if success[0] == "204":
            continue
        assert content, f"{name} documents no response body"
        if "application/json" in content:
            assert content["application/json"].get("schema"), f"{name} has no response model"


def _has_examples(schema: dict, components: dict) -> bool:
    if "examples" in schema or "example" in schema:
        return True
    ref = schema.get("$ref")
    if not ref:
        return False
    return _has_examples(components[ref.rsplit("/", 1)[-1]], components)


def test_every_operation_shows_an_example(served):
    components = served["components"]["schemas"]
    missing = []
    for name, operation in operations(served):
        success = [code for code in operation["responses"] if code.startswith("2") and code != "204"]
        if not success:
            continue
        content = operation["responses"][success[0]]["content"]
        if not any(
            "example" in media or "examples" in media or _has_examples(media.get("schema", {}), components)
            for media in content.values()
        ):
            missing.append(name)
    assert missing == []


def test_errors_are_documented_as_problem_details(served):
    components = served["components"]["schemas"]
    assert set(components["Problem"]["required"]) == {"title", "status", "detail", "instance"}
    assert "errors" in components["ValidationProblem"]["properties"]
    assert "HTTPValidationError" not in components
    for name, operation in operations(served):
        for code, answer in operation["responses"].items():
            if code.startswith(("4", "5")) and answer.get("content"):
                assert list(answer["content"]) == ["application/problem+json"], f"{name} {code}"
        if not name.endswith(("/healthz", "/readyz", "/auth/login")):
            assert "401" in operation["responses"], f"{name} does not document 401"
