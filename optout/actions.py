"""Writes of opt-out state: the keyword settings, opting a number out and back in.

Every change of a number's state takes the number's opt-out lock and writes a
``ConsentEvent`` (and the ``optout.changed`` webhook event) in the same transaction, so the
log and the state never disagree. The send task takes the same lock (shared) around its
last check, so a send that checks before a STOP commits has left before the STOP is
visible, and one that checks after it is refused.
"""

from __future__ import annotations

from collections.abc import Callable

from django.db import connection, transaction

from core.live import inbox_changed
from core.memo import memoized
from optout import error_codes, keywords
from optout.error_codes import OptOutError
from optout.events import consent_event_emit
from optout.models import ConsentEvent, OptOut, OptOutSettings
from optout.signals import numbers_opted_out

EDITABLE_REPLIES = ("optout_reply", "optin_reply", "help_reply")
MAX_REPLY_LENGTH = 480

# Words an app above this one gives a meaning of its own (a subscription list's join
# keyword), which an opt-out, opt-in or help keyword would silently take over: each entry
# maps a set of words to ``{word: what uses it}``.
_keyword_claims: list[Callable[[set[str]], dict[str, str]]] = []


def keyword_claims_register(claims: Callable[[set[str]], dict[str, str]]) -> None:
    """Have ``optout_settings_update`` refuse the words ``claims`` says are taken."""
    if claims not in _keyword_claims:
        _keyword_claims.append(claims)


def phone_lock(*, phone: str, shared: bool = False) -> None:
    """Take the number's opt-out lock until the end of the current transaction."""
    function = "pg_advisory_xact_lock_shared" if shared else "pg_advisory_xact_lock"
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {function}(hashtext(%s))",
                       [f"optout:{connection.schema_name}:{phone}"])


def phones_lock(*, phones: set[str], shared: bool = False) -> None:
    """``phone_lock`` for several numbers with one statement (a batch of sends), in a
    fixed order so that two callers taking some of the same locks cannot deadlock."""
    if not phones:
        return
    function = "pg_advisory_xact_lock_shared" if shared else "pg_advisory_xact_lock"
    keys = sorted(f"optout:{connection.schema_name}:{phone}" for phone in phones)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count({function}(hashtext(k))) "  # noqa: S608
                       "FROM (SELECT unnest(%s::text[]) AS k ORDER BY 1) AS ordered", [keys])


def optout_settings_get() -> OptOutSettings:
    """The tenant's opt-out settings (shared by a burst inside ``core.memo.memo_scope``)."""
    return memoized("optout_settings", _optout_settings_load)


def _optout_settings_load() -> OptOutSettings:
    settings, _ = OptOutSettings.objects.get_or_create(pk=1)
    return settings


def _keyword_set(field: str, values: list[str], required: tuple[str, ...]) -> list[str]:
    found: list[str] = []
    for value in values:
        word = keywords.keyword_normalize(value)
        if not word or len(word) > keywords.MAX_KEYWORD_LENGTH:
            raise OptOutError(error_codes.INVALID_KEYWORD,
                              f"{value!r} is not a keyword: use 1 to "
                              f"{keywords.MAX_KEYWORD_LENGTH} letters, digits or spaces.",
                              field)
        if word not in found:
            found.append(word)
    missing = [word for word in required if word not in found]
    if missing:
        raise OptOutError(error_codes.REQUIRED_KEYWORD,
                          f"{', '.join(missing)} cannot be removed: carriers require every "
                          "sender to honour it.", field)
    return found


