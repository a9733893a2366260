"""Text no column can store (NUL, lone surrogates) and bytes that are not UTF-8, sent to every
write operation of the live OpenAPI schema and to every form of the tenant's pages: each is
answered 4xx, never 500, and nothing is written.

Operations and their fields come from the schema, pages and their forms from the URL
configuration and the pages themselves, as in test_isolation_matrix: an endpoint, a field
or a form added later is covered without editing this file."""

from __future__ import annotations

import itertools
import json
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import quote, quote_plus, urlencode

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django_tenants.utils import schema_context

from core.api_renderers import JSONRenderer
from messaging.models import KeywordRule
from tests.conftest import login
from tests.support.matrix import fill, page_ids, seed, tenant_pages
from tests.support.messaging import CUSTOMER, SIM_NUMBER, key_for

BAD_TEXT = {"NUL": "a\x00b", "lone surrogate": "a\ud800b"}
UNSTORABLE_CODES = {"null_characters_not_allowed", "surrogate_characters_not_allowed"}
# Bytes no UTF-8 decoder accepts, the last three a lone surrogate as UTF-8 would write it.
NOT_UTF8 = b"\xff\xfe\xed\xa0\x80"


# --- the tenant's data, before and after ------------------------------------------------------


def _snapshot(*schemas: str) -> dict[str, str]:
    """A digest of every table's rows in ``schemas``: equal before and after means nothing
    was written. API keys are left out: a request records when its key was last used."""
    digests = {}
    with connection.cursor() as cursor:
        for schema in schemas:
            cursor.execute("SELECT table_name FROM information_schema.tables "
                           "WHERE table_schema = %s AND table_type = 'BASE TABLE'", [schema])
            for (table,) in cursor.fetchall():
                if table in ("accounts_apikey", "django_session"):
                    continue
                cursor.execute(
                    f'SELECT md5(coalesce(string_agg(t::text, \'|\' ORDER BY t::text), \'\')) '
                    f'FROM "{schema}"."{table}" t')
                digests[f"{schema}.{table}"] = cursor.fetchone()[0]
    return digests


def _changed(before: dict[str, str], after: dict[str, str]) -> list[str]:
    return sorted(name for name in before.keys() | after.keys()
                  if before.get(name) != after.get(name))


# --- requests from the schema --------------------------------------------------------------


def _resolve(schema: dict, components: dict) -> dict:
    while "$ref" in schema:
        schema = components[schema["$ref"].rsplit("/", 1)[1]]
    return schema


# Values that pass validation where a field's name or format says what it holds, so the
# fuzzed field, not its neighbours, decides the answer.
_BY_NAME = {"phone": "+14155550166", "from": SIM_NUMBER, "to": CUSTOMER,
            "sender": SIM_NUMBER, "url": "http://127.0.0.1:9/hook", "connection": "simulator",
            "address": "+14155550155", "assign_to": "owner@alpha.example"}
_BY_FORMAT = {"email": "owner@alpha.example", "uri": "http://127.0.0.1:9/hook",
              "date-time": "2030-01-01T09:00:00Z"}


def _example(schema: dict, components: dict, name: str = ""):
    """A value of the schema's shape, valid where the name or format tells how."""
    schema = _resolve(schema, components)
    for key in ("allOf", "oneOf", "anyOf"):
        if key in schema:
            return _example(schema[key][0], components, name)
    if "enum" in schema:
        return next(value for value in schema["enum"] if value not in ("", None))
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        value = {key: _example(sub, components, key)
                 for key, sub in schema.get("properties", {}).items()
                 if not sub.get("readOnly")}
        if not value and schema.get("additionalProperties") is not None:
            value = {"plan": "gold"}
        return value
    if kind == "array":
        return [_example(schema.get("items", {}), components, name)]
    if kind == "integer":
        return min(max(schema.get("minimum", 1), 1), schema.get("maximum", 1))
    if kind == "number":
        return 1
    if kind == "boolean":
        return True
    if kind == "string":
        return (_BY_NAME.get(name) or _BY_FORMAT.get(schema.get("format", ""))
                or schema.get("example") or f"fuzz {name}")
    return {"plan": "gold"} if name == "fields" else "fuzz"


def _string_paths(value, path: tuple = ()) -> list[tuple]:
    """Where ``value`` holds a string, as a path of keys and indexes."""
    if isinstance(value, str):
        return [path]
    if isinstance(value, dict):
        return [found for key, item in value.items()
                for found in _string_paths(item, (*path, key))]
    if isinstance(value, list):
        return [found for index, item in enumerate(value)
                for found in _string_paths(item, (*path, index))]
    return []


def _replaced(value, path: tuple, new):
    if not path:
        return new
    head, *rest = path
    if isinstance(value, dict):
        return {**value, head: _replaced(value[head], tuple(rest), new)}
    return [_replaced(item, tuple(rest), new) if index == head else item
            for index, item in enumerate(value)]


