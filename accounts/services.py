"""Writes for a tenant's team: invitations, their email and their acceptance, roles and
removals, API keys."""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import socket
from collections.abc import Callable
from datetime import timedelta

from allauth.account.models import EmailAddress
from django.conf import settings
from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage, EmailMultiAlternatives, send_mail
from django.db import connection, transaction
from django.template.loader import render_to_string
from django.utils import timezone

from accounts import error_codes
from accounts.error_codes import TeamError
from accounts.models import (
    API_KEY_PREFIX,
    ApiKey,
    Invitation,
    MailStatus,
    Role,
    User,
    api_key_digest,
)
from tenants.models import site_url

logger = logging.getLogger(__name__)


def invitation_token(invitation: Invitation) -> str:
    message = f"{connection.schema_name}:{invitation.pk}:{invitation.nonce}".encode()
    return hmac.new(settings.SECRET_KEY.encode(), message, hashlib.sha256).hexdigest()


def invitation_url(invitation: Invitation) -> str:
    return site_url(
        connection.tenant.primary_host,
        f"/invitations/{invitation.pk}/{invitation_token(invitation)}/",
    )


def invitation_create(*, email: str, role: str, invited_by: User) -> Invitation:
    """Invite ``email`` to the current tenant; the email leaves from a Celery task after
    commit. Precondition: the connection is set to the tenant's schema."""
    from accounts.tasks import invitation_send

    email = email.strip().lower()
    if not invited_by.is_tenant_admin:
        raise ValidationError("Only owners and admins invite.", code=error_codes.NOT_ALLOWED)
    if role not in {Role.ADMIN, Role.AGENT}:
        raise ValidationError({"role": ValidationError("Choose admin or agent.",
                                                       code=error_codes.INVALID_ROLE)})
    # A removed member (inactive) may be invited back.
    if User.objects.filter(email=email, is_active=True).exists():
        raise ValidationError({"email": ValidationError(
            f"{email} is already a member of this team.", code=error_codes.ALREADY_MEMBER)})
    with transaction.atomic():
        # A new invitation to the same address replaces the pending one (and its link).
        Invitation.objects.filter(email=email, accepted_at__isnull=True).delete()
        invitation = Invitation.objects.create(
            email=email,
            role=role,
            nonce=secrets.token_hex(16),
            invited_by=invited_by,
            expires_at=timezone.now() + timedelta(days=settings.INVITATION_MAX_AGE_DAYS),
        )
        transaction.on_commit(lambda: invitation_send.delay(invitation_id=invitation.pk))
    return invitation


def invitation_send(*, invitation_id: int) -> None:
    """Email the invitation link. Idempotent: a redelivered task sends nothing twice."""
    with transaction.atomic():
        invitation = (
            Invitation.objects.select_for_update(of=("self",)).select_related("invited_by")
            .filter(pk=invitation_id, sent_at__isnull=True, accepted_at__isnull=True)
            .first()
        )
        if invitation is None:
            return
        context = {
            "invitation": invitation,
            "url": invitation_url(invitation),
            "tenant_name": connection.tenant.name,
        }
        send_mail(
            subject=f"You are invited to {connection.tenant.name}",
            message=render_to_string("accounts/email/invitation.txt", context),
            from_email=None,
            recipient_list=[invitation.email],
        )
        invitation.sent_at = timezone.now()
        invitation.mail_status, invitation.mail_error = MailStatus.SENT, ""
        invitation.save(update_fields=["sent_at", "mail_status", "mail_error"])


def mail_failure_reason(exc: OSError) -> str:
    """Why a mail server did not take a message, in words an admin can act on."""
    server = f"{settings.EMAIL_HOST}:{settings.EMAIL_PORT}"
    if isinstance(exc, ConnectionRefusedError):
        return f"the mail server {server} refused the connection (is one running?)"
    if isinstance(exc, socket.gaierror):
        return f"the mail server's name {settings.EMAIL_HOST} is unknown"
    if isinstance(exc, TimeoutError):
        return f"the mail server {server} did not answer"
    return (str(exc) or type(exc).__name__)[:300]


def invitation_send_failed(*, invitation_id: int, reason: str, final: bool) -> None:
    """Record that the invitation's email did not leave (``final``: no retry follows), for
    the team page. A row already sent or accepted is left alone."""
    Invitation.objects.filter(pk=invitation_id, sent_at__isnull=True).update(
        mail_status=MailStatus.FAILED if final else MailStatus.RETRYING,
        mail_error=reason[:300])


