from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, extend_schema_field, extend_schema_serializer
from rest_framework import serializers
from rest_framework.fields import SkipField

from core.api_docs import CREATED_AT, DATE, ID, UPDATED_AT
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
from messaging.outbound import MAX_SEGMENTS


@extend_schema_field({"type": "string", "example": "09:00",
                      "pattern": r"^([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d{1,6})?)?$"})
class WallClockTimeField(serializers.TimeField):
    """A time of day in the tenant's timezone, ``HH:MM[:SS]``. OpenAPI's ``format: time``
    would demand a UTC offset, which a wall-clock time in a named timezone does not have."""


# Longest body in 10 segments: 153 GSM-7 characters or 67 UCS-2 ones per segment of a
# long message (docs/ARCHITECTURE.md#sms-rules).
BODY_MAX_GSM7 = 153 * MAX_SEGMENTS
BODY_MAX_UCS2 = 67 * MAX_SEGMENTS
BODY_LIMIT = (
    f"At most {MAX_SEGMENTS} segments: {BODY_MAX_GSM7:,} GSM-7 characters, or "
    f"{BODY_MAX_UCS2:,} UCS-2 ones when any character is outside GSM-7 (an emoji, which "
    "counts twice, a letter such as ć, a curly quote); GSM-7's extension characters "
    "(`{ } [ ] ~ \\ | ^ €`) count twice. Longer: `body_too_long`; empty or only spaces: "
    "`empty_body`.")


@extend_schema_field({"type": "string", "maxLength": BODY_MAX_GSM7})
class SmsBodyField(serializers.CharField):
    """A text to send, as written: the 10-segment limit depends on the characters, so the
    service refuses a longer one (``body_too_long``) rather than a fixed length here;
    the schema states the longest any body can be."""

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("help_text", f"The text. {BODY_LIMIT}")
        super().__init__(allow_blank=True, trim_whitespace=False, **kwargs)


SENDER_EXAMPLE = {"id": 4, "address": "+14155550100", "kind": "long_code",
                  "connection": "twilio-main", "status": "approved", "review_reason": "",
                  "rate_limit": None, "created_at": DATE}


@extend_schema_serializer(examples=[OpenApiExample(
    "A sender", response_only=True, value=SENDER_EXAMPLE)])
class SenderSerializer(serializers.ModelSerializer):
    class Meta:
        model = Sender
        fields = ["id", "address", "kind", "connection", "status", "review_reason",
                  "rate_limit", "created_at"]
        read_only_fields = fields
        extra_kwargs = {
            "id": {"help_text": ID},
            "address": {"help_text": "The number (E.164, `+14155550100`), short code or "
                                     "alphanumeric sender ID texts come from."},
            "kind": {"help_text": "What the address is: a long code (an ordinary number), "
                                  "a short code, a toll-free number or an alphanumeric ID "
                                  "(send only)."},
            "connection": {"help_text": "The provider connection that carries its messages "
                                        "(`simulator` for the phone simulator)."},
            "status": {"help_text": "`pending` until the operator reviews it; only "
                                    "`approved` senders send."},
            "review_reason": {"help_text": "The operator's reason for rejecting or "
                                           "suspending it; empty otherwise."},
            "rate_limit": {"help_text": "SMS segments a second it may send (carriers count "
                                        "segments); null: no limit of its own."},
            "created_at": {"help_text": CREATED_AT},
        }


@extend_schema_serializer(examples=[OpenApiExample(
    "Register a number", request_only=True,
    value={"address": "+14155550100", "kind": "long_code", "connection": "twilio-main"})])
class SenderCreateSerializer(serializers.Serializer):
    address = serializers.CharField(max_length=20, help_text=(
        "The number in international format (`+14155550100`), a short code, or an "
        "alphanumeric sender ID of 1 to 11 letters and digits."))
    kind = serializers.ChoiceField(choices=Sender.Kind.choices, help_text=(
        "What the address is; it must fit the address (`invalid_kind`)."))
    connection = serializers.CharField(max_length=50, default="simulator", help_text=(
        "The name of the provider connection the operator gave you (`unknown_connection` "
        "otherwise), or an operator's route as `route:<name>`: each message then leaves "
        "through the route's connection for its destination, with failover; `simulator` "
        "by default."))


MESSAGE_EXAMPLE = {
    "id": 1042, "direction": "outbound", "from": "+14155550100", "to": "+14155550199",
    "body": "Your order #1042 has shipped.", "status": "queued", "encoding": "GSM-7",
    "segments": 1, "conversation": 7, "campaign": None, "error_code": "", "error_message": "",
    "created_at": DATE, "updated_at": DATE}