def _field(path: tuple) -> str:
    return ".".join(str(part) for part in path)


def _in_url(text: str) -> str:
    """Percent-encoded as UTF-8; a lone surrogate as the bytes UTF-8 would give it, which
    are not valid UTF-8."""
    return quote(text.encode("utf-8", "surrogatepass"), safe="")


@dataclass
class _Case:
    """One request to one operation, with one bad value in one place."""

    operation: str
    what: str
    method: str
    path: str
    query: str = ""
    body: bytes | dict | None = None  # a dict is sent as multipart
    content_type: str = "application/json"
    headers: dict = field(default_factory=dict)
    named: str | None = None  # the field the answer must name as unstorable, if any
    code: str | None = None  # the answer's code, where only one is right

    def send(self, client: Client, auth: dict):
        url = f"{self.path}?{self.query}" if self.query else self.path
        call = getattr(client, self.method.lower())
        if isinstance(self.body, dict):
            return call(url, self.body, **auth, **self.headers)
        if self.body is None:
            return call(url, **auth, **self.headers)
        return call(url, self.body, content_type=self.content_type, **auth, **self.headers)


def _param_cases(operation: str, method: str, template: str, parameters: list[dict],
                 ids: dict) -> list[_Case]:
    """Each bad text in each string parameter: query, path and header."""
    path = fill(template, ids, real=True)
    cases = []
    for parameter in parameters:
        name, place = parameter["name"], parameter["in"]
        for label, bad in BAD_TEXT.items():
            # A lone surrogate reaches a URL only as bytes that are not UTF-8, refused for
            # that rather than named as unstorable.
            named = name if bad == BAD_TEXT["NUL"] else None
            what = f"{operation} {place} {name} {label}"
            if place == "query":
                cases.append(_Case(operation, what, method, path,
                                   query=f"{name}={_in_url(bad)}", named=named))
            elif place == "path":
                filled = fill(template.replace(f"{{{name}}}", _in_url(bad)), ids, real=True)
                cases.append(_Case(operation, what, method, filled, named=named))
            elif place == "header" and bad == BAD_TEXT["NUL"]:  # headers are Latin-1
                header = "HTTP_" + name.upper().replace("-", "_")
                cases.append(_Case(operation, what, method, path, body=b"{}",
                                   headers={header: bad}))
    return cases


def _body_cases(operation: str, method: str, path: str, content: dict,
                components: dict) -> list[_Case]:
    """Each bad text in each string of a body of the schema's shape; the body as bytes that
    are not UTF-8, as JSON, as a form and raw; a CSV upload holding either."""
    cases = []
    if "multipart/form-data" in content:
        for label, data in (("NUL", b"+14155550166,a\x00b\n"),
                            ("not UTF-8", b"+14155550166," + NOT_UTF8 + b"\n")):
            cases.append(_Case(operation, f"{operation} file {label}", method, path, body={
                "file": SimpleUploadedFile("list.csv", data, "text/csv")}))
    if "application/json" not in content:
        return cases
    example = _example(content["application/json"]["schema"], components)
    strings = _string_paths(example)
    for string_path, (label, bad) in itertools.product(strings, BAD_TEXT.items()):
        cases.append(_Case(operation, f"{operation} {_field(string_path)} {label}", method,
                           path, body=json.dumps(_replaced(example, string_path, bad)).encode(),
                           named=_field(string_path)))
    if strings:
        marked = json.dumps(_replaced(example, strings[0], "\x01MARK\x01"))
        cases += [
            _Case(operation, f"{operation} JSON not UTF-8", method, path,
                  body=marked.encode().replace(b"\\u0001MARK\\u0001", NOT_UTF8),
                  code="invalid_encoding"),
            _Case(operation, f"{operation} form not UTF-8", method, path,
                  body=b"name=" + quote(NOT_UTF8).encode(),
                  content_type="application/x-www-form-urlencoded",
                  code="unsupported_media_type"),
            _Case(operation, f"{operation} raw bytes", method, path, body=NOT_UTF8,
                  content_type="application/octet-stream", code="unsupported_media_type"),
        ]
    return cases


def _cases(schema: dict, ids: dict) -> list[_Case]:
    components = schema["components"]["schemas"]
    cases = []
    for template, operations in schema["paths"].items():
        for method, operation in operations.items():
            if method not in ("post", "put", "patch", "delete"):
                continue
            name = f"{method.upper()} {template}"
            strings = [parameter for parameter in operation.get("parameters", [])
                       if _resolve(parameter.get("schema", {}), components).get("type")
                       == "string"]
            cases += _param_cases(name, method, template, strings, ids)
            cases += _body_cases(name, method, fill(template, ids, real=True),
                                 operation.get("requestBody", {}).get("content", {}),
                                 components)
    return cases


