"""Subscription list pages: the lists (owners and admins), a list's members, its imports
and printable sign, the "Add to list" action of the inbox's contact panel, and the public
join form on the tenant's host.

Every form works without JavaScript and answers a successful POST with a redirect, so a
reload never signs anyone up twice.
"""

from __future__ import annotations

import io

import segno
from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST

from accounts.permissions import tenant_admin_required
from campaigns import error_codes
from campaigns.imports import list_import_create, members_csv
from campaigns.lists import (
    business_name,
    call_to_action,
    default_welcome_text,
    list_create,
    list_delete,
    list_update,
    subscriber_add,
    subscriber_remove,
)
from campaigns.models import ListImport, SubscriberList, Subscription
from campaigns.selectors import (
    list_counts,
    list_import_list,
    list_list,
    member_history,
    member_optout_history,
    subscription_list,
)
from core.confirm import confirm_page, confirmed
from core.errors import DomainError
from core.numbers import small_int
from core.phones import phone_normalize
from core.rate_limit import tokens_reserve
from messaging.models import Contact, Sender

Source = Subscription.Source


def _sender_choices() -> list[tuple[str, str]]:
    approved = Sender.objects.filter(status=Sender.Status.APPROVED).order_by("id")
    return [("", "The first approved sender")] + [(s.address, s.address) for s in approved]


class ListForm(forms.Form):
    name = forms.CharField(label="Name", max_length=100)
    keyword = forms.CharField(label="Join keyword", max_length=30, required=False,
                              help_text="What customers text to join, e.g. VIP. Optional.")
    double_opt_in = forms.BooleanField(
        label="Double opt-in: ask new members to reply YES", required=False, initial=True,
        help_text="Imports and members you add yourself are never texted to confirm.")
    sender = forms.ChoiceField(label="Sender", required=False,
                               help_text="Texts members who joined on the web form or the "
                                         "API; keyword members hear from the number they "
                                         "texted.")
    confirmation_text = forms.CharField(
        label="Confirmation message", required=False, max_length=1600,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Must ask for YES. Empty: the default, which names your business and says "
                  "how to stop.")
    send_welcome = forms.BooleanField(label="Send a welcome message", required=False,
                                      initial=True)
    welcome_text = forms.CharField(label="Welcome message", required=False, max_length=1600,
                                   widget=forms.Textarea(attrs={"rows": 3}),
                                   help_text="Empty: the default.")

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["sender"].choices = _sender_choices()

    def values(self) -> dict:
        data = self.cleaned_data
        welcome = (data["welcome_text"] or None) if data["send_welcome"] else ""
        return {"name": data["name"], "keyword": data["keyword"],
                "double_opt_in": data["double_opt_in"], "sender": data["sender"],
                "confirmation_text": data["confirmation_text"], "welcome_text": welcome}


class MemberForm(forms.Form):
    phone = forms.CharField(label="Phone number", max_length=32,
                            help_text="In international format, e.g. +14155550123.")
    name = forms.CharField(label="Name", max_length=200, required=False)
    evidence = forms.CharField(label="How they agreed", max_length=2000,
                               help_text="Kept in the consent log, e.g. \"asked at the "
                                         "counter, 20 Nov\". They are subscribed at once and "
                                         "not texted.")


class ImportForm(forms.Form):
    file = forms.FileField(label="CSV file",
                           help_text="A first row naming the columns: phone, and optionally "
                                     "name, tags and your own fields.")
    consent_source = forms.CharField(label="Where they agreed", max_length=200,
                                     help_text="e.g. \"sign-up sheet at the Main St store\".")
    evidence = forms.CharField(label="Evidence", max_length=2000,
                               widget=forms.Textarea(attrs={"rows": 2}),
                               help_text="What proves their consent and where it is kept.")


def _form_errors(form: forms.Form, exc: DomainError) -> None:
    field = exc.field if exc.field in form.fields else None
    form.add_error(field, exc.detail)


def _list(list_id: int) -> SubscriberList:
    return get_object_or_404(SubscriberList, pk=list_id)


def _join_url(request: HttpRequest, subscriber_list: SubscriberList) -> str:
    return request.build_absolute_uri(reverse("join", args=[subscriber_list.slug]))


