from django.db.models import QuerySet

from accounts.models import Invitation, User


def member_list() -> QuerySet[User]:
    return User.objects.filter(is_active=True).order_by("email")


def invitation_pending_list() -> QuerySet[Invitation]:
    return Invitation.objects.filter(accepted_at__isnull=True).select_related("invited_by")
