"""Conversations API: the inbox's threads, their messages, replies, assignment, status and
private notes.

Scopes: reading (lists, messages, notes) needs ``messages:read``; every change (a reply,
assigning, resolving, reopening, marking read, a note) needs ``messages:send``, the scope of
a key that acts in the inbox rather than one that reports on it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from drf_spectacular.utils import (
    OpenApiExample,
    extend_schema,
    extend_schema_serializer,
    extend_schema_view,
)
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.models import User
from core.api_docs import CREATED_AT, DATE, ID, refusals
from core.drf_fields import FilterSerializer
from core.errors import DomainError
from core.phones import inbound_address
from messaging import error_codes
from messaging.api.pagination import ActivityCursor
from messaging.api.serializers import MessageSerializer, SmsBodyField
from messaging.api.views import SEND_REFUSALS, api_origin
from messaging.conversations import (
    NOTE_MAX_LENGTH,
    conversation_assign,
    conversation_mark_read,
    conversation_reopen,
    conversation_resolve,
    note_create,
)
from messaging.models import Contact, Conversation, ConversationNote
from messaging.outbound import message_send
from messaging.selectors import conversation_list, message_list, note_list

READ = "messages:read"
WRITE = "messages:send"


class ConversationContactSerializer(serializers.ModelSerializer):
    class Meta:
        model = Contact
        fields = ["id", "phone", "name"]
        read_only_fields = fields
        extra_kwargs = {"id": {"help_text": "The contact's id."},
                        "phone": {"help_text": "The contact's number (E.164)."},
                        "name": {"help_text": "The contact's name; empty if unknown."}}


@extend_schema_serializer(examples=[OpenApiExample(
    "A conversation", response_only=True, value={
        "id": 7, "contact": {"id": 12, "phone": "+14155550199", "name": "Ann"},
        "sender": "+14155550100", "status": "open", "assignee": "sam@acme.example",
        "unread_count": 2, "opted_out": False, "last_activity_at": DATE,
        "created_at": "2026-11-20T09:12:00Z"})])
class ConversationSerializer(serializers.ModelSerializer):
    contact = ConversationContactSerializer(read_only=True,
                                            help_text="The customer on the other end.")
    sender = serializers.CharField(source="sender.address", read_only=True,
                                   help_text="The tenant's sender the contact writes to.")
    assignee = serializers.EmailField(source="assignee.email", allow_null=True, read_only=True,
                                      help_text="The teammate it is assigned to; null: nobody.")
    opted_out = serializers.BooleanField(
        source="contact_opted_out", read_only=True,
        help_text="The contact opted out of this sender (or of all): replies are refused.")

    class Meta:
        model = Conversation
        fields = ["id", "contact", "sender", "status", "assignee", "unread_count", "opted_out",
                  "last_activity_at", "created_at"]
        read_only_fields = fields
        extra_kwargs = {
            "id": {"help_text": ID},
            "status": {"help_text": "`open`, or `resolved` until the contact writes again."},
            "created_at": {"help_text": CREATED_AT},
            "unread_count": {"help_text": "Inbound messages since it was last marked read."},
            "last_activity_at": {"help_text": "The last message in or out."},
        }


class ConversationFilterSerializer(FilterSerializer):
    status = serializers.ChoiceField(choices=Conversation.Status.choices, required=False,
                                     help_text="Only open or only resolved conversations.")
    assignee = serializers.CharField(
        required=False, max_length=254,
        help_text='A teammate\'s email; "me" (signed-in users only) or "none" (unassigned).')
    contact = serializers.CharField(required=False, max_length=32,
                                    help_text="The contact's phone number.")
    sender = serializers.CharField(required=False, max_length=20,
                                   help_text="The sender's address.")
    ordering = serializers.ChoiceField(
        choices=["-last_activity_at", "-id"], default="-last_activity_at",
        help_text="-last_activity_at: most recent activity first, as it stood when the first "
                  "page was read, so conversations moving up while you page are neither "
                  "repeated nor skipped. -id: newest conversations first.")


@extend_schema_serializer(examples=[OpenApiExample(
    "A reply", request_only=True, value={"body": "Yes, we open at 9 tomorrow."})])
class ReplySerializer(serializers.Serializer):
    body = SmsBodyField()


@extend_schema_serializer(examples=[
    OpenApiExample("Assign to a teammate", request_only=True,
                   value={"assignee": "sam@acme.example"}),
    OpenApiExample("Unassign", request_only=True, value={"assignee": None}),
])
class AssignSerializer(serializers.Serializer):
    assignee = serializers.EmailField(allow_null=True,
                                      help_text="An active teammate's email; null unassigns.")


@extend_schema_serializer(examples=[
    OpenApiExample("A note", request_only=True,
                   value={"body": "Called her back; the parcel is at the depot."}),
    OpenApiExample("Noted", response_only=True, value={
        "id": 19, "body": "Called her back; the parcel is at the depot.",
        "author": "sam@acme.example", "created_at": DATE}),
])
class NoteSerializer(serializers.ModelSerializer):
    author = serializers.SerializerMethodField(
        help_text='The teammate\'s email, or "api key <prefix>".')

    class Meta:
        model = ConversationNote
        fields = ["id", "body", "author", "created_at"]
        read_only_fields = ["id", "author", "created_at"]
        extra_kwargs = {"id": {"help_text": ID}, "created_at": {"help_text": CREATED_AT},
                        "body": {"max_length": NOTE_MAX_LENGTH, "allow_blank": True,
                                 "trim_whitespace": False,
                                 "help_text": "Seen by teammates only; never sent to the "
                                              "contact."}}

    def get_author(self, note: ConversationNote) -> str:
        return note.author.email if note.author else note.author_label


def _actor(request: Request) -> dict[str, Any]:
    """Who makes a change, as the conversation services record it: the signed-in user,
    or the API key by its prefix (the record outlives the key)."""
    api_key = getattr(request.user, "api_key", None)
    if api_key is not None:
        return {"actor": None, "actor_label": f"api key {api_key.prefix}"}
    return {"actor": request.user, "actor_label": ""}


def _teammate(email: str | None) -> User | None:
    if email is None:
        return None
    user = User.objects.filter(email__iexact=email, is_active=True).first()
    if user is None:
        raise DomainError(error_codes.UNKNOWN_USER,
                             f"{email} is not an active member of your team.", "assignee")
    return user


class ConversationList(GenericAPIView):
    serializer_class = ConversationSerializer
    pagination_class = ActivityCursor
    required_scopes = {"GET": READ}

    def get_queryset(self):
        filters = ConversationFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        criteria = filters.validated_data
        self.cursor_ordering = criteria["ordering"]
        assignee = criteria.get("assignee", "").strip().lower()
        if assignee == "me":
            if not isinstance(self.request.user, User):
                raise DomainError(error_codes.UNKNOWN_USER,
                                     '"me" is the signed-in teammate; an API key is nobody: '
                                     "give an email.", "assignee")
            assignee = self.request.user.email
        return conversation_list(
            status=criteria.get("status"), unassigned=assignee == "none",
            assignee_email=assignee if assignee != "none" else None,
            contact=inbound_address(criteria["contact"]) if criteria.get("contact") else None,
            sender=inbound_address(criteria["sender"]) if criteria.get("sender") else None,
        )

    @extend_schema(summary="List conversations", description=(
        "The inbox's threads, most recent activity first, as it stood when the first page "
        "was read: a conversation that moves up while you page keeps its place, so each is "
        "listed once (`ordering=-id`: newest conversations first). Filter by status, "
        "assignee, contact and sender. Scope `messages:read`."),
                   parameters=[ConversationFilterSerializer],
                   responses={200: ConversationSerializer(many=True),
                              **refusals({400: ("unknown_user",)})})
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(ConversationSerializer(page, many=True).data)


class ConversationDetail(GenericAPIView):
    serializer_class = ConversationSerializer
    required_scopes = {"GET": READ}

    def get_queryset(self):
        return conversation_list()

    @extend_schema(summary="Get a conversation", description=(
        "One conversation with its contact, sender, assignee, unread count and whether the "
        "contact opted out of its sender. Scope `messages:read`."))
    def get(self, request: Request, pk: int) -> Response:
        return Response(ConversationSerializer(self.get_object()).data)


class ConversationMessages(GenericAPIView):
    """The conversation's messages, newest first; a reply goes from its sender to its
    contact through the normal send path (opt-outs, sender approval, length)."""

    serializer_class = MessageSerializer
    required_scopes = {"GET": READ, "POST": WRITE}

    def get_queryset(self):
        return conversation_list()

    @extend_schema(summary="List a conversation's messages", description=(
        "Its messages in and out, newest first. Scope `messages:read`."),
                   responses=MessageSerializer(many=True))
    def get(self, request: Request, pk: int) -> Response:
        conversation = self.get_object()
        page = self.paginate_queryset(message_list(conversation=conversation.pk))
        return self.get_paginated_response(MessageSerializer(page, many=True).data)

    @extend_schema(summary="Reply in a conversation", description=(
        "Sends `body` from the conversation's sender to its contact through the normal "
        "send path (opt-outs, the sender's approval, the length) and answers 202 with the "
        "message `queued`. Scope `messages:send`."),
                   request=ReplySerializer,
                   responses={202: MessageSerializer, **refusals({400: SEND_REFUSALS})})
    def post(self, request: Request, pk: int) -> Response:
        conversation = self.get_object()
        data = ReplySerializer(data=request.data)
        data.is_valid(raise_exception=True)
        message = message_send(from_address=conversation.sender.address,
                               to=conversation.contact.phone, body=data.validated_data["body"],
                               **api_origin(request))
        return Response(MessageSerializer(message).data, status=status.HTTP_202_ACCEPTED)


class ConversationAssign(GenericAPIView):
    serializer_class = ConversationSerializer
    required_scopes = {"POST": WRITE}

    def get_queryset(self):
        return conversation_list()

    @extend_schema(summary="Assign a conversation", description=(
        "Gives the conversation to an active teammate, by email, or to nobody (`null`); "
        "the thread shows who did it, and `conversation.assigned` is sent. Scope "
        "`messages:send`."),
                   request=AssignSerializer,
                   responses={200: ConversationSerializer,
                              **refusals({400: ("unknown_user",)})})
    def post(self, request: Request, pk: int) -> Response:
        conversation = self.get_object()
        data = AssignSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        conversation_assign(conversation=conversation,
                            assignee=_teammate(data.validated_data["assignee"]),
                            **_actor(request))
        return Response(ConversationSerializer(conversation).data)


class _ConversationChange(GenericAPIView):
    """A POST without a body that changes the conversation (``change``, a service) and
    answers with it."""

    serializer_class = ConversationSerializer
    required_scopes = {"POST": WRITE}
    change: Callable[..., Conversation]
    # The change is shown in the conversation's thread, with who made it.
    shown_in_thread = True

    def get_queryset(self):
        return conversation_list()

    def post(self, request: Request, pk: int) -> Response:
        actor = _actor(request) if self.shown_in_thread else {}
        conversation = self.change(conversation=self.get_object(), **actor)
        return Response(ConversationSerializer(conversation).data)


def _change_schema(summary: str, description: str):
    return extend_schema(summary=summary, description=f"{description} Scope `messages:send`.",
                         request=None, responses=ConversationSerializer)


@extend_schema_view(post=_change_schema("Resolve a conversation", (
    "Marks it done, shown in the thread with who did it; the contact's next message "
    "reopens it. Answers with the conversation.")))
class ConversationResolve(_ConversationChange):
    change = staticmethod(conversation_resolve)


@extend_schema_view(post=_change_schema("Reopen a conversation", (
    "Puts a resolved conversation back in the open inbox, shown in the thread with who "
    "did it. Answers with the conversation.")))
class ConversationReopen(_ConversationChange):
    change = staticmethod(conversation_reopen)


@extend_schema_view(post=_change_schema("Mark a conversation read", (
    "Sets its unread count to zero. Answers with the conversation.")))
class ConversationRead(_ConversationChange):
    change = staticmethod(conversation_mark_read)
    shown_in_thread = False


class ConversationNotes(GenericAPIView):
    """Private notes for teammates, newest first. Notes are never sent to the contact."""

    serializer_class = NoteSerializer
    required_scopes = {"GET": READ, "POST": WRITE}

    def get_queryset(self):
        return conversation_list()

    @extend_schema(summary="List a conversation's notes", description=(
        "Private notes for teammates, newest first; they are never sent to the contact. "
        "Scope `messages:read`."), responses=NoteSerializer(many=True))
    def get(self, request: Request, pk: int) -> Response:
        page = self.paginate_queryset(note_list(conversation=self.get_object()))
        return self.get_paginated_response(NoteSerializer(page, many=True).data)

    @extend_schema(summary="Add a note", description=(
        "A private note for teammates, shown in the thread and never sent to the contact; "
        "a note is not activity, so the conversation keeps its place in the inbox. Scope "
        "`messages:send`."), request=NoteSerializer, responses={201: NoteSerializer})
    def post(self, request: Request, pk: int) -> Response:
        conversation = self.get_object()
        data = NoteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        actor = _actor(request)
        note = note_create(conversation=conversation, author=actor["actor"],
                           author_label=actor["actor_label"], body=data.validated_data["body"])
        return Response(NoteSerializer(note).data, status=status.HTTP_201_CREATED)
