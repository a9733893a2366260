"""Contacts API (scope ``contacts``): the people a tenant texts, with their custom fields,
tags and opt-out state."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_serializer
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from core.api_docs import CREATED_AT, DATE, ID, refusals
from core.drf_fields import FilterSerializer
from core.phones import inbound_address
from messaging.contacts import (
    MAX_FIELDS,
    MAX_TAG_LENGTH,
    MAX_TAGS,
    contact_create,
    contact_delete,
    contact_update,
)
from messaging.models import Contact
from messaging.selectors import contact_list

SCOPES = {method: "contacts" for method in ("GET", "POST", "PUT", "PATCH", "DELETE")}
CONTACT_CODES = ("invalid_phone_number", "invalid_fields", "invalid_tags")
CONTACT_EXAMPLE = {"phone": "+14155550199", "name": "Ann Lee",
                   "fields": {"plan": "gold", "visits": 12, "vip": True},
                   "tags": ["newsletter", "main-st"]}


@extend_schema_serializer(examples=[
    OpenApiExample("A contact", request_only=True, value=CONTACT_EXAMPLE),
    OpenApiExample("Ann", response_only=True, value={
        "id": 12, **CONTACT_EXAMPLE, "opted_out": False, "opted_out_senders": [],
        "created_at": DATE}),
])
class ContactSerializer(serializers.ModelSerializer):
    # Shapes only: ``messaging.contacts`` checks names, sizes and values, with its codes.
    fields = serializers.DictField(
        child=serializers.JSONField(allow_null=True), required=False,
        help_text=f"Custom fields for reply templates ({{{{ contact.fields.plan }}}}): up to "
                  f"{MAX_FIELDS} names of 1 to 64 letters, digits, _ or -, each a string "
                  "(500 characters at most), a number or true/false. Replaced whole on update.")
    tags = serializers.ListField(
        child=serializers.CharField(trim_whitespace=False), required=False,
        help_text=f"Up to {MAX_TAGS} tags of 1 to {MAX_TAG_LENGTH} characters; repeats are "
                  "dropped. Replaced whole on update.")
    opted_out = serializers.BooleanField(
        read_only=True, help_text="Opted out of every sender: nothing is sent to them.")
    opted_out_senders = serializers.ListField(
        child=serializers.CharField(), read_only=True,
        help_text="Senders they opted out of one by one (opt-out scope: sender).")

    class Meta:
        model = Contact
        fields = ["id", "phone", "name", "fields", "tags", "opted_out", "opted_out_senders",
                  "created_at"]
        read_only_fields = ["id", "created_at"]
        extra_kwargs = {
            "id": {"help_text": ID},
            "created_at": {"help_text": CREATED_AT},
            "phone": {"max_length": 32, "validators": [],
                      "help_text": "International format; stored as E.164. Set once."},
            "name": {"required": False, "max_length": 200,
                     "help_text": "Their name, for you and for reply templates; may be "
                                  "empty."},
        }


class ContactFilterSerializer(FilterSerializer):
    phone = serializers.CharField(required=False, max_length=32,
                                  help_text="The exact number, in international format.")
    tag = serializers.CharField(required=False, max_length=50,
                                help_text="Contacts with this tag.")
    q = serializers.CharField(required=False, max_length=100,
                              help_text="Part of the name (any case) or of the number.")


def _reread(contact: Contact) -> Contact:
    """The contact as lists show it, opt-out state included."""
    return contact_list().get(pk=contact.pk)


class ContactListCreate(GenericAPIView):
    serializer_class = ContactSerializer
    required_scopes = SCOPES

    def get_queryset(self):
        filters = ContactFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        criteria = filters.validated_data
        return contact_list(
            phone=inbound_address(criteria["phone"]) if criteria.get("phone") else None,
            tag=criteria.get("tag"), search=criteria.get("q"))

    @extend_schema(summary="List contacts", description=(
        "The people you text, newest first, filtered by number, tag or a search of the name "
        "and the number's digits, each with their opt-out state. Scope `contacts`."),
                   parameters=[ContactFilterSerializer], responses=ContactSerializer(many=True))
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(ContactSerializer(page, many=True).data)

    @extend_schema(summary="Create a contact", description=(
        "One contact per number: a number already saved is `contact_exists`. Contacts are "
        "also made when a customer first texts you or you first text them. Scope "
        "`contacts`."),
                   responses={201: ContactSerializer,
                              **refusals({400: (*CONTACT_CODES, "contact_exists")})})
    def post(self, request: Request) -> Response:
        data = ContactSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        contact = contact_create(**data.validated_data)
        return Response(ContactSerializer(_reread(contact)).data,
                        status=status.HTTP_201_CREATED)


class ContactDetail(GenericAPIView):
    """A contact's number cannot change. Deleting a contact erases its conversations and
    messages; its opt-outs and consent log stay."""

    serializer_class = ContactSerializer
    required_scopes = SCOPES

    def get_queryset(self):
        return contact_list()

    @extend_schema(summary="Get a contact", description=(
        "One contact with their fields, tags and opt-out state. Scope `contacts`."))
    def get(self, request: Request, pk: int) -> Response:
        return Response(ContactSerializer(self.get_object()).data)

    @extend_schema(summary="Replace a contact", description=(
        "Saves name, fields and tags as given, emptying what is left out; the number never "
        "changes (`phone_immutable`). Scope `contacts`."),
        responses={200: ContactSerializer,
                   **refusals({400: (*CONTACT_CODES, "phone_immutable")})})
    def put(self, request: Request, pk: int) -> Response:
        return self._change(request, partial=False)

    @extend_schema(summary="Update a contact", description=(
        "Changes what it names and keeps the rest; `fields` and `tags` are replaced whole. "
        "The number never changes (`phone_immutable`). Scope `contacts`."),
        responses={200: ContactSerializer,
                   **refusals({400: (*CONTACT_CODES, "phone_immutable")})})
    def patch(self, request: Request, pk: int) -> Response:
        return self._change(request, partial=True)

    @extend_schema(summary="Delete a contact", description=(
        "Erases the contact with their conversations and messages; their opt-outs and "
        "consent log stay, so a deleted contact who opted out is still not texted. Scope "
        "`contacts`."))
    def delete(self, request: Request, pk: int) -> Response:
        contact_delete(contact=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    def _change(self, request: Request, *, partial: bool) -> Response:
        contact = self.get_object()
        data = ContactSerializer(contact, data=request.data, partial=partial)
        data.is_valid(raise_exception=True)
        changes = dict(data.validated_data)
        if not partial:
            # A full update: what is left out goes back to empty.
            changes = {"name": "", "fields": {}, "tags": [], **changes}
        contact_update(contact=contact, **changes)
        return Response(ContactSerializer(_reread(contact)).data)