@tenant_admin_required
@require_http_methods(["GET", "POST"])
def lists(request: HttpRequest) -> HttpResponse:
    form = ListForm(request.POST or None, initial={"double_opt_in": True,
                                                   "send_welcome": True})
    if form.is_valid():
        try:
            created = list_create(**form.values())
        except DomainError as exc:
            _form_errors(form, exc)
        else:
            messages.success(request, f"Created the list {created.name}.")
            return redirect("list_detail", list_id=created.pk)
    return render(request, "campaigns/lists.html", {
        "form": form, "lists": list_list(),
    }, status=400 if form.errors else 200)


@tenant_admin_required
@require_http_methods(["GET", "POST"])
def list_detail(request: HttpRequest, list_id: int) -> HttpResponse:
    """Members with search and a status filter; a teammate adds one here."""
    subscriber_list = _list(list_id)
    form = MemberForm(request.POST or None, prefix="member")
    if form.is_valid():
        try:
            membership = subscriber_add(
                subscriber_list=subscriber_list, phone=form.cleaned_data["phone"],
                name=form.cleaned_data["name"], source=Source.STAFF,
                evidence=form.cleaned_data["evidence"], actor=request.user)
        except DomainError as exc:
            _form_errors(form, exc)
        else:
            member = membership.subscription
            messages.success(request, f"{member.phone} is {member.status}.")
            return redirect("list_detail", list_id=subscriber_list.pk)
    status = request.GET.get("status", "")
    status = status if status in Subscription.Status.values else ""
    query = request.GET.get("q", "").strip()[:100]
    members = subscription_list(subscriber_list=subscriber_list, status=status or None,
                                search=query or None)
    return render(request, "campaigns/list_detail.html", {
        "list": subscriber_list, "counts": list_counts(subscriber_list), "form": form,
        "import_form": ImportForm(prefix="import"), "status": status, "query": query,
        "statuses": Subscription.Status.choices,
        "page": Paginator(members, 50).get_page(request.GET.get("page")),
        "imports": list_import_list(subscriber_list=subscriber_list)[:5],
        "join_url": _join_url(request, subscriber_list),
    }, status=400 if form.errors else 200)


@tenant_admin_required
@require_http_methods(["GET", "POST"])
def list_edit(request: HttpRequest, list_id: int) -> HttpResponse:
    subscriber_list = _list(list_id)
    initial = {"name": subscriber_list.name, "keyword": subscriber_list.keyword,
               "double_opt_in": subscriber_list.double_opt_in,
               "sender": subscriber_list.sender_address,
               "confirmation_text": subscriber_list.confirmation_text,
               "send_welcome": bool(subscriber_list.welcome_text),
               "welcome_text": subscriber_list.welcome_text}
    form = ListForm(request.POST or None, initial=initial)
    if form.is_valid():
        values = form.values()
        if values["welcome_text"] is None:  # ticked and empty: the default
            business = business_name()
            values["welcome_text"] = default_welcome_text(business=business,
                                                          list_name=values["name"])
        values["confirmation_text"] = values["confirmation_text"] or ""
        try:
            list_update(subscriber_list=subscriber_list, **values)
        except DomainError as exc:
            _form_errors(form, exc)
        else:
            messages.success(request, f"Saved {subscriber_list.name}.")
            return redirect("list_detail", list_id=subscriber_list.pk)
    return render(request, "campaigns/list_edit.html", {"list": subscriber_list,
                                                        "form": form},
                  status=400 if form.errors else 200)


@tenant_admin_required
@require_http_methods(["GET", "POST"])
def list_remove(request: HttpRequest, list_id: int) -> HttpResponse:
    subscriber_list = _list(list_id)
    if not confirmed(request):
        return confirm_page(
            request, title=f"Delete the list {subscriber_list.name}?", action="Delete list",
            cancel_url=reverse("list_edit", args=[subscriber_list.pk]), consequences=[
                "Its members are no longer on it, and its join form and keyword stop "
                "working.",
                "Its consent log is kept."])
    list_delete(subscriber_list=subscriber_list)
    messages.success(request, f"Deleted the list {subscriber_list.name}; its consent log "
                              "is kept.")
    return redirect("lists")


@tenant_admin_required
@require_POST
def list_import(request: HttpRequest, list_id: int) -> HttpResponse:
    subscriber_list = _list(list_id)
    form = ImportForm(request.POST, request.FILES, prefix="import")
    if form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            job = list_import_create(
                subscriber_list=subscriber_list, file_name=upload.name or "",
                content=upload.read(), consent_source=form.cleaned_data["consent_source"],
                evidence=form.cleaned_data["evidence"], actor=request.user)
        except DomainError as exc:
            messages.error(request, exc.detail)
        else:
            return redirect("list_import_progress", list_id=subscriber_list.pk,
                            list_import_id=job.pk)
    else:
        messages.error(request, "Choose a CSV file and say where and how these people "
                                "agreed.")
    return redirect("list_detail", list_id=subscriber_list.pk)


