"""The first-run checklist of a new tenant (docs/PORTAL.md#the-dashboard): register a
sender, have it approved, try the phone simulator, invite a teammate, create an API key.
Each step is ticked from what exists, not from clicks, so it is right however the step
was done (the page, the API, a command)."""

from __future__ import annotations

from dataclasses import dataclass

from django.core.cache import cache
from django.urls import reverse

from accounts.models import ApiKey, Invitation, User
from messaging.models import Message, Sender

# Set once every step is done: from then on no page asks the database again. Django's
# cache keys carry the schema (docs/ARCHITECTURE.md#tenancy).
DONE_KEY = "onboarding:done"


@dataclass(frozen=True)
class Step:
    title: str
    detail: str
    url: str
    link_text: str
    done: bool


def onboarding_steps() -> list[Step]:
    """The steps in order, each with whether it is done. Precondition: the connection is
    set to the tenant's schema."""
    registered = Sender.objects.exists()
    approved = Sender.objects.filter(status=Sender.Status.APPROVED).exists()
    return [
        Step("Register a sender",
             "The number, short code or name your texts come from; the simulator connection "
             "needs no provider account.", reverse("senders"), "Register a sender", registered),
        Step("Wait for approval",
             "The operator reviews each sender; its status on the Senders page changes to "
             "approved.", reverse("senders"), "See its status", approved),
        Step("Try the phone simulator",
             "Text your sender as a customer would, and see the message in the inbox.",
             reverse("simulator"), "Open the phone simulator",
             Message.objects.filter(direction=Message.Direction.INBOUND).exists()),
        Step("Invite a teammate",
             "Admins manage settings; agents answer conversations.", reverse("team"),
             "Invite a teammate",
             Invitation.objects.exists() or User.objects.filter(is_active=True).count() > 1),
        Step("Create an API key",
             "For your own systems: send messages and read conversations over the REST API.",
             reverse("api_keys"), "Create an API key", ApiKey.objects.exists()),
    ]


@dataclass(frozen=True)
class Checklist:
    steps: list[Step]

    @property
    def done_count(self) -> int:
        return sum(step.done for step in self.steps)


def onboarding_pending() -> Checklist | None:
    """The checklist while any step is left to do, else None (and remembered, so that a
    tenant that is set up costs one cache read)."""
    if cache.get(DONE_KEY):
        return None
    steps = onboarding_steps()
    if all(step.done for step in steps):
        cache.set(DONE_KEY, True, timeout=None)
        return None
    return Checklist(steps)
