"""The staff inbox: the tenant's home page. Every role reaches it.

Plain Django views and server-rendered templates: each action is a form POST answered by a
redirect back to the inbox (so it works without JavaScript), and ``static/js/inbox.js``
adds live updates (it polls ``inbox_version`` and swaps in ``inbox_fragments``), keyboard
shortcuts, the composer's counter and its ``/shortcode`` list of canned responses. Message
bodies are customers' text: templates rely on autoescaping and the script only ever sets
``textContent``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from accounts.selectors import member_list
from core import encoding
from core.errors import DomainError
from core.live import inbox_version
from core.numbers import small_int
from messaging import selectors
from messaging.canned import canned_response_append, canned_response_render
from messaging.contact_panel import contact_panel_sections
from messaging.contacts import contact_update
from messaging.conversations import (
    conversation_assign,
    conversation_mark_read,
    conversation_reopen,
    conversation_resolve,
    note_create,
)
from messaging.models import Contact, Conversation, Message, Sender
from messaging.outbound import message_send

# The inbox state every link and redirect carries along.
STATE_PARAMS = ("folder", "q")


# The list shows this many conversations, and as many more at each "Show more": a page
# of 200 rows costs more to render than the whole query does.
LIST_PAGE = 50
MAX_LISTED = 1000
# Likewise the thread: its latest messages, and earlier ones on demand.
THREAD_PAGE = 50


def _state(params: Any) -> dict[str, str]:
    folder = params.get("folder", "")
    shown = small_int(str(params.get("n", "")))
    return {"folder": folder if folder in selectors.INBOX_FOLDERS else "open",
            "q": params.get("q", "").strip()[:200],
            "n": str(shown) if shown and LIST_PAGE < shown <= MAX_LISTED else ""}


def inbox_url(*, folder: str = "open", q: str = "", n: str = "",
              conversation: int | None = None) -> str:
    params = {key: value for key, value in (("folder", folder), ("q", q), ("n", n))
              if value and not (key == "folder" and value == "open")}
    if conversation is not None:
        params["c"] = str(conversation)
    return reverse("home") + (f"?{urlencode(params)}" if params else "")


def composer_counter(text: str) -> dict[str, Any]:
    """What the counter under the reply box says; ``static/js/sms_counter.js`` computes the
    same as the user types."""
    analysis = encoding.analyse(text)
    return {"analysis": analysis, "culprit": encoding.unencodable_in_gsm7(text)}


def _reply_blocked(conversation: Conversation) -> str:
    """Why no reply can be sent in this conversation, or "" when one can."""
    if conversation.contact_opted_out:
        return (f"{conversation.contact.phone} has opted out of messages from "
                f"{conversation.sender.address}: replies are blocked until they text START.")
    if conversation.sender.status != Sender.Status.APPROVED:
        return (f"The sender {conversation.sender.address} is {conversation.sender.status}: "
                "only approved senders send.")
    return ""


def _conversation(conversation_id: int) -> Conversation:
    # The current schema's rows only: another tenant's id is simply not found.
    return get_object_or_404(selectors.conversation_list(), pk=conversation_id)


def _context(request: HttpRequest, params: Any, *, reply_body: str = "",
             reply_error: str = "", fragments: bool = False) -> dict[str, Any]:
    """Everything the page shows for ``params`` (``folder``, ``q``, ``c``); with
    ``fragments``, only what ``inbox_fragments.html`` swaps in, since each open page asks
    for them on every change of its tenant (no composer, no contact form)."""
    state = _state(params)
    # Read first: a change committing while the page renders moves the version past this
    # one, so the page's next poll fetches it.
    version = inbox_version(schema=request.tenant.schema_name)
    shown = int(state["n"] or LIST_PAGE)
    conversations = list(selectors.inbox_conversation_list(
        folder=state["folder"], user=request.user, search=state["q"])[:shown + 1])
    more_url = (inbox_url(**{**state, "n": str(shown + LIST_PAGE)})
                if len(conversations) > shown and shown < MAX_LISTED else None)
    conversations = conversations[:shown]
    conversation = None
    opened = small_int(str(params.get("c", "")))
    if opened is not None:
        conversation = _conversation(opened)
        if not fragments:
            # Opening it reads it; a live refresh does not, or every open tab (and the
            # one left in the background) would read each new message as it arrives.
            conversation_mark_read(conversation=conversation)
            for row in conversations:
                if row.pk == conversation.pk:
                    row.unread_count = 0
    unread = selectors.inbox_folder_counts(user=request.user)
    context: dict[str, Any] = {
        **state,
        "more_url": more_url,
        "folders": [(key, label, inbox_url(folder=key, q=state["q"]), unread[key])
                    for key, label in selectors.INBOX_FOLDERS.items()],
        "conversations": [(row, inbox_url(conversation=row.pk, **state))
                          for row in conversations],
        "conversation": conversation,
        "version": version,
        "timezone_name": str(request.tenant.zone),
    }
    if conversation is not None:
        here = inbox_url(conversation=conversation.pk, **state)
        asked = small_int(str(params.get("m", ""))) or THREAD_PAGE
        shown_messages = max(min(asked, MAX_LISTED), THREAD_PAGE)
        earlier = conversation.messages.order_by("-id")[shown_messages:shown_messages + 1]
        context.update(
            thread=selectors.conversation_thread(conversation=conversation,
                                                 limit=shown_messages),
            earlier_url=(f"{here}&m={shown_messages + THREAD_PAGE}"
                         if shown_messages < MAX_LISTED and earlier.exists() else None),
            reply_blocked=_reply_blocked(conversation),
            members=member_list(),
            consent=selectors.contact_consent_history(contact=conversation.contact),
            here=here,
        )
        if not fragments:
            context.update(
                reply_body=reply_body,
                reply_error=reply_error,
                counter=composer_counter(reply_body),
                canned_responses=selectors.composer_canned_responses(
                    conversation=conversation),
                other_conversations=[
                    (other, inbox_url(conversation=other.pk, **state))
                    for other in selectors.contact_other_conversations(
                        conversation=conversation)],
                contact_sections=contact_panel_sections(
                    request=request, contact=conversation.contact, here=here),
            )
    return context


def _render(request: HttpRequest, template: str, context: dict[str, Any],
            status: int = 200) -> HttpResponse:
    # Times show in the business's timezone, whatever the server's.
    with timezone.override(request.tenant.zone):
        return render(request, template, context, status=status)


@login_required
@never_cache
@require_GET
def inbox(request: HttpRequest) -> HttpResponse:
    """The conversation list of a folder (all open ones by default), and the conversation
    ``?c=<id>`` with its composer and contact panel."""
    return _render(request, "messaging/inbox.html", _context(request, request.GET))


@login_required
@never_cache
@require_GET
def inbox_fragments(request: HttpRequest) -> HttpResponse:
    """The parts of the inbox that change on their own (list, thread, opt-out state), for
    the page to swap in when the version moved."""
    return _render(request, "messaging/inbox_fragments.html",
                   _context(request, request.GET, fragments=True))


@login_required
@never_cache
@require_GET
def inbox_version_view(request: HttpRequest) -> JsonResponse:
    """Polled every second or so by each open inbox: one Redis GET, no database query
    beyond the session's."""
    return JsonResponse({"version": inbox_version(schema=request.tenant.schema_name)})