def _refused_cleanly(case: _Case, response) -> str | None:
    """What is wrong with the answer to ``case``, or None."""
    if not 400 <= response.status_code < 500:
        return f"{case.what}: {response.status_code} {response.content[:200]!r}"
    body = response.json()
    if not (isinstance(body.get("code"), str) and body["code"]):
        return f"{case.what}: no code in {body}"
    if case.code is not None and body["code"] != case.code:
        return f"{case.what}: {body['code']}, not {case.code}"
    if case.named is not None:
        errors = body.get("fields", {}).get(case.named, [])
        if not any(error["code"] in UNSTORABLE_CODES for error in errors):
            return f"{case.what}: {case.named} not named as unstorable in {body}"
    return None


@pytest.mark.slow  # a fuzzer: every field of every operation or form
def test_every_write_operation_refuses_unstorable_text_and_bad_utf8_in_every_field(alpha,
                                                                                  settings):
    # Hundreds of requests a second from one key: the throttle is not what is tested here.
    settings.API_THROTTLE_RATE = 1_000_000
    ids = seed(alpha)
    client = Client(HTTP_HOST="alpha.localhost", raise_request_exception=False)
    auth = {"HTTP_AUTHORIZATION": f"Bearer {key_for(alpha)}"}
    cases = _cases(client.get("/api/schema/?format=json").json(), ids)
    assert len(cases) > 300
    assert len({case.operation for case in cases}) > 30
    before = _snapshot(alpha.schema_name, "public")
    failures = [problem for case in cases
                if (problem := _refused_cleanly(case, case.send(client, auth)))]
    assert failures == [], "\n".join(failures)
    assert _changed(before, _snapshot(alpha.schema_name, "public")) == []


# --- the two cases found by hand ---------------------------------------------------------


def test_a_lone_surrogate_in_a_choice_field_is_a_field_error_not_a_server_error(api, alpha):
    settings_before = api.get("optout-settings").json()
    rule = api.post("keyword-rules", {"keyword": "hours", "reply": "9 to 5", "match": "\ud800"})
    settings = api.put("optout-settings", {"scope": "\ud800"})
    for response, name in ((rule, "match"), (settings, "scope")):
        assert response.status_code == 400
        assert response.json() == {
            "code": "validation_error", "detail": "Surrogate characters are not allowed: U+D800.",
            "fields": {name: [{"code": "surrogate_characters_not_allowed",
                                "detail": "Surrogate characters are not allowed: U+D800."}]}}
    with schema_context(alpha.schema_name):
        assert not KeywordRule.objects.exists()
    assert api.get("optout-settings").json() == settings_before


def test_a_nul_in_a_custom_field_is_named_and_nothing_is_stored(api, alpha):
    response = api.post("contacts", {"phone": "+14155550177", "name": "Ann",
                                     "fields": {"plan": "gold\x00"}, "tags": ["a", "b\x00"]})
    assert response.status_code == 400
    assert {name: [e["code"] for e in errors] for name, errors in response.json()["fields"]
            .items()} == {"fields.plan": ["null_characters_not_allowed"],
                          "tags.1": ["null_characters_not_allowed"]}
    assert api.get("contacts").json()["results"] == []


def test_a_body_that_is_not_utf8_is_refused_for_its_encoding(api):
    response = api.client.post("/api/v1/contacts", b'{"phone": "+1415555\xff"}',
                               content_type="application/json", **api.headers)
    assert response.status_code == 400
    assert response.json() == {
        "code": "invalid_encoding",
        "detail": "The request body is not valid utf-8 (byte 0xff at offset 19)."}


def test_json_nested_deeper_than_the_decoder_goes_is_a_parse_error(api):
    response = api.client.post("/api/v1/contacts", "[" * 100_000 + "]" * 100_000,
                               content_type="application/json", **api.headers)
    assert (response.status_code, response.json()["code"]) == (400, "parse_error")


def test_a_nul_or_bad_utf8_in_a_query_parameter_is_named(api):
    nul = api.client.get("/api/v1/optouts?phone=%2B1415%00", **api.headers)
    bad = api.client.delete("/api/v1/optouts/%2B14155550188?reason=%FF", **api.headers)
    assert (nul.status_code, nul.json()["fields"]) == (400, {"phone": [{
        "code": "null_characters_not_allowed", "detail": "Null characters are not allowed."}]})
    assert (bad.status_code, bad.json()["fields"]) == (400, {"reason": [{
        "code": "invalid_encoding", "detail": "This is not valid UTF-8."}]})


def test_a_key_holding_a_nul_is_an_unknown_key(alpha):
    client = Client(HTTP_HOST="alpha.localhost")
    response = client.get("/api/v1/messages", HTTP_AUTHORIZATION="Bearer sk_a\x00b_c")
    assert (response.status_code, response.json()["code"]) == (401, "not_authenticated")


