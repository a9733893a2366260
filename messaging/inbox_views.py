"""The staff inbox: the tenant's home page. Every role reaches it.

Three panes (conversation list, thread, contact panel; one at a time on a phone), plain
Django views and server-rendered templates: each action is a form POST answered by a
redirect back to the inbox (so it works without JavaScript), and ``static/js/inbox.js``
adds live updates (it polls ``inbox_version`` and swaps in ``inbox_fragments``), the
unread count in the tab's title and the opt-in notification, keyboard shortcuts, the
composer's counter, its ``/shortcode`` list of canned responses and the "New message"
form's contact search. Message bodies are customers' text: templates rely on autoescaping
and the script only ever sets ``textContent``.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.text import Truncator
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.selectors import member_list
from core import encoding
from core.errors import DomainError
from core.live import inbox_version
from core.numbers import small_int
from core.phones import phone_normalize
from messaging import error_codes, selectors
from messaging.canned import (
    canned_response_append,
    canned_response_fill,
    canned_response_render,
)
from messaging.contact_panel import contact_panel_sections
from messaging.contact_views import contact_fields_from_post, contact_tags_from_post
from messaging.contacts import contact_update
from messaging.conversations import (
    conversation_assign,
    conversation_mark_read,
    conversation_reopen,
    conversation_resolve,
    note_create,
)
from messaging.models import CannedResponse, Contact, Conversation, Message, Sender
from messaging.outbound import body_check, message_send

# The inbox state every link and redirect carries along.
STATE_PARAMS = ("folder", "q", "label")


# The list shows this many conversations, and as many more at each "Show more": a page
# of 200 rows costs more to render than the whole query does.
LIST_PAGE = 50
MAX_LISTED = 1000
# Likewise the thread: its latest messages, and earlier ones on demand.
THREAD_PAGE = 50


# A label is a contact's tag: no longer than a tag.
LABEL_MAX_LENGTH = Contact._meta.get_field("tags").base_field.max_length


def _state(params: Any) -> dict[str, str]:
    folder = params.get("folder", "")
    shown = small_int(str(params.get("n", "")))
    return {"folder": folder if folder in selectors.INBOX_FOLDERS else "open",
            "q": params.get("q", "").strip()[:200],
            "label": params.get("label", "").strip()[:LABEL_MAX_LENGTH],
            "n": str(shown) if shown and LIST_PAGE < shown <= MAX_LISTED else ""}


def inbox_url(*, folder: str = "open", q: str = "", label: str = "", n: str = "",
              conversation: int | None = None, name: str = "home") -> str:
    """The inbox (or, by ``name``, another page of it) keeping the list's state."""
    params = {key: value for key, value in (("folder", folder), ("q", q), ("label", label),
                                            ("n", n))
              if value and not (key == "folder" and value == "open")}
    if conversation is not None:
        params["c"] = str(conversation)
    return reverse(name) + (f"?{urlencode(params)}" if params else "")