@extend_schema_serializer(examples=[OpenApiExample(
    "A message", response_only=True, status_codes=["200", "201", "202"],
    value=MESSAGE_EXAMPLE)])
class MessageSerializer(serializers.ModelSerializer):
    # "from" is a Python keyword: the field is declared under another name and renamed.
    from_ = serializers.CharField(source="from_address", help_text=(
        "Who sent it: your sender for outbound messages, the customer's number for "
        "inbound ones."))
    to = serializers.CharField(source="to_address", help_text=(
        "Who it went to: the customer's number for outbound messages, your sender for "
        "inbound ones."))
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
        extra_kwargs = {
            "id": {"help_text": ID},
            "direction": {"help_text": "`outbound`: you sent it; `inbound`: a customer did."},
            "body": {"help_text": "The text, as sent or received."},
            "status": {"help_text": (
                "Outbound: `scheduled`, `queued`, `sending`, `sent` (the provider took it), "
                "`delivered`, or finally `failed`, `undelivered` or `canceled`. Inbound: "
                "`received`, then `processed` once rules and opt-outs have seen it.")},
            "encoding": {"help_text": "`GSM-7`, or `UCS-2` when any character is outside "
                                      "GSM-7."},
            "segments": {"help_text": "The SMS parts it takes (1 to 10); carriers bill each."},
            "conversation": {"help_text": "The conversation it belongs to (its id)."},
            "error_code": {"help_text": "Why it failed (`recipient_opted_out`, a provider's "
                                        "code, ...); empty otherwise."},
            "error_message": {"help_text": "The failure explained, for people; empty "
                                           "otherwise."},
            "created_at": {"help_text": CREATED_AT},
            "updated_at": {"help_text": "When its status last changed (ISO 8601, UTC)."},
        }

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


@extend_schema_serializer(examples=[OpenApiExample(
    "Send a message", request_only=True,
    value={"from": "+14155550100", "to": "+14155550199",
           "body": "Your order #1042 has shipped."})])
class MessageCreateSerializer(serializers.Serializer):
    to = serializers.CharField(max_length=32, help_text=(
        "The customer's number in international format (`+14155550199`); "
        "`invalid_phone_number` otherwise, `recipient_opted_out` if they opted out."))
    body = SmsBodyField()

    def get_fields(self):
        fields = super().get_fields()
        fields["from"] = serializers.CharField(max_length=20, help_text=(
            "One of your senders' addresses (`unknown_sender` otherwise); it must be "
            "approved (`sender_not_approved`)."))
        return fields


class BulkMessageSerializer(MessageCreateSerializer):
    """An item of a bulk send. A body longer than any 10-segment text breaks the request's
    shape, as a too long number does, and refuses the whole request; one within that
    length but over 10 segments (UCS-2) is refused on its own, as a single send is."""

    body = SmsBodyField(max_length=BODY_MAX_GSM7)


@extend_schema_serializer(examples=[OpenApiExample(
    "Two messages", request_only=True, value={"messages": [
        {"from": "+14155550100", "to": "+14155550199", "body": "Sale starts today"},
        {"from": "+14155550100", "to": "+14155550198", "body": "Sale starts today"}]})])
class BulkCreateSerializer(serializers.Serializer):
    messages = BulkMessageSerializer(
        many=True, allow_empty=False, max_length=1000,
        help_text="1 to 1,000 messages, each checked and queued on its own.")


class MessageFilterSerializer(FilterSerializer):
    direction = serializers.ChoiceField(choices=Message.Direction.choices, required=False,
                                        help_text="Only messages in this direction.")
    status = serializers.ChoiceField(choices=Message.Status.choices, required=False,
                                     help_text="Only messages in this status.")
    contact = serializers.CharField(required=False, max_length=32,
                                    help_text="The customer's phone number.")
    conversation = serializers.IntegerField(required=False, min_value=1,
                                            help_text="Only this conversation's messages.")
    campaign = serializers.IntegerField(
        required=False, min_value=1, max_value=2**63 - 1,
        help_text="A campaign's id: the messages it sent and the replies attributed to it.")
    since = serializers.DateTimeField(required=False, help_text="Created at or after (ISO 8601).")
    until = serializers.DateTimeField(required=False, help_text="Created before (ISO 8601).")
    ordering = serializers.ChoiceField(
        choices=["-id", "id"], default="-id",
        help_text="-id: newest first; id: oldest first, to follow new messages as they come.")


