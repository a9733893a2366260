"""The API reference's chapters: each operation's tag is a readable title chosen by the
first word of its path, and the document lists the titles in reading order with what each
chapter covers (docs/ARCHITECTURE.md#api-reference).

Here rather than in the apps: ``cpaas`` mounts every app's routes (``urls_api.py``) and
so is the one place that knows all the chapters. A path word missing below keeps its raw
tag, which ``tests/test_api_docs.py`` refuses.
"""

from __future__ import annotations

from typing import Any

# (title, what the chapter covers, the path words it holds), in the order Redoc shows them.
CHAPTERS: list[tuple[str, str, tuple[str, ...]]] = [
    ("Messages",
     "Send one message or up to 1,000 at once, and read messages in and out. A send is "
     "checked in full before anything is stored and answers 202 with the message "
     "`queued`; its `status` then follows the carrier (`sent`, `delivered`, `failed`, "
     "`undelivered`). A body holds at most 10 SMS segments: 1,530 GSM-7 characters or "
     "670 UCS-2 ones (any character outside GSM-7, an emoji for instance, makes the whole "
     "message UCS-2).",
     ("messages",)),
    ("Conversations",
     "The inbox's threads: one per contact and sender. Read them and their messages, "
     "reply, assign, resolve, reopen, mark read, and keep private notes.",
     ("conversations",)),
    ("Contacts",
     "The people you text, with custom fields and tags for reply templates, and their "
     "opt-out state.",
     ("contacts",)),
    ("Senders",
     "The numbers and sender IDs you text from. A new sender is `pending` until the "
     "operator approves it; only approved senders send.",
     ("senders",)),
    ("Opt-outs",
     "Who asked to receive nothing more (STOP), from one sender or from all, with the "
     "consent log that proves each change, CSV import and export, and the keywords and "
     "texts of STOP, START and HELP.",
     ("optouts", "optout-settings")),
    ("Subscription lists",
     "People who agreed to your marketing texts and the proof of how they agreed: lists, "
     "their members, double opt-in and CSV imports.",
     ("lists",)),
    ("Campaigns",
     "Campaigns to your subscription lists, and their reply actions: what a recipient's "
     "keyword reply gets back (a text, or a code from the action's pool).",
     ("campaigns",)),
    ("Keyword rules",
     "Automatic answers to customers' texts: a keyword or pattern, a reply, and actions "
     "(tag, assign, forward, start a survey), optionally on some days and hours only.",
     ("keyword-rules",)),
    ("Business hours",
     "When the team answers; outside them a customer's text gets the away reply, at most "
     "once a day per conversation.",
     ("business-hours",)),
    ("Canned responses",
     "Saved replies staff insert in the inbox with `/shortcode`.",
     ("canned-responses",)),
    ("Surveys",
     "Questions asked by SMS one at a time, with branching, re-asking and results.",
     ("surveys",)),
    ("Forwarding endpoints",
     "Your systems that keyword rules forward customers' texts to; their answer can be "
     "texted back.",
     ("forwarding-endpoints",)),
    ("Event webhooks",
     "Signed events POSTed to your URL (Standard Webhooks) when messages arrive or change, "
     "opt-outs change, conversations are assigned or list members change; with the log of "
     "every delivery attempt.",
     ("webhooks",)),
    ("Usage",
     "Your account's metered messages and segments per day and direction, as your plan "
     "counts them.",
     ("usage",)),
    ("Simulator",
     "A phone in the browser: a customer's text to one of your `simulator` senders, to "
     "try rules, surveys and the inbox without a carrier.",
     ("simulator",)),
]

_TITLE_FOR = {word: title for title, _, words in CHAPTERS for word in words}


def tags_readable(result: dict[str, Any], generator, request, public) -> dict[str, Any]:
    """drf-spectacular postprocessing hook: readable tags, described and in order."""
    used: set[str] = set()
    for path, operations in result.get("paths", {}).items():
        word = path.removeprefix("/api/v1/").split("/")[0]
        for operation in operations.values():
            operation["tags"] = [_TITLE_FOR.get(word, word)]
            used.update(operation["tags"])
    result["tags"] = [{"name": title, "description": description}
                      for title, description, _ in CHAPTERS if title in used]
    return result
