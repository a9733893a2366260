"""Keyword rules: saving them (validated) and matching an inbound message against them.

Matching runs on every inbound message, so each worker keeps the tenant's rules compiled in
memory and reloads them only when the table changes (one aggregate query per message tells).
Exact keywords are a dictionary lookup; only the other kinds are scanned, and only those
that outrank the best exact hit.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime, time

import regex
from django.db import connection
from django.db.models import Count, Max

from core.errors import DomainError
from core.memo import memoized
from messaging import error_codes
from messaging.models import KeywordRule, Sender
from messaging.templating import template_validate
from optout.keywords import keyword_normalize

logger = logging.getLogger(__name__)

# A tenant's regular expression gets this long per message; catastrophic backtracking ends
# as "no match" instead of a stuck worker.
REGEX_TIMEOUT = 0.05
MAX_PATTERN_LENGTH = 200


@dataclass(frozen=True)
class CompiledRule:
    id: int
    rank: tuple[int, int]
    match: str
    needle: str
    pattern: regex.Pattern | None
    sender_id: int | None
    weekdays: frozenset[int]
    active_from: time | None
    active_until: time | None

    def applies(self, *, sender_id: int, at: datetime) -> bool:
        if self.sender_id is not None and self.sender_id != sender_id:
            return False
        if self.weekdays and at.weekday() not in self.weekdays:
            return False
        return in_window(at.time(), self.active_from, self.active_until)

    def matches(self, *, normalized: str, folded: str, body: str) -> bool:
        if self.match == KeywordRule.Match.STARTS_WITH:
            return normalized.startswith(self.needle)
        if self.match == KeywordRule.Match.CONTAINS:
            return self.needle in folded
        try:
            return self.pattern.search(body, timeout=REGEX_TIMEOUT) is not None
        except TimeoutError:
            logger.warning("keyword rule %s: pattern timed out", self.id)
            return False


def in_window(moment: time, start: time | None, end: time | None) -> bool:
    """Whether ``moment`` is in [start, end); a window whose end comes before its start
    spans midnight; no window means all day."""
    if start is None or end is None:
        return True
    if start <= end:
        return start <= moment < end
    return moment >= start or moment < end


@dataclass(frozen=True)
class RuleSet:
    exact: dict[str, list[CompiledRule]]
    scanned: list[CompiledRule]
    # Pre-filters run in C over all rules of a kind at once: most messages match no
    # prefix and no substring, and then those rules need not be visited one by one.
    prefixes: tuple[str, ...]
    substrings: re.Pattern | None
    rules: dict[int, KeywordRule]

    def first_match(self, *, body: str, sender_id: int, at: datetime) -> int | None:
        normalized = keyword_normalize(body)
        best = next((rule for rule in self.exact.get(normalized, ())
                     if rule.applies(sender_id=sender_id, at=at)), None)
        folded = body.casefold()
        skip = set()
        if not normalized.startswith(self.prefixes):
            skip.add(KeywordRule.Match.STARTS_WITH)
        if self.substrings is None or not self.substrings.search(folded):
            skip.add(KeywordRule.Match.CONTAINS)
        for rule in self.scanned:
            if best is not None and rule.rank > best.rank:
                break
            if rule.match not in skip and rule.applies(sender_id=sender_id, at=at) and (
                    rule.matches(normalized=normalized, folded=folded, body=body)):
                return rule.id
        return best.id if best else None


def _compile(rule: KeywordRule) -> CompiledRule:
    needle = {
        KeywordRule.Match.CONTAINS: rule.keyword.casefold(),
        KeywordRule.Match.REGEX: rule.keyword,
    }.get(rule.match, keyword_normalize(rule.keyword))
    pattern = (regex.compile(rule.keyword, regex.IGNORECASE | regex.V1)
               if rule.match == KeywordRule.Match.REGEX else None)
    return CompiledRule(
        id=rule.pk, rank=(rule.priority, rule.pk), match=rule.match, needle=needle,
        pattern=pattern, sender_id=rule.sender_id, weekdays=frozenset(rule.weekdays),
        active_from=rule.active_from, active_until=rule.active_until,
    )


def _build(rules: list[KeywordRule]) -> RuleSet:
    exact: dict[str, list[CompiledRule]] = {}
    scanned: list[CompiledRule] = []
    for compiled in map(_compile, rules):  # already in priority order
        if compiled.match == KeywordRule.Match.EXACT:
            exact.setdefault(compiled.needle, []).append(compiled)
        else:
            scanned.append(compiled)
    substrings = [re.escape(r.needle) for r in scanned if r.match == KeywordRule.Match.CONTAINS]
    return RuleSet(
        exact=exact, scanned=scanned,
        prefixes=tuple(r.needle for r in scanned if r.match == KeywordRule.Match.STARTS_WITH),
        substrings=re.compile("|".join(substrings)) if substrings else None,
        rules={rule.pk: rule for rule in rules},
    )


_cache: dict[str, tuple[tuple, RuleSet]] = {}


def rule_set_get() -> RuleSet:
    """The current tenant's active rules, compiled; rebuilt when any rule changed (checked
    once per burst inside ``core.memo.memo_scope``)."""
    return memoized("rule_set", _rule_set_load)


def _rule_set_load() -> RuleSet:
    schema = connection.schema_name
    stamp = tuple(KeywordRule.objects.aggregate(Max("updated_at"), Count("id")).values())
    cached = _cache.get(schema)
    if cached is None or cached[0] != stamp:
        rules = list(KeywordRule.objects.filter(active=True).order_by("priority", "id"))
        cached = (stamp, _build(rules))
        _cache[schema] = cached
    return cached[1]


def rule_match(*, body: str, sender_id: int, at: datetime) -> KeywordRule | None:
    """The rule that answers ``body`` sent to ``sender_id`` at local time ``at``.

    The rule is the cached snapshot every later message shares, saving a query per match:
    read its own fields, and look related rows (assignee, endpoint, survey) up by their
    ids, fresh, rather than through its relations.
    """
    rule_set = rule_set_get()
    rule_id = rule_set.first_match(body=body, sender_id=sender_id, at=at)
    return None if rule_id is None else rule_set.rules[rule_id]


def _validate(rule: KeywordRule) -> None:
    keyword = rule.keyword.strip()
    if not keyword:
        raise DomainError(error_codes.INVALID_KEYWORD, "Give the keyword to match.",
                             "keyword")
    if rule.match not in KeywordRule.Match.values:
        raise DomainError(error_codes.INVALID_MATCH,
                             f"match is one of {', '.join(KeywordRule.Match.values)}.", "match")
    if rule.match == KeywordRule.Match.REGEX:
        if len(keyword) > MAX_PATTERN_LENGTH:
            raise DomainError(error_codes.INVALID_PATTERN,
                                 f"Keep patterns under {MAX_PATTERN_LENGTH} characters.",
                                 "keyword")
        try:
            regex.compile(keyword, regex.IGNORECASE | regex.V1)
        except regex.error as exc:
            raise DomainError(error_codes.INVALID_PATTERN,
                                 f"Not a regular expression: {exc}.", "keyword") from exc
    elif not keyword_normalize(keyword):
        raise DomainError(error_codes.INVALID_KEYWORD,
                             "The keyword has no letters or digits.", "keyword")
    template_validate(rule.reply, field="reply")
    if any(day not in range(7) for day in rule.weekdays):
        raise DomainError(error_codes.INVALID_SCHEDULE,
                             "Weekdays go from 0 (Monday) to 6 (Sunday).", "weekdays")
    if (rule.active_from is None) != (rule.active_until is None):
        raise DomainError(error_codes.INVALID_SCHEDULE,
                             "Give both ends of the time window, or none.", "active_until")
    if not (rule.reply.strip() or rule.add_tag or rule.assign_to_id or rule.forward_to_id
            or rule.start_survey_id):
        raise DomainError(error_codes.NO_ACTION,
                             "A rule must reply, tag, assign, forward or start a survey.",
                             "reply")
    rule.keyword = keyword


def keyword_rule_save(*, rule: KeywordRule | None = None, sender: str | None = None,
                      **fields) -> KeywordRule:
    """Create a rule, or change ``rule``: only the given fields change. ``sender`` is an
    address of the tenant's ("" or None for every sender)."""
    rule = rule or KeywordRule()
    for name, value in fields.items():
        setattr(rule, name, value)
    if sender is not None:
        rule.sender = None
        if sender:
            rule.sender = Sender.objects.filter(address=sender).first()
            if rule.sender is None:
                raise DomainError(error_codes.UNKNOWN_SENDER,
                                     f"{sender!r} is not one of your senders.", "sender")
    _validate(rule)
    rule.save()
    return rule


def keyword_rule_delete(*, rule: KeywordRule) -> None:
    rule.delete()
