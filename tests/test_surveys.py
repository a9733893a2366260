"""Surveys: questions asked by SMS one at a time, validated and re-asked, branching, the
closing message, STOP and expiry; started by API or by a keyword rule; results as JSON, CSV
and a page for admins."""

from __future__ import annotations

import copy
import csv
import io
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta

import pytest
from django.db import connections, transaction
from django.utils import timezone
from django_tenants.utils import schema_context

from accounts.models import Role, User
from core.errors import DomainError
from messaging.hours import business_hours_update
from messaging.inbound import message_process, message_receive_simulated
from messaging.models import (
    Message,
    Survey,
    SurveyAnswer,
    SurveyQuestion,
    SurveySession,
)
from messaging.outbound import OPTOUT_CONFIRMATION
from messaging.selectors import survey_report
from messaging.surveys import (
    answer_parse,
    do_survey_start,
    sessions_expire,
    survey_delete,
    survey_save,
)
from tenants.models import Tenant
from tests.conftest import PASSWORD, host_client, login
from tests.support.db import tenant_data_reset
from tests.support.messaging import (
    CUSTOMER,
    SIM_NUMBER,
    Api,
    approved_sender,
    customer_texts,
    key_for,
)

OTHER = "+14155550177"
STORE = "Which store did you visit?\n1) Downtown\n2) Airport\n3) Mall"
FOUND = "Did you find what you needed? Reply YES or NO."
MISSING = "What were you looking for?"
RETURN = "From 0 to 10, how likely are you to come back?"
THANKS = "Thanks for your answers!"
SURVEY = {
    "name": "Store visit",
    "intro": "Alpha would like your feedback.",
    "closing_message": THANKS,
    "questions": [
        {"kind": "choice", "text": "Which store did you visit?",
         "choices": ["Downtown", "Airport", "Mall"]},
        # Those who found what they needed skip the next question.
        {"kind": "yes_no", "text": "Did you find what you needed?", "branching": {"yes": 4}},
        {"kind": "text", "text": MISSING},
        {"kind": "number", "text": RETURN, "min_value": 0, "max_value": 10},
    ],
}


def bodies(replies: list[Message]) -> list[str]:
    return [reply.body for reply in replies]


def create_survey(api: Api, **changes) -> int:
    response = api.post("surveys", {**copy.deepcopy(SURVEY), **changes})
    assert response.status_code == 201, response.content
    return response.json()["id"]


def start(api: Api, survey_id: int, to: str = CUSTOMER):
    return api.post(f"surveys/{survey_id}/start", {"to": to, "from": SIM_NUMBER})


def session_of(tenant, phone: str = CUSTOMER) -> SurveySession:
    with schema_context(tenant.schema_name):
        return SurveySession.objects.filter(contact__phone=phone).latest("id")


def answers_of(tenant, phone: str = CUSTOMER) -> dict[int, str]:
    with schema_context(tenant.schema_name):
        return dict(SurveyAnswer.objects.filter(session__contact__phone=phone)
                    .values_list("question__position", "value"))


def test_a_contact_answers_branches_past_a_question_and_gets_the_closing_message(
        alpha, api, sim_sender):
    with schema_context(alpha.schema_name):
        business_hours_update(enabled=True, opening_hours={})  # closed all week
    survey_id = create_survey(api)
    started = start(api, survey_id)
    assert started.status_code == 202, started.content
    assert {k: started.json()[k] for k in ("survey", "contact", "sender", "status",
                                           "current_question")} == {
        "survey": survey_id, "contact": CUSTOMER, "sender": SIM_NUMBER, "status": "active",
        "current_question": 1}
    with schema_context(alpha.schema_name):
        [first] = Message.objects.filter(direction="outbound")
    assert first.body == f"Alpha would like your feedback.\n\n{STORE}"
    assert (first.origin, first.origin_ref, first.to_address) == (
        "survey", str(survey_id), CUSTOMER)

    # Answers get the next question only: no out-of-office reply, no rule.
    assert bodies(customer_texts(alpha, "airport")) == [FOUND]
    assert bodies(customer_texts(alpha, "Y")) == [RETURN]  # "yes" skips question 3
    assert bodies(customer_texts(alpha, "9")) == [THANKS]
    session = session_of(alpha)
    assert (session.status, session.current_question, session.finished_at is not None) == (
        "completed", None, True)
    assert answers_of(alpha) == {1: "Airport", 2: "yes", 4: "9"}
    # Over: the next message is a message again (here, the out-of-office reply).
    assert [r.origin_ref for r in customer_texts(alpha, "9")] == ["business_hours"]


