"""TwiML answers to a customer's text: ``<Response>`` with ``<Message>`` verbs, each a
reply (its text directly or in ``<Body>``; ``to``, ``from`` and ``statusCallback``
attributes as on Twilio). An empty ``<Response/>`` or an empty body answers nothing; a
``text/plain`` answer is itself the reply, as Twilio takes it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from xml.etree import ElementTree

# As many replies as one answer may send: a loop in the tenant's app cannot flood.
MAX_REPLIES = 10
XML_TYPES = ("text/xml", "application/xml", "text/html", "")
_DECLARATION = re.compile(r"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)


class InvalidTwiML(ValueError):
    pass


@dataclass(frozen=True)
class Reply:
    body: str
    to: str = ""  # empty: the customer who wrote
    from_: str = ""  # empty: the number they wrote to
    status_callback: str = ""


def twiml_replies(text: str, *, content_type: str = "") -> list[Reply]:
    """The replies an app's answer asks for; InvalidTwiML says why there are none when
    the answer is not TwiML."""
    if content_type == "text/plain":
        return [Reply(body=text.strip())] if text.strip() else []
    if content_type not in XML_TYPES:
        raise InvalidTwiML(f"the answer is {content_type}, not TwiML (text/xml)")
    if not text.strip():
        return []
    # TwiML never declares a document type; refusing any keeps entity tricks out (the
    # parser itself refuses external entities and entity expansion bombs).
    if _DECLARATION.search(text):
        raise InvalidTwiML("a document type or entity declaration is not accepted")
    try:
        root = ElementTree.fromstring(text)  # noqa: S314 - no DTD, see above
    except ElementTree.ParseError as exc:
        raise InvalidTwiML(f"the answer is not well-formed XML ({exc})") from None
    if root.tag != "Response":
        raise InvalidTwiML(f"the root element is <{root.tag}>, not <Response>")
    replies = []
    for verb in root:
        if verb.tag != "Message":
            continue
        body_element = verb.find("Body")
        body = body_element.text if body_element is not None else verb.text
        replies.append(Reply(body=(body or "").strip(), to=verb.get("to", "").strip(),
                             from_=verb.get("from", "").strip(),
                             status_callback=verb.get("statusCallback", "").strip()))
    if len(replies) > MAX_REPLIES:
        raise InvalidTwiML(f"{len(replies)} <Message> verbs; at most {MAX_REPLIES} are sent "
                           "in answer to one text")
    return [reply for reply in replies if reply.body]
