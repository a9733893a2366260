"""Who a campaign texts and what each of them gets (docs/ARCHITECTURE.md#campaigns).

The audience is one query: contacts subscribed to any of the campaign's lists or carrying
any of its tags (a contact is one phone, so each phone once), with two columns computed by
PostgreSQL beside each row: whether an opt-out blocks the campaign's sender (the optout
app's own check, ``optout_blocks_exists``) and, with a frequency cap, whether the tenant
texted the number within the cap. It is read in chunks by contact id, so a chunk costs the
same at the start and at the end of a 100,000-contact audience.

The body is compiled once and rendered per contact, links rewritten per recipient
(``campaigns.links``) before the segments are counted; a text over the pipeline's
ten-segment limit is skipped as ``body_too_long``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from campaigns import links
from campaigns.models import Campaign, Subscription
from campaigns.quiet_hours import QuietHours
from core import encoding
from messaging.automation import tenant_profile
from messaging.models import Contact, Message
from messaging.outbound import MAX_SEGMENTS, Draft
from messaging.templating import template_compile
from optout.selectors import optout_blocks_exists

# Skip reasons, as the campaign's ``skipped`` counts them.
OPTED_OUT = "opted_out"
BODY_TOO_LONG = "body_too_long"
FREQUENCY_CAP = "frequency_cap"
EMPTY = "empty_body"
QUOTA_EXCEEDED = "quota_exceeded"
# Outbound messages that did not reach anyone do not count against the frequency cap.
_NOT_TEXTED = [Message.Status.CANCELED, Message.Status.FAILED]


def audience_contacts(*, campaign: Campaign) -> QuerySet[Contact]:
    """The campaign's audience before exclusions, by contact id, with ``opted_out`` and
    ``capped`` (texted within ``frequency_cap_hours``, its own messages aside)."""
    audience = campaign.audience or {}
    lists, tags = audience.get("lists") or [], audience.get("tags") or []
    reach = Q(pk__in=[])
    if lists:
        reach |= Q(pk__in=Subscription.objects.filter(
            list_id__in=lists, status=Subscription.Status.SUBSCRIBED).values("contact_id"))
    if tags:
        reach |= Q(tags__overlap=tags)
    contacts = Contact.objects.filter(reach, phone__startswith="+").annotate(
        opted_out=optout_blocks_exists(phone=OuterRef("phone"),
                                       sender_address=campaign.sender.address))
    if campaign.frequency_cap_hours:
        since = timezone.now() - timedelta(hours=campaign.frequency_cap_hours)
        contacts = contacts.annotate(capped=Exists(
            Message.objects.filter(contact=OuterRef("pk"), direction=Message.Direction.OUTBOUND,
                                   created_at__gte=since)
            .exclude(status__in=_NOT_TEXTED).exclude(campaign_id=campaign.pk)))
    return contacts.order_by("pk")


def audience_exists(*, campaign: Campaign) -> bool:
    """Whether anyone in the audience may be texted: one ``EXISTS``, whatever its size."""
    return audience_contacts(campaign=campaign).filter(opted_out=False).exists()


def audience_chunk(*, campaign: Campaign, after: int, size: int) -> list[tuple]:
    """Up to ``size`` contacts after contact id ``after``: ``(id, phone, name, fields,
    opted_out, capped)``."""
    contacts = audience_contacts(campaign=campaign).filter(pk__gt=after)
    columns = ["pk", "phone", "name", "fields", "opted_out"]
    if campaign.frequency_cap_hours:
        return list(contacts.values_list(*columns, "capped")[:size])
    return [(*row, False) for row in contacts.values_list(*columns)[:size]]


@dataclass(frozen=True)
class Rendered:
    contact_id: int
    phone: str
    name: str
    body: str
    analysis: encoding.Analysis
    # When the recipient's quiet hours end; None: now.
    wait_until: datetime | None




class CampaignRenderer:
    """One campaign's body compiled once, rendered per recipient."""

    def __init__(self, campaign: Campaign, *, now: datetime | None = None,
                 rewrite_links: bool = True) -> None:
        self.campaign = campaign
        self.render = template_compile(campaign.body)
        self.sender = campaign.sender.address
        self.rewrite_links = rewrite_links and campaign.track_links
        self.quiet = (QuietHours(campaign.quiet_hours, now=now or timezone.now(),
                                 fallback_zone=str(tenant_profile().timezone))
                      if campaign.quiet_hours else None)

    def chunk(self, rows: list[tuple]) -> tuple[list[Rendered], Counter]:
        """Render a chunk of ``audience_chunk`` rows; the skipped counted by reason."""
        skipped: Counter = Counter()
        texts: list[tuple[int, str, str, str]] = []
        for contact_id, phone, name, fields, opted_out, capped in rows:
            if opted_out:
                skipped[OPTED_OUT] += 1
            elif capped:
                skipped[FREQUENCY_CAP] += 1
            else:
                texts.append((contact_id, phone, name, self.render(
                    contact_name=name, contact_phone=phone,
                    contact_fields=fields if isinstance(fields, dict) else {},
                    sender=self.sender)))
        bodies = [body for *_, body in texts]
        if self.campaign.track_links and texts:
            bodies = (links.links_rewrite_many(
                campaign=self.campaign, texts=[(phone, body) for _, phone, _, body in texts])
                if self.rewrite_links
                else [links.links_rewrite_preview(body=body) for body in bodies])
        rendered: list[Rendered] = []
        measured: dict[str, encoding.Analysis] = {}
        for (contact_id, phone, name, _), body in zip(texts, bodies, strict=True):
            if not body.strip():
                skipped[EMPTY] += 1
                continue
            analysis = measured.get(body)
            if analysis is None:
                analysis = encoding.analyse(body)
                if len(measured) < 1024:
                    measured[body] = analysis
            if analysis.segments > MAX_SEGMENTS:
                skipped[BODY_TOO_LONG] += 1
                continue
            rendered.append(Rendered(
                contact_id=contact_id, phone=phone, name=name, body=body, analysis=analysis,
                wait_until=self.quiet.wait_until(phone) if self.quiet else None))
        return rendered, skipped

    def drafts(self, rendered: list[Rendered]) -> list[Draft]:
        sender = self.campaign.sender
        return [Draft(sender=sender, to=item.phone, body=item.body, analysis=item.analysis,
                      send_at=item.wait_until) for item in rendered]


