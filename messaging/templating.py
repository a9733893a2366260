"""Reply templates: ``Hi {{ contact.name | default: "there" }}, {{ sender }} here.``

A deliberately small language, not Django's: a reply is written by a tenant and filled with
customer-controlled values, so it can name a few fields and nothing else. Placeholders are
``contact.name``, ``contact.phone``, ``contact.fields.<key>`` and ``sender``, each with an
optional ``default``. A missing value renders as its default or as nothing, and the spacing
left behind is tidied: a template never fails at send time.
"""

from __future__ import annotations

import re

from core.errors import DomainError

INVALID_TEMPLATE = "invalid_template"

PLACEHOLDER = re.compile(
    r"\{\{\s*(?P<name>[A-Za-z_][\w.]*)\s*(?:\|\s*default\s*:\s*\"(?P<default>[^\"]*)\"\s*)?\}\}"
)
FIELD_NAME = re.compile(r"contact\.fields\.[\w-]{1,64}")
KNOWN = {"contact.name", "contact.phone", "sender"}


def template_validate(text: str, *, field: str = "reply",
                      extra: tuple[str, ...] = ()) -> str:
    """Raise ``invalid_template`` for an unknown placeholder or stray braces. ``extra``
    names the placeholders a caller fills itself (a reply action's ``code``)."""
    for match in PLACEHOLDER.finditer(text):
        name = match["name"]
        if name not in KNOWN and name not in extra and not FIELD_NAME.fullmatch(name):
            raise DomainError(
                INVALID_TEMPLATE,
                f"Unknown placeholder {{{{ {name} }}}}: use contact.name, contact.phone, "
                f"contact.fields.<name>{''.join(f', {e}' for e in extra)} or sender.", field,
            )
    leftover = PLACEHOLDER.sub("", text)
    if "{{" in leftover or "}}" in leftover:
        raise DomainError(INVALID_TEMPLATE,
                             'Write placeholders as {{ contact.name }} or '
                             '{{ contact.name | default: "there" }}.', field)
    return text


def template_render(text: str, *, contact_name: str, contact_phone: str,
                    contact_fields: dict, sender: str, extra: dict[str, str] | None = None
                    ) -> str:
    def value(match: re.Match[str]) -> str:
        name = match["name"]
        if extra and name in extra:
            found = extra[name]
        elif name == "contact.name":
            found = contact_name
        elif name == "contact.phone":
            found = contact_phone
        elif name == "sender":
            found = sender
        else:
            found = contact_fields.get(name.removeprefix("contact.fields."), "")
            found = "" if found is None or isinstance(found, dict | list) else str(found)
        return found or (match["default"] or "")

    rendered = PLACEHOLDER.sub(value, text)
    # "Hi , thanks" -> "Hi, thanks" when a name was missing.
    rendered = re.sub(r"[ \t]+([,.!?;:])", r"\1", rendered)
    return re.sub(r"[ \t]{2,}", " ", rendered).strip()