@tenant_admin_required
def list_import_progress(request: HttpRequest, list_id: int,
                         list_import_id: int) -> HttpResponse:
    """The import's page; ``?format=json`` is its progress, which the page polls
    (``static/js/import_progress.js``) while the task runs."""
    subscriber_list = _list(list_id)
    polled = request.GET.get("format") == "json"
    job = get_object_or_404(ListImport.objects.defer("content", *(["errors"] if polled else [])),
                            pk=list_import_id, list=subscriber_list)
    if polled:
        return JsonResponse({
            "status": job.status, "status_display": job.get_status_display(),
            "finished": job.status == ListImport.Status.DONE,
            "percent": job.percent, "processed_rows": job.processed_rows,
            "total_rows": job.total_rows, "added": job.added, "already": job.already,
            "error_count": job.error_count})
    return render(request, "campaigns/import.html", {"list": subscriber_list, "job": job})


@tenant_admin_required
def list_export(request: HttpRequest, list_id: int) -> StreamingHttpResponse:
    subscriber_list = _list(list_id)
    response = StreamingHttpResponse(members_csv(subscriber_list=subscriber_list),
                                     content_type="text/csv")
    response["Content-Disposition"] = (f'attachment; filename="{subscriber_list.slug}'
                                       '-members.csv"')
    return response


@tenant_admin_required
def list_qr(request: HttpRequest, list_id: int) -> HttpResponse:
    """The join form's address as a QR code (SVG, prints sharp at any size)."""
    subscriber_list = _list(list_id)
    buffer = io.BytesIO()
    segno.make_qr(_join_url(request, subscriber_list), error="m").save(
        buffer, kind="svg", scale=8, border=2, title=f"Join {subscriber_list.name}")
    return HttpResponse(buffer.getvalue(), content_type="image/svg+xml")


@tenant_admin_required
def list_sign(request: HttpRequest, list_id: int) -> HttpResponse:
    """A page to print and put up: the QR code, the address, the keyword, the terms."""
    subscriber_list = _list(list_id)
    business = business_name()
    keyword_sender = subscriber_list.sender_address or (
        Sender.objects.filter(status=Sender.Status.APPROVED).order_by("id")
        .values_list("address", flat=True).first())
    return render(request, "campaigns/list_sign.html", {
        "list": subscriber_list, "business": business,
        "join_url": _join_url(request, subscriber_list), "keyword_sender": keyword_sender,
        "terms": call_to_action(business=business, list_name=subscriber_list.name),
    })


@tenant_admin_required
def list_member(request: HttpRequest, list_id: int, member_id: int) -> HttpResponse:
    """One member's consent history on this list, and their opt-outs."""
    subscriber_list = _list(list_id)
    member = get_object_or_404(Subscription.objects.select_related("contact"),
                               pk=member_id, list=subscriber_list)
    return render(request, "campaigns/member.html", {
        "list": subscriber_list, "member": member,
        "history": member_history(phone=member.phone, subscriber_list=subscriber_list),
        "optouts": member_optout_history(phone=member.phone)[:50],
    })


@tenant_admin_required
@require_http_methods(["GET", "POST"])
def list_member_remove(request: HttpRequest, list_id: int, member_id: int) -> HttpResponse:
    subscriber_list = _list(list_id)
    member = get_object_or_404(Subscription, pk=member_id, list=subscriber_list)
    reason = request.POST.get("reason", "").strip()[:500]
    if not confirmed(request):
        return confirm_page(
            request, title=f"Unsubscribe {member.phone} from {subscriber_list.name}?",
            action="Unsubscribe",
            cancel_url=reverse("list_member", args=[subscriber_list.pk, member.pk]),
            consequences=["They get nothing more sent to this list; the consent log "
                          "records it as your decision" + (f": {reason}" if reason else ".")],
            carry={"reason": reason})
    if subscriber_remove(subscriber_list=subscriber_list, phone=member.phone,
                         source=Source.STAFF, evidence=reason, actor=request.user):
        messages.success(request, f"{member.phone} is unsubscribed from {subscriber_list}.")
    return redirect("list_member", list_id=subscriber_list.pk, member_id=member.pk)


# --- The inbox's contact panel (its section: ``campaigns.panel``) -------------------------

