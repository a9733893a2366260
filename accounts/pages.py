"""What apps above accounts add to its pages: a section of the API keys page (the Twilio
dialect's credentials, say), rendered below the keys for owners and admins."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from django.http import HttpRequest


class PageSection(NamedTuple):
    """A template to include, and what it reads (as ``section``)."""

    template: str
    context: dict[str, Any]


ApiKeysSection = Callable[[HttpRequest], PageSection]
_api_keys_sections: list[ApiKeysSection] = []


def api_keys_section_install(section: ApiKeysSection) -> None:
    """Add a section to the API keys page; ``section(request)`` runs on each view of it,
    in the tenant's schema, for an owner or admin."""
    _api_keys_sections.append(section)


def api_keys_sections(request: HttpRequest) -> list[PageSection]:
    return [section(request) for section in _api_keys_sections]