def _labels(state: dict[str, str], tags: Any) -> list[tuple[str, str]]:
    """Each tag with the link that filters the list by it, in the folder and search shown."""
    return [(tag, inbox_url(**{**state, "n": "", "label": tag})) for tag in tags]


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
        folder=state["folder"], user=request.user, search=state["q"],
        label=state["label"])[:shown + 1])
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
    list_state = {**state, "n": ""}
    context: dict[str, Any] = {
        **state,
        "more_url": more_url,
        "folders": [(key, label, inbox_url(folder=key, q=state["q"], label=state["label"]),
                     unread[key])
                    for key, label in selectors.INBOX_FOLDERS.items()],
        "conversations": [(row, inbox_url(conversation=row.pk, **state))
                          for row in conversations],
        # The labels of the conversations listed, to filter by: read from the rows shown,
        # not from every contact.
        "list_labels": _labels(list_state, sorted(
            {tag for row in conversations for tag in row.contact.tags} - {state["label"]},
            key=str.lower)),
        "unlabelled_url": inbox_url(**{**list_state, "label": ""}),
        "conversation": conversation,
        "list_url": inbox_url(**state),
        "new_message_url": inbox_url(name="new_message", **list_state),
        # The tab's title counts the open conversations with unread messages.
        "unread_total": unread["open"],
        "unread_messages": unread["open_messages"],
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
            conversation_labels=_labels(list_state, conversation.contact.tags),
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


class NewMessageForm(forms.Form):
    """The "New message" form: labels fixed by the portal's contract (*To*, *Message*,
    *Send*); what is sendable is decided by ``message_send``, as on every send path."""

    sender = forms.ChoiceField(label="From")
    # Checked by ``_recipient`` when sending: *Insert* needs no recipient yet.
    to = forms.CharField(label="To", max_length=200, required=False, help_text=(
        "A number in international format (+14155550123), or a contact: type part of "
        "their name or number and choose."))
    body = forms.CharField(label="Message", required=False, strip=False,
                           widget=forms.Textarea(attrs={"rows": 5}))
    canned = forms.ChoiceField(label="Canned response", required=False)

    def __init__(self, *args: Any, senders: list[Sender], canned: list[CannedResponse],
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["sender"].choices = [(s.address, s.address) for s in senders]
        self.fields["canned"].choices = [("", "Choose one")] + [
            (c.shortcode, f"/{c.shortcode}: {Truncator(c.body).chars(40)}") for c in canned]


# The service's field names (``DomainError.field``) as the form's.
NEW_MESSAGE_FIELDS = {"from": "sender", "to": "to", "body": "body"}
# What a typed recipient may hold to be read as a number rather than a name.
NUMBER_LIKE = re.compile(r"[\d\s()+.\-]+")


def _recipient(text: str) -> str:
    """The E.164 number that ``text`` (a number, or a contact's whole name) means."""
    text = text.strip()
    if not text:
        raise DomainError(error_codes.INVALID_PHONE_NUMBER,
                          "Who is it for? Type a number in international format, e.g. "
                          "+14155550123, or choose a contact.", "to")
    if NUMBER_LIKE.fullmatch(text):
        return phone_normalize(text, field="to")
    named = selectors.contacts_named(name=text)
    if len(named) == 1:
        return named[0].phone
    if not named:
        raise DomainError(error_codes.UNKNOWN_RECIPIENT,
                          f"No contact is named “{text}”: choose one from the suggestions "
                          "or type a number in international format, e.g. +14155550123.",
                          "to")
    raise DomainError(error_codes.AMBIGUOUS_RECIPIENT,
                      f"{len(named)} contacts are named “{text}”: choose one from the "
                      "suggestions or type their number.", "to")


def _initial_sender(to: str, senders: list[Sender], asked: str) -> str:
    """The sender asked for, else the one the contact last talked with, else the first."""
    addresses = [sender.address for sender in senders]
    if asked in addresses:
        return asked
    contact = Contact.objects.filter(phone=to).first() if to else None
    if contact is not None:
        for conversation in selectors.contact_conversations(contact=contact):
            if conversation.sender.address in addresses:
                return conversation.sender.address
    return addresses[0] if addresses else ""


@login_required
@never_cache
@require_http_methods(["GET", "POST"])
def new_message(request: HttpRequest) -> HttpResponse:
    """Start a conversation (or add to the one the contact has with that sender): from an
    approved sender to a number or a contact, typed or from a canned response. Sent by
    ``message_send`` as the signed-in user, so opt-outs and the body's limits are refused
    next to their field; a sent message lands in its thread (Post/Redirect/Get). The
    *Insert* button only fills the message with the chosen canned response."""
    state = {**_state(request.GET), "n": ""}
    senders = list(selectors.sender_approved_list())
    canned = {c.shortcode: c for c in selectors.canned_response_list()}
    to = request.GET.get("to", "").strip()[:200]
    form = NewMessageForm(
        request.POST or None, senders=senders, canned=list(canned.values()),
        initial={"to": to,
                 "sender": _initial_sender(to, senders, request.GET.get("from", ""))})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        if "insert" in request.POST:
            chosen = canned.get(data["canned"])
            if chosen is None:
                form.add_error("canned", "Choose one of the canned responses.")
            else:
                form = NewMessageForm({**form.data.dict(), "body": _canned_added(data, chosen)},
                                      senders=senders, canned=list(canned.values()))
                return _new_message_render(request, state, form)
        else:
            sent = _new_message_send(request, form)
            if sent is not None:
                messages.success(request, f"Sent to {sent.to_address}.")
                return redirect(inbox_url(conversation=sent.conversation_id, **state))
    return _new_message_render(request, state, form, status=400 if form.errors else 200)


def _new_message_send(request: HttpRequest, form: NewMessageForm) -> Message | None:
    """Send what the form holds, or put each refusal beside its field and send nothing.
    The recipient and the body are checked together, so every mistake shows at once."""
    data = form.cleaned_data
    phone = None
    try:
        phone = _recipient(data["to"])
    except DomainError as exc:
        form.add_error("to", exc.detail)
    try:
        body_check(data["body"])
    except DomainError as exc:
        form.add_error("body", exc.detail)
    if phone is None or form.errors:
        return None
    try:
        return message_send(from_address=data["sender"], to=phone, body=data["body"],
                            origin=Message.Origin.USER, author=request.user)
    except DomainError as exc:
        form.add_error(NEW_MESSAGE_FIELDS.get(exc.field or ""), exc.detail)
        return None


def _canned_added(data: dict[str, Any], canned: CannedResponse) -> str:
    """The message with ``canned`` added, filled in for the recipient (as far as it is
    known yet) and the sender."""
    try:
        phone = _recipient(data["to"])
    except DomainError:  # no recipient yet, or not one: the defaults fill in
        phone = ""
    contact = Contact.objects.filter(phone=phone).first() if phone else None
    text = canned_response_fill(canned=canned, contact=contact, phone=phone,
                                sender=data["sender"])
    return canned_response_append(body=data["body"], text=text)


def _new_message_render(request: HttpRequest, state: dict[str, str], form: NewMessageForm,
                        status: int = 200) -> HttpResponse:
    context = _context(request, state)
    context.update(compose=form, counter=composer_counter(form["body"].value() or ""),
                   new_message_action=inbox_url(name="new_message", **state))
    return _render(request, "messaging/inbox.html", context, status=status)


@login_required
@require_POST
def contact_edit(request: HttpRequest, contact_id: int) -> HttpResponse:
    """Name, custom fields and tags from the contact panel; back to the conversation."""
    contact = get_object_or_404(Contact, pk=contact_id)
    try:
        contact_update(contact=contact, name=request.POST.get("name", ""),
                       fields=contact_fields_from_post(contact, request.POST),
                       tags=contact_tags_from_post(request.POST))
    except DomainError as exc:
        messages.error(request, exc.detail)
    else:
        messages.success(request, f"Saved {contact}.")
    conversation_id = small_int(request.POST.get("conversation", ""))
    if conversation_id is not None:
        return redirect(inbox_url(conversation=conversation_id, **_state(request.POST)))
    return redirect(inbox_url(**_state(request.POST)))
