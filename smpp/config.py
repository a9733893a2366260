"""An ``smpp`` connection's settings, with their defaults, read once into a typed config.

Every value arrives as a string (``add_provider_connection --set key=value``), so the
checks here are what tells an operator about a typo before the connector meets the SMSC.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

BIND_MODES = ("transceiver", "transmitter_receiver")
LONG_MESSAGES = ("udh", "message_payload")
# A submit_sm written and never answered (the bind dropped, the connector died) may or may
# not have reached the SMSC: "fail" it (send_outcome_unknown, DESIGN §8's default) or
# "resubmit" it (at-least-once, for SMSCs known to drop what they had not answered).
UNANSWERED = ("fail", "resubmit")
# Source TON/NPI by the kind of sender address: alphanumeric IDs 5/0, international
# numbers (long codes, toll-free) 1/1, short codes 3/0; each overridable per connection.
TON_NPI_DEFAULTS = {"alphanumeric": (5, 0), "international": (1, 1), "short_code": (3, 0)}
TON_NPI_KEYS = {f"ton_npi_{kind}": kind for kind in TON_NPI_DEFAULTS}
SENDER_KIND_ADDRESSING = {"alphanumeric": "alphanumeric", "short_code": "short_code",
                          "long_code": "international", "toll_free": "international"}

SETTING_KEYS = frozenset({
    "host", "port", "system_id", "password", "system_type", "bind_mode", "window",
    "submit_rate", "enquire_link_interval", "reconnect_backoff", "long_messages",
    "unanswered_submits",
    *TON_NPI_KEYS,
})
REQUIRED_KEYS = frozenset({"host", "port", "system_id", "password"})


@dataclass(frozen=True)
class SmppConfig:
    name: str
    host: str
    port: int
    system_id: str
    password: str
    system_type: str = ""
    bind_mode: str = "transceiver"
    # Submits sent and not yet answered, at most.
    window: int = 10
    # submit_sm per second on this connection; 0 means no cap of ours (the SMSC's throttling
    # still applies).
    submit_rate: float = 100.0
    # Seconds of quiet after which an enquire_link checks that the bind is alive.
    enquire_link_interval: float = 30.0
    # First wait before rebinding after a failure, doubled on each further failure.
    reconnect_backoff: float = 1.0
    long_messages: str = "udh"
    unanswered_submits: str = "fail"
    ton_npi: dict[str, tuple[int, int]] = field(default_factory=lambda: dict(TON_NPI_DEFAULTS))

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


# Key -> (parser, what a valid value looks like).
_PARSERS = {
    "port": (lambda v: _number(v, int, 1, 65535), "a TCP port (1-65535)"),
    "window": (lambda v: _number(v, int, 1, 1000), "an integer from 1 to 1000"),
    "submit_rate": (lambda v: _number(v, float, 0, 100_000),
                    "submits per second (0 for no cap)"),
    "enquire_link_interval": (lambda v: _number(v, float, 0.05, 3600), "seconds (0.05-3600)"),
    "reconnect_backoff": (lambda v: _number(v, float, 0.01, 600), "seconds (0.01-600)"),
    "bind_mode": (lambda v: BIND_MODES[BIND_MODES.index(v)], " or ".join(BIND_MODES)),
    "long_messages": (lambda v: LONG_MESSAGES[LONG_MESSAGES.index(v)],
                      " or ".join(LONG_MESSAGES)),
    "unanswered_submits": (lambda v: UNANSWERED[UNANSWERED.index(v)], " or ".join(UNANSWERED)),
    **{key: (_ton_npi, "TON/NPI, e.g. 1/1") for key in TON_NPI_KEYS},
}


def config_problems(settings: Mapping[str, object]) -> list[tuple[str, str]]:
    """``(key, message)`` for each value that does not parse."""
    problems = []
    for key, (parse, expected) in _PARSERS.items():
        value = settings.get(key)
        if value is None or str(value).strip() == "":
            continue
        try:
            parse(str(value).strip())
        except ValueError:
            problems.append((key, f"{key}: {value!r} is not {expected}."))
    return problems


def config_from(name: str, settings: Mapping[str, object]) -> SmppConfig:
    """The connection's config; values were checked when it was saved."""
    given = {key: str(value).strip() for key, value in settings.items()
             if key in SETTING_KEYS and str(value).strip() != ""}
    parsed = {key: _PARSERS[key][0](value) for key, value in given.items() if key in _PARSERS}
    ton_npi = dict(TON_NPI_DEFAULTS)
    ton_npi.update({TON_NPI_KEYS[key]: parsed.pop(key) for key in list(parsed)
                    if key in TON_NPI_KEYS})
    return SmppConfig(
        name=name, host=given.get("host", ""), port=parsed.get("port", 2775),
        system_id=given.get("system_id", ""), password=given.get("password", ""),
        system_type=given.get("system_type", ""), ton_npi=ton_npi,
        **{key: parsed[key] for key in ("bind_mode", "window", "submit_rate",
                                        "enquire_link_interval", "reconnect_backoff",
                                        "long_messages", "unanswered_submits")
           if key in parsed},
    )
