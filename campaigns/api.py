"""Subscription lists API (scope ``campaigns``): ``/lists``, ``/lists/{id}``, their
members (``/lists/{id}/subscribers``) and CSV imports (``/lists/{id}/imports``)."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    extend_schema_serializer,
)
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from campaigns import error_codes
from campaigns.error_codes import ListError
from campaigns.imports import MAX_IMPORT_BYTES, list_import_create
from campaigns.lists import (
    list_create,
    list_delete,
    list_update,
    subscriber_add,
    subscriber_remove,
)
from campaigns.models import ListConsentEvent, ListImport, SubscriberList, Subscription
from campaigns.selectors import (
    list_counts,
    list_list,
    member_history,
    subscription_get,
    subscription_list,
)
from core.api_docs import CREATED_AT, DATE, ID, UPDATED_AT, refusals
from core.api_errors import domain_error_response
from core.drf_fields import FilterSerializer
from core.errors import DomainError
from core.phones import inbound_address, phone_normalize

SCOPES = {method: "campaigns" for method in ("GET", "POST", "PATCH", "DELETE")}
CAMPAIGNS = "Scope `campaigns`."
LIST_CODES = ("invalid_name", "invalid_keyword", "keyword_reserved", "keyword_taken",
              "confirmation_needs_yes", "unknown_sender", "sender_not_approved")
IMPORT_HELP = {
    "id": {"help_text": ID},
    "file_name": {"help_text": "The uploaded file's name."},
    "consent_source": {"help_text": "Where these people agreed to your texts, as given."},
    "evidence": {"help_text": "What proves it, as given."},
    "status": {"help_text": "`pending`, `running`, then `done` or `failed`."},
    "total_rows": {"help_text": "Rows in the file, the header left out."},
    "processed_rows": {"help_text": "Rows read so far."},
    "added": {"help_text": "Rows that subscribed someone."},
    "already": {"help_text": "Rows whose number was already subscribed."},
    "error_count": {"help_text": "Rows refused."},
    "errors": {"help_text": "The first refused rows, as `[{line, value, code, detail}]` "
                            "(`invalid_phone_number`, `recipient_opted_out`, `duplicate`, "
                            "`unsubscribed`)."},
    "created_at": {"help_text": CREATED_AT},
    "finished_at": {"help_text": "When it ended; null until then."},
}
# Refusals that are not about the request's shape.
STATUS_FOR = {error_codes.RECIPIENT_OPTED_OUT: status.HTTP_409_CONFLICT,
              error_codes.UNSUBSCRIBED_BEFORE: status.HTTP_409_CONFLICT,
              error_codes.NOT_A_MEMBER: status.HTTP_404_NOT_FOUND}


def _refused(exc: DomainError) -> Response:
    return domain_error_response(exc, STATUS_FOR.get(exc.code, status.HTTP_400_BAD_REQUEST))


def _actor(request: Request) -> dict:
    """Who acted, for the consent log."""
    api_key = getattr(request.user, "api_key", None)
    if api_key is not None:
        return {"actor_label": f"api key {api_key.prefix}"}
    return {"actor": request.user}


def _list(pk: int) -> SubscriberList:
    # The current schema's lists only: another tenant's id is simply not found.
    return get_object_or_404(SubscriberList, pk=pk)


class CountsSerializer(serializers.Serializer):
    pending = serializers.IntegerField(help_text="Asked to reply YES, within 72 hours.")
    subscribed = serializers.IntegerField(help_text="Members who receive the list's texts.")
    unsubscribed = serializers.IntegerField(help_text="Former members, kept with their "
                                                      "consent log.")


class ListSerializer(serializers.ModelSerializer):
    keyword = serializers.CharField(
        read_only=True, allow_null=True,
        help_text="The join keyword, normalised (upper case); null: none.")
    sender = serializers.CharField(
        source="sender_address", read_only=True, allow_null=True,
        help_text="Texts confirmations and welcomes to members who did not text in; null: "
                  "the first approved sender.")
    join_url = serializers.SerializerMethodField(help_text="The public sign-up form.")
    subscribers = serializers.SerializerMethodField(help_text="Members by status.")

    class Meta:
        model = SubscriberList
        fields = ["id", "name", "keyword", "double_opt_in", "confirmation_text",
                  "welcome_text", "sender", "join_url", "subscribers", "created_at",
                  "updated_at"]
        read_only_fields = fields
        extra_kwargs = {
            "id": {"help_text": ID},
            "name": {"help_text": "The list's name, as texts and the sign-up form show it."},
            "double_opt_in": {"help_text": "People who ask by text, web form or API must "
                                           "reply YES before they join."},
            "confirmation_text": {"help_text": "The text asking for YES."},
            "welcome_text": {"help_text": "Sent once someone joins; empty: none."},
            "created_at": {"help_text": CREATED_AT},
            "updated_at": {"help_text": UPDATED_AT},
        }

    def to_representation(self, instance: SubscriberList) -> dict:
        data = super().to_representation(instance)
        data["keyword"] = data["keyword"] or None
        data["sender"] = data["sender"] or None
        return data

    def get_join_url(self, instance: SubscriberList) -> str:
        request = self.context.get("request")
        path = f"/join/{instance.slug}"
        return request.build_absolute_uri(path) if request else path

    @extend_schema_field(CountsSerializer)
    def get_subscribers(self, instance: SubscriberList) -> dict[str, int]:
        return list_counts(instance)


class ListWriteSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100, help_text="The list's name, unique; texts "
                                                           "and the sign-up form show it.")
    keyword = serializers.CharField(
        max_length=60, required=False, allow_blank=True, allow_null=True,
        help_text="What a customer texts to join (any approved sender); matched like STOP, "
                  "ignoring case and trailing punctuation. Not an opt-out, opt-in or help "
                  "keyword, nor YES, Y or OK, nor another list's.")
    double_opt_in = serializers.BooleanField(
        required=False, default=True,
        help_text="Members who ask by text, web form or API must reply YES before joining.")
    confirmation_text = serializers.CharField(
        required=False, allow_blank=True, max_length=1600,
        help_text="Asks for YES; empty or absent: the default, which names the business, "
                  "the frequency, 'Msg & data rates may apply', HELP and STOP.")
    welcome_text = serializers.CharField(
        required=False, allow_blank=True, max_length=1600,
        help_text="Sent once a member joins; absent: the default; \"\": no welcome.")
    sender = serializers.CharField(
        required=False, allow_blank=True, allow_null=True, max_length=20,
        help_text="An approved sender's address; blank: the first approved sender.")


SUBSCRIBER_HELP = {
    "phone": {"help_text": "The member's number (E.164)."},
    "status": {"help_text": "`pending` (asked to reply YES), `subscribed` or "
                            "`unsubscribed`."},
    "source": {"help_text": "How the membership began: `api`, `web_form`, `keyword`, "
                            "`import` or `staff`."},
    "confirmation_sent_at": {"help_text": "When the last confirmation asking for YES went "
                                          "out; null if none did."},
    "created_at": {"help_text": "When they first joined or asked to (ISO 8601, UTC)."},
    "changed_at": {"help_text": "When their status last changed (ISO 8601, UTC)."},
}


class SubscriberSerializer(serializers.ModelSerializer):
    list = serializers.IntegerField(source="list_id", read_only=True,
                                    help_text="The list (its id).")
    name = serializers.CharField(source="contact.name", read_only=True,
                                 help_text="The contact's name; may be empty.")

    class Meta:
        model = Subscription
        fields = ["phone", "status", "list", "name", "source", "confirmation_sent_at",
                  "created_at", "changed_at"]
        read_only_fields = fields
        extra_kwargs = SUBSCRIBER_HELP


class SubscriberCreateSerializer(serializers.Serializer):
    phone = serializers.CharField(max_length=32, help_text="International format.")
    name = serializers.CharField(max_length=200, required=False, allow_blank=True, default="",
                                 help_text="Replaces the contact's name when given.")
    fields = serializers.DictField(child=serializers.JSONField(allow_null=True),
                                   required=False, help_text="Merged into the contact's.")
    tags = serializers.ListField(child=serializers.CharField(trim_whitespace=False),
                                 required=False, help_text="Added to the contact's.")
    source = serializers.ChoiceField(
        choices=Subscription.Source.choices,
        help_text="How they asked: `api`, `web_form` and `keyword` get a confirmation on a "
                  "double-opt-in list; `import` and `staff` vouch for consent given "
                  "elsewhere and subscribe at once, with no SMS.")
    evidence = serializers.CharField(
        max_length=2000, required=False, allow_blank=True, default="",
        help_text="What proves consent (the form's call to action, where the signed form is "
                  "kept); required for `web_form`, `import` and `staff`.")


class ListConsentEventSerializer(serializers.ModelSerializer):
    list = serializers.IntegerField(source="list_id", read_only=True, allow_null=True,
                                    help_text="The list (its id); null once deleted.")
    message = serializers.IntegerField(source="message_id", read_only=True, allow_null=True,
                                       help_text="The customer's text that carried it.")
    confirmation_message = serializers.IntegerField(
        source="confirmation_message_id", read_only=True, allow_null=True,
        help_text="The confirmation this step sent or answered.")
    actor = serializers.SerializerMethodField(help_text=(
        "Who acted: a teammate's email, `api key <prefix>`, `customer`, or `web form from "
        "<ip>`."))

    class Meta:
        model = ListConsentEvent
        fields = ["id", "list", "list_name", "phone", "action", "source", "evidence",
                  "message", "confirmation_message", "actor", "created_at"]
        read_only_fields = fields
        extra_kwargs = {
            "id": {"help_text": ID},
            "list_name": {"help_text": "The list's name then: the log outlives the list."},
            "phone": {"help_text": "The number (E.164)."},
            "action": {"help_text": "`pending` (a confirmation was sent), `subscribed`, "
                                    "`unsubscribed`, or `expired` (never confirmed)."},
            "source": {"help_text": "How: `api`, `web_form`, `keyword`, `import` or "
                                    "`staff`."},
            "evidence": {"help_text": "What proves it: the form's call to action, the "
                                      "import's consent source, a teammate's note, "
                                      "\"Replied YES\"."},
            "created_at": {"help_text": "When (ISO 8601, UTC)."},
        }

    def get_actor(self, event: ListConsentEvent) -> str:
        return event.actor.email if event.actor else event.actor_label


@extend_schema_serializer(examples=[OpenApiExample("A member", response_only=True, value={
    "phone": "+14155550199", "status": "subscribed", "list": 3, "name": "Ann",
    "source": "keyword", "confirmation_sent_at": DATE, "created_at": DATE,
    "changed_at": "2026-11-23T14:02:10Z", "history": [
        {"id": 77, "list": 3, "list_name": "VIP club", "phone": "+14155550199",
         "action": "subscribed", "source": "keyword", "evidence": "Replied YES",
         "message": 1051, "confirmation_message": 1050, "actor": "customer",
         "created_at": "2026-11-23T14:02:10Z"},
        {"id": 76, "list": 3, "list_name": "VIP club", "phone": "+14155550199",
         "action": "pending", "source": "keyword", "evidence": "Texted VIP",
         "message": 1049, "confirmation_message": 1050, "actor": "customer",
         "created_at": DATE}]})])
class SubscriberDetailSerializer(SubscriberSerializer):
    history = serializers.SerializerMethodField(help_text=(
        "The consent log of their membership, newest first."))

    class Meta(SubscriberSerializer.Meta):
        fields = [*SubscriberSerializer.Meta.fields, "history"]
        read_only_fields = fields

    @extend_schema_field(ListConsentEventSerializer(many=True))
    def get_history(self, subscription: Subscription) -> list[dict]:
        return ListConsentEventSerializer(member_history(
            phone=subscription.phone, subscriber_list=subscription.list), many=True).data


class SubscriberFilterSerializer(FilterSerializer):
    status = serializers.ChoiceField(choices=Subscription.Status.choices, required=False,
                                     help_text="Only members in this status.")
    phone = serializers.CharField(max_length=32, required=False,
                                  help_text="The exact number, in international format.")
    q = serializers.CharField(max_length=100, required=False,
                              help_text="Part of the number or of the name.")


LIST_EXAMPLE = {
    "id": 3, "name": "VIP club", "keyword": "VIP", "double_opt_in": True,
    "confirmation_text": "Acme: reply YES to join VIP club and get recurring texts. Msg "
                         "frequency varies. Msg & data rates may apply. Reply HELP for help, "
                         "STOP to cancel.",
    "welcome_text": "Acme: you're subscribed to VIP club. Msg frequency varies. Msg & data "
                    "rates may apply. Reply HELP for help, STOP to unsubscribe.",
    "sender": None, "join_url": "https://acme.example.com/join/vip-club",
    "subscribers": {"pending": 2, "subscribed": 140, "unsubscribed": 9},
    "created_at": "2026-11-23T14:00:00Z", "updated_at": "2026-11-23T14:00:00Z",
}
SUBSCRIBER_EXAMPLE = {
    "phone": "+14155550199", "status": "pending", "list": 3, "name": "Ann",
    "source": "api", "confirmation_sent_at": "2026-11-23T14:00:00Z",
    "created_at": "2026-11-23T14:00:00Z", "changed_at": "2026-11-23T14:00:00Z",
}
PHONE = OpenApiParameter("phone", str, OpenApiParameter.PATH,
                         description="The member's number, in international format.")
OPTED_OUT_EXAMPLE = OpenApiExample(
    "Opted out", response_only=True, status_codes=["409"], value={
        "code": "recipient_opted_out",
        "detail": "+14155550199 has opted out of your messages; only they can opt back in, "
                  "by texting START.",
        "fields": {"phone": [{"code": "recipient_opted_out", "detail": "..."}]}})


class ListListCreate(GenericAPIView):
    """Subscription lists, newest first, with their members counted by status."""

    serializer_class = ListSerializer
    required_scopes = SCOPES

    def get_queryset(self):
        return list_list()

    @extend_schema(summary="List subscription lists", description=(
        f"Your lists, newest first, with their members counted by status. {CAMPAIGNS}"),
        responses=ListSerializer(many=True), examples=[
        OpenApiExample("Lists", response_only=True, value=LIST_EXAMPLE)])
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(
            ListSerializer(page, many=True, context={"request": request}).data)

    @extend_schema(summary="Create a subscription list", description=(
        f"A list people join by texting its keyword, on its public sign-up form, through "
        f"the API or an import. Double opt-in is on by default: they must reply YES. The "
        f"texts default to ones that name your business, the frequency, 'Msg & data rates "
        f"may apply', HELP and STOP. {CAMPAIGNS}"),
        request=ListWriteSerializer,
        responses={201: ListSerializer, **refusals({400: LIST_CODES})}, examples=[
        OpenApiExample("A list with a keyword", request_only=True,
                       value={"name": "VIP club", "keyword": "VIP"}),
        OpenApiExample("No welcome, no double opt-in", request_only=True,
                       value={"name": "Store receipts", "double_opt_in": False,
                              "welcome_text": ""}),
        OpenApiExample("Created", response_only=True, status_codes=["201"],
                       value={**LIST_EXAMPLE, "subscribers": {
                           "pending": 0, "subscribed": 0, "unsubscribed": 0}}),
        OpenApiExample("Keyword taken", response_only=True, status_codes=["400"], value={
            "code": "keyword_reserved", "detail": "STOP is an opt-out keyword: choose another "
                                                  "word.",
            "fields": {"keyword": [{"code": "keyword_reserved", "detail": "..."}]}}),
    ])
    def post(self, request: Request) -> Response:
        data = ListWriteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        values["keyword"] = values.get("keyword") or ""
        values["sender"] = values.get("sender") or ""
        created = list_create(**values)
        return Response(ListSerializer(list_list().get(pk=created.pk),
                                       context={"request": request}).data,
                        status=status.HTTP_201_CREATED)


class ListDetail(GenericAPIView):
    """A list. Deleting it deletes its memberships; their consent log stays."""

    serializer_class = ListSerializer
    required_scopes = SCOPES

    def get_queryset(self):
        return list_list()

    @extend_schema(summary="Get a subscription list", description=(
        f"One list with its members counted by status. {CAMPAIGNS}"),
        examples=[OpenApiExample("A list", response_only=True, value=LIST_EXAMPLE)])
    def get(self, request: Request, pk: int) -> Response:
        return Response(ListSerializer(self.get_object(), context={"request": request}).data)

    @extend_schema(summary="Update a subscription list", description=(
        f"Changes what it names and keeps the rest; `keyword: null` drops the keyword. "
        f"Texts still at their default follow a rename. {CAMPAIGNS}"),
        request=ListWriteSerializer(partial=True),
        responses={200: ListSerializer, **refusals({400: LIST_CODES})}, examples=[
        OpenApiExample("Turn the welcome off", request_only=True, value={"welcome_text": ""}),
        OpenApiExample("Drop the keyword", request_only=True, value={"keyword": None}),
        OpenApiExample("Updated", response_only=True, value={**LIST_EXAMPLE,
                                                             "welcome_text": ""}),
    ])
    def patch(self, request: Request, pk: int) -> Response:
        subscriber_list = self.get_object()
        data = ListWriteSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        for name in ("keyword", "sender"):
            if name in values:
                values[name] = values[name] or ""
        list_update(subscriber_list=subscriber_list, **values)
        return Response(ListSerializer(list_list().get(pk=pk),
                                       context={"request": request}).data)

    @extend_schema(summary="Delete a subscription list", description=(
        f"Deletes the list and its memberships; their consent log stays, naming the list. "
        f"{CAMPAIGNS}"))
    def delete(self, request: Request, pk: int) -> Response:
        list_delete(subscriber_list=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


class SubscriberListCreate(GenericAPIView):
    """A list's members, newest first; adding one is how the API signs someone up."""

    serializer_class = SubscriberSerializer
    required_scopes = SCOPES

    @extend_schema(summary="List a list's members", description=(
        f"Its members, newest first, filtered by status, number or a search of the number "
        f"and the name. {CAMPAIGNS}"), parameters=[SubscriberFilterSerializer],
                   responses=SubscriberSerializer(many=True), examples=[
        OpenApiExample("Members", response_only=True, value=SUBSCRIBER_EXAMPLE)])
    def get(self, request: Request, pk: int) -> Response:
        subscriber_list = _list(pk)
        filters = SubscriberFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        criteria = filters.validated_data
        members = subscription_list(
            subscriber_list=subscriber_list, status=criteria.get("status"),
            phone=inbound_address(criteria["phone"]) if criteria.get("phone") else None,
            search=criteria.get("q"))
        page = self.paginate_queryset(members)
        return self.get_paginated_response(SubscriberSerializer(page, many=True).data)

    @extend_schema(summary="Add a member", description=(
        f"Signs someone up, with how they agreed (`source`) and its proof (`evidence`). On "
        f"a double-opt-in list, `api`, `web_form` and `keyword` make them `pending` and text "
        f"the confirmation; `import` and `staff` vouch for consent given elsewhere and "
        f"subscribe at once, with no SMS. 201, or 200 when nothing changed. A number that "
        f"opted out is refused (`recipient_opted_out`): only the customer's START undoes a "
        f"STOP; one that left this list comes back on their own word, not on `import` or "
        f"`staff` (`unsubscribed`). A refusal stores nothing. {CAMPAIGNS}"),
        request=SubscriberCreateSerializer, responses={
        201: SubscriberSerializer,
        200: OpenApiResponse(SubscriberSerializer,
                             description="Already on the list: nothing changed (a pending "
                                         "member is texted again at most once an hour)."),
        **refusals({400: ("invalid_phone_number", "evidence_required", "no_sender",
                          "invalid_fields", "invalid_tags"),
                    409: ("recipient_opted_out", "unsubscribed", "idempotency_key_in_use")}),
    }, examples=[
        OpenApiExample("Signed up through your app", request_only=True,
                       value={"phone": "+14155550199", "name": "Ann", "source": "api"}),
        OpenApiExample("Vouched for by a teammate", request_only=True, value={
            "phone": "+14155550199", "source": "staff",
            "evidence": "Signed the sign-up sheet at the Main St store, 2026-11-20"}),
        OpenApiExample("Pending: the confirmation is on its way", response_only=True,
                       status_codes=["201"], value=SUBSCRIBER_EXAMPLE),
        OpenApiExample("Already subscribed: nothing changed", response_only=True,
                       status_codes=["200"], value={**SUBSCRIBER_EXAMPLE,
                                                    "status": "subscribed"}),
        OPTED_OUT_EXAMPLE,
    ])
    def post(self, request: Request, pk: int) -> Response:
        subscriber_list = _list(pk)
        data = SubscriberCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            membership = subscriber_add(subscriber_list=subscriber_list, **data.validated_data,
                                        **_actor(request))
        except DomainError as exc:
            return _refused(exc)
        return Response(SubscriberSerializer(membership.subscription).data,
                        status=status.HTTP_201_CREATED if membership.changed
                        else status.HTTP_200_OK)


