"""Reply templates: ``Hi {{ contact.name | default: "there" }}, {{ sender }} here.``

A deliberately small language, not Django's: a reply is written by a tenant and filled with
customer-controlled values, so it can name a few fields and nothing else. Placeholders are
``contact.name``, ``contact.phone``, ``contact.fields.<key>`` and ``sender``, each with an
optional ``default``. A missing value renders as its default or as nothing, and the spacing
left behind is tidied: a template never fails at send time.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from core.errors import DomainError

INVALID_TEMPLATE = "invalid_template"

PLACEHOLDER = re.compile(
    r"\{\{\s*(?P<name>[A-Za-z_][\w.]*)\s*(?:\|\s*default\s*:\s*\"(?P<default>[^\"]*)\"\s*)?\}\}"
)
FIELD_NAME = re.compile(r"contact\.fields\.[\w-]{1,64}")
KNOWN = {"contact.name", "contact.phone", "sender"}


class TemplateError(DomainError):
    """``invalid_template``, with where in the text the problem starts (0-based)."""

    def __init__(self, detail: str, field: str, position: int) -> None:
        super().__init__(INVALID_TEMPLATE, f"{detail} (at character {position + 1})", field)
        self.position = position


def template_validate(text: str, *, field: str = "reply",
                      extra: tuple[str, ...] = ()) -> str:
    """Raise ``invalid_template`` (a ``TemplateError`` with the position) for an unknown
    placeholder or stray braces. ``extra`` names the placeholders a caller fills itself (a
    reply action's ``code``)."""
    for match in PLACEHOLDER.finditer(text):
        name = match["name"]
        if name not in KNOWN and name not in extra and not FIELD_NAME.fullmatch(name):
            raise TemplateError(
                f"Unknown placeholder {{{{ {name} }}}}: use contact.name, contact.phone, "
                f"contact.fields.<name>{''.join(f', {e}' for e in extra)} or sender", field,
                match.start())
    # Stray braces: blank each placeholder out (keeping offsets) and look for what is left.
    leftover = PLACEHOLDER.sub(lambda match: " " * len(match[0]), text)
    stray = min((found for found in (leftover.find("{{"), leftover.find("}}")) if found >= 0),
                default=-1)
    if stray >= 0:
        raise TemplateError('Write placeholders as {{ contact.name }} or '
                            '{{ contact.name | default: "there" }}', field, stray)
    return text


Renderer = Callable[..., str]


def template_compile(text: str) -> Renderer:
    """Parse ``text`` once into a function of ``contact_name``, ``contact_phone``,
    ``contact_fields`` and ``sender`` (keyword arguments): a campaign renders one template
    for every recipient."""
    literals: list[str] = []
    slots: list[tuple[str, str]] = []  # (name, default)
    last = 0
    for match in PLACEHOLDER.finditer(text):
        literals.append(text[last:match.start()])
        slots.append((match["name"], match["default"] or ""))
        last = match.end()
    tail = text[last:]

    def render(*, contact_name: str, contact_phone: str, contact_fields: dict,
               sender: str, extra: dict[str, str] | None = None) -> str:
        parts: list[str] = []
        for literal, (name, default) in zip(literals, slots, strict=True):
            parts.append(literal)
            if extra and name in extra:
                found = extra[name]
            elif name == "contact.name":
                found = contact_name
            elif name == "contact.phone":
                found = contact_phone
            elif name == "sender":
                found = sender
            else:
                found = contact_fields.get(name[_FIELD_PREFIX:], "")
                found = "" if found is None or isinstance(found, dict | list) else str(found)
            parts.append(found or default)
        parts.append(tail)
        return _tidy("".join(parts))

    return render


_FIELD_PREFIX = len("contact.fields.")
_SPACE_BEFORE_PUNCTUATION = re.compile(r"[ \t]+([,.!?;:])")
_SPACES = re.compile(r"[ \t]{2,}")


def _tidy(rendered: str) -> str:
    # "Hi , thanks" -> "Hi, thanks" when a name was missing.
    rendered = _SPACE_BEFORE_PUNCTUATION.sub(r"\1", rendered)
    return _SPACES.sub(" ", rendered).strip()


def template_render(text: str, *, contact_name: str, contact_phone: str,
                    contact_fields: dict, sender: str, extra: dict[str, str] | None = None
                    ) -> str:
    return template_compile(text)(contact_name=contact_name, contact_phone=contact_phone,
                                  contact_fields=contact_fields, sender=sender, extra=extra)
