"""The survey builder pages of owners and admins: a survey built, rearranged and edited
through real sessions and forms, submitted as a browser would (the values the page shows,
plus the button pressed), and checked by what customers are then asked; agents are
refused."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from django.test import Client
from django_tenants.utils import schema_context

from accounts.models import Role, User
from messaging.models import Message, Survey, SurveyAnswer, SurveyQuestion, SurveySession
from messaging.rules import keyword_rule_save
from messaging.survey_forms import question_rows_rearrange
from tests.conftest import PASSWORD, csrf_checked_client, host_client, login
from tests.support.messaging import CUSTOMER, SIM_NUMBER, customer_texts

STORE = "Which store did you visit?"
VISITS = "How many times did you visit this month?"
FOUND = "Did you find what you needed?"

# What the confirmation form sends (core.confirm): a POST without it deletes nothing.
CONFIRM = {"confirm": "yes"}


class _FormValues(HTMLParser):
    """The fields of the builder's form as a browser submits them, buttons aside."""

    def __init__(self) -> None:
        super().__init__()
        self.values: dict[str, str] = {}
        self.in_form = False
        self.textarea: str | None = None
        self.select: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = {name: value or "" for name, value in attrs}
        if tag == "form":
            self.in_form = "survey-builder" in attr.get("class", "")
        if not self.in_form or "name" not in attr:
            if tag == "option" and self.select and "selected" in attr:
                self.values[self.select] = attr["value"]
            return
        if tag == "input" and (attr.get("type") != "checkbox" or "checked" in attr):
            self.values[attr["name"]] = attr.get("value", "on")
        elif tag == "textarea":
            self.textarea = attr["name"]
            self.values[self.textarea] = ""
        elif tag == "select":
            self.select = attr["name"]

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.in_form = False
        elif tag == "textarea":
            self.textarea = None
        elif tag == "select":
            self.select = None

    def handle_data(self, data: str) -> None:
        if self.textarea:
            # Django starts a textarea's content with a newline, which browsers drop.
            self.values[self.textarea] += data.removeprefix("\n") if not self.values[
                self.textarea] else data


def form_values(page) -> dict[str, str]:
    parser = _FormValues()
    parser.feed(page.content.decode())
    return parser.values


def press(client: Client, path: str, page, action: str, **changes: str):
    """Submit ``page``'s builder form to ``path`` with the button ``action``, after typing
    ``changes`` (field name -> value)."""
    return client.post(path, {**form_values(page), **changes, "action": action})


def question_fields(index: int, kind: str, text: str, **settings: str) -> dict[str, str]:
    return {f"questions-{index}-kind": kind, f"questions-{index}-text": text,
            **{f"questions-{index}-{name}": value for name, value in settings.items()}}


def stored_questions(tenant, survey: Survey) -> list[tuple]:
    with schema_context(tenant.schema_name):
        return [(q.position, q.kind, q.text, q.choices, q.min_value, q.max_value, q.branching)
                for q in SurveyQuestion.objects.filter(survey=survey)]


@pytest.fixture
def owner(alpha, alpha_client) -> Client:
    login(alpha_client, "owner@alpha.example")
    return alpha_client


@pytest.fixture
def built(alpha, owner) -> Survey:
    """A survey with a choice, a number and a yes/no question, built on the page."""
    page = owner.get("/surveys/new/")
    for _ in range(2):
        page = press(owner, "/surveys/new/", page, "add")
    saved = press(owner, "/surveys/new/", page, "save", **{
        "name": "Store visit", "intro": "Alpha would like your feedback.",
        "closing_message": "Thanks!", "max_reask": "1",
        **question_fields(0, "choice", STORE, choices="Downtown\n\n Airport \nMall",
                          branching="Mall: 3"),
        **question_fields(1, "number", VISITS, min_value="1", max_value="31"),
        **question_fields(2, "yes_no", FOUND, branching="no: end"),
    })
    assert saved.status_code == 302, saved.content.decode()
    assert saved["Location"] == "/surveys/"
    with schema_context(alpha.schema_name):
        return Survey.objects.get()