def test_an_answer_quoting_a_lone_surrogate_is_still_sent():
    rendered = JSONRenderer().render({"detail": '"\ud800" is not a valid choice.'})
    assert json.loads(rendered) == {"detail": '"\ufffd" is not a valid choice.'}


# --- the tenant's pages ------------------------------------------------------------------------


class _Forms(HTMLParser):
    """The forms of a page: action, method, enctype and their fields' names and values."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict] = []
        self._select: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self.forms.append({"action": attrs.get("action") or "", "fields": {},
                               "method": (attrs.get("method") or "get").lower(),
                               "multipart": attrs.get("enctype") == "multipart/form-data"})
            return
        if not self.forms:
            return
        fields = self.forms[-1]["fields"]
        if tag == "option":
            if self._select and ("selected" in attrs or self._select not in fields):
                fields[self._select] = attrs.get("value", "")
            return
        name = attrs.get("name")
        if not name:
            return
        if tag == "input" and attrs.get("type") not in ("submit", "button", "file", "image"):
            if attrs.get("type") in ("checkbox", "radio") and "checked" not in attrs:
                return
            fields.setdefault(name, attrs.get("value") or "")
        elif tag == "textarea":
            self._textarea = name
            fields.setdefault(name, "")
        elif tag == "select":
            self._select = name

    def handle_data(self, data):
        if self._textarea and self.forms:
            self.forms[-1]["fields"][self._textarea] += data

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None


def _page_forms(client: Client, ids: dict) -> list[tuple[str, dict]]:
    """(page, form) for every form on every page of the tenant with our objects' ids."""
    by_name = page_ids(ids)
    found = []
    for route in tenant_pages():
        page = "/" + re.sub(r"<(?:\w+:)?(\w+)>", lambda m: str(by_name[m.group(1)]), route)
        response = client.get(page)
        if response.status_code != 200 or "text/html" not in response["Content-Type"]:
            continue
        parser = _Forms()
        parser.feed(response.content.decode())
        found += [(page, form) for form in parser.forms if form["fields"]]
    # The inbox's forms are on the page of a conversation.
    conversation = f"/?c={ids['conversations']}"
    parser = _Forms()
    parser.feed(client.get(conversation).content.decode())
    return found + [(conversation, form) for form in parser.forms if form["fields"]]


def _submit(client: Client, page: str, form: dict, fields: dict, raw: bytes | None = None):
    target = form["action"] or page
    if form["method"] == "get":
        query = raw.decode("latin-1") if raw is not None else urlencode(fields)
        return client.get(f"{target.split('?')[0]}?{query}")
    if raw is not None:
        return client.post(target, raw, content_type="application/x-www-form-urlencoded")
    if form["multipart"]:
        return client.post(target, fields)
    return client.post(target, urlencode(fields),
                       content_type="application/x-www-form-urlencoded")


@pytest.mark.slow  # a fuzzer: every field of every operation or form
def test_every_form_of_every_page_refuses_a_nul_or_bad_utf8_in_every_field(alpha):
    ids = seed(alpha)
    client = Client(HTTP_HOST="alpha.localhost", raise_request_exception=False)
    assert login(client, "owner@alpha.example").status_code == 302
    forms = _page_forms(client, ids)
    assert len(forms) > 20
    before = _snapshot(alpha.schema_name, "public")
    failures = []
    sent = 0
    for page, form in forms:
        fields = {name: value for name, value in form["fields"].items()
                  if name != "csrfmiddlewaretoken"}
        for name in fields:
            for label, raw in (("NUL", None), ("not UTF-8", b"")):
                if raw is not None:
                    raw = urlencode({**fields, name: "x"}).encode().replace(
                        quote_plus(name).encode() + b"=x", quote_plus(name).encode() + b"=%FF%FE")
                    response = _submit(client, page, form, fields, raw)
                else:
                    response = _submit(client, page, form, {**fields, name: "a\x00b"})
                sent += 1
                if response.status_code != 400:
                    failures.append(f"{form['method'].upper()} {form['action'] or page} "
                                    f"{name} {label}: {response.status_code}")
    assert sent > 100
    assert failures == [], "\n".join(failures)
    assert _changed(before, _snapshot(alpha.schema_name, "public")) == []


@pytest.mark.parametrize("path", ["/optouts/?phone=%00", "/optouts/history/?phone=%00",
                                  "/?q=%00", "/dashboard/?days=%FF"])
def test_a_page_given_a_nul_or_bad_utf8_in_its_query_answers_400(alpha, path):
    client = Client(HTTP_HOST="alpha.localhost")
    assert login(client, "owner@alpha.example").status_code == 302
    response = client.get(path)
    assert response.status_code == 400
    assert "cannot be stored" in response.content.decode()