def _back(request: HttpRequest, conversation: Conversation) -> HttpResponse:
    return redirect(inbox_url(conversation=conversation.pk, **_state(request.POST)))


@login_required
@require_POST
def reply(request: HttpRequest, conversation_id: int) -> HttpResponse:
    """Text the contact from the conversation's sender through the normal send path, which
    refuses an opted-out contact (``recipient_opted_out``) and checks the body; or, for
    the canned-response *Insert* button (``insert``), only fill the composer."""
    conversation = _conversation(conversation_id)
    body = request.POST.get("body", "")
    if "insert" in request.POST:
        return _canned_insert(request, conversation, body)
    try:
        message_send(from_address=conversation.sender.address, to=conversation.contact.phone,
                     body=body, origin=Message.Origin.USER, author=request.user)
    except DomainError as exc:
        # The page again, with the text kept, so nothing typed is lost.
        params = {**_state(request.POST), "c": conversation.pk}
        return _render(request, "messaging/inbox.html",
                       _context(request, params, reply_body=body, reply_error=exc.detail),
                       status=400)
    return _back(request, conversation)


def _canned_insert(request: HttpRequest, conversation: Conversation,
                   body: str) -> HttpResponse:
    """The composer's *Insert* button, for a browser without JavaScript (the script inserts
    in place): the page again with the chosen canned response added to what was typed.
    Nothing is sent."""
    params = {**_state(request.POST), "c": conversation.pk}
    canned = selectors.canned_response_list().filter(
        shortcode=request.POST.get("canned", "")).first()
    if canned is None:
        return _render(request, "messaging/inbox.html",
                       _context(request, params, reply_body=body,
                                reply_error="Choose one of the canned responses."),
                       status=400)
    text = canned_response_render(canned=canned, conversation=conversation)
    return _render(request, "messaging/inbox.html", _context(
        request, params, reply_body=canned_response_append(body=body, text=text)))