def test_invalid_answers_are_asked_again_with_a_hint_then_the_survey_moves_on(
        alpha, api, sim_sender):
    start(api, create_survey(api))
    hint = "Sorry, please reply with a number from 1 to 3 or one of the options."
    assert bodies(customer_texts(alpha, "4")) == [f"{hint}\n{STORE}"]
    assert bodies(customer_texts(alpha, "the big one")) == [f"{hint}\n{STORE}"]
    # max_reask (2) re-asks spent: the question is skipped unanswered.
    assert bodies(customer_texts(alpha, "dunno")) == [FOUND]
    assert bodies(customer_texts(alpha, "nope")) == [f"Sorry, please reply YES or NO.\n{FOUND}"]
    assert bodies(customer_texts(alpha, "no")) == [MISSING]
    assert bodies(customer_texts(alpha, "Blue socks")) == [RETURN]
    number_hint = "Sorry, please reply with a number from 0 to 10."
    assert bodies(customer_texts(alpha, "11")) == [f"{number_hint}\n{RETURN}"]
    assert bodies(customer_texts(alpha, "-1")) == [f"{number_hint}\n{RETURN}"]
    # Moving on from the last question ends the survey as usual.
    assert bodies(customer_texts(alpha, "twelve")) == [THANKS]
    assert session_of(alpha).status == "completed"
    assert answers_of(alpha) == {2: "no", 3: "Blue socks"}


@pytest.mark.parametrize(("kind", "text", "value"), [
    ("choice", "2", "Airport"), ("choice", "2)", "Airport"), ("choice", " mall! ", "Mall"),
    ("choice", "DOWNTOWN", "Downtown"), ("choice", "4", None), ("choice", "0", None),
    ("choice", "the mall", None), ("choice", "²", None),
    # More digits than int() reads (4,300): an invalid answer, not a failed task.
    ("choice", "1" * 5000, None), ("number", "1" * 5000, None),
    ("yes_no", "Yes.", "yes"), ("yes_no", "y", "yes"), ("yes_no", "NO", "no"),
    ("yes_no", "n", "no"), ("yes_no", "yeah", None),
    ("number", "7", "7"), ("number", "3,5", "3.5"), ("number", "10.0", "10"),
    ("number", "0", "0"), ("number", "10.5", None), ("number", "-1", None),
    ("number", "seven", None), ("number", "NaN", None), ("number", "1/2", None),
    ("text", "  Blue   socks ", "Blue socks"), ("text", "   ", None),
])
def test_answers_are_read_as_people_write_them(kind, text, value):
    question = SurveyQuestion(position=1, kind=kind, text="?",
                              choices=["Downtown", "Airport", "Mall"] if kind == "choice" else [],
                              min_value=0 if kind == "number" else None,
                              max_value=10 if kind == "number" else None)
    assert answer_parse(question=question, text=text) == value


def test_stop_during_a_survey_ends_it_and_only_the_confirmation_is_sent(alpha, api,
                                                                      sim_sender):
    start(api, create_survey(api))
    customer_texts(alpha, "Mall")
    [confirmation] = customer_texts(alpha, "STOP")
    assert confirmation.origin_ref == OPTOUT_CONFIRMATION
    session = session_of(alpha)
    assert (session.status, session.finished_at is not None) == ("stopped", True)
    assert customer_texts(alpha, "yes") != []  # opted back in ("YES" while opted out)...
    assert customer_texts(alpha, "yes") == []  # ...and the survey does not come back
    assert answers_of(alpha) == {1: "Mall"}


