"""API authentication: ``Authorization: Bearer <key>``, and scopes per key."""

from __future__ import annotations

from django.conf import settings
from django.db import connection
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed, MethodNotAllowed
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from accounts.models import ApiKey
from accounts.selectors import api_key_for_secret
from accounts.services import api_key_touch
from core.rate_limit import tokens_reserve


class ApiKeyUser:
    """Who made an API call with a key: authenticated, with the key's scopes, no staff
    rights."""

    is_authenticated = True
    is_anonymous = False
    is_staff = False

    def __init__(self, api_key: ApiKey) -> None:
        self.api_key = api_key

    def __str__(self) -> str:
        return f"API key {self.api_key.prefix}"


class ApiKeyAuthentication(BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[ApiKeyUser, ApiKey] | None:
        header = get_authorization_header(request).split()
        if not header or header[0].lower() != b"bearer":
            return None
        if len(header) != 2:
            raise AuthenticationFailed("Send 'Authorization: Bearer <key>'.")
        api_key = api_key_for_secret(header[1].decode(errors="replace"))
        if api_key is None:
            raise AuthenticationFailed("Unknown or revoked API key.")
        api_key_touch(api_key=api_key)
        return ApiKeyUser(api_key), api_key

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'


# Scopes a signed-in session has only as an owner or admin.
ADMIN_SCOPES = ("settings", "campaigns")


class HasScope(BasePermission):
    """A key needs the view's ``required_scopes`` for the method; a signed-in user
    (session) has them all, but ``settings`` and ``campaigns`` only as an owner or admin.

    HEAD is GET without the body (Django answers it with the GET handler), so it needs
    GET's scope: its Content-Length alone would tell a search's answer. A method the view
    does not name is refused (405) whoever asks, so a handler added without its scope is
    shut rather than open to every key."""

    message = "This API key lacks the scope this operation needs."
    session_message = "Your role does not allow this; ask an owner or admin."

    def has_permission(self, request: Request, view) -> bool:
        if not (request.user and request.user.is_authenticated):
            return False
        method = "GET" if request.method == "HEAD" else request.method
        scope = getattr(view, "required_scopes", {}).get(method)
        if scope is None:
            raise MethodNotAllowed(request.method)
        if isinstance(request.auth, ApiKey):
            return request.auth.has_scope(scope)
        # A session: settings and campaigns (marketing lists) are for owners and admins,
        # not agents.
        self.message = self.session_message  # a person has a role, not a key's scopes
        return scope not in ADMIN_SCOPES or request.user.is_tenant_admin


class PerKeyThrottle(BaseThrottle):
    """``API_THROTTLE_RATE`` requests per second per API key (or signed-in user), as a
    token bucket in Redis shared by every web process; a refused request costs nothing."""

    def allow_request(self, request: Request, view) -> bool:
        if isinstance(request.auth, ApiKey):
            who = f"key:{request.auth.pk}"
        elif request.user is not None and request.user.is_authenticated:
            who = f"user:{request.user.pk}"
        else:
            return True  # refused with 401 by the permission check before
        allowed, self.retry_after = tokens_reserve(
            key=f"api:{connection.schema_name}:{who}", rate=settings.API_THROTTLE_RATE,
            cost=1, max_wait=0)
        return allowed

    def wait(self) -> float:
        return self.retry_after
