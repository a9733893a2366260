"""The contacts page (``/contacts/``) and each contact's page. Every role reaches them, as
every role edits a contact from the inbox's panel.

The list is found through the contact indexes and paged by id (``contact_directory_page``),
so it answers as fast over 100,000 contacts as over ten. Edits go through
``contact_update``, as the API's do; a refusal shows beside its field and changes nothing.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from core.errors import DomainError
from core.numbers import small_int
from messaging import selectors
from messaging.contact_panel import contact_panel_sections
from messaging.contacts import MAX_TAG_LENGTH, contact_update
from messaging.models import Contact

FIELD_PREFIX = "field:"


def contact_fields_from_post(contact: Contact, post: Any) -> dict[str, Any]:
    """The custom fields as edited in a form: an emptied value removes its field; an
    unchanged one keeps its type (a number stays a number); one new name and value may be
    added (``new_field_name``, ``new_field_value``)."""
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


def contact_tags_from_post(post: Any) -> list[str]:
    """Tags typed comma-separated."""
    return [tag for tag in post.get("tags", "").split(",") if tag.strip()]


def _field_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _contacts_url(**params: Any) -> str:
    params = {key: value for key, value in params.items() if value not in ("", None)}
    return reverse("contacts") + (f"?{urlencode(params)}" if params else "")


def _render(request: HttpRequest, template: str, context: dict[str, Any],
            status: int = 200) -> HttpResponse:
    # Times show in the business's timezone, whatever the server's.
    with timezone.override(request.tenant.zone):
        return render(request, template, context, status=status)


@login_required
@never_cache
@require_GET
def contacts(request: HttpRequest) -> HttpResponse:
    """Contacts newest first, 50 a page: searched by name or number (``q``), filtered by a
    tag (``tag``), paged by id (``before`` / ``after``)."""
    q = request.GET.get("q", "").strip()[:200]
    tag = request.GET.get("tag", "").strip()[:MAX_TAG_LENGTH]
    page = selectors.contact_directory_page(
        search=q, tag=tag, before=small_int(request.GET.get("before", "")),
        after=small_int(request.GET.get("after", "")))
    return _render(request, "messaging/contacts.html", {
        "q": q, "tag": tag, "contacts": [
            (contact, [(t, _contacts_url(q=q, tag=t)) for t in contact.tags])
            for contact in page.contacts],
        "newer_url": _contacts_url(q=q, tag=tag, after=page.newer) if page.newer else None,
        "older_url": _contacts_url(q=q, tag=tag, before=page.older) if page.older else None,
        "untagged_url": _contacts_url(q=q),
        "paged": request.GET.get("before") or request.GET.get("after"),
    })


def _field_errors(exc: DomainError) -> dict[str, str]:
    """A refusal of ``contact_update`` by the form's input it concerns."""
    field = exc.field or ""
    if field.startswith("fields."):
        return {FIELD_PREFIX + field.removeprefix("fields."): exc.detail}
    return {{"fields": "new_field_name"}.get(field, field or "form"): exc.detail}


@login_required
@never_cache
@require_http_methods(["GET", "POST"])
def contact_detail(request: HttpRequest, contact_id: int) -> HttpResponse:
    """A contact: name, custom fields and tags (edited here), opt-out state with the
    consent history, their conversations, and what apps above add (their lists)."""
    contact = selectors.contact_detail(contact_id=contact_id)
    if contact is None:
        raise Http404
    here = reverse("contact_detail", args=[contact.pk])
    errors: dict[str, str] = {}
    if request.method == "POST":
        try:
            contact_update(contact=contact, name=request.POST.get("name", ""),
                           fields=contact_fields_from_post(contact, request.POST),
                           tags=contact_tags_from_post(request.POST))
        except DomainError as exc:
            errors = _field_errors(exc)
            # The page again with what was typed, not the stored values.
            contact.refresh_from_db(fields=["name", "fields", "tags"])
        else:
            messages.success(request, f"Saved {contact}.")
            return redirect(here)
    posted = request.POST if errors else None
    return _render(request, "messaging/contact_detail.html", {
        "contact": contact,
        "errors": errors,
        "name": posted.get("name", "") if posted else contact.name,
        "fields": [(key, FIELD_PREFIX + key,
                    posted.get(FIELD_PREFIX + key, "") if posted else _field_text(value),
                    errors.get(FIELD_PREFIX + key))
                   for key, value in contact.fields.items()],
        "new_field_name": posted.get("new_field_name", "") if posted else "",
        "new_field_value": posted.get("new_field_value", "") if posted else "",
        "tags_text": posted.get("tags", "") if posted else ", ".join(contact.tags),
        "tags": [(t, _contacts_url(tag=t)) for t in contact.tags],
        "conversations": selectors.contact_conversations(contact=contact),
        "consent": selectors.contact_consent_history(contact=contact),
        "new_message_url": reverse("new_message") + "?" + urlencode({"to": contact.phone}),
        "contact_sections": contact_panel_sections(request=request, contact=contact,
                                                   here=here),
    }, status=400 if errors else 200)


@login_required
@never_cache
@require_GET
def contact_suggest(request: HttpRequest) -> JsonResponse:
    """The "New message" form's recipient search: up to 8 contacts matching ``q`` by name
    or number, as ``{"results": [{"phone", "name"}]}``."""
    found = selectors.contact_suggestions(search=request.GET.get("q", "")[:200])
    return JsonResponse({"results": [{"phone": c.phone, "name": c.name} for c in found]})