def test_starting_for_an_opted_out_contact_is_refused_and_writes_nothing(alpha, api,
                                                                       sim_sender):
    survey_id = create_survey(api)
    customer_texts(alpha, "STOP")
    response = start(api, survey_id)
    assert (response.status_code, response.json()["code"]) == (400, "recipient_opted_out")
    assert response.json()["fields"]["to"][0]["code"] == "recipient_opted_out"
    with schema_context(alpha.schema_name):
        assert not SurveySession.objects.exists()
        assert not Message.objects.filter(origin="survey").exists()


def test_a_keyword_rule_starts_a_survey(alpha, api, sim_sender):
    survey_id = create_survey(api, intro="")
    # Starting a survey is an action of its own: no reply needed.
    rule = api.post("keyword-rules", {"keyword": "feedback", "reply": "",
                                      "start_survey": survey_id})
    assert rule.status_code == 201, rule.content
    assert rule.json()["start_survey"] == survey_id
    assert bodies(customer_texts(alpha, "Feedback!")) == [STORE]
    assert session_of(alpha).status == "active"
    # While it runs, the keyword is an answer (an invalid one), not a restart.
    assert bodies(customer_texts(alpha, "feedback"))[0].startswith("Sorry")
    with schema_context(alpha.schema_name):
        assert SurveySession.objects.count() == 1
    unknown = api.post("keyword-rules", {"keyword": "x", "start_survey": survey_id + 100})
    assert (unknown.status_code, unknown.json()["code"]) == (400, "validation_error")
    assert "start_survey" in unknown.json()["fields"]
    # An id is a JSON integer, as the schema says: "5" is a client's bug to hear about.
    as_text = api.post("keyword-rules", {"keyword": "y", "start_survey": str(survey_id)})
    assert (as_text.status_code, as_text.json()["code"]) == (400, "validation_error")
    assert "start_survey" in as_text.json()["fields"]
    # A survey a rule starts cannot be deleted from under it.
    refused = api.delete(f"surveys/{survey_id}")
    assert (refused.status_code, refused.json()["code"]) == (400, "survey_in_use")
    assert api.delete(f"keyword-rules/{rule.json()['id']}").status_code == 204
    assert api.delete(f"surveys/{survey_id}").status_code == 204


def test_an_idle_session_expires_and_the_next_message_is_no_answer(alpha, api, sim_sender):
    start(api, create_survey(api, expire_after_minutes=60))
    with schema_context(alpha.schema_name):
        SurveySession.objects.update(last_activity_at=timezone.now() - timedelta(minutes=61))
    # Idle past expiry: not an answer, even before the periodic task has run.
    assert customer_texts(alpha, "Mall") == []
    assert sessions_expire() == 1
    session = session_of(alpha)
    assert (session.status, session.current_question, session.finished_at is not None) == (
        "expired", None, True)
    assert customer_texts(alpha, "Mall") == []
    assert answers_of(alpha) == {}


def test_starting_again_replaces_an_unfinished_session(alpha, api, sim_sender):
    survey_id = create_survey(api)
    first = start(api, survey_id).json()
    customer_texts(alpha, "Mall")
    second = start(api, survey_id).json()
    with schema_context(alpha.schema_name):
        assert SurveySession.objects.get(pk=first["id"]).status == "expired"
    assert second["current_question"] == 1
    assert bodies(customer_texts(alpha, "Airport")) == [FOUND]


@pytest.fixture
def answered(alpha, api, sim_sender) -> int:
    """Two people took the survey; the second typed a formula and markup as text."""
    survey_id = create_survey(api)
    start(api, survey_id)
    for text in ("Airport", "yes", "9"):
        customer_texts(alpha, text)
    start(api, survey_id, to=OTHER)
    for text in ("mall", "no", "=1+1 <script>alert(1)</script>", "3"):
        customer_texts(alpha, text, from_=OTHER)
    return survey_id


