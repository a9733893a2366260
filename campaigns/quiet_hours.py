"""Recipient-local quiet hours (docs/ARCHITECTURE.md#campaigns): when a campaign's message
may reach a number, from the time zones of its number's region.

A number's zones come from ``phonenumbers``' time-zone data; where a number spans several,
the window must hold in every one of them. A number whose zone is unknown, or whose zones
share no moment of the window within a few days, is treated as being in the tenant's
zone. Looking a number up costs a parse (about 30 µs), so zones are kept per process by
the number without its last four digits, which never decide a region.
"""

from __future__ import annotations

import zoneinfo
from datetime import UTC, datetime, time, timedelta
from functools import lru_cache

import phonenumbers
from phonenumbers import timezone as phone_timezones

from campaigns import error_codes
from campaigns.error_codes import CampaignError

UNKNOWN_ZONE = "Etc/Unknown"
# How far ahead the next shared window is looked for before falling back.
SEARCH_DAYS = 3


def quiet_hours_parse(value: object) -> dict | None:
    """``{"start": "HH:MM", "end": "HH:MM"}`` checked and normalised, or None (no quiet
    hours). An end before the start spans midnight; equal ones are refused."""
    if value is None:
        return None
    if not isinstance(value, dict) or set(value) != {"start", "end"}:
        raise CampaignError(error_codes.INVALID_QUIET_HOURS,
                            'Give quiet hours as {"start": "08:00", "end": "21:00"}, or '
                            "null for none.", "quiet_hours")
    start, end = (_clock(value[key], key) for key in ("start", "end"))
    if start == end:
        raise CampaignError(error_codes.INVALID_QUIET_HOURS,
                            "The window's start and end must differ.", "quiet_hours")
    return {"start": start.strftime("%H:%M"), "end": end.strftime("%H:%M")}


def _clock(value: object, key: str) -> time:
    try:
        if not isinstance(value, str) or len(value) != 5:
            raise ValueError(value)
        return time.fromisoformat(value)
    except ValueError:
        raise CampaignError(error_codes.INVALID_QUIET_HOURS,
                            f"quiet_hours.{key} must be a time as HH:MM, e.g. 08:00.",
                            "quiet_hours") from None


_zones_by_prefix: dict[str, tuple[str, ...]] = {}
ZONES_KEPT = 65536


def phone_zones(phone: str) -> tuple[str, ...]:
    """The IANA zones of an E.164 number's region; empty when unknown."""
    prefix = phone[:-4] if len(phone) > 8 else phone
    zones = _zones_by_prefix.get(prefix)
    if zones is None:
        if len(_zones_by_prefix) >= ZONES_KEPT:
            _zones_by_prefix.clear()
        zones = _zones_by_prefix[prefix] = _zones_lookup(phone)
    return zones


def _zones_lookup(phone: str) -> tuple[str, ...]:
    try:
        number = phonenumbers.parse(phone)
    except phonenumbers.NumberParseException:
        return ()
    return tuple(zone for zone in phone_timezones.time_zones_for_number(number)
                 if zone != UNKNOWN_ZONE)


class QuietHours:
    """One campaign's window at one moment: for each recipient, None (send now) or when
    the next window opens, computed once per set of zones."""

    def __init__(self, window: dict, *, now: datetime, fallback_zone: str) -> None:
        self.start = time.fromisoformat(window["start"])
        self.end = time.fromisoformat(window["end"])
        self.now = now
        self.fallback = (fallback_zone,)
        self._answers: dict[tuple[str, ...], datetime | None] = {}

    def wait_until(self, phone: str) -> datetime | None:
        """None when ``phone`` is inside its window now, else when its next window opens
        (UTC)."""
        zones = phone_zones(phone) or self.fallback
        if zones not in self._answers:
            found = self._next(zones)
            if found is False:
                found = self._next(self.fallback) or None
            self._answers[zones] = found
        return self._answers[zones]

    def _inside(self, moment: datetime, zones: tuple[zoneinfo.ZoneInfo, ...]) -> bool:
        for zone in zones:
            local = moment.astimezone(zone).time()
            if self.start < self.end:
                if not self.start <= local < self.end:
                    return False
            elif not (local >= self.start or local < self.end):
                return False
        return True

    def _next(self, names: tuple[str, ...]) -> datetime | bool | None:
        """None (now), the next shared opening, or False when there is none soon."""
        zones = tuple(_zone(name) for name in names)
        if self._inside(self.now, zones):
            return None
        openings = set()
        for zone in zones:
            today = self.now.astimezone(zone).date()
            for offset in range(-1, SEARCH_DAYS + 1):
                local = datetime.combine(today + timedelta(days=offset), self.start,
                                         tzinfo=zone)
                # Round-tripped through UTC: a start that falls in a DST gap moves on.
                moment = local.astimezone(UTC)
                if moment > self.now:
                    openings.add(moment)
        for moment in sorted(openings):
            if self._inside(moment, zones):
                return moment
        return False


@lru_cache(maxsize=1024)
def _zone(name: str) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")