@tenant_admin_required
@require_POST
def list_add_contact(request: HttpRequest) -> HttpResponse:
    """"Add to list" from the contact panel: subscribed at once on the teammate's word
    (with their note as evidence), no SMS; back to the conversation."""
    back = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
        back = reverse("home")
    contact = get_object_or_404(Contact, pk=small_int(request.POST.get("contact")) or 0)
    subscriber_list = SubscriberList.objects.filter(
        pk=small_int(request.POST.get("list")) or 0).first()
    if subscriber_list is None:
        messages.error(request, "Choose a list.")
        return redirect(back)
    try:
        subscriber_add(subscriber_list=subscriber_list, phone=contact.phone,
                       source=Source.STAFF, evidence=request.POST.get("evidence", "")[:2000],
                       actor=request.user)
    except DomainError as exc:
        messages.error(request, exc.detail)
    else:
        messages.success(request, f"{contact.phone} is on the list {subscriber_list.name}.")
    return redirect(back)


# --- The public join form -------------------------------------------------------------------

class JoinForm(forms.Form):
    phone = forms.CharField(label="Mobile number", max_length=32,
                            widget=forms.TextInput(attrs={"type": "tel",
                                                          "autocomplete": "tel",
                                                          "inputmode": "tel"}),
                            help_text="With your country code, e.g. +1 415 555 0123.")
    consent = forms.BooleanField(required=False)

    def clean_phone(self) -> str:
        try:
            return phone_normalize(self.cleaned_data["phone"], field="phone")
        except DomainError as exc:
            raise forms.ValidationError(exc.detail, code=exc.code) from exc

    def clean_consent(self) -> bool:
        if not self.cleaned_data.get("consent"):
            raise forms.ValidationError("Tick the box to agree to the texts, or we cannot "
                                        "sign you up.")
        return True


def _client_ip(request: HttpRequest) -> str:
    return request.META.get("REMOTE_ADDR", "")


def _allowed(key: str, per_hour: int) -> bool:
    allowed, _ = tokens_reserve(key=key, rate=per_hour / 3600, cost=1, max_wait=0,
                                burst=per_hour)
    return allowed


@require_http_methods(["GET", "HEAD", "POST"])
def join(request: HttpRequest, list_slug: str) -> HttpResponse:
    """The sign-up page: a number and an unticked consent box whose words are stored with
    the sign-up. Nothing is stored unless the box is ticked. Sign-ups are limited per
    address and per number (``JOIN_FORM_PER_IP_PER_HOUR``,
    ``JOIN_FORM_PER_PHONE_PER_HOUR``)."""
    subscriber_list = get_object_or_404(SubscriberList, slug=list_slug)
    business = business_name()
    words = call_to_action(business=business, list_name=subscriber_list.name)
    form = JoinForm(request.POST or None)
    status = 200
    if request.method == "POST":
        schema = request.tenant.schema_name
        ip = _client_ip(request)
        if not _allowed(f"join:{schema}:ip:{ip}", settings.JOIN_FORM_PER_IP_PER_HOUR):
            form.add_error(None, "Too many sign-ups from here; try again in an hour.")
            status = 429
        elif form.is_valid():
            phone = form.cleaned_data["phone"]
            if not _allowed(f"join:{schema}:phone:{phone}",
                            settings.JOIN_FORM_PER_PHONE_PER_HOUR):
                form.add_error(None, "Too many sign-ups for this number; try again in an "
                                     "hour.")
                status = 429
            else:
                try:
                    subscriber_add(subscriber_list=subscriber_list, phone=phone,
                                   source=Source.WEB_FORM, evidence=words,
                                   actor_label=f"web form from {ip}"[:100])
                except DomainError as exc:
                    if exc.code != error_codes.RECIPIENT_OPTED_OUT:
                        form.add_error(None, "We could not sign you up just now; please try "
                                             "again later.")
                # Whatever the number's state (opted out, already a member), the same
                # answer: the form must not tell strangers who is subscribed.
                if not form.errors:
                    return redirect("join_done", list_slug=subscriber_list.slug)
        if form.errors and status == 200:
            status = 400
    return render(request, "campaigns/join.html", {
        "list": subscriber_list, "business": business, "form": form, "words": words,
    }, status=status)


@require_http_methods(["GET", "HEAD"])
def join_done(request: HttpRequest, list_slug: str) -> HttpResponse:
    subscriber_list = get_object_or_404(SubscriberList, slug=list_slug)
    return render(request, "campaigns/join_done.html", {
        "list": subscriber_list, "business": business_name(),
    })