def test_an_owner_builds_a_survey_that_customers_are_then_asked(alpha, owner, built, api,
                                                                sim_sender):
    listing = owner.get("/surveys/").content.decode()
    assert "Survey Store visit saved." in listing
    assert 'href="/surveys/new/"' in listing and "created through the API" not in listing
    assert f'href="/surveys/{built.pk}/edit/"' in listing
    assert f'href="/surveys/{built.pk}/"' in listing
    assert (built.name, built.intro, built.closing_message, built.active, built.max_reask,
            built.expire_after_minutes) == (
        "Store visit", "Alpha would like your feedback.", "Thanks!", True, 1, 1440)
    assert stored_questions(alpha, built) == [
        (1, "choice", STORE, ["Downtown", "Airport", "Mall"], None, None, {"Mall": 3}),
        (2, "number", VISITS, [], 1.0, 31.0, {}),
        (3, "yes_no", FOUND, [], None, None, {"no": "end"}),
    ]

    started = api.post(f"surveys/{built.pk}/start", {"to": CUSTOMER, "from": SIM_NUMBER})
    assert started.status_code == 202, started.content
    # "Mall" skips the number question; "no" ends the survey.
    assert [m.body for m in customer_texts(alpha, "3")] == [f"{FOUND} Reply YES or NO."]
    assert [m.body for m in customer_texts(alpha, "no")] == ["Thanks!"]


def test_a_new_survey_starts_with_one_blank_question_and_add_keeps_what_was_typed(owner):
    page = owner.get("/surveys/new/")
    assert page.status_code == 200
    assert form_values(page)["questions-TOTAL_FORMS"] == "1"
    assert form_values(page)["active"] == "on"
    added = press(owner, "/surveys/new/", page, "add", name="Half done",
                  **question_fields(0, "number", "How old are you?", min_value="abc"))
    assert added.status_code == 200
    values = form_values(added)
    assert values["questions-TOTAL_FORMS"] == "2"
    assert (values["name"], values["questions-0-kind"], values["questions-0-text"],
            values["questions-0-min_value"]) == ("Half done", "number", "How old are you?",
                                                  "abc")
    assert values["questions-1-kind"] == "text" and values["questions-1-text"] == ""
    assert b"Enter a number" not in added.content  # nothing is checked until saving


def test_moving_and_removing_questions_keeps_skip_ahead_lines_on_their_questions(
        alpha, owner, built):
    path = f"/surveys/{built.pk}/edit/"
    page = owner.get(path)
    assert page.status_code == 200
    values = form_values(page)
    assert values["questions-0-choices"] == "Downtown\nAirport\nMall"
    assert values["questions-0-branching"] == "Mall: 3"
    assert (values["questions-1-min_value"], values["questions-1-max_value"]) == ("1", "31")

    moved = press(owner, path, page, "up:2")  # the yes/no question becomes number 2
    values = form_values(moved)
    assert [values[f"questions-{i}-text"] for i in range(3)] == [STORE, FOUND, VISITS]
    assert values["questions-0-branching"] == "Mall: 2"  # still the yes/no question
    assert stored_questions(alpha, built)[1][2] == VISITS  # nothing saved yet

    removed = press(owner, path, moved, "remove:1")
    values = form_values(removed)
    assert values["questions-TOTAL_FORMS"] == "2"
    assert [values[f"questions-{i}-text"] for i in range(2)] == [STORE, VISITS]
    # It led to the removed question: now to the one that followed it.
    assert values["questions-0-branching"] == "Mall: 2"

    moved_down = press(owner, path, removed, "down:0", **{"questions-0-branching": ""})
    saved = press(owner, path, moved_down, "save", name="Store visit 2")
    assert saved.status_code == 302
    assert stored_questions(alpha, built) == [
        (1, "number", VISITS, [], 1.0, 31.0, {}),
        (2, "choice", STORE, ["Downtown", "Airport", "Mall"], None, None, {}),
    ]
    with schema_context(alpha.schema_name):
        assert Survey.objects.get().name == "Store visit 2"


def test_settings_another_kind_uses_are_not_saved(alpha, owner, built):
    """Changing a question's kind hides the old kind's settings; they are dropped, not
    refused."""
    path = f"/surveys/{built.pk}/edit/"
    saved = press(owner, path, owner.get(path), "save", **{
        "questions-0-kind": "text", "questions-1-kind": "yes_no",
        "questions-1-max_value": "lots"})
    assert saved.status_code == 302, saved.content.decode()
    assert stored_questions(alpha, built) == [
        (1, "text", STORE, [], None, None, {}),
        (2, "yes_no", VISITS, [], None, None, {}),
        (3, "yes_no", FOUND, [], None, None, {"no": "end"}),
    ]


