"""Sections that apps above messaging add to the inbox's contact panel (a contact's
subscription lists, say), without messaging importing them: each app registers a function
in its ``AppConfig.ready()``, and the panel includes what each one returns."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.http import HttpRequest

from messaging.models import Contact


@dataclass(frozen=True)
class PanelSection:
    """A template to include in the panel, with its own context (as ``panel``)."""

    template: str
    context: dict[str, Any] = field(default_factory=dict)


# Called with ``request``, ``contact`` and ``here`` (the inbox URL to come back to);
# returns a section, or None to show nothing.
SectionBuilder = Callable[..., PanelSection | None]

_builders: list[SectionBuilder] = []


def contact_panel_section_register(builder: SectionBuilder) -> None:
    if builder not in _builders:
        _builders.append(builder)


def contact_panel_sections(*, request: HttpRequest, contact: Contact,
                           here: str) -> list[PanelSection]:
    sections = (builder(request=request, contact=contact, here=here) for builder in _builders)
    return [section for section in sections if section is not None]