RULE_EXAMPLE = {
    "keyword": "hours", "match": "exact",
    "reply": "Hi {{ contact.name | default: \"there\" }}, we are open 9 to 5, Monday to "
             "Friday.",
    "priority": 100, "active": True, "sender": None, "weekdays": [], "active_from": None,
    "active_until": None, "add_tag": "asked-hours", "assign_to": None, "forward_to": None,
    "start_survey": None}


@extend_schema_serializer(examples=[
    OpenApiExample("Answer HOURS", request_only=True, value=RULE_EXAMPLE),
    OpenApiExample("A rule", response_only=True,
                   value={"id": 3, **RULE_EXAMPLE, "created_at": DATE, "updated_at": DATE}),
])
class KeywordRuleSerializer(serializers.ModelSerializer):
    sender = serializers.CharField(source="sender.address", allow_null=True, allow_blank=True,
                                   required=False, max_length=20,
                                   help_text="Only messages to this sender; null for all.")
    assign_to = serializers.EmailField(source="assign_to.email", allow_null=True,
                                       required=False,
                                       help_text="Assign the conversation to this teammate.")
    weekdays = serializers.ListField(child=serializers.IntegerField(min_value=0, max_value=6),
                                     max_length=7, required=False, help_text=(
                                         "The days it applies, 0 (Monday) to 6 (Sunday), "
                                         "in your timezone; empty: every day."))
    forward_to = serializers.PrimaryKeyRelatedField(
        queryset=ForwardingEndpoint.objects.all(), allow_null=True, required=False,
        help_text="Forward matching messages to this forwarding endpoint (its id).")
    start_survey = serializers.PrimaryKeyRelatedField(
        queryset=Survey.objects.all(), allow_null=True, required=False,
        help_text="The id of a survey the rule starts, after its other actions.")
    active_from = WallClockTimeField(allow_null=True, required=False, help_text=(
        "With active_until: the rule applies only between these times (tenant's timezone)."))
    active_until = WallClockTimeField(allow_null=True, required=False, help_text=(
        "The end of the rule's daily window; before active_from, the window spans "
        "midnight."))

    class Meta:
        model = KeywordRule
        fields = ["id", "keyword", "match", "reply", "priority", "active", "sender", "weekdays",
                  "active_from", "active_until", "add_tag", "assign_to", "forward_to",
                  "start_survey",
                  "created_at", "updated_at"]
        read_only_fields = ["id", "created_at", "updated_at"]
        extra_kwargs = {
            "id": {"help_text": ID},
            "keyword": {"help_text": "What the customer's text must match (`invalid_keyword`"
                                     "), or a regular expression when match is `regex` "
                                     "(`invalid_pattern`)."},
            "match": {"help_text": "How the text is compared, ignoring case and surrounding "
                                   "spaces: the whole text, its start, anywhere in it, or a "
                                   "regular expression."},
            "reply": {"max_length": 1600, "help_text": (
                "The answer, a template: {{ contact.name }}, {{ contact.fields.plan }}, "
                "{{ sender }}, {{ contact.name | default: \"there\" }}. Empty: no reply "
                "(then the rule needs another action, `no_action`).")},
            "priority": {"help_text": "Lower numbers are tried first; ties go to the older "
                                      "rule. The first matching rule answers."},
            "active": {"help_text": "Off: the rule is kept but never applies."},
            "add_tag": {"help_text": "A tag added to the contact; empty: none."},
            "created_at": {"help_text": CREATED_AT},
            "updated_at": {"help_text": UPDATED_AT},
        }