@pytest.mark.parametrize(("changes", "field", "message"), [
    ({"name": " "}, "name", "This field is required."),
    ({"max_reask": "9"}, "max_reask", "Ask an invalid answer again 0 to 5 times."),
    ({"questions-0-choices": "Downtown"}, "questions-0-choices",
     "Question 1: give 2 to 20 choices."),
    ({"questions-0-choices": "Mall\nmall!"}, "questions-0-choices", "is listed twice"),
    ({"questions-1-min_value": "40"}, "questions-1-min_value",
     "the lowest answer (min_value) is above the highest"),
    ({"questions-1-max_value": "lots"}, "questions-1-max_value", "Enter a number."),
    ({"questions-2-text": ""}, "questions-2-text", "This field is required."),
    ({"questions-0-branching": "Mall 3"}, "questions-0-branching",
     "Write &quot;answer: question number&quot;"),
    ({"questions-0-branching": "Mall: 1"}, "questions-0-branching",
     "give a later question&#x27;s position"),
    ({"questions-2-branching": "maybe: end"}, "questions-2-branching",
     "is not one of its answers"),
    ({"questions-2-text": "ж" * 700}, "questions-2-text", "more than 10 segments"),
    ({"questions-TOTAL_FORMS": "0"}, None, "A survey has 1 to 50 questions."),
])
def test_a_refused_edit_shows_why_next_to_the_field_keeps_the_input_and_writes_nothing(
        alpha, owner, built, changes, field, message):
    path = f"/surveys/{built.pk}/edit/"
    before = stored_questions(alpha, built)
    page = owner.get(path)
    refused = press(owner, path, page, "save", intro="Changed intro", **changes)
    assert refused.status_code == 400
    html = refused.content.decode()
    assert message in html
    if field:  # the error follows the field's input, before the next field
        after = html.split(f'name="{field}"', 1)[1]
        assert message in after.split('class="field', 1)[0]
    assert form_values(refused)["intro"] == "Changed intro"
    for name, value in changes.items():
        assert form_values(refused)[name] == value
    with schema_context(alpha.schema_name):
        assert Survey.objects.get().intro == "Alpha would like your feedback."
    assert stored_questions(alpha, built) == before


def test_a_refused_new_survey_writes_nothing(alpha, owner):
    page = owner.get("/surveys/new/")
    refused = press(owner, "/surveys/new/", page, "save", name="Quiz", **question_fields(
        0, "choice", "Pick one", choices="Only one"))
    assert refused.status_code == 400 and b"give 2 to 20 choices" in refused.content
    with schema_context(alpha.schema_name):
        assert not Survey.objects.exists() and not SurveyQuestion.objects.exists()


def test_once_started_the_questions_are_read_only_and_the_rest_still_changes(
        alpha, owner, built, api, sim_sender):
    api.post(f"surveys/{built.pk}/start", {"to": CUSTOMER, "from": SIM_NUMBER})
    path = f"/surveys/{built.pk}/edit/"
    page = owner.get(path)
    html = page.content.decode()
    assert "People have started this survey, so its questions are fixed" in html
    assert "questions-TOTAL_FORMS" not in html and "Move up" not in html
    assert STORE in html and "Airport" in html and "“Mall” goes on to question 3." in html
    assert f'href="/surveys/new/?copy={built.pk}"' in html
    saved = press(owner, path, page, "save", closing_message="Merci !", active="")
    assert saved.status_code == 302
    with schema_context(alpha.schema_name):
        survey = Survey.objects.get()
    assert (survey.closing_message, survey.active) == ("Merci !", False)

    # A page opened before anyone started it cannot change the questions afterwards.
    stale = {**form_values(page), **question_fields(0, "text", "Anything else?"),
             "questions-TOTAL_FORMS": "1", "questions-INITIAL_FORMS": "1", "action": "save"}
    refused = owner.post(path, stale)
    assert refused.status_code == 400
    assert b"People have started this survey, so its questions can no longer change" in (
        refused.content)
    assert b"questions-TOTAL_FORMS" not in refused.content  # shown read-only again
    assert stored_questions(alpha, built)[0][2] == STORE

    copy = owner.get(f"/surveys/new/?copy={built.pk}")
    values = form_values(copy)
    assert values["name"] == "Store visit (copy)"
    assert values["questions-0-branching"] == "Mall: 3"
    assert press(owner, "/surveys/new/", copy, "save").status_code == 302
    with schema_context(alpha.schema_name):
        assert Survey.objects.count() == 2