def invitation_resend(*, invitation: Invitation, actor: User) -> Invitation:
    """Email the invitation again, with the same link, valid for another
    ``INVITATION_MAX_AGE_DAYS``; the email leaves from a task after commit."""
    from accounts.tasks import invitation_send

    _team_manager_check(actor)
    with transaction.atomic():
        updated = Invitation.objects.filter(pk=invitation.pk, accepted_at__isnull=True).update(
            sent_at=None, mail_status=MailStatus.SENDING, mail_error="",
            expires_at=timezone.now() + timedelta(days=settings.INVITATION_MAX_AGE_DAYS))
        if not updated:
            raise TeamError(error_codes.INVITATION_UNUSABLE,
                            "This invitation was accepted or revoked meanwhile.")
        transaction.on_commit(lambda: invitation_send.delay(invitation_id=invitation.pk))
    invitation.refresh_from_db()
    return invitation


def invitation_revoke(*, invitation: Invitation, actor: User) -> None:
    """Withdraw a pending invitation: its link stops working at once."""
    _team_manager_check(actor)
    Invitation.objects.filter(pk=invitation.pk, accepted_at__isnull=True).delete()


# What apps above accounts do when a member leaves the team (messaging: unassign their
# conversations); each runs in the removal's transaction, with ``member`` and ``actor``.
MemberRemovedHook = Callable[..., None]
_member_removed_hooks: list[MemberRemovedHook] = []


def member_removed_hook_install(hook: MemberRemovedHook) -> None:
    """Call ``hook(member=..., actor=...)`` when a member is removed (once per process)."""
    if hook not in _member_removed_hooks:
        _member_removed_hooks.append(hook)


def _team_manager_check(actor: User) -> None:
    if not actor.is_tenant_admin:
        raise TeamError(error_codes.NOT_ALLOWED, "Only owners and admins manage the team.")


def _owners_locked() -> list[int]:
    """The active owners' ids, their rows locked: two owners demoting or removing each other
    at once cannot leave the team with none."""
    return list(User.objects.select_for_update().filter(role=Role.OWNER, is_active=True)
                .order_by("pk").values_list("pk", flat=True))


def member_role_change(*, member: User, role: str, actor: User) -> User:
    """Give ``member`` another role. Owners and admins change roles; only an owner gives
    or takes away the owner role, and the last owner keeps it. Runs in a transaction that
    locks the owners' rows."""
    _team_manager_check(actor)
    if role not in Role.values:
        raise TeamError(error_codes.INVALID_ROLE, "Choose owner, admin or agent.", "role")
    if Role.OWNER in (role, member.role) and role != member.role and actor.role != Role.OWNER:
        raise TeamError(error_codes.OWNERS_ONLY,
                        "Only an owner can make someone an owner or change an owner's role.",
                        "role")
    with transaction.atomic():
        owners = _owners_locked()
        if member.role == Role.OWNER and role != Role.OWNER and owners == [member.pk]:
            raise TeamError(error_codes.LAST_OWNER,
                            f"{member.email} is the only owner: make someone else an owner "
                            "first.", "role")
        User.objects.filter(pk=member.pk, is_active=True).update(role=role)
    member.role = role
    return member


def member_remove(*, member: User, actor: User) -> None:
    """Take ``member`` off the team: the account is deactivated (its sessions stop working
    at their next request), what it did stays attributed to it, and the apps' hooks run
    (``member_removed_hook_install``: their conversations are unassigned). Nobody removes
    themselves, only an owner removes an owner, and the last owner stays. Runs in a
    transaction that locks the owners' rows."""
    _team_manager_check(actor)
    if member.pk == actor.pk:
        raise TeamError(error_codes.CANNOT_REMOVE_SELF,
                        "You cannot remove yourself; another owner or admin can.")
    if member.role == Role.OWNER and actor.role != Role.OWNER:
        raise TeamError(error_codes.OWNERS_ONLY, "Only an owner can remove an owner.")
    with transaction.atomic():
        if member.role == Role.OWNER and _owners_locked() == [member.pk]:
            raise TeamError(error_codes.LAST_OWNER,
                            f"{member.email} is the only owner and stays on the team.")
        User.objects.filter(pk=member.pk).update(is_active=False)
        for hook in _member_removed_hooks:
            hook(member=member, actor=actor)


