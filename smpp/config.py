"""An ``smpp`` connection's settings: their declaration (``SMPP_KIND``: keys, defaults and
checks, read by the connection form and ``add_provider_connection``) and the typed config
the connector reads them into.

Every value arrives as a string (``add_provider_connection --set key=value``), so the
checks here are what tells an operator about a typo before the connector meets the SMSC.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from tenants.provider_kinds import ProviderKind, Setting

BIND_MODES = ("transceiver", "transmitter_receiver")
LONG_MESSAGES = ("udh", "message_payload")
# A submit_sm written and never answered (the bind dropped, the connector died) may or may
# not have reached the SMSC: "fail" it (send_outcome_unknown, the default) or
# "resubmit" it (at-least-once, for SMSCs known to drop what they had not answered).
UNANSWERED = ("fail", "resubmit")
# Source TON/NPI by the kind of sender address: alphanumeric IDs 5/0, international
# numbers (long codes, toll-free) 1/1, short codes 3/0; each overridable per connection.
TON_NPI_DEFAULTS = {"alphanumeric": (5, 0), "international": (1, 1), "short_code": (3, 0)}
TON_NPI_KEYS = {f"ton_npi_{kind}": kind for kind in TON_NPI_DEFAULTS}
SENDER_KIND_ADDRESSING = {"alphanumeric": "alphanumeric", "short_code": "short_code",
                          "long_code": "international", "toll_free": "international"}

@dataclass(frozen=True)
class SmppConfig:
    """A connection's settings, typed; ``config_from`` fills it from ``SMPP_KIND``'s
    declaration, where the defaults are."""

    name: str
    host: str
    port: int
    system_id: str
    password: str
    system_type: str
    bind_mode: str
    # Submits sent and not yet answered, at most.
    window: int
    # submit_sm per second on this connection; 0 means no cap of ours (the SMSC's throttling
    # still applies).
    submit_rate: float
    # Seconds of quiet after which an enquire_link checks that the bind is alive.
    enquire_link_interval: float
    # First wait before rebinding after a failure, doubled on each further failure.
    reconnect_backoff: float
    long_messages: str
    unanswered_submits: str
    ton_npi: dict[str, tuple[int, int]]

    def source_ton_npi(self, sender_kind: str) -> tuple[int, int]:
        return self.ton_npi[SENDER_KIND_ADDRESSING.get(sender_kind, "international")]


def _ton_npi(value: str) -> tuple[int, int]:
    ton, npi = (int(part) for part in value.split("/"))
    if not (0 <= ton <= 6 and 0 <= npi <= 18):
        raise ValueError(value)
    return ton, npi


def _number(value: str, cast, low: float, high: float):
    number = cast(value)
    if not low <= number <= high:
        raise ValueError(value)
    return number


def _choice(choices: tuple[str, ...]) -> Callable[[str], str]:
    return lambda value: choices[choices.index(value)]


SMPP_KIND = ProviderKind("smpp", settings=(
    Setting("host", required=True),
    Setting("port", required=True, default="2775",
            parse=lambda v: _number(v, int, 1, 65535), expected="a TCP port (1-65535)"),
    Setting("system_id", required=True),
    Setting("password", required=True, secret=True),
    Setting("system_type"),
    Setting("bind_mode", default="transceiver", parse=_choice(BIND_MODES),
            expected=" or ".join(BIND_MODES)),
    Setting("window", default="10", parse=lambda v: _number(v, int, 1, 1000),
            expected="an integer from 1 to 1000"),
    Setting("submit_rate", default="100", parse=lambda v: _number(v, float, 0, 100_000),
            expected="submits per second (0 for no cap)"),
    Setting("enquire_link_interval", default="30",
            parse=lambda v: _number(v, float, 0.05, 3600), expected="seconds (0.05-3600)"),
    Setting("reconnect_backoff", default="1",
            parse=lambda v: _number(v, float, 0.01, 600), expected="seconds (0.01-600)"),
    Setting("long_messages", default="udh", parse=_choice(LONG_MESSAGES),
            expected=" or ".join(LONG_MESSAGES)),
    Setting("unanswered_submits", default="fail", parse=_choice(UNANSWERED),
            expected=" or ".join(UNANSWERED)),
    *(Setting(key, default="{}/{}".format(*TON_NPI_DEFAULTS[kind]), parse=_ton_npi,
              expected="TON/NPI, e.g. 1/1") for key, kind in TON_NPI_KEYS.items()),
))
_PARSERS = {setting.key: setting.parse for setting in SMPP_KIND.settings if setting.parse}


def config_from(name: str, settings: Mapping[str, object]) -> SmppConfig:
    """The connection's config, each value missing taking its declared default; values were
    checked when the connection was saved."""
    values = {setting.key: str(settings.get(setting.key) or "").strip() or setting.default
              for setting in SMPP_KIND.settings}
    parsed = {key: _PARSERS[key](value) if key in _PARSERS else value
              for key, value in values.items()}
    ton_npi = {kind: parsed.pop(key) for key, kind in TON_NPI_KEYS.items()}
    return SmppConfig(name=name, ton_npi=ton_npi, **parsed)