class SubscriberDetail(GenericAPIView):
    """One member, with the consent log of their membership, newest first."""

    serializer_class = SubscriberDetailSerializer
    required_scopes = SCOPES

    def _member(self, pk: int, phone: str) -> Subscription:
        subscriber_list = _list(pk)
        phone = phone_normalize(phone, field="phone")
        subscription = subscription_get(subscriber_list=subscriber_list, phone=phone)
        if subscription is None:
            raise ListError(error_codes.NOT_A_MEMBER,
                            f"{phone} is not on the list {subscriber_list.name}.", "phone")
        return subscription

    @extend_schema(summary="Get a member", description=(
        f"One member of the list with the consent log of their membership, newest first. "
        f"404 `not_a_member` when the number is not on the list. {CAMPAIGNS}"),
        parameters=[PHONE],
        responses={200: SubscriberDetailSerializer, **refusals({
            400: ("invalid_phone_number",), 404: ("not_found", "not_a_member")})})
    def get(self, request: Request, pk: int, phone: str) -> Response:
        try:
            subscription = self._member(pk, phone)
        except DomainError as exc:
            return _refused(exc)
        return Response(SubscriberDetailSerializer(subscription).data)

    @extend_schema(summary="Unsubscribe a member", description=(
        f"Unsubscribes the number from this list (204) and logs why; it stays in the list's "
        f"log and cannot be added back except by the customer's own text. {CAMPAIGNS}"),
        parameters=[PHONE, OpenApiParameter("reason", description="Why, for the consent "
                                                                  "log.")],
        responses={204: None, **refusals({400: ("invalid_phone_number",),
                                          404: ("not_found", "not_a_member")})})
    def delete(self, request: Request, pk: int, phone: str) -> Response:
        subscriber_list = _list(pk)
        try:
            subscriber_remove(subscriber_list=subscriber_list, phone=phone,
                              source=Subscription.Source.API if hasattr(
                                  request.user, "api_key") else Subscription.Source.STAFF,
                              evidence=request.query_params.get("reason", "")[:500],
                              **_actor(request))
        except DomainError as exc:
            return _refused(exc)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ListImportSerializer(serializers.ModelSerializer):
    list = serializers.IntegerField(source="list_id", read_only=True,
                                    help_text="The list (its id).")
    percent = serializers.IntegerField(read_only=True, help_text="Progress, 0 to 100.")

    class Meta:
        model = ListImport
        fields = ["id", "list", "file_name", "consent_source", "evidence", "status",
                  "total_rows", "processed_rows", "percent", "added", "already",
                  "error_count", "errors", "created_at", "finished_at"]
        read_only_fields = fields
        extra_kwargs = IMPORT_HELP


