"""The API's JSON renderer."""

from __future__ import annotations

from rest_framework import renderers

from core.text import text_storable


class JSONRenderer(renderers.JSONRenderer):
    """DRF's, except that an answer holding a lone surrogate is still sent, with U+FFFD in
    its place: UTF-8 cannot encode one, and an error quoting what a client sent may hold
    one. Only such an answer pays for the second pass."""

    def render(self, data, accepted_media_type=None, renderer_context=None) -> bytes:
        try:
            return super().render(data, accepted_media_type, renderer_context)
        except UnicodeEncodeError:
            return super().render(_storable(data), accepted_media_type, renderer_context)


def _storable(data):
    if isinstance(data, str):
        return text_storable(data)
    if isinstance(data, dict):
        return {_storable(key): _storable(value) for key, value in data.items()}
    if isinstance(data, list | tuple):
        return [_storable(item) for item in data]
    return data