def optout_settings_update(*, optout_keywords: list[str] | None = None,
                           optin_keywords: list[str] | None = None,
                           help_keywords: list[str] | None = None,
                           optout_reply: str | None = None, optin_reply: str | None = None,
                           help_reply: str | None = None,
                           scope: str | None = None) -> OptOutSettings:
    """Change the tenant's keyword sets, confirmation texts or scope; what is not given
    stays. Keywords are normalised; STOP and the HELP family are required; a word may
    belong to one set only."""
    settings = optout_settings_get()
    sets = {
        "optout_keywords": (optout_keywords, keywords.REQUIRED_OPTOUT),
        "optin_keywords": (optin_keywords, ()),
        "help_keywords": (help_keywords, keywords.REQUIRED_HELP),
    }
    for field, (values, required) in sets.items():
        if values is not None:
            setattr(settings, field, _keyword_set(field, values, required))
    seen: dict[str, str] = {}
    for field in sets:
        for word in getattr(settings, field):
            if word in seen:
                raise OptOutError(error_codes.DUPLICATE_KEYWORD,
                                  f"{word} is in both {seen[word]} and {field}.", field)
            seen[word] = field
    for claims in _keyword_claims:
        for word, owner in claims(set(seen)).items():
            raise OptOutError(error_codes.DUPLICATE_KEYWORD,
                              f"{word} is already {owner}: a word has one meaning.",
                              seen[word])
    for field, value in zip(EDITABLE_REPLIES, (optout_reply, optin_reply, help_reply),
                            strict=True):
        if value is not None:
            if len(value) > MAX_REPLY_LENGTH:
                raise OptOutError(error_codes.REPLY_TOO_LONG,
                                  f"Keep the text under {MAX_REPLY_LENGTH} characters.", field)
            setattr(settings, field, value.strip())
    if scope is not None:
        if scope not in OptOutSettings.Scope.values:
            raise OptOutError(error_codes.INVALID_SCOPE, "Scope is 'tenant' or 'sender'.", "scope")
        settings.scope = scope
    settings.save()
    return settings


def confirmation_text(*, settings: OptOutSettings, action: str, business: str) -> str:
    custom = getattr(settings, f"{action.replace('_', '')}_reply")
    return custom or keywords.default_reply(action, business=business)


def do_opt_out(*, phone: str, source: str, sender_address: str = "", reason: str = "",
               actor=None, actor_label: str = "", message=None) -> bool:
    """Opt ``phone`` out (of every sender, or of ``sender_address`` only) and log it.

    ``phone`` is E.164. Returns whether the state changed: a second STOP changes nothing
    and logs nothing. Runs in its own transaction (or the caller's), holding the lock.
    """
    with transaction.atomic():
        phone_lock(phone=phone)
        _, created = OptOut.objects.get_or_create(
            phone=phone, sender_address=sender_address,
            defaults={"source": source, "reason": reason},
        )
        if created:
            inbox_changed()  # the composer of the contact's conversations closes
            consent_event_emit(consent=ConsentEvent.objects.create(
                phone=phone, action=ConsentEvent.Action.OPT_OUT, source=source,
                sender_address=sender_address, reason=reason, actor=actor,
                actor_label=actor_label, message=message,
            ))
            numbers_opted_out.send(sender=OptOut, phones=[phone], source=source,
                                   reason=reason, actor=actor, actor_label=actor_label,
                                   message=message)
    return created


def do_opt_in(*, phone: str, source: str, sender_address: str | None = None,
              reason: str = "", actor=None, actor_label: str = "", message=None) -> bool:
    """Opt ``phone`` back in and log it: for ``sender_address``, every entry that blocks
    that sender (the tenant-wide one included: the customer's own word wins); without it,
    every entry of the number. Returns whether anything changed."""
    with transaction.atomic():
        phone_lock(phone=phone)
        entries = OptOut.objects.filter(phone=phone)
        if sender_address is not None:
            entries = entries.filter(sender_address__in=["", sender_address])
        removed, _ = entries.delete()
        if removed:
            inbox_changed()
            consent_event_emit(consent=ConsentEvent.objects.create(
                phone=phone, action=ConsentEvent.Action.OPT_IN, source=source,
                sender_address=sender_address or "", reason=reason, actor=actor,
                actor_label=actor_label, message=message,
            ))
    return bool(removed)