@extend_schema_serializer(examples=[
    OpenApiExample("A reply with a fallback", request_only=True, value={
        "shortcode": "thanks",
        "body": "Thanks {{ contact.name | default: \"there\" }}, we will call you back today."}),
    OpenApiExample("A canned response", response_only=True, value={
        "id": 5, "shortcode": "thanks",
        "body": "Thanks {{ contact.name | default: \"there\" }}, we will call you back today.",
        "created_at": DATE, "updated_at": DATE}),
])
class CannedResponseSerializer(serializers.ModelSerializer):
    # Shapes only: ``messaging.canned`` normalises and checks both fields, with the codes
    # the page shows (``invalid_shortcode``, ``shortcode_exists``, ``empty_body``,
    # ``body_too_long``, ``invalid_template``), so no length or pattern is declared here.
    shortcode = serializers.CharField(
        allow_blank=True,
        help_text="1 to 30 lowercase letters, digits, - and _, unique; staff type /shortcode "
                  "in the reply box. A leading / is dropped and letters are lowercased.")
    body = SmsBodyField(
        help_text='A reply template, filled in for the conversation it is inserted in: '
                  '{{ contact.name }}, {{ contact.fields.plan }}, {{ sender }}, '
                  '{{ contact.name | default: "there" }}. ' + BODY_LIMIT)

    class Meta:
        model = CannedResponse
        fields = ["id", "shortcode", "body", "created_at", "updated_at"]
        read_only_fields = ["id", "created_at", "updated_at"]
        extra_kwargs = {"id": {"help_text": ID}, "created_at": {"help_text": CREATED_AT},
                        "updated_at": {"help_text": UPDATED_AT}}


HOURS_EXAMPLE = {
    "enabled": True,
    "opening_hours": {"0": [["09:00", "17:00"]], "1": [["09:00", "17:00"]],
                      "2": [["09:00", "17:00"]], "3": [["09:00", "17:00"]],
                      "4": [["09:00", "12:00"], ["13:00", "17:00"]]},
    "away_reply": "We are closed now; we will answer from 9am tomorrow."}


@extend_schema_serializer(examples=[
    OpenApiExample("Weekdays 9 to 5", request_only=True, value=HOURS_EXAMPLE),
    OpenApiExample("Business hours", response_only=True,
                   value={**HOURS_EXAMPLE, "updated_at": DATE}),
])
class BusinessHoursSerializer(serializers.ModelSerializer):
    class Meta:
        model = BusinessHours
        fields = ["enabled", "opening_hours", "away_reply", "updated_at"]
        read_only_fields = ["updated_at"]
        extra_kwargs = {
            "away_reply": {"max_length": 1600, "required": False, "help_text": (
                "Texted to a customer who writes outside the opening hours, at most once a "
                "day per conversation; empty: no reply.")},
            "enabled": {"required": False, "help_text": "Off: nothing is sent for being "
                                                        "closed."},
            "opening_hours": {"required": False, "help_text": (
                'Weekday 0 (Monday) to 6 to a list of ["HH:MM", "HH:MM"] ranges when the '
                "team answers, in your timezone; a day left out is closed "
                "(`invalid_hours`).")},
            "updated_at": {"help_text": UPDATED_AT},
        }


@extend_schema_serializer(examples=[
    OpenApiExample("Your order system", request_only=True, value={
        "name": "Orders", "url": "https://orders.acme.example/sms", "timeout_seconds": 5}),
    OpenApiExample("An endpoint", response_only=True, value={
        "id": 2, "name": "Orders", "url": "https://orders.acme.example/sms",
        "timeout_seconds": 5, "active": True, "created_at": DATE}),
])
class ForwardingEndpointSerializer(serializers.ModelSerializer):
    class Meta:
        model = ForwardingEndpoint
        fields = ["id", "name", "url", "timeout_seconds", "active", "created_at"]
        read_only_fields = ["id", "created_at"]
        extra_kwargs = {
            "id": {"help_text": ID},
            "name": {"help_text": "Your name for it, unique."},
            "url": {"help_text": "Where messages are POSTed (http or https); an address this "
                                 "installation may not call is `unsafe_url`."},
            "timeout_seconds": {"help_text": "How long to wait for the answer, 1 to 10 "
                                             "seconds (`invalid_timeout`)."},
            "active": {"help_text": "Off: rules forward nothing to it."},
            "created_at": {"help_text": CREATED_AT},
        }


@extend_schema_serializer(examples=[OpenApiExample(
    "Created, with its secret", response_only=True, value={
        "id": 2, "name": "Orders", "url": "https://orders.acme.example/sms",
        "timeout_seconds": 5, "active": True, "created_at": DATE,
        "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"})])
class ForwardingEndpointCreatedSerializer(ForwardingEndpointSerializer):
    """Only the answer to a create carries the secret: it is shown once."""

    class Meta(ForwardingEndpointSerializer.Meta):
        fields = [*ForwardingEndpointSerializer.Meta.fields, "secret"]
        read_only_fields = fields
        extra_kwargs = {
            **ForwardingEndpointSerializer.Meta.extra_kwargs,
            "secret": {"help_text": "The Standard Webhooks signing secret (whsec_...) of its "
                                    "requests. Shown only now."},
        }


