"""The suppression list in and out: CSV import with per-row errors and progress, CSV export."""

from __future__ import annotations

import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django_tenants.utils import schema_context

from accounts.models import Role, User
from optout import imports
from optout.actions import do_opt_out
from optout.imports import do_optout_import, optout_import_create
from optout.models import ConsentEvent, OptOut, OptOutImport
from tests.conftest import PASSWORD, host_client, login
from tests.support.messaging import key_for

CSV = (
    "phone,reason\n"
    "+1 415 555 0101,asked in store\n"
    "+14155550102\n"
    "not a number,oops\n"
    "\n"
    "+14155550101,duplicate row\n"
    "+14155550103,=HYPERLINK(\"http://evil\")\n"
    "12,too short\n"
)


def upload(tenant, content: bytes, name: str = "list.csv"):
    client = host_client(f"{tenant.slug}.localhost")
    return client.post("/api/v1/optouts/imports", {"file": SimpleUploadedFile(name, content)},
                       HTTP_AUTHORIZATION=f"Bearer {key_for(tenant)}")


def test_import_keeps_valid_rows_and_reports_bad_ones_by_line(alpha):
    with schema_context(alpha.schema_name):
        do_opt_out(phone="+14155550102", source="keyword")
        job = optout_import_create(file_name="list.csv", content=CSV.encode(),
                                   actor_label="test")
        assert (job.status, job.total_rows) == ("pending", 6)
        do_optout_import(import_id=job.pk)
        job.refresh_from_db()
        assert (job.status, job.processed_rows, job.percent) == ("done", 6, 100)
        assert (job.added, job.already, job.error_count) == (2, 1, 2)
        assert [(e["line"], e["value"]) for e in job.errors] == [(4, "not a number"), (8, "12")]
        assert "international format" in job.errors[0]["detail"]
        assert set(OptOut.objects.values_list("phone", flat=True)) == {
            "+14155550101", "+14155550102", "+14155550103"}
        imported = ConsentEvent.objects.filter(source="import")
        assert {(e.phone, e.reason) for e in imported} == {
            ("+14155550101", "asked in store"), ("+14155550103", '=HYPERLINK("http://evil")')}
        assert job.content == ""  # the upload is not kept once processed
        # Running the task again (a redelivery) changes nothing.
        do_optout_import(import_id=job.pk)
        assert OptOut.objects.count() == 3


def test_import_over_the_api_with_progress(alpha):
    response = upload(alpha, b"+14155550111\n+14155550112\nnope\n")
    assert response.status_code == 202
    body = response.json()
    assert (body["status"], body["total_rows"], body["percent"]) == ("pending", 3, 0)
    with schema_context(alpha.schema_name):
        do_optout_import(import_id=body["id"])
    client = host_client("alpha.localhost")
    progress = client.get(f"/api/v1/optouts/imports/{body['id']}",
                          HTTP_AUTHORIZATION=f"Bearer {key_for(alpha)}").json()
    assert (progress["status"], progress["percent"], progress["added"],
            progress["error_count"]) == ("done", 100, 2, 1)


@pytest.mark.parametrize(("content", "code"), [
    ("+14155550111\n".encode("utf-16"), "invalid_file"),
    (b"\n\n", "invalid_file"),
    (b"phone\n", "invalid_file"),
    (b"+14155550111\x00,reason\n", "invalid_file"),  # found by schemathesis: was a 500
])
def test_unreadable_or_empty_files_are_refused_and_nothing_queued(alpha, content, code):
    response = upload(alpha, content)
    assert (response.status_code, response.json()["code"]) == (400, code)
    assert response.json()["fields"]["file"][0]["code"] == code
    with schema_context(alpha.schema_name):
        assert not OptOutImport.objects.exists()


def test_a_file_over_the_limit_is_refused(alpha, monkeypatch):
    monkeypatch.setattr(imports, "MAX_IMPORT_BYTES", 20)
    response = upload(alpha, b"+14155550111\n" * 5)
    assert (response.status_code, response.json()["code"]) == (400, "file_too_large")


