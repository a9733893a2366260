"""Serializer building blocks that hold the API to its schema: what the OpenAPI document
says is refused is refused, rather than coerced or dropped."""

from __future__ import annotations

from rest_framework import serializers

_coercing_to_internal_value = serializers.CharField.to_internal_value


def _string_only(self: serializers.CharField, data) -> str:
    if not isinstance(data, str):
        self.fail("invalid")
    return _coercing_to_internal_value(self, data)


def char_fields_make_strict() -> None:
    """Make every DRF CharField (and EmailField, URLField, ...) take strings only.

    DRF stores ``{"name": 7}`` as ``"7"`` where the schema says ``type: string``; a client
    sending a number has a bug it should hear about. Done once, here, for every serializer
    of the project, rather than by a field class that each serializer must remember.
    Called from ``MessagingConfig.ready``.
    """
    serializers.CharField.to_internal_value = _string_only


class FilterSerializer(serializers.Serializer):
    """Query-string filters. ``?status=`` is refused: DRF would drop the empty value, and
    the client would get unfiltered results it did not ask for."""

    def to_internal_value(self, data):
        empty = {name: ["This filter needs a value; leave it out for none."]
                 for name in self.fields if data.get(name) == ""}
        if empty:
            raise serializers.ValidationError(empty)
        return super().to_internal_value(data)
