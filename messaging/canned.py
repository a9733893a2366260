"""Canned responses: replies written once by an admin and pulled into the inbox composer
by typing ``/shortcode``.

A body is a reply template, the same small language keyword rules answer with
(``messaging.templating``), so ``Hi {{ contact.name | default: "there" }}`` reads the same
in both places. It is filled in when staff insert it, with the open conversation's contact
and sender, and then edited and sent like anything typed: sending checks it again.
"""

from __future__ import annotations

import re

from django.db import IntegrityError, transaction

from core.errors import DomainError
from messaging import error_codes
from messaging.models import SHORTCODE_PATTERN, CannedResponse, Contact, Conversation
from messaging.outbound import body_check
from messaging.templating import template_render, template_validate

_SHORTCODE = re.compile(SHORTCODE_PATTERN)


def _shortcode_clean(value: str) -> str:
    """``/Thanks`` as typed by an admin is the shortcode ``thanks``: the slash is how the
    composer calls it, and case does not matter there."""
    shortcode = (value or "").strip().removeprefix("/").lower()
    if not _SHORTCODE.match(shortcode):
        raise DomainError(
            error_codes.INVALID_SHORTCODE,
            "Use 1-30 lowercase letters, digits, hyphens and underscores (no spaces).",
            "shortcode",
        )
    return shortcode


def _body_clean(value: str) -> str:
    body = (value or "").strip()
    body_check(body)
    template_validate(body, field="body")
    return body


def canned_response_save(*, canned: CannedResponse | None = None, shortcode: str,
                         body: str) -> CannedResponse:
    """Create a canned response, or change ``canned``. Everything is checked before the
    one write, so a refusal changes nothing."""
    shortcode = _shortcode_clean(shortcode)
    body = _body_clean(body)
    duplicate = DomainError(error_codes.SHORTCODE_EXISTS,
                               f"/{shortcode} is already a canned response.", "shortcode")
    others = CannedResponse.objects.exclude(pk=canned.pk) if canned else CannedResponse.objects
    if others.filter(shortcode=shortcode).exists():
        raise duplicate
    canned = canned or CannedResponse()
    canned.shortcode, canned.body = shortcode, body
    try:
        with transaction.atomic():
            # Saving one deleted meanwhile would insert it again.
            if canned.pk is not None and not CannedResponse.objects.select_for_update().filter(
                    pk=canned.pk).exists():
                raise DomainError(error_codes.CANNED_RESPONSE_DELETED,
                                     f"/{shortcode} was deleted; it was not saved.")
            canned.save()
    except IntegrityError:  # saved by someone else between the check and the write
        raise duplicate from None
    return canned


def canned_response_delete(*, canned: CannedResponse) -> None:
    canned.delete()


def canned_response_render(*, canned: CannedResponse, conversation: Conversation) -> str:
    """The body as it goes into the composer of ``conversation``: placeholders filled with
    its contact and sender, as a keyword rule's reply would be."""
    return canned_response_fill(canned=canned, contact=conversation.contact,
                                phone=conversation.contact.phone,
                                sender=conversation.sender.address)


def canned_response_fill(*, canned: CannedResponse, contact: Contact | None, phone: str,
                         sender: str) -> str:
    """The body for a message to ``phone`` from ``sender``: the "New message" form's, which
    may write to a number that is no contact yet (placeholders about it render their
    defaults)."""
    return template_render(canned.body, contact_name=contact.name if contact else "",
                           contact_phone=phone,
                           contact_fields=contact.fields if contact else {}, sender=sender)


def canned_response_append(*, body: str, text: str) -> str:
    """What was typed with a canned response added after it (the composer's picker without
    JavaScript, which cannot know where the cursor was)."""
    if not body.strip():
        return text
    return body + ("" if body[-1].isspace() else " ") + text