@extend_schema_serializer(examples=[OpenApiExample(
    "A failed attempt", response_only=True, value={
        "id": 31, "message": 1042, "number": 1, "started_at": DATE, "duration_ms": 5003,
        "response_status": None, "response_excerpt": "", "error": "timed out after 5 s",
        "forward_status": "pending"})])
class ForwardAttemptSerializer(serializers.ModelSerializer):
    message = serializers.IntegerField(source="forward.message_id",
                                       help_text="The customer's message forwarded (its id).")
    forward_status = serializers.CharField(source="forward.status", help_text=(
        "Where the forward stands: `pending` (another try is due), `succeeded` or "
        "`failed` (out of tries)."))

    class Meta:
        model = ForwardAttempt
        fields = ["id", "message", "number", "started_at", "duration_ms", "response_status",
                  "response_excerpt", "error", "forward_status"]
        read_only_fields = fields
        extra_kwargs = {
            "id": {"help_text": ID},
            "number": {"help_text": "1 for the first try, up to 6."},
            "started_at": {"help_text": "When the request was sent."},
            "duration_ms": {"help_text": "How long the endpoint took, in milliseconds."},
            "response_status": {"help_text": "The endpoint's HTTP status; null when no answer "
                                             "came."},
            "response_excerpt": {"help_text": "The start of the endpoint's answer."},
            "error": {"help_text": "Why the try failed; empty on success."},
        }


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
        extra_kwargs = {"text": {"max_length": 1000, "help_text": "The question as texted."},
                        "position": {"help_text": "1 for the first question asked, and so "
                                                  "on."},
                        "kind": {"help_text": "How it is answered: one of the `choices`, yes "
                                              "or no, a number, or free text."},
                        "min_value": {"help_text": "number questions: the lowest answer."},
                        "max_value": {"help_text": "number questions: the highest answer."}}


SURVEY_EXAMPLE = {
    "name": "After your visit", "intro": "Acme: 2 quick questions about your visit.",
    "closing_message": "Thank you!", "active": True, "max_reask": 2,
    "expire_after_minutes": 1440,
    "questions": [
        {"kind": "yes_no", "text": "Were you happy with your visit? Reply YES or NO.",
         "branching": {"no": "end"}},
        {"kind": "number", "text": "From 0 to 10, would you recommend us?", "min_value": 0,
         "max_value": 10}]}


@extend_schema_serializer(examples=[
    OpenApiExample("Two questions", request_only=True, value=SURVEY_EXAMPLE),
    OpenApiExample("A survey", response_only=True, value={
        "id": 6, **SURVEY_EXAMPLE, "questions": [
            {"position": 1, "kind": "yes_no", "choices": [], "min_value": None,
             "max_value": None, "text": SURVEY_EXAMPLE["questions"][0]["text"],
             "branching": {"no": "end"}},
            {"position": 2, "kind": "number", "choices": [], "min_value": 0,
             "max_value": 10, "text": SURVEY_EXAMPLE["questions"][1]["text"],
             "branching": {}}],
        "created_at": DATE, "updated_at": DATE}),
])
class SurveySerializer(serializers.ModelSerializer):
    questions = SurveyQuestionSerializer(many=True, help_text=(
        "In the order asked (`invalid_question`, `invalid_branch`); fixed once the survey "
        "has started (`survey_locked`)."))

    class Meta:
        model = Survey
        fields = ["id", "name", "intro", "closing_message", "active", "max_reask",
                  "expire_after_minutes", "questions", "created_at", "updated_at"]
        read_only_fields = ["id", "created_at", "updated_at"]
        extra_kwargs = {
            "id": {"help_text": ID},
            "name": {"help_text": "Your name for it; customers do not see it."},
            "intro": {"max_length": 1600, "help_text": "Texted before the first question; "
                                                       "empty: none."},
            "closing_message": {"max_length": 1600, "help_text": "Texted after the last "
                                                                 "answer; empty: none."},
            "active": {"help_text": "Off: it cannot be started (`survey_inactive`)."},
            "max_reask": {"help_text": "How often an invalid answer is asked again, 0 to 5, "
                                       "before the survey stops."},
            "expire_after_minutes": {"help_text": "A session with no answer for this long "
                                                  "ends `expired`."},
            "created_at": {"help_text": CREATED_AT},
            "updated_at": {"help_text": UPDATED_AT},
        }


