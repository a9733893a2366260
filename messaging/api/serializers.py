from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.fields import SkipField

from core.drf_fields import FilterSerializer
from messaging.models import (
    BusinessHours,
    CannedResponse,
    ForwardAttempt,
    ForwardingEndpoint,
    KeywordRule,
    Message,
    Sender,
    Survey,
    SurveyQuestion,
    SurveySession,
)


@extend_schema_field({"type": "string", "example": "09:00",
                      "pattern": r"^([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d{1,6})?)?$"})
class WallClockTimeField(serializers.TimeField):
    """A time of day in the tenant's timezone, ``HH:MM[:SS]``. OpenAPI's ``format: time``
    would demand a UTC offset, which a wall-clock time in a named timezone does not have."""


class SenderSerializer(serializers.ModelSerializer):
    class Meta:
        model = Sender
        fields = ["id", "address", "kind", "connection", "status", "review_reason",
                  "rate_limit", "created_at"]
        read_only_fields = fields


class SenderCreateSerializer(serializers.Serializer):
    address = serializers.CharField(max_length=20)
    kind = serializers.ChoiceField(choices=Sender.Kind.choices)
    connection = serializers.CharField(max_length=50, default="simulator")


class MessageSerializer(serializers.ModelSerializer):
    # "from" is a Python keyword: the field is declared under another name and renamed.
    from_ = serializers.CharField(source="from_address")
    to = serializers.CharField(source="to_address")
    campaign = serializers.IntegerField(
        source="campaign_id", allow_null=True,
        help_text="The campaign that sent it, or whose message this reply answered within "
                  "72 hours; null otherwise.")

    class Meta:
        model = Message
        fields = ["id", "direction", "from_", "to", "body", "status", "encoding", "segments",
                  "conversation", "campaign", "error_code", "error_message", "created_at",
                  "updated_at"]
        read_only_fields = fields

    def get_fields(self):
        fields = super().get_fields()
        fields["from"] = fields.pop("from_")
        return fields

    def to_representation(self, instance):
        # Written out rather than walked field by field: a bulk answer or a page holds many
        # messages, and DRF's generic walk cost more than queuing them. The same output as
        # the walk (``tests/test_api_messages.py`` compares them); a field added to Meta
        # must be added here.
        timestamp = self.fields["created_at"].to_representation
        return {
            "id": instance.pk, "direction": instance.direction,
            "from": instance.from_address, "to": instance.to_address, "body": instance.body,
            "status": instance.status, "encoding": instance.encoding,
            "segments": instance.segments, "conversation": instance.conversation_id,
            "campaign": instance.campaign_id, "error_code": instance.error_code,
            "error_message": instance.error_message,
            "created_at": timestamp(instance.created_at),
            "updated_at": timestamp(instance.updated_at),
        }


class MessageCreateSerializer(serializers.Serializer):
    to = serializers.CharField(max_length=32)
    body = serializers.CharField(allow_blank=True, trim_whitespace=False, max_length=5000)

    def get_fields(self):
        fields = super().get_fields()
        fields["from"] = serializers.CharField(max_length=20)
        return fields


class BulkCreateSerializer(serializers.Serializer):
    messages = MessageCreateSerializer(many=True, allow_empty=False, max_length=1000)


class MessageFilterSerializer(FilterSerializer):
    direction = serializers.ChoiceField(choices=Message.Direction.choices, required=False)
    status = serializers.ChoiceField(choices=Message.Status.choices, required=False)
    contact = serializers.CharField(required=False, max_length=32,
                                    help_text="The customer's phone number.")
    conversation = serializers.IntegerField(required=False, min_value=1)
    campaign = serializers.IntegerField(
        required=False, min_value=1, max_value=2**63 - 1,
        help_text="A campaign's id: the messages it sent and the replies attributed to it.")
    since = serializers.DateTimeField(required=False, help_text="Created at or after (ISO 8601).")
    until = serializers.DateTimeField(required=False, help_text="Created before (ISO 8601).")
    ordering = serializers.ChoiceField(
        choices=["-id", "id"], default="-id",
        help_text="-id: newest first; id: oldest first, to follow new messages as they come.")


