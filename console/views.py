"""The operator console's pages at ``/operator/`` on the public host
(docs/ARCHITECTURE.md#operator-console): tenants, the sender review, connections with
their health, the route table and the audit log. Views parse and render; the services
write, each with its audit entry in the same transaction."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import ProtectedError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from console.access import (
    CONNECTION_PERMISSION,
    REVIEW_PERMISSION,
    ROUTE_PERMISSION,
    operator_required,
)
from console.forms import OperatorLoginForm, RouteForm
from console.selectors import (
    broker_queue_depths,
    connection_rows,
    customer_tenants,
    tenant_rows,
    tenant_sender_list,
)
from core.errors import DomainError
from core.numbers import small_int
from messaging.models import Sender
from messaging.senders import sender_review
from tenants.audit import audit_record
from tenants.connections import connection_add
from tenants.forms import connection_form_for
from tenants.models import OperatorAuditEntry, ProviderConnection, Route, SenderRoute
from tenants.provider_kinds import provider_kind
from tenants.routes import ROUTE_PREFIX, entries_text, route_delete, route_save


class LoginView(auth_views.LoginView):
    template_name = "console/login.html"
    authentication_form = OperatorLoginForm

    def get_default_redirect_url(self) -> str:
        return reverse("console:tenants")


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    auth_views.auth_logout(request)
    return redirect("console:login")


# --- Tenants --------------------------------------------------------------------------------


@operator_required()
@require_http_methods(["GET"])
def tenants_view(request: HttpRequest) -> HttpResponse:
    return render(request, "console/tenants.html", {"rows": tenant_rows(), "section": "tenants"})


@operator_required()
@require_http_methods(["GET"])
def tenant_view(request: HttpRequest, slug: str) -> HttpResponse:
    tenant = get_object_or_404(customer_tenants(), slug=slug)
    senders = tenant_sender_list(tenant=tenant)
    names = {row.sender.connection for row in senders}
    routes = {name.removeprefix(ROUTE_PREFIX) for name in names if name.startswith(ROUTE_PREFIX)}
    connections = list(ProviderConnection.objects.filter(name__in=names)) + [
        hop.connection for route in Route.objects.filter(name__in=routes)
        for entry in route.entries.prefetch_related("hops__connection")
        for hop in entry.hops.all()]
    return render(request, "console/tenant.html", {
        "section": "tenants", "customer": tenant, "senders": senders,
        "domains": tenant.domains.all(),
        "connections": connection_rows(list({c.pk: c for c in connections}.values())),
        "audit": OperatorAuditEntry.objects.filter(tenant=tenant)[:100],
    })


# --- Sender review --------------------------------------------------------------------------


@operator_required(REVIEW_PERMISSION)
@require_http_methods(["GET", "POST"])
def sender_review_view(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status")
    status = status if status in Sender.Status.values else None
    if request.method == "POST":
        _sender_review_post(request)
        back = request.POST.get("next", "")
        if back.startswith("/operator/") and "//" not in back:
            return redirect(back)
        url = reverse("console:senders")
        return redirect(f"{url}?{urlencode({'status': status})}" if status else url)
    return render(request, "console/senders.html", {
        "section": "senders", "rows": tenant_sender_list(status=status), "status": status,
        "statuses": Sender.Status.values,
    })


def _sender_review_post(request: HttpRequest) -> None:
    decision = request.POST.get("decision")
    address = request.POST.get("address", "")
    reason = request.POST.get("reason", "").strip()
    tenant_id = small_int(request.POST.get("tenant"))
    tenant = customer_tenants().filter(pk=tenant_id).first() if tenant_id is not None else None
    if tenant is None or decision not in ("approve", "reject", "suspend"):
        messages.error(request, "Choose a tenant's sender and a decision.")
        return
    if decision == "reject" and not reason:
        messages.error(request, f"Give a reason to reject {address}; nothing was changed.")
        return
    try:
        with transaction.atomic():
            sender = sender_review(tenant=tenant, address=address, decision=decision,
                                   reason="" if decision == "approve" else reason)
            audit_record(actor=request.user.email, action=f"sender.{decision}",
                         target=f"sender:{sender.address}", tenant=tenant, detail=reason)
    except DomainError as exc:
        messages.error(request, f"{exc.detail} ({exc.code})")
    else:
        messages.success(request, f"{tenant.slug}: {sender.address} is now {sender.status}.")


# --- Connections ----------------------------------------------------------------------------


@operator_required()
@require_http_methods(["GET"])
def connections_view(request: HttpRequest) -> HttpResponse:
    return render(request, "console/connections.html", {
        "section": "connections", "rows": connection_rows(),
        "queues": broker_queue_depths(),
    })


@operator_required(CONNECTION_PERMISSION)
@require_http_methods(["GET", "POST"])
def connection_edit_view(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    instance = get_object_or_404(ProviderConnection, pk=pk) if pk is not None else None
    kind = instance.kind if instance else (request.POST.get("kind") or request.GET.get("kind"))
    kind = kind if provider_kind(kind or "") is not None else None
    form_class = connection_form_for(kind, instance)
    form = form_class(request.POST or None, instance=instance,
                      initial={"kind": kind} if instance is None else None)
    if instance is not None:
        # The name is in webhook URLs and senders name it; the kind decides the settings.
        form.fields["name"].disabled = form.fields["kind"].disabled = True
    if request.method == "POST" and kind is not None and form.is_valid():
        try:
            saved = _connection_save(form, instance, actor=request.user.email)
        except ValidationError as exc:
            for field, errors in exc.error_dict.items():
                for error in errors:
                    form.add_error(field if field in form.fields else None, error)
        else:
            messages.success(request, f"Connection {saved.name} saved.")
            return redirect("console:connections")
    status = 400 if request.method == "POST" else 200
    return render(request, "console/connection_edit.html", {
        "section": "connections", "form": form, "connection": instance, "kind": kind,
        "kinds": ProviderConnection.Kind.values,
        "current": instance.masked_settings() if instance else {},
    }, status=status)


def _connection_save(form, instance: ProviderConnection | None, *,
                     actor: str) -> ProviderConnection:
    """Save the form's connection with its audit entry: which settings changed, never
    their values."""
    active = form.cleaned_data["is_active"]
    with transaction.atomic():
        if instance is None:
            created = connection_add(name=form.cleaned_data["name"],
                                     kind=form.cleaned_data["kind"], settings=form.new_settings)
            if not active:
                created.is_active = False
                created.save(update_fields=["is_active"])
            audit_record(actor=actor, action="connection.create",
                         target=f"connection:{created.name}", detail=created.kind)
            return created
        before = dict(ProviderConnection.objects.get(pk=instance.pk).settings)
        changed = sorted(key for key in set(before) | set(form.new_settings)
                         if before.get(key) != form.new_settings.get(key))
        instance.settings, instance.is_active = form.new_settings, active
        instance.save(update_fields=["settings", "is_active"])
        audit_record(actor=actor, action="connection.update",
                     target=f"connection:{instance.name}",
                     detail=f"active={active}; settings changed: "
                            f"{', '.join(changed) or 'none'}")
        return instance


@operator_required(CONNECTION_PERMISSION)
@require_POST
def connection_delete_view(request: HttpRequest, pk: int) -> HttpResponse:
    connection = get_object_or_404(ProviderConnection, pk=pk)
    if connection.name == ProviderConnection.SIMULATOR_NAME:
        raise PermissionDenied("A connection named simulator always exists.")
    try:
        with transaction.atomic():
            connection.delete()
            audit_record(actor=request.user.email, action="connection.delete",
                         target=f"connection:{connection.name}")
    except ProtectedError:
        messages.error(request, f"{connection.name} is in use by senders or routes; "
                                "deactivate it instead.")
    else:
        messages.success(request, f"Connection {connection.name} deleted.")
    return redirect("console:connections")


# --- Routes ---------------------------------------------------------------------------------


@operator_required()
@require_http_methods(["GET"])
def routes_view(request: HttpRequest) -> HttpResponse:
    routes = Route.objects.prefetch_related("entries__hops__connection")
    in_use = set(SenderRoute.objects.filter(route__isnull=False)
                 .values_list("route_id", flat=True))
    return render(request, "console/routes.html", {
        "section": "routes", "routes": routes, "in_use": in_use})


@operator_required(ROUTE_PERMISSION)
@require_http_methods(["GET", "POST"])
def route_edit_view(request: HttpRequest, name: str | None = None) -> HttpResponse:
    route = get_object_or_404(Route, name=name) if name is not None else None
    initial = ({"name": route.name, "cheapest_first": route.cheapest_first,
                "entries": entries_text(route)} if route else None)
    form = RouteForm(request.POST or None, initial=initial)
    if route is not None:
        form.fields["name"].disabled = True
    if request.method == "POST" and form.is_valid():
        try:
            saved = route_save(name=form.cleaned_data["name"],
                               cheapest_first=form.cleaned_data["cheapest_first"],
                               entries=form.cleaned_data["entries"],
                               actor=request.user.email, route=route)
        except DomainError as exc:
            form.add_error(exc.field if exc.field in form.fields else None,
                           f"{exc.detail} ({exc.code})")
        else:
            messages.success(request, f"Route {saved.name} saved.")
            return redirect("console:routes")
    status = 400 if request.method == "POST" else 200
    return render(request, "console/route_edit.html", {
        "section": "routes", "form": form, "route": route,
        "connections": ProviderConnection.objects.all(),
        "audit": (OperatorAuditEntry.objects.filter(target=f"route:{route.name}")[:20]
                  if route else []),
    }, status=status)


@operator_required(ROUTE_PERMISSION)
@require_POST
def route_delete_view(request: HttpRequest, name: str) -> HttpResponse:
    route = get_object_or_404(Route, name=name)
    try:
        route_delete(route=route, actor=request.user.email)
    except DomainError as exc:
        messages.error(request, f"{exc.detail} ({exc.code})")
    else:
        messages.success(request, f"Route {name} deleted.")
    return redirect("console:routes")


# --- Audit log ------------------------------------------------------------------------------


@operator_required()
@require_http_methods(["GET"])
def audit_view(request: HttpRequest) -> HttpResponse:
    return render(request, "console/audit.html", {
        "section": "audit",
        "entries": OperatorAuditEntry.objects.select_related("tenant")[:500]})