def email_enqueue(*, message: EmailMessage) -> None:
    """Send ``message`` (rendered, not yet sent) from a Celery task in the current
    schema, so the page that asked for it answers the same whether or not the mail server
    takes it. With the broker down the email is lost, and logged.

    Precondition: the body is plain text; HTML may come as an alternative (allauth's
    emails are built so)."""
    from accounts.tasks import email_send

    try:
        email_send.delay(subject=message.subject, body=message.body,
                         from_email=message.from_email, to=message.to,
                         alternatives=[[content, mimetype] for content, mimetype
                                       in getattr(message, "alternatives", [])])
    except Exception:  # kombu raises several types for an unreachable broker
        logger.error("broker unavailable; email %r to %s not sent", message.subject,
                     ", ".join(message.to), exc_info=True)


def email_send(*, subject: str, body: str, from_email: str, to: list[str],
               alternatives: list[list[str]]) -> None:
    """Send a rendered email; raises ``OSError`` (``smtplib.SMTPException`` among them)
    when the mail server cannot be reached or refuses it."""
    EmailMultiAlternatives(subject, body, from_email, to,
                           alternatives=[tuple(pair) for pair in alternatives]).send()


def invitation_get_usable(*, invitation_id: int, token: str) -> Invitation | None:
    invitation = Invitation.objects.filter(pk=invitation_id).first()
    if invitation is None or not hmac.compare_digest(invitation_token(invitation), token):
        return None
    return invitation if invitation.is_usable else None


def invitation_accept(*, invitation: Invitation, name: str, password: str) -> User:
    """Create the invitee's account with the invited role; the email counts as verified
    because the invitee proved they read it."""
    password_validation.validate_password(password, User(email=invitation.email, name=name))
    with transaction.atomic():
        locked = Invitation.objects.select_for_update().get(pk=invitation.pk)
        if not locked.is_usable or User.objects.filter(email=locked.email,
                                                       is_active=True).exists():
            raise ValidationError("This invitation was already used or has expired.",
                                  code=error_codes.INVITATION_UNUSABLE)
        user = User.objects.filter(email=locked.email).first()
        if user is None:
            user = User.objects.create_user(locked.email, password, name=name,
                                            role=locked.role)
        else:
            # A removed member invited back: the same account, with the new role and password.
            user.name, user.role, user.is_active = name, locked.role, True
            user.set_password(password)
            user.save(update_fields=["name", "role", "is_active", "password"])
        EmailAddress.objects.update_or_create(
            user=user, email=user.email, defaults={"primary": True, "verified": True})
        locked.accepted_at = timezone.now()
        locked.save(update_fields=["accepted_at"])
    return user


def api_key_create(
    *, name: str, scopes: list[str] | None = None, created_by: User | None = None
) -> tuple[ApiKey, str]:
    """Create a key in the current tenant's schema; return it and the secret, shown once.

    No scopes means every scope. The secret reads ``sk_<prefix>_<random>``: the prefix finds
    the row and identifies the key in lists and logs.
    """
    name = name.strip()
    if not name:
        raise ValidationError({"name": ["A key needs a name."]}, code=error_codes.INVALID_NAME)
    max_length = ApiKey._meta.get_field("name").max_length
    if len(name) > max_length:
        raise ValidationError({"name": [f"A key's name has at most {max_length} characters."]},
                              code=error_codes.INVALID_NAME)
    scopes = list(dict.fromkeys(scopes or ApiKey.SCOPES))
    unknown = [scope for scope in scopes if scope not in ApiKey.SCOPES]
    if unknown:
        raise ValidationError(
            {"scopes": [f"Unknown scope {scope!r}; scopes are {', '.join(ApiKey.SCOPES)}."
                        for scope in unknown]},
            code=error_codes.INVALID_SCOPE,
        )
    prefix = secrets.token_hex(4)
    key = f"{API_KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    api_key = ApiKey.objects.create(
        name=name, prefix=prefix, digest=api_key_digest(key), scopes=scopes,
        created_by=created_by,
    )
    return api_key, key


def api_key_revoke(*, api_key: ApiKey) -> None:
    """Revoke at once: keys are looked up on every request (``api_key_for_secret``), never
    cached, so the next call with it gets 401. Revoking twice keeps the first time."""
    ApiKey.objects.filter(pk=api_key.pk, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )


def api_key_touch(*, api_key: ApiKey) -> None:
    """Record use, at most once a minute per key: one write per request would cost more
    than the request."""
    now = timezone.now()
    if api_key.last_used_at is None or now - api_key.last_used_at > timedelta(minutes=1):
        ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