PREVIEW_CHUNK = 5000


@dataclass(frozen=True)
class Preview:
    samples: list[Rendered]
    recipients: int
    total_segments: int
    skipped: dict[str, int]
    waiting_quiet_hours: int


def campaign_preview(*, campaign: Campaign, samples: int = 5,
                     now: datetime | None = None) -> Preview:
    """What starting now would send: the first recipients' texts with their encoding and
    segments, and over the whole audience the recipients, total segments, exclusions and
    how many would wait for their quiet hours. Creates nothing (links are not rewritten:
    their length is)."""
    renderer = CampaignRenderer(campaign, now=now, rewrite_links=False)
    first: list[Rendered] = []
    total = segments = waiting = 0
    skipped: Counter = Counter()
    after = 0
    while True:
        rows = audience_chunk(campaign=campaign, after=after, size=PREVIEW_CHUNK)
        if not rows:
            break
        after = rows[-1][0]
        rendered, chunk_skipped = renderer.chunk(rows)
        skipped.update(chunk_skipped)
        first += rendered[:max(0, samples - len(first))]
        total += len(rendered)
        segments += sum(item.analysis.segments for item in rendered)
        waiting += sum(1 for item in rendered if item.wait_until is not None)
        if len(rows) < PREVIEW_CHUNK:
            break
    return Preview(samples=first, recipients=total, total_segments=segments,
                   skipped=dict(skipped), waiting_quiet_hours=waiting)