class KeywordRuleSerializer(serializers.ModelSerializer):
    sender = serializers.CharField(source="sender.address", allow_null=True, allow_blank=True,
                                   required=False, max_length=20,
                                   help_text="Only messages to this sender; null for all.")
    assign_to = serializers.EmailField(source="assign_to.email", allow_null=True,
                                       required=False,
                                       help_text="Assign the conversation to this teammate.")
    weekdays = serializers.ListField(child=serializers.IntegerField(min_value=0, max_value=6),
                                     max_length=7, required=False)
    forward_to = serializers.PrimaryKeyRelatedField(
        queryset=ForwardingEndpoint.objects.all(), allow_null=True, required=False,
        help_text="Forward matching messages to this forwarding endpoint (its id).")
    start_survey = serializers.PrimaryKeyRelatedField(
        queryset=Survey.objects.all(), allow_null=True, required=False,
        help_text="The id of a survey the rule starts, after its other actions.")
    active_from = WallClockTimeField(allow_null=True, required=False, help_text=(
        "With active_until: the rule applies only between these times (tenant's timezone)."))
    active_until = WallClockTimeField(allow_null=True, required=False)

    class Meta:
        model = KeywordRule
        fields = ["id", "keyword", "match", "reply", "priority", "active", "sender", "weekdays",
                  "active_from", "active_until", "add_tag", "assign_to", "forward_to",
                  "start_survey",
                  "created_at", "updated_at"]
        read_only_fields = ["id", "created_at", "updated_at"]
        extra_kwargs = {"reply": {"max_length": 1600}}


class CannedResponseSerializer(serializers.ModelSerializer):
    # Shapes only: ``messaging.canned`` normalises and checks both fields, with the codes
    # the page shows (``invalid_shortcode``, ``shortcode_exists``, ``empty_body``,
    # ``body_too_long``, ``invalid_template``), so no length or pattern is declared here.
    shortcode = serializers.CharField(
        allow_blank=True,
        help_text="1 to 30 lowercase letters, digits, - and _, unique; staff type /shortcode "
                  "in the reply box. A leading / is dropped and letters are lowercased.")
    body = serializers.CharField(
        allow_blank=True, trim_whitespace=False,
        help_text='A reply template, filled in for the conversation it is inserted in: '
                  '{{ contact.name }}, {{ contact.fields.plan }}, {{ sender }}, '
                  '{{ contact.name | default: "there" }}. At most 10 segments.')

    class Meta:
        model = CannedResponse
        fields = ["id", "shortcode", "body", "created_at", "updated_at"]
        read_only_fields = ["id", "created_at", "updated_at"]


class BusinessHoursSerializer(serializers.ModelSerializer):
    class Meta:
        model = BusinessHours
        fields = ["enabled", "opening_hours", "away_reply", "updated_at"]
        read_only_fields = ["updated_at"]
        extra_kwargs = {"away_reply": {"max_length": 1600, "required": False},
                        "enabled": {"required": False}, "opening_hours": {"required": False}}


class ForwardingEndpointSerializer(serializers.ModelSerializer):
    class Meta:
        model = ForwardingEndpoint
        fields = ["id", "name", "url", "timeout_seconds", "active", "created_at"]
        read_only_fields = ["id", "created_at"]


class ForwardingEndpointCreatedSerializer(ForwardingEndpointSerializer):
    """Only the answer to a create carries the secret: it is shown once."""

    class Meta(ForwardingEndpointSerializer.Meta):
        fields = [*ForwardingEndpointSerializer.Meta.fields, "secret"]
        read_only_fields = fields