def test_results_count_each_answer(api, answered):
    response = api.get(f"surveys/{answered}/results")
    assert response.status_code == 200
    assert response.json() == {
        "survey": answered,
        "sessions": {"total": 2, "active": 0, "completed": 2, "expired": 0, "stopped": 0},
        "questions": [
            {"position": 1, "kind": "choice", "text": "Which store did you visit?",
             "answers": 2, "counts": {"Downtown": 0, "Airport": 1, "Mall": 1}},
            {"position": 2, "kind": "yes_no", "text": "Did you find what you needed?",
             "answers": 2, "counts": {"yes": 1, "no": 1}},
            {"position": 3, "kind": "text", "text": MISSING, "answers": 1},
            {"position": 4, "kind": "number", "text": RETURN, "answers": 2,
             "min": 3.0, "max": 9.0, "mean": 6.0},
        ],
    }


def test_results_csv_has_one_row_per_session_and_defuses_formulas(api, answered):
    response = api.get(f"surveys/{answered}/results.csv")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    header, *rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert header == ["phone", "status", "started_at", "Q1: Which store did you visit?",
                      "Q2: Did you find what you needed?", f"Q3: {MISSING}", f"Q4: {RETURN}"]
    assert [row[:2] + row[3:] for row in rows] == [
        [CUSTOMER, "completed", "Airport", "yes", "", "9"],
        [OTHER, "completed", "Mall", "no", "'=1+1 <script>alert(1)</script>", "3"],
    ]
    assert all(row[2].startswith(str(timezone.now().year)) for row in rows)


