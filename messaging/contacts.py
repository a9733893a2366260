"""Writes on contacts: the people a tenant texts, with a name, custom fields for reply
templates (``{{ contact.fields.plan }}``) and tags.

A contact's phone number is its identity: conversations, messages, opt-outs and the consent
log are tied to it, so it is set once. Messages create contacts on their own; these
services are for the ones a business adds or enriches.
"""

from __future__ import annotations

import math
import re
from typing import Any

from django.db import IntegrityError, transaction

from core.errors import DomainError
from core.live import inbox_changed
from core.phones import phone_normalize
from messaging import error_codes
from messaging.models import Contact, Message
from messaging.traffic import figures_of, traffic_count

# The keys a reply template can name (``messaging.templating.FIELD_NAME``).
FIELD_KEY = re.compile(r"[\w-]{1,64}")
MAX_FIELDS = 50
MAX_FIELD_VALUE_LENGTH = 500
MAX_TAGS = 50
MAX_TAG_LENGTH = Contact._meta.get_field("tags").base_field.max_length
MAX_NAME_LENGTH = Contact._meta.get_field("name").max_length


def contact_create(*, phone: str, name: str = "", fields: dict[str, Any] | None = None,
                   tags: list[str] | None = None) -> Contact:
    phone = phone_normalize(phone, field="phone")
    contact = Contact(phone=phone, name=_name(name), fields=_fields(fields or {}),
                      tags=_tags(tags or []))
    existing = Contact.objects.filter(phone=phone).values_list("pk", flat=True).first()
    if existing is None:
        try:
            with transaction.atomic():
                contact.save()
                return contact
        except IntegrityError:  # created meanwhile, by a message or another request
            existing = Contact.objects.filter(phone=phone).values_list("pk", flat=True).first()
    raise DomainError(error_codes.CONTACT_EXISTS,
                         f"{phone} is already a contact (id {existing}): update that one.",
                         "phone")


def contact_update(*, contact: Contact, phone: str | None = None, name: str | None = None,
                   fields: dict[str, Any] | None = None,
                   tags: list[str] | None = None) -> Contact:
    """Change what is given; ``fields`` and ``tags`` are replaced whole. ``phone`` may be
    repeated (a full update) but not changed."""
    if phone is not None and phone_normalize(phone, field="phone") != contact.phone:
        raise DomainError(error_codes.PHONE_IMMUTABLE,
                             "A contact's number cannot change: its conversations and consent "
                             "belong to that number. Create another contact.", "phone")
    changed = []
    if name is not None:
        contact.name = _name(name)
        changed.append("name")
    if fields is not None:
        contact.fields = _fields(fields)
        changed.append("fields")
    if tags is not None:
        contact.tags = _tags(tags)
        changed.append("tags")
    if changed:
        contact.save(update_fields=changed)
        inbox_changed()
    return contact


def contact_values_clean(*, name: str = "", fields: dict[str, Any] | None = None,
                         tags: list[str] | None = None) -> tuple[str, dict[str, Any], list[str]]:
    """``name``, ``fields`` and ``tags`` held to a contact's rules (``invalid_fields``,
    ``invalid_tags``), for writers that store contacts in bulk."""
    return _name(name), _fields(fields or {}), _tags(tags or [])


def contact_merge(*, phone: str, name: str = "", fields: dict[str, Any] | None = None,
                  tags: list[str] | None = None) -> Contact:
    """The contact of ``phone`` (E.164), created when new, with what is given added: a
    name replaces the old one unless blank, fields are merged into the old ones, tags
    missing are appended. For writers that learn about a person (a sign-up) rather than
    edit them."""
    name, fields, tags = contact_values_clean(name=name, fields=fields, tags=tags)
    contact, created = Contact.objects.get_or_create(
        phone=phone, defaults={"name": name, "fields": fields, "tags": tags})
    if created:
        inbox_changed()
        return contact
    merged_fields = _fields({**contact.fields, **fields})
    merged_tags = _tags([*contact.tags, *(tag for tag in tags if tag not in contact.tags)])
    if (name and name != contact.name) or merged_fields != contact.fields or (
            merged_tags != contact.tags):
        contact.name = name or contact.name
        contact.fields = merged_fields
        contact.tags = merged_tags
        contact.save(update_fields=["name", "fields", "tags"])
        inbox_changed()
    return contact


def contact_delete(*, contact: Contact) -> None:
    """Erase the contact with its conversations and messages. Opt-outs and the consent log
    are kept: they are keyed by number and are the proof a business must keep. The
    dashboard's counts forget its messages."""
    with transaction.atomic():
        traffic_count(by=-1, counts=[
            (created_at, figure)
            for created_at, direction, status in Message.objects.filter(contact=contact)
            .values_list("created_at", "direction", "status")
            for figure in figures_of(direction=direction, status=status)])
        contact.delete()


def _name(name: str) -> str:
    name = name.strip()
    if len(name) > MAX_NAME_LENGTH:
        raise DomainError(error_codes.INVALID_FIELDS,
                             f"A name has at most {MAX_NAME_LENGTH} characters.", "name")
    return name


def _fields(fields: dict[str, Any]) -> dict[str, Any]:
    """Flat custom fields: bounded keys a template can name, and scalar values."""
    if not isinstance(fields, dict):
        raise DomainError(error_codes.INVALID_FIELDS,
                             "Custom fields are an object of names to values.", "fields")
    if len(fields) > MAX_FIELDS:
        raise DomainError(error_codes.INVALID_FIELDS,
                             f"A contact has at most {MAX_FIELDS} custom fields.", "fields")
    for key, value in fields.items():
        if not (isinstance(key, str) and FIELD_KEY.fullmatch(key)):
            raise DomainError(
                error_codes.INVALID_FIELDS,
                f"{str(key)[:70]!r}: a field name is 1 to 64 letters, digits, _ or -.",
                "fields")
        if isinstance(value, str):
            if len(value) > MAX_FIELD_VALUE_LENGTH:
                raise DomainError(
                    error_codes.INVALID_FIELDS,
                    f"A field's value has at most {MAX_FIELD_VALUE_LENGTH} characters.",
                    f"fields.{key}")
        elif isinstance(value, float) and not math.isfinite(value):
            raise DomainError(error_codes.INVALID_FIELDS, "Numbers must be finite.",
                                 f"fields.{key}")
        elif not isinstance(value, int | float):  # bool is an int
            raise DomainError(error_codes.INVALID_FIELDS,
                                 "A field's value is a string, a number or true/false.",
                                 f"fields.{key}")
    return fields


def _tags(tags: list[str]) -> list[str]:
    """Trimmed, without repeats, in the order given."""
    if not isinstance(tags, list) or not all(isinstance(tag, str) for tag in tags):
        raise DomainError(error_codes.INVALID_TAGS, "Tags are a list of strings.", "tags")
    unique = list(dict.fromkeys(tag.strip() for tag in tags))
    if len(unique) > MAX_TAGS:
        raise DomainError(error_codes.INVALID_TAGS,
                             f"A contact has at most {MAX_TAGS} tags.", "tags")
    for tag in unique:
        if not tag or len(tag) > MAX_TAG_LENGTH:
            raise DomainError(error_codes.INVALID_TAGS,
                                 f"A tag is 1 to {MAX_TAG_LENGTH} characters.", "tags")
    return unique
