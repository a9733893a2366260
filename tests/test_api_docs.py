"""The API reference (/api/schema/, Redoc, Swagger UI) to Stripe's and Twilio's standard:
every operation titled, described and shown with an example, every field and parameter
described, readable chapters, limits stated as they are, and no fetch leaving the host.

The rules walk the live document, so an operation or a field added later fails here,
named, until it is described (docs/ARCHITECTURE.md#api-reference)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest

from tests.support.messaging import CUSTOMER, SIM_NUMBER

METHODS = ("get", "put", "post", "delete", "patch")


@pytest.fixture
def schema(alpha_client) -> dict:
    response = alpha_client.get("/api/schema/?format=json")
    assert response.status_code == 200
    return response.json()


def _operations(schema: dict) -> Iterator[tuple[str, dict]]:
    for path, item in schema["paths"].items():
        for method in METHODS:
            if method in item:
                yield f"{method.upper()} {path}", item[method]


def _undescribed(where: str, node: dict) -> Iterator[str]:
    """Properties (nested objects and list items included) without a description."""
    for name, prop in node.get("properties", {}).items():
        if not (prop.get("description") or "").strip():
            yield f"{where}.{name}"
        for inner in (prop, prop.get("items", {}), prop.get("additionalProperties")):
            if isinstance(inner, dict) and "properties" in inner:
                yield from _undescribed(f"{where}.{name}", inner)


def test_every_operation_has_a_summary_a_description_and_a_readable_tag(schema):
    chapters = {tag["name"]: tag.get("description", "") for tag in schema["tags"]}
    offenders = []
    for name, operation in _operations(schema):
        summary = (operation.get("summary") or "").strip()
        if not summary or summary == operation["operationId"] or len(summary) > 60:
            offenders.append(f"{name}: summary {summary!r} (a short title, not the id)")
        if not (operation.get("description") or "").strip():
            offenders.append(f"{name}: no description")
        for tag in operation.get("tags", []):
            if not chapters.get(tag, "").strip():
                offenders.append(f"{name}: tag {tag!r} is not a described chapter "
                                 "(cpaas/api_schema.py CHAPTERS)")
    assert not offenders, "\n".join(offenders)
    # Titles people read, not path words.
    assert all(tag[:1].isupper() for tag in chapters), chapters


def test_every_field_and_parameter_has_a_description(schema):
    offenders = []
    for component, node in schema["components"]["schemas"].items():
        offenders += _undescribed(component, node)
    for name, operation in _operations(schema):
        for parameter in operation.get("parameters", []):
            if not (parameter.get("description") or "").strip():
                offenders.append(f"{name}: parameter {parameter['name']}")
    assert not offenders, "\n".join(offenders)


def test_every_json_request_and_answer_has_an_example(schema):
    offenders = []
    for name, operation in _operations(schema):
        body = operation.get("requestBody", {}).get("content", {})
        if "application/json" in body and not body["application/json"].get("examples"):
            offenders.append(f"{name}: request")
        for status, response in operation["responses"].items():
            content = response.get("content", {}).get("application/json")
            if status.startswith("2") and content and not content.get("examples"):
                offenders.append(f"{name}: {status} answer")
    assert not offenders, "\n".join(offenders)


def test_the_examples_match_their_schemas(schema):
    """An example is what the API sends or accepts: its fields are the schema's, so a
    renamed field cannot leave a stale example behind."""
    components = schema["components"]["schemas"]

    def resolve(node: dict) -> dict:
        while "$ref" in node or "allOf" in node:
            node = (components[node["$ref"].rsplit("/", 1)[1]] if "$ref" in node
                    else node["allOf"][0])
        return node

    def unknown(node: dict, value, where: str) -> Iterator[str]:
        node = resolve(node)
        if isinstance(value, dict) and "properties" in node:
            for key, item in value.items():
                if key not in node["properties"]:
                    yield f"{where}.{key}"
                else:
                    yield from unknown(node["properties"][key], item, f"{where}.{key}")
        elif isinstance(value, list) and "items" in node:
            for index, item in enumerate(value):
                yield from unknown(node["items"], item, f"{where}.{index}")

    offenders = []
    for name, operation in _operations(schema):
        bodies = [("request", operation.get("requestBody", {}))]
        bodies += list(operation["responses"].items())
        for status, body in bodies:
            content = body.get("content", {}).get("application/json", {})
            for title, example in content.get("examples", {}).items():
                offenders += unknown(content["schema"], example["value"],
                                     f"{name} {status} {title}")
    assert not offenders, "\n".join(offenders)


def test_a_message_body_states_the_ten_segment_limit_as_it_is(schema, api, sim_sender):
    components = schema["components"]["schemas"]
    send = schema["paths"]["/api/v1/messages"]["post"]["requestBody"]["content"]
    body = components[send["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]][
        "properties"]["body"]
    assert body["maxLength"] == 1530
    assert "10 segments" in body["description"]
    assert "1,530 GSM-7" in body["description"] and "670 UCS-2" in body["description"]
    # What the document says is what the API does.
    longest = api.post("messages", {"from": SIM_NUMBER, "to": CUSTOMER, "body": "x" * 1530})
    assert longest.status_code == 202
    assert longest.json()["segments"] == 10
    over = api.post("messages", {"from": SIM_NUMBER, "to": CUSTOMER, "body": "x" * 1531})
    assert (over.status_code, over.json()["code"]) == (400, "body_too_long")
    # In a bulk send, a body longer than the schema allows refuses the request (its shape
    # is wrong); one within it but over 10 UCS-2 segments refuses only its item.
    item = {"from": SIM_NUMBER, "to": CUSTOMER}
    whole = api.post("messages/bulk", {"messages": [{**item, "body": "x" * 1531}]})
    assert whole.status_code == 400
    assert list(whole.json()["fields"]) == ["messages.0.body"]
    one = api.post("messages/bulk", {"messages": [{**item, "body": "ж" * 671},
                                                  {**item, "body": "ж" * 670}]})
    assert one.status_code == 202
    assert one.json()["results"][0]["error"]["code"] == "body_too_long"
    assert one.json()["results"][1]["message"]["segments"] == 10


def test_every_operation_documents_its_error_answers_in_the_error_format(schema):
    offenders = []
    for name, operation in _operations(schema):
        method = name.split()[0]
        expected = {"400", "401", "403", "404", "429"}
        if method in ("POST", "PUT", "PATCH"):
            expected |= {"413", "415"}
        if method == "POST":
            expected |= {"409", "422"}
        missing = expected - set(operation["responses"])
        if missing:
            offenders.append(f"{name}: no {sorted(missing)}")
        for status, response in operation["responses"].items():
            content = response.get("content", {}).get("application/json", {})
            if status >= "400" and content.get("schema", {}).get("$ref") != (
                    "#/components/schemas/Error"):
                offenders.append(f"{name}: {status} is not the Error format")
    assert not offenders, "\n".join(offenders)


def test_redoc_loads_a_bundle_that_fetches_nothing_from_elsewhere(alpha_client):
    page = alpha_client.get("/api/redoc/").content.decode()
    bundle_url = re.search(r'<script src="([^"]+)"', page)[1]
    bundle = alpha_client.get(bundle_url)
    assert bundle.status_code == 200
    code = b"".join(bundle.streaming_content) if bundle.streaming else bundle.content
    assert b"Redoc" in code
    assert not re.findall(rb'src:"https?://', code)
    assert b"cdn.redoc.ly" not in code
    settings_json = re.search(r"const redocSettings = (.*);", page)
    assert settings_json is None or "http" not in json.dumps(json.loads(settings_json[1]))
