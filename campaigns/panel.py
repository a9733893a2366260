"""The inbox contact panel's section on subscription lists (``messaging.contact_panel``):
the contact's lists and, for owners and admins, an "Add to list" form."""

from __future__ import annotations

from django.http import HttpRequest

from campaigns.models import SubscriberList, Subscription
from campaigns.selectors import contact_memberships
from messaging.contact_panel import PanelSection
from messaging.models import Contact


def contact_lists_section(*, request: HttpRequest, contact: Contact,
                          here: str) -> PanelSection | None:
    """Nothing for an agent looking at someone on no list."""
    memberships = contact_memberships(contact=contact)
    can_add = request.user.is_tenant_admin
    if not memberships and not can_add:
        return None
    joined = {m.list_id for m in memberships if m.status == Subscription.Status.SUBSCRIBED}
    choices = [lst for lst in SubscriberList.objects.order_by("name")
               if lst.pk not in joined] if can_add else []
    return PanelSection(template="campaigns/contact_lists.html", context={
        "memberships": memberships, "choices": choices, "can_add": can_add,
        "contact": contact, "here": here,
    })