def test_the_builder_needs_the_csrf_token(alpha, built):
    browser = csrf_checked_client("alpha.localhost", "owner@alpha.example")
    path = f"/surveys/{built.pk}/edit/"
    page = browser.get(path)
    values = {**form_values(page), "name": "Renamed", "action": "save"}
    forged = {name: value for name, value in values.items() if name != "csrfmiddlewaretoken"}
    assert browser.post(path, forged).status_code == 403
    assert browser.post("/surveys/new/", forged).status_code == 403
    with schema_context(alpha.schema_name):
        assert Survey.objects.get().name == "Store visit"
    assert re.search(r'name="csrfmiddlewaretoken" value="[^"]+"', page.content.decode())
    assert browser.post(path, values).status_code == 302
    with schema_context(alpha.schema_name):
        assert Survey.objects.get().name == "Renamed"


def test_agents_are_refused_the_builder(alpha, built):
    with schema_context(alpha.schema_name):
        User.objects.create_user("agent@alpha.example", PASSWORD, role=Role.AGENT)
    agent = host_client("alpha.localhost")
    login(agent, "agent@alpha.example")
    for path in ("/surveys/new/", f"/surveys/{built.pk}/edit/", f"/surveys/new/?copy={built.pk}"):
        assert agent.get(path).status_code == 403
        assert agent.post(path, {"name": "Mine", "action": "save"}).status_code == 403
    assert 'href="/surveys/' not in agent.get("/").content.decode()
    with schema_context(alpha.schema_name):
        assert Survey.objects.get().name == "Store visit"


def test_another_tenants_survey_is_not_found(beta_client, built):
    login(beta_client, "owner@beta.example")
    assert beta_client.get(f"/surveys/{built.pk}/edit/").status_code == 404
    assert beta_client.get(f"/surveys/new/?copy={built.pk}").status_code == 404


# Deleting a survey.

def survey_counts(tenant) -> tuple[int, int, int, int]:
    with schema_context(tenant.schema_name):
        return (Survey.objects.count(), SurveyQuestion.objects.count(),
                SurveySession.objects.count(), SurveyAnswer.objects.count())


def test_the_delete_button_leads_to_a_page_that_says_what_goes_with_the_survey(
        alpha, owner, built, api, sim_sender):
    for phone in (CUSTOMER, "+14155550177"):
        api.post(f"surveys/{built.pk}/start", {"to": phone, "from": SIM_NUMBER})
    customer_texts(alpha, "2")  # one answer; both still in progress
    path = f"/surveys/{built.pk}/delete/"
    assert f'<a class="button danger" href="{path}">Delete survey</a>' in owner.get(
        f"/surveys/{built.pk}/edit/").content.decode()
    assert f'href="{path}"' in owner.get(f"/surveys/{built.pk}/").content.decode()
    assert b"Delete survey" not in owner.get("/surveys/new/").content

    page = owner.get(path)
    assert page.status_code == 200
    text = " ".join(re.sub(r"<[^>]+>", " ", page.content.decode()).split())
    assert "Delete survey Store visit?" in text
    assert "its 3 questions;" in text
    assert "2 sessions (one each time someone started it) with 1 answer in all: its results" in text
    assert "2 people are answering it now. They will be asked nothing more" in text
    assert re.search(r'<form method="post" action="' + path + r'">\s*<input type="hidden" '
                     r'name="csrfmiddlewaretoken"', page.content.decode())
    assert survey_counts(alpha) == (1, 3, 2, 1)  # a GET deletes nothing


def test_deleting_a_survey_takes_its_questions_sessions_and_answers_not_the_messages(
        alpha, owner, built, api, sim_sender):
    api.post(f"surveys/{built.pk}/start", {"to": CUSTOMER, "from": SIM_NUMBER})
    customer_texts(alpha, "2")
    with schema_context(alpha.schema_name):
        sent = Message.objects.count()
    asked = owner.post(f"/surveys/{built.pk}/delete/")  # not from its form: nothing goes
    assert asked.status_code == 200 and survey_counts(alpha)[0] == 1
    deleted = owner.post(f"/surveys/{built.pk}/delete/", CONFIRM)
    assert (deleted.status_code, deleted["Location"]) == (302, "/surveys/")
    assert "Survey Store visit deleted." in owner.get("/surveys/").content.decode()
    assert survey_counts(alpha) == (0, 0, 0, 0)
    with schema_context(alpha.schema_name):
        assert Message.objects.count() == sent
    assert owner.get(f"/surveys/{built.pk}/delete/").status_code == 404
    assert owner.post(f"/surveys/{built.pk}/delete/", CONFIRM).status_code == 404


