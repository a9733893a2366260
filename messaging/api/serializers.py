from __future__ import annotations

from rest_framework import serializers

from messaging.models import Message, Sender


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

    class Meta:
        model = Message
        fields = ["id", "direction", "from_", "to", "body", "status", "encoding", "segments",
                  "conversation", "error_code", "error_message", "created_at", "updated_at"]
        read_only_fields = fields

    def get_fields(self):
        fields = super().get_fields()
        fields["from"] = fields.pop("from_")
        return fields

    def to_representation(self, instance):
        data = super().to_representation(instance)
        return {"id": data.pop("id"), "direction": data.pop("direction"),
                "from": data.pop("from"), **data}


class MessageCreateSerializer(serializers.Serializer):
    to = serializers.CharField(max_length=32)
    body = serializers.CharField(allow_blank=True, trim_whitespace=False, max_length=5000)

    def get_fields(self):
        fields = super().get_fields()
        fields["from"] = serializers.CharField(max_length=20)
        return fields


class BulkCreateSerializer(serializers.Serializer):
    messages = MessageCreateSerializer(many=True, allow_empty=False, max_length=1000)


class MessageFilterSerializer(serializers.Serializer):
    direction = serializers.ChoiceField(choices=Message.Direction.choices, required=False)
    status = serializers.ChoiceField(choices=Message.Status.choices, required=False)
    contact = serializers.CharField(required=False)
    conversation = serializers.IntegerField(required=False, min_value=1)
    since = serializers.DateTimeField(required=False)
    until = serializers.DateTimeField(required=False)
