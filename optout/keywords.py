"""Opt-out, opt-in and help keywords: the defaults and the matching rule
(docs/ARCHITECTURE.md#opt-out).

A message matches a keyword when, ignoring case, surrounding whitespace and trailing
punctuation, it is exactly the keyword ("stop.", " Stop! " and "STOP" all match STOP;
"stop texting me" does not: carriers' rule, and the one that never opts out by accident).
"""

from __future__ import annotations

import unicodedata

DEFAULT_OPTOUT = ("STOP", "STOPALL", "STOP ALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT",
                  "OPTOUT", "REVOKE")
DEFAULT_OPTIN = ("START", "UNSTOP")
DEFAULT_HELP = ("HELP", "INFO")
# Accepted as opt-in only from a contact who is opted out: a "yes" in a conversation is not
# consent otherwise.
YES = "YES"
# Carriers and regulators expect these to work everywhere: an admin cannot remove them.
REQUIRED_OPTOUT = ("STOP",)
REQUIRED_HELP = ("HELP", "INFO")
MAX_KEYWORD_LENGTH = 30

OPT_OUT = "opt_out"
OPT_IN = "opt_in"
HELP = "help"


def keyword_normalize(text: str) -> str:
    """Upper-case, inner whitespace collapsed, surrounding whitespace and trailing
    punctuation removed."""
    words = " ".join((text or "").split()).upper()
    end = len(words)
    while end and (unicodedata.category(words[end - 1]).startswith("P") or words[end - 1] == " "):
        end -= 1
    return words[:end]


def keyword_action(body: str, *, optout_keywords: list[str], optin_keywords: list[str],
                   help_keywords: list[str], opted_out: bool) -> str | None:
    """The action a message asks for, or None when it is not a keyword."""
    word = keyword_normalize(body)
    if not word or len(word) > MAX_KEYWORD_LENGTH:
        return None
    if word in optout_keywords:
        return OPT_OUT
    if word in optin_keywords or (opted_out and word == YES):
        return OPT_IN
    if word in help_keywords:
        return HELP
    return None


def default_reply(action: str, *, business: str) -> str:
    """The confirmation texts a tenant gets until it writes its own; each names the business
    and says how to come back or get help."""
    return {
        OPT_OUT: f"{business}: you are unsubscribed and will receive no more messages. "
                 "Reply START to subscribe again.",
        OPT_IN: f"{business}: you are subscribed again. Reply STOP to unsubscribe, "
                "HELP for help.",
        HELP: f"{business}: reply STOP to unsubscribe, START to subscribe again. "
              "Msg & data rates may apply.",
    }[action]