def test_results_page_escapes_answers_and_is_for_admins_only(alpha, answered):
    owner = host_client("alpha.localhost")
    login(owner, "owner@alpha.example")
    listing = owner.get("/surveys/").content.decode()
    assert f'href="/surveys/{answered}/"' in listing and "Store visit" in listing
    assert 'href="/surveys/"' in listing  # in the navigation
    page = owner.get(f"/surveys/{answered}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script>alert(1)" not in html
    assert "Airport" in html and "50%" in html and '<rect width="50"' in html
    assert f'href="/surveys/{answered}/results.csv"' in html
    download = owner.get(f"/surveys/{answered}/results.csv")
    assert download.status_code == 200 and b"Airport" in download.content

    with schema_context(alpha.schema_name):
        User.objects.create_user("agent@alpha.example", PASSWORD, role=Role.AGENT)
    agent = host_client("alpha.localhost")
    login(agent, "agent@alpha.example")
    for path in ("/surveys/", f"/surveys/{answered}/", f"/surveys/{answered}/results.csv"):
        assert agent.get(path).status_code == 403
    assert 'href="/surveys/"' not in agent.get("/simulator/").content.decode()


def test_results_need_the_settings_scope(alpha, answered):
    sender_only = Api(alpha, key_for(alpha, scopes=["messages:send"]))
    assert sender_only.get(f"surveys/{answered}/results").status_code == 403
    assert sender_only.get(f"surveys/{answered}/results.csv").status_code == 403


def question(index: int, **changes) -> dict:
    survey = copy.deepcopy(SURVEY)
    survey["questions"][index].update(changes)
    return survey


@pytest.mark.parametrize(("survey", "code", "field"), [
    ({**SURVEY, "questions": []}, "invalid_question", "questions"),
    ({**SURVEY, "name": ""}, "validation_error", "name"),
    ({**SURVEY, "max_reask": 9}, "invalid_survey", "max_reask"),
    (question(0, kind="scale"), "validation_error", "questions.0.kind"),
    (question(0, text="  "), "validation_error", "questions.0.text"),
    (question(0, choices=["Only one"]), "invalid_question", "questions.0.choices"),
    (question(0, choices=["Mall", "mall!"]), "invalid_question", "questions.0.choices"),
    (question(0, choices=["2", "Airport"]), "invalid_question", "questions.0.choices"),
    (question(2, choices=["a", "b"]), "invalid_question", "questions.2.choices"),
    (question(3, min_value=10, max_value=0), "invalid_question", "questions.3.min_value"),
    (question(1, branching={"maybe": 3}), "invalid_branch", "questions.1.branching"),
    (question(1, branching={"no": 1}), "invalid_branch", "questions.1.branching"),
    (question(1, branching={"no": 9}), "invalid_branch", "questions.1.branching"),
    (question(2, branching={"socks": "end"}), "invalid_branch", "questions.2.branching"),
    # Eleven UCS-2 segments.
    (question(2, text="ж" * 700), "invalid_question", "questions.2.text"),
])
def test_invalid_surveys_are_refused_with_a_code_and_nothing_saved(alpha, api, survey, code,
                                                                   field):
    response = api.post("surveys", survey)
    assert response.status_code == 400, response.content
    assert response.json()["code"] == code
    assert field in response.json()["fields"]
    with schema_context(alpha.schema_name):
        assert not Survey.objects.exists() and not SurveyQuestion.objects.exists()


def test_surveys_api_crud_and_questions_fixed_once_started(alpha, api, sim_sender):
    survey_id = create_survey(api, questions=[
        SURVEY["questions"][0], {"kind": "yes_no", "text": "Did you find what you needed?"}])
    assert api.get("surveys").json()["results"][0]["id"] == survey_id
    detail = api.get(f"surveys/{survey_id}").json()
    assert [q["position"] for q in detail["questions"]] == [1, 2]
    assert detail["questions"][1]["branching"] == {}
    assert (detail["max_reask"], detail["expire_after_minutes"], detail["active"]) == (
        2, 1440, True)
    changed = api.put(f"surveys/{survey_id}", SURVEY)
    assert changed.status_code == 200, changed.content
    assert len(changed.json()["questions"]) == 4
    assert changed.json()["questions"][1]["branching"] == {"yes": 4}

    start(api, survey_id)
    locked = api.put(f"surveys/{survey_id}", question(3, max_value=5))
    assert (locked.status_code, locked.json()["code"]) == (400, "survey_locked")
    # The texts around the questions, and whether it can start, still change.
    renamed = api.put(f"surveys/{survey_id}", {**SURVEY, "closing_message": "Merci!",
                                               "active": False})
    assert renamed.status_code == 200
    assert customer_texts(alpha, "Mall")[0].body == FOUND  # the running session goes on
    inactive = start(api, survey_id, to=OTHER)
    assert (inactive.status_code, inactive.json()["code"]) == (400, "survey_inactive")

    assert api.delete(f"surveys/{survey_id}").status_code == 204
    assert api.get(f"surveys/{survey_id}").status_code == 404
    with schema_context(alpha.schema_name):
        assert not SurveySession.objects.exists()
    # The customer's next message is a plain message again.
    assert customer_texts(alpha, "yes") == []


def test_starting_needs_an_approved_sender_of_the_tenant(api, sim_sender):
    survey_id = create_survey(api)
    response = api.post(f"surveys/{survey_id}/start", {"to": CUSTOMER, "from": "+14155550999"})
    assert (response.status_code, response.json()["code"]) == (400, "unknown_sender")
    assert api.post(f"surveys/{survey_id + 1}/start",
                    {"to": CUSTOMER, "from": SIM_NUMBER}).status_code == 404


def test_many_different_numbers_are_charted_in_ranges(alpha, api, sim_sender):
    survey_id = create_survey(api, intro="", closing_message="", questions=[
        {"kind": "number", "text": "How many items did you buy?", "min_value": 1}])
    for count in range(1, 13):
        phone = f"+1415555{count:04d}"
        start(api, survey_id, to=phone)
        customer_texts(alpha, str(count), from_=phone)
    with schema_context(alpha.schema_name):
        [result] = survey_report(survey=Survey.objects.get(pk=survey_id))["questions"]
    assert (result["min"], result["max"], result["mean"]) == (1.0, 12.0, 6.5)
    assert len(result["bars"]) == 10 and sum(bar["count"] for bar in result["bars"]) == 12
    assert (result["bars"][0]["label"], result["bars"][-1]["label"]) == ("1 to 2.1", "10.9 to 12")


@pytest.fixture
def alpha_committed(committed_db) -> Iterator[Tenant]:
    """Alpha with the simulator's number, for tests whose threads see each other's commits;
    what they wrote is removed afterwards."""
    alpha = Tenant.objects.get(slug="alpha")
    approved_sender(alpha, SIM_NUMBER, "simulator")
    yield alpha
    tenant_data_reset(alpha)


@contextmanager
def racing(tenant: Tenant, action: Callable[[], object], *, what: str
           ) -> Iterator[dict[str, str]]:
    """The block runs in a transaction in ``tenant``'s schema; once it is done, ``action``
    starts on a thread of its own (its own database connection) and must still be waiting
    a second later for that transaction, which then commits. Yields the thread's outcome,
    filled once the block is left: "done", a DomainError's code, or any other
    exception's repr."""
    outcome: dict[str, str] = {}
    ready = threading.Event()

    def run() -> None:
        ready.wait(10)
        try:
            with schema_context(tenant.schema_name):
                action()
            outcome["result"] = "done"
        except DomainError as exc:
            outcome["result"] = exc.code
        except Exception as exc:  # any failure is the outcome the test reports
            outcome["result"] = repr(exc)
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    with schema_context(tenant.schema_name), transaction.atomic():
        yield outcome
        ready.set()
        thread.join(1)
        assert thread.is_alive(), f"{what} did not wait for the transaction to commit"
    thread.join(10)


def test_a_change_of_questions_waits_for_a_start_in_progress_then_is_refused(alpha_committed):
    """A start and a change of the questions race: the change waits on the survey's row
    until the start commits, then sees its session and refuses, so no session loses the
    questions it answers."""
    alpha = alpha_committed
    with schema_context(alpha.schema_name):
        survey = survey_save(name="Race", questions=[{"kind": "text", "text": "Why?"}])
    with racing(alpha, lambda: survey_save(survey=Survey.objects.get(pk=survey.pk),
                                           questions=[{"kind": "text", "text": "Why not?"}]),
                what="the change") as outcome:
        do_survey_start(survey=survey, phone=CUSTOMER, sender_address=SIM_NUMBER)
    assert outcome == {"result": "survey_locked"}
    with schema_context(alpha.schema_name):
        assert SurveySession.objects.filter(survey=survey).count() == 1
        assert list(survey.questions.values_list("text", flat=True)) == ["Why?"]


def test_a_deletion_waits_for_an_answer_in_progress_and_takes_it_along(alpha_committed):
    """An answer is being processed while an admin deletes the survey: the deletion waits
    on the conversation until the answer commits, then deletes it with the rest (rather
    than failing on an answer it did not see), and the next message is no answer."""
    alpha = alpha_committed
    with schema_context(alpha.schema_name):
        survey = survey_save(name="Race", questions=[{"kind": "text", "text": "Why?"},
                                                     {"kind": "text", "text": "And?"}])
        do_survey_start(survey=survey, phone=CUSTOMER, sender_address=SIM_NUMBER)
        answer = message_receive_simulated(from_address=CUSTOMER, to=SIM_NUMBER,
                                           body="Because")
    with racing(alpha, lambda: survey_delete(survey=Survey.objects.get(pk=survey.pk)),
                what="the deletion") as outcome:
        message_process(message_id=answer.pk)
        assert SurveyAnswer.objects.filter(value="Because").exists()
    assert outcome == {"result": "done"}
    with schema_context(alpha.schema_name):
        assert not SurveySession.objects.exists() and not SurveyAnswer.objects.exists()
    assert customer_texts(alpha, "Also this") == []  # not taken as the answer to "And?"


def test_a_start_waits_for_a_deletion_in_progress_then_is_refused(alpha_committed):
    """The survey is being deleted when the API starts it: the start waits on the
    survey's row, finds it gone and says so (``survey_deleted``), sending nothing."""
    alpha = alpha_committed
    with schema_context(alpha.schema_name):
        survey = survey_save(name="Race", questions=[{"kind": "text", "text": "Why?"}])
    survey_id = survey.pk  # the deletion clears survey.pk

    def start() -> None:
        # As the API view: it reads the survey, still there until the deletion commits.
        do_survey_start(survey=Survey.objects.get(pk=survey_id), phone=CUSTOMER,
                        sender_address=SIM_NUMBER)

    with racing(alpha, start, what="the start") as outcome:
        survey_delete(survey=survey)
    assert outcome == {"result": "survey_deleted"}
    with schema_context(alpha.schema_name):
        assert not Message.objects.exists() and not SurveySession.objects.exists()