def test_after_deleting_a_survey_in_progress_the_next_text_is_an_ordinary_message(
        alpha, owner, built, api, sim_sender):
    """Its people are asked nothing more: what they text next meets the keyword rules, as
    if no survey had been running."""
    with schema_context(alpha.schema_name):
        keyword_rule_save(keyword="hours", match="exact", reply="We open at 9.")
    api.post(f"surveys/{built.pk}/start", {"to": CUSTOMER, "from": SIM_NUMBER})
    assert owner.post(f"/surveys/{built.pk}/delete/", CONFIRM).status_code == 302
    assert [m.body for m in customer_texts(alpha, "hours")] == ["We open at 9."]
    assert customer_texts(alpha, "2") == []  # no question asked again, no hint
    with schema_context(alpha.schema_name):
        assert not Message.objects.filter(direction="inbound").exclude(
            status="processed").exists()


def test_a_survey_a_keyword_rule_starts_is_not_deleted_and_the_page_names_the_rule(
        alpha, owner, built):
    with schema_context(alpha.schema_name):
        rule = keyword_rule_save(keyword="visit", match="exact", reply="",
                                 start_survey=built)
    path = f"/surveys/{built.pk}/delete/"
    page = owner.get(path).content.decode()
    assert f'<a href="/rules/{rule.pk}/">Rule <code>visit</code></a>' in page
    assert "so it cannot be deleted" in page and "<form" not in page.split("<main", 1)[1]
    refused = owner.post(path, CONFIRM)
    assert refused.status_code == 400
    assert re.search(r'<div class="errors" role="alert">.*Keyword rules start this survey '
                     r'\(visit\); change them first\.', refused.content.decode(), re.S)
    assert survey_counts(alpha) == (1, 3, 0, 0)


def test_deleting_needs_the_csrf_token(alpha, built):
    browser = csrf_checked_client("alpha.localhost", "owner@alpha.example")
    path = f"/surveys/{built.pk}/delete/"
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"',
                      browser.get(path).content.decode()).group(1)
    assert browser.post(path, CONFIRM).status_code == 403
    assert survey_counts(alpha)[0] == 1
    assert browser.post(path, {"csrfmiddlewaretoken": token, **CONFIRM}).status_code == 302
    assert survey_counts(alpha)[0] == 0


def test_agents_and_other_tenants_cannot_delete_a_survey(alpha, built, beta_client):
    with schema_context(alpha.schema_name):
        User.objects.create_user("agent@alpha.example", PASSWORD, role=Role.AGENT)
    agent = host_client("alpha.localhost")
    login(agent, "agent@alpha.example")
    path = f"/surveys/{built.pk}/delete/"
    assert agent.get(path).status_code == 403
    assert agent.post(path, CONFIRM).status_code == 403
    login(beta_client, "owner@beta.example")
    assert beta_client.get(path).status_code == 404
    assert beta_client.post(path, CONFIRM).status_code == 404
    assert survey_counts(alpha) == (1, 3, 0, 0)


@pytest.mark.parametrize(("action", "texts", "branching"), [
    ("add", ["1", "2", "3", ""], ["yes: 3", "", "no: end", None]),
    ("up:0", ["1", "2", "3"], ["yes: 3", "", "no: end"]),  # nothing above the first
    ("down:2", ["1", "2", "3"], ["yes: 3", "", "no: end"]),
    ("up:2", ["1", "3", "2"], ["yes: 2", "no: end", ""]),
    ("down:0", ["2", "1", "3"], ["", "yes: 3", "no: end"]),
    ("remove:2", ["1", "2"], ["yes: end", ""]),
    ("remove:0", ["2", "3"], ["", "no: end"]),
    ("remove:9", ["1", "2", "3"], ["yes: 3", "", "no: end"]),
    ("up:x", ["1", "2", "3"], ["yes: 3", "", "no: end"]),
])
def test_rearranging_rows(action, texts, branching):
    rows = [{"kind": "yes_no", "text": "1", "branching": "yes: 3"},
            {"kind": "text", "text": "2", "branching": ""},
            {"kind": "yes_no", "text": "3", "branching": "no: end"}]
    rearranged = question_rows_rearrange(rows, action)
    assert [row.get("text", "") for row in rearranged] == texts
    assert [row.get("branching") for row in rearranged] == branching


def test_a_branching_line_that_does_not_parse_is_kept_as_typed():
    rows = [{"text": "1", "branching": "yes -> 2"}, {"text": "2", "branching": ""}]
    assert question_rows_rearrange(rows, "down:0")[1]["branching"] == "yes -> 2"