@login_required
@require_POST
def note_add(request: HttpRequest, conversation_id: int) -> HttpResponse:
    conversation = _conversation(conversation_id)
    try:
        note_create(conversation=conversation, author=request.user,
                    body=request.POST.get("body", ""))
    except DomainError as exc:
        messages.error(request, exc.detail)
    return _back(request, conversation)


@login_required
@require_POST
def assign(request: HttpRequest, conversation_id: int) -> HttpResponse:
    """``assignee``: a teammate's id, or empty for nobody."""
    conversation = _conversation(conversation_id)
    raw = request.POST.get("assignee", "")
    assignee = None
    if raw:
        member_id = small_int(raw)
        assignee = member_list().filter(pk=member_id).first() if member_id else None
        if assignee is None:
            messages.error(request, "Choose an active member of your team.")
            return _back(request, conversation)
    conversation_assign(conversation=conversation, assignee=assignee, actor=request.user)
    messages.success(request, f"Assigned to {assignee.email}." if assignee else "Unassigned.")
    return _back(request, conversation)


@login_required
@require_POST
def resolve(request: HttpRequest, conversation_id: int) -> HttpResponse:
    conversation = conversation_resolve(conversation=_conversation(conversation_id),
                                        actor=request.user)
    messages.success(request, f"Resolved the conversation with {conversation.contact}.")
    return _back(request, conversation)


@login_required
@require_POST
def reopen(request: HttpRequest, conversation_id: int) -> HttpResponse:
    conversation = conversation_reopen(conversation=_conversation(conversation_id),
                                       actor=request.user)
    messages.success(request, f"Reopened the conversation with {conversation.contact}.")
    return _back(request, conversation)


FIELD_PREFIX = "field:"


def _contact_fields(contact: Contact, post: Any) -> dict[str, Any]:
    """The custom fields as edited: an emptied value removes its field; an unchanged one
    keeps its type (a number stays a number); one new name and value may be added."""
    fields: dict[str, Any] = {}
    for key, value in contact.fields.items():
        text = post.get(FIELD_PREFIX + key)
        if text is None or text == _field_text(value):
            fields[key] = value
        elif text.strip():
            fields[key] = text.strip()
    new_name = post.get("new_field_name", "").strip()
    if new_name:
        fields[new_name] = post.get("new_field_value", "").strip()
    return fields


def _field_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@login_required
@require_POST
def contact_edit(request: HttpRequest, contact_id: int) -> HttpResponse:
    """Name, custom fields and tags from the contact panel; back to the conversation."""
    contact = get_object_or_404(Contact, pk=contact_id)
    tags = [tag for tag in request.POST.get("tags", "").split(",") if tag.strip()]
    try:
        contact_update(contact=contact, name=request.POST.get("name", ""),
                       fields=_contact_fields(contact, request.POST), tags=tags)
    except DomainError as exc:
        messages.error(request, exc.detail)
    else:
        messages.success(request, f"Saved {contact}.")
    conversation_id = small_int(request.POST.get("conversation", ""))
    if conversation_id is not None:
        return redirect(inbox_url(conversation=conversation_id, **_state(request.POST)))
    return redirect(inbox_url(**_state(request.POST)))