@extend_schema_serializer(examples=[OpenApiExample(
    "Started", response_only=True, status_codes=["202"], value={
        "id": 88, "survey": 6, "contact": "+14155550199", "sender": "+14155550100",
        "status": "active", "current_question": 1, "reask_count": 0, "started_at": DATE,
        "last_activity_at": DATE, "finished_at": None})])
class SurveySessionSerializer(serializers.ModelSerializer):
    contact = serializers.CharField(source="contact.phone",
                                    help_text="The customer's number.")
    sender = serializers.CharField(source="conversation.sender.address",
                                   help_text="The sender that asks the questions.")
    current_question = serializers.IntegerField(source="current_question.position",
                                                allow_null=True,
                                                help_text="Its position; null once over.")

    class Meta:
        model = SurveySession
        fields = ["id", "survey", "contact", "sender", "status", "current_question",
                  "reask_count", "started_at", "last_activity_at", "finished_at"]
        read_only_fields = fields
        extra_kwargs = {
            "id": {"help_text": ID},
            "survey": {"help_text": "The survey (its id)."},
            "status": {"help_text": "`active` while questions are asked, then `completed`, "
                                    "`expired` (no answer in time) or `stopped`."},
            "reask_count": {"help_text": "How often the current question was asked again."},
            "started_at": {"help_text": "When the first question went out."},
            "last_activity_at": {"help_text": "The last question or answer."},
            "finished_at": {"help_text": "When it ended; null while active."},
        }


@extend_schema_serializer(examples=[OpenApiExample(
    "Ask a customer", request_only=True, value={"to": "+14155550199",
                                                "from": "+14155550100"})])
class SurveyStartSerializer(serializers.Serializer):
    to = serializers.CharField(max_length=32, help_text=(
        "The customer's number in international format; `recipient_opted_out` if they "
        "opted out."))

    def get_fields(self):
        fields = super().get_fields()
        fields["from"] = serializers.CharField(max_length=20, help_text=(
            "The approved sender that asks; the customer's replies to it answer."))
        return fields


class BulkResultSerializer(serializers.Serializer):
    """One item's outcome: the queued message, or the error that refused it."""

    message = MessageSerializer(required=False, help_text="The queued message.")
    error = serializers.DictField(required=False, help_text=(
        "`{code, detail, fields?}` as for a single send (`invalid_phone_number`, "
        "`recipient_opted_out`, ...)."))


@extend_schema_serializer(examples=[OpenApiExample(
    "One queued, one refused", response_only=True, status_codes=["202"], value={
        "results": [
            {"message": {**MESSAGE_EXAMPLE, "body": "Sale starts today"}},
            {"error": {"code": "recipient_opted_out",
                       "detail": "+14155550198 has opted out of your messages.",
                       "fields": {"to": [{"code": "recipient_opted_out",
                                          "detail": "+14155550198 has opted out of your "
                                                    "messages."}]}}}]})])
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
    position = serializers.IntegerField(help_text="The question's position.")
    kind = serializers.ChoiceField(choices=SurveyQuestion.Kind.choices,
                                   help_text="The question's kind.")
    text = serializers.CharField(help_text="The question as texted.")
    answers = serializers.IntegerField(help_text="How many sessions answered it.")
    counts = serializers.DictField(child=serializers.IntegerField(), required=False, help_text=(
        "Choice and yes/no questions: answers per option, zeros included."))
    min = _NumberStatistic(help_text="Number questions: the lowest answer.")
    max = _NumberStatistic(help_text="Number questions: the highest answer.")
    mean = _NumberStatistic(help_text="Number questions: the mean answer.")


@extend_schema_serializer(examples=[OpenApiExample(
    "Results", response_only=True, value={
        "survey": 6, "sessions": {"total": 40, "active": 3, "completed": 31, "expired": 5,
                                  "stopped": 1},
        "questions": [
            {"position": 1, "kind": "yes_no", "text": "Were you happy with your visit?",
             "answers": 36, "counts": {"yes": 30, "no": 6}},
            {"position": 2, "kind": "number", "text": "From 0 to 10, would you recommend "
                                                      "us?",
             "answers": 31, "min": 4.0, "max": 10.0, "mean": 8.6}]})])
class SurveyResultsSerializer(serializers.Serializer):
    survey = serializers.IntegerField(help_text="The survey (its id).")
    sessions = serializers.DictField(child=serializers.IntegerField(), help_text=(
        "`total` and the number of sessions per status."))
    questions = SurveyQuestionResultSerializer(many=True, help_text="In the order asked.")