def test_export_lists_everyone_with_formulas_defused(alpha):
    with schema_context(alpha.schema_name):
        do_opt_out(phone="+14155550121", source="api", reason="=cmd|' /C calc'!A0")
        do_opt_out(phone="+14155550122", source="keyword", sender_address="+14155550123")
    client = host_client("alpha.localhost")
    response = client.get("/api/v1/optouts/export",
                          HTTP_AUTHORIZATION=f"Bearer {key_for(alpha)}")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv"
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0] == ["phone", "sender", "source", "reason", "opted_out_at"]
    assert [row[:4] for row in rows[1:]] == [
        ["+14155550121", "", "api", "'=cmd|' /C calc'!A0"],
        ["+14155550122", "+14155550123", "keyword", ""],
    ]


def test_the_list_needs_the_contacts_scope(alpha):
    client = host_client("alpha.localhost")
    response = client.get("/api/v1/optouts/export",
                          HTTP_AUTHORIZATION=f"Bearer {key_for(alpha, ['messages:send'])}")
    assert (response.status_code, response.json()["code"]) == (403, "permission_denied")


@pytest.fixture
def owner_client(alpha, alpha_client):
    login(alpha_client, "owner@alpha.example")
    return alpha_client


def test_admins_add_and_remove_numbers_with_a_reason(alpha, owner_client):
    page = owner_client.get("/optouts/")
    assert page.status_code == 200 and b"Nobody is opted out" in page.content
    refused = owner_client.post("/optouts/", {"phone": "call me", "reason": "x"})
    assert refused.status_code == 200
    assert b"international format" in refused.content
    added = owner_client.post("/optouts/", {"phone": "+1 415 555 0131", "reason": "complaint"},
                              follow=True)
    assert b"+14155550131 is opted out." in added.content
    assert b"complaint" in added.content
    asked = owner_client.post("/optouts/remove/", {"phone": "+14155550131",
                                                   "reason": "called back"})
    assert b"Opt +14155550131 back in?" in asked.content
    with schema_context(alpha.schema_name):
        assert ConsentEvent.objects.count() == 1  # nothing changed yet
    removed = owner_client.post("/optouts/remove/", {"phone": "+14155550131",
                                                     "reason": "called back", "confirm": "yes"},
                                follow=True)
    assert b"+14155550131 is opted back in." in removed.content
    with schema_context(alpha.schema_name):
        events = list(ConsentEvent.objects.order_by("id"))
        owner = User.objects.get(email="owner@alpha.example")
    assert [(e.action, e.source, e.reason, e.actor_id) for e in events] == [
        ("opt_out", "admin", "complaint", owner.pk), ("opt_in", "admin", "called back", owner.pk)]


def test_the_import_page_shows_progress_then_escaped_errors(alpha, owner_client):
    started = owner_client.post("/optouts/import/", {"file": SimpleUploadedFile(
        "list.csv", b"+14155550141\n<script>alert(1)</script>\n")})
    assert started.status_code == 302
    progress = owner_client.get(started["Location"])
    assert b'<meta http-equiv="refresh"' in progress.content
    assert b'<progress id="import-progress" max="100" value="0">' in progress.content
    with schema_context(alpha.schema_name):
        do_optout_import(import_id=OptOutImport.objects.get().pk)
    done = owner_client.get(started["Location"])
    assert b"http-equiv" not in done.content
    assert b'value="100"' in done.content
    assert b"&lt;script&gt;alert(1)&lt;/script&gt;" in done.content
    assert b"<script>alert" not in done.content
    export = owner_client.get("/optouts/export.csv")
    assert b"+14155550141" in b"".join(export.streaming_content)


def test_agents_are_refused_the_opt_out_pages(alpha, alpha_client):
    with schema_context(alpha.schema_name):
        User.objects.create_user("agent@alpha.example", PASSWORD, role=Role.AGENT)
    login(alpha_client, "agent@alpha.example")
    for path in ("/optouts/", "/optouts/export.csv"):
        assert alpha_client.get(path).status_code == 403
    assert alpha_client.post("/optouts/", {"phone": "+14155550151"}).status_code == 403