class ForwardAttemptSerializer(serializers.ModelSerializer):
    message = serializers.IntegerField(source="forward.message_id")
    forward_status = serializers.CharField(source="forward.status")

    class Meta:
        model = ForwardAttempt
        fields = ["id", "message", "number", "started_at", "duration_ms", "response_status",
                  "response_excerpt", "error", "forward_status"]
        read_only_fields = fields


class SurveyQuestionSerializer(serializers.ModelSerializer):
    choices = serializers.ListField(child=serializers.CharField(max_length=160), max_length=20,
                                    required=False,
                                    help_text="choice questions: the options, answered by "
                                              "number (1 to n) or by text.")
    branching = serializers.DictField(
        child=serializers.JSONField(), required=False,
        help_text='choice and yes_no questions: answer -> position of the next question, or '
                  '"end", e.g. {"no": 4}. Other answers go on to the next position.')

    class Meta:
        model = SurveyQuestion
        fields = ["position", "kind", "text", "choices", "min_value", "max_value", "branching"]
        read_only_fields = ["position"]
        extra_kwargs = {"text": {"max_length": 1000},
                        "min_value": {"help_text": "number questions: the lowest answer."},
                        "max_value": {"help_text": "number questions: the highest answer."}}


class SurveySerializer(serializers.ModelSerializer):
    questions = SurveyQuestionSerializer(many=True, help_text="In the order asked.")

    class Meta:
        model = Survey
        fields = ["id", "name", "intro", "closing_message", "active", "max_reask",
                  "expire_after_minutes", "questions", "created_at", "updated_at"]
        read_only_fields = ["id", "created_at", "updated_at"]
        extra_kwargs = {"intro": {"max_length": 1600}, "closing_message": {"max_length": 1600}}


class SurveySessionSerializer(serializers.ModelSerializer):
    contact = serializers.CharField(source="contact.phone")
    sender = serializers.CharField(source="conversation.sender.address")
    current_question = serializers.IntegerField(source="current_question.position",
                                                allow_null=True,
                                                help_text="Its position; null once over.")

    class Meta:
        model = SurveySession
        fields = ["id", "survey", "contact", "sender", "status", "current_question",
                  "reask_count", "started_at", "last_activity_at", "finished_at"]
        read_only_fields = fields


class SurveyStartSerializer(serializers.Serializer):
    to = serializers.CharField(max_length=32)

    def get_fields(self):
        fields = super().get_fields()
        fields["from"] = serializers.CharField(max_length=20)
        return fields


class BulkResultSerializer(serializers.Serializer):
    """One item's outcome: the queued message, or the error that refused it."""

    message = MessageSerializer(required=False)
    error = serializers.DictField(required=False, help_text=(
        "`{code, detail, fields?}` as for a single send (`invalid_phone_number`, "
        "`recipient_opted_out`, ...)."))


class BulkResultsSerializer(serializers.Serializer):
    results = BulkResultSerializer(many=True, help_text="One result per item, in order.")


class _NumberStatistic(serializers.FloatField):
    """Present for number questions only (null while nobody answered)."""

    def __init__(self, **kwargs) -> None:
        super().__init__(required=False, allow_null=True, **kwargs)

    def get_attribute(self, instance: dict):
        if self.source not in instance:
            raise SkipField
        return instance[self.source]


class SurveyQuestionResultSerializer(serializers.Serializer):
    position = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=SurveyQuestion.Kind.choices)
    text = serializers.CharField()
    answers = serializers.IntegerField(help_text="How many sessions answered it.")
    counts = serializers.DictField(child=serializers.IntegerField(), required=False, help_text=(
        "Choice and yes/no questions: answers per option, zeros included."))
    min = _NumberStatistic()
    max = _NumberStatistic()
    mean = _NumberStatistic()


class SurveyResultsSerializer(serializers.Serializer):
    survey = serializers.IntegerField()
    sessions = serializers.DictField(child=serializers.IntegerField(), help_text=(
        "`total` and the number of sessions per status."))
    questions = SurveyQuestionResultSerializer(many=True)
