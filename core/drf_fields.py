"""Serializer building blocks that hold the API to its schema: what the OpenAPI document
says is refused is refused, rather than coerced or dropped."""

from __future__ import annotations

from django.utils.datastructures import MultiValueDict
from rest_framework import serializers

# What a JSON value must be for each kind of field: DRF would also take "true" for true
# and "7" for 7, which a client sending them has as a bug it should hear about.
_JSON_TYPES: dict[type[serializers.Field], tuple[type, ...]] = {
    serializers.CharField: (str,),
    serializers.BooleanField: (bool,),
    serializers.IntegerField: (int,),
    serializers.FloatField: (int, float),
    # Related objects by id: the schema says integer.
    serializers.PrimaryKeyRelatedField: (int,),
}


def _from_json(field: serializers.Field) -> bool:
    """Query strings and forms carry only strings, which DRF must still convert."""
    return not isinstance(getattr(field.root, "initial_data", None), MultiValueDict)


def _strict(field_class: type[serializers.Field], types: tuple[type, ...]):
    lenient = field_class.to_internal_value

    def to_internal_value(self, data):
        wrong_type = not isinstance(data, types) or (bool not in types
                                                    and isinstance(data, bool))
        if wrong_type and (field_class is serializers.CharField or _from_json(self)):
            if "incorrect_type" in self.error_messages:  # related fields' wording
                self.fail("incorrect_type", data_type=type(data).__name__)
            self.fail("invalid")
        # The schema's maxLength counts what was sent; DRF would count after trimming.
        max_length = getattr(self, "max_length", None)
        if isinstance(data, str) and max_length is not None and len(data) > max_length:
            self.fail("max_length", max_length=max_length)
        return lenient(self, data)

    return to_internal_value


def json_types_make_strict() -> None:
    """Make every DRF field take only the JSON type its schema names: strings for
    CharField (and EmailField, URLField, ...), booleans, numbers, integer ids. Done once,
    here, for every serializer of the project, rather than by field classes each
    serializer must remember.
    Called from ``MessagingConfig.ready``.
    """
    for field_class, types in _JSON_TYPES.items():
        field_class.to_internal_value = _strict(field_class, types)


class FilterSerializer(serializers.Serializer):
    """Query-string filters. ``?status=`` is refused: DRF would drop the empty value, and
    the client would get unfiltered results it did not ask for."""

    def to_internal_value(self, data):
        empty = {name: ["This filter needs a value; leave it out for none."]
                 for name in self.fields if data.get(name) == ""}
        if empty:
            raise serializers.ValidationError(empty)
        return super().to_internal_value(data)
