import hmac

from django.db.models import QuerySet

from accounts.models import API_KEY_PREFIX, ApiKey, Invitation, User, api_key_digest


def member_list() -> QuerySet[User]:
    return User.objects.filter(is_active=True).order_by("email")


def invitation_pending_list() -> QuerySet[Invitation]:
    return Invitation.objects.filter(accepted_at__isnull=True).select_related("invited_by")


def api_key_list() -> QuerySet[ApiKey]:
    """Every key, revoked ones included: the list says what ever had access."""
    return ApiKey.objects.select_related("created_by").order_by("-created_at", "-id")


def api_key_for_secret(key: str) -> ApiKey | None:
    """The active key whose secret is ``key``, or None; constant-time on the secret."""
    # Keys are printable ASCII; a header holding a NUL must not reach the query.
    if not (key.startswith(API_KEY_PREFIX) and key.isascii() and key.isprintable()) \
            or key.count("_") < 2:
        return None
    prefix = key[len(API_KEY_PREFIX):].split("_", 1)[0]
    api_key = ApiKey.objects.filter(prefix=prefix, revoked_at__isnull=True).first()
    if api_key is None or not hmac.compare_digest(api_key.digest, api_key_digest(key)):
        return None
    return api_key
