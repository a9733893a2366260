"""Tracked links of campaigns: the two calls the sending side makes.

A stand-in until the tracked-links work (short codes, the ``/l/<code>`` redirect, clicks)
replaces this module: bodies go out as rendered and nothing is clicked.
"""

from __future__ import annotations

from campaigns.models import Campaign


def links_rewrite_many(*, campaign: Campaign, texts: list[tuple[str, str]]) -> list[str]:
    """Each ``(phone, rendered body)``'s body with every ``http(s)://`` URL replaced by
    that recipient's own short link, in the same order (creating the link rows). The
    tracked-links work replaces this; here the bodies come back unchanged."""
    return [body for _, body in texts]


def clicks_count(*, campaign_id: int) -> int:
    """Clicks on the campaign's links (bots and ``HEAD`` aside). The tracked-links work
    replaces this; here nothing has been clicked."""
    return 0
