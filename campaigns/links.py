"""Tracked links (docs/ARCHITECTURE.md#tracked-links): a campaign with ``track_links`` sends
each recipient ``{PUBLIC_BASE_URL}/l/<code>`` in place of every ``http(s)://`` URL of its
text, one code per recipient and URL; opening it redirects (302) to the URL and counts a
click.

The short link is on the public host, which knows no tenant: each code has a public
``tenants.LinkRoute`` row naming its schema, written with the tenant's ``TrackedLink`` rows
when the texts are rewritten. Both are written set-wise (one insert per table per call),
so rewriting a 100,000-recipient campaign costs a few statements, not one per link.

Only a person's ``GET`` is a click: ``HEAD`` and link previews (chat apps fetching the
page to show a card) answer the same redirect without counting.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import string
from datetime import UTC, datetime

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count
from django.db.models.functions import TruncHour
from django.utils import timezone
from django_tenants.utils import schema_context

from campaigns.events import link_clicked_emit
from campaigns.models import Campaign, LinkClick, TrackedLink
from tenants.models import LinkRoute, Tenant

CODE_LENGTH = 10
CODE = re.compile(rf"[A-Za-z0-9]{{{CODE_LENGTH}}}")
# What may follow the scheme: anything but spaces, quotes, angle brackets and controls.
URL = re.compile(r"https?://[^\s<>\"'\x00-\x1f\x7f]+", re.IGNORECASE)
# Punctuation that ends a sentence rather than the URL ("see https://x.example/a.").
_TRAILING = ".,;:!?*"
_CLOSERS = {")": "(", "]": "[", "}": "{"}
# Link previewers, by a word of their user agent (case ignored): their fetch of the page is
# no person's click.
PREVIEW_AGENTS = ("facebookexternalhit", "twitterbot", "slackbot", "whatsapp", "telegrambot",
                  "discordbot", "linkedinbot")

# Many values travel as one text each, split by PostgreSQL: cheaper than psycopg's work per
# element of an array. No code, number or URL (``URL`` takes no control character) holds
# the unit separator.
SEPARATOR = "\x1f"
SPLIT = "string_to_array(%s, E'\\x1f')"

_ALPHABET = (string.ascii_letters + string.digits).encode()
# Random bytes to letters and digits at C speed: 248 = 4 x 62 byte values map evenly onto
# the 62 characters, and the 8 others are dropped.
_TO_ALPHABET = bytes(_ALPHABET[value % len(_ALPHABET)] for value in range(256))
_UNEVEN = bytes(range(4 * len(_ALPHABET), 256))


def _url_trimmed(url: str) -> str:
    """``url`` without the punctuation that closes the sentence around it; a closing
    bracket stays when the URL opened it (``https://w.example/Foo_(bar)``)."""
    while url:
        last = url[-1]
        if last in _TRAILING or (last in _CLOSERS
                                 and url.count(last) > url.count(_CLOSERS[last])):
            url = url[:-1]
        else:
            break
    return url


def urls_find(text: str) -> list[tuple[int, int, str]]:
    """``(start, end, url)`` of every ``http(s)://`` URL of ``text`` with a host, in order;
    our own short links are left as they are."""
    if "://" not in text:
        return []
    short = f"{settings.PUBLIC_BASE_URL}/l/"
    found = []
    for match in URL.finditer(text):
        url = _url_trimmed(match.group())
        host_at = url.index("://") + 3
        if host_at == len(url) or url[host_at] == "/" or url.startswith(short):
            continue
        found.append((match.start(), match.start() + len(url), url))
    return found


def short_url(code: str) -> str:
    return f"{settings.PUBLIC_BASE_URL}/l/{code}"


def _random_codes(count: int) -> list[str]:
    """``count`` distinct random codes of 10 letters and digits."""
    codes: dict[str, None] = {}
    while len(codes) < count:
        need = (count - len(codes)) * CODE_LENGTH
        letters = b""
        while len(letters) < need:
            # A few more bytes than needed: 8 values in 256 are dropped.
            letters += os.urandom(need + need // 16 + 16).translate(_TO_ALPHABET, _UNEVEN)
        text = letters[:need].decode()
        codes.update(dict.fromkeys(text[i:i + CODE_LENGTH]
                                   for i in range(0, need, CODE_LENGTH)))
    return list(codes)


def _joined(values) -> str:
    return SEPARATOR.join(values)


def _routes_write(count: int) -> list[str]:
    """Reserve ``count`` new codes for this schema in the public routing table; a code
    another link (of any tenant) holds already is drawn again."""
    table = connection.ops.quote_name(LinkRoute._meta.db_table)
    schema, now = connection.schema_name, timezone.now()
    reserved: list[str] = []
    while len(reserved) < count:
        codes = _random_codes(count - len(reserved))
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {table} (code, schema_name, created_at) "  # noqa: S608
                f"SELECT code, %s, %s FROM unnest({SPLIT}) AS t(code) "
                "ON CONFLICT (code) DO NOTHING RETURNING code",
                [schema, now, _joined(codes)])
            inserted = {code for (code,) in cursor.fetchall()}
        reserved += [code for code in codes if code in inserted]
    return reserved


def links_rewrite_many(*, campaign: Campaign, texts: list[tuple[str, str]]) -> list[str]:
    """Each ``(phone, rendered body)`` with every ``http(s)://`` URL replaced by its
    recipient's short link, in the same order; the same URL twice in one recipient's text
    is one link.

    Writes the links (this schema's ``TrackedLink`` rows and their public routes) with
    one insert per table, whatever the number of texts: call it inside the transaction
    that stores the messages, so a rolled-back batch leaves no link behind. Call only to
    send: a preview that must not write uses ``links_rewrite_preview``.
    """
    found = [urls_find(body) for _, body in texts]
    keys = list(dict.fromkeys((phone, url) for (phone, _), urls in zip(texts, found, strict=True)
                              for _, _, url in urls))
    if not keys:
        return [body for _, body in texts]
    codes = dict(zip(keys, _routes_write(len(keys)), strict=True))
    table = connection.ops.quote_name(TrackedLink._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (code, campaign_id, phone, url, created_at) "  # noqa: S608
            f"SELECT code, %s, phone, url, %s FROM unnest({SPLIT}, {SPLIT}, {SPLIT}) "
            "AS t(code, phone, url)",
            [campaign.pk, timezone.now(), _joined(codes.values()),
             _joined(phone for phone, _ in codes), _joined(url for _, url in codes)])
    return [_replaced(body, urls, {url: codes[(phone, url)] for _, _, url in urls})
            for (phone, body), urls in zip(texts, found, strict=True)]


def links_rewrite_preview(*, body: str) -> str:
    """``body`` as a recipient would get it, with a sample code in each short link (every
    code has the same length, so the text's segments are those of the real one); writes
    nothing."""
    urls = urls_find(body)
    return _replaced(body, urls, {url: "X" * CODE_LENGTH for _, _, url in urls})


def _replaced(body: str, urls: list[tuple[int, int, str]], codes: dict[str, str]) -> str:
    parts, position = [], 0
    for start, end, url in urls:
        parts += [body[position:start], short_url(codes[url])]
        position = end
    return "".join([*parts, body[position:]])


def is_link_preview(user_agent: str) -> bool:
    agent = user_agent.lower()
    return any(word in agent for word in PREVIEW_AGENTS)


def _address_hash(address: str) -> str:
    if not address:
        return ""
    return hmac.new(settings.SECRET_KEY.encode(), address.encode(), hashlib.sha256).hexdigest()


def link_open(*, code: str, host_schema: str | None, count: bool, user_agent: str = "",
              client_address: str = "") -> str | None:
    """The URL behind ``code``, or None for a code that does not exist (here).

    ``host_schema`` is the tenant whose host was called (its codes only), or None on the
    public host (any tenant's). With ``count``, a person's visit — not a link preview's
    (``PREVIEW_AGENTS``) — is stored as a click with its ``link.clicked`` event, in one
    transaction.
    """
    if not CODE.fullmatch(code):
        return None
    # A tenant deleted since leaves its routes behind: they lead nowhere.
    schema = (LinkRoute.objects
              .filter(code=code, schema_name__in=Tenant.objects.values("schema_name"))
              .values_list("schema_name", flat=True).first())
    if schema is None or (host_schema is not None and schema != host_schema):
        return None
    with schema_context(schema):
        link = TrackedLink.objects.filter(code=code).first()
        if link is None:
            return None
        if count and not is_link_preview(user_agent):
            with transaction.atomic():
                click = LinkClick.objects.create(
                    link=link, campaign_id=link.campaign_id, at=timezone.now(),
                    user_agent=user_agent[:500], ip_hash=_address_hash(client_address))
                link_clicked_emit(click=click, link=link)
        return link.url


def clicks_count(*, campaign_id: int) -> int:
    """The clicks on the campaign's links (people's, not previews')."""
    return LinkClick.objects.filter(campaign_id=campaign_id).count()


def clicks_per_hour(*, campaign_id: int, since: datetime) -> dict[datetime, int]:
    """The campaign's clicks by the UTC hour they happened in (aware datetimes, on the
    hour), from ``since``; hours without a click are left out."""
    return dict(LinkClick.objects.filter(campaign_id=campaign_id, at__gte=since)
                .annotate(hour=TruncHour("at", tzinfo=UTC))
                .order_by().values("hour").annotate(n=Count("pk")).values_list("hour", "n"))