class ListImportUpload(serializers.Serializer):
    file = serializers.FileField(help_text=(
        f"CSV, UTF-8, {MAX_IMPORT_BYTES // (1024 * 1024)} MB at most; a first row naming "
        "the columns: `phone` (international format), optionally `name`, `tags` (separated "
        "by `;` or `,`) and any of your own fields."))
    consent_source = serializers.CharField(
        max_length=200, help_text="Where these people agreed to your texts.")
    evidence = serializers.CharField(
        max_length=2000, help_text="What proves it and where that proof is kept.")


class ListImportCreate(GenericAPIView):
    """Queue a CSV of people who agreed elsewhere: they are subscribed at once and texted
    nothing. Poll the import for progress and per-row errors (`invalid_phone_number`,
    `recipient_opted_out`, `duplicate`, `unsubscribed`); valid rows are kept whatever
    the bad ones."""

    serializer_class = ListImportUpload
    parser_classes = [MultiPartParser]
    required_scopes = {"POST": "campaigns"}

    @extend_schema(summary="Import members from CSV", description=(
        f"A CSV of people who agreed elsewhere (multipart `file`, 20 MB at most, with "
        f"`consent_source` and `evidence`): they are subscribed at once and texted nothing. "
        f"It is processed in the background (202); poll the import for progress and per-row "
        f"errors. Valid rows are kept whatever the bad ones. {CAMPAIGNS}"),
        responses={202: ListImportSerializer, **refusals({400: (
            "file_too_large", "invalid_file", "missing_phone_column", "evidence_required")})},
        examples=[
        OpenApiExample("Queued", response_only=True, status_codes=["202"], value={
            "id": 12, "list": 3, "file_name": "signups.csv",
            "consent_source": "Sign-up sheet, Main St store",
            "evidence": "Sheets scanned to the shared drive, folder Consent/2026",
            "status": "pending", "total_rows": 1500, "processed_rows": 0, "percent": 0,
            "added": 0, "already": 0, "error_count": 0, "errors": [],
            "created_at": "2026-11-23T14:00:00Z", "finished_at": None}),
        OpenApiExample("No phone column", response_only=True, status_codes=["400"], value={
            "code": "missing_phone_column",
            "detail": "The first row must name the columns, one of them 'phone' (then "
                      "optionally 'name', 'tags' and your own fields).",
            "fields": {"file": [{"code": "missing_phone_column", "detail": "..."}]}}),
    ])
    def post(self, request: Request, pk: int) -> Response:
        subscriber_list = _list(pk)  # before the body: an unknown list is 404, whatever sent
        data = ListImportUpload(data=request.data)
        data.is_valid(raise_exception=True)
        upload = data.validated_data["file"]
        actor = _actor(request)
        job = list_import_create(
            subscriber_list=subscriber_list, file_name=upload.name or "",
            content=upload.read(), consent_source=data.validated_data["consent_source"],
            evidence=data.validated_data["evidence"], actor=actor.get("actor"),
            actor_label=actor.get("actor_label", ""))
        return Response(ListImportSerializer(job).data, status=status.HTTP_202_ACCEPTED)


class ListImportDetail(GenericAPIView):
    serializer_class = ListImportSerializer
    required_scopes = {"GET": "campaigns"}

    @extend_schema(summary="Get a member import", description=(
        f"An import's progress, counts and first refused rows. {CAMPAIGNS}"),
        parameters=[OpenApiParameter("import_id", int, OpenApiParameter.PATH,
                                     description="The import's id.")],
        examples=[OpenApiExample("Done", response_only=True, value={
            "id": 12, "list": 3, "file_name": "signups.csv",
            "consent_source": "Sign-up sheet, Main St store",
            "evidence": "Sheets scanned to the shared drive, folder Consent/2026",
            "status": "done", "total_rows": 1500, "processed_rows": 1500, "percent": 100,
            "added": 1480, "already": 12, "error_count": 8, "errors": [
                {"line": 41, "value": "555 0199", "code": "invalid_phone_number",
                 "detail": "Use the international format: +1..."}],
            "created_at": DATE, "finished_at": "2026-11-23T14:00:09Z"})])
    def get(self, request: Request, pk: int, import_id: int) -> Response:
        job = get_object_or_404(ListImport.objects.defer("content"), pk=import_id,
                                list=_list(pk))
        return Response(ListImportSerializer(job).data)

